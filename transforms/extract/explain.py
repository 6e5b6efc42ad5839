"""How the extract stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the main text it found was
shorter than ``min_chars``."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.extract.stage import STAGE


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    if not dropped:
        return []
    return [Check(STAGE, f"{STAGE}:main_text_chars", f"< {cfg.min_chars}", ">=", cfg.min_chars, True, row.reason)]


EXPLAIN = Explain(checks=checks)
