"""What a run did, in one model: read from OUT/audit/audit.json, OUT/manifest.json and the side outputs.

``load_summary(out_dir, source=None)`` builds the ``Summary``; ``render_text`` prints it for a terminal (the
sample run fits in 60 lines) and ``Summary.model_dump()`` is what ``pilewright audit OUT --json`` prints, so
the two always agree. Sections other stages add to the audit are picked up generically: a known shape gets a
dedicated view (dedup clusters, PII entities, languages, quality signals, mix), anything else is kept in
``other_stats`` and shown as a table in the report.
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional

from apache_beam.io.filesystems import FileSystems
from pydantic import BaseModel, ValidationError

from pilewright.schemas.errors import UserError
from pilewright.schemas import layout
from pilewright.schemas.audit import (
    DEDUP_CLUSTER_SIZES,
    DEDUP_DUPLICATES,
    DEDUP_LARGEST_CLUSTERS,
    LANGID_LANGUAGES,
    PII_ENTITIES,
    Audit,
    DuplicatesSection,
    HistogramSection,
    LanguageCounts,
    LargestCluster,
    PiiEntitiesSection,
    RunFacts,
)
from pilewright.schemas.manifest import Manifest
from pilewright.pipeline.audit.profile import (
    CURATED_SECTION,
    DEAD_LETTER_SAMPLES_SECTION,
    DROPPED_SAMPLES_SECTION,
    bin_range,
    reason_group,
)

AUDIT_PATH = layout.AUDIT
MANIFEST_PATH = layout.MANIFEST
REPORT_PATH = "audit/report.html"
MAX_REASONS_PER_LINE = 4


class SummaryError(UserError):
    """The output folder cannot be summarized (missing audit, unknown source); the message says why."""


# ---- the model ----------------------------------------------------------------------------------------


class StageFunnel(BaseModel):
    name: str
    docs_in: int
    kept: int
    rejected: int
    errors: int
    kept_pct: float
    chars_in: Optional[int] = None
    chars_kept: Optional[int] = None
    chars_rejected: int = 0
    tokens_kept: Optional[int] = None
    reasons: dict[str, int] = {}  # rule[:detail] -> docs (details past the second ':' folded)
    error_types: dict[str, int] = {}
    conserved: bool
    seconds: Optional[float] = None  # worker-seconds, when the runner reports them


class SourceRow(BaseModel):
    name: str
    domain: str
    read: int
    curated: int  # documents that reached the tokenizer
    tokens: int  # tokens in the shards
    kept_pct: float
    kept_by_stage: dict[str, int]
    removed_by_stage: dict[str, int]  # rejected + errors
    # the curation profile the source named (manifest `source_profiles`); None: `stages:` as written
    profile: Optional[str] = None
    profile_digest: Optional[str] = None


class Histogram(BaseModel):
    unit: str
    edges: list[float]  # len(counts) + 1
    counts: list[int]
    log_scale: bool = False
    # one bar per value (e.g. cluster size -> clusters): edges[i] is the value of counts[i]
    categorical: bool = False


class Distribution(BaseModel):
    """A size distribution: docs, approximate quantiles from the histogram bins, and the histogram."""

    label: str
    unit: str
    docs: int
    p10: Optional[float] = None
    p50: Optional[float] = None
    p90: Optional[float] = None
    hist: Histogram


class SignalSummary(BaseModel):
    name: str
    count: int
    min: float
    p10: float
    p50: float
    p90: float
    max: float
    mean: float
    hist: Histogram


class MixRow(BaseModel):
    domain: str
    target_share: Optional[float] = None
    achieved_share: float
    target_tokens: Optional[int] = None
    achieved_tokens: int


class ShardSummary(BaseModel):
    count: int
    docs: int
    tokens: int
    bytes: int
    min_tokens: int
    max_tokens: int
    tokens_per_shard: list[int]
    vocab_size: Optional[int] = None
    token_dtype: Optional[str] = None
    tokenizer_sha256: Optional[str] = None


class SampleDoc(BaseModel):
    id: str
    reason: str
    snippet: str


class SampleGroup(BaseModel):
    stage: str
    reason: str
    source: str
    samples: list[SampleDoc]


class DeadLetterSample(BaseModel):
    stage: str
    error_type: str
    source: str
    doc_id: Optional[str] = None
    path: Optional[str] = None
    offset: Optional[int] = None
    error: str


class DedupView(BaseModel):
    removed: int
    removed_by_reason: dict[str, int]
    clusters: Optional[int] = None  # clusters of 2+ documents
    docs_in_clusters: Optional[int] = None
    cluster_sizes: Optional[Histogram] = None  # documents per cluster -> clusters
    largest: list[dict[str, Any]] = []
    sections: dict[str, Any] = {}  # the stage's other audit sections, shown as tables


class PiiView(BaseModel):
    entities: dict[str, int]
    docs_with_pii: Optional[int] = None
    by_source: dict[str, dict[str, int]] = {}
    notes: dict[str, Any] = {}


class SideOutputs(BaseModel):
    rejected_rows: Optional[int] = None
    rejected_files: int = 0
    dead_letter_rows: Optional[int] = None
    dead_letter_files: int = 0
    document_rows: Optional[int] = None


class RunInfo(BaseModel):
    seconds: Optional[float] = None
    seed: Optional[int] = None
    config_sha256: Optional[str] = None
    beam_args: list[str] = []
    stage_seconds: dict[str, float] = {}


class Summary(BaseModel):
    out_dir: str
    source: Optional[str] = None  # set when narrowed with --source
    sources: list[str]
    run: RunInfo
    funnel: list[StageFunnel]
    by_source: list[SourceRow]
    languages: Optional[dict[str, int]] = None  # of the curated documents
    languages_at_langid: Optional[dict[str, int]] = None  # of every document the langid stage saw
    lang_score: Optional[Histogram] = None
    pii: Optional[PiiView] = None
    dedup: Optional[DedupView] = None
    quality_sample_docs: int = 0
    quality_signals: list[SignalSummary] = []
    lengths: list[Distribution] = []
    mix: list[MixRow] = []
    mix_target_tokens: Optional[int] = None
    mix_achieved_tokens: Optional[int] = None
    mix_shortfall: list[str] = []
    shards: Optional[ShardSummary] = None
    dropped_samples: list[SampleGroup] = []
    dead_letter_samples: list[DeadLetterSample] = []
    other_stats: dict[str, dict[str, Any]] = {}
    side_outputs: SideOutputs = SideOutputs()
    telemetry: dict[str, Any] = {}
    report_path: Optional[str] = None


# ---- reading ------------------------------------------------------------------------------------------


def out_path(out_dir: str, rel: str) -> str:
    return FileSystems.join(out_dir, *rel.split("/"))


def read_json(path: str) -> dict:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return json.loads(f.read().decode("utf-8"))


def schema_problem(model: type[BaseModel], doc: Any) -> Optional[str]:
    """None if ``doc`` matches ``model``; else its first mismatch as "field.path: message"."""
    try:
        model.model_validate(doc)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return f"{where}: {first['msg']} ({e.error_count()} problem(s))"
    return None


def read_validated(path: str, model: type[BaseModel]) -> dict:
    """A run file, checked against the model its producer dumped; a mismatch is one SummaryError line (the
    file was written by another version, or edited)."""
    try:
        doc = read_json(path)
    except ValueError as e:
        raise SummaryError(f"{path}: not valid JSON ({e})") from None
    problem = schema_problem(model, doc)
    if problem is not None:
        raise SummaryError(f"{path}: not a pilewright {model.__name__.lower()} file: {problem}")
    return doc


def with_run_facts(audit: dict, out_dir: str) -> dict:
    """The audit with the launcher's after-run facts (``audit/run.json``) as ``run`` and ``telemetry``."""
    run_path = out_path(out_dir, layout.RUN)
    if not FileSystems.exists(run_path):
        return audit
    run = read_validated(run_path, RunFacts)
    return {**audit, "telemetry": run.pop("telemetry", {}), "run": run}


