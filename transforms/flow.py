"""The stages of a run, in order, registered once: the spine (ingest before the curation flow; tokenize,
mix and shard after it) and the curation flow itself.

``FLOW`` is the one list. Each entry names a field of ``schemas.config.StagesConfig`` (the stage's config
block, also its name in the audit and its step label ``Stage[<name>]``) and the ``transforms`` subpackage
that builds it. A stage package exposes ``build_stage(config, context) -> PTransform`` mapping
``PCollection[Document]`` to a ``StageResult``, optionally ``check(config, context)`` (run before the job
starts, for what the config's types cannot say; file paths are checked by type, ``schemas.paths``), and
optionally ``side_output_hook(config) -> PTransform``
applied to every stage's rejected records and dead letters (pii uses it so a value planted in a document
dropped before the pii stage reaches no output either).

Adding a stage: its config model (``schemas/stages/``), its field in ``StagesConfig``, its package here in
``transforms/`` with ``build_stage``, and one line in ``FLOW``. ``tests/transforms/test_flow.py`` checks the list
against the config model.

The spine stages are families like the others: each exposes ``build_stage(config, context)`` built from
its own top-level config block (``StageSpec.block``: ingest from ``policy`` and the sources of the
context, tokenize from ``tokenizer``, mix from ``mix``, shard from ``shards``). Their inputs and results
differ (ingest starts from the pipeline, tokenize also gives the tokenizer's info, shard takes the
tokenizer's info beside the tokens); ``pipeline.job.stages`` wires them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import apache_beam as beam

from pilewright.schemas.config import SourceConfig


@dataclass(frozen=True)
class RunContext:
    """What a stage may know about the run besides its own config block."""

    seed: int
    sources: tuple[SourceConfig, ...] = ()
    # OUT/.work: where a stage spills bulk data so only references cross its shuffles (transforms.spill);
    # None outside a job (tests, benchmarks): the stage then uses a temporary folder
    work_dir: Optional[str] = None
    # source name -> {stage -> resolved config or None}, for the sources that name a profile
    # (``RunConfig.source_stages``); every other source uses the stage's own block
    source_stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # the stage runs once per unit of a phased job and its stats sections are merged afterwards by the
    # family's ``merge_stats(section, payloads)``: a section that is not a tally carries what that merge
    # needs (decontaminate: every evaluation item found), and the merge returns the section's final form
    per_unit: bool = False
    # OUT: where the spine writes what a run delivers (the tokenizer, the shards); None outside a job
    out_dir: Optional[str] = None
    # (source, pattern, path) of exactly the files ingest reads (one unit of a phased run); None: every
    # file the sources' patterns match
    inputs: Optional[tuple[tuple[str, str, str], ...]] = None
    # the cores a stage may use in its process by itself: the local final phase runs alone in the launcher
    # (P); a unit process or a runner's worker shares its cores with the others (1)
    threads: int = 1

    def per_source(self, stage: str) -> dict[str, Any]:
        """source -> the config of ``stage`` for that source, for the sources whose profile sets one."""
        return {src: blocks.get(stage) for src, blocks in sorted(self.source_stages.items()) if stage in blocks}


@dataclass(frozen=True)
class StageSpec:
    name: str
    module: str = ""  # defaults to pilewright.transforms.<name>
    # decides across documents: the stage runs in a corpus phase over every document; a run of stages
    # without it runs per unit (``pipeline.job.phases``). An audit that counts across documents does not
    # make a stage corpus-wide: its family's ``merge_stats`` merges the units' sections
    # (``RunContext.per_unit``)
    corpus: bool = False
    # a spine stage: the field of the run config (``schemas.config.RunConfig``) holding its config; a
    # curation stage's config is ``stages.<name>``
    block: str = ""
    # a row of the funnel: every document it takes in is kept, rejected or a dead letter, so a document's
    # path (``pilewright explain``) goes through it; False for a stage that only writes what reaches it
    funnel: bool = True

    @property
    def module_name(self) -> str:
        return self.module or f"pilewright.transforms.{self.name}"

    def _module(self):
        # imported when the stage is in the flow, so a run without pii never imports Presidio
        return importlib.import_module(self.module_name)

    def build(self, config: Any, context: RunContext) -> beam.PTransform:
        return self._module().build_stage(config, context)

    def check(self, config: Any, context: RunContext) -> None:
        """The family's own checks before a run (``check(config, context)`` in its package, raising a
        ``UserError``), for what its config's types cannot say; most families have none."""
        check = getattr(self._module(), "check", None)
        if check is not None:
            check(config, context)

    def family(self):
        """The stage's package (``transforms/<name>/``), for what it declares beside ``build_stage``."""
        return self._module()

    def side_output_hook(self, config: Any) -> Optional[beam.PTransform]:
        hook = getattr(self._module(), "side_output_hook", None)
        return hook(config) if hook is not None else None

    def explain(self):
        """How the family's decisions read in ``pilewright explain`` and what ``--what-if`` recomputes
        (``EXPLAIN`` in its package, a ``transforms.explain.Explain``); no checks when it declares none."""
        from pilewright.transforms.explain import NO_EXPLAIN

        return getattr(self._module(), "EXPLAIN", NO_EXPLAIN)


