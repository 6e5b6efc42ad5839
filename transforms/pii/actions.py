"""What happens to a found entity: overlap resolution, replace / mask / keyed hash, and counts.

Pure functions. Redaction is fail-closed on overlaps: overlapping findings become one redacted region
(their union), labelled with the best-scoring finding, so a value two recognizers disagree about is never
left half visible.
"""
from __future__ import annotations

import hashlib
import re
import typing
from typing import Iterable, Optional, Sequence

HASH_PERSON = b"pilewright-pii"  # BLAKE2b personalization: these MACs differ from any other use of the key


class Finding(typing.NamedTuple):
    """One entity in a text: ``text[start:end]`` is the value (never stored beyond the scan)."""

    start: int
    end: int
    entity: str
    score: float


def resolve(findings: Iterable[Finding]) -> list[Finding]:
    """Overlapping findings merged into their union, labelled by the best one; sorted by position.

    Best = highest score, then longest, then entity name (so ties never depend on input order).
    """
    ordered = sorted(findings, key=lambda f: (f.start, f.end))
    out: list[Finding] = []
    group: list[Finding] = []
    group_end = -1
    for f in ordered:
        if group and f.start < group_end:
            group.append(f)
            group_end = max(group_end, f.end)
            continue
        if group:
            out.append(_merged(group, group_end))
        group, group_end = [f], f.end
    if group:
        out.append(_merged(group, group_end))
    return out


def _merged(group: Sequence[Finding], end: int) -> Finding:
    best = min(group, key=lambda f: (-f.score, -(f.end - f.start), f.entity))
    return Finding(group[0].start, end, best.entity, best.score)


def entity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Entity type -> number of regions, sorted by type: what ``Document.pii_counts`` holds."""
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.entity] = counts.get(f.entity, 0) + 1
    return dict(sorted(counts.items()))


def normalize_value(entity: str, value: str) -> str:
    """The form hashed: separators and case do not change a number's or an address's tag."""
    if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE"):
        return "".join(c for c in value if c.isalnum()).upper()
    if entity in ("EMAIL_ADDRESS", "IP_ADDRESS"):
        return value.strip().lower()
    return value.strip()


def derive_key(secret: str) -> bytes:
    """A 64-byte BLAKE2b key from a secret of any length."""
    return hashlib.blake2b(secret.encode("utf-8"), digest_size=64, person=b"pilewright-key").digest()


def keyed_tag(entity: str, value: str, key: bytes, chars: int) -> str:
    """Keyed BLAKE2b (a MAC, RFC 7693) of the normalized value, as ``chars`` hex digits."""
    mac = hashlib.blake2b(normalize_value(entity, value).encode("utf-8", "surrogatepass"), key=key,
                          digest_size=32, person=HASH_PERSON)
    return mac.hexdigest()[:chars]


def placeholder(entity: str, value: str, action: str, *, key: Optional[bytes] = None, hash_chars: int = 12,
                mask_char: str = "*") -> str:
    if action == "replace":
        return f"<{entity}>"
    if action == "mask":
        return mask_char * len(value)
    if action == "hash":
        if not key:
            raise ValueError("the hash action needs a key")
        return f"<{entity}:{keyed_tag(entity, value, key, hash_chars)}>"
    raise ValueError(f"unknown action {action!r}")


def redact(text: str, findings: Sequence[Finding], action: str, *, key: Optional[bytes] = None,
           hash_chars: int = 12, mask_char: str = "*") -> str:
    """``text`` with every (resolved, non-overlapping) finding replaced by its placeholder."""
    parts = []
    pos = 0
    for f in findings:
        if f.start < pos:
            raise ValueError("findings overlap; pass them through resolve() first")
        parts.append(text[pos : f.start])
        parts.append(placeholder(f.entity, text[f.start : f.end], action, key=key, hash_chars=hash_chars,
                                 mask_char=mask_char))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def drop_cut_tail(text: str) -> str:
    """For a text cut at a fixed length: drops the cut last word and any digit or "@" words before it.

    A value cut in half ("call 415 555 12") is not recognizable, so its visible part is removed.
    """
    words = [m.span() for m in _WORD.finditer(text)]
    if not words:
        return text
    words.pop()  # the word the cut went through (or that touches the cut)
    while words and any(c.isdigit() or c == "@" for c in text[words[-1][0] : words[-1][1]]):
        words.pop()
    return text[: words[-1][1]] + " " if words else ""


_WORD = re.compile(r"\S+")
