"""How the dedup stage's audit sections read (``schemas.audit.AuditSection``): clusters as counts, their
sizes as a histogram, the largest as a top-k; the bookkeeping sections as tables."""
from __future__ import annotations

from typing import Any, Optional

from pilewright.schemas.audit import (
    DEDUP_CLUSTER_SIZES,
    DEDUP_DUPLICATES,
    DEDUP_LARGEST_CLUSTERS,
    AuditSection,
    DuplicatesSection,
    LargestClusters,
)


def duplicates_counts(payload: Any, source: Optional[str]) -> Optional[dict[str, int]]:
    """Clusters of two or more documents and the documents they hold (counted corpus-wide, not per source)."""
    if source is not None:
        return None
    return {"clusters": int(payload["n_clusters"]), "documents in clusters": int(payload["docs_in_clusters"])}


AUDIT_SECTIONS = {
    DEDUP_DUPLICATES: AuditSection("counts", "duplicate clusters", model=DuplicatesSection, view=duplicates_counts,
                                   headline=True, unit="count"),
    DEDUP_CLUSTER_SIZES: AuditSection("histogram", "clusters by size", headline=True, unit="documents per cluster",
                                      log_y=True),
    DEDUP_LARGEST_CLUSTERS: AuditSection("top_k", "largest clusters", model=LargestClusters),
}
