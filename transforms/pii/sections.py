"""How the pii stage's audit sections read (``schemas.audit.AuditSection``): redactions per entity as counts
(over every document the stage saw, per source too); what was left and the recognizers as tables."""
from __future__ import annotations

from typing import Any, Optional

from pilewright.schemas.audit import (
    CURATED,
    PII_ENTITIES,
    PII_REDACTIONS,
    AuditSection,
    AuditView,
    BreakdownView,
    CuratedPart,
    PiiEntitiesSection,
)


def entity_counts(payload: Any, source: Optional[str]) -> dict[str, int]:
    """Values found per entity, the most frequent first, for every source or one."""
    section = PiiEntitiesSection.model_validate(payload)
    totals: dict[str, int] = {}
    for src, counts in section.by_source.items():
        if source is None or src == source:
            for entity, n in counts.entities.items():
                totals[entity] = totals.get(entity, 0) + n
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


AUDIT_SECTIONS = {
    PII_ENTITIES: AuditSection("counts", "PII found, by entity", model=PiiEntitiesSection, view=entity_counts,
                               unit="values"),
    "found_and_left": AuditSection("table", "found and left"),
    "recognizers": AuditSection("table", "recognizers"),
}


def redactions(audit: dict, manifest: dict, source: Optional[str]) -> Optional[BreakdownView]:
    """PII redacted in the curated documents (their profile's ``pii``), per entity and source, when any was."""
    profile = audit.get(CURATED, {}).get(PII_REDACTIONS)
    if not profile:
        return None
    by_src = {s: dict(e) for s, e in profile.get("by_source", {}).items() if source is None or s == source}
    totals: dict[str, int] = {}
    for ents in by_src.values():
        for e, n in ents.items():
            totals[e] = totals.get(e, 0) + int(n)
    docs = sum(int(n) for s, n in profile.get("docs_with_pii", {}).items() if source is None or s == source)
    return BreakdownView(counts=dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))), by_source=by_src,
                         docs=docs)


AUDIT_VIEWS = (
    AuditView("breakdown", "pii", "PII redacted", "PII", redactions,
              plot_title="PII redacted in the curated documents, by entity", unit="redactions",
              empty="No curated document had PII redacted.", docs_text="curated documents had PII redacted."),
)


# the curated documents' redactions (``Document.pii_counts``): values per entity and source, and documents
# with any, as the profile's ``pii`` part
REDACTED, REDACTED_DOCS = "pii", "pii_docs"


def redaction_rows(doc) -> list[tuple[str, str, int]]:
    rows = []
    if doc.pii_counts:
        rows += [(REDACTED, entity, int(n)) for entity, n in doc.pii_counts.items() if n]
        if any(doc.pii_counts.values()):
            rows.append((REDACTED_DOCS, "", 1))
    return rows


def assemble_redactions(table: dict) -> Optional[dict]:
    if not (table.get(REDACTED) or table.get(REDACTED_DOCS)):
        return None
    totals: dict[str, int] = {}
    for labels in table.get(REDACTED, {}).values():
        for label, n in labels.items():
            totals[label] = totals.get(label, 0) + n
    return {
        "entities": dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_source": {s: dict(sorted(v.items())) for s, v in sorted(table.get(REDACTED, {}).items())},
        "docs_with_pii": {s: v.get("", 0) for s, v in sorted(table.get(REDACTED_DOCS, {}).items())},
    }


CURATED_PARTS = (CuratedPart(PII_REDACTIONS, rows=redaction_rows, assemble=assemble_redactions),)
