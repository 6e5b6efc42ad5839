"""Checks of config values against the data and models, made before the run starts.

A wrong text field would otherwise only show after the whole run, as every document dead-lettered. Local
files only: remote sources are left to the workers (and the failure policy).
"""
from __future__ import annotations

import io
from typing import Optional

from pilewright.pipeline.job.config import ConfigError
from pilewright.schemas.config import RunConfig, SourceConfig


def first_record(src: SourceConfig) -> Optional[tuple[str, dict]]:
    """(path, first record) of a local JSONL or Parquet source, or None when it cannot be had cheaply."""
    from apache_beam.io.filesystems import FileSystems

    from pilewright.transforms.ingest.read import file_chunks, iter_lines

    for pattern in src.paths:
        if "://" in pattern:
            return None
        for meta in sorted(FileSystems.match([pattern])[0].metadata_list, key=lambda m: m.path):
            if meta.size_in_bytes == 0:
                continue
            try:
                with FileSystems.open(meta.path, compression_type="uncompressed") as raw:
                    if src.format == "parquet":
                        import pyarrow.parquet as pq

                        names = pq.ParquetFile(io.BytesIO(raw.read())).schema_arrow.names
                        return meta.path, {n: None for n in names}
                    for _, line in iter_lines(file_chunks(raw, meta.path)):
                        if line.strip():
                            import orjson

                            record = orjson.loads(line)
                            return (meta.path, record) if isinstance(record, dict) else None
            except Exception:  # unreadable or bad: the run dead-letters it with the reason
                continue
    return None


def check_text_fields(cfg: RunConfig) -> None:
    """Each JSONL/Parquet source's ``text_field`` is in its first record (first file in name order)."""
    for i, src in enumerate(cfg.sources):
        if src.format not in ("jsonl", "parquet"):
            continue
        found = first_record(src)
        if found is None:
            continue
        path, record = found
        if src.text_field not in record:
            keys = ", ".join(sorted(record)[:10])
            raise ConfigError(
                f"sources[{i}] ({src.name}).text_field: {src.text_field!r} is not in the first record of {path} "
                f"(its fields: {keys}); set text_field to the field holding the text"
            )


def local_input_bytes(cfg: RunConfig) -> dict[str, int]:
    """source -> total bytes of its files, for the sources whose every path is local (the failure policy's
    limits in bytes); a source with a remote path is left out."""
    from apache_beam.io.filesystems import FileSystems

    out = {}
    for src in cfg.sources:
        if any("://" in p for p in src.paths):
            continue
        try:
            metas = {m.path: m.size_in_bytes for r in FileSystems.match(list(src.paths)) for m in r.metadata_list}
        except Exception:  # a pattern that cannot be listed now: the limit in records still holds
            continue
        out[src.name] = sum(metas.values())
    return out


def check_before_run(cfg: RunConfig) -> None:
    """Checks of the data worth their cost only from the command line (each stage family's own checks and
    the paths' existence run for every job, in ``config.check_inputs_exist``)."""
    check_text_fields(cfg)
