"""Token-exact domain mixing (the ``mix:`` block).

Files: ``plan`` (the pure plan: per-domain token budgets, repeats and subsampling), ``stage`` (the
``MixDomains`` transform that applies the plan and supplies the order keys the shards follow).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
"""
from pilewright.transforms.mix.sections import AUDIT_SECTIONS
from pilewright.transforms.mix.stage import MixDomains

__all__ = ["AUDIT_SECTIONS", "MixDomains"]
