"""GPT-3's cut (Brown et al. 2020, appendix C): remove each contaminated span with a margin around it.

Pieces shorter than ``min_fragment_chars`` are removed too; a document cut into more than ``max_cuts``
places is dropped whole. Pure functions over character offsets.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from pilewright.transforms.decontaminate.index import Match


class CutResult(NamedTuple):
    text: Optional[str]  # None: drop the document
    reason: Optional[str]  # why it is dropped: "too_many_cuts" or "nothing_left"
    cuts: int  # separate removed regions (after margins merge neighbours)
    removed_chars: int


def merge(regions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping or touching [start, end) regions merged."""
    out: list[list[int]] = []
    for a, b in sorted(regions):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def cut(text: str, matches: Sequence[Match], starts: Sequence[int], ends: Sequence[int],
        margin: int = 200, min_fragment_chars: int = 200, max_cuts: int = 10) -> CutResult:
    """The document with every matching window (word offsets ``starts``/``ends``) and its margin removed."""
    spans = [(max(0, starts[m.start] - margin), min(len(text), ends[m.start + m.length - 1] + margin)) for m in matches]
    regions = merge(spans)
    removed = sum(b - a for a, b in regions)
    if len(regions) > max_cuts:
        return CutResult(None, "too_many_cuts", len(regions), removed)
    pieces, at = [], 0
    for a, b in regions + [(len(text), len(text))]:
        piece = text[at:a].strip()
        if piece and len(piece) >= min_fragment_chars:
            pieces.append(piece)
        at = b
    if not pieces:
        return CutResult(None, "nothing_left", len(regions), removed)
    return CutResult("\n".join(pieces), None, len(regions), removed)
