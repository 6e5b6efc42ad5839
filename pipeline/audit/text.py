"""``pilewright audit OUT`` for a terminal: the ``Summary`` as lines (the sample run fits in 60). Each stage
section a family marks ``headline`` is one line, written by its kind."""
from __future__ import annotations

from typing import Optional

from pilewright.pipeline.audit.sections import FamilyView, SectionView
from pilewright.pipeline.audit.views import Summary

MAX_REASONS_PER_LINE = 4
LABEL = 12  # the width of the first column


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


def section_text(v: SectionView) -> Optional[str]:
    """One section as text, by its kind: counts as ``label n`` (with shares when declared), a histogram as
    its non-empty bins (None without bins), a top-k as its first row, a table as its scalar fields."""
    if v.kind == "counts":
        if not v.counts:
            return "none"
        text = _items({k: int(n) if float(n).is_integer() else n for k, n in v.counts.items()}, 6,
                      sum(v.counts.values()) if v.share else None)
        return text + (f" (e.g. {', '.join(v.examples[:3])})" if v.examples else "")
    if v.kind == "histogram":
        if v.hist is None:
            return None
        pairs = [f"{_short(e)}: {c:,}" for e, c in zip(v.hist.edges, v.hist.counts) if c][:6]
        return ", ".join(pairs) or "none"
    if v.kind == "top_k":
        return f"top {len(v.rows):,}, first: {_row(v.rows[0])}" if v.rows else "none"
    if isinstance(v.payload, dict):
        return _row(v.payload)
    return str(v.payload)[:100]


def _row(row: dict) -> str:
    scalars = [(k, x) for k, x in row.items() if isinstance(x, (int, float, str, bool))]
    return " \u00b7 ".join(f"{k} {x:,}" if isinstance(x, int) and not isinstance(x, bool) else f"{k} {x}"
                            for k, x in scalars[:6])


def section_lines(s: Summary) -> list[str]:
    """The headline sections, one line each: the family's label (or the stage's name) in the first column,
    then the section's title and numbers."""
    lines = []
    for v in s.sections:
        text = section_text(v) if v.headline else None
        if text is not None:
            lines.append(f"{(v.label or v.stage.upper())[:LABEL - 1]:<{LABEL}}{v.title}: {text}")
    return lines


def view_lines(v: FamilyView) -> list[str]:
    """A family view as terminal lines, by its kind (none when it has nothing to show): the label in the first
    column, continuation lines indented to the second."""
    d, first, more = v.data, f"{v.label[:LABEL - 1]:<{LABEL}}", " " * LABEL
    if d is None:
        return []
    if v.kind == "breakdown":
        return [f"{first}{_items(d.counts, 6)} in {d.docs:,} docs"]
    if v.kind == "distributions":
        medians = " \u00b7 ".join(f"{q.name} {q.p50:.3g}" for q in d.items[:3])
        extra = len(d.items) - 3
        return [f"{first}{len(d.items)} {v.noun}s, medians on a sample of {d.docs:,} curated docs: {medians}"
                f"{f' (+{extra} more in the report)' if extra > 0 else ''}"]
    if v.kind == "shares":
        if not d.rows:
            return []
        parts = []
        for m in d.rows:
            target = f"target {100 * m.target_share:.1f}% -> " if m.target_share is not None else ""
            parts.append(f"{m.label} {target}{100 * m.achieved_share:.1f}% ({_short(m.achieved)} {v.unit})")
        lines = [first + " \u00b7 ".join(parts)]
        if d.target_total is not None:
            lines.append(f"{more}total: target {d.target_total:,} {v.unit}, achieved {_n(d.achieved_total)}")
        lines += [f"{more}{v.note}: {msg}" for msg in d.notes[:2]]
        return lines
    if v.kind == "parts":
        lines = [f"{first}{d.count:,} {v.noun}s \u00b7 {d.tokens:,} tokens \u00b7 {d.docs:,} docs \u00b7 "
                 f"{_bytes(d.bytes)} \u00b7 tokens/{v.noun} {d.min_tokens:,}-{d.max_tokens:,}"]
        if d.vocab_size is not None:
            lines.append(f"{more}tokenizer vocab {d.vocab_size:,} ({d.token_dtype}) sha256 {str(d.tokenizer_sha256)[:12]}")
        return lines
    return []


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
    for v in s.views:
        if v.part == "curated":
            lines.extend(view_lines(v))
    lines.extend(section_lines(s))
    for d in s.lengths[:3]:
        lines.append(f"LENGTH      {d.label:<30} docs {d.docs:>8,}  p10 ~{_short(d.p10)}  median ~{_short(d.p50)}"
                     f"  p90 ~{_short(d.p90)} {d.unit}")
    for v in s.views:
        if v.part != "curated":
            lines.extend(view_lines(v))
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
