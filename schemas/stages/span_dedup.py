"""Config of the ``span_dedup`` stage (``stages.span_dedup`` in the YAML file).

```yaml
span_dedup:
  unit: line               # line | paragraph (blank-line separated) | sentences (a window of `window` sentences, C4's three)
  max_docs: 1              # a span in more documents than this stays only in the first (seeded order)
  min_chars: 20            # spans shorter than this (normalized) are never removed
  min_doc_words: 20        # a document shorter than this after removal is dropped (span_dedup:too_short)
  scope: global            # global | per_source | per_domain
```
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from pilewright.schemas.stages.base import Frozen


class SpanNormalization(Frozen):
    """How a span is normalized before its 64-bit hash."""

    lowercase: bool = True
    # drop everything that is not a letter, digit or whitespace
    punctuation: bool = True
    # map every digit to 0 (a footer with a different date or page number is the same footer)
    digits: bool = False
    # collapse whitespace runs to one space and strip the ends
    whitespace: bool = True


class SpanDedupConfig(Frozen):
    """Exact dedup of lines, paragraphs or sentence windows across documents (C4, dolma)."""

    enabled: bool = True
    version: str = "span_dedup_v1"
    # line: split on line breaks (dolma's "paragraphs" are these); paragraph: on blank lines; sentences: windows
    unit: Literal["line", "paragraph", "sentences"] = "line"
    # sentences per span when unit is `sentences` (C4: 3)
    window: int = Field(default=3, ge=1, le=32)
    # C4 keeps one copy: 1. A span found in more documents than this is removed from all but the first
    max_docs: int = Field(default=1, ge=1)
    min_chars: int = Field(default=20, ge=1)
    normalization: SpanNormalization = SpanNormalization()
    # a document the removal takes from at least this many words to fewer is dropped (span_dedup:too_short);
    # one that was already shorter keeps its remaining text (unless none is left)
    min_doc_words: int = Field(default=20, ge=0)
    scope: Literal["global", "per_source", "per_domain"] = "global"
    # order seed; None -> run.seed
    seed: Optional[int] = None
