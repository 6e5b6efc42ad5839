"""What a run did, as one model (``Summary``) built from the files ``reading`` loads: the funnel, the sources,
the curated documents' languages and lengths, dropped samples, every stage's own sections by kind and every
family's views of the run's files (the curated documents' profile, the manifest's blocks) by kind
(``sections``). ``Summary.model_dump()`` is what
``pilewright audit OUT --json`` prints and ``text.render_text`` what it prints for a terminal, so the two
always agree.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from pydantic import BaseModel

from pilewright.pipeline.audit.profile import (
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
from pilewright.pipeline.audit.sections import FamilyView, Histogram, SectionView, build_sections, build_views

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


class Summary(BaseModel):
    out_dir: str
    source: Optional[str] = None  # set when narrowed with --source
    sources: list[str]
    run: RunInfo
    funnel: list[StageFunnel]
    by_source: list[SourceRow]
    languages: Optional[dict[str, int]] = None  # of the curated documents
    lang_score: Optional[Histogram] = None
    lengths: list[Distribution] = []
    views: list[FamilyView] = []  # what families add besides their sections (the manifest's blocks...), by kind
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


def build_languages(audit: dict, only: Optional[str]) -> Optional[dict[str, int]]:
    langs = audit.get(CURATED_SECTION, {}).get("languages")
    if not langs:
        return None
    if only is None:
        return dict(langs["total"])
    counts = langs.get("by_source", {}).get(only, {})
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


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
    lang_score = audit.get(CURATED_SECTION, {}).get("lang_score")
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
        lengths=build_lengths(audit, source),
        views=build_views(audit, manifest, source),
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
