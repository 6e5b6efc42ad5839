"""Reading sources into Documents (the flow's first step, ``sources:``).

Files: ``read`` (per-format record readers for JSONL, Parquet and text: decompression sniffing, BOM and
byte salvage, dead letters with offsets), ``warc`` (WARC/WET records through FastWARC), ``stage`` (the
``ReadSources`` transform: glob expansion on the workers and the ingest ``StageResult``).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
"""
from pilewright.transforms.ingest.sections import AUDIT_SECTIONS
from pilewright.transforms.ingest.stage import ReadSources

__all__ = ["AUDIT_SECTIONS", "ReadSources"]
