"""Writing token shards (the ``shards:`` block): Arrow IPC, and Megatron ``.bin/.idx`` beside them.

Files: ``stage`` (the ``WriteShards`` transform: shard placement, writing and final names).
"""
from pilewright.transforms.shard.stage import WriteShards

__all__ = ["WriteShards"]
