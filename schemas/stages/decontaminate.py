"""Config of the ``decontaminate`` stage (``stages.decontaminate`` in the YAML file).

```yaml
decontaminate:
  n: 13
  action: drop            # or cut (GPT-3: remove the matching span and 200 characters around it)
  sets:
    - {name: gsm8k, paths: [evals/gsm8k.jsonl], fields: [question]}
    - {name: mmlu, paths: ["evals/mmlu/*.parquet"], fields: [question, choices], id_field: id}
```
"""
from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator, model_validator

from pilewright.schemas.paths import DataPath
from pilewright.schemas.stages.base import Frozen

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class EvalSetConfig(Frozen):
    """One evaluation set: its files and the fields whose text must not be trained on."""

    # names the set in reasons (`decontaminate:<name>`) and in the audit
    name: str
    # JSONL (optionally .gz/.bz2...) or Parquet files, globs allowed, on any Beam filesystem; relative paths
    # are relative to the config file
    paths: list[Annotated[str, DataPath("glob")]] = Field(min_length=1)
    # None: from each file's extension (.parquet -> parquet, anything else -> jsonl)
    format: Optional[Literal["jsonl", "parquet"]] = None
    # the fields of one item whose words are joined (a list value, e.g. MMLU's choices, joins its elements)
    fields: list[str] = Field(min_length=1)
    # item id shown in the audit; None -> "<file name>:<record number>"
    id_field: Optional[str] = None

    @field_validator("name")
    @classmethod
    def _simple_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-' or '.', starting with a letter or digit")
        return v


class DecontaminateConfig(Frozen):
    """``stages.decontaminate``: n-gram overlap with evaluation sets, on normalized words."""

    enabled: bool = True
    version: str = "decontaminate_v1"
    sets: list[EvalSetConfig] = Field(min_length=1)
    # words per n-gram (GPT-3 used 13)
    n: int = Field(default=13, ge=3, le=64)
    # items with fewer than n words are matched on their whole text when they have at least this many words;
    # shorter items are not protected (counted in the audit as `unprotected`)
    min_words: int = Field(default=8, ge=1)
    # mask: every run of digits is the same word "0", so an item with a changed number still matches
    # (GSM8K-style numeric variants are contamination too); keep: digits are compared as written
    numbers: Literal["mask", "keep"] = "mask"
    # item n-grams in which more than this share of the words are numbers are not indexed: once numbers are
    # masked, any table of figures would match an item's run of numbers
    max_number_share: float = Field(default=0.5, ge=0.0, le=1.0)
    action: Literal["drop", "cut"] = "drop"
    # cut: characters removed on each side of a matching span
    cut_margin: int = Field(default=200, ge=0)
    # cut: pieces left shorter than this are removed too
    min_fragment_chars: int = Field(default=200, ge=0)
    # cut: a document with more separate contaminated spans than this is dropped whole
    max_cuts: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _checks(self) -> "DecontaminateConfig":
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            raise ValueError("sets: each evaluation set name can be used once")
        if self.min_words > self.n:
            raise ValueError(f"min_words ({self.min_words}) must be at most n ({self.n})")
        return self
