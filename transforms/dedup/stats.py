"""The dedup stage's audit sections: small aggregates combined in the pipeline, never one row per document.

Sections (``StageResult.stats`` items ``(section, json_text)``):
- ``duplicates``: number of clusters (2+ documents) and documents in them;
- ``cluster_sizes``: histogram of documents per cluster, ``{"edges": [2, 3, 4, 5, 9, 17, ...], "counts"}``
  (bins ``[edges[i], edges[i+1])``: 2, 3, 4 on their own, then powers of two);
- ``largest_clusters``: the biggest clusters, ``[{"kept_id", "size", "sample_ids"}, ...]``;
- ``removed_per_source``: exact and near duplicates removed, per source;
- ``groups``: per key kind (exact hash, LSH band, hot sub-bucket, hot center): keys with duplicates, the
  largest member count, the largest group held in memory and how many keys took the hot-key path;
- ``components``: graph size and convergence of the connected components (when MinHash is on).

Rows fed to ``DedupAuditFn``: ("cluster", kept id, size, sample ids), ("removed", source, kind),
("group", level, (keys with duplicates, largest count, largest held, keys over max_group)),
("components", summary dict), and one ("start",) so an empty input still yields every section.
"""
from __future__ import annotations

import json
from typing import Iterable, Optional

import apache_beam as beam

from pilewright.schemas.audit import DEDUP_CLUSTER_SIZES, DEDUP_DUPLICATES, DEDUP_LARGEST_CLUSTERS

TOP_CLUSTERS = 10
SAMPLE_IDS = 5


def size_bin(size: int) -> int:
    """Lower edge of a cluster size's histogram bin: 2, 3, 4 on their own, then 5-8, 9-16, 17-32, ..."""
    if size <= 4:
        return size
    lo = 5
    while size >= 2 * lo - 1:
        lo = 2 * lo - 1
    return lo


def _next_edge(lo: int) -> int:
    return lo + 1 if lo < 5 else 2 * lo - 1


def histogram(bins: dict) -> dict:
    """{lower edge: clusters} -> {"edges", "counts"} over every bin from 2 to the largest one used."""
    if not bins:
        return {"edges": [], "counts": []}
    edges, counts = [2], []
    top = max(int(b) for b in bins)
    while edges[-1] <= top:
        counts.append(bins.get(edges[-1], 0))
        edges.append(_next_edge(edges[-1]))
    return {"edges": edges, "counts": counts}


def merge_cluster(values: Iterable[tuple[int, tuple]]) -> tuple[int, tuple]:
    """Combine (weight, sample ids) contributions of one cluster: total size and its smallest ids."""
    total = 0
    ids: set[str] = set()
    for weight, samples in values:
        total += weight
        ids.update(samples)
        if len(ids) > 4 * SAMPLE_IDS:
            ids = set(sorted(ids)[:SAMPLE_IDS])
    return total, tuple(sorted(ids)[:SAMPLE_IDS])


def merge_group_row(a: Optional[tuple], b: tuple) -> tuple:
    if a is None:
        return tuple(b)
    return a[0] + b[0], max(a[1], b[1]), max(a[2], b[2]), a[3] + b[3]


class DedupAuditFn(beam.CombineFn):
    """Audit rows -> list of (section, JSON text). Memory: histogram bins, top clusters, sources, levels."""

    def __init__(self, max_group: int, rounds: Optional[int], top: int = TOP_CLUSTERS):
        super().__init__()
        self._max_group = max_group
        self._rounds = rounds  # None: MinHash is off, no components section
        self._top = top

    def create_accumulator(self):
        # clusters, docs in clusters, histogram, top clusters, removed, groups, components
        return [0, 0, {}, [], {}, {}, None]

    def add_input(self, acc, row):
        kind = row[0]
        if kind == "cluster":
            _, kept_id, size, samples = row
            if size >= 2:
                acc[0] += 1
                acc[1] += size
                b = size_bin(size)
                acc[2][b] = acc[2].get(b, 0) + 1
                acc[3].append((-size, kept_id, tuple(samples)))
                if len(acc[3]) > 4 * self._top:
                    acc[3] = sorted(acc[3])[: self._top]
        elif kind == "removed":
            key = (row[1], row[2])
            acc[4][key] = acc[4].get(key, 0) + 1
        elif kind == "group":
            acc[5][row[1]] = merge_group_row(acc[5].get(row[1]), row[2])
        elif kind == "components":
            acc[6] = row[1]
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for n, docs, hist, top, removed, groups, components in accs:
            out[0] += n
            out[1] += docs
            for b, c in hist.items():
                out[2][int(b)] = out[2].get(int(b), 0) + c
            out[3] = sorted(out[3] + [tuple(t) for t in top])[: self._top]
            for k, c in removed.items():
                out[4][tuple(k)] = out[4].get(tuple(k), 0) + c
            for level, row in groups.items():
                out[5][level] = merge_group_row(out[5].get(level), row)
            if components is not None:
                out[6] = components
        return out

    def extract_output(self, acc):
        n, docs, hist, top, removed, groups, components = acc
        sections = [
            (DEDUP_DUPLICATES, {"n_clusters": n, "docs_in_clusters": docs}),
            (DEDUP_CLUSTER_SIZES, histogram(hist)),
            (DEDUP_LARGEST_CLUSTERS, [
                {"kept_id": kept, "size": -neg, "sample_ids": list(samples)}
                for neg, kept, samples in sorted(top)[: self._top]
            ]),
            ("removed_per_source", removed_table(removed)),
            ("groups", groups_table(groups, self._max_group)),
        ]
        if self._rounds is not None:
            comp = {"rounds": self._rounds, "nodes": 0, "edges": 0, "max_degree": 0, "unconverged_after_rounds": 0,
                    "residue_edges": 0, "residue_resolved": True}
            comp.update(components or {})
            sections.append(("components", comp))
        # payloads are built in a deterministic order (bins by size, sorted names), so key order is kept
        return [(name, json.dumps(payload)) for name, payload in sections]


def removed_table(removed: dict) -> dict:
    """{(source, kind): n} -> {source: {"exact": n, "near": n}} in sorted order."""
    table: dict[str, dict[str, int]] = {}
    for (source, kind), n in sorted(removed.items()):
        table.setdefault(source, {"exact": 0, "near": 0})[kind] += n
    return table


def groups_table(groups: dict, max_group: int) -> dict:
    out: dict = {"max_group": max_group}
    largest_held = 0
    for level in sorted(groups):
        dup, largest, held, hot = groups[level]
        out[level] = {
            "keys_with_duplicates": dup,
            "largest_key_members": largest,
            "largest_group_held": held,
            "keys_over_max_group": hot,
        }
        largest_held = max(largest_held, held)
    out["largest_group_held"] = largest_held
    return out
