"""The models of OUT/audit/audit.json (counted from the data in the job) and OUT/audit/run.json (what the
launcher learns after the job). ``pipeline.job.audit_counts`` dumps the first, ``pipeline.job.build`` the
second; ``pipeline.audit`` validates both when it reads them.

Per-stage ``stats`` sections are each stage's own small aggregates (histograms, top-k, samples), keyed by
section name; their shapes belong to the stage that writes them. A family says how each reads with
``AUDIT_SECTIONS`` (section name -> ``AuditSection``) in its package: the summary, the report and
``--verify`` go by the section's kind, never by the stage's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, RootModel

AUDIT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceCounts(_Model):
    domain: str
    in_: int = Field(alias="in")
    kept: int
    rejected: int
    errors: int
    kept_chars: int
    kept_tokens: int
    rejected_chars: int
    reasons: dict[str, int]
    error_types: dict[str, int]
    conserved: bool


class StageAudit(_Model):
    name: str
    in_: int = Field(alias="in")
    kept: int
    rejected: int
    errors: int
    kept_chars: int
    kept_tokens: int
    reasons: dict[str, int]
    error_types: dict[str, int]
    conserved: bool
    by_source: dict[str, SourceCounts]
    stats: dict[str, Any]
    # documents per size bin, per "<outcome>:<unit>" and source
    size_hist: dict[str, dict[str, dict[str, int]]]


class Audit(_Model):
    audit_version: int
    stages: list[StageAudit]
    curated: Optional[dict[str, Any]] = None
    dead_letter_samples: Optional[dict[str, Any]] = None
    dropped_samples: Optional[dict[str, Any]] = None

    def dump(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class RunFacts(_Model):
    """What is known only after the job: wall time, the Beam options it ran with, worker seconds per stage
    (when the runner reports them) and Beam's counters (telemetry: shown beside the exact counts)."""

    seconds: float
    beam_args: list[str]
    stage_seconds: dict[str, float]
    telemetry: dict[str, Any]
    # `run --resume` only: fingerprint, config hash, input manifest, the reused phase, seconds per phase
    resume: Optional[dict[str, Any]] = None
    # how the run was cut: units, unit processes at once, unit size, seconds of each phase
    phases: Optional[dict[str, Any]] = None

    def dump(self) -> dict:
        doc = self.model_dump(mode="json")
        for key in ("resume", "phases"):
            if doc.get(key) is None:
                doc.pop(key, None)
        return doc


# ---- the stats sections of the stage families, with their models

DEDUP_DUPLICATES = "duplicates"
DEDUP_CLUSTER_SIZES = "cluster_sizes"
DEDUP_LARGEST_CLUSTERS = "largest_clusters"
PII_ENTITIES = "entities_by_source"
LANGID_LANGUAGES = "languages"

# the curated documents' profile (``Audit.curated``) and the families' parts of it
CURATED = "curated"
PII_REDACTIONS = "pii"  # redactions per entity and source (``Document.pii_counts``)
QUALITY_SAMPLE = "quality_sample"  # quality signals over a sample of the curated documents


class HistogramSection(_Model):
    """Counts per bin; ``edges`` has one more entry than ``counts`` (bin i is [edges[i], edges[i+1]))."""

    edges: list[float]
    counts: list[int]


class DuplicatesSection(_Model):
    n_clusters: int
    docs_in_clusters: int


class LargestCluster(_Model):
    kept_id: str
    size: int
    sample_ids: list[str]


class PiiEntityCounts(_Model):
    documents_with_pii: int
    entities: dict[str, int]


class PiiEntitiesSection(_Model):
    by_source: dict[str, PiiEntityCounts]
    total: PiiEntityCounts


class LargestClusters(RootModel[list[LargestCluster]]):
    """The largest duplicate clusters, the largest first."""


class LanguageCounts(RootModel[dict[str, int]]):
    """Documents per language label, over every document the langid stage classified."""


# ---- section kinds: the shapes the audit renders and checks --------------------------------------------

SectionKind = Literal["counts", "histogram", "top_k", "table"]


class CountsSection(RootModel[dict[str, float]]):
    """``counts``: label -> number, in the order to show (a tally, a few named totals)."""


class TopKSection(RootModel[list[dict[str, Any]]]):
    """``top_k``: the first rows of a ranking, one object each (the largest first)."""


def _histogram_problem(payload: Any) -> Optional[str]:
    n_e, n_c = len(payload["edges"]), len(payload["counts"])
    if (n_e, n_c) != (0, 0) and n_e != n_c + 1:
        return f"{n_e} edges for {n_c} bins (edges bound every bin: one more than counts)"
    return None


# the model of each kind's shape; ``table`` is any JSON (shown as the stage wrote it)
KIND_MODELS: dict[str, Optional[type[BaseModel]]] = {
    "counts": CountsSection,
    "histogram": HistogramSection,
    "top_k": TopKSection,
    "table": None,
}
# checks a model cannot say (a histogram's edges bound its bins), on a payload the kind's model accepted
KIND_CHECKS: dict[str, Callable[[Any], Optional[str]]] = {"histogram": _histogram_problem}


