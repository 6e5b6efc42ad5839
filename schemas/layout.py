"""Every path a run writes under OUT, named once (relative, ``/``-separated; join with the OUT folder).

``audit/audit.json`` is counted from the data inside the job and written once, by the job. What is only
known after the job (wall time, Beam's telemetry, per-stage worker seconds) goes to ``audit/run.json``,
written once after the job by the launcher; readers see both through ``pipeline.audit.summary``.
"""
from __future__ import annotations

MANIFEST = "manifest.json"
TOKENS = "tokens"
TOKENS_TMP = "tokens/.tmp"
TOKENIZER = "tokenizer"
DOCUMENTS = "documents"
REJECTED = "rejected"
DEAD_LETTER = "dead_letter"
AUDIT_DIR = "audit"
AUDIT = "audit/audit.json"
RUN = "audit/run.json"
REPORT = "audit/report.html"
# per document: the final decision and the values the stages computed (``pipeline.job.signals``; run.signals)
SIGNALS = "signals"
# `pilewright diff OUT_A OUT_B` writes its page beside OUT_B's report
DIFF_REPORT = "audit/diff.html"

# the output guard (pipeline.job.output_guard): the marker that says the folder is a pilewright output (a
# run refuses a non-empty folder without it), and the lock held while a run writes the folder
MARKER = ".pilewright"
LOCK = ".pilewright.lock"

# a run's working folder: the curate phase's units (.work/curate/<unit>/, pipeline.job.phases: each unit's
# curated documents, rejections, dead letters and audit rows; a unit's own spill files go as it finishes)
# and the corpus phase's spill files (SPILL, transforms.spill); removed when the run ends, and first by a
# run without --resume (pipeline.job.resume)
WORK = ".work"
SPILL = ".work/spill"

# what a run owns under OUT; removed before a new run so no stale shard survives (nothing else is touched)
# (WORK is not here: --resume must find it; run_job removes it when a run does not resume)
MANAGED = (TOKENS, DOCUMENTS, REJECTED, DEAD_LETTER, AUDIT_DIR, TOKENIZER, MANIFEST, SIGNALS)
