"""Bounded per-key groups and star edges: how exact keys and LSH buckets become cluster edges.

Every key (an exact hash, an LSH bucket, a hot bucket's sub-bucket) is reduced by ``BoundedGroupFn``, a
combine whose accumulator holds at most ``max_group`` members (the best ones in keep order) plus the true
member count, so no key ever materializes a group larger than that, however many documents share it
(Beam lifts the combine: partial accumulators are built before the shuffle).

A bucket with 2..max_group members emits star edges: its best member -> each other member (never all
pairs). A hot bucket (more members than ``max_group``) is reported instead and clustered as a tree of
bounded groups: its members are spread over ``hot_fanout(n, 0)`` sub-buckets by a stable hash of their id
(about ``max_group / 2`` each); each sub-bucket's best member is the center of a star over it and moves up
to level 1, where the centers are spread again over ``hot_fanout(n, 1)`` groups, and so on until one group
holds them all. ``HOT_LEVELS`` levels are unrolled: a bucket of up to about ``(max_group / 2) **
HOT_LEVELS`` members (6e10 for the default 1000) is connected without any key holding more than
``max_group`` members; past that, or when hash skew overfills a group, the members past ``max_group`` get
no edge from that group (counted as ``dedup/overflow``: copies kept, never a wrong removal).

Members are plain tuples ``(rank, id, weight, samples)`` ordered by ``(rank, id)``, the keep order (see
``dedup_exact.keep_rank``); ``weight`` is how many documents the member stands for after exact dedup and
``samples`` a few of their ids.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import apache_beam as beam

from pilewright.transforms.hashing import stable_hash64

Member = tuple  # (rank: float, id: str, weight: int, samples: tuple[str, ...]) or (rank, id, ...) records
SAMPLE_IDS = 5


def order_key(member: Member) -> tuple[float, str]:
    return member[0], member[1]


def add_member(acc: list, member: Member, max_group: int) -> list:
    """Adds one member to an accumulator ``[count, members]``; keeps the best ``max_group`` members."""
    acc[0] += 1
    acc[1].append(member)
    if len(acc[1]) > 2 * max_group:
        _trim(acc, max_group)
    return acc


def merge_groups(accs: Iterable[list], max_group: int) -> list:
    out = [0, []]
    for acc in accs:
        out[0] += acc[0]
        out[1].extend(acc[1])
        if len(out[1]) > 2 * max_group:
            _trim(out, max_group)
    return out


def _trim(acc: list, max_group: int) -> None:
    acc[1].sort(key=order_key)
    del acc[1][max_group:]


def finish_group(acc: list, max_group: int) -> tuple[int, tuple]:
    """(true member count, the best ``min(count, max_group)`` members in keep order)."""
    members = sorted(acc[1], key=order_key)[:max_group]
    return acc[0], tuple(members)


class BoundedGroupFn(beam.CombineFn):
    """values -> (count, best members): a per-key group that never holds more than ``max_group`` members."""

    def __init__(self, max_group: int):
        super().__init__()
        self._max = max_group

    def create_accumulator(self) -> list:
        return [0, []]

    def add_input(self, acc: list, member: Member) -> list:
        return add_member(acc, member, self._max)

    def merge_accumulators(self, accs: Iterable[list]) -> list:
        return merge_groups(accs, self._max)

    def compact(self, acc: list) -> list:
        if len(acc[1]) > self._max:
            _trim(acc, self._max)
        return acc

    def extract_output(self, acc: list) -> tuple[int, tuple]:
        return finish_group(acc, self._max)


def star_edges(members: Sequence[Member]) -> list[tuple[Member, Member]]:
    """Edges from the best member (first in keep order) to each other member, as (center, member)."""
    ordered = sorted(members, key=order_key)
    center = ordered[0]
    return [(center, m) for m in ordered[1:] if order_key(m) != order_key(center)]


HOT_LEVELS = 4


def hot_fanout(count: int, level: int, max_group: int) -> int:
    """Groups at ``level`` of a hot bucket with ``count`` members: each about ``max_group / 2`` items."""
    n = count
    for _ in range(level + 1):
        n = math.ceil(2 * n / max_group)
    return max(1, n)


def hot_group(level: int, member_id: str, fanout: int) -> int:
    """The group of one member (level 0) or center (levels above) of a hot bucket.

    Not salted by bucket: boilerplate shares all its bands, and the same groups in every band give the
    same edges (de-duplicated), so a group's center gets about ``max_group / 2`` neighbours, not 14 times that.
    """
    if fanout <= 1:
        return 0
    return stable_hash64("hot", str(level), member_id) % fanout


def group_stats(level: str, count: int, held: int, max_group: int) -> tuple:
    """Audit row of one key with duplicates: ("group", level, (1, member count, held, over max_group))."""
    return "group", level, (1, count, held, 1 if count > max_group else 0)
