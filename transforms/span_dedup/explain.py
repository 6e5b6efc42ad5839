"""How the span_dedup stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the words left after
its cuts against ``min_doc_words``."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.span_dedup.stage import STAGE

WORDS_LEFT, WORDS = f"{STAGE}:words_left", f"{STAGE}:words"


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    s = dict(row.signals or {})
    if WORDS_LEFT not in s:
        return []
    return [Check(STAGE, WORDS_LEFT, s[WORDS_LEFT], ">=", cfg.min_doc_words, dropped, "too_short"),
            Check(STAGE, f"{STAGE}:words_before", s.get(WORDS), "", None, False)]


EXPLAIN = Explain(checks=checks)
