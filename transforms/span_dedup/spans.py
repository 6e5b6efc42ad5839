"""Spans of a document (lines, paragraphs, sentence windows), their hashes, and the text left after removal.

Pure functions. A document is cut into units (lines, paragraphs or sentences) by character offsets; a span
is one unit, or ``window`` consecutive sentences. Removing a span removes its units and the separator after
each, so the remaining text keeps its own line and paragraph breaks.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from pilewright.schemas.stages.span_dedup import SpanDedupConfig, SpanNormalization
from pilewright.transforms.hashing import stable_hash64

_SEPARATORS = {
    "line": re.compile(r"\n"),
    "paragraph": re.compile(r"\n[ \t\r\f\v]*\n\s*"),
    # sentence ends, and line breaks (a heading or a list item is a unit of its own)
    "sentences": re.compile(r"(?<=[.!?])\s+|\s*\n\s*"),
}
_PUNCT = re.compile(r"[^\w\s]|_")
_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


class Span(NamedTuple):
    key: int  # 64-bit hash of the normalized text (and scope)
    first: int  # first unit
    last: int  # last unit (inclusive)


def units(text: str, unit: str) -> list[tuple[int, int]]:
    """[start, end) of every non-blank unit, in order."""
    out, at = [], 0
    for m in _SEPARATORS[unit].finditer(text):
        if text[at : m.start()].strip():
            out.append((at, m.start()))
        at = m.end()
    if text[at:].strip():
        out.append((at, len(text)))
    return out


def normalize(text: str, cfg: SpanNormalization) -> str:
    if cfg.lowercase:
        text = text.lower()
    if cfg.punctuation:
        text = _PUNCT.sub("", text)
    if cfg.digits:
        text = _DIGIT.sub("0", text)
    if cfg.whitespace:
        text = _SPACES.sub(" ", text).strip()
    return text


def spans(text: str, cfg: SpanDedupConfig, scope: str = "") -> tuple[list[tuple[int, int]], list[Span]]:
    """The document's units and its spans long enough to count (``min_chars`` normalized)."""
    us = units(text, cfg.unit)
    width = cfg.window if cfg.unit == "sentences" else 1
    norm = [normalize(text[a:b], cfg.normalization) for a, b in us]
    out = []
    for i in range(0, max(0, len(us) - width + 1)):
        joined = " ".join(norm[i : i + width])
        if len(joined) >= cfg.min_chars:
            out.append(Span(stable_hash64(scope, joined), i, i + width - 1))
    return us, out


def remove_units(text: str, us: Sequence[tuple[int, int]], drop: set[int]) -> str:
    """``text`` without the units in ``drop`` (each with the separator that follows it, or precedes it at
    the end of the text)."""
    if not drop:
        return text
    cuts = []
    for i in sorted(drop):
        a = us[i][0]
        if i + 1 < len(us):
            b = us[i + 1][0]
        else:
            b = len(text)
            if i > 0 and (i - 1) not in drop:
                a = us[i - 1][1]
        cuts.append((a, b))
    pieces, at = [], 0
    for a, b in cuts:
        if a > at:
            pieces.append(text[at:a])
        at = max(at, b)
    pieces.append(text[at:])
    return "".join(pieces).strip()
