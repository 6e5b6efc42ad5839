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

# spill files of a running job (transforms.spill), removed when it ends; about the curated text's size
WORK = ".work"

# what a run owns under OUT; removed before a new run so no stale shard survives (nothing else is touched)
MANAGED = (TOKENS, DOCUMENTS, REJECTED, DEAD_LETTER, AUDIT_DIR, TOKENIZER, MANIFEST, WORK)
