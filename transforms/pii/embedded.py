"""E-mail addresses where real text puts them: encoded in URLs and quoted-printable mail, glued to other
characters, folded across a header line break, and embedded in bounce (VERP) addresses.

Presidio's e-mail pattern reads the text as written, so ``userid%40host.com`` (URL encoding),
``email=3Dme@exam=\\nple.com`` (quoted-printable, with a soft line break inside the address) and
``me@aol.comWrite`` (glued to the next word) escape it. ``EmbeddedEmailRecognizer`` reads a decoded view
of the text instead, whose characters map back to spans of the original, and classifies every
address-shaped string:

- ``personal``: an address (redacted);
- ``bounce``: a bounce address whose local part embeds a recipient, ``list-bounces--user=host.com@...`` or
  ``...--user#host.com@...`` (redacted whole, even when the outer domain is not a public one);
- ``message_id``: no user part: every piece of the local part is machine-made and one is generated
  (``2002082212.g7MB4811``), or, inside ``<...>`` on a Message-ID / References header, every piece is
  machine-made (``15735.50243.135@host``); left, and counted;
- ``no_public_suffix``: the domain has no public suffix (``root@localhost``, ``a@b.example``; left, counted);
- ``no_user_part``: nothing but punctuation before the "@" (``=@host.jp``; left, counted).

The left ones are returned as entity ``left:EMAIL_ADDRESS`` with ``LEFT_KEY`` (the reason) in their
metadata: the scanner counts them and never redacts them.
"""
from __future__ import annotations

import re
import typing
from typing import Optional

import tldextract
from presidio_analyzer import EntityRecognizer, RecognizerResult

# Offline public-suffix lookups: no suffix-list URL and no cache directory, so tldextract uses the
# snapshot bundled in its wheel and never opens a socket (its module default fetches the list).
OFFLINE_TLD = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

LEFT_KEY = "pilewright_left"  # recognition_metadata key: why an address-shaped string was left
LEFT_SCORE = 0.001  # above 0 (Presidio drops zero scores before the scanner could count them)
# Left strings are reported under their own entity type, "left:<ENTITY>": under the entity's own type,
# Presidio's de-duplication would drop one inside a weaker finding of the same type (and could drop a
# weaker finding inside a left one).
LEFT_TYPE = "left:"
FOUND_SCORE = 1.0  # what Presidio's e-mail recognizer gives a validated address

# What the decoded view undoes. Quoted-printable soft line breaks vanish; "=3D", "%40", "&#64;" become
# their character; a header folded next to "@" or a dot ("me@\n\taol.com") is joined.
_DECODE = re.compile(
    r"=\r?\n"
    r"|=(?:3D|40|2E|3A|5F|2D|2B)"
    r"|%(?:40|2E|3D|3A|5F|2D|2B)"
    r"|&#0*64;|&#[xX]0*40;|&#0*46;"
    r"|(?<=[@.])\r?\n[ \t]+|\r?\n[ \t]+(?=[@.])",
    re.IGNORECASE,
)
_CODES = {"3d": "=", "40": "@", "2e": ".", "3a": ":", "5f": "_", "2d": "-", "2b": "+", "64": "@", "46": "."}
# cheap test for "this text needs a decoded view at all"
_NEEDS_DECODING = re.compile(r"=\r?\n|=(?:3D|40)|%40|&#|[@.]\r?\n[ \t]|\n[ \t]+[@.]", re.IGNORECASE)
# any "@" or encoded "@": where an address can be (also the pre-screen's e-mail candidates)
AT_SIGNS = re.compile(r"@|%40|=40|&#0*64;|&#x0*40;", re.IGNORECASE)

