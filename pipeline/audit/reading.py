"""A run's files read for the audit: OUT/audit/audit.json and audit/run.json, OUT/manifest.json (each checked
against the model its producer dumped) and the row counts of the side outputs."""
from __future__ import annotations

import json
from typing import Any, Optional

from apache_beam.io.filesystems import FileSystems
from pydantic import BaseModel, ValidationError

from pilewright.schemas import layout
from pilewright.schemas.audit import Audit, RunFacts
from pilewright.schemas.errors import UserError
from pilewright.schemas.manifest import Manifest

AUDIT_PATH = layout.AUDIT
MANIFEST_PATH = layout.MANIFEST
REPORT_PATH = "audit/report.html"


class SummaryError(UserError):
    """The output folder cannot be summarized (missing audit, unknown source); the message says why."""


class SideOutputs(BaseModel):
    rejected_rows: Optional[int] = None
    rejected_files: int = 0
    dead_letter_rows: Optional[int] = None
    dead_letter_files: int = 0
    document_rows: Optional[int] = None



def out_path(out_dir: str, rel: str) -> str:
    return FileSystems.join(out_dir, *rel.split("/"))


def read_json(path: str) -> dict:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return json.loads(f.read().decode("utf-8"))


def schema_problem(model: type[BaseModel], doc: Any) -> Optional[str]:
    """None if ``doc`` matches ``model``; else its first mismatch as "field.path: message"."""
    try:
        model.model_validate(doc)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return f"{where}: {first['msg']} ({e.error_count()} problem(s))"
    return None


def read_validated(path: str, model: type[BaseModel]) -> dict:
    """A run file, checked against the model its producer dumped; a mismatch is one SummaryError line (the
    file was written by another version, or edited)."""
    try:
        doc = read_json(path)
    except ValueError as e:
        raise SummaryError(f"{path}: not valid JSON ({e})") from None
    problem = schema_problem(model, doc)
    if problem is not None:
        raise SummaryError(f"{path}: not a pilewright {model.__name__.lower()} file: {problem}")
    return doc


def with_run_facts(audit: dict, out_dir: str) -> dict:
    """The audit with the launcher's after-run facts (``audit/run.json``) as ``run`` and ``telemetry``."""
    run_path = out_path(out_dir, layout.RUN)
    if not FileSystems.exists(run_path):
        return audit
    run = read_validated(run_path, RunFacts)
    return {**audit, "telemetry": run.pop("telemetry", {}), "run": run}


def load_run_files(out_dir: str) -> tuple[dict, dict]:
    """(audit, manifest) of a run; a missing audit is a SummaryError, a missing manifest an empty dict."""
    audit_path = out_path(out_dir, AUDIT_PATH)
    if not FileSystems.exists(audit_path):
        raise SummaryError(f"{audit_path} not found: is {out_dir} the output folder of a `pilewright run`?")
    audit = with_run_facts(read_validated(audit_path, Audit), out_dir)
    manifest_path = out_path(out_dir, MANIFEST_PATH)
    manifest = read_validated(manifest_path, Manifest) if FileSystems.exists(manifest_path) else {}
    return audit, manifest


def _files(out_dir: str, folder: str, suffix: str) -> list[str]:
    pattern = out_path(out_dir, f"{folder}/*{suffix}")
    try:
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    except Exception:  # no such folder
        return []


def side_output_counts(out_dir: str) -> SideOutputs:
    """Row counts of OUT/rejected, OUT/dead_letter and OUT/documents, from Parquet footers and line counts."""
    import pyarrow.parquet as pq

    def parquet_rows(paths: list[str]) -> Optional[int]:
        if not paths:
            return None
        total = 0
        for path in paths:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                total += pq.ParquetFile(f).metadata.num_rows
        return total

    rejected = _files(out_dir, "rejected", ".parquet")
    dead = _files(out_dir, "dead_letter", ".jsonl")
    docs = _files(out_dir, "documents", ".parquet")
    dead_rows = None
    if dead:
        dead_rows = 0
        for path in dead:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                dead_rows += sum(1 for line in f if line.strip())
    return SideOutputs(
        rejected_rows=parquet_rows(rejected),
        rejected_files=len(rejected),
        dead_letter_rows=dead_rows,
        dead_letter_files=len(dead),
        document_rows=parquet_rows(docs),
    )
