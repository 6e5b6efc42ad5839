"""The job's composition list: the stages of one config, built from ``transforms.flow`` (the one place stages
register), and the one module of ``pipeline/`` that names a stage.

Every stage is built by its own family from its own config block (``build_stage(config, context)``); this
module only wires them: the source stage (ingest) starts a curate unit, the curation flow runs over its
documents, and the spine after it (tokenize -> mix when present -> shard) turns the curated documents into
shards. ``tests/test_architecture.py`` checks that no other module of ``pipeline/job`` or ``pipeline/cli``
names a stage.
"""
from __future__ import annotations

import typing
from dataclasses import replace
from typing import Mapping, Optional, Sequence

import apache_beam as beam

from pilewright.pipeline.job import steps
from pilewright.schemas.config import RunConfig
from pilewright.transforms import flow
from pilewright.transforms.flow import RunContext, enabled_stages, spine_stage
from pilewright.transforms.shard.stage import DOCS as SHARD_DOCS, INFO as SHARD_INFO, KEYED as SHARD_KEYED
from pilewright.transforms.stage import StageResult

# the stage that reads the sources: the first of the curate phase, whose stats hold the duplicate-id section
SOURCE = flow.INGEST
# the stats section of the source stage that counts ids shared by several records (every unit's are
# counted again where the curate phase is read back)
DUPLICATE_IDS = (SOURCE.name, "duplicate_ids")
# a finished run read back (``pilewright plan --from-run``): the audit row of the stage that read the
# sources (what it took in is every record read) and of the stage that counted the curated tokens
READ_STAGE = SOURCE.name
TOKENS_STAGE = flow.TOKENIZE.name


def target_shares(written_config: Mapping) -> Optional[Mapping[str, float]]:
    """The domain shares a run's mix aimed at, from the config its manifest records; None without a mix."""
    return (written_config.get(flow.MIX.block) or {}).get("domains")


def run_context(cfg: RunConfig, work_dir: Optional[str] = None, out_dir: Optional[str] = None,
                per_unit: bool = False, threads: int = 1) -> RunContext:
    return RunContext(seed=cfg.run.seed, sources=tuple(cfg.sources), work_dir=work_dir,
                      source_stages=cfg.source_stages(), out_dir=out_dir, per_unit=per_unit, threads=threads)


def source_stage(cfg: RunConfig, work_dir: Optional[str],
                 inputs: Optional[Sequence[tuple[str, str, str]]] = None) -> tuple[str, beam.PTransform]:
    """``(name, PTransform)`` of the stage that reads the sources (PBegin -> ``StageResult`` with ``places``):
    ``inputs`` (source, pattern, path) only, or every matched file when None."""
    context = replace(run_context(cfg, work_dir),
                      inputs=None if inputs is None else tuple(tuple(f) for f in inputs))
    return SOURCE.name, spine_stage(SOURCE, cfg, context)


def curation_stages(cfg: RunConfig, work_dir: Optional[str] = None, names: Optional[Sequence[str]] = None,
                    per_unit: bool = False) -> list[tuple[str, beam.PTransform]]:
    """``(name, PTransform)`` in flow order for every stage whose block exists and is enabled, or that a
    source's profile enables; with ``names``, only those (the stages of one phase: nothing else is built).

    ``work_dir``: the phase's spill folder (under ``OUT/.work``); ``per_unit``: built for one unit of a
    phase, its stats sections merged across units afterwards (``RunContext.per_unit``)."""
    context = run_context(cfg, work_dir, per_unit=per_unit)
    wanted = None if names is None else set(names)
    return [(stage.spec.name, stage.spec.build(stage.config, context))
            for stage in enabled_stages(cfg.stages, context=context)
            if wanted is None or stage.spec.name in wanted]


def curation_kinds(cfg: RunConfig) -> list[tuple[str, bool]]:
    """(name, decides across documents) of every stage in the flow, in order (``StageSpec.corpus``)."""
    context = run_context(cfg, None)
    return [(stage.spec.name, stage.spec.corpus) for stage in enabled_stages(cfg.stages, context=context)]


