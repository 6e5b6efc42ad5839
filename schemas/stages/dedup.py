"""Config of the ``dedup`` stage (``stages.dedup`` in the YAML file).

```yaml
dedup:
  enabled: true
  exact: true
  exact_normalization: {lowercase: true, punctuation: true, digits: false, whitespace: true}
  minhash: {ngram: 5, unit: word, bands: 14, rows: 8}     # or {threshold: 0.8, num_perm: 128}
  scope: global                                           # global | per_source | per_domain
  keep_by: null                                           # e.g. "classifier:hq": highest score is kept
```
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from pilewright.schemas.stages.base import Frozen

# FineWeb's LSH shape: 14 bands of 8 rows (112 permutations), threshold near 0.72
DEFAULT_BANDS = 14
DEFAULT_ROWS = 8


class ExactNormalization(Frozen):
    """How text is normalized before the 128-bit exact-duplicate hash."""

    lowercase: bool = True
    # drop everything that is not a letter, digit, underscore or whitespace
    punctuation: bool = True
    # map every digit to 0 ("page 3 of 7" == "page 4 of 9")
    digits: bool = False
    # collapse whitespace runs to one space and strip the ends
    whitespace: bool = True


class MinHashConfig(Frozen):
    """MinHash signatures and LSH banding for near-duplicates.

    Give either ``bands`` x ``rows`` or a Jaccard ``threshold``; a threshold picks bands x rows for
    ``num_perm`` with datasketch's weighted false-positive/false-negative optimum.
    """

    enabled: bool = True
    ngram: int = Field(default=5, ge=1, le=64)
    # word n-grams over lowercased \w+ tokens, or character n-grams over lowercased, space-collapsed text
    unit: Literal["word", "char"] = "word"
    bands: int = Field(default=DEFAULT_BANDS, ge=1, le=512)
    rows: int = Field(default=DEFAULT_ROWS, ge=1, le=64)
    # permutations; None -> bands * rows. Must be >= bands * rows
    num_perm: Optional[int] = Field(default=None, ge=1, le=4096)
    threshold: Optional[float] = Field(default=None, gt=0, lt=1)
    false_positive_weight: float = Field(default=0.5, ge=0, le=1)
    false_negative_weight: float = Field(default=0.5, ge=0, le=1)
    # permutation seed; None -> run.seed
    seed: Optional[int] = None

    @model_validator(mode="after")
    def _shape(self) -> "MinHashConfig":
        if self.threshold is not None:
            explicit = {"bands", "rows"} & self.model_fields_set
            if explicit:
                raise ValueError(
                    f"give either `threshold` or `bands`/`rows`, not both (remove {', '.join(sorted(explicit))})"
                )
            num_perm = self.num_perm or DEFAULT_BANDS * DEFAULT_ROWS
            bands, rows = lsh_shape_for_threshold(
                self.threshold, num_perm, self.false_positive_weight, self.false_negative_weight
            )
            # frozen model: the derived shape is written once, here, so the resolved config shows it
            object.__setattr__(self, "bands", bands)
            object.__setattr__(self, "rows", rows)
            object.__setattr__(self, "num_perm", num_perm)
        elif self.num_perm is None:
            object.__setattr__(self, "num_perm", self.bands * self.rows)
        if self.num_perm < self.bands * self.rows:
            raise ValueError(
                f"num_perm ({self.num_perm}) must be at least bands x rows ({self.bands} x {self.rows} = "
                f"{self.bands * self.rows}); raise num_perm or lower bands/rows"
            )
        return self


def lsh_shape_for_threshold(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative area, as datasketch's LSH does."""
    # datasketch keeps this helper private; it is the reference every MinHashLSH user gets, so use it as is
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight)
    return int(bands), int(rows)


class DedupConfig(Frozen):
    """Exact and MinHash near-duplicate removal. One document is kept per cluster (see ``keep_by``)."""

    enabled: bool = True
    version: str = "dedup_v1"
    exact: bool = True
    exact_normalization: ExactNormalization = ExactNormalization()
    # None or {enabled: false}: exact dedup only
    minhash: Optional[MinHashConfig] = MinHashConfig()
    # duplicates are only looked for among documents of the same source / domain, or across all
    scope: Literal["global", "per_source", "per_domain"] = "global"
    # Document.quality key whose highest value is kept in a cluster (then smallest id); None -> smallest id
    keep_by: Optional[str] = None
    # most members one key (an exact hash or LSH bucket) holds in memory; bigger keys take the hot-key path
    max_group: int = Field(default=1000, ge=4, le=1_000_000)
    # unrolled label-propagation rounds of the connected components (each is one GroupByKey)
    max_rounds: int = Field(default=6, ge=1, le=64)
    # components still changing after max_rounds are finished by union-find over at most this many
    # contracted edges in one worker; beyond it they stay split (more copies kept, none wrongly dropped)
    max_residue_edges: int = Field(default=200_000, ge=0)
