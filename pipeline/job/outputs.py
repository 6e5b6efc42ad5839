"""Side outputs beside the shards: curated documents, rejections and dead letters, via Beam file sinks."""
from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.arrow import DOCUMENT_SCHEMA, REJECTED_SCHEMA
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument


def document_row(doc: Document) -> dict:
    row = doc._asdict()
    # Arrow map columns take (key, value) pairs
    row["quality"] = list(doc.quality.items()) if doc.quality is not None else None
    row["pii_counts"] = list(doc.pii_counts.items()) if doc.pii_counts is not None else None
    return row


def rejected_row(rec: RejectedDocument) -> dict:
    return rec._asdict()


def dead_letter_line(rec: DeadLetter) -> str:
    return json.dumps(rec._asdict(), ensure_ascii=False, sort_keys=True)


class WriteDocuments(beam.PTransform):
    """Document -> OUT/documents/part-*.parquet (id, source, domain, text and every annotation)."""

    def __init__(self, out_dir: str):
        super().__init__()
        self._prefix = FileSystems.join(out_dir, "documents", "part")

    def expand(self, docs):
        return (
            docs
            | "Rows" >> beam.Map(document_row)
            | "Parquet" >> beam.io.WriteToParquet(
                self._prefix, DOCUMENT_SCHEMA, file_name_suffix=".parquet", row_group_buffer_size=16 << 20
            )
        )


class WriteRejected(beam.PTransform):
    """RejectedDocument -> OUT/rejected/part-*.parquet (id, source, domain, stage, reason, snippet)."""

    def __init__(self, out_dir: str):
        super().__init__()
        self._prefix = FileSystems.join(out_dir, "rejected", "part")

    def expand(self, rejected):
        return (
            rejected
            | "Rows" >> beam.Map(rejected_row)
            | "Parquet" >> beam.io.WriteToParquet(self._prefix, REJECTED_SCHEMA, file_name_suffix=".parquet")
        )


class WriteDeadLetters(beam.PTransform):
    """DeadLetter -> OUT/dead_letter/part-*.jsonl, one JSON object per record with its reason."""

    def __init__(self, out_dir: str):
        super().__init__()
        self._prefix = FileSystems.join(out_dir, "dead_letter", "part")

    def expand(self, errors):
        return (
            errors
            | "Lines" >> beam.Map(dead_letter_line)
            | "Jsonl" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl")
        )
