"""How the pii stage's audit sections read (``schemas.audit.AuditSection``): redactions per entity as counts
(over every document the stage saw, per source too); what was left and the recognizers as tables."""
from __future__ import annotations

from typing import Any, Optional

from pilewright.schemas.audit import PII_ENTITIES, AuditSection, PiiEntitiesSection


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
