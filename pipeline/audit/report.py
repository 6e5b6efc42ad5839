"""OUT/audit/report.html: the audit summary as one self-contained page (tables and inline SVG plots).

Jinja2 renders the page (autoescaped: snippets of dropped documents are untrusted text) and matplotlib draws
every plot as inline SVG with text kept as text, so the page needs no network, no script and no CDN, and
its numbers can be searched and copied. matplotlib is driven through ``Figure`` objects only (never
pyplot), so rendering a report does not switch a caller's plotting backend.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Optional, Sequence

import jinja2
from markupsafe import Markup

from pilewright.pipeline.audit.atomic import write_atomic
from pilewright.pipeline.audit.reading import REPORT_PATH, out_path
from pilewright.pipeline.audit.sections import FamilyView, Histogram, SectionView
from pilewright.pipeline.audit.views import Summary, load_summary

# one palette for every plot: kept, rejected, errors, then series colours
KEPT, REJECTED, ERRORS = "#2f7d4f", "#d08c2c", "#b8323b"
SERIES = ("#3b6ea8", "#d08c2c", "#2f7d4f", "#8c5ca8", "#b8323b", "#5a9aa8", "#a8873b", "#6b6b6b")
MAX_SIGNAL_PLOTS = 24


@dataclass
class Plot:
    """One figure of the report: ``name`` is its element id (``plot-<name>``)."""

    name: str
    title: str
    svg: Markup
    caption: str = ""


def _svg_of(fig, name: str) -> Markup:
    import matplotlib

    buf = io.StringIO()
    # a salt per plot keeps the ids of clip paths unique across the figures of one page, and stable
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"pilewright-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # inline SVG: the role and label make it a described image for screen readers
    text = text.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)
    return Markup(text)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    # constrained layout fits labels in one draw (bbox_inches="tight" would draw every figure twice)
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _style(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)


def _fmt(n: float) -> str:
    if abs(n) >= 1e9:
        return f"{n / 1e9:.1f}G"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.1f}M"
    if abs(n) >= 1e4:
        return f"{n / 1e3:.0f}k"
    if abs(n) >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{int(n):,}" if float(n).is_integer() else f"{n:.3g}"


def plot_funnel(s: Summary) -> Optional[Plot]:
    if not s.funnel:
        return None
    names = [f.name for f in s.funnel][::-1]
    kept = [f.kept for f in s.funnel][::-1]
    rej = [f.rejected for f in s.funnel][::-1]
    err = [f.errors for f in s.funnel][::-1]
    fig = _figure(8, 0.45 * len(names) + 1.0)
    ax = fig.subplots()
    ax.barh(names, kept, color=KEPT, label="kept")
    ax.barh(names, rej, left=kept, color=REJECTED, label="rejected")
    ax.barh(names, err, left=[k + r for k, r in zip(kept, rej)], color=ERRORS, label="dead letters")
    top = max((k + r + e) for k, r, e in zip(kept, rej, err)) or 1
    for y, (k, r, e) in enumerate(zip(kept, rej, err)):
        label = f"{k:,} kept" + (f" / {r:,} rejected" if r else "") + (f" / {e:,} errors" if e else "")
        ax.text(k + r + e + top * 0.01, y, label, va="center", fontsize=8)
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("documents")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    _style(ax)
    return Plot("funnel", "Documents through each stage", _svg_of(fig, "funnel"),
                "Every stage's input split into kept, rejected by policy, and dead letters.")


def plot_source_funnel(s: Summary) -> Optional[Plot]:
    stages = [f.name for f in s.funnel]
    if len(stages) < 2 or not s.by_source:
        return None
    fig = _figure(8, 3.2)
    ax = fig.subplots()
    audit_by_source = _kept_by_stage_and_source(s)
    for i, r in enumerate(s.by_source):
        ys = [100.0 * audit_by_source.get((st, r.name), 0) / r.read if r.read else 0 for st in stages]
        ax.plot(stages, ys, marker="o", color=SERIES[i % len(SERIES)], label=f"{r.name} ({r.read:,} read)")
    ax.set_ylabel("% of documents read, kept")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    _style(ax)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    return Plot("source-funnel", "Kept after each stage, per source", _svg_of(fig, "source-funnel"))


def _kept_by_stage_and_source(s: Summary) -> dict[tuple[str, str], int]:
    return {(stage, r.name): n for r in s.by_source for stage, n in r.kept_by_stage.items()}


def plot_reasons(s: Summary) -> Optional[Plot]:
    rows = [(f"{f.name}: {reason}", n) for f in s.funnel for reason, n in f.reasons.items()]
    rows += [(f"{f.name}: {t} (dead letter)", n) for f in s.funnel for t, n in f.error_types.items()]
    if not rows:
        return None
    rows = sorted(rows, key=lambda kv: (-kv[1], kv[0]))[:20][::-1]
    fig = _figure(8, 0.3 * len(rows) + 1.0)
    ax = fig.subplots()
    colors = [ERRORS if "(dead letter)" in label else REJECTED for label, _ in rows]
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=colors)
    top = max(r[1] for r in rows)
    for y, (_label, n) in enumerate(rows):
        ax.text(n + top * 0.01, y, f"{n:,}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("documents")
    _style(ax)
    return Plot("reasons", "Why documents were removed", _svg_of(fig, "reasons"), "Top 20 reasons over all stages.")


def _hist_axes(ax, h: Histogram, color: str, label: Optional[str] = None) -> None:
    widths = [b - a for a, b in zip(h.edges[:-1], h.edges[1:])]
    ax.bar(h.edges[:-1], h.counts, width=widths, align="edge", color=color, alpha=0.75, label=label,
           edgecolor="white", linewidth=0.3)
    if h.log_scale:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        ax.set_xscale("log")
        # plain labels and no minor ticks: the default 10^k labels go through mathtext and the minor ticks
        # are dozens of artists, together seconds per figure for nothing a reader needs
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
        ax.xaxis.set_minor_locator(NullLocator())


def plot_lengths(s: Summary) -> Optional[Plot]:
    dists = s.lengths
    if not dists:
        return None
    n = len(dists)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig = _figure(8, 2.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, d in enumerate(dists):
        ax = axes[i // cols][i % cols]
        _hist_axes(ax, d.hist, SERIES[i % len(SERIES)])
        ax.set_title(f"{d.label} ({d.docs:,} docs, median ~{_fmt(d.p50 or 0)})", fontsize=8)
        ax.set_xlabel(d.unit, fontsize=8)
        _style(ax)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    return Plot("lengths", "Document lengths", _svg_of(fig, "lengths"),
                "Histograms in quarter-octave bins (log scale); medians are bin centres.")


def _bars(name: str, title: str, items: Sequence[tuple[str, float]], xlabel: str, color: str = SERIES[0],
          caption: str = "", value_fmt: Callable[[float], str] = _fmt) -> Optional[Plot]:
    if not items:
        return None
    items = list(items)[::-1]
    fig = _figure(8, 0.3 * len(items) + 1.0)
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items], color=color)
    top = max(v for _, v in items) or 1
    for y, (_k, v) in enumerate(items):
        ax.text(v + top * 0.01, y, value_fmt(v), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel(xlabel)
    _style(ax)
    return Plot(name, title, _svg_of(fig, name), caption)


def hist_labels(h: Histogram) -> list[str]:
    """One label per bin: the value (categorical or one integer wide), an integer range, or ``[a, b)``."""
    integer_bins = all(float(e).is_integer() for e in h.edges)
    labels = []
    for a, b in zip(h.edges[:-1], h.edges[1:]):
        if h.categorical or (integer_bins and b - a == 1):
            labels.append(_fmt(a))
        elif integer_bins:
            labels.append(f"{_fmt(a)}-{_fmt(b - 1)}")
        else:
            labels.append(f"{_fmt(a)}-{_fmt(b)}")
    return labels


def hist_rows(h: Histogram) -> list[tuple[str, int]]:
    return list(zip(hist_labels(h), h.counts))


def plot_histogram(name: str, title: str, h: Histogram, xlabel: str, log_y: bool = False,
                   caption: str = "") -> Plot:
    fig = _figure(8, 2.6)
    ax = fig.subplots()
    integer_bins = all(float(e).is_integer() for e in h.edges)
    if (h.categorical or integer_bins) and len(h.counts) <= 40:
        # one labelled bar per value or integer range ("5-8"): bars as wide as their range would hide the
        # small sizes that matter most
        labels = hist_labels(h)
        ax.bar(labels, h.counts, color=SERIES[0])
        for x, c in enumerate(h.counts):
            if c:
                ax.text(x, c, f"{c:,}", ha="center", va="bottom", fontsize=7)
    else:
        _hist_axes(ax, h, SERIES[0])
    if log_y:
        from matplotlib.ticker import FuncFormatter, NullLocator

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
        ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    _style(ax)
    return Plot(name, title, _svg_of(fig, name), caption)


def plot_distributions(v: FamilyView) -> Optional[Plot]:
    """A ``distributions`` view: one small histogram per item (the first ``MAX_SIGNAL_PLOTS``)."""
    items = v.data.items[:MAX_SIGNAL_PLOTS]
    if not items:
        return None
    cols = 4
    rows = math.ceil(len(items) / cols)
    fig = _figure(10, 1.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, q in enumerate(items):
        ax = axes[i // cols][i % cols]
        _hist_axes(ax, Histogram(unit=q.name, edges=q.hist.edges, counts=q.hist.counts), SERIES[0])
        ax.set_title(f"{q.name}\nmedian {q.p50:.3g}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
    for j in range(len(items), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    more = len(v.data.items) - len(items)
    return Plot(v.name, v.plot_title, _svg_of(fig, v.name),
                f"Deterministic sample of {v.data.docs:,} curated documents"
                + (f"; {more} more {v.noun}s in the table" if more > 0 else "") + ".")


def plot_shares(v: FamilyView) -> Optional[Plot]:
    """A ``shares`` view: achieved (and target) share per group, as bars."""
    rows = v.data.rows
    if not rows:
        return None
    import numpy as np

    fig = _figure(8, 0.6 * len(rows) + 1.2)
    ax = fig.subplots()
    y = np.arange(len(rows))
    has_target = any(m.target_share is not None for m in rows)
    h = 0.38 if has_target else 0.6
    achieved = [100 * m.achieved_share for m in rows]
    ax.barh(y + (h / 2 if has_target else 0), achieved, height=h, color=SERIES[0], label="achieved")
    for yi, x, m in zip(y, achieved, rows):
        ax.text(x + 0.5, yi + (h / 2 if has_target else 0), f"{x:.1f}% ({m.achieved:,} {v.unit})",
                va="center", fontsize=8)
    if has_target:
        target = [100 * (m.target_share or 0) for m in rows]
        ax.barh(y - h / 2, target, height=h, color="#b9b9b9", label="target")
        for yi, x, m in zip(y, target, rows):
            tt = f" ({m.target:,} {v.unit})" if m.target is not None else ""
            ax.text(x + 0.5, yi - h / 2, f"{x:.1f}%{tt}", va="center", fontsize=8)
    ax.set_yticks(y, [m.label for m in rows])
    ax.set_xlim(0, 150)
    ax.set_xlabel(f"% of {v.unit}")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)
    return Plot(v.name, v.plot_title + (": target vs achieved" if has_target else ""), _svg_of(fig, v.name))


def plot_parts(v: FamilyView) -> Optional[Plot]:
    """A ``parts`` view: tokens per part, one bar each."""
    tokens = v.data.tokens_per_part
    if not tokens:
        return None
    fig = _figure(8, 2.4)
    ax = fig.subplots()
    ax.bar(range(len(tokens)), tokens, color=SERIES[0], width=0.8)
    if len(tokens) <= 24:
        ax.set_xticks(range(len(tokens)))
        for x, t in enumerate(tokens):
            ax.text(x, t, _fmt(t), ha="center", va="bottom", fontsize=7)
    ax.set_xlabel(v.noun)
    ax.set_ylabel("tokens")
    _style(ax)
    return Plot(v.name, v.plot_title, _svg_of(fig, v.name))


def view_plot(v: FamilyView) -> Optional[Plot]:
    """The figure of one family view, by its kind (None when it has nothing to show)."""
    if v.data is None:
        return None
    if v.kind == "breakdown":
        return _bars(v.name, v.plot_title, list(v.data.counts.items()), v.unit, color=SERIES[3]) \
            if v.data.counts else None
    return {"distributions": plot_distributions, "shares": plot_shares, "parts": plot_parts}[v.kind](v)


def _safe(build: Callable[[], Optional[Plot]], name: str, problems: list[str]) -> Optional[Plot]:
    # one section that cannot be drawn (an unexpected stats shape) must not cost the whole report
    try:
        return build()
    except Exception as e:  # noqa: BLE001 - reported on the page
        problems.append(f"{name}: {type(e).__name__}: {e}")
        return None


def _table_of(payload: Any) -> Optional[dict]:
    """A generic table for an unknown stats section: list of dicts, dict of dicts, or dict of scalars."""
    if isinstance(payload, list) and payload and all(isinstance(r, dict) for r in payload):
        cols: list[str] = []
        for r in payload:
            cols += [k for k in r if k not in cols]
        return {"columns": cols, "rows": [[_cell(r.get(c)) for c in cols] for r in payload[:200]]}
    if isinstance(payload, dict) and payload and all(isinstance(v, dict) for v in payload.values()):
        cols = []
        for v in payload.values():
            cols += [k for k in v if k not in cols]
        return {"columns": [""] + cols, "rows": [[k] + [_cell(v.get(c)) for c in cols] for k, v in payload.items()]}
    if isinstance(payload, dict) and payload:
        return {"columns": ["key", "value"], "rows": [[k, _cell(v)] for k, v in payload.items()]}
    if isinstance(payload, list):
        return {"columns": ["value"], "rows": [[_cell(v)] for v in payload[:200]]}
    return {"columns": ["value"], "rows": [[_cell(payload)]]}


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        import json

        text = json.dumps(v, ensure_ascii=False)
        return text if len(text) <= 300 else text[:297] + "..."
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def section_plot(v: SectionView, name: str) -> Optional[Plot]:
    """The plot of one stage section, by its kind: bars for counts, the histogram for a histogram; top-k
    and table sections are tables only."""
    title = f"{v.stage}: {v.title}"
    if v.kind == "counts" and v.counts:
        return _bars(name, title, list(v.counts.items())[:20], v.unit or "count")
    if v.kind == "histogram" and v.hist is not None and len(v.hist.counts) > 1:
        return plot_histogram(name, title, v.hist, v.unit or v.name, log_y=v.log_y)
    return None


def stage_sections(s: Summary, problems: list[str]) -> list[dict]:
    """The stages' own sections grouped by stage, in flow order, each with its plot (when its kind has one)."""
    groups: dict[str, dict] = {}
    for v in s.sections:
        group = groups.setdefault(v.stage, {"stage": v.stage, "id": f"stage-{_slug(v.stage)}", "sections": []})
        name = f"stat-{_slug(v.stage)}-{_slug(v.name)}"
        plot = _safe(lambda v=v, n=name: section_plot(v, n), name, problems)
        group["sections"].append({"view": v, "id": name, "plot": plot})
    return list(groups.values())


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pilewright.pipeline.audit", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _version() -> str:
    try:
        return metadata.version("pilewright")
    except metadata.PackageNotFoundError:
        return "unknown"


