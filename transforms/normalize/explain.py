"""How the normalize stage's decision reads in ``pilewright explain`` (``EXPLAIN``): a document it dropped
was empty once normalized (it drops only with ``drop_empty``)."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.normalize.stage import STAGE


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    return [Check(STAGE, f"{STAGE}:chars", row.n_chars, ">=", 1, True, "empty")] if dropped else []


EXPLAIN = Explain(checks=checks, may_drop=lambda cfg: cfg.drop_empty)
