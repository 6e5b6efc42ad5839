"""Line, paragraph and sentence-window dedup across documents (``stages.span_dedup``).

Files: ``spans`` (units, span hashes and removal: pure), ``stage`` (the ``SpanDedup`` transform, its
combine and its audit sections).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from apache_beam.io.filesystems import FileSystems

from pilewright.transforms.span_dedup.explain import EXPLAIN
from pilewright.transforms.span_dedup.stage import SpanDedup

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    work = None if context.work_dir is None else FileSystems.join(context.work_dir, "span_dedup")
    return SpanDedup(config, seed=context.seed, work_dir=work)


__all__ = ["EXPLAIN", "build_stage", "SpanDedup"]
