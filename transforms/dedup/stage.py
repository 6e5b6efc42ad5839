"""Dedup stage: exact and MinHash near-duplicate removal, distributed in Beam.

Flow (all on small records; documents wait for the final join):
1. ``Sign``: per document, the keep order ``(rank, id)``, the 128-bit exact key and the LSH band keys.
2. ``Exact``: one bounded group per exact key; the best document survives, carrying the group's size.
3. ``Buckets``: survivors keyed by band key; bounded groups emit star edges (a hot bucket, one with more
   members than ``max_group``, through a tree of bounded groups; see ``dedup.lsh``).
4. ``Components``: label propagation over the edges (``dedup.components``); each node learns the best
   document of its component.
5. ``Decide``: the documents, written once to the run's working folder by ``Sign``'s bundles
   (``transforms.spill``), are read back and joined with the decisions, a side input keyed by id holding
   only the documents that have duplicates, joined to their spill files by key
   (``spill.DecisionsByFile``, no side input): kept (``dup_cluster`` = kept id when it has duplicates),
   ``dedup:exact`` or ``dedup:near:<kept id>``. No shuffle or side input carries text.
"""
from __future__ import annotations

import tempfile
import typing
from typing import Iterable, Optional, Tuple

import apache_beam as beam

from pilewright.schemas.stages.dedup import DedupConfig
from pilewright.schemas.records import Document
from pilewright.transforms.hashing import stable_hash64
from pilewright.transforms.spill import DecisionsByFile, SpillDocumentsFn, iter_documents
from pilewright.transforms.stage import count, dead_lettered, reject, scope_of, typed_stage_result
from pilewright.transforms.dedup.components import ConnectedComponents
from pilewright.transforms.dedup.exact import exact_key, keep_rank
from pilewright.transforms.dedup.lsh import (
    HOT_LEVELS,
    SAMPLE_IDS,
    BoundedGroupFn,
    group_stats,
    hot_fanout,
    hot_group,
    star_edges,
)
from pilewright.transforms.dedup.minhash import Bander, MinHasher
from pilewright.transforms.dedup.stats import DedupAuditFn, merge_cluster

STAGE = "dedup"
# decision kinds, in precedence order when a document gets more than one
EXACT, NEAR, KEPT = 0, 1, 2
Decision = Tuple[int, str, int, Tuple[str, ...]]  # (kind, kept id, weight, sample ids)


class _SignFn(beam.DoFn):
    """Document -> (rank, id, exact key | None, band keys | None), and ``docs``: (id, Document)."""

    DOCS = "docs"

    def __init__(self, cfg: DedupConfig, seed: int):
        super().__init__()
        self._cfg = cfg
        self._seed = seed
        self._hasher: Optional[MinHasher] = None
        self._bander: Optional[Bander] = None

    def setup(self):
        mh = self._cfg.minhash
        if mh is not None and mh.enabled:
            seed = mh.seed if mh.seed is not None else self._seed
            self._hasher = MinHasher(mh.num_perm, mh.ngram, mh.unit, seed)
            self._bander = Bander(mh.bands, mh.rows, seed)

    def process(self, doc: Document) -> Iterable:
        cfg = self._cfg
        scope = scope_of(doc, cfg.scope)
        rank = keep_rank(doc.quality, cfg.keep_by)
        ekey = exact_key(doc.text, cfg.exact_normalization, scope) if cfg.exact else None
        bands = None
        if self._hasher is not None:
            sig = self._hasher.signature(doc.text)
            if sig is not None:
                bands = tuple(self._bander.keys(sig, stable_hash64(scope) if scope else 0))
        # everything is computed before anything is emitted: an exception leaves no partial output
        yield rank, doc.id, ekey, bands
        yield beam.pvalue.TaggedOutput(self.DOCS, (doc.id, doc))
        if self._hasher is not None and bands is None:
            count(STAGE, "unsigned", "too_short")


def _survivor(rank: float, doc_id: str, weight: int, samples: tuple, bands) -> tuple:
    return rank, doc_id, weight, samples, bands