def load_run_files(out_dir: str) -> tuple[dict, dict]:
    """(audit, manifest) of a run; a missing audit is a SummaryError, a missing manifest an empty dict."""
    audit_path = out_path(out_dir, AUDIT_PATH)
    if not FileSystems.exists(audit_path):
        raise SummaryError(f"{audit_path} not found: is {out_dir} the output folder of a `pilewright run`?")
    audit = with_run_facts(read_validated(audit_path, Audit), out_dir)
    manifest_path = out_path(out_dir, MANIFEST_PATH)
    manifest = read_validated(manifest_path, Manifest) if FileSystems.exists(manifest_path) else {}
    return audit, manifest


def _files(out_dir: str, folder: str, suffix: str) -> list[str]:
    pattern = out_path(out_dir, f"{folder}/*{suffix}")
    try:
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    except Exception:  # no such folder
        return []


def side_output_counts(out_dir: str) -> SideOutputs:
    """Row counts of OUT/rejected, OUT/dead_letter and OUT/documents, from Parquet footers and line counts."""
    import pyarrow.parquet as pq

    def parquet_rows(paths: list[str]) -> Optional[int]:
        if not paths:
            return None
        total = 0
        for path in paths:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                total += pq.ParquetFile(f).metadata.num_rows
        return total

    rejected = _files(out_dir, "rejected", ".parquet")
    dead = _files(out_dir, "dead_letter", ".jsonl")
    docs = _files(out_dir, "documents", ".parquet")
    dead_rows = None
    if dead:
        dead_rows = 0
        for path in dead:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                dead_rows += sum(1 for line in f if line.strip())
    return SideOutputs(
        rejected_rows=parquet_rows(rejected),
        rejected_files=len(rejected),
        dead_letter_rows=dead_rows,
        dead_letter_files=len(dead),
        document_rows=parquet_rows(docs),
    )