@dataclass(frozen=True)
class AuditSection:
    """How one stats section of a family reads in the audit.

    ``kind`` picks the rendering (text line, plot, table) and the shape ``--verify`` checks; ``model`` (when
    given) is the shape the stage writes, checked first; ``view(payload, source)`` turns that payload into the
    kind's shape, for every source (``source`` None) or narrowed to one, and returns None when there is
    nothing to show. Without a ``view`` the payload is already in the kind's shape and, holding no per-source
    numbers, is shown only for all sources.
    """

    kind: SectionKind
    title: str
    model: Optional[type[BaseModel]] = None
    view: Optional[Callable[[Any, Optional[str]], Any]] = None
    headline: bool = False  # one line in the terminal summary besides the report
    label: str = ""  # that line's first column; the stage's name when empty
    # a few example values (ids) the counts stand for, for every source or one: shown as "(e.g. a, b)"
    examples: Optional[Callable[[Any, Optional[str]], list[str]]] = None
    unit: str = ""  # what a count or a histogram's bins count
    share: bool = False  # counts: print each one's share of their sum
    categorical: bool = False  # histogram: one bar per value (edges[i] is the value of counts[i])
    log_y: bool = False  # histogram: counts on a log scale (a few huge bins beside many small ones)
    limit: int = 10  # top_k: rows shown
    shown: bool = True  # False: another view of the audit shows it already (the manifest's mix)

    def __post_init__(self) -> None:
        # a misspelt kind would otherwise surface only when an audit holding the section is read
        if self.kind not in KIND_MODELS:
            raise ValueError(f"audit section {self.title!r}: kind {self.kind!r} is not one of {', '.join(KIND_MODELS)}")


# ---- family views: what a family adds to the run's files besides its stats sections ----------------------
#
# A family whose stage writes a block of the manifest (the mix's report, the shards' list) or a part of the
# curated documents' profile (``audit.json``'s ``curated``: redactions, quality signals) declares how it
# reads with ``AUDIT_VIEWS`` (a tuple of ``AuditView``) in its package. The summary, its terminal lines and
# the report draw each by its kind; ``pipeline.audit`` names no stage.

ViewKind = Literal["breakdown", "distributions", "shares", "parts"]


class BreakdownView(_Model):
    """``breakdown``: a count per label (the largest first), per source too, over ``docs`` documents."""

    counts: dict[str, int]
    by_source: dict[str, dict[str, int]] = {}
    docs: int = 0


class Distribution(_Model):
    """One named value's distribution over a sample: quantiles, mean and an equal-width histogram."""

    name: str
    count: int
    min: float
    p10: float
    p50: float
    p90: float
    max: float
    mean: float
    hist: HistogramSection


class DistributionsView(_Model):
    """``distributions``: many named values' distributions over a sample of ``docs`` documents."""

    docs: int
    items: list[Distribution]


class ShareRow(_Model):
    label: str
    target_share: Optional[float] = None
    achieved_share: float
    target: Optional[int] = None
    achieved: int


class SharesView(_Model):
    """``shares``: how a total splits over groups, against a target when there is one (``notes``: where the
    target was missed)."""

    rows: list[ShareRow]
    target_total: Optional[int] = None
    achieved_total: Optional[int] = None
    notes: list[str] = []


class PartsView(_Model):
    """``parts``: the files a run delivers, with their documents, tokens and bytes, and the tokenizer that
    encoded them."""

    count: int
    docs: int
    tokens: int
    bytes: int
    min_tokens: int
    max_tokens: int
    tokens_per_part: list[int]
    vocab_size: Optional[int] = None
    token_dtype: Optional[str] = None
    tokenizer_sha256: Optional[str] = None


VIEW_MODELS: dict[str, type[BaseModel]] = {
    "breakdown": BreakdownView,
    "distributions": DistributionsView,
    "shares": SharesView,
    "parts": PartsView,
}


@dataclass(frozen=True)
class AuditView:
    """How one family view reads: ``build(audit, manifest, source)`` gives the kind's model from the run's
    files (``source`` None: every source; else narrowed to it), or None when there is nothing to show.

    ``part`` places it: ``curated`` (the curated documents' profile, after their languages) or ``output``
    (what the run delivers, after the lengths). ``name`` is its key in ``audit --json`` and its anchor in the
    report; ``title`` its heading there, ``plot_title`` its figure's, ``label`` the terminal line's first
    column. ``unit``: what the counts count (breakdown), the tokens of a share (shares); ``noun``: one of the
    items (a distribution, a part). ``empty``: the report's sentence when the view is empty (shares: when it
    has no target). ``note``: what a ``shares`` note is (``shortfall``); ``docs_text``: what a breakdown's
    documents are.
    """

    kind: ViewKind
    name: str
    title: str
    label: str
    build: Callable[[dict, dict, Optional[str]], Optional[BaseModel]]
    part: Literal["curated", "output"] = "curated"
    plot_title: str = ""
    unit: str = ""
    noun: str = ""
    empty: str = ""
    note: str = ""
    docs_text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VIEW_MODELS:
            raise ValueError(f"audit view {self.name!r}: kind {self.kind!r} is not one of {', '.join(VIEW_MODELS)}")


@dataclass(frozen=True)
class CuratedPart:
    """A family's part of the curated documents' profile (``Audit.curated[key]``), counted in the job from
    the annotations its stage left on every curated document (``CURATED_PARTS`` in its package).

    A tally gives ``rows(doc)``: (kind, label, n) counting rows (kinds its own, e.g. ``pii``), summed per
    source, and ``assemble(table)`` turns ``{kind: {source: {label: n}}}`` into the part (None: nothing to
    say). A sample gives ``values(doc)``: the document's named values (empty: not sampled); the part is then
    their distributions over a seeded sample of the documents.
    """

    key: str
    rows: Optional[Callable[[Any], list[tuple[str, str, int]]]] = None
    assemble: Optional[Callable[[dict], Optional[dict]]] = None
    values: Optional[Callable[[Any], Any]] = None