# Local part: the characters addresses use in practice, plus "=" and "#" that bounce addresses embed.
# "/", "?", "&" and ":" end it: they separate URL parts ("path/me@host", "?userid=me@host", "mailto:").
_ADDRESS = re.compile(
    r"(?P<local>[A-Za-z0-9._%+'#=-]+)@(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+)"
)
_VERP = re.compile(r"(?P<user>[A-Za-z0-9._+-]+)[=#](?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
_PIECES = re.compile(r"[._$+=/#%-]+")


class DecodedView(typing.NamedTuple):
    text: str
    starts: list[int]  # original offset where view character i starts
    ends: list[int]  # original offset where it ends

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.starts[a], self.ends[b - 1]


def decoded_view(text: str) -> Optional[DecodedView]:
    """The text with URL, quoted-printable and HTML encodings of address characters undone, or None when
    there is nothing to undo."""
    if not _NEEDS_DECODING.search(text):
        return None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _DECODE.finditer(text):
        for i in range(pos, m.start()):
            out.append(text[i])
            starts.append(i)
            ends.append(i + 1)
        token = m.group()
        if token[0] in "=%":
            code = token[1:].lower()
            if code in _CODES:
                out.append(_CODES[code])
                starts.append(m.start())
                ends.append(m.end())
        elif token.startswith("&#"):
            digits = token[2:-1].lower().lstrip("x").lstrip("0")
            out.append("@" if digits in ("64", "40") else ".")
            starts.append(m.start())
            ends.append(m.end())
        pos = m.end()
    for i in range(pos, len(text)):
        out.append(text[i])
        starts.append(i)
        ends.append(i + 1)
    return DecodedView("".join(out), starts, ends)


def public_domain(domain: str) -> Optional[str]:
    """``domain`` (or its prefix, when a word is glued to its end: ``aol.comWrite``) if it ends in a
    public suffix, else None."""
    if _has_public_suffix(domain):
        return domain
    head, _, last = domain.rpartition(".")
    # a word glued to the top-level label starts where the character class changes: "comWrite", "com2002"
    for i in range(len(last) - 1, 0, -1):
        a, b = last[i - 1], last[i]
        if (a.islower() and b.isupper()) or (a.isalpha() != b.isalpha()):
            candidate = f"{head}.{last[:i]}"
            if _has_public_suffix(candidate):
                return candidate
    return None


def _has_public_suffix(domain: str) -> bool:
    parts = OFFLINE_TLD(domain)
    return bool(parts.suffix and parts.domain)


def machine_local_part(local: str) -> bool:
    """True when no piece of the local part looks like a user: message ids such as
    ``200208221234.g7MBYrZ04811`` or ``3D6A1B2C.5060701``. A name with a number (``honey9531``) is a user."""
    pieces = [p for p in _PIECES.split(local) if p]
    if not pieces:
        return False
    alnum = sum(len(p) for p in pieces)
    digits = sum(c.isdigit() for p in pieces for c in p)
    # one piece alone must be long: "4155550147@sms-gateway" is a phone number used as a user name
    if len(pieces) == 1 and len(local) < 16:
        return False
    return digits >= 0.3 * alnum and all(_machine_piece(p) for p in pieces)


def generated_local_part(local: str) -> bool:
    """A machine-made local part that cannot be a user name anywhere: besides being machine-made, it has a
    generated piece (letters and digits mixed, hex with letters) or a timestamp-long digit run.

    Digits alone (other than a date-time) are not enough: CompuServe (``76711.1234@compuserve.com``) and T-Online
    (``520061089980-0001@t-dialin.net``) gave users numeric addresses. Those are left only inside an id
    header (see ``in_id_header``).
    """
    if not machine_local_part(local):
        return False
    return any((any(c.isalpha() for c in p) and any(c.isdigit() for c in p)) or _TIMESTAMP.fullmatch(p)
               for p in _PIECES.split(local))


# a date-time written as digits (yyyymmddhhmm...): how mail software starts its ids; a 12-digit run
# that is not one can be a customer number (T-Online's "520061089980-0001")
_TIMESTAMP = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{4,}")


_ID_HEADER = re.compile(r"(?:message-id|references|in-reply-to|content-id|resent-message-id|x-message-id)\s*:",
                        re.IGNORECASE)


def in_id_header(text: str, start: int) -> bool:
    """Whether ``text[start]`` is inside ``<...>`` on a Message-ID, References, In-Reply-To or Content-ID
    header line (continuation lines included), as far as ``text`` shows."""
    if start == 0 or text[start - 1] != "<":
        return False
    line = text.rfind("\n", 0, start) + 1
    while line > 0 and text[line : line + 1] in (" ", "\t"):
        line = text.rfind("\n", 0, line - 1) + 1
    return _ID_HEADER.match(text, line) is not None


def _machine_piece(piece: str) -> bool:
    if piece.isdigit():
        return True
    if not any(c.isdigit() for c in piece):
        return False
    if len(piece) >= 8 and all(c in "0123456789abcdefABCDEF" for c in piece):
        return True
    # letters and digits alternating three or more times: generated ("g7MBYrZ04811"), not a name + number
    switches = sum(1 for a, b in zip(piece, piece[1:]) if a.isdigit() != b.isdigit())
    return switches >= 3


class Address(typing.NamedTuple):
    start: int  # in the text it was found in
    end: int
    kind: str  # personal | bounce | message_id | no_public_suffix


def classify_address(local: str, domain: str, id_header: bool = False) -> tuple[str, int, int]:
    """(kind, characters to drop from the start of ``local``, characters to drop from the end of ``domain``).

    ``id_header``: the string sits in ``<...>`` on a message-id header, where a machine-made local part
    with digits only is an id too; elsewhere only a generated one is (see ``generated_local_part``).
    """
    verp = _VERP.search(local)
    if verp is not None and _has_public_suffix(verp.group("host")):
        return "bounce", 0, 0
    # "userid=me", "E=me": the address starts after the last "=" (a URL parameter or header tag before it)
    cut = local.rfind("=") + 1
    user = local[cut:]
    # leading dots, quotes and hyphens are punctuation around the address, not part of it
    stripped = user.lstrip(".'-")
    cut += len(user) - len(stripped)
    user = stripped
    good = public_domain(domain)
    if not user:
        return "no_user_part", cut, 0
    if good is None:
        return "no_public_suffix", cut, 0
    if generated_local_part(user) or (id_header and machine_local_part(user)):
        return "message_id", cut, len(domain) - len(good)
    return "personal", cut, len(domain) - len(good)


def find_addresses(text: str) -> list[Address]:
    """Every address-shaped string of ``text`` (read through its decoded view), classified."""
    view = decoded_view(text)
    source = view.text if view is not None else text
    out = []
    for m in _ADDRESS.finditer(source):
        kind, drop_left, drop_right = classify_address(m.group("local"), m.group("domain"),
                                                       in_id_header(source, m.start()))
        a, b = m.start() + drop_left, m.end() - drop_right
        if view is not None:
            a, b = view.span(a, b)
        out.append(Address(a, b, kind))
    return out


LEFT_KINDS = ("message_id", "no_public_suffix", "no_user_part")


class EmbeddedEmailRecognizer(EntityRecognizer):
    """Addresses in URLs, encoded mail, glued text, folded headers and bounce addresses (see module doc)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["EMAIL_ADDRESS"], name="EmbeddedEmailRecognizer",
                         supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001, ANN201 - Presidio's signature
        if not AT_SIGNS.search(text):
            return []
        out = []
        for addr in find_addresses(text):
            left = addr.kind in LEFT_KINDS
            meta = {
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                # decided here: no context word may lift a left one over the threshold
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
            }
            if left:
                meta[LEFT_KEY] = addr.kind
            entity = f"{LEFT_TYPE}EMAIL_ADDRESS" if left else "EMAIL_ADDRESS"
            out.append(RecognizerResult(entity, addr.start, addr.end, LEFT_SCORE if left else FOUND_SCORE,
                                        analysis_explanation=None, recognition_metadata=meta))
        return out
