"""Gopher repetition measures over a document's words: top n-gram and duplicated n-gram character fractions.

Two implementations of the same definitions (Rae et al. 2021, Table A1, as datatrove's
``GopherRepetitionFilter`` computes them):

* ``top_ngram_chars`` / ``dup_ngram_chars``: plain Python over the word strings, a line-by-line port of
  datatrove's ``find_top_duplicate`` / ``find_all_duplicate``. Fast for short documents and the reference
  the tests check the vectorized path against.
* ``repetition_chars``: numpy over per-word 64-bit hashes, all sizes at once, for longer documents.
  n-grams are compared by hash, so two different n-grams are treated as equal only on a 64-bit
  collision (about n^2/2^64 per document).

Two definitions are easy to miss and are kept on purpose: the "top" n-gram is the space-joined n-gram with
the highest count, and on a tie the one that occurs first; a "duplicated" n-gram is compared as the
*concatenation* of its words without separator, scanning left to right and skipping the n words of every
duplicate found (so ``["ab", "c"]`` equals ``["a", "bc"]``).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

_MASK = (1 << 64) - 1
# odd 64-bit multipliers: polynomial hashing mod 2**64 of characters (concatenations) and of words (n-grams)
_CHAR_BASE = 0x9E3779B97F4A7C15
_CHAR_BASE_INV = pow(_CHAR_BASE, -1, 1 << 64)
_WORD_BASE = 0xC2B2AE3D27D4EB4F
_LEN_MIX = 0x165667B19E3779F9
# separates the keys of different measures and n in one array
_TAG = 0x2545F4914F6CDD1D


# -- reference (pure Python) ---------------------------------------------------------------------------
def _ngrams(words: Sequence[str], n: int, sep: str) -> list[str]:
    return list(map(sep.join, zip(*[words[i:] for i in range(n)])))


def top_ngram_chars(words: Sequence[str], n: int) -> int:
    """Characters of the most frequent space-joined n-gram times its count (0 without n-grams)."""
    grams = _ngrams(words, n, " ")
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def dup_ngram_chars(words: Sequence[str], n: int) -> int:
    """Characters in duplicated n-grams (concatenated words), skipping past each duplicate."""
    grams = _ngrams(words, n, "")
    if len(set(grams)) == len(grams):
        return 0
    seen: set[str] = set()
    repeated = idx = 0
    while idx < len(grams):
        gram = grams[idx]
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


# -- vectorized ----------------------------------------------------------------------------------------
def _pow_table(base: int, bits: int = 40) -> np.ndarray:
    out, b = [], base
    for _ in range(bits):
        out.append(b)
        b = (b * b) & _MASK
    return np.array(out, dtype=np.uint64)


_CHAR_POW2 = _pow_table(_CHAR_BASE)
_CHAR_INV_POW2 = _pow_table(_CHAR_BASE_INV)


def _pow_vec(pow2: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """``base ** exps mod 2**64`` elementwise, by squaring (``pow2[b] = base ** (2 ** b)``)."""
    out = np.ones(exps.shape, dtype=np.uint64)
    e = exps.astype(np.uint64)
    b = 0
    while e.any():
        sel = (e & np.uint64(1)).astype(bool)
        out[sel] *= pow2[b]
        e >>= np.uint64(1)
        b += 1
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads a polynomial hash into an id for sequence hashing."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_words(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(id hash, character polynomial hash, length) of each word, vectorized over all characters.

    The character hash is sum((ord(c) + 1) * B**i) mod 2**64 over the word's characters, so the hash of a
    concatenation follows from its words' hashes and lengths. Process-independent.
    """
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    if len(words) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64), lengths
    codes = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts = np.zeros(len(words), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    within = np.arange(len(codes), dtype=np.int64) - np.repeat(starts, lengths)
    with np.errstate(over="ignore"):
        terms = (codes.astype(np.uint64) + np.uint64(1)) * _pow_vec(_CHAR_POW2, within)
        chars = np.add.reduceat(terms, starts)
        ids = _mix(chars + lengths.astype(np.uint64) * np.uint64(_LEN_MIX))
    return ids, chars, lengths


_POW_TABLE_SIZE = 1 << 12


def _power_table(base: int) -> np.ndarray:
    out = np.empty(_POW_TABLE_SIZE, dtype=np.uint64)
    p = 1
    for k in range(_POW_TABLE_SIZE):
        out[k] = p
        p = (p * base) & _MASK
    return out


_CHAR_POWERS = _power_table(_CHAR_BASE)
_CHAR_INV_POWERS = _power_table(_CHAR_BASE_INV)
# multiplicative hashing of 64-bit keys into buckets (Knuth): keys in one bucket may be equal
_BUCKET_MULT = np.uint64(0x9E3779B97F4A7C15)
_BUCKET_MULT2 = np.uint64(0xD1B54A32D192ED03)


def _powers_of(table: np.ndarray, pow2: np.ndarray, exps: np.ndarray) -> np.ndarray:
    out = table[np.minimum(exps, _POW_TABLE_SIZE - 1)]
    long = exps >= _POW_TABLE_SIZE
    if long.any():
        out[long] = _pow_vec(pow2, exps[long])
    return out


_ONE_TABLE = 1 << 16


def _bucket_filter(keys: np.ndarray, mult: np.uint64) -> np.ndarray:
    """Positions whose key shares a hash bucket with another key (load <= 1/2)."""
    bits = max(6, (2 * len(keys)).bit_length())
    with np.errstate(over="ignore"):
        buckets = ((keys * mult) >> np.uint64(64 - bits)).astype(np.intp)
    counts = np.bincount(buckets, minlength=1 << bits)
    return np.flatnonzero(counts[buckets] > 1)


def _maybe_repeated(keys: np.ndarray) -> np.ndarray:
    """Ascending positions of keys that may occur more than once (a superset of the repeated ones).

    Up to 2**18 keys: linear passes over hash buckets, a second pass with another hash on the survivors
    to drop most bucket collisions (equal keys always survive both). Beyond that, one sort, then a binary
    search of the repeated values (a bucket table that large thrashes the cache).
    """
    m = len(keys)
    if m <= 1 << 18:
        maybe = _bucket_filter(keys, _BUCKET_MULT)
        if len(maybe) > 64:
            maybe = maybe[_bucket_filter(keys[maybe], _BUCKET_MULT2)]
        return maybe
    ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return np.zeros(0, dtype=np.intp)
    repeated = np.unique(repeated)
    at = np.minimum(np.searchsorted(repeated, keys), len(repeated) - 1)
    return np.flatnonzero(repeated[at] == keys)


# separates the documents of a batch in one key array
_DOC_MIX = 0xD6E8FEB86659FD93


def repetition_chars(
    ids: np.ndarray,
    chars: np.ndarray,
    lengths: np.ndarray,
    doc_starts: Sequence[int],
    top_ns: Sequence[int],
    dup_ns: Sequence[int],
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """``top_ngram_chars`` and ``dup_ngram_chars`` of a batch of documents for several n at once.

    The words of all documents are concatenated; every n-gram of every requested size that lies inside one
    document is keyed into one array (sequence hashes for the top n-grams, concatenation hashes for the
    duplicated ones, tagged by document, measure and n). The batch then costs one linear bucket pass and
    one sort of the few keys that may repeat, so per-call numpy overhead is paid once per batch, not per
    document and size.

    Args:
        ids: id hash per word (``hash_words(...)[0]``), uint64, all documents concatenated.
        chars: character polynomial hash per word (``hash_words(...)[1]``), uint64.
        lengths: characters per word, int64.
        doc_starts: index of each document's first word in the arrays, then the total word count.
        top_ns, dup_ns: the n-gram sizes of each measure.

    Returns:
        ({n: top characters per document}, {n: duplicated characters per document}), int64 arrays.
    """
    n_total = len(ids)
    bounds = np.asarray(doc_starts, dtype=np.int64)
    n_docs = len(bounds) - 1
    doc_len = np.diff(bounds)
    offsets = np.zeros(n_total + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    top = {n: np.zeros(n_docs, dtype=np.int64) for n in top_ns}
    dup = {n: np.zeros(n_docs, dtype=np.int64) for n in dup_ns}
    if n_total == 0:
        return top, dup
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    doc_key = doc_of.astype(np.uint64) * np.uint64(_DOC_MIX) if n_docs > 1 else None
    top_list = [n for n in sorted(top_ns) if n <= n_total]
    dup_list = [n for n in sorted(dup_ns) if n < n_total]
    # one key array, segment after segment: (is top, n, start)
    segments: list[tuple[bool, int, int]] = []
    start = 0
    for is_top, ns in ((True, top_list), (False, dup_list)):
        for n in ns:
            segments.append((is_top, n, start))
            start += n_total - n + 1
    keys = np.empty(start, dtype=np.uint64)

    def fill(seg: tuple[bool, int, int], values: np.ndarray) -> None:
        is_top, n, at = seg
        m = len(values)
        out = keys[at : at + m]
        np.add(values, np.uint64((_TAG * (2 * n + (0 if is_top else 1))) & _MASK), out=out)
        if doc_key is not None:
            out += doc_key[:m]
            # n-grams that would run into the next document get distinct keys that repeat nothing
            ends = bounds[1:-1]
            crossing = (ends[:, None] - np.arange(1, n, dtype=np.int64)[None, :]).ravel()
            crossing = crossing[(crossing >= np.repeat(bounds[:-2], n - 1)) & (crossing < m)]
            if len(crossing):
                out[crossing] = (crossing.astype(np.uint64) + np.uint64(at)) * np.uint64(_DOC_MIX) ^ np.uint64(_TAG)

    with np.errstate(over="ignore"):
        seq, k = ids, 1
        for seg in segments[: len(top_list)]:
            n = seg[1]
            while k < n:
                seq = seq[:-1] * np.uint64(_WORD_BASE) + ids[k:]
                k += 1
            fill(seg, seq)
        if dup_list:
            power = np.ones(n_total + 1, dtype=np.uint64)
            np.cumprod(_powers_of(_CHAR_POWERS, _CHAR_POW2, lengths), out=power[1:])
            prefix = np.zeros(n_total + 1, dtype=np.uint64)
            np.cumsum(chars * power[:-1], out=prefix[1:])
            inv_power = np.ones(n_total + 1, dtype=np.uint64)
            np.cumprod(_powers_of(_CHAR_INV_POWERS, _CHAR_INV_POW2, lengths), out=inv_power[1:])
            for seg in segments[len(top_list) :]:
                n = seg[1]
                m = n_total - n + 1
                span = (offsets[n : n + m] - offsets[:m]).astype(np.uint64)
                fill(seg, (prefix[n : n + m] - prefix[:m]) * inv_power[:m] + span * np.uint64(_LEN_MIX))

    # every top measure starts as "each n-gram once: the first one is the most common"
    for n in top_ns:
        has = doc_len >= n
        first = bounds[:-1][has]
        top[n][has] = offsets[first + n] - offsets[first] + n - 1
    if start == 0:
        return top, dup
    if len(keys) <= _ONE_TABLE:
        maybe = _maybe_repeated(keys)
    else:
        # a long document: one bucket table per measure and n keeps each table small enough for the cache
        cuts = [seg[2] for seg in segments] + [start]
        maybe = np.concatenate([_maybe_repeated(keys[a:b]) + a for a, b in zip(cuts[:-1], cuts[1:])])
    if len(maybe) == 0:
        return top, dup
    _, firsts, groups, counts = np.unique(keys[maybe], return_index=True, return_inverse=True, return_counts=True)
    seg_starts = np.array([seg[2] for seg in segments], dtype=np.int64)
    seg_of = np.searchsorted(seg_starts, maybe, side="right") - 1
    cand_pos = maybe - seg_starts[seg_of]
    cand_doc = doc_of[cand_pos]
    is_top = np.array([seg[0] for seg in segments], dtype=bool)

    # top: per (segment, document), the highest count, then the earliest first occurrence
    grp = np.flatnonzero((counts > 1) & is_top[seg_of[firsts]])
    if len(grp):
        g_first = firsts[grp]
        g_seg, g_doc, g_count, g_pos = seg_of[g_first], cand_doc[g_first], counts[grp], cand_pos[g_first]
        order = np.lexsort((g_pos, -g_count, g_doc, g_seg))
        g_seg, g_doc, g_count, g_pos = g_seg[order], g_doc[order], g_count[order], g_pos[order]
        lead = np.ones(len(order), dtype=bool)
        lead[1:] = (g_seg[1:] != g_seg[:-1]) | (g_doc[1:] != g_doc[:-1])
        leaders = zip(g_seg[lead].tolist(), g_doc[lead].tolist(), g_count[lead].tolist(), g_pos[lead].tolist())
        for sg, d, c, p in leaders:
            n = segments[sg][1]
            top[n][d] = (int(offsets[p + n] - offsets[p]) + n - 1) * c

    # dup: walk the repeated n-grams of each (segment, document) in order, skipping past each duplicate;
    # every other position is visited and added in turn, which changes nothing for later positions
    rep = np.flatnonzero((counts[groups] > 1) & ~is_top[seg_of])
    if len(rep):
        cur = (-1, -1)
        added: set[int] = set()
        skip_until = 0
        walk = zip(seg_of[rep].tolist(), cand_doc[rep].tolist(), cand_pos[rep].tolist(), groups[rep].tolist())
        for sg, d, p, g in walk:
            if (sg, d) != cur:
                cur, added, skip_until = (sg, d), set(), 0
            if p < skip_until:
                continue
            if g in added:
                n = segments[sg][1]
                dup[n][d] += offsets[p + n] - offsets[p]
                skip_until = p + n
            else:
                added.add(g)
    return top, dup
