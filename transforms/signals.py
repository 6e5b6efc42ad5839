"""What a document's annotations say, as the flat maps OUT/signals and OUT/rejected keep.

Every stage annotates the ``Document`` it passes on (``lang``/``lang_score``, ``quality`` by rule name,
``dup_cluster``, ``pii_counts``), and every drop goes through ``transforms.stage.reject``, which still sees
the annotated document: so one pure function turns any document into its signals, and a stage adds only
what its annotations lack (the dedup kept member, the decontamination match) as ``notes``.

Numbers (``signals``): ``Document.quality`` keys as they are (``<rule set>:<signal>``,
``classifier:<label>``, ``decontaminate:cut_chars``), ``langid:score``, ``pii:<ENTITY>`` (values redacted).
Evidence text (``notes``, each at most ``NOTE_CHARS``): ``langid:lang``, ``dedup:cluster`` and what stages
add (``dedup:kept``, ``decontaminate:items``, ``decontaminate:ngram``, ``url_filter:url``,
``span_dedup:words``...). Pure; no Beam.
"""
from __future__ import annotations

from typing import Mapping, Optional

from pilewright.schemas.records import Document, RejectedDocument, SignalRow

NOTE_CHARS = 200
KEPT, REJECTED = "kept", "rejected"
# stages that drop after curation (sampling, not judging): their records are not signals rows
AFTER_CURATION = ("mix",)


def short(text: str, n: int = NOTE_CHARS) -> str:
    """Evidence is short: at most ``n`` characters."""
    return text if len(text) <= n else text[: n - 1] + "…"


def document_signals(doc: Document) -> tuple[Optional[dict[str, float]], Optional[dict[str, str]]]:
    """(numbers, evidence) of a document's annotations; None for an empty map."""
    numbers: dict[str, float] = {}
    notes: dict[str, str] = {}
    if doc.quality:
        numbers.update((k, float(v)) for k, v in doc.quality.items())
    if doc.lang_score is not None:
        numbers["langid:score"] = float(doc.lang_score)
    if doc.lang is not None:
        notes["langid:lang"] = doc.lang
    if doc.pii_counts:
        numbers.update((f"pii:{k}", float(v)) for k, v in doc.pii_counts.items())
    if doc.dup_cluster is not None:
        notes["dedup:cluster"] = short(doc.dup_cluster)
    return (dict(sorted(numbers.items())) or None), (dict(sorted(notes.items())) or None)


def with_notes(numbers: Optional[dict], notes: Optional[dict], extra_numbers: Optional[Mapping[str, float]] = None,
               extra_notes: Optional[Mapping[str, str]] = None) -> tuple[Optional[dict], Optional[dict]]:
    """The maps with a stage's own additions (evidence cut to ``NOTE_CHARS``)."""
    if extra_numbers:
        numbers = dict(sorted({**(numbers or {}), **{k: float(v) for k, v in extra_numbers.items()}}.items()))
    if extra_notes:
        notes = dict(sorted({**(notes or {}), **{k: short(str(v)) for k, v in extra_notes.items()}}.items()))
    return numbers, notes


def _as_dict(value) -> Optional[dict]:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    return dict(value)  # Arrow map columns read back as (key, value) pairs


# the Document fields ``kept_row`` reads (what OUT/documents is read back with when OUT/signals is not
# there), and those of them that are maps (Arrow gives them back as pairs)
KEPT_ROW_FIELDS = ("id", "source", "domain", "text", "lang", "lang_score", "quality", "dup_cluster", "pii_counts",
                   "n_tokens")
MAP_FIELDS = ("quality", "pii_counts")


def kept_row(doc: Document) -> SignalRow:
    """The signals row of a document that left the last curation stage (``n_tokens`` once tokenized)."""
    numbers, notes = document_signals(doc)
    return SignalRow(id=doc.id, source=doc.source, domain=doc.domain, fate=KEPT, stage="", reason="",
                     n_chars=len(doc.text), n_tokens=doc.n_tokens, signals=numbers, notes=notes)


def rejected_row(rec: RejectedDocument) -> SignalRow:
    """The signals row of a dropped document (what ``reject`` recorded; already redacted when PII is on)."""
    return SignalRow(id=rec.id, source=rec.source, domain=rec.domain, fate=REJECTED, stage=rec.stage,
                     reason=rec.reason, n_chars=int(rec.n_chars or 0), n_tokens=None,
                     signals=_as_dict(rec.signals), notes=_as_dict(rec.notes))