# ---- building -----------------------------------------------------------------------------------------


def _fold(reasons: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason, n in reasons.items():
        key = reason_group(reason)
        out[key] = out.get(key, 0) + n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _stage_view(stage: dict, source: Optional[str]) -> dict:
    """A stage's numbers, for all sources or narrowed to one."""
    if source is None:
        return stage
    row = dict(stage.get("by_source", {}).get(source, {}))
    for k in ("in", "kept", "rejected", "errors", "kept_chars", "kept_tokens", "rejected_chars"):
        row.setdefault(k, 0)
    row.setdefault("reasons", {})
    row.setdefault("error_types", {})
    row.setdefault("conserved", True)
    row["name"] = stage["name"]
    return row


def _chars_rejected(stage: dict, source: Optional[str]) -> int:
    rows = stage.get("by_source", {})
    if source is not None:
        return int(rows.get(source, {}).get("rejected_chars", 0))
    return sum(int(r.get("rejected_chars", 0)) for r in rows.values())


def build_funnel(audit: dict, source: Optional[str] = None) -> list[StageFunnel]:
    stages = audit.get("stages", [])
    seconds = audit.get("run", {}).get("stage_seconds", {}) if source is None else {}
    out: list[StageFunnel] = []
    prev_chars: Optional[int] = None
    for st in stages:
        v = _stage_view(st, source)
        chars_kept = int(v.get("kept_chars", 0))
        tokens_kept = int(v.get("kept_tokens", 0))
        has_chars = chars_kept > 0 or (v["kept"] == 0 and v["rejected"] > 0)
        rejected_chars = _chars_rejected(st, source)
        chars_in = None if st is stages[0] else prev_chars
        if st is stages[0]:
            chars_in = chars_kept + rejected_chars if has_chars else None
        out.append(
            StageFunnel(
                name=st["name"],
                docs_in=int(v["in"]),
                kept=int(v["kept"]),
                rejected=int(v["rejected"]),
                errors=int(v["errors"]),
                kept_pct=_pct(int(v["kept"]), int(v["in"])),
                chars_in=chars_in,
                chars_kept=chars_kept if has_chars else None,
                chars_rejected=rejected_chars,
                tokens_kept=tokens_kept if tokens_kept else None,
                reasons=_fold(v.get("reasons", {})),
                error_types=dict(sorted(v.get("error_types", {}).items(), key=lambda kv: (-kv[1], kv[0]))),
                conserved=int(v["in"]) == int(v["kept"]) + int(v["rejected"]) + int(v["errors"]),
                seconds=seconds.get(st["name"]),
            )
        )
        if has_chars:
            prev_chars = chars_kept
    return out


def _tokenize_input_stage(audit: dict) -> Optional[dict]:
    names = [s["name"] for s in audit.get("stages", [])]
    if "tokenize" in names:
        return audit["stages"][names.index("tokenize")]
    return None


def build_sources(audit: dict, manifest: dict, only: Optional[str]) -> list[SourceRow]:
    stages = audit.get("stages", [])
    if not stages:
        return []
    tok = _tokenize_input_stage(audit) or stages[-1]
    tokens_by = manifest.get("tokens_by_source", {})
    profiles = (manifest.get("source_profiles") or {}).get("sources", {})
    rows = []
    for name, first in sorted(stages[0].get("by_source", {}).items()):
        if only is not None and name != only:
            continue
        curated = int(tok.get("by_source", {}).get(name, {}).get("in", 0))
        removed, kept = {}, {}
        for st in stages:
            e = st.get("by_source", {}).get(name, {})
            kept[st["name"]] = int(e.get("kept", 0))
            n = int(e.get("rejected", 0)) + int(e.get("errors", 0))
            if n:
                removed[st["name"]] = n
        rows.append(
            SourceRow(
                name=name,
                domain=first.get("domain", ""),
                read=int(first.get("in", 0)),
                curated=curated,
                tokens=int(tokens_by.get(name, {}).get("tokens", 0)),
                kept_pct=_pct(curated, int(first.get("in", 0))),
                kept_by_stage=kept,
                removed_by_stage=removed,
                profile=profiles.get(name, {}).get("profile"),
                profile_digest=profiles.get(name, {}).get("digest"),
            )
        )
    return rows


def _size_distribution(label: str, unit: str, by_source: dict, only: Optional[str]) -> Optional[Distribution]:
    bins: dict[int, int] = {}
    for src, hist in by_source.items():
        if only is not None and src != only:
            continue
        for b, n in hist.items():
            bins[int(b)] = bins.get(int(b), 0) + int(n)
    docs = sum(bins.values())
    if not docs:
        return None
    lo_bin, hi_bin = min(bins), max(bins)
    edges = [bin_range(b)[0] for b in range(lo_bin, hi_bin + 1)] + [bin_range(hi_bin)[1]]
    counts = [bins.get(b, 0) for b in range(lo_bin, hi_bin + 1)]

    def quantile(q: float) -> float:
        # geometric middle of the bin holding the q-th document: within a quarter octave (about 19%)
        target, seen = q * docs, 0
        for b in range(lo_bin, hi_bin + 1):
            seen += bins.get(b, 0)
            if seen >= target and bins.get(b, 0):
                lo, hi = bin_range(b)
                return round(math.sqrt(max(lo, 1.0) * hi), 1) if b else 0.0
        return round(bin_range(hi_bin)[1], 1)

    return Distribution(
        label=label, unit=unit, docs=docs, p10=quantile(0.1), p50=quantile(0.5), p90=quantile(0.9),
        hist=Histogram(unit=unit, edges=edges, counts=counts, log_scale=True),
    )


def build_lengths(audit: dict, only: Optional[str]) -> list[Distribution]:
    """Read documents (first stage), curated documents (tokenizer input), tokens per document, and what
    each stage rejected."""
    stages = audit.get("stages", [])
    out: list[Distribution] = []
    if not stages:
        return out
    first = stages[0].get("size_hist", {})
    d = _size_distribution("read: chars per document", "chars", first.get("kept:chars", {}), only)
    if d:
        out.append(d)
    tok = _tokenize_input_stage(audit)
    names = [s["name"] for s in stages]
    if tok is not None and names.index("tokenize") > 0:
        before = stages[names.index("tokenize") - 1].get("size_hist", {})
        d = _size_distribution("curated: chars per document", "chars", before.get("kept:chars", {}), only)
        if d:
            out.append(d)
        d = _size_distribution("curated: tokens per document", "tokens", tok.get("size_hist", {}).get("kept:tokens", {}), only)
        if d:
            out.append(d)
    for st in stages:
        d = _size_distribution(f"rejected by {st['name']}: chars", "chars", st.get("size_hist", {}).get("rejected:chars", {}), only)
        if d:
            out.append(d)
    return out


def as_histogram(payload: Any, unit: str = "") -> Optional[Histogram]:
    """The histogram in a stats section written in the one shape every stage uses
    (``schemas.audit.HistogramSection``); None for any other section."""
    if schema_problem(HistogramSection, payload) is not None:
        return None
    h = HistogramSection.model_validate(payload)
    if len(h.edges) != len(h.counts) + 1 or not h.counts:
        return None
    return Histogram(unit=unit, edges=h.edges, counts=h.counts)


def _section(model: type[BaseModel], stage: str, name: str, payload: Any) -> Any:
    """A stats section a view reads by name, checked against the model its stage writes."""
    problem = schema_problem(model, payload)
    if problem is not None:
        raise SummaryError(f"audit.json: stage {stage!r} stats section {name!r} is not the shape pilewright "
                           f"writes: {problem}")
    return model.model_validate(payload)


def _stage(audit: dict, name: str) -> Optional[dict]:
    return next((s for s in audit.get("stages", []) if s["name"] == name), None)


def build_dedup(audit: dict, only: Optional[str]) -> Optional[DedupView]:
    st = _stage(audit, "dedup")
    if st is None:
        return None
    v = _stage_view(st, only)
    view = DedupView(removed=int(v["rejected"]), removed_by_reason=_fold(v.get("reasons", {})))
    for section, payload in sorted(st.get("stats", {}).items()):
        if section == DEDUP_CLUSTER_SIZES:
            view.cluster_sizes = as_histogram(payload, "documents per cluster")
        elif section == DEDUP_LARGEST_CLUSTERS:
            view.largest = [_section(LargestCluster, "dedup", section, p).model_dump() for p in payload[:10]]
        elif section == DEDUP_DUPLICATES:
            dup = _section(DuplicatesSection, "dedup", section, payload)
            view.clusters, view.docs_in_clusters = dup.n_clusters, dup.docs_in_clusters
        else:
            view.sections[section] = payload
    return view


def _pii_from_stats(st: dict, only: Optional[str]) -> Optional[PiiView]:
    """The pii stage's own ``entities_by_source`` section (``schemas.audit.PiiEntitiesSection``)."""
    stats = st.get("stats", {})
    if PII_ENTITIES not in stats:
        return None
    section = _section(PiiEntitiesSection, "pii", PII_ENTITIES, stats[PII_ENTITIES])
    chosen = {src: e for src, e in section.by_source.items() if only is None or src == only}
    clean = {src: dict(e.entities) for src, e in chosen.items()}
    totals: dict[str, int] = {}
    for ents in clean.values():
        for e, n in ents.items():
            totals[e] = totals.get(e, 0) + n
    notes = {k: v for k, v in stats.items() if k != PII_ENTITIES}
    return PiiView(entities=dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))), by_source=clean,
                   notes=notes, docs_with_pii=sum(e.documents_with_pii for e in chosen.values()))