class _ExactFn(beam.DoFn):
    """(exact key, (count, best members)) -> survivors, ``decisions`` of dropped copies, ``hot`` keys."""

    def __init__(self, max_group: int):
        super().__init__()
        self._max = max_group

    def process(self, item):
        key, (n, held) = item
        if n == 1:
            rank, doc_id, bands = held[0]
            yield _survivor(rank, doc_id, 1, (doc_id,), bands)
            return
        yield beam.pvalue.TaggedOutput("stats", group_stats("exact", n, len(held), self._max))
        best = held[0]
        samples = tuple(m[1] for m in held[:SAMPLE_IDS])
        if n > self._max:
            yield beam.pvalue.TaggedOutput("hot", (key, ((best[0], best[1]), n, samples)))
            count(STAGE, "hot_key", "exact")
            return
        yield _survivor(best[0], best[1], n, samples, best[2])
        yield beam.pvalue.TaggedOutput("decisions", (best[1], (KEPT, best[1], n, samples)))
        for m in held[1:]:
            yield beam.pvalue.TaggedOutput("decisions", (m[1], (EXACT, best[1], 0, ())))


def _exact_hot(record: tuple, hot: dict) -> Iterable:
    """Members of exact keys too big to group: decided against the key's best, a side input."""
    rank, doc_id, ekey, bands = record
    if ekey is None or ekey not in hot:
        return
    best, n, samples = hot[ekey]
    if (rank, doc_id) == tuple(best):
        yield _survivor(rank, doc_id, n, samples, bands)
        yield beam.pvalue.TaggedOutput("decisions", (doc_id, (KEPT, doc_id, n, samples)))
    else:
        yield beam.pvalue.TaggedOutput("decisions", (doc_id, (EXACT, best[1], 0, ())))


class _BucketFn(beam.DoFn):
    """(band key, (count, best members)) -> star edges; ``hot`` (key, count) for buckets over max_group."""

    def __init__(self, max_group: int):
        super().__init__()
        self._max = max_group

    def process(self, item):
        key, (n, held) = item
        if n == 1:
            return
        yield beam.pvalue.TaggedOutput("stats", group_stats("band", n, len(held), self._max))
        if n > self._max:
            yield beam.pvalue.TaggedOutput("hot", (key, n))
            count(STAGE, "hot_key", "band")
            return
        yield from star_edges(held)


def _hot_members(survivor: tuple, hot: dict, max_group: int) -> Iterable:
    """((band key, count, level 0, group), member) for each band of the survivor that is a hot bucket."""
    bands = survivor[4]
    if not hot or bands is None:
        return
    member = survivor[:4]
    for key in bands:
        n = hot.get(key)
        if n is not None:
            yield (key, n, 0, hot_group(0, member[1], hot_fanout(n, 0, max_group))), member


class _HotLevelFn(beam.DoFn):
    """One level of a hot bucket's tree: star edges over the group, its center moves up a level."""

    def __init__(self, max_group: int, level: int):
        super().__init__()
        self._max = max_group
        self._level = level

    def process(self, item):
        (key, total, level, _group), (n, held) = item
        if n >= 2:
            yield beam.pvalue.TaggedOutput("stats", group_stats(f"hot_level_{level}", n, len(held), self._max))
            yield from star_edges(held)
        if hot_fanout(total, level, self._max) > 1:
            if level + 1 < HOT_LEVELS:
                center = held[0]
                group = hot_group(level + 1, center[1], hot_fanout(total, level + 1, self._max))
                yield beam.pvalue.TaggedOutput("up", ((key, total, level + 1, group), center))
            else:
                count(STAGE, "overflow", "hot_levels")
        if n > len(held):
            # members past max_group in this group get no edge here (copies kept, never a wrong drop)
            count(STAGE, "overflow", f"hot_level_{level}", n - len(held))


def _graph_decision(labelled: tuple) -> tuple[str, Decision]:
    member, label = labelled
    rank, doc_id, weight, samples = member
    if (label[0], label[1]) == (rank, doc_id):
        return doc_id, (KEPT, doc_id, weight, samples)
    return doc_id, (NEAR, label[1], weight, samples)


