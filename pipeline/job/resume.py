"""``pilewright run --resume``: what a killed run left that the next one may reuse.

A run is a sequence of phases (``pipeline.job.phases``); the curate phase is cut into units of input files,
and each unit ends by writing ``OUT/.work/curate/<unit>/unit.json`` (to a temporary name, renamed) holding
its fingerprint: the config hash plus the path, size and mtime of each of its files. ``--resume`` keeps
``OUT/.work`` and reuses every unit whose ``unit.json`` matches, so a run killed after 90 of 100 units
reruns 10 of them, then the corpus phase. A run without ``--resume`` starts by removing ``OUT/.work``; any
run removes it when it ends. A unit's outputs do not depend on which other units ran with it, so a
resumed run writes the same bytes as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json

from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout
from pilewright.schemas.config import RunConfig


def work_dir(out_dir: str) -> str:
    return FileSystems.join(out_dir, layout.WORK)


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


def remove_work(out_dir: str) -> None:
    path = work_dir(out_dir)
    if FileSystems.exists(path):
        FileSystems.delete([path])
