"""``pilewright run --resume``: the run in two phases, the first kept under OUT/.work until the run ends.

Granularity, honestly: Beam runs the job as one graph and keeps no state across a killed process, so what
can be reused is what was written and marked complete. With ``--resume`` the job runs as two pipelines:

1. **curate**: ingest and every curation stage. Writes the curated documents, the rejected documents and
   dead letters so far (after PII redaction, like OUT/rejected), and the audit rows of those stages to
   ``OUT/.work/curate/``; then the launcher writes ``OUT/.work/curate.json``, the completion marker, holding
   the config hash and the input manifest (path, size and mtime of every input file).
2. **finish**: tokenizer, tokenize, mix, shards, manifest, side outputs and audit, reading phase 1's files.

A ``--resume`` run whose marker matches the config hash and the inputs skips phase 1; otherwise (no
marker: killed during phase 1; or anything changed) it runs both. A kill during phase 2 reruns phase 2.
Phase 2 is a pure function of phase 1's files, so a resumed run writes the same bytes as an uninterrupted
``--resume`` run, and the same shards, manifest and tokenizer as a run without ``--resume`` (its side
outputs hold the same rows; their order inside a file follows the pipeline). OUT/.work is removed when a
run finishes; a run without ``--resume`` removes it first.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.pipeline.job.audit_counts import stage_counts, stage_stats
from pilewright.pipeline.audit.profile import stage_sizes
from pilewright.pipeline.job.outputs import WriteDeadLetters, WriteDocuments, WriteRejected
from pilewright.schemas import layout
from pilewright.schemas.config import RunConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument

CURATE = "curate"
MARKER = "curate.json"
AUDIT_ROWS = "audit_rows.json"


def work_dir(out_dir: str) -> str:
    return FileSystems.join(out_dir, layout.WORK)


def phase_dir(out_dir: str) -> str:
    return FileSystems.join(work_dir(out_dir), CURATE)


def input_manifest(cfg: RunConfig) -> list[dict]:
    """Every input file: source, path, size and mtime, in a stable order."""
    rows = []
    for src in cfg.sources:
        for pattern in src.paths:
            for meta in FileSystems.match([pattern])[0].metadata_list:
                rows.append({"source": src.name, "path": meta.path, "size": int(meta.size_in_bytes),
                             "mtime": float(getattr(meta, "last_updated_in_seconds", 0.0) or 0.0)})
    return sorted(rows, key=lambda r: (r["source"], r["path"]))


def fingerprint(config_sha256: str, inputs: list[dict]) -> str:
    return hashlib.sha256((config_sha256 + json.dumps(inputs, sort_keys=True)).encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A completed phase 1: where its files are and the stage names it audited, in flow order."""

    dir: str
    stages: tuple[str, ...]


