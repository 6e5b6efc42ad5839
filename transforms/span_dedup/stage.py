"""The ``span_dedup`` stage: a line, paragraph or sentence window found in too many documents stays in one.

Flow (only span hashes, ids and order keys until the last step):
1. ``Spans``: per document, (span key, (order key, id)) for each distinct span key it holds.
2. ``Losers``: grouped by span key; a key in more than ``max_docs`` documents yields (id, span key) for
   every member but the first in the seeded order.
3. ``Decide``: the documents, written once to the run's working folder (``transforms.spill``), are read
   back and joined with their losing span keys (a side input keyed by id, of the documents that lose a
   span only); the spans are removed, and a document the removal takes below ``min_doc_words`` words (or
   leaves empty) is dropped as ``span_dedup:too_short``.
"""
from __future__ import annotations

import json
import tempfile
import typing
from typing import Optional

import apache_beam as beam

from pilewright.schemas.records import Document
from pilewright.schemas.stages.span_dedup import SpanDedupConfig
from pilewright.transforms.hashing import seeded_unit
from pilewright.transforms.stage import count, dead_lettered, reject, scope_of, typed_stage_result
from pilewright.transforms.span_dedup.spans import remove_units, spans
from pilewright.transforms.spill import DecisionsByFile, SpillDocumentsFn, iter_documents

STAGE = "span_dedup"
TOP_SPANS = 10


def order_key(seed: int, doc_id: str) -> tuple[float, str]:
    return seeded_unit(seed, "span_dedup", doc_id), doc_id


def trim(doc: Document, losing: set[int], cfg: SpanDedupConfig) -> tuple[str, int]:
    """(text without the spans whose key is in ``losing``, number of units removed). Pure."""
    us, sp = spans(doc.text, cfg, scope_of(doc, cfg.scope))
    drop = {u for s in sp if s.key in losing for u in range(s.first, s.last + 1)}
    return remove_units(doc.text, us, drop), len(drop)


class _SpansFn(beam.DoFn):
    DOCS = "docs"

    def __init__(self, cfg: SpanDedupConfig, seed: int):
        super().__init__()
        self._cfg = cfg
        self._seed = seed

    def process(self, doc: Document):
        _, sp = spans(doc.text, self._cfg, scope_of(doc, self._cfg.scope))
        order = order_key(self._seed, doc.id)
        keys = sorted({s.key for s in sp})
        for key in keys:
            yield key, order
        yield beam.pvalue.TaggedOutput(self.DOCS, doc)


def _losers(item, max_docs: int):
    """(key, [(order, id), ...]) -> (id, key) for every copy to remove, and a ``spans`` row per repeated key.

    Two passes over the group (Beam's grouped values are re-iterable and may be streamed from disk): the
    count and the first member, then every member but the first.
    """
    key, members = item
    n, first = 0, None
    for m in members:
        n += 1
        m = tuple(m)
        if first is None or m < first:
            first = m
    if n <= max_docs:
        return
    yield beam.pvalue.TaggedOutput("spans", (n, first[1]))
    for m in members:
        if m[1] != first[1]:
            yield m[1], key


class _DecideFn(beam.DoFn):
    """Spill file path -> its documents: kept Document, ``rejected``, audit ``rows``, by the span keys each
    id loses (a side input holding only the documents that lose one)."""

    def __init__(self, cfg: SpanDedupConfig):
        super().__init__()
        self._cfg = cfg

    def process(self, item):
        path, losing = item
        losing_by_id = dict(losing)
        for doc in iter_documents(path):
            losing = set(losing_by_id.get(doc.id, ()))
            words = len(doc.text.split())
            if not losing:
                yield beam.pvalue.TaggedOutput("rows", ("doc", doc.source, words, 0, 0))
                yield doc
                count(STAGE, "kept")
                continue
            text, removed_units = trim(doc, losing, self._cfg)
            left = len(text.split())
            # dropped when the removal made it too short; one already short is left to the quality rules
            if not text or left < self._cfg.min_doc_words <= words:
                yield beam.pvalue.TaggedOutput("rows", ("doc", doc.source, words, words, 2))
                # issue 28 (signals): the words before and after the removal
                yield beam.pvalue.TaggedOutput("rejected", reject(doc, STAGE, f"{STAGE}:too_short", signals={
                    "span_dedup:words": words, "span_dedup:words_left": left}))
                count(STAGE, "dropped", "too_short")
            else:
                yield beam.pvalue.TaggedOutput("rows", ("doc", doc.source, words, words - left, 1 if removed_units else 0))
                yield doc._replace(text=text)
                count(STAGE, "trimmed" if removed_units else "kept")


