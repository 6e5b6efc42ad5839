"""Writing token shards (the ``shards:`` block): Arrow IPC, and Megatron ``.bin/.idx`` beside them.

Files: ``stage`` (the ``WriteShards`` transform: shard placement, writing and final names), ``sections`` (how
the shards read in the audit: ``AUDIT_VIEWS``).
"""
from pilewright.schemas.config import ShardsConfig
from pilewright.transforms.shard.sections import AUDIT_VIEWS
from pilewright.transforms.shard.stage import Shard, ShardResult, WriteShards


def build_stage(config: ShardsConfig, context) -> Shard:
    """The stage of the spine (``transforms.flow.SHARD``) for the ``shards:`` block: shards under OUT."""
    return Shard(config, context.seed, context.out_dir)


__all__ = ["AUDIT_VIEWS", "build_stage", "Shard", "ShardResult", "WriteShards"]