def _band_members(survivor: tuple) -> list:
    bands = survivor[4]
    return [] if bands is None else [(k, survivor[:4]) for k in bands]


def _decision_tuple(item: tuple) -> tuple[str, Decision]:
    # coders may hand the sample ids back as a list: one form, so ``min`` compares like with like
    doc_id, (kind, kept, weight, samples) = item
    return doc_id, (kind, kept, weight, tuple(samples))


def _cluster_row(item: tuple) -> Iterable:
    _doc_id, decision = item
    if decision[0] != EXACT:
        yield decision[1], (decision[2], tuple(decision[3]))


class _DecideFn(beam.DoFn):
    """(spill file path, [(id, decision)]) -> its documents: kept Document, ``rejected``, and ``audit``
    rows, by the decision of each id (only documents with duplicates have one; none = kept as is)."""

    def process(self, item):
        path, decided = item
        decisions = dict(decided)
        for doc in iter_documents(path):
            decision = decisions.get(doc.id)
            if decision is None:
                yield doc
                count(STAGE, "kept")
            elif decision[0] == KEPT:
                yield doc._replace(dup_cluster=decision[1])
                count(STAGE, "kept")
            elif decision[0] == EXACT:
                # issue 28 (signals): the kept member, as evidence
                yield beam.pvalue.TaggedOutput("rejected", reject(doc, STAGE, "dedup:exact", notes={"dedup:kept": decision[1]}))
                yield beam.pvalue.TaggedOutput("audit", ("removed", doc.source, "exact"))
                count(STAGE, "dropped", "exact")
            else:
                yield beam.pvalue.TaggedOutput("rejected", reject(doc, STAGE, f"dedup:near:{decision[1]}",
                                                                  notes={"dedup:kept": decision[1]}))
                yield beam.pvalue.TaggedOutput("audit", ("removed", doc.source, "near"))
                count(STAGE, "dropped", "near")



