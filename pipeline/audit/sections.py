"""The stages' own audit sections, read by kind (``schemas.audit.AuditSection``), never by stage name.

A stage family declares ``AUDIT_SECTIONS`` (section name -> ``AuditSection``) in its package; the family of a
stage is the package ``transforms.flow.FLOW`` names for it, or ``pilewright.transforms.<stage>``. A section
no family declares is a table (a histogram when it has the one histogram shape). ``build_sections`` gives
the views the summary, the text and the report render; ``section_problems`` is what ``--verify`` checks.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping, Optional, Union

from pydantic import BaseModel

from pilewright.pipeline.audit.reading import SummaryError, schema_problem
from pilewright.schemas.audit import (
    KIND_CHECKS,
    KIND_MODELS,
    AuditSection,
    AuditView,
    BreakdownView,
    DistributionsView,
    HistogramSection,
    PartsView,
    SharesView,
)


class Histogram(BaseModel):
    unit: str
    edges: list[float]  # len(counts) + 1
    counts: list[int]
    log_scale: bool = False
    # one bar per value (e.g. cluster size -> clusters): edges[i] is the value of counts[i]
    categorical: bool = False


class SectionView(BaseModel):
    """One stats section of one stage, in its kind's shape: exactly one of ``counts``, ``hist``, ``rows`` and
    ``payload`` is set, after ``kind``."""

    stage: str
    name: str
    kind: str
    title: str
    headline: bool = False
    label: str = ""
    unit: str = ""
    share: bool = False
    log_y: bool = False
    counts: Optional[dict[str, float]] = None  # kind counts
    examples: list[str] = []  # kind counts: a few of what they count (ids)
    hist: Optional[Histogram] = None  # kind histogram (None when it has no bins)
    rows: Optional[list[dict[str, Any]]] = None  # kind top_k, already cut to the declared limit
    payload: Any = None  # kind table: as the stage wrote it


def _family(stage: str):
    """The stage's package, or None when it cannot be imported."""
    from pilewright.transforms import flow

    # read at call time: a stage added to the flow (a test's toy stage) brings its own package
    spec = flow.spec_named(stage)
    try:
        return importlib.import_module(spec.module_name if spec is not None else f"pilewright.transforms.{stage}")
    except ImportError:
        return None


def family_sections(stage: str) -> Mapping[str, AuditSection]:
    """The ``AUDIT_SECTIONS`` the stage's family declares; empty when it declares none."""
    return getattr(_family(stage), "AUDIT_SECTIONS", {})


def family_views(stage: str) -> tuple[AuditView, ...]:
    """The ``AUDIT_VIEWS`` the stage's family declares; empty when it declares none."""
    return tuple(getattr(_family(stage), "AUDIT_VIEWS", ()))


def family_manifest_problems(manifest: dict) -> list[str]:
    """What each family finds wrong with its own block of the manifest (``verify_manifest(manifest)`` in its
    package, one line per problem), in stage order."""
    from pilewright.transforms import flow

    problems: list[str] = []
    for spec in flow.current_stages():
        check = getattr(_family(spec.name), "verify_manifest", None)
        if check is not None and manifest:
            problems += check(manifest)
    return problems


class FamilyView(BaseModel):
    """One family view (``schemas.audit.AuditView``) of the run's files, built: ``data`` is its kind's model,
    None when there is nothing to show."""

    stage: str
    name: str
    kind: str
    title: str
    label: str
    part: str
    plot_title: str = ""
    unit: str = ""
    noun: str = ""
    empty: str = ""
    note: str = ""
    docs_text: str = ""
    data: Optional[Union[BreakdownView, DistributionsView, SharesView, PartsView]] = None


def build_views(audit: dict, manifest: dict, source: Optional[str] = None) -> list[FamilyView]:
    """Every family view, in the order a document meets the stages (a family's in its declared order).

    Raises SummaryError when a family's view cannot read the run's files (one line naming both)."""
    from pilewright.transforms import flow

    out = []
    for spec in flow.current_stages():
        for v in family_views(spec.name):
            try:
                data = v.build(audit, manifest, source)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise SummaryError(f"stage {spec.name!r}: its audit view {v.name!r} cannot read the run's files "
                                   f"({type(e).__name__}: {e})")
            # the declaration's presentation fields as they are (all but ``build``), and what it built
            shown = {f.name: getattr(v, f.name) for f in dataclasses.fields(v) if f.name != "build"}
            out.append(FamilyView(stage=spec.name, data=data, **shown))
    return out


