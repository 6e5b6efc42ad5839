"""How the decontaminate stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the evaluation items
an n-gram of the document matched, and the characters it cut."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.decontaminate.stage import STAGE
from pilewright.transforms.explain import Check, Explain

ITEMS, NGRAM, CUT = f"{STAGE}:items", f"{STAGE}:ngram", f"{STAGE}:cut_chars"


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    notes, s = dict(row.notes or {}), dict(row.signals or {})
    out = []
    if ITEMS in notes:
        out.append(Check(STAGE, NGRAM, notes.get(NGRAM, "?"), "", cfg.n, True,
                         f"a {cfg.n}-gram (or a whole short item) of {notes[ITEMS]}"))
    if CUT in s:
        out.append(Check(STAGE, CUT, s[CUT], "", None, False))
    return out


EXPLAIN = Explain(checks=checks)