def build_pii(audit: dict, only: Optional[str]) -> Optional[PiiView]:
    """The pii stage's own entity counts when it reports them; else the curated documents' pii_counts."""
    st = _stage(audit, "pii")
    view = _pii_from_stats(st, only) if st is not None else None
    profile = audit.get(CURATED_SECTION, {}).get("pii")
    if profile:
        with_pii = profile.get("docs_with_pii", {})
        n_docs = sum(n for s, n in with_pii.items() if only is None or s == only)
        if view is None:
            by_src = {s: e for s, e in profile.get("by_source", {}).items() if only is None or s == only}
            totals: dict[str, int] = {}
            for ents in by_src.values():
                for e, n in ents.items():
                    totals[e] = totals.get(e, 0) + int(n)
            view = PiiView(entities=dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))), by_source=by_src)
        if view.docs_with_pii is None:
            # the stage's own count (when reported) also covers documents it dropped; this one is the curated
            view.docs_with_pii = n_docs
    if view is None and st is not None:
        view = PiiView(entities={})
    return view


def build_languages(audit: dict, only: Optional[str]) -> Optional[dict[str, int]]:
    langs = audit.get(CURATED_SECTION, {}).get("languages")
    if not langs:
        return None
    if only is None:
        return dict(langs["total"])
    counts = langs.get("by_source", {}).get(only, {})
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def build_languages_at_langid(audit: dict) -> Optional[dict[str, int]]:
    """The langid stage's own language counts (over every document it saw, dropped ones included)."""
    st = _stage(audit, "langid")
    if st is None:
        return None
    payload = st.get("stats", {}).get(LANGID_LANGUAGES)
    if not payload:
        return None
    counts = _section(LanguageCounts, "langid", LANGID_LANGUAGES, payload).root
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def build_quality(audit: dict) -> tuple[int, list[SignalSummary]]:
    qs = audit.get(CURATED_SECTION, {}).get("quality_sample")
    if not qs:
        return 0, []
    signals = []
    for name, s in qs.get("signals", {}).items():
        signals.append(
            SignalSummary(
                name=name, count=s["count"], min=s["min"], p10=s["p10"], p50=s["p50"], p90=s["p90"],
                max=s["max"], mean=s["mean"],
                hist=Histogram(unit=name, edges=s["hist"]["edges"], counts=s["hist"]["counts"]),
            )
        )
    return int(qs.get("docs", 0)), signals


