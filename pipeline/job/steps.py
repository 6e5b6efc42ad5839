"""The top-level step labels of the job (``pipeline.job.build``) and the cost line each one belongs to.

One definition: the job labels its steps with these names and ``stage_timing`` sums worker time by them.
Every stage, the spine's too, is labelled ``Stage[<name>]`` (and a side-output hook ``Rejected[<name>]`` /
``DeadLetters[<name>]``), so it needs no entry here; a family may put some of its steps on a cost line of
their own (``COST_LINES`` in its package). Any step not named below is counted as ``outputs``.
"""
from __future__ import annotations

TOKENS_BY = "TokensBy"
SUM_TOKENS_BY = "SumTokensBy"
MANIFEST = "Manifest"
AUDIT = "Audit"
SIGNALS = "WriteSignals"  # OUT/signals (issue 28): its own cost, so the audit shows what the table costs

STAGE_OF_STEP = {
    AUDIT: "audit",
    SIGNALS: "signals",
}


def stage_step(name: str) -> str:
    """The label of a stage's step."""
    return f"Stage[{name}]"
