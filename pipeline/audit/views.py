"""What a run did, as one model (``Summary``) built from the files ``reading`` loads: the funnel, the sources,
the curated documents' profile (languages, redactions, quality signals, lengths), the mix, the shards,
dropped samples and every stage's own sections by kind (``sections``). ``Summary.model_dump()`` is what
``pilewright audit OUT --json`` prints and ``text.render_text`` what it prints for a terminal, so the two
always agree.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel

from pilewright.pipeline.audit.profile import (
    CURATED_REDACTIONS,
    CURATED_SECTION,
    DEAD_LETTER_SAMPLES_SECTION,
    DROPPED_SAMPLES_SECTION,
    bin_range,
    reason_group,
)
from pilewright.pipeline.audit.reading import (
    REPORT_PATH,
    SideOutputs,
    SummaryError,
    load_run_files,
    out_path,
    side_output_counts,
)
from pilewright.pipeline.audit.sections import Histogram, SectionView, build_sections

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


class RunInfo(BaseModel):
    seconds: Optional[float] = None
    seed: Optional[int] = None
    config_sha256: Optional[str] = None
    beam_args: list[str] = []
    stage_seconds: dict[str, float] = {}


class RedactedView(BaseModel):
    """PII redacted in the curated documents (the profile of ``Document.pii_counts``)."""

    entities: dict[str, int]
    docs_with_pii: int = 0
    by_source: dict[str, dict[str, int]] = {}


class Summary(BaseModel):
    out_dir: str
    source: Optional[str] = None  # set when narrowed with --source
    sources: list[str]
    run: RunInfo
    funnel: list[StageFunnel]
    by_source: list[SourceRow]
    languages: Optional[dict[str, int]] = None  # of the curated documents
    lang_score: Optional[Histogram] = None
    redacted: Optional[RedactedView] = None
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
    sections: list[SectionView] = []  # every stage's own audit sections, by kind
    side_outputs: SideOutputs = SideOutputs()
    telemetry: dict[str, Any] = {}
    report_path: Optional[str] = None


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


def token_stage(audit: dict) -> Optional[dict]:
    """The stage that turned documents into tokens: the first whose kept records are counted in tokens (its
    input is the curated documents). None when no stage kept a token."""
    for st in audit.get("stages", []):
        if int(st.get("kept_tokens", 0)) or any(k.endswith(":tokens") for k in st.get("size_hist", {})):
            return st
    return None


def build_sources(audit: dict, manifest: dict, only: Optional[str]) -> list[SourceRow]:
    stages = audit.get("stages", [])
    if not stages:
        return []
    tok = token_stage(audit) or stages[-1]
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
    tok = token_stage(audit)
    at = next((i for i, s in enumerate(stages) if s is tok), 0)
    if tok is not None and at > 0:
        before = stages[at - 1].get("size_hist", {})
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


def build_redacted(audit: dict, only: Optional[str]) -> Optional[RedactedView]:
    """PII redacted in the curated documents, per entity and source, when any was."""
    profile = audit.get(CURATED_SECTION, {}).get(CURATED_REDACTIONS)
    if not profile:
        return None
    by_src = {s: dict(e) for s, e in profile.get("by_source", {}).items() if only is None or s == only}
    totals: dict[str, int] = {}
    for ents in by_src.values():
        for e, n in ents.items():
            totals[e] = totals.get(e, 0) + int(n)
    docs = sum(int(n) for s, n in profile.get("docs_with_pii", {}).items() if only is None or s == only)
    return RedactedView(entities=dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))), by_source=by_src,
                        docs_with_pii=docs)


def build_languages(audit: dict, only: Optional[str]) -> Optional[dict[str, int]]:
    langs = audit.get(CURATED_SECTION, {}).get("languages")
    if not langs:
        return None
    if only is None:
        return dict(langs["total"])
    counts = langs.get("by_source", {}).get(only, {})
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
        lang_score=Histogram(unit="language score", **lang_score) if lang_score and source is None else None,
        redacted=build_redacted(audit, source),
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
        sections=build_sections(audit, source),
        side_outputs=side,
        telemetry=audit.get("telemetry", {}) if source is None else {},
        report_path=out_path(out_dir, REPORT_PATH),
    )


def load_summary(out_dir: str, source: Optional[str] = None) -> Summary:
    audit, manifest = load_run_files(out_dir)
    return build_summary(out_dir, audit, manifest, side_output_counts(out_dir), source)
