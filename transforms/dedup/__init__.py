"""Exact and near-duplicate removal across the corpus (``stages.dedup``).

Files: ``stage`` (the ``Dedup`` transform: keys, grouping, decisions joined back), ``exact`` (normalized
content hashes), ``minhash`` (shingles and MinHash signatures through datasketch), ``lsh`` (band keys),
``components`` (connected components of candidate pairs: which copy survives), ``stats`` (the audit
sections: cluster sizes and samples).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.dedup.explain import EXPLAIN
from pilewright.transforms.dedup.sections import AUDIT_SECTIONS
from pilewright.transforms.dedup.stage import Dedup

def _area(work_dir, name):
    from apache_beam.io.filesystems import FileSystems

    return None if work_dir is None else FileSystems.join(work_dir, name)


def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return Dedup(config, seed=context.seed, work_dir=_area(context.work_dir, "dedup"))


__all__ = ["EXPLAIN", "AUDIT_SECTIONS", "build_stage", "Dedup"]
