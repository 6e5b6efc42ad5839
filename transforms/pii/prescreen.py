"""A cheap regex pre-screen: where in a text a configured entity could possibly be.

Every candidate pattern is a superset of what the matching Presidio recognizers can find (a test checks
this on real and generated text), so a text with no candidate has nothing to redact and skips the
analyzer, and a text with candidates is analyzed only in windows around them.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

# Characters python-phonenumbers accepts between digit groups (its _VALID_PUNCTUATION plus white space
# and the plus sign); up to four of them may separate two groups of one number.
_SEP = (
    r"[\s\-x\u2010-\u2015\u2212\u30fc\uff0d\uff0f\u00ad\u200b\u2060\u3000()"
    r"\uff08\uff09\uff3b\uff3d.\[\]/~\u2053\u223c\uff5e+\uff0b]"
)


def digit_run_regex(min_digits: int) -> "re.Pattern[str]":
    """Maximal runs of digit groups (up to four separators between digits) with at least ``min_digits``.

    Each repetition adds exactly one digit, so the count is checked by the regex engine, not in Python.
    """
    return re.compile(rf"\d(?:{_SEP}{{0,4}}\d){{{max(0, min_digits - 1)},}}")


# anchored on the last digit of the first octet: "\d{1,3}\." would retry at every digit of every number
_IPV4 = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
# One regex per kind, each starting with a rare character class: a single alternation of all of them
# is several times slower, because every position of the text then tries every branch.
# Presidio's e-mail pattern needs "@" followed by a word character; EmbeddedEmailRecognizer also reads
# encoded ones ("%40", quoted-printable "=40", "&#64;") and "@" before a folded header line break
_EMAIL = re.compile(r"@(?=[\w\r\n])|%40|=40|&#0*64;|&#x0*40;", re.IGNORECASE)
_IPV6 = re.compile(r":[0-9A-Fa-f]{0,4}:")  # every IPv6 form has two colons at most 4 hex digits apart
# IBAN: two letters, two check digits, a group of four; found from the digits (rarer than letters), the
# letters are checked in Python
_IBAN_DIGITS = re.compile(r"\d\d[ -]?[A-Za-z0-9]{4}")
# Bitcoin (base58/bech32, 26-62 characters) and Ethereum (0x + 40 hex) addresses are long runs of
# letters and digits; only white-space tokens of 26+ characters are searched for them
_ALNUM = re.compile(r"[A-Za-z0-9]{26,}")
_LONG_TOKEN = 26

# Fewest digits a digit-based entity can have. Phone numbers: ContextPhoneRecognizer takes 6 ("61 51 81");
# numbers valid in a numbering plan have at least 7 in the enabled regions (shorter valid ones are service
# numbers such as Dutch 14xxx municipal lines), see RegionPhoneRecognizer. SSN: 9. Card: 12.
MIN_DIGITS = {"PHONE_NUMBER": 6, "US_SSN": 9, "CREDIT_CARD": 12}
MIN_PLAN_PHONE_DIGITS = 7


class Prescreen:
    """Finds candidate spans for a set of entities."""

    def __init__(self, entities: Iterable[str]):
        wanted = set(entities)
        self.min_digits = min((n for e, n in MIN_DIGITS.items() if e in wanted), default=0)
        self._email = "EMAIL_ADDRESS" in wanted
        self._ip = "IP_ADDRESS" in wanted
        self._iban = "IBAN_CODE" in wanted
        self._crypto = "CRYPTO" in wanted
        self._digit_run = digit_run_regex(self.min_digits) if self.min_digits else None

    def candidates(self, text: str) -> list[tuple[int, int]]:
        """Spans where an entity could be, in text order."""
        out: list[tuple[int, int]] = []
        if self._email and ("@" in text or "40" in text or "&#" in text):
            out.extend(m.span() for m in _EMAIL.finditer(text))
        if self._ip and ":" in text:
            out.extend(m.span() for m in _IPV6.finditer(text))
        if self._iban:
            for m in _IBAN_DIGITS.finditer(text):
                a = m.start()
                if a >= 2 and text[a - 2 : a].isascii() and text[a - 2 : a].isalpha():
                    out.append((a - 2, m.end()))
        if self._crypto and max(map(len, text.split()), default=0) >= _LONG_TOKEN:
            out.extend(m.span() for m in _ALNUM.finditer(text))
        if self._ip:
            out.extend(m.span() for m in _IPV4.finditer(text))
        if self._digit_run is not None:
            out.extend(m.span() for m in self._digit_run.finditer(text))
        out.sort()
        return out


def windows(text: str, spans: Sequence[tuple[int, int]], pad: int, max_reach: int = 512) -> list[tuple[int, int]]:
    """Text windows to analyze around candidate spans, overlapping ones merged.

    Each span first grows to the white space around it (an e-mail candidate is only its "@"), by at most
    ``max_reach`` characters each way, then by ``pad`` characters for context words, then out to white
    space again so no word is cut at a window edge.
    """
    length = len(text)
    out: list[list[int]] = []
    for start, end in sorted(spans):
        a = _to_space_left(text, start, max_reach)
        b = _to_space_right(text, end, max_reach)
        a = _to_space_left(text, max(0, a - pad), max_reach)
        b = _to_space_right(text, min(length, b + pad), max_reach)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _to_space_left(text: str, i: int, reach: int) -> int:
    lo = max(0, i - reach)
    while i > lo and not text[i - 1].isspace():
        i -= 1
    return i


def _to_space_right(text: str, i: int, reach: int) -> int:
    hi = min(len(text), i + reach)
    while i < hi and not text[i].isspace():
        i += 1
    return i
