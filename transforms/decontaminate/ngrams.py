"""Normalized words and their n-gram hashes, shared by the index (evaluation items) and the scan (documents).

A word is a number written with thousands or decimal separators ("1,000", "3.5"), or else a maximal run of
letters and digits (punctuation and underscores separate words, so a comma added or removed changes
nothing), lowercased; with ``mask_numbers`` every number becomes ``0`` ("1,000", "1000" and "999" alike). An n-gram's
hash is a polynomial over its words' 64-bit xxh3 hashes, computed for a whole document at once with numpy
(uint64 arithmetic wraps, which is the modulus). Stable across processes and runs.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import xxhash

_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
_xxh = xxhash.xxh3_64_intdigest
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LETTER = re.compile(r"[^\W\d_]")
# odd 64-bit multiplier (2^64 / golden ratio): every word position weighs differently
_MULT = np.uint64(0x9E3779B97F4A7C15)


def _mask(words: list[str]) -> list[str]:
    return [w if w.isalpha() else _NUMBER.sub("0", w) for w in words]


def norm_words(text: str, mask_numbers: bool = True) -> list[str]:
    """The normalized words of ``text``."""
    low = text.lower()
    if len(low) != len(text):  # a few characters lowercase to two: the per-word path, as norm_word_spans
        return norm_word_spans(text, mask_numbers)[0]
    words = _WORD.findall(low)
    return _mask(words) if mask_numbers else words


def norm_word_spans(text: str, mask_numbers: bool = True) -> tuple[list[str], list[int], list[int]]:
    """The same words as ``norm_words`` with their start and end character offsets in ``text``."""
    low = text.lower()
    same_length = len(low) == len(text)
    words, starts, ends = [], [], []
    for m in _WORD.finditer(low if same_length else text):
        words.append(m.group() if same_length else m.group().lower())
        starts.append(m.start())
        ends.append(m.end())
    return (_mask(words) if mask_numbers else words), starts, ends


def is_number(word: str) -> bool:
    """A word without a letter (a number, masked or not)."""
    return _LETTER.search(word) is None


def word_hashes(words: Sequence[str]) -> np.ndarray:
    return np.fromiter((_xxh(w.encode("utf-8", "surrogatepass")) for w in words), dtype=np.uint64, count=len(words))


def ngram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of ``n`` consecutive word hashes (``len(wh) - n + 1`` values, or none)."""
    m = len(wh) - n + 1
    if m <= 0 or n <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = wh[:m].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            acc *= _MULT
            acc += wh[j : j + m]
    return acc
