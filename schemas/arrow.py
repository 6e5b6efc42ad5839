"""Arrow schemas, one per record type that lands on disk, checked against ``records.py`` by a test."""
from __future__ import annotations

import pyarrow as pa

TOKEN_SHARD_SCHEMA_VERSION = "1"

# curated documents (OUT/documents/*.parquet): the Document record, field for field
DOCUMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("url", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float64()),
        ("quality", pa.map_(pa.string(), pa.float64())),
        ("dup_cluster", pa.string()),
        ("pii_counts", pa.map_(pa.string(), pa.int64())),
        ("n_tokens", pa.int64()),
        ("crawl_date", pa.string()),
        ("content_type", pa.string()),
    ]
)

REJECTED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("snippet", pa.string()),
        ("n_chars", pa.int64()),
        ("signals", pa.map_(pa.string(), pa.float64())),
        ("notes", pa.map_(pa.string(), pa.string())),
    ]
)

# OUT/signals/*.parquet: the SignalRow record, field for field
SIGNALS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("domain", pa.string()),
        ("fate", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("n_chars", pa.int64()),
        ("n_tokens", pa.int64()),
        ("signals", pa.map_(pa.string(), pa.float64())),
        ("notes", pa.map_(pa.string(), pa.string())),
    ]
)


def token_dtype(vocab_size: int) -> pa.DataType:
    """uint16 when every id fits, else uint32: halves shard size for vocabularies up to 65,536."""
    return pa.uint16() if vocab_size <= 1 << 16 else pa.uint32()


def token_shard_schema(vocab_size: int, tokenizer_sha256: str, eos_id: int) -> pa.Schema:
    """Schema of one token shard; the metadata lets training code check it has the right tokenizer."""
    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("source", pa.string()),
            ("domain", pa.string()),
            ("tokens", pa.list_(token_dtype(vocab_size))),
        ],
        metadata={
            b"schema_version": TOKEN_SHARD_SCHEMA_VERSION.encode(),
            b"tokenizer_sha256": tokenizer_sha256.encode(),
            b"vocab_size": str(vocab_size).encode(),
            b"eos_id": str(eos_id).encode(),
        },
    )
