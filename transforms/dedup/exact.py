"""Exact-duplicate keys: a 128-bit hash of the normalized text, and the keep order of documents. Pure."""
from __future__ import annotations

import functools
import math
import re
from typing import Mapping, Optional

from pilewright.schemas.stages.dedup import ExactNormalization
from pilewright.transforms.hashing import stable_hash128_hex

_DROP = "\x00"  # what punctuation maps to before it is removed with one str.replace
_WORD_OR_SPACE = re.compile(r"[\w\s]")
_DIGIT = re.compile(r"\d")


@functools.lru_cache(maxsize=4)
def _table(punctuation: bool, digits: bool) -> str:
    """str.translate table over the BMP: punctuation -> NUL (then dropped), digits -> "0".

    A translate pass and a split/join cost a fraction of three regex substitutions on long texts.
    Characters beyond the BMP are kept as they are.
    """
    chars = []
    for code in range(0x10000):
        ch = chr(code)
        if 0xD800 <= code < 0xE000:
            chars.append(ch)
        elif digits and _DIGIT.match(ch):
            chars.append("0")
        elif punctuation and not _WORD_OR_SPACE.match(ch):
            chars.append(_DROP)
        else:
            chars.append(ch)
    return "".join(chars)


def normalize_for_exact(text: str, opts: ExactNormalization) -> str:
    """The text as exact dedup compares it (see ``ExactNormalization`` for each option)."""
    if opts.lowercase:
        text = text.lower()
    if opts.punctuation or opts.digits:
        text = text.translate(_table(opts.punctuation, opts.digits))
        if opts.punctuation:
            text = text.replace(_DROP, "")
    if opts.whitespace:
        text = " ".join(text.split())
    return text


def exact_key(text: str, opts: ExactNormalization, scope: str = "") -> str:
    """128-bit hex hash of (scope, normalized text): equal keys mean exact duplicates within a scope."""
    return stable_hash128_hex(f"{scope}\x1f{normalize_for_exact(text, opts)}")


def keep_rank(quality: Optional[Mapping[str, float]], keep_by: Optional[str]) -> float:
    """Sort key of the quality part of the keep rule: lower is better; documents without a score last.

    The keep order of documents is ``(keep_rank, id)``: highest score first, then the smallest id.
    """
    if not keep_by or not quality:
        return math.inf
    score = quality.get(keep_by)
    if score is None:
        return math.inf
    try:
        score = float(score)
    except (TypeError, ValueError):
        return math.inf
    return -score if math.isfinite(score) else math.inf