def side_output_hooks(cfg: RunConfig) -> list[tuple[str, beam.PTransform]]:
    """``(name, PTransform)`` of the enabled stages that act on every stage's rejected records and dead letters."""
    hooks = []
    for stage in enabled_stages(cfg.stages):  # the hook stages are global: never set by a profile
        hook = stage.spec.side_output_hook(stage.config)
        if hook is not None:
            hooks.append((stage.spec.name, hook))
    return hooks


class Spine(typing.NamedTuple):
    """What the spine after the curation flow gives the job's outputs."""

    results: list[tuple[str, StageResult]]  # the audited stages, in flow order
    tokenizer_info: beam.PCollection  # one TokenizerInfo
    tokens: beam.PCollection  # TokenizedDocument: every copy the shards hold
    documents: beam.PCollection  # the curated Documents with n_tokens, for OUT/documents
    shards: beam.PCollection  # ShardInfo per written shard
    sections: Optional[beam.PCollection]  # (section, json) the manifest adds (the mix's report), or None


def unit_encoder(cfg: RunConfig, work_dir: str) -> Optional[tuple[str, beam.PTransform]]:
    """``(name, PTransform)`` of the tokenize stage for one unit of the last per-document phase, when the
    tokenizer lets each document be encoded on its own (given, not trained); None otherwise. Its token
    arrays and its tokenizer copy go under ``work_dir``, which must outlive the unit."""
    spec = flow.TOKENIZE
    config = getattr(cfg, spec.block)
    if not spec.family().per_document(config):
        return None
    return spec.name, spec.family().build_unit_stage(config, run_context(cfg, work_dir))


def encoder_name(cfg: RunConfig) -> Optional[str]:
    """The tokenize stage's name when it can run per unit (``unit_encoder``), else None."""
    spec = flow.TOKENIZE
    return spec.name if spec.family().per_document(getattr(cfg, spec.block)) else None


def spine(docs: beam.PCollection, cfg: RunConfig, out_dir: str, work_dir: str,
          encoded: Optional[beam.PCollection] = None, threads: int = 1) -> Spine:
    """Curated Documents -> tokenize -> mix (when its block is on) -> shard, each built by its family from
    its own block; ``work_dir``: the final phase's spill folder; ``threads``: the cores its stages may use
    (``RunContext.threads``). ``encoded``: the TokenizedDocuments the
    units already made (``unit_encoder``; ``docs`` then carry ``n_tokens``), so tokenize only loads the
    tokenizer here, and its audit rows are the units'."""
    context = run_context(cfg, work_dir, out_dir, threads=threads)
    tokenize = flow.TOKENIZE
    results: list[tuple[str, StageResult]] = []
    if encoded is None:
        tokenized = docs | steps.stage_step(tokenize.name) >> spine_stage(tokenize, cfg, context)
        results.append((tokenize.name, tokenized))
    else:
        family = tokenize.family()
        tokenized = ({family.ENCODED_DOCS: docs, family.ENCODED_TOKENS: encoded}
                     | steps.stage_step(tokenize.name) >> family.build_encoded(getattr(cfg, tokenize.block), context))
    tokens, shard_input, sections = tokenized.main, {SHARD_DOCS: tokenized.main}, None
    mix = spine_stage(flow.MIX, cfg, context)
    if mix is not None:
        mixed = tokens | steps.stage_step(flow.MIX.name) >> mix
        results.append((flow.MIX.name, mixed))
        # the shards follow the mix's order keys, so any prefix of them holds the target mix
        tokens, shard_input, sections = mixed.mixed, {SHARD_KEYED: mixed.keyed}, mixed.report
    shard_input[SHARD_INFO] = tokenized.info
    sharded = shard_input | steps.stage_step(flow.SHARD.name) >> spine_stage(flow.SHARD, cfg, context)
    return Spine(results=results, tokenizer_info=tokenized.info, tokens=tokens, documents=tokenized.annotated,
                 shards=sharded.shards, sections=sections)