class Dedup(beam.PTransform):
    """Exact and MinHash near-duplicate removal: one document kept per cluster.

    Input: PCollection[Document]. Output: StageResult(main=Document with ``dup_cluster`` set on kept
    documents that had duplicates, rejected=RejectedDocument ``dedup:exact`` | ``dedup:near:<kept id>``,
    errors=DeadLetter from the signature step, stats=(section, JSON) audit aggregates).
    Counters: dedup/kept, dedup/dropped:{exact,near}, dedup/unsigned:too_short, dedup/hot_key:<level>,
    dedup/overflow:<level>, dedup/cc_updated:round_NN, dedup/cc_unconverged.
    Determinism: every choice is a minimum in keep order ``(-score, id)`` or a stable hash; the same
    documents, config and seed give the same output in any input order.
    Cost: one signature per document (numpy); shuffles of small records (one per document for the exact
    key, one per band, ``max_rounds + 2`` over the duplicate graph); the documents written once to
    ``work_dir`` and read back once; a side input of the decisions (documents with duplicates only);
    no combine key holds more than ``max_group`` members and a components round groups one node with its
    neighbours' messages (degree + 1, bounded by the star and tree construction).
    """

    def __init__(self, cfg: DedupConfig, seed: int = 1234, work_dir: Optional[str] = None):
        super().__init__()
        self._cfg = cfg
        self._seed = seed
        # outside a job (tests, benchmarks) the spill files go to a temporary folder of this machine
        self._work_dir = work_dir if work_dir is not None else tempfile.mkdtemp(prefix="pilewright-dedup-")

    def expand(self, docs):
        cfg = self._cfg
        cap = cfg.max_group
        mh = cfg.minhash if cfg.minhash is not None and cfg.minhash.enabled else None
        signed, errors = dead_lettered(docs, "Sign", _SignFn(cfg, self._seed), STAGE, main_tag="records")
        records = signed["records"]
        decisions, audit = [], []

        # exact duplicates
        if cfg.exact:
            exact = (
                records
                | "ByExactKey" >> beam.Map(lambda r: (r[2], (r[0], r[1], r[3])))
                | "ExactGroups" >> beam.CombinePerKey(BoundedGroupFn(cap))
                | "ExactDecide" >> beam.ParDo(_ExactFn(cap)).with_outputs("decisions", "hot", "stats", main="survivors")
            )
            exact_hot = records | "ExactHotKeys" >> beam.FlatMap(
                _exact_hot, hot=beam.pvalue.AsDict(exact["hot"])
            ).with_outputs("decisions", main="survivors")
            survivors = (exact["survivors"], exact_hot["survivors"]) | "Survivors" >> beam.Flatten()
            decisions += [exact["decisions"], exact_hot["decisions"]]
            audit.append(exact["stats"])
        else:
            survivors = records | "AllSurvive" >> beam.Map(lambda r: _survivor(r[0], r[1], 1, (r[1],), r[3]))

        # near duplicates
        if mh is not None:
            buckets = (
                survivors
                | "ByBand" >> beam.FlatMap(_band_members)
                | "BandGroups" >> beam.CombinePerKey(BoundedGroupFn(cap))
                | "BandEdges" >> beam.ParDo(_BucketFn(cap)).with_outputs("hot", "stats", main="edges")
            )
            edge_parts = [buckets["edges"]]
            audit.append(buckets["stats"])
            level_in = survivors | "HotBandMembers" >> beam.FlatMap(
                _hot_members, hot=beam.pvalue.AsDict(buckets["hot"]), max_group=cap
            )
            for level in range(HOT_LEVELS):
                out = (
                    level_in
                    | f"HotGroups{level}" >> beam.CombinePerKey(BoundedGroupFn(cap))
                    | f"HotEdges{level}" >> beam.ParDo(_HotLevelFn(cap, level)).with_outputs(
                        "up", "stats", main="edges"
                    )
                )
                edge_parts.append(out["edges"])
                audit.append(out["stats"])
                level_in = out["up"]
            edges = (
                edge_parts
                | "AllEdges" >> beam.Flatten()
                | "DistinctEdges" >> beam.Distinct()
            )
            labels, components = edges | "Components" >> ConnectedComponents(cfg.max_rounds, cfg.max_residue_edges)
            decisions.append(labels | "GraphDecisions" >> beam.Map(_graph_decision))
            audit.append(components | "ComponentsRow" >> beam.Map(lambda c: ("components", c)))

        # decisions joined back by id: the documents come back from their spill files
        one_decision = (
            (decisions or [docs.pipeline | "NoDecisions" >> beam.Create([])])
            | "AllDecisions" >> beam.Flatten()
            | "DecisionTuples" >> beam.Map(_decision_tuple)
            | "OneDecision" >> beam.CombinePerKey(min)
        )
        spilled = signed[_SignFn.DOCS] | "SpillDocs" >> beam.ParDo(
            SpillDocumentsFn(self._work_dir, keyed=True, refs=True)).with_outputs(SpillDocumentsFn.REFS, main="files")
        decided = (
            one_decision
            | "DecisionsByFile" >> DecisionsByFile(spilled.files, spilled[SpillDocumentsFn.REFS])
            | "Decide" >> beam.ParDo(_DecideFn()).with_outputs("rejected", "audit", main="kept")
        )
        clusters = one_decision | "Clusters" >> beam.FlatMap(_cluster_row)

        cluster_rows = (
            clusters
            | "ClusterSizes" >> beam.CombinePerKey(merge_cluster)
            | "ClusterRows" >> beam.MapTuple(lambda kept, v: ("cluster", kept, v[0], v[1]))
        )
        start = docs.pipeline | "AuditStart" >> beam.Create([("start",)])
        stats = (
            [start, cluster_rows, decided["audit"]] + audit
            | "AuditRows" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda row: (None, row))
            | "Audit" >> beam.CombinePerKey(DedupAuditFn(cap, cfg.max_rounds if mh is not None else None))
            | "Sections" >> beam.FlatMap(lambda kv: kv[1]).with_output_types(typing.Tuple[str, str])
        )
        return typed_stage_result(decided["kept"], decided["rejected"], errors, stats)