def build_mix(manifest: dict, only: Optional[str]) -> tuple[list[MixRow], Optional[int], Optional[int], list[str]]:
    """Target vs achieved per domain: the mix stage's report when there is one, else the achieved split."""
    mix = manifest.get("mix") if isinstance(manifest.get("mix"), dict) else None
    by_domain = manifest.get("tokens_by_domain", {})
    total = sum(int(v.get("tokens", 0)) for v in by_domain.values())
    rows: list[MixRow] = []
    only_domain = None
    if only is not None:
        src_cfg = [s for s in manifest.get("config", {}).get("sources", []) if s.get("name") == only]
        only_domain = src_cfg[0].get("domain") if src_cfg else None
    if mix and isinstance(mix.get("domains"), dict):
        for d, v in sorted(mix["domains"].items()):
            if only_domain is not None and d != only_domain:
                continue
            rows.append(
                MixRow(
                    domain=d,
                    target_share=v.get("share"),
                    achieved_share=float(v.get("achieved_share", 0.0)),
                    target_tokens=v.get("target_tokens"),
                    achieved_tokens=int(v.get("achieved_tokens", 0)),
                )
            )
        shortfall = [s.get("message", "") for s in mix.get("shortfall", []) if isinstance(s, dict)]
        return rows, mix.get("target_tokens"), mix.get("achieved_tokens"), shortfall
    for d, v in sorted(by_domain.items()):
        if only_domain is not None and d != only_domain:
            continue
        t = int(v.get("tokens", 0))
        rows.append(MixRow(domain=d, achieved_share=round(t / total, 6) if total else 0.0, achieved_tokens=t))
    return rows, None, None, []


