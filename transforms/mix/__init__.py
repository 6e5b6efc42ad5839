"""Token-exact domain mixing (the ``mix:`` block).

Files: ``plan`` (the pure plan: per-domain token budgets, repeats and subsampling), ``stage`` (the
``MixDomains`` transform that applies the plan and supplies the order keys the shards follow).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind) and its view of the
manifest's ``mix`` block (``AUDIT_VIEWS``), which ``--verify`` checks (``verify_manifest``).
"""
from pilewright.schemas.stages.mix import MixConfig
from pilewright.transforms.mix.sections import AUDIT_SECTIONS, AUDIT_VIEWS, verify_manifest
from pilewright.transforms.mix.stage import MixDomains, MixResult


def build_stage(config: MixConfig, context) -> MixDomains:
    """The stage of the spine (``transforms.flow.MIX``) for the ``mix:`` block."""
    return MixDomains(config, context.sources, context.seed)


__all__ = ["AUDIT_SECTIONS", "AUDIT_VIEWS", "verify_manifest", "build_stage", "MixDomains", "MixResult"]
