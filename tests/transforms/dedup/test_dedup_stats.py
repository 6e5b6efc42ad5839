"""The dedup audit aggregates: histogram bins, cluster merging, and a combine that ignores order."""
from __future__ import annotations

import random

from pilewright.transforms.dedup.stats import DedupAuditFn, histogram, merge_cluster, size_bin


def test_cluster_size_histogram_bins_are_contiguous_and_cover_every_size():
    assert [size_bin(s) for s in (2, 3, 4, 5, 8, 9, 16, 17, 1000)] == [2, 3, 4, 5, 5, 9, 9, 17, 513]
    h = histogram({2: 3, 9: 1})
    assert h == {"edges": [2, 3, 4, 5, 9, 17], "counts": [3, 0, 0, 0, 1]}
    for size in range(2, 3000):
        lo = size_bin(size)
        edges = histogram({lo: 1})["edges"]
        assert edges[-2] == lo <= size < edges[-1]
    assert histogram({}) == {"edges": [], "counts": []}


def test_merge_cluster_sums_weights_and_keeps_the_smallest_ids():
    assert merge_cluster([(2, ("b", "a")), (1, ("c",)), (3, ("z", "y", "x", "w"))]) == (6, ("a", "b", "c", "w", "x"))


def test_audit_combine_gives_the_same_sections_however_rows_are_split():
    rows = [("start",)]
    rows += [("cluster", f"k{i}", 2 + i % 7, (f"k{i}", f"m{i}")) for i in range(40)]
    rows += [("removed", f"s{i % 3}", "exact" if i % 2 else "near") for i in range(25)]
    rows += [("group", "band", (1, 2 + i, 2 + i, 0)) for i in range(5)]
    rows += [("components", {"nodes": 7})]
    fn = DedupAuditFn(max_group=100, rounds=3)

    def run(parts):
        accs = []
        for part in parts:
            acc = fn.create_accumulator()
            for row in part:
                acc = fn.add_input(acc, row)
            accs.append(acc)
        return fn.extract_output(fn.merge_accumulators(accs))

    whole = run([rows])
    shuffled = list(rows)
    random.Random(1).shuffle(shuffled)
    assert run([shuffled[:10], shuffled[10:50], shuffled[50:]]) == whole
    sections = dict(whole)
    assert '"n_clusters": 40' in sections["duplicates"]
    assert '"largest_group_held": 6' in sections["groups"]
    assert '"nodes": 7' in sections["components"] and '"rounds": 3' in sections["components"]