def build_shards(manifest: dict) -> Optional[ShardSummary]:
    shards = manifest.get("shards")
    if shards is None:
        return None
    tokens = [int(s["tokens"]) for s in shards]
    tok = manifest.get("tokenizer", {})
    return ShardSummary(
        count=len(shards),
        docs=sum(int(s["docs"]) for s in shards),
        tokens=sum(tokens),
        bytes=sum(int(s.get("bytes", 0)) for s in shards),
        min_tokens=min(tokens) if tokens else 0,
        max_tokens=max(tokens) if tokens else 0,
        tokens_per_shard=tokens,
        vocab_size=tok.get("vocab_size"),
        token_dtype=tok.get("token_dtype"),
        tokenizer_sha256=tok.get("sha256"),
    )


def build_samples(audit: dict, only: Optional[str]) -> tuple[list[SampleGroup], list[DeadLetterSample]]:
    groups: dict[tuple[str, str, str], list[SampleDoc]] = {}
    for g in audit.get(DROPPED_SAMPLES_SECTION, {}).get("groups", []):
        if only is not None and g["source"] != only:
            continue
        key = (g["stage"], reason_group(g["reason"]), g["source"])
        groups.setdefault(key, []).extend(
            SampleDoc(id=s["id"], reason=s.get("reason", g["reason"]), snippet=s["snippet"]) for s in g["samples"]
        )
    per_key = int(audit.get(DROPPED_SAMPLES_SECTION, {}).get("per_key", 5))
    dropped = [
        SampleGroup(stage=st, reason=r, source=src, samples=samples[:per_key])
        for (st, r, src), samples in sorted(groups.items())
    ]
    dead = []
    for g in audit.get(DEAD_LETTER_SAMPLES_SECTION, {}).get("groups", []):
        if only is not None and g["source"] != only:
            continue
        for s in g["samples"]:
            dead.append(
                DeadLetterSample(
                    stage=g["stage"], error_type=g["error_type"], source=g["source"], doc_id=s.get("doc_id"),
                    path=s.get("path"), offset=s.get("offset"), error=s.get("error", ""),
                )
            )
    return dropped, dead


# sections the summary shows in a dedicated view; everything else in a stage's stats is "other"
# dedup and pii show every section they report inside their own view
_DEDICATED = {"dedup": ("",), "pii": ("",), "mix": ("mix",), "langid": ("lang",)}


def build_other_stats(audit: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for st in audit.get("stages", []):
        for section, payload in sorted(st.get("stats", {}).items()):
            words = _DEDICATED.get(st["name"], ())
            if any(w in section.lower() for w in words):
                continue
            out.setdefault(st["name"], {})[section] = payload
    return out


def build_summary(out_dir: str, audit: dict, manifest: dict, side: SideOutputs, source: Optional[str] = None) -> Summary:
    """Pure: the Summary from the loaded files (``source`` narrows every per-source number to one source)."""
    stages = audit.get("stages", [])
    sources = sorted(stages[0].get("by_source", {})) if stages else []
    if source is not None and source not in sources:
        raise SummaryError(f"unknown source {source!r}; this run has: {', '.join(sources) or 'none'}")
    run = audit.get("run", {})
    dropped, dead = build_samples(audit, source)
    mix_rows, mix_target, mix_achieved, shortfall = build_mix(manifest, source)
    lang_score = audit.get(CURATED_SECTION, {}).get("lang_score")
    q_docs, q_signals = build_quality(audit) if source is None else (0, [])
    return Summary(
        out_dir=out_dir,
        source=source,
        sources=sources,
        run=RunInfo(
            seconds=run.get("seconds"),
            seed=manifest.get("seed"),
            config_sha256=manifest.get("config_sha256"),
            beam_args=run.get("beam_args", []),
            stage_seconds=run.get("stage_seconds", {}),
        ),
        funnel=build_funnel(audit, source),
        by_source=build_sources(audit, manifest, source),
        languages=build_languages(audit, source),
        languages_at_langid=build_languages_at_langid(audit) if source is None else None,
        lang_score=Histogram(unit="language score", **lang_score) if lang_score and source is None else None,
        pii=build_pii(audit, source),
        dedup=build_dedup(audit, source),
        quality_sample_docs=q_docs,
        quality_signals=q_signals,
        lengths=build_lengths(audit, source),
        mix=mix_rows,
        mix_target_tokens=mix_target,
        mix_achieved_tokens=mix_achieved,
        mix_shortfall=shortfall,
        shards=build_shards(manifest) if source is None else None,
        dropped_samples=dropped,
        dead_letter_samples=dead,
        other_stats=build_other_stats(audit) if source is None else {},
        side_outputs=side,
        telemetry=audit.get("telemetry", {}) if source is None else {},
        report_path=out_path(out_dir, REPORT_PATH),
    )


def load_summary(out_dir: str, source: Optional[str] = None) -> Summary:
    audit, manifest = load_run_files(out_dir)
    return build_summary(out_dir, audit, manifest, side_output_counts(out_dir), source)


# ---- terminal rendering -------------------------------------------------------------------------------


def _n(x: Optional[float]) -> str:
    return "-" if x is None else f"{int(x):,}"


def _short(x: Optional[float]) -> str:
    if x is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.1f}{suffix}"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def _bytes(n: int) -> str:
    for div, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= div:
            return f"{n / div:.1f} {suffix}"
    return f"{n} B"


