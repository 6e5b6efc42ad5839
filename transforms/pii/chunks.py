"""Splitting long texts into overlapping chunks so nothing at a chunk edge is missed.

With chunks of ``size`` characters whose starts are ``size - overlap`` apart, every span of at most
``overlap`` characters lies whole inside at least one chunk: the last chunk starting at or before the
span's start ends at least ``overlap`` characters after it. Chunk edges are then moved outward to white
space (never inward), which only widens the overlap. Chunks also keep spaCy under its ``max_length``.
"""
from __future__ import annotations

from typing import Sequence


def chunk_bounds(start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Overlapping ``[a, b)`` chunks covering ``[start, end)``; one chunk when it fits."""
    if size <= overlap:
        raise ValueError("chunk size must exceed the overlap")
    if end - start <= size:
        return [(start, end)]
    step = size - overlap
    out = []
    a = start
    while True:
        b = min(end, a + size)
        out.append((a, b))
        if b >= end:
            return out
        a += step


def snap_outward(text: str, a: int, b: int, reach: int = 64) -> tuple[int, int]:
    """Moves ``a`` left and ``b`` right to white space (at most ``reach`` characters) so no word is cut."""
    lo = max(0, a - reach)
    while a > lo and not text[a - 1].isspace():
        a -= 1
    hi = min(len(text), b + reach)
    while b < hi and not text[b].isspace():
        b += 1
    return a, b


def text_chunks(text: str, regions: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Chunks of the given regions of ``text`` (whole-text scanning passes ``[(0, len(text))]``)."""
    out: list[tuple[int, int]] = []
    for start, end in regions:
        for a, b in chunk_bounds(start, end, size, overlap):
            out.append(snap_outward(text, a, b) if (a, b) != (start, end) else (a, b))
    return out
