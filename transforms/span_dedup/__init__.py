"""Line, paragraph and sentence-window dedup across documents (``stages.span_dedup``).

Files: ``spans`` (units, span hashes and removal: pure), ``stage`` (the ``SpanDedup`` transform, its
combine and its audit sections).
"""
from pilewright.transforms.span_dedup.stage import SpanDedup

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return SpanDedup(config, seed=context.seed)


__all__ = ["build_stage", "SpanDedup"]
