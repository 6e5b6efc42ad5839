"""OUT/manifest.json: what the shards hold, how to check them, and what produced them.

Nothing time- or machine-dependent goes in (no timestamps, no durations, no absolute paths), so the
same input, config and seed give a byte-identical manifest; timings live in the audit.
"""
from __future__ import annotations

import json
from importlib import metadata
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.manifest import MANIFEST_VERSION, Manifest
from pilewright.pipeline.audit.atomic import write_atomic
from pilewright.schemas.records import ShardInfo
from pilewright.tokenizer.spm import TokenizerInfo


def versions() -> dict[str, str]:
    out = {}
    for dist in ("pilewright", "apache-beam", "pyarrow", "sentencepiece", "tokenizers", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def build_manifest(
    shards: Sequence[ShardInfo],
    tokenizer: TokenizerInfo,
    tokens_by: Sequence[tuple[tuple[str, str], tuple[int, int]]],
    config: dict,
    config_sha256: str,
    seed: int,
    extra: Optional[dict] = None,
) -> dict:
    """Pure: the manifest document, validated by ``schemas.manifest.Manifest``.

    ``tokens_by`` rows are (("source" | "domain", name), (docs, tokens)).
    """
    by_source = {name: {"docs": d, "tokens": t} for (kind, name), (d, t) in sorted(tokens_by) if kind == "source"}
    by_domain = {name: {"docs": d, "tokens": t} for (kind, name), (d, t) in sorted(tokens_by) if kind == "domain"}
    total_tokens = sum(s.n_tokens for s in shards)
    doc = {
        "manifest_version": MANIFEST_VERSION,
        "total_tokens": total_tokens,
        "total_docs": sum(s.n_docs for s in shards),
        "num_shards": len(shards),
        "shards": [
            {"path": s.path, "docs": s.n_docs, "tokens": s.n_tokens, "bytes": s.n_bytes, "sha256": s.sha256,
             **({"files": json.loads(s.extra_files)} if json.loads(s.extra_files or "[]") else {})}
            for s in sorted(shards, key=lambda s: s.index)
        ],
        "tokens_by_domain": by_domain,
        "tokens_by_source": by_source,
        "tokenizer": {
            "path": f"tokenizer/{tokenizer.file}",
            "kind": tokenizer.kind,
            "sha256": tokenizer.sha256,
            "vocab_size": tokenizer.vocab_size,
            "eos_id": tokenizer.eos_id,
            "bos_id": tokenizer.bos_id,
            "token_dtype": "uint16" if tokenizer.vocab_size <= 1 << 16 else "uint32",
        },
        "seed": seed,
        "config_sha256": config_sha256,
        "config": config,
        "versions": versions(),
    }
    if extra:
        doc.update(extra)
    return Manifest.model_validate(doc).dump()


def source_profiles_section(cfg) -> Optional[dict]:
    """``source_profiles`` of the manifest: each source's profile, its resolved normalize/langid/quality
    blocks and their digest; None (no section, the manifest as before) when no source names a profile."""
    from pilewright.schemas.profiles import PROFILES_VERSION, resolved_digest, resolved_json

    resolved = cfg.source_stages()
    if not resolved:
        return None
    from pilewright.schemas.profiles import PER_SOURCE_STAGES

    default = {name: getattr(cfg.stages, name) for name in PER_SOURCE_STAGES}
    sources = {}
    for s in sorted(cfg.sources, key=lambda s: s.name):
        blocks = resolved.get(s.name, default)
        sources[s.name] = {"profile": s.profile, "digest": resolved_digest(blocks), "blocks": resolved_json(blocks)}
    return {"version": PROFILES_VERSION, "sources": sources}


def manifest_text(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


class WriteManifest(beam.PTransform):
    """ShardInfo (final, from ``WriteShards``) -> writes OUT/manifest.json."""

    def __init__(self, out_dir: str, tokenizer: beam.PCollection, tokens_by: beam.PCollection,
                 config: dict, config_sha256: str, seed: int, extra: Optional[beam.PCollection] = None,
                 sections: Optional[dict] = None):
        super().__init__()
        self._sections = dict(sections or {})  # known when the pipeline is built (source_profiles)
        self._out_dir = out_dir
        self._tokenizer = tokenizer
        self._tokens_by = tokens_by
        self._config = config
        self._sha = config_sha256
        self._seed = seed
        self._extra = extra

    def expand(self, infos: beam.PCollection) -> beam.PCollection:
        out_dir, config, sha, seed, sections = self._out_dir, self._config, self._sha, self._seed, self._sections

        def finish(infos, tokenizer, tokens_by, extras):
            merged: dict = dict(sections)
            for section, payload in sorted(extras or []):
                merged[section] = json.loads(payload)
            doc = build_manifest(list(infos), tokenizer, tokens_by, config, sha, seed, merged)
            path = FileSystems.join(out_dir, "manifest.json")
            # a temporary name renamed when complete: never a truncated manifest.json (issue 25)
            return write_atomic(path, manifest_text(doc).encode("utf-8"))

        pipeline = infos.pipeline
        extra = self._extra if self._extra is not None else pipeline | "NoManifestExtras" >> beam.Create([])
        return (
            infos
            | "AllShards" >> beam.combiners.ToList()
            | "Finalize" >> beam.Map(
                finish,
                tokenizer=beam.pvalue.AsSingleton(self._tokenizer),
                tokens_by=beam.pvalue.AsList(self._tokens_by),
                extras=beam.pvalue.AsList(extra),
            )
        )