FLOW: tuple[StageSpec, ...] = (
    StageSpec("extract"),  # right after ingest: the rest of the flow sees main text
    StageSpec("url_filter"),
    StageSpec("normalize"),
    StageSpec("langid"),
    StageSpec("quality"),
    # per document; its audit's distinct evaluation items are merged across units by its ``merge_stats``
    StageSpec("decontaminate"),
    StageSpec("dedup", corpus=True),  # after quality: fewer documents to compare
    StageSpec("span_dedup", corpus=True),  # after whole duplicates are gone
    StageSpec("pii"),  # last: redacts what the earlier stages kept
)


# the spine: every run has it, around the curation flow
INGEST = StageSpec("ingest", block="policy")  # reads the context's sources (or inputs): the first stage
TOKENIZE = StageSpec("tokenize", block="tokenizer")
MIX = StageSpec("mix", block="mix")  # in the run when its block is present and enabled
SHARD = StageSpec("shard", block="shards", funnel=False)  # writes the shards: no document decided

# every stage, in the order a document meets them
STAGES: tuple[StageSpec, ...] = (INGEST, *FLOW, TOKENIZE, MIX, SHARD)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def current_stages() -> tuple[StageSpec, ...]:
    """Every stage in the order a document meets them, read now: a stage added to ``FLOW`` after import (a
    test's toy stage) is among them."""
    return (INGEST, *FLOW, TOKENIZE, MIX, SHARD)


def spec_named(name: str) -> Optional[StageSpec]:
    """The registered stage called ``name``, or None."""
    return next((s for s in current_stages() if s.name == name), None)


@dataclass(frozen=True)
class EnabledStage:
    spec: StageSpec
    config: Any = field(repr=False)


def _on(config: Any) -> bool:
    return config is not None and getattr(config, "enabled", True)


def enabled_stages(stages_config: Any, flow: Optional[Sequence[StageSpec]] = None,
                   context: Optional[RunContext] = None) -> list[EnabledStage]:
    """The flow's stages whose block is present and enabled, in flow order; with a ``context``, also a
    stage that only a source's profile enables (its ``config`` is then the ``stages:`` block, maybe None)."""
    out = []
    for spec in FLOW if flow is None else flow:
        config = getattr(stages_config, spec.name, None)
        per_source = context.per_source(spec.name) if context is not None else {}
        if _on(config) or any(_on(c) for c in per_source.values()):
            out.append(EnabledStage(spec, config))
    return out


def spine_on(spec: StageSpec, run_config: Any) -> bool:
    """Whether a spine stage is in a run of ``run_config``: its block is present and enabled."""
    return _on(getattr(run_config, spec.block))


def spine_stage(spec: StageSpec, run_config: Any, context: RunContext) -> Optional[beam.PTransform]:
    """A spine stage built from its block of ``run_config``, or None when the block is absent or disabled."""
    return spec.build(getattr(run_config, spec.block), context) if spine_on(spec, run_config) else None
