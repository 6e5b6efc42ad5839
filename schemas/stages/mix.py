"""The ``mix`` block: the token budget (Chinchilla sizing) and each domain's share of it."""
from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from pilewright.schemas.stages.base import Frozen

# shares are written as decimals by people; this much rounding slack still "sums to 1"
SHARE_SUM_TOLERANCE = 1e-6


class MixConfig(Frozen):
    """Size the corpus to ``model_params x tokens_per_param`` (or ``target_tokens``) and split it by domain.

    A domain with more curated tokens than its share is subsampled; one with fewer is repeated (whole
    epochs plus a fractional sample) up to ``max_epochs``. Inside a domain each source is sampled at a
    rate proportional to its ``weight`` (1.0 = its natural size), no source beyond ``max_epochs``.
    """

    enabled: bool = True
    model_params: Optional[float] = Field(default=None, gt=0)
    tokens_per_param: float = Field(default=20.0, gt=0)
    target_tokens: Optional[int] = Field(default=None, gt=0)
    domains: dict[str, float] = Field(min_length=1)
    max_epochs: int = Field(default=4, ge=1)
    on_shortfall: Literal["warn", "error"] = "warn"
    version: str = "mix_v1"

    @field_validator("domains")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        for name, share in v.items():
            if not (isinstance(share, (int, float)) and math.isfinite(share) and 0 <= share <= 1):
                raise ValueError(f"share of {name!r} must be a number between 0 and 1 (got {share!r})")
        total = sum(v.values())
        if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
            listed = ", ".join(f"{k}={s:g}" for k, s in v.items())
            raise ValueError(f"domain shares must sum to 1 (got {total:g}: {listed})")
        if not any(s > 0 for s in v.values()):
            raise ValueError("at least one domain needs a share above 0")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> "MixConfig":
        if (self.model_params is None) == (self.target_tokens is None):
            raise ValueError(
                "give exactly one of `model_params` (target = model_params x tokens_per_param) or `target_tokens`"
            )
        if self.target_tokens is not None and "tokens_per_param" in self.model_fields_set:
            raise ValueError("`tokens_per_param` only applies with `model_params`; drop it or use `model_params`")
        return self

    @property
    def target(self) -> int:
        """The requested corpus size in tokens."""
        if self.target_tokens is not None:
            return int(self.target_tokens)
        return int(round(self.model_params * self.tokens_per_param))