def as_histogram(payload: Any, unit: str = "") -> Optional[Histogram]:
    """The histogram in a stats section written in the one histogram shape
    (``schemas.audit.HistogramSection``); None for any other section, or one without bins."""
    if schema_problem(HistogramSection, payload) is not None:
        return None
    h = HistogramSection.model_validate(payload)
    if len(h.edges) != len(h.counts) + 1 or not h.counts:
        return None
    return Histogram(unit=unit, edges=h.edges, counts=h.counts)


def undeclared(name: str, payload: Any) -> AuditSection:
    """How a section no family declares reads: a histogram when it has that shape, else a table."""
    return AuditSection("histogram" if as_histogram(payload) is not None else "table", name, unit=name)


def kind_problem(spec: AuditSection, payload: Any, source: Optional[str] = None) -> tuple[Optional[str], Any]:
    """(problem, the section in its kind's shape): the stage's model first, then the kind's own shape."""
    if spec.model is not None:
        problem = schema_problem(spec.model, payload)
        if problem is not None:
            return problem, None
    try:
        data = spec.view(payload, source) if spec.view is not None else payload
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a payload the family's view cannot read
        return f"its family's view cannot read it ({type(e).__name__}: {e})", None
    if data is None:
        return None, None
    model = KIND_MODELS[spec.kind]
    if model is not None:
        problem = schema_problem(model, data)
        if problem is not None:
            return f"not a {spec.kind} section: {problem}", None
    check = KIND_CHECKS.get(spec.kind)
    problem = check(data) if check is not None else None
    return (f"not a {spec.kind} section: {problem}", None) if problem else (None, data)


def _view(stage: str, name: str, spec: AuditSection, payload: Any, data: Any,
          source: Optional[str]) -> SectionView:
    view = SectionView(stage=stage, name=name, kind=spec.kind, title=spec.title, headline=spec.headline,
                       label=spec.label, unit=spec.unit, share=spec.share, log_y=spec.log_y)
    if spec.kind == "counts":
        view.counts = dict(data)
        view.examples = list(spec.examples(payload, source)) if spec.examples is not None else []
    elif spec.kind == "histogram":
        view.hist = as_histogram(data, spec.unit)
        if view.hist is not None:
            view.hist.categorical = spec.categorical
    elif spec.kind == "top_k":
        view.rows = list(data)[: spec.limit]
    else:
        view.payload = data
    return view


def build_sections(audit: dict, source: Optional[str] = None) -> list[SectionView]:
    """Every shown section of every stage, in flow order and, within a stage, in the family's declared
    order (undeclared sections after, by name). With ``source``, only sections a family's ``view`` narrows.

    Raises SummaryError when a declared section is not in its declared shape (one line naming both).
    """
    out: list[SectionView] = []
    for st in audit.get("stages", []):
        stats = st.get("stats", {})
        declared = family_sections(st["name"])
        names = [n for n in declared if n in stats] + sorted(n for n in stats if n not in declared)
        for name in names:
            spec = declared.get(name) or undeclared(name, stats[name])
            if not spec.shown or (source is not None and spec.view is None):
                continue
            problem, data = kind_problem(spec, stats[name], source)
            if problem is not None:
                raise SummaryError(f"audit.json: stage {st['name']!r} stats section {name!r} is not the shape "
                                   f"its family declares: {problem}")
            if data is not None:
                out.append(_view(st["name"], name, spec, stats[name], data, source))
    return out


def section_problems(audit: dict) -> list[str]:
    """One line per declared section (every stage, every source) that is not in its declared kind's shape."""
    problems = []
    for st in audit.get("stages", []):
        declared = family_sections(st["name"])
        for name, payload in sorted(st.get("stats", {}).items()):
            spec = declared.get(name)
            if spec is None:
                continue
            sources = [None] + (sorted(st.get("by_source", {})) if spec.view is not None else [])
            for source in sources:
                problem, _ = kind_problem(spec, payload, source)
                if problem is not None:
                    where = "" if source is None else f", source {source}"
                    problems.append(f"audit: stage {st['name']}{where}: stats section {name!r} ({spec.kind}) "
                                    f"{problem}")
                    break
    return problems