def _items(d: dict[str, int], limit: int = MAX_REASONS_PER_LINE, total: Optional[int] = None) -> str:
    parts = []
    for k, v in list(d.items())[:limit]:
        pct = f" ({100.0 * v / total:.1f}%)" if total else ""
        parts.append(f"{k} {v:,}{pct}")
    more = len(d) - limit
    return " \u00b7 ".join(parts) + (f" \u00b7 (+{more} more)" if more > 0 else "")


def _input_fixes(ingest_stats: dict) -> list[str]:
    """What ingest repaired rather than lost: duplicate ids made unique, invalid text replaced."""
    out = []
    dups = ingest_stats.get("duplicate_ids") or {}
    if isinstance(dups, dict) and dups.get("ids"):
        samples = sorted(i for v in dups.get("by_source", {}).values() for i in v.get("sample_ids", []))[:3]
        out.append(f"{dups['ids']:,} duplicate ids over {dups['records']:,} records made unique "
                   f"(e.g. {', '.join(samples)})")
    fixed = ingest_stats.get("repaired_text") or {}
    if isinstance(fixed, dict) and fixed.get("records"):
        out.append(f"{fixed['records']:,} records repaired ({fixed['characters']:,} characters -> U+FFFD)")
    return out


def render_text(s: Summary) -> list[str]:
    """The terminal summary, one string per line."""
    lines: list[str] = []
    head = f"pilewright audit  {s.out_dir}" + (f"  (source: {s.source})" if s.source else "")
    lines.append(head)
    bits = []
    if s.run.seconds is not None:
        bits.append(f"run {s.run.seconds:.1f} s")
    if s.run.seed is not None:
        bits.append(f"seed {s.run.seed}")
    if s.run.config_sha256:
        bits.append(f"config {s.run.config_sha256[:12]}")
    bits.append(f"{len(s.sources) if s.source is None else 1} source(s)")
    lines.append("  " + " \u00b7 ".join(bits))
    lines.append("")

    lines.append(f"{'FUNNEL':<12}{'docs in':>10}{'kept':>10}{'rejected':>10}{'errors':>8}{'kept%':>8}"
                 f"{'chars kept':>14}{'tokens':>12}")
    for f in s.funnel:
        flag = "" if f.conserved else "  !! in != kept+rejected+errors"
        lines.append(f"{f.name:<12}{f.docs_in:>10,}{f.kept:>10,}{f.rejected:>10,}{f.errors:>8,}"
                     f"{f.kept_pct:>7.1f}%{_n(f.chars_kept):>14}{_n(f.tokens_kept):>12}{flag}")
    rejecting = [f for f in s.funnel if f.reasons]
    if rejecting:
        lines.append("REJECTED BY REASON (docs)")
        width = max(10, max(len(f.name) for f in rejecting) + 1)  # "decontaminate" is longer than 10
        for f in rejecting:
            lines.append(f"  {f.name:<{width}}{_items(f.reasons)}")
    failing = [f for f in s.funnel if f.error_types]
    if failing:
        lines.append("DEAD LETTERS (docs)")
        width = max(10, max(len(f.name) for f in failing) + 1)
        for f in failing:
            lines.append(f"  {f.name:<{width}}{_items(f.error_types)}")
    else:
        lines.append("DEAD LETTERS  none")
    lost = (s.other_stats.get("ingest", {}) or {}).get("lost_input")
    if isinstance(lost, dict) and lost.get("bytes") or (isinstance(lost, dict) and
                                                        lost.get("records", 0) > lost.get("dead_letters", 0)):
        # a file that could not be read or stopped early counts the records and bytes it lost (issue 25)
        lines.append(f"LOST INPUT  {lost['records']:,} records in {lost['dead_letters']:,} dead letters (a damaged "
                     f"file's rest estimated) \u00b7 {lost['bytes']:,} input bytes not read")
    fixes = _input_fixes(s.other_stats.get("ingest", {}))
    if fixes:
        lines.append("INPUT       " + " \u00b7 ".join(fixes))
    lines.append("")

    if s.by_source:
        # the profile column only when a source names one: runs without profiles print as before
        profiled = any(r.profile for r in s.by_source)
        prof_head = f"{'profile':<13}" if profiled else ""
        lines.append(f"{'BY SOURCE':<18}{'domain':<10}{prof_head}{'read':>9}{'curated':>9}{'kept%':>8}{'tokens':>12}  removed by")
        for r in s.by_source:
            removed = ", ".join(f"{k} {v:,}" for k, v in r.removed_by_stage.items()) or "-"
            prof = f"{(r.profile or '(stages)')[:12]:<13}" if profiled else ""
            lines.append(f"{r.name[:17]:<18}{r.domain[:9]:<10}{prof}{r.read:>9,}{r.curated:>9,}{r.kept_pct:>7.1f}%"
                         f"{r.tokens:>12,}  {removed}")
        lines.append("")

    if s.languages:
        lines.append(f"LANGUAGES   {_items(s.languages, 6, sum(s.languages.values()))}")
    if s.languages_at_langid:
        lines.append(f"            seen by langid: {_items(s.languages_at_langid, 6, sum(s.languages_at_langid.values()))}")
    if s.pii is not None:
        docs = f" in {s.pii.docs_with_pii:,} docs" if s.pii.docs_with_pii is not None else ""
        ents = _items(s.pii.entities, 6) if s.pii.entities else "none found"
        lines.append(f"PII         {ents}{docs}")
    if s.dedup is not None:
        text = f"removed {s.dedup.removed:,}"
        if s.dedup.removed_by_reason:
            text += f" ({_items(s.dedup.removed_by_reason)})"
        if s.dedup.clusters is not None:
            text += f" \u00b7 {s.dedup.clusters:,} clusters hold {s.dedup.docs_in_clusters or 0:,} docs"
        if s.dedup.cluster_sizes is not None:
            h = s.dedup.cluster_sizes
            pairs = [f"{_short(e)}: {c:,}" for e, c in zip(h.edges, h.counts) if c][:6]
            text += " \u00b7 clusters by size " + ", ".join(pairs)
        lines.append(f"DEDUP       {text}")
    if s.quality_signals:
        medians = " \u00b7 ".join(f"{q.name} {q.p50:.3g}" for q in s.quality_signals[:3])
        more = len(s.quality_signals) - 3
        lines.append(f"QUALITY     {len(s.quality_signals)} signals, medians on a sample of {s.quality_sample_docs:,} "
                     f"curated docs: {medians}{f' (+{more} more in the report)' if more > 0 else ''}")
    for d in s.lengths[:3]:
        lines.append(f"LENGTH      {d.label:<30} docs {d.docs:>8,}  p10 ~{_short(d.p10)}  median ~{_short(d.p50)}"
                     f"  p90 ~{_short(d.p90)} {d.unit}")
    if s.mix:
        parts = []
        for m in s.mix:
            target = f"target {100 * m.target_share:.1f}% -> " if m.target_share is not None else ""
            parts.append(f"{m.domain} {target}{100 * m.achieved_share:.1f}% ({_short(m.achieved_tokens)} tokens)")
        lines.append("MIX         " + " \u00b7 ".join(parts))
        if s.mix_target_tokens is not None:
            lines.append(f"            total: target {s.mix_target_tokens:,} tokens, achieved {_n(s.mix_achieved_tokens)}")
        for msg in s.mix_shortfall[:2]:
            lines.append(f"            shortfall: {msg}")
    if s.shards is not None:
        sh = s.shards
        lines.append(f"SHARDS      {sh.count:,} shards \u00b7 {sh.tokens:,} tokens \u00b7 {sh.docs:,} docs \u00b7 "
                     f"{_bytes(sh.bytes)} \u00b7 tokens/shard {sh.min_tokens:,}-{sh.max_tokens:,}")
        if sh.vocab_size is not None:
            lines.append(f"            tokenizer vocab {sh.vocab_size:,} ({sh.token_dtype}) sha256 {str(sh.tokenizer_sha256)[:12]}")
    side = s.side_outputs
    lines.append(f"ON DISK     rejected/ {_n(side.rejected_rows)} rows in {side.rejected_files} file(s) \u00b7 "
                 f"dead_letter/ {_n(side.dead_letter_rows)} rows \u00b7 documents/ {_n(side.document_rows)} rows"
                 + ("  (all sources)" if s.source else ""))
    if s.dropped_samples:
        n_ex = sum(len(g.samples) for g in s.dropped_samples)
        reasons = len({(g.stage, g.reason) for g in s.dropped_samples})
        lines.append(f"SAMPLES     {n_ex:,} dropped-document examples for {reasons} reason(s): --json or the report")
    if s.report_path:
        lines.append(f"REPORT      {s.report_path}")
    return lines
