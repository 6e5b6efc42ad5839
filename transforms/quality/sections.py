"""How the quality stage reads in the audit: its signals over a sample of the curated documents (their
profile's ``quality_sample``), as distributions (``AUDIT_VIEWS``)."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.audit import CURATED, QUALITY_SAMPLE, AuditView, CuratedPart, Distribution, DistributionsView


def signal_sample(audit: dict, manifest: dict, source: Optional[str]) -> Optional[DistributionsView]:
    """The quality signals' distributions over the sample (not split by source: None for one source)."""
    qs = audit.get(CURATED, {}).get(QUALITY_SAMPLE)
    if not qs or source is not None:
        return None
    items = [Distribution(name=name, count=s["count"], min=s["min"], p10=s["p10"], p50=s["p50"], p90=s["p90"],
                          max=s["max"], mean=s["mean"], hist={"edges": s["hist"]["edges"], "counts": s["hist"]["counts"]})
             for name, s in qs.get("signals", {}).items()]
    return DistributionsView(docs=int(qs.get("docs", 0)), items=items) if items else None


AUDIT_VIEWS = (
    AuditView("distributions", "quality", "Quality signals", "QUALITY", signal_sample,
              plot_title="Quality signals of the curated documents", noun="signal",
              empty="No quality signals (the quality stage is not in this run)."),
)


# the curated documents' quality signals (``Document.quality``), over a seeded sample of them
CURATED_PARTS = (CuratedPart(QUALITY_SAMPLE, values=lambda doc: doc.quality),)
