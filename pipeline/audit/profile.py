"""The audit's distributions, counted from the data inside the pipeline, each reduced to a few small rows.

- size histograms of every stage's kept and rejected records (chars of documents, tokens after encoding);
- a profile of the curated documents: languages, language scores, documents in a duplicate cluster, and
  the parts families declare (``CURATED_PARTS``, ``schemas.audit.CuratedPart``): tallies of their
  annotations (PII redacted per entity) and deterministic samples of named values (quality signals, whose
  ranges are not known upfront);
- samples of dropped documents and dead letters per (stage, reason, source), taken after PII redaction so
  a person can judge a rule without opening Parquet.

Every aggregate is a combine; samples are the records with the smallest blake2b(seed, id), so they are
spread over the corpus, identical across runs and independent of input order.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Iterable, Mapping, Optional, Sequence

import apache_beam as beam

from pilewright.schemas.audit import CURATED, CuratedPart
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument
from pilewright.transforms.hashing import stable_hash64
from pilewright.transforms.stage import SNIPPET_CHARS, StageResult

# aggregation keys are tuples of strings (Beam encodes them deterministically), never joined text
SizeKey = tuple[str, str, str, str]  # (stage, source, "<outcome>:<unit>", bin)
LabelKey = tuple[str, str, str]  # (kind, source, label) and (stage, reason or error type, source)
SAMPLES_PER_REASON = 5
SAMPLE_DOCS = 2000  # documents in each sample part of the curated profile
LANG_SCORE_BINS = 20
DROPPED_SAMPLES_SECTION = "dropped_samples"
DEAD_LETTER_SAMPLES_SECTION = "dead_letter_samples"
CURATED_SECTION = CURATED


def _order(seed: int, doc_id: str) -> int:
    # 63 bits: Beam's integer coder is signed 64-bit
    return stable_hash64(str(seed), doc_id) >> 1


# ---- size histograms: quarter-octave bins, exact integer arithmetic (no float log) -----------------------


def size_bin(n: int) -> int:
    """0 for 0; otherwise floor(4 * log2(n)) + 1, computed as the bit length of n**4 (exact, portable)."""
    return 0 if n <= 0 else (int(n) ** 4).bit_length()


def bin_range(b: int) -> tuple[float, float]:
    """[low, high) of bin ``b`` (sizes are integers, so a bin holds the integers in that range)."""
    if b <= 0:
        return 0.0, 1.0
    return 2.0 ** ((b - 1) / 4), 2.0 ** (b / 4)


def record_kind(element) -> str:
    """"document", "rejected", "dead_letter", "tokenized" or "" for one record, told apart by its fields.

    Not by isinstance: a multi_processing worker that decodes a record after a shuffle before the record
    types are registered in it gets a schema-generated class with the same fields.
    """
    if hasattr(element, "reason") and hasattr(element, "n_chars"):
        return "rejected"
    if hasattr(element, "error_type"):
        return "dead_letter"
    if hasattr(element, "tokens") and hasattr(element, "n_tokens"):
        return "tokenized"
    if hasattr(element, "text"):
        return "document"
    return ""


def _size_row(element, stage: str, outcome: str) -> tuple[SizeKey, int]:
    """(stage, source, "<outcome>:<unit>", bin) -> 1 for one output record: chars of documents, tokens of
    tokenized documents."""
    kind = record_kind(element)
    if kind == "tokenized":
        unit, size = "tokens", element.n_tokens
    elif kind == "document":
        unit, size = "chars", len(element.text)
    elif kind == "rejected" and element.n_chars:
        unit, size = "chars", element.n_chars
    else:
        # dead letters, and rejections that carry no text size (e.g. after tokenization)
        unit, size = "", 0
    return (stage, getattr(element, "source", "") or "", f"{outcome}:{unit}", str(size_bin(size))), 1


def stage_sizes(stage: str, result: StageResult) -> beam.PCollection:
    """StageResult -> (key, docs) size histogram rows of its kept and rejected records.

    Deterministic (exact integer bins); cost: one map per record and a combine to a few rows per source.
    """
    parts = [
        pc | f"AuditSize{stage}{outcome}" >> beam.Map(_size_row, stage=stage, outcome=outcome)
        for outcome, pc in (("kept", result.main), ("rejected", result.rejected))
    ]
    return parts | f"AuditSize{stage}Flatten" >> beam.Flatten() | f"AuditSize{stage}Sum" >> beam.CombinePerKey(sum)


def assemble_sizes(size_rows: Sequence[tuple[SizeKey, int]]) -> dict[str, dict]:
    """{stage: {"<outcome>:<unit>": {source: {bin: docs}}}} with bins in ascending order. Pure."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for key, n in size_rows:
        stage, source, what, b = key
        if what.endswith(":"):
            continue  # a record with no size (not a document)
        cell = out[stage][what][source]
        cell[int(b)] = cell.get(int(b), 0) + n
    return {
        stage: {
            what: {src: {str(b): n for b, n in sorted(bins.items())} for src, bins in sorted(by_src.items())}
            for what, by_src in sorted(whats.items())
        }
        for stage, whats in sorted(out.items())
    }