def render_report(s: Summary, verify: Optional[Any] = None) -> str:
    """The HTML page for a summary (``verify``: a VerifyResult to show, when one was run)."""
    problems: list[str] = []
    plots = {}
    for name, build in (
        ("funnel", lambda: plot_funnel(s)),
        ("source-funnel", lambda: plot_source_funnel(s)),
        ("reasons", lambda: plot_reasons(s)),
        ("lengths", lambda: plot_lengths(s)),
        ("languages", lambda: _bars("languages", "Languages of the curated documents",
                                    list(s.languages.items())[:20], "documents") if s.languages else None),
        ("lang-score", lambda: plot_histogram("lang-score", "Language-ID score of the curated documents",
                                              s.lang_score, "score") if s.lang_score else None),
    ):
        plot = _safe(build, name, problems)
        if plot is not None:
            plots[name] = plot
    for v in s.views:
        plot = _safe(lambda v=v: view_plot(v), v.name, problems)
        if plot is not None:
            plots[v.name] = plot
    stages = stage_sections(s, problems)
    kept_by = _kept_by_stage_and_source(s)
    return _env().get_template("report.html.j2").render(
        s=s,
        plots=plots,
        stages=stages,
        problems=problems,
        verify=verify,
        kept_by=kept_by,
        version=_version(),
        fmt=_fmt,
        table_of=_table_of,
        hist_rows=hist_rows,
        fmt_count=lambda n: f"{int(n):,}" if float(n).is_integer() else f"{n:.4g}",
    )


def fallback_page(s: Summary, error: BaseException) -> str:
    """A plain page with the text summary, when the full report could not be rendered."""
    from markupsafe import escape

    from pilewright.pipeline.audit.text import render_text

    text = escape("\n".join(render_text(s)))
    err = escape(f"{type(error).__name__}: {error}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pilewright audit</title></head>"
            f"<body><h1>pilewright audit</h1><p>The full report could not be rendered ({err}); the summary:</p>"
            f"<pre>{text}</pre></body></html>\n")


def write_report(out_dir: str, verify: Optional[Any] = None) -> str:
    """Renders OUT/audit/report.html from the run's files; returns its path."""
    summary = load_summary(out_dir)
    try:
        html = render_report(summary, verify)
    except Exception as e:  # noqa: BLE001 - a report bug must not fail a finished run; the page says what broke
        html = fallback_page(summary, e)
    path = out_path(out_dir, REPORT_PATH)
    return write_atomic(path, html.encode("utf-8"))
