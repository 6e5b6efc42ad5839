"""MinHash signatures and LSH band keys, vectorized with numpy. Pure; no Beam.

A shingle is a word n-gram (lowercased runs of word characters, as ``re``'s ``\\w``) or a character n-gram
(lowercased text, whitespace runs collapsed to one space). Each token is hashed once with 64-bit xxh3; an
n-gram hash combines its tokens' hashes with per-position odd multipliers and a murmur3 finalizer, so
hashing a document costs one C call per token plus a few array operations. Permutation ``k`` maps a shingle
hash ``x`` to ``a_k * x + b_k mod 2**64`` (a bijection for odd ``a_k``; ``x`` is already uniformly
mixed, so the minimum of each permuted set is a MinHash), with ``a_k, b_k`` drawn from the seed. The
estimates agree with ``datasketch.MinHash`` (tests/transforms/dedup/test_dedup_minhash.py).
"""
from __future__ import annotations

import hashlib
import re

import numpy as np
import xxhash

U64 = np.uint64
MAX_U64 = np.iinfo(np.uint64).max
# rows of the (shingles x permutations) block computed at once: ~1 MB for 128 permutations, cache-sized
BLOCK_ROWS = 1024
_WORD = re.compile(r"\w")


def _word_table() -> str:
    """str.translate table: word characters stay, every other BMP character becomes a space.

    Characters beyond the BMP are left as they are (translate keeps what the table cannot index), so an
    emoji is part of the word next to it; rare, and it does not change which documents are duplicates.
    """
    chars = []
    for code in range(0x10000):
        ch = chr(code)
        keep = 0xD800 <= code < 0xE000 or _WORD.match(ch) is not None
        chars.append(ch if keep else " ")
    return "".join(chars)


_TABLE = _word_table()


def fmix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finalizer, in place on a uint64 array (a bijection with full avalanche)."""
    x ^= x >> U64(33)
    x *= U64(0xFF51AFD7ED558CCD)
    x ^= x >> U64(33)
    x *= U64(0xC4CEB9FE1A85EC53)
    x ^= x >> U64(33)
    return x


def _params(seed: int, tag: str, size: int, odd: bool) -> np.ndarray:
    # blake2b of (seed, tag) seeds numpy's PCG64: the same parameters on every worker and platform
    key = int.from_bytes(hashlib.blake2b(f"{seed}\x1f{tag}".encode(), digest_size=16).digest(), "big")
    rng = np.random.Generator(np.random.PCG64(key))
    out = rng.integers(0, 2**64, size=size, dtype=np.uint64, endpoint=False)
    return out | U64(1) if odd else out


def words(text: str) -> list[bytes]:
    """Lowercased runs of word characters, UTF-8 encoded (what word n-grams are made of)."""
    return text.lower().translate(_TABLE).encode("utf-8", "surrogatepass").split()


def _combine(values: np.ndarray, n: int, multipliers: np.ndarray) -> np.ndarray:
    """Hash of every window of ``n`` consecutive values: sum of value * per-position odd constant, mixed."""
    m = len(values) - n + 1
    acc = values[:m] * multipliers[0]
    for j in range(1, n):
        acc += values[j : j + m] * multipliers[j]
    return fmix64(acc)


class MinHasher:
    """Signatures of ``num_perm`` permutations over word or character ``ngram`` shingles.

    Build once per worker (the parameters are a few KB); every method is pure.
    """

    def __init__(self, num_perm: int, ngram: int = 5, unit: str = "word", seed: int = 1):
        if unit not in ("word", "char"):
            raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
        self.num_perm = num_perm
        self.ngram = ngram
        self.unit = unit
        self.seed = seed
        self._pos = _params(seed, "ngram-positions", ngram, odd=True)
        self._a = _params(seed, "perm-a", num_perm, odd=True)
        self._b = _params(seed, "perm-b", num_perm, odd=False)

    def shingle_hashes(self, text: str) -> np.ndarray:
        """uint64 hash of every n-gram (with repeats); empty when the text has fewer than ``ngram`` units."""
        if self.unit == "word":
            toks = words(text)
            if len(toks) < self.ngram:
                return np.empty(0, dtype=np.uint64)
            values = np.fromiter(map(xxhash.xxh3_64_intdigest, toks), dtype=np.uint64, count=len(toks))
        else:
            norm = " ".join(text.lower().split())
            if len(norm) < self.ngram:
                return np.empty(0, dtype=np.uint64)
            # code points, mixed so neighbouring characters differ in every bit
            values = fmix64(np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(U64))
        return _combine(values, self.ngram, self._pos)

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """(num_perm,) uint64 minimum of each permutation over ``hashes``; all MAX_U64 when empty."""
        out = np.full(self.num_perm, MAX_U64, dtype=np.uint64)
        a, b = self._a, self._b[:, None]
        for start in range(0, len(hashes), BLOCK_ROWS):
            block = np.multiply.outer(a, hashes[start : start + BLOCK_ROWS])
            block += b
            np.minimum(out, block.min(axis=1), out=out)
        return out

    def signature(self, text: str) -> np.ndarray | None:
        """The MinHash signature of ``text``, or None when it has no shingle (too short to compare)."""
        hashes = self.shingle_hashes(text)
        if hashes.size == 0:
            return None
        return self.signature_of_hashes(hashes)


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of equal permutation minima: an unbiased estimate of the shingle sets' Jaccard similarity."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


class Bander:
    """LSH band keys: ``bands`` keys of ``rows`` signature values each, salted by band and scope."""

    def __init__(self, bands: int, rows: int, seed: int = 1):
        self.bands = bands
        self.rows = rows
        self._row_mult = _params(seed, "band-rows", rows, odd=True)
        self._band_salt = _params(seed, "band-salt", bands, odd=False)

    def keys(self, signature: np.ndarray, scope_salt: int = 0) -> list[int]:
        """One signed 64-bit int per band (ints encode compactly and deterministically as Beam keys).

        Two documents share a band key when their ``rows`` values in that band are all equal (and they
        are in the same scope); unequal rows collide with probability about 2**-64.
        """
        table = signature[: self.bands * self.rows].reshape(self.bands, self.rows)
        acc = table[:, 0] * self._row_mult[0]
        for j in range(1, self.rows):
            acc += table[:, j] * self._row_mult[j]
        acc += self._band_salt
        acc ^= U64(scope_salt & 0xFFFFFFFFFFFFFFFF)
        return fmix64(acc).view(np.int64).tolist()


def band_match_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two documents with this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - jaccard**rows) ** bands

