"""How the dedup stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the cluster member it kept
instead of the document, and how the two were matched."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.dedup.stage import STAGE
from pilewright.transforms.explain import Check, Explain

KEPT, CLUSTER, EXACT = f"{STAGE}:kept", f"{STAGE}:cluster", f"{STAGE}:exact"


def _minhash_text(cfg) -> str:
    mh = getattr(cfg, "minhash", None)
    if mh is None:
        return "MinHash"
    return f"MinHash {mh.unit} {mh.ngram}-grams, {mh.bands} bands x {mh.rows} rows, Jaccard ~{(1 / mh.bands) ** (1 / mh.rows):.2f}"


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    notes = dict(row.notes or {})
    kept = notes.get(KEPT)
    if kept is not None:
        how = "exact copy" if row.reason == EXACT else "near duplicate"
        test = "exact key" if row.reason == EXACT else _minhash_text(cfg)
        return [Check(STAGE, f"{STAGE}:kept_member", kept, "", None, True, f"{how} ({test})")]
    if notes.get(CLUSTER) is not None:
        return [Check(STAGE, CLUSTER, notes[CLUSTER], "", None, False)]
    return []


EXPLAIN = Explain(checks=checks)
