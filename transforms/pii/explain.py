"""How the pii stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the entities redacted in the
document, and their total against ``drop_document_over`` (recomputed for ``--what-if``)."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.pii.stage import STAGE, TOO_MANY

PREFIX = f"{STAGE}:"  # ``transforms.signals`` keeps the redactions as ``pii:<ENTITY>``


def _counts(row: SignalRow) -> dict[str, int]:
    return {k[len(PREFIX):]: int(v) for k, v in (row.signals or {}).items() if k.startswith(PREFIX)}


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    counts = _counts(row)
    out = []
    if counts or dropped:
        out.append(Check(STAGE, f"{PREFIX}entities", dict(sorted(counts.items())), "", None, False))
    if cfg.drop_document_over is not None:
        total = sum(counts.values())
        out.append(Check(STAGE, f"{PREFIX}total", total, "<=", cfg.drop_document_over,
                         total > cfg.drop_document_over, TOO_MANY))
    return out


def recompute(cfg, row: SignalRow) -> Optional[str]:
    total = sum(v for k, v in (row.signals or {}).items() if k.startswith(PREFIX))
    return TOO_MANY if cfg.drop_document_over is not None and total > cfg.drop_document_over else None


EXPLAIN = Explain(checks=checks, recompute=recompute, recomputable=("drop_document_over",),
                  may_drop=lambda cfg: cfg.drop_document_over is not None)
