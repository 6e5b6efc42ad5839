"""The top-level step labels of the job (``pipeline.job.build``) and the stage each one's cost belongs to.

One definition: the job labels its steps with these names and ``stage_timing`` sums worker time by them.
Curation stages are labelled ``Stage[<name>]`` (and pii's hook ``Rejected[<name>]`` / ``DeadLetters[<name>]``),
so they need no entry here; any step not named below is counted as ``outputs``.
"""
from __future__ import annotations

INGEST = "Ingest"
LOAD_TOKENIZER = "LoadTokenizer"
TRAIN_TOKENIZER = "TrainTokenizer"
TOKENIZER_INFO = "TokenizerInfo"
SPILL_CURATED = "SpillCurated"
READ_CURATED = "ReadCurated"
TOKENIZE = "Tokenize"
MIX = "Mix"
SHARD = "Shard"
TOKENS_BY = "TokensBy"
SUM_TOKENS_BY = "SumTokensBy"
MANIFEST = "Manifest"
AUDIT = "Audit"
SIGNALS = "WriteSignals"  # OUT/signals (issue 28): its own cost, so the audit shows what the table costs

STAGE_OF_STEP = {
    INGEST: "ingest",
    LOAD_TOKENIZER: "train_tokenizer",
    TRAIN_TOKENIZER: "train_tokenizer",
    TOKENIZER_INFO: "train_tokenizer",
    # the curated documents wait on disk for a trained tokenizer: that wait is the tokenizer's cost
    SPILL_CURATED: "train_tokenizer",
    READ_CURATED: "tokenize",
    TOKENIZE: "tokenize",
    MIX: "mix",
    SHARD: "shard",
    TOKENS_BY: "shard",
    SUM_TOKENS_BY: "shard",
    MANIFEST: "shard",
    AUDIT: "audit",
    SIGNALS: "signals",
}


def stage_step(name: str) -> str:
    """The label of a curation stage's step."""
    return f"Stage[{name}]"
