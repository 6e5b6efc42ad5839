"""How a stage's decision on one document reads in ``pilewright explain``, and what ``--what-if`` may
recompute: the shared shapes a family fills in.

A family explains its decisions with ``EXPLAIN`` (an ``Explain``) in its package: ``checks(config, row,
dropped)`` gives the rules it applied to the document's signals row (``schemas.records.SignalRow``, its config
for the document's source; ``dropped``: the document was rejected by this stage) as ``Check``s, each a value
against its threshold; a family whose decision is a threshold over the stored signals also gives
``recompute(config, row)`` (its reason under another config, None: kept) and the settings that are such
thresholds (``recomputable``, patterns over the block's dotted keys). ``pipeline.audit.explain`` goes through
the flow and asks each family; it names no stage. Pure; no Beam.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Optional

from pilewright.schemas.records import SignalRow


@dataclass
class Check:
    """One rule of one stage: the value it computed for the document against the threshold."""

    stage: str
    rule: str
    value: Any
    op: str  # how the value must compare to the threshold to pass: ">=", "<=", "==", "in", or "" (evidence)
    threshold: Any
    failed: bool
    reason: str = ""  # the reason code when it fails

    def text(self) -> str:
        value = fmt(self.value)
        if not self.op:
            return f"{self.rule}: {value}" + (f"  FAILED ({self.reason})" if self.failed else "")
        verdict = f"FAILED ({self.reason})" if self.failed else "ok"
        return f"{self.rule} = {value}  (pass: {self.op} {fmt(self.threshold)})  {verdict}"


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v)


def threshold_on(threshold) -> bool:
    """Whether a threshold setting is in use (None, 0 and -1 switch a rule off)."""
    return threshold is not None and threshold != 0 and threshold != -1


def at_least(stage, rule, value, threshold, reason) -> Optional[Check]:
    if value is None or not threshold_on(threshold):
        return None
    return Check(stage, rule, value, ">=", threshold, value < threshold, reason)


def at_most(stage, rule, value, threshold, reason) -> Optional[Check]:
    if value is None or not threshold_on(threshold):
        return None
    return Check(stage, rule, value, "<=", threshold, value > threshold, reason)


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A config block as ``dotted.key -> value`` (list items of dicts by index)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flat(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def _always(_config: Any) -> bool:
    return True


@dataclass(frozen=True)
class Explain:
    """How a family's decisions read in ``explain`` and which of its settings ``--what-if`` recomputes."""

    # (config for the document's source, its signals row, dropped by this stage) -> the rules, in the order
    # the stage tries them
    checks: Callable[[Any, SignalRow, bool], list[Check]]
    # (config, row) -> the stage's reason under ``config`` (None: kept), from the stored signals only
    recompute: Optional[Callable[[Any, SignalRow], Optional[str]]] = None
    # the settings that are thresholds over stored signals (patterns over the block's dotted keys); a
    # pattern "enabled": turning the stage off for a source is recomputable too
    recomputable: tuple[str, ...] = ()
    # (dotted key, old block, new block) -> False when a matching key still cannot be recomputed (a setting
    # whose signal the old config did not compute)
    refine: Optional[Callable[[str, Optional[dict], Optional[dict]], bool]] = None
    # config -> whether the stage can drop a document at all with it
    may_drop: Callable[[Any], bool] = _always

    def can_recompute(self, key: str, old_block: Optional[dict], new_block: Optional[dict]) -> bool:
        if self.recompute is None or not any(fnmatch.fnmatchcase(key, p) for p in self.recomputable):
            return False
        return self.refine is None or self.refine(key, old_block, new_block)


NO_EXPLAIN = Explain(checks=lambda config, row, dropped: [])
