"""The base of every config model, in a module of its own so stage config modules (``stages.mix``,
``stages.pii``, ...) can derive from it while ``config`` imports them: no import cycle either way round."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base of every config model: immutable, and unknown keys are errors (a typo never passes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