def read_marker(out_dir: str) -> Optional[dict]:
    path = FileSystems.join(work_dir(out_dir), MARKER)
    if not FileSystems.exists(path):
        return None
    try:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def write_marker(out_dir: str, doc: dict) -> None:
    """Written last, to a temporary name and renamed: a marker exists only for a complete phase 1."""
    final = FileSystems.join(work_dir(out_dir), MARKER)
    tmp = final + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write((json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    FileSystems.rename([tmp], [final])


def remove_work(out_dir: str) -> None:
    path = work_dir(out_dir)
    if FileSystems.exists(path):
        FileSystems.delete([path])


def usable_checkpoint(out_dir: str, fp: str) -> Optional[Checkpoint]:
    marker = read_marker(out_dir)
    if marker is None or marker.get("fingerprint") != fp:
        return None
    return Checkpoint(phase_dir(out_dir), tuple(marker["stages"]))


def write_curated(p: beam.Pipeline, results, docs, hooks, out_dir: str) -> None:
    """Phase 1's outputs: curated documents, redacted rejections and dead letters, and audit rows."""
    where = phase_dir(out_dir)
    docs | "CheckpointDocuments" >> WriteDocuments(where)
    rejected = [r.rejected for _, r in results] | "CheckpointAllRejected" >> beam.Flatten()
    errors = [r.errors for _, r in results] | "CheckpointAllErrors" >> beam.Flatten()
    for name, hook in hooks:
        rejected = rejected | f"CheckpointRejected[{name}]" >> hook
        errors = errors | f"CheckpointDeadLetters[{name}]" >> hook
    rejected | "CheckpointRejected" >> WriteRejected(where)
    errors | "CheckpointDeadLetters" >> WriteDeadLetters(where)
    rows = [stage_counts(stage, r) | f"Rows{stage}" >> beam.Map(lambda kv: ("row", kv)) for stage, r in results]
    sizes = [stage_sizes(stage, r) | f"Sizes{stage}" >> beam.Map(lambda kv: ("size", kv)) for stage, r in results]
    stats = [s | f"Stats{i}" >> beam.Map(lambda kv: ("stat", kv))
             for i, s in enumerate(stage_stats(stage, r) for stage, r in results) if s is not None]
    path = FileSystems.join(where, AUDIT_ROWS)
    (
        rows + sizes + stats
        | "CheckpointAuditRows" >> beam.Flatten()
        | "CheckpointAuditList" >> beam.combiners.ToList()
        | "CheckpointAuditWrite" >> beam.Map(_write_rows, path=path)
    )


def _write_rows(items: list, path: str) -> str:
    doc = {"rows": [], "sizes": [], "stats": []}
    for kind, value in items:
        doc[{"row": "rows", "size": "sizes", "stat": "stats"}[kind]].append(list(value))
    for k in doc:
        doc[k].sort(key=lambda v: json.dumps(v))
    with FileSystems.create(path) as f:
        f.write(json.dumps(doc).encode("utf-8"))
    return path


def document_from_row(row: dict) -> Document:
    row = dict(row)
    for key in ("quality", "pii_counts"):
        if row.get(key) is not None:
            row[key] = dict(row[key])
    return Document(**{f: row.get(f) for f in Document._fields})


def rejected_from_row(row: dict) -> RejectedDocument:
    row = dict(row)
    for key in ("signals", "notes"):  # issue 28: the signal maps, read back as (key, value) pairs
        if row.get(key) is not None:
            row[key] = dict(row[key])
    return RejectedDocument(**{f: row.get(f) for f in RejectedDocument._fields})


def dead_letter_from_line(line: str) -> DeadLetter:
    d = json.loads(line)
    return DeadLetter(**{f: d.get(f) for f in DeadLetter._fields})


def _files(folder: str, suffix: str) -> list[str]:
    try:
        return sorted(m.path for m in FileSystems.match([FileSystems.join(folder, f"*{suffix}")])[0].metadata_list)
    except Exception:
        return []


class _ReadParquetFn(beam.DoFn):
    def __init__(self, convert):
        super().__init__()
        self._convert = convert

    def process(self, path: str):
        import pyarrow.parquet as pq

        with FileSystems.open(path, compression_type="uncompressed") as f:
            table = pq.read_table(f)
        for row in table.to_pylist():
            yield self._convert(row)


def _read_lines(path: str):
    with FileSystems.open(path, compression_type="uncompressed") as f:
        for line in f.read().decode("utf-8").splitlines():
            if line.strip():
                yield dead_letter_from_line(line)


@dataclass
class Carried:
    """Phase 1 read back in phase 2: documents, rejections, dead letters and the audit rows."""

    docs: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    rows: beam.PCollection
    sizes: beam.PCollection
    stats: beam.PCollection
    stages: tuple[str, ...]


def read_checkpoint(p: beam.Pipeline, ckpt: Checkpoint) -> Carried:
    docs = (
        p | "CarriedDocFiles" >> beam.Create(_files(FileSystems.join(ckpt.dir, layout.DOCUMENTS), ".parquet"))
        | "CarriedDocs" >> beam.ParDo(_ReadParquetFn(document_from_row)).with_output_types(Document)
    )
    rejected = (
        p | "CarriedRejectedFiles" >> beam.Create(_files(FileSystems.join(ckpt.dir, layout.REJECTED), ".parquet"))
        | "CarriedRejected" >> beam.ParDo(_ReadParquetFn(rejected_from_row)).with_output_types(RejectedDocument)
    )
    errors = (
        p | "CarriedDeadLetterFiles" >> beam.Create(_files(FileSystems.join(ckpt.dir, layout.DEAD_LETTER), ".jsonl"))
        | "CarriedDeadLetters" >> beam.FlatMap(_read_lines).with_output_types(DeadLetter)
    )
    with FileSystems.open(FileSystems.join(ckpt.dir, AUDIT_ROWS), compression_type="uncompressed") as f:
        rows = json.loads(f.read().decode("utf-8"))
    return Carried(
        docs=docs,
        rejected=rejected,
        errors=errors,
        rows=p | "CarriedRows" >> beam.Create([(k, tuple(v)) for k, v in rows["rows"]]),
        sizes=p | "CarriedSizes" >> beam.Create([(k, n) for k, n in rows["sizes"]]),
        stats=p | "CarriedStats" >> beam.Create([tuple(s) for s in rows["stats"]]),
        stages=ckpt.stages,
    )
