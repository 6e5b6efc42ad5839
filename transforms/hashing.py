"""Stable hashing: process-independent hashes and per-record randomness (never the salted built-in ``hash``)."""
from __future__ import annotations

import hashlib


def stable_hash64(*parts: str) -> int:
    """Process-independent 64-bit hash (Python's built-in string hash is salted per process)."""
    h = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "big")


def stable_hash128_hex(data: str | bytes) -> str:
    """128-bit content hash as hex, for exact-duplicate keys and cluster ids."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def seeded_unit(seed: int, *parts: str) -> float:
    """Deterministic number in [0, 1) from (seed, parts): per-record randomness without ``random``."""
    return stable_hash64(str(seed), *parts) / 2.0**64
