"""The manifest's ``inputs`` section: a fingerprint of the input files that does not depend on where they are.

Per source, every matched file's path relative to its glob's root (``transforms.ingest.read.relative_path``,
as document ids use it), its size, and the sha256 of its content (of its first and last MiB when it is
larger than ``FULL_HASH_BYTES``: a bounded read per file, so a 1 TB corpus is not read twice). No absolute
paths and no times, so the same inputs give the same manifest bytes anywhere; ``pilewright diff`` refuses
two runs whose fingerprints differ.
"""
from __future__ import annotations

import hashlib
import json

from apache_beam.io.filesystems import FileSystems

from pilewright.transforms.ingest.read import relative_path

INPUTS_VERSION = "1"
EDGE_BYTES = 1 << 20
FULL_HASH_BYTES = 2 * EDGE_BYTES


def file_digest(path: str, size: int) -> str:
    h = hashlib.sha256()
    with FileSystems.open(path, compression_type="uncompressed") as f:
        if size <= FULL_HASH_BYTES:
            h.update(f.read())
        else:
            h.update(f.read(EDGE_BYTES))
            f.seek(size - EDGE_BYTES)
            h.update(f.read(EDGE_BYTES))
    return h.hexdigest()


def source_files(paths: list[str]) -> list[dict]:
    rows = {}
    for pattern in paths:
        for meta in FileSystems.match([pattern])[0].metadata_list:
            size = int(meta.size_in_bytes)
            rel = relative_path(meta.path, pattern)
            rows[(rel, meta.path)] = {"path": rel, "bytes": size, "sha256": file_digest(meta.path, size)}
    return [rows[k] for k in sorted(rows)]


def inputs_section(cfg) -> dict:
    """``{"version", "sha256", "sources": {name: {"files", "bytes", "sha256"}}}`` of a resolved config."""
    sources = {}
    for src in sorted(cfg.sources, key=lambda s: s.name):
        files = source_files(list(src.paths))
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        sources[src.name] = {"files": len(files), "bytes": sum(f["bytes"] for f in files), "sha256": digest}
    total = hashlib.sha256(json.dumps({k: v["sha256"] for k, v in sources.items()}, sort_keys=True).encode())
    return {"version": INPUTS_VERSION, "sha256": total.hexdigest(), "sources": sources}
