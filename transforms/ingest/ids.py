"""Duplicate document ids: found after reading, made unique (or refused) before any stage sees them.

Every later decision is keyed by document id (dedup joins its verdicts to documents by id, the mix and the
tokenizer sample hash it), so two records sharing one id would share one verdict: an exact duplicate's
``dedup:exact`` would drop an unrelated text with the same id. Making ids unique here keeps every later
decision per record.

Rule (``policy.duplicate_ids: suffix``, the default): every member of a group of records with the same id
becomes ``<id>#<file relative to its glob>:<record number in that file>`` (records numbered from 1 in file
order, counting every record the reader returned, so in a JSONL file without blank lines it is the line
number); members that still collide (the same relative file under two patterns of one source) add
``~<k>`` in a stable order. Only colliding ids change, so a corpus without duplicates keeps its ids byte for
byte. ``error`` stops the run naming the id and its first two places.
"""
from __future__ import annotations

import json
from typing import Iterable, NamedTuple

from pilewright.schemas.errors import UserError

SAMPLE_IDS = 5


class DuplicateIdError(UserError):
    """Two records have the same document id and ``policy.duplicate_ids`` is ``error``."""


class Place(NamedTuple):
    """Where one record was read: enough to name it and tell it apart, without its text (only these
    compact rows are grouped by id; the documents never cross that shuffle)."""

    source: str
    path: str  # the full path: a file is read once, so (path, record) names exactly one record
    rel_path: str
    record: int


def unique_ids(doc_id: str, places: Iterable[Place], policy: str = "suffix") -> list[tuple[Place, str]]:
    """(place, new id) for every record of one id group; [] when no other record has the id. Pure; the
    order of ``places`` does not matter."""
    places = sorted(places, key=lambda m: (m.rel_path, m.record, m.path))
    if len(places) < 2:
        return []
    if policy == "error":
        a, b = places[0], places[1]
        raise DuplicateIdError(
            f"duplicate document id {doc_id!r}: {len(places)} records, e.g. {a.rel_path} record {a.record} and "
            f"{b.rel_path} record {b.record}; fix the ids or set `policy: {{duplicate_ids: suffix}}`"
        )
    out, seen = [], {}
    for m in places:
        new_id = f"{doc_id}#{m.rel_path}:{m.record}"
        k = seen.get(new_id, 0)
        seen[new_id] = k + 1
        out.append((m, new_id if k == 0 else f"{new_id}~{k}"))
    return out


def empty_section() -> dict:
    return {"ids": 0, "records": 0, "by_source": {}}


def add_group(section: dict, source: str, doc_id: str, n: int) -> dict:
    """Adds one duplicate-id group of ``n`` records to the audit section (in place; returns it)."""
    section["ids"] += 1
    section["records"] += n
    src = section["by_source"].setdefault(source, {"ids": 0, "records": 0, "sample_ids": []})
    src["ids"] += 1
    src["records"] += n
    src["sample_ids"] = sorted(src["sample_ids"] + [doc_id])[:SAMPLE_IDS]
    return section


def merge_sections(sections: Iterable[dict]) -> dict:
    out = empty_section()
    for s in sections:
        out["ids"] += s["ids"]
        out["records"] += s["records"]
        for source, v in s["by_source"].items():
            dst = out["by_source"].setdefault(source, {"ids": 0, "records": 0, "sample_ids": []})
            dst["ids"] += v["ids"]
            dst["records"] += v["records"]
            dst["sample_ids"] = sorted(set(dst["sample_ids"]) | set(v["sample_ids"]))[:SAMPLE_IDS]
    out["by_source"] = dict(sorted(out["by_source"].items()))
    return out


def section_json(section: dict) -> tuple[str, str]:
    return "duplicate_ids", json.dumps(section, sort_keys=True)
