"""Worker-seconds per stage, from the runner's own per-transform execution time.

Beam's portable runners report ``beam:metric:ptransform_execution_time:total_msecs:v1`` per step (the time a
worker spent in that transform's code, summed over workers and bundles). Summed by the top-level step a
transform lives under, that is the measured cost of each stage, which ``pilewright plan --from-run`` scales
to a larger corpus. A runner that does not report it gives an empty mapping, never an error.
"""
from __future__ import annotations

import functools
import re
from typing import Iterable, Mapping

from pilewright.pipeline.job.steps import STAGE_OF_STEP
from pilewright.transforms.flow import spec_named

# Beam reports it as namespace "beam", name "metric:ptransform_execution_time:total_msecs:v1"
TOTAL_MSECS = "ptransform_execution_time:total_msecs:v1"
_STAGE_RE = re.compile(r"^(?:Stage|Rejected|DeadLetters)\[(?P<name>[^\]]+)\]$")


@functools.lru_cache(maxsize=None)
def _cost_lines(stage: str) -> Mapping[str, str]:
    """A family's steps reported on a line of their own (``COST_LINES`` in its package), by step label."""
    spec = spec_named(stage)
    return getattr(spec.family(), "COST_LINES", {}) if spec is not None else {}


def stage_of_step(step: str) -> str:
    """The cost line a (possibly nested) Beam step name belongs to: its stage, from its top-level
    component, or the line the stage's family puts the step's second component on."""
    parts = step.split("/", 2)
    m = _STAGE_RE.match(parts[0])
    if m:
        stage = m.group("name")
        return _cost_lines(stage).get(parts[1], stage) if len(parts) > 1 else stage
    return STAGE_OF_STEP.get(parts[0], "outputs")


def sum_stage_seconds(rows: Iterable[tuple[str, float]]) -> dict[str, float]:
    """(step, msecs) rows -> {stage: seconds}, sorted by stage. Pure."""
    out: dict[str, float] = {}
    for step, msecs in rows:
        stage = stage_of_step(step)
        out[stage] = out.get(stage, 0.0) + float(msecs or 0) / 1000.0
    return {k: round(v, 3) for k, v in sorted(out.items())}


def stage_seconds(run_result) -> dict[str, float]:
    """Worker-seconds per stage of a finished run, or {} when the runner does not report execution time."""
    try:
        metrics = run_result.monitoring_metrics().query()
    except Exception:  # not every runner result has monitoring metrics
        return {}
    rows = []
    for c in metrics.get("counters", []):
        if c.key.metric.name.endswith(TOTAL_MSECS):
            value = c.committed if c.committed is not None else c.attempted
            rows.append((c.key.step, value or 0))
    return sum_stage_seconds(rows)
