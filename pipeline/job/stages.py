"""The curation stages of one config, built from ``transforms.flow.FLOW`` (the one place stages register)."""
from __future__ import annotations

from typing import Optional, Sequence

import apache_beam as beam

from pilewright.schemas.config import RunConfig
from pilewright.transforms.flow import RunContext, enabled_stages


def run_context(cfg: RunConfig, work_dir: Optional[str] = None, per_unit: bool = False) -> RunContext:
    return RunContext(seed=cfg.run.seed, sources=tuple(cfg.sources), work_dir=work_dir,
                      source_stages=cfg.source_stages(), per_unit=per_unit)


def curation_stages(cfg: RunConfig, work_dir: Optional[str] = None, names: Optional[Sequence[str]] = None,
                    per_unit: bool = False) -> list[tuple[str, beam.PTransform]]:
    """``(name, PTransform)`` in flow order for every stage whose block exists and is enabled, or that a
    source's profile enables; with ``names``, only those (the stages of one phase: nothing else is built).

    ``work_dir``: the phase's spill folder (under ``OUT/.work``); ``per_unit``: built for one unit of a
    phase, its stats sections merged across units afterwards (``RunContext.per_unit``)."""
    context = run_context(cfg, work_dir, per_unit)
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
    for stage in enabled_stages(cfg.stages):  # the hook stages (pii) are global: never set by a profile
        hook = stage.spec.side_output_hook(stage.config)
        if hook is not None:
            hooks.append((stage.spec.name, hook))
    return hooks