# ---- the curated documents' profile ---------------------------------------------------------------------


def curated_parts() -> tuple[CuratedPart, ...]:
    """Every family's parts of the curated profile (``CURATED_PARTS`` in its package), in stage order."""
    from pilewright.transforms import flow

    parts: list[CuratedPart] = []
    for spec in flow.current_stages():
        try:
            parts += getattr(spec.family(), "CURATED_PARTS", ())
        except ImportError:
            continue
    return tuple(parts)


def profile_rows(doc: Document, parts: Optional[Sequence[CuratedPart]] = None) -> list[tuple[LabelKey, int]]:
    """Counting rows of one curated document's annotations: (kind, source, label) -> n, the families' tallies
    (``parts``, default every family's) included. Pure."""
    src = doc.source
    rows: list[tuple[LabelKey, int]] = [(("docs", src, ""), 1)]
    if doc.lang is not None:
        rows.append((("lang", src, doc.lang), 1))
    if doc.lang_score is not None:
        b = min(LANG_SCORE_BINS - 1, max(0, int(doc.lang_score * LANG_SCORE_BINS)))
        rows.append((("lang_score", src, str(b)), 1))
    if doc.dup_cluster:
        rows.append((("dup_cluster", src, ""), 1))
    for part in curated_parts() if parts is None else parts:
        if part.rows is not None:
            rows += [((kind, src, label), n) for kind, label, n in part.rows(doc)]
    return rows


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of already sorted values."""
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def signal_summary(values: Sequence[float], bins: int = 20) -> dict:
    """count, min, p10, p50, p90, max, mean and an equal-width histogram of one sampled value. Pure."""
    vals = sorted(float(v) for v in values)
    lo, hi = vals[0], vals[-1]
    width = (hi - lo) / bins if hi > lo else 1.0
    counts = [0] * bins
    for v in vals:
        counts[min(bins - 1, int((v - lo) / width)) if hi > lo else 0] += 1
    return {
        "count": len(vals),
        "min": lo,
        "p10": _quantile(vals, 0.1),
        "p50": _quantile(vals, 0.5),
        "p90": _quantile(vals, 0.9),
        "max": hi,
        "mean": sum(vals) / len(vals),
        "hist": {"edges": [lo + i * width for i in range(bins + 1)], "counts": counts},
    }


def assemble_profile(rows: Sequence[tuple[LabelKey, int]], samples: Mapping[str, Sequence[tuple]],
                     parts: Optional[Sequence[CuratedPart]] = None) -> dict:
    """The ``curated`` audit section from the combined rows and each sample part's sample (part key ->
    (order, source, values) tuples). Pure."""
    table: dict = defaultdict(lambda: defaultdict(dict))
    for key, n in rows:
        kind, src, label = key
        table[kind][src][label] = table[kind][src].get(label, 0) + n

    def by_source(kind: str) -> dict:
        return {s: dict(sorted(v.items())) for s, v in sorted(table.get(kind, {}).items())}

    def totals(kind: str) -> dict:
        out: dict = defaultdict(int)
        for labels in table.get(kind, {}).values():
            for label, n in labels.items():
                out[label] += n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    docs = {s: v.get("", 0) for s, v in by_source("docs").items()}
    out: dict = {"docs": docs}
    if table.get("lang"):
        out["languages"] = {"total": totals("lang"), "by_source": by_source("lang")}
    if table.get("lang_score"):
        hist = [0] * LANG_SCORE_BINS
        for labels in table["lang_score"].values():
            for b, n in labels.items():
                hist[int(b)] += n
        out["lang_score"] = {"edges": [i / LANG_SCORE_BINS for i in range(LANG_SCORE_BINS + 1)], "counts": hist}
    if table.get("dup_cluster"):
        out["in_duplicate_cluster"] = {s: v.get("", 0) for s, v in by_source("dup_cluster").items()}
    plain = {kind: {s: dict(v) for s, v in by_src.items()} for kind, by_src in table.items()}
    for part in curated_parts() if parts is None else parts:
        if part.assemble is not None:
            got = part.assemble(plain)
            if got is not None:
                out[part.key] = got
        sample = samples.get(part.key)
        if part.values is not None and sample:
            values: dict[str, list[float]] = defaultdict(list)
            for _k, _src, items in sample:
                for name, value in items:
                    if math.isfinite(value):  # NaN or inf says nothing about a distribution
                        values[name].append(value)
            out[part.key] = {
                "docs": len(sample),
                "signals": {name: signal_summary(v) for name, v in sorted(values.items()) if v},
            }
    return out


def _sample_key(doc: Document, seed: int, part: CuratedPart) -> tuple[int, str, tuple]:
    return _order(seed, doc.id), doc.source, tuple(sorted((k, float(v)) for k, v in part.values(doc).items()))


class CuratedProfile(beam.PTransform):
    """Document (curated) -> one ("curated", JSON) pair for the audit.

    Counters: none (the numbers are the output).
    Determinism: counts are exact; each sample part's sample is the smallest blake2b(seed, id).
    Cost: one combine over a few rows per document; per sample part, a Top-K of ``SAMPLE_DOCS`` small tuples.
    """

    def __init__(self, seed: int, sample_docs: Optional[int] = None):
        super().__init__()
        self._seed = seed
        self._n = sample_docs if sample_docs is not None else SAMPLE_DOCS

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        seed = self._seed
        parts = curated_parts()
        rows = (
            docs
            | "Rows" >> beam.FlatMap(profile_rows, parts=parts)
            | "Sum" >> beam.CombinePerKey(sum)
            | "RowList" >> beam.combiners.ToList()
        )
        samples = {
            part.key: beam.pvalue.AsSingleton(
                docs
                | f"With[{part.key}]" >> beam.Filter(lambda d, p=part: bool(p.values(d)))
                | f"Key[{part.key}]" >> beam.Map(_sample_key, seed=seed, part=part)
                | f"Sample[{part.key}]" >> beam.combiners.Top.Smallest(self._n))
            for part in parts if part.values is not None
        }
        keys = list(samples)

        def assemble(r, *sampled):
            return CURATED_SECTION, json.dumps(assemble_profile(r, dict(zip(keys, sampled)), parts), sort_keys=True)

        return rows | "Assemble" >> beam.Map(assemble, *samples.values())


# ---- samples of dropped documents and dead letters ------------------------------------------------------


def reason_group(reason: str) -> str:
    """``rule[:detail]`` of a reason; further parts (e.g. the kept id in ``dedup:near:<id>``) are folded, so
    a reason that names a document does not make one group per document."""
    return ":".join(reason.split(":")[:2])


def _dropped_key(rec: RejectedDocument, seed: int) -> tuple[LabelKey, tuple[int, str, str, str]]:
    return (
        (rec.stage, reason_group(rec.reason), rec.source),
        (_order(seed, rec.id), rec.id, rec.reason, rec.snippet[:SNIPPET_CHARS]),
    )


def _dead_letter_key(rec: DeadLetter, seed: int) -> tuple[LabelKey, tuple]:
    where = rec.path or ""
    ident = rec.doc_id or f"{where}:{rec.offset if rec.offset is not None else ''}"
    return (
        (rec.stage, rec.error_type, rec.source),
        (_order(seed, ident), rec.doc_id or "", where, -1 if rec.offset is None else int(rec.offset),
         rec.error[:SNIPPET_CHARS], rec.payload_prefix[:SNIPPET_CHARS]),
    )


def assemble_dropped(groups: Iterable[tuple[LabelKey, list]], per_key: int) -> dict:
    """{"per_key": N, "groups": [{stage, reason, source, samples: [{id, reason, snippet}]}]} sorted. Pure."""
    out = []
    for key, samples in sorted(groups):
        stage, reason, source = key
        out.append({
            "stage": stage, "reason": reason, "source": source,
            "samples": [{"id": doc_id, "reason": full, "snippet": snip} for _k, doc_id, full, snip in sorted(samples)],
        })
    return {"per_key": per_key, "groups": out}


def assemble_dead_letters(groups: Iterable[tuple[LabelKey, list]], per_key: int) -> dict:
    out = []
    for key, samples in sorted(groups):
        stage, error_type, source = key
        out.append({
            "stage": stage, "error_type": error_type, "source": source,
            "samples": [
                {"doc_id": d or None, "path": p or None, "offset": None if o < 0 else o, "error": e, "payload": pl}
                for _k, d, p, o, e, pl in sorted(samples)
            ],
        })
    return {"per_key": per_key, "groups": out}


class DroppedSamples(beam.PTransform):
    """RejectedDocument + DeadLetter -> ("dropped_samples", JSON) and ("dead_letter_samples", JSON).

    Up to ``per_key`` examples per (stage, reason, source), snippets cut to 200 characters. Feed it the
    records after PII redaction.
    Counters: none.
    Determinism: the examples are the smallest blake2b(seed, id), whatever the input order.
    Cost: a per-key Top-K combine; the output is bounded by stages x reasons x sources x per_key.
    """

    def __init__(self, errors: beam.PCollection, seed: int, per_key: int = SAMPLES_PER_REASON):
        super().__init__()
        self._errors = errors
        self._seed = seed
        self._n = per_key

    def expand(self, rejected: beam.PCollection) -> beam.PCollection:
        seed, n = self._seed, self._n
        dropped = (
            rejected
            | "KeyDropped" >> beam.Map(_dropped_key, seed=seed)
            | "TopDropped" >> beam.combiners.Top.SmallestPerKey(n)
            | "DroppedList" >> beam.combiners.ToList()
            | "DroppedJson" >> beam.Map(
                lambda g: (DROPPED_SAMPLES_SECTION, json.dumps(assemble_dropped(g, n), ensure_ascii=False))
            )
        )
        dead = (
            self._errors
            | "KeyDead" >> beam.Map(_dead_letter_key, seed=seed)
            | "TopDead" >> beam.combiners.Top.SmallestPerKey(n)
            | "DeadList" >> beam.combiners.ToList()
            | "DeadJson" >> beam.Map(
                lambda g: (DEAD_LETTER_SAMPLES_SECTION, json.dumps(assemble_dead_letters(g, n), ensure_ascii=False))
            )
        )
        return (dropped, dead) | "Sections" >> beam.Flatten()
