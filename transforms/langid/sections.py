"""How the langid stage's audit section reads (``schemas.audit.AuditSection``): the languages of every
document it classified, dropped ones included, as counts."""
from __future__ import annotations

from typing import Any, Optional

from pilewright.schemas.audit import LANGID_LANGUAGES, AuditSection, LanguageCounts


def language_counts(payload: Any, source: Optional[str]) -> Optional[dict[str, int]]:
    """Documents per language, the most frequent first (the section is not split by source)."""
    if source is None:
        return dict(sorted(payload.items(), key=lambda kv: (-kv[1], kv[0])))
    return None


AUDIT_SECTIONS = {
    LANGID_LANGUAGES: AuditSection("counts", "languages seen", model=LanguageCounts, view=language_counts,
                                   headline=True, unit="documents", share=True),
}
