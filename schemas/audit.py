"""The models of OUT/audit/audit.json (counted from the data in the job) and OUT/audit/run.json (what the
launcher learns after the job). ``pipeline.job.audit_counts`` dumps the first, ``pipeline.job.build`` the
second; ``pipeline.audit`` validates both when it reads them.

Per-stage ``stats`` sections are each stage's own small aggregates (histograms, top-k, samples), keyed by
section name; their shapes belong to the stage that writes them.
"""
from __future__ import annotations

from typing import Any, Optional

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


# ---- the stats sections the audit views read by name (every other section is shown as the stage wrote it)

DEDUP_DUPLICATES = "duplicates"
DEDUP_CLUSTER_SIZES = "cluster_sizes"
DEDUP_LARGEST_CLUSTERS = "largest_clusters"
PII_ENTITIES = "entities_by_source"
LANGID_LANGUAGES = "languages"


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


class LanguageCounts(RootModel[dict[str, int]]):
    """Documents per language label, over every document the langid stage classified."""
