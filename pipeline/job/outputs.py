"""Side outputs beside the shards: curated documents, rejections and dead letters, via Beam file sinks."""
from __future__ import annotations

import json
import re
from typing import Mapping

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.arrow import DOCUMENT_SCHEMA, REJECTED_SCHEMA
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument


def document_row(doc: Document) -> dict:
    # Arrow map columns (the Mapping fields: scores and counts by name) take (key, value) pairs
    return {k: list(v.items()) if isinstance(v, Mapping) else v for k, v in doc._asdict().items()}


def rejected_row(rec: RejectedDocument) -> dict:
    row = rec._asdict()
    # Arrow map columns take (key, value) pairs
    for name in ("signals", "notes"):
        value = row.get(name)
        row[name] = sorted(dict(value).items()) if value is not None else None
    return row


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


# errno texts of faults in writing OUT that the user fixes (space, permissions, a file in the way), and
# what to do about each; matched in the exception chain's text because runners re-raise worker errors as text
OUTPUT_FAULTS = (
    ("No space left on device", "the disk is full; free space or choose another --output"),
    ("Disk quota exceeded", "the disk quota is exhausted; free space or choose another --output"),
    ("Permission denied", "permission denied; choose a writable --output"),
    ("Read-only file system", "the file system is read-only; choose another --output"),
    ("Not a directory", "a file is in the way of a folder; remove it or choose another --output"),
    ("File exists", "a file is in the way of a folder; remove it or choose another --output"),
)


def output_fault_message(exc: BaseException, out_dir: str) -> str | None:
    """One line for a failure to write under ``out_dir`` the user can fix, or None for anything else."""
    seen = set()
    chain = []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        text = f"{type(exc).__name__}: {exc}"
        for needle, fix in OUTPUT_FAULTS:
            if needle in text:
                return f"cannot write the outputs to {out_dir}: {fix} ({needle}); temporary files were removed"
        exc = exc.__cause__ or exc.__context__
    # any other OSError naming a path under OUT (an odd filesystem, /proc, a vanished mount): one line too,
    # found by its filename or, re-raised by a runner as text, by "[Errno N] ... '<path under OUT>'"
    for exc in chain:
        if isinstance(exc, OSError) and exc.filename and _under(str(exc.filename), out_dir):
            why = exc.strerror or type(exc).__name__
            return f"cannot write the outputs to {out_dir}: {why} ({exc.filename}); temporary files were removed"
        match = _ERRNO_TEXT.search(str(exc))
        if match and _under(match.group(2), out_dir):
            return (f"cannot write the outputs to {out_dir}: {match.group(1)} ({match.group(2)}); temporary files "
                    f"were removed")
    return None


_ERRNO_TEXT = re.compile(r"\[Errno \d+\] ([^:'\n]+): '([^'\n]+)'")


def _under(path: str, out_dir: str) -> bool:
    out = out_dir.rstrip("/")
    return path == out or path.startswith(out + "/")
