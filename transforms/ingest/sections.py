"""How the ingest audit sections read (``schemas.audit.AuditSection``): what was repaired rather than lost
(duplicate ids made unique, invalid text replaced) and what a damaged file lost, as counts shown only when
there is something to say."""
from __future__ import annotations

from typing import Any, Optional

from pilewright.schemas.audit import AuditSection


def _part(payload: Any, source: Optional[str]) -> dict:
    return payload if source is None else payload.get("by_source", {}).get(source, {})


def lost_input_counts(payload: Any, source: Optional[str]) -> Optional[dict[str, int]]:
    """Records and bytes lost with the dead letters; None when each dead letter lost only its own record (the
    funnel says that already)."""
    p = _part(payload, source)
    records, dead, lost_bytes = int(p.get("records", 0)), int(p.get("dead_letters", 0)), int(p.get("bytes", 0))
    if not lost_bytes and records <= dead:
        return None
    return {"records": records, "dead letters": dead, "input bytes not read": lost_bytes}


def duplicate_id_counts(payload: Any, source: Optional[str]) -> Optional[dict[str, int]]:
    p = _part(payload, source)
    if not p.get("ids"):
        return None
    return {"ids": int(p["ids"]), "records": int(p.get("records", 0))}


def duplicate_id_examples(payload: Any, source: Optional[str]) -> list[str]:
    """The first sample ids, over the sources shown."""
    rows = payload.get("by_source", {})
    return sorted(i for src, v in rows.items() if source is None or src == source for i in v.get("sample_ids", []))[:3]


def repaired_text_counts(payload: Any, source: Optional[str]) -> Optional[dict[str, int]]:
    p = _part(payload, source)
    if not p.get("records"):
        return None
    return {"records": int(p["records"]), "characters -> U+FFFD": int(p.get("characters", 0))}


# a damaged file's lost records are estimated from the rate of the records before the damage
AUDIT_SECTIONS = {
    "lost_input": AuditSection("counts", "in dead letters", view=lost_input_counts, headline=True,
                               label="LOST INPUT"),
    "duplicate_ids": AuditSection("counts", "duplicate ids made unique", view=duplicate_id_counts, headline=True,
                                  label="INPUT", examples=duplicate_id_examples),
    "repaired_text": AuditSection("counts", "text repaired", view=repaired_text_counts, headline=True,
                                  label="INPUT"),
}