class AuditFn(beam.CombineFn):
    """Rows -> [(section, JSON)]: ``removed_per_source`` and ``repeated_spans``. Memory: sources + top spans."""

    def create_accumulator(self):
        return {"sources": {}, "spans": 0, "copies": 0, "top": []}

    def add_input(self, acc, row):
        if row[0] == "doc":
            _, source, words, removed, outcome = row
            s = acc["sources"].setdefault(source, [0, 0, 0, 0, 0])  # docs, words, removed, trimmed, dropped
            s[0] += 1
            s[1] += words
            s[2] += removed
            if outcome == 1:
                s[3] += 1
            elif outcome == 2:
                s[4] += 1
        elif row[0] == "span":
            n, first = row[1]
            acc["spans"] += 1
            acc["copies"] += n - 1
            acc["top"] = sorted(acc["top"] + [(-n, first)])[:TOP_SPANS]
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for acc in accs:
            for source, s in acc["sources"].items():
                o = out["sources"].setdefault(source, [0, 0, 0, 0, 0])
                for i in range(5):
                    o[i] += s[i]
            out["spans"] += acc["spans"]
            out["copies"] += acc["copies"]
            out["top"] = sorted(out["top"] + [tuple(t) for t in acc["top"]])[:TOP_SPANS]
        return out

    def extract_output(self, acc):
        per_source = {
            src: {"docs": s[0], "words": s[1], "words_removed": s[2], "docs_trimmed": s[3], "docs_dropped": s[4],
                  "share_removed": round(s[2] / s[1], 6) if s[1] else 0.0}
            for src, s in sorted(acc["sources"].items())
        }
        repeated = {"spans": acc["spans"], "copies_removed": acc["copies"],
                    "largest": [{"docs": -n, "kept_in": first} for n, first in acc["top"]]}
        return [("removed_per_source", json.dumps(per_source, sort_keys=True)),
                ("repeated_spans", json.dumps(repeated, sort_keys=True))]



class SpanDedup(beam.PTransform):
    """Remove lines, paragraphs or sentence windows repeated across documents, keeping one copy of each.

    Input: PCollection[Document]. Output: StageResult(main=Document (text without repeated spans),
    rejected=RejectedDocument ``span_dedup:too_short``, errors=DeadLetter from the span step,
    stats=(``removed_per_source``, ``repeated_spans``) JSON).
    Counters: span_dedup/kept, span_dedup/trimmed, span_dedup/dropped:too_short.
    Determinism: the copy kept is the first document in the order ``blake2b(seed, id)``, then id; the same
    documents, config and seed give the same output in any input order.
    Cost: one (64-bit key, order, id) record per distinct span per document through one GroupByKey (a key's
    group holds the ids of the documents sharing that span: a span in millions of documents is a big group,
    of ids only); the documents written once to ``work_dir`` and read back once; the losing span keys of each
    document joined to its spill file by key (``spill.DecisionsByFile``). No shuffle or side input carries
    text.
    """

    def __init__(self, cfg: SpanDedupConfig, seed: int = 1234, work_dir: Optional[str] = None):
        super().__init__()
        self._cfg = cfg
        self._seed = cfg.seed if cfg.seed is not None else seed
        # outside a job (tests, benchmarks) the spill files go to a temporary folder of this machine
        self._work_dir = work_dir if work_dir is not None else tempfile.mkdtemp(prefix="pilewright-spans-")

    def expand(self, docs):
        cfg = self._cfg
        signed, errors = dead_lettered(docs, "Spans", _SpansFn(cfg, self._seed), STAGE, main_tag="members")
        losers = (
            signed["members"]
            | "BySpan" >> beam.GroupByKey()
            | "Losers" >> beam.FlatMap(_losers, max_docs=cfg.max_docs).with_outputs("spans", main="losing")
        )
        losing_by_id = (
            losers["losing"]
            | "LosingById" >> beam.GroupByKey()
            | "LosingKeys" >> beam.MapTuple(lambda doc_id, keys: (doc_id, sorted(keys)))
        )
        spilled = signed[_SpansFn.DOCS] | "SpillDocs" >> beam.ParDo(
            SpillDocumentsFn(self._work_dir, refs=True)).with_outputs(SpillDocumentsFn.REFS, main="files")
        decided = (
            losing_by_id
            | "LosingByFile" >> DecisionsByFile(spilled.files, spilled[SpillDocumentsFn.REFS])
            | "Decide" >> beam.ParDo(_DecideFn(cfg)).with_outputs("rejected", "rows", main="kept")
        )
        span_rows = losers["spans"] | "SpanRows" >> beam.Map(lambda s: ("span", s))
        start = docs.pipeline | "AuditStart" >> beam.Create([("start",)])  # every section, even for no input
        stats = (
            (start, span_rows, decided["rows"])
            | "AuditRows" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda row: (None, row))
            | "Audit" >> beam.CombinePerKey(AuditFn())
            | "Sections" >> beam.FlatMap(lambda kv: kv[1]).with_output_types(typing.Tuple[str, str])
        )
        return typed_stage_result(decided["kept"], decided["rejected"], errors, stats)
