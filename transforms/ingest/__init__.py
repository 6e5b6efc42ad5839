"""Reading sources into Documents (the flow's first step, ``sources:``).

Files: ``read`` (per-format record readers for JSONL, Parquet and text: decompression sniffing, BOM and
byte salvage, dead letters with offsets), ``warc`` (WARC/WET records through FastWARC), ``stage`` (the
``ReadSources`` transform: glob expansion on the workers and the ingest ``StageResult``).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
"""
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.config import PolicyConfig
from pilewright.transforms.ingest.sections import AUDIT_SECTIONS
from pilewright.transforms.ingest.stage import ReadSources


def build_stage(config: PolicyConfig, context) -> ReadSources:
    """The first stage of the spine (``transforms.flow.INGEST``): the context's sources (only its
    ``inputs`` when a unit reads part of them), under the ``policy:`` block's duplicate-id and
    invalid-text rules; spill files under the context's working folder."""
    work_dir = FileSystems.join(context.work_dir, "ingest") if context.work_dir is not None else None
    files = list(context.inputs) if context.inputs is not None else None
    return ReadSources(context.sources, config.duplicate_ids, config.invalid_text, work_dir=work_dir, files=files)


__all__ = ["AUDIT_SECTIONS", "build_stage", "ReadSources"]
