"""A finished run read back from its files under OUT, for ``explain`` and ``diff`` (never re-run).

``Run(out)`` gives the manifest, the config it records (validated, defaults filled in, profiles resolved
per source), every document's signals row (OUT/signals; rebuilt from OUT/documents and OUT/rejected when
``run.signals`` was off, by the same functions the job uses), the mix's cuts, the dead letters, and on
demand the shard rows and text excerpts of given ids.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Iterable, Optional

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout
from pilewright.schemas.config import RunConfig
from pilewright.schemas.errors import UserError
from pilewright.schemas.manifest import Manifest
from pilewright.schemas.records import Document, RejectedDocument, SignalRow
from pilewright.transforms.flow import FLOW, STAGES, spine_on
from pilewright.transforms.signals import AFTER_CURATION, KEPT_ROW_FIELDS, MAP_FIELDS, kept_row, rejected_row

EXCERPT_CHARS = 300


class RunFilesError(UserError):
    """OUT is not a finished run, or its files cannot be read."""


def _path(out: str, rel: str) -> str:
    return FileSystems.join(out, *rel.split("/"))


def _files(out: str, folder: str, suffix: str) -> list[str]:
    pattern = FileSystems.join(_path(out, folder), f"*{suffix}")
    try:
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    except Exception:
        return []


def _read_parquet(paths: Iterable[str], columns: Optional[list[str]] = None) -> list[dict]:
    rows: list[dict] = []
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            rows.extend(pq.read_table(f, columns=columns).to_pylist())
    return rows


def _maps(row: dict, names: Iterable[str]) -> dict:
    for name in names:
        if row.get(name) is not None:
            row[name] = dict(row[name])
    return row


class Run:
    """One finished run's files. Everything is read lazily and once."""

    def __init__(self, out: str):
        self.out = out.rstrip("/") if "://" in out else out
        if not FileSystems.exists(_path(self.out, layout.MANIFEST)):
            raise RunFilesError(f"{out}: no manifest.json; give the output folder of a finished pilewright run")

    @functools.cached_property
    def manifest(self) -> dict:
        with FileSystems.open(_path(self.out, layout.MANIFEST), compression_type="uncompressed") as f:
            doc = json.loads(f.read().decode("utf-8"))
        try:
            return Manifest.model_validate(doc).dump()
        except Exception as e:
            raise RunFilesError(f"{self.out}/manifest.json is not a pilewright manifest: {str(e).splitlines()[0]}")

    @functools.cached_property
    def config(self) -> RunConfig:
        return config_of(self.manifest["config"], f"{self.out}/manifest.json")

    @functools.cached_property
    def has_signals_table(self) -> bool:
        return bool(_files(self.out, layout.SIGNALS, ".parquet"))

    @functools.cached_property
    def rows(self) -> dict[str, SignalRow]:
        """id -> the document's signals row: kept (left the last curation stage) or rejected by a curation
        stage. What a stage after curation left out is in ``cuts``, not here (they are kept rows)."""
        out: dict[str, SignalRow] = {}
        if self.has_signals_table:
            for r in _read_parquet(_files(self.out, layout.SIGNALS, ".parquet")):
                row = SignalRow(**_maps(r, ("signals", "notes")))
                if row.stage not in AFTER_CURATION:
                    out[row.id] = row
            return out
        # run.signals off: the same rows from the documents' annotations and the rejected records
        for r in _read_parquet(_files(self.out, layout.DOCUMENTS, ".parquet"), list(KEPT_ROW_FIELDS)):
            out[r["id"]] = kept_row(Document(**_maps(r, MAP_FIELDS)))
        for r in self._rejected:
            if r["stage"] not in AFTER_CURATION:
                out[r["id"]] = rejected_row(RejectedDocument(**{f: r.get(f) for f in RejectedDocument._fields}))
        return out

    def rows_of(self, ids: Iterable[str]) -> dict[str, SignalRow]:
        """The rows of ``ids`` only: read with a filter from OUT/signals (no full load for a few ids)."""
        wanted = sorted(set(ids))
        if "rows" in self.__dict__ or not self.has_signals_table or not wanted:
            return {i: self.rows[i] for i in wanted if i in self.rows}
        out: dict[str, SignalRow] = {}
        for path in _files(self.out, layout.SIGNALS, ".parquet"):
            with FileSystems.open(path, compression_type="uncompressed") as f:
                table = pq.read_table(f, filters=[("id", "in", wanted)])
            for r in table.to_pylist():
                row = SignalRow(**_maps(r, ("signals", "notes")))
                if row.stage not in AFTER_CURATION:
                    out[row.id] = row
        return out

    @functools.cached_property
    def _rejected(self) -> list[dict]:
        return [_maps(r, ("signals", "notes")) for r in _read_parquet(_files(self.out, layout.REJECTED, ".parquet"))]

    @functools.cached_property
    def cuts(self) -> dict[str, tuple[str, str]]:
        """id -> (stage, reason), for curated documents a stage after curation (``transforms.signals.
        AFTER_CURATION``: sampling, not judging) left out of the shards."""
        return {r["id"]: (r["stage"], r["reason"]) for r in self._rejected if r["stage"] in AFTER_CURATION}

    @functools.cached_property
    def dead_letters(self) -> list[dict]:
        out = []
        for path in _files(self.out, layout.DEAD_LETTER, ".jsonl"):
            with FileSystems.open(path, compression_type="uncompressed") as f:
                out.extend(json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip())
        return out

    @functools.cached_property
    def dead_letters_by_id(self) -> dict[str, dict]:
        return {d["doc_id"]: d for d in self.dead_letters if d.get("doc_id")}

    def rows_in_shards(self, ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """id -> [(shard path under OUT, row), ...] (one per epoch the mix drew it for)."""
        import pyarrow as pa

        wanted = set(ids)
        found: dict[str, list[tuple[str, int]]] = {}
        if not wanted:
            return found
        for entry in self.manifest.get("shards", []):
            with FileSystems.open(_path(self.out, entry["path"]), compression_type="uncompressed") as f:
                table = pa.ipc.open_file(pa.BufferReader(f.read())).read_all().select(["doc_id"])
            for i, doc_id in enumerate(table.column(0).to_pylist()):
                if doc_id in wanted:
                    found.setdefault(doc_id, []).append((entry["path"], i))
        return found

    def excerpts(self, ids: Iterable[str], n: int = EXCERPT_CHARS) -> dict[str, str]:
        """id -> the start of its text: the curated text for a kept document, the (redacted) snippet of a
        dropped one. Reads only the rows of ``ids``."""
        wanted = sorted(set(ids))
        out: dict[str, str] = {}
        if not wanted:
            return out
        for path in _files(self.out, layout.REJECTED, ".parquet"):
            with FileSystems.open(path, compression_type="uncompressed") as f:
                table = pq.read_table(f, columns=["id", "stage", "snippet"], filters=[("id", "in", wanted)])
            for r in table.to_pylist():
                if r["stage"] not in AFTER_CURATION:
                    out[r["id"]] = r["snippet"] or ""
        left = sorted(set(wanted) - set(out))
        for path in (_files(self.out, layout.DOCUMENTS, ".parquet") if left else []):
            with FileSystems.open(path, compression_type="uncompressed") as f:
                table = pq.read_table(f, columns=["id", "text"], filters=[("id", "in", left)])
            for r in table.to_pylist():
                out[r["id"]] = (r["text"] or "")[:n]
        return out


def _model_of(annotation) -> Optional[type]:
    """The pydantic model a field holds (``Optional[M]`` and ``list[M]`` too), or None."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def without_defaults(model: type, data: Any) -> Any:
    """``data`` (a dumped config) without the keys whose value is the field's default, recursively: the
    manifest records every default, and a few validators refuse a default set explicitly beside an
    alternative (``mix.tokens_per_param`` with ``target_tokens``)."""
    from pydantic import BaseModel

    if isinstance(data, list):
        return [without_defaults(model, v) for v in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for name, value in data.items():
        f = model.model_fields.get(name)
        if f is None:
            out[name] = value
            continue
        default = f.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        try:
            same = value == default or (not f.is_required() and value == type(model).__dict__.get(name))
        except Exception:
            same = False
        if same and not f.is_required():
            continue
        inner = _model_of(f.annotation)
        out[name] = without_defaults(inner, value) if inner is not None else value
    return out


def loadable(written: dict) -> dict:
    """The manifest's config as a file a run would load: defaults left out."""
    return without_defaults(RunConfig, written)


def config_of(written: dict, where: str) -> RunConfig:
    try:
        return RunConfig.model_validate(written)
    except Exception:
        pass
    try:
        return RunConfig.model_validate(loadable(written))
    except Exception as e:
        raise RunFilesError(f"{where}: its config does not load with this pilewright: {str(e).splitlines()[0]}")


def stage_config(cfg: RunConfig, stage: str, source: str) -> Any:
    """The config a stage ran with for ``source`` (its profile's resolved block, else ``stages.<stage>``);
    None when the stage did not run on it."""
    blocks = cfg.source_stages().get(source)
    config = blocks[stage] if blocks is not None and stage in blocks else getattr(cfg.stages, stage, None)
    return config if config is not None and getattr(config, "enabled", True) else None


def curation_order(cfg: RunConfig, source: str) -> list[str]:
    """The curation stages a document of ``source`` went through, in flow order."""
    return [s.name for s in FLOW if stage_config(cfg, s.name, source) is not None]


def stage_order(cfg: RunConfig, source: str) -> list[str]:
    """The stages a document of ``source`` went through, in order: the curation stages on for it, and the
    spine's stages of the funnel whose block is on (ingest first; tokenize, and mix when mixing, last)."""
    curation = {s.name for s in FLOW}
    return [s.name for s in STAGES if (stage_config(cfg, s.name, source) is not None if s.name in curation
                                       else s.funnel and spine_on(s, cfg))]
