"""How the langid stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the language against the
configured ones and the score against its minimum, recomputed by ``stage.langid_reason`` for ``--what-if``."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.langid.stage import STAGE, langid_reason

LANG, SCORE = f"{STAGE}:lang", f"{STAGE}:score"  # the evidence and the number ``transforms.signals`` keeps


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    notes, s = dict(row.notes or {}), dict(row.signals or {})
    lang, score = notes.get(LANG), s.get(SCORE)
    out = []
    if lang is not None and cfg.languages:
        out.append(Check(STAGE, LANG, lang, "in", list(cfg.languages), lang not in cfg.languages, "not_in_languages"))
    if score is not None:
        out.append(Check(STAGE, SCORE, score, ">=", cfg.min_score, score < cfg.min_score, "low_score"))
    return out


def recompute(cfg, row: SignalRow) -> Optional[str]:
    return langid_reason(dict(row.notes or {})[LANG], dict(row.signals or {})[SCORE], cfg)


EXPLAIN = Explain(checks=checks, recompute=recompute, recomputable=("languages", "min_score"))
