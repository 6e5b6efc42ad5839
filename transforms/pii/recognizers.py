"""The Presidio analyzer the pii stage runs: offline pattern recognizers, optional spaCy NER.

Built once per worker (``DoFn.setup``). Nothing here touches the network: the e-mail recognizer's
public-suffix check uses tldextract's bundled snapshot, and no spaCy model is ever downloaded (NER runs
only when a model is already installed).
"""
from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional, Sequence

import phonenumbers
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from pilewright.schemas.stages.pii import NER_ENTITIES, PIIConfig
from pilewright.transforms.pii.embedded import LEFT_KEY, LEFT_SCORE, LEFT_TYPE, EmbeddedEmailRecognizer, classify_address, in_id_header
from pilewright.transforms.pii.prescreen import MIN_PLAN_PHONE_DIGITS, digit_run_regex

LANGUAGE = "en"
# "auto" takes the first installed; trf last, it is slow on CPU
NER_MODEL_PREFERENCE = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")

# Words that make a phone-shaped number a phone number. Matched whole-word against lower-cased tokens,
# so inflections are listed (substring matching would let "cell" fire on "excellent", "tel" on "hotel").
PHONE_CONTEXT = [
    "phone", "phones", "telephone", "tel", "cell", "cellphone", "mobile", "mob", "fax", "call", "calls",
    "called", "calling", "dial", "desk", "office", "contact", "reach", "text", "sms", "whatsapp",
    "answer", "answering", "message", "messages", "hotline", "ext", "extension", "landline", "ph",
]
SSN_CONTEXT = ["ssn", "ssns", "social", "security", "ssid"]
CARD_CONTEXT = ["credit", "card", "visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "cc"]
IBAN_CONTEXT = ["iban", "bank", "account", "transfer", "transaction"]
EMAIL_CONTEXT = ["email", "mail", "contact"]
IP_CONTEXT = ["ip", "ipv4", "ipv6", "address", "host", "server"]
CRYPTO_CONTEXT = ["wallet", "btc", "bitcoin", "crypto", "eth", "ethereum", "address"]

class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with the public-suffix check served from the bundled snapshot.

    Only the domain is checked: Presidio's pattern lets "/", "?", "#" and "=" into the local part
    ("path/me@host.com", "asp?userid=me@host.com"), and tldextract reads the whole match as a URL whose
    host ends at the first of them, so such addresses used to fail the check and stay. The address is
    classified as ``EmbeddedEmailRecognizer`` does: message ids and suffix-less domains are left to it
    (it counts them).
    """

    def validate_result(self, pattern_text: str) -> bool:
        local, _, domain = pattern_text.rpartition("@")
        local = _URL_PARTS.split(local)[-1]
        return classify_address(local, domain)[0] in ("personal", "bounce")

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # noqa: ANN001, ANN201
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        kept = []
        for r in results:
            # validate_result could not see the header: a digits-only id inside <...> on a Message-ID or
            # References line is an id (EmbeddedEmailRecognizer counts it as left)
            local, _, domain = text[r.start : r.end].rpartition("@")
            local = _URL_PARTS.split(local)[-1]
            at = r.end - len(domain) - 1 - len(local)
            if classify_address(local, domain, in_id_header(text, at))[0] == "message_id":
                continue
            kept.append(r)
        results = kept
        for r in results:
            # the URL before the address ("host/path.asp?userid=") stays readable: start after it
            local = text[r.start : text.rfind("@", r.start, r.end)]
            parts = _URL_PARTS.split(local)
            if len(parts) > 1:
                r.start += len(local) - len(parts[-1])
        return results


_URL_PARTS = re.compile(r"[/?&:]")


class CardRecognizer(CreditCardRecognizer):
    """Card numbers of 12 to 19 digits that pass Luhn (Presidio's own checksum).

    Presidio's stock pattern only takes 13-19 digits starting 1, 3-6; Maestro (12 digits, 50/56-69 and
    0604), Mastercard's 2-series (2221-2720) and 19-digit Visa are missed. Issuer industry digits 7-9
    (petroleum, telecom, national) are left out. Digits are either unseparated or in the printed groups
    (4-4-4[-4[-3]], Amex 4-6-5, Diners 4-6-4) with one separator kind.
    """

    _EDGE_BEFORE = r"(?<![\w.,+-])"
    _EDGE_AFTER = r"(?![\w]|[.,-]\d)"
    PATTERNS = [
        Pattern("Card digits (weak)", _EDGE_BEFORE + r"[0-6]\d{11,18}" + _EDGE_AFTER, 0.3),
        # 4-4-4[-4[-3]] groups with one separator kind throughout
        Pattern("Card 4-digit groups (weak)",
                _EDGE_BEFORE + r"[0-6]\d{3}([ -])\d{4}\1\d{4}(?:\1\d{1,4}){0,2}" + _EDGE_AFTER, 0.3),
        # Amex 4-6-5 and Diners 4-6-4
        Pattern("Card 4-6-5 groups (weak)", _EDGE_BEFORE + r"3\d{3}([ -])\d{6}\1\d{4,5}" + _EDGE_AFTER, 0.3),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, context=CARD_CONTEXT)

    def invalidate_result(self, pattern_text: str) -> bool:
        return not 12 <= sum(c.isdigit() for c in pattern_text) <= 19


class CaseInsensitiveIbanRecognizer(IbanRecognizer):
    """Presidio's IBAN recognizer (ISO 13616 check digits + per-country format), also in lower case."""

    def __init__(self) -> None:
        super().__init__(context=IBAN_CONTEXT, regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE)

    def validate_result(self, pattern_text: str):  # noqa: ANN201 - Presidio's tri-state
        return super().validate_result(pattern_text.upper())


class EthereumRecognizer(PatternRecognizer):
    """``0x`` + 40 hex digits: Ethereum-style account addresses (no Keccak checksum: mixed case optional)."""

    PATTERNS = [Pattern("Ethereum address (medium)", r"\b0x[0-9a-fA-F]{40}\b", 0.5)]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CRYPTO", patterns=self.PATTERNS, context=CRYPTO_CONTEXT, name="EthereumRecognizer"
        )


class _RegionPlan(typing.NamedTuple):
    """What a region's numbering plan says about digit counts, for a cheap check before parsing."""

    region: str
    lengths: frozenset[int]  # national significant number lengths of valid numbers of its country code
    country_code: str
    international_prefix: Optional["re.Pattern[str]"]
    national_prefix: Optional["re.Pattern[str]"]
    exact: bool  # False when the plan rewrites national prefixes: no shortcut then

    @classmethod
    def of(cls, region: str) -> "_RegionPlan":
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        # a number parsed under one region is validated for whichever region of its country code it
        # belongs to ("310-1234" parsed as US is a valid Canadian number), so take all their lengths
        lengths: set[int] = set()
        for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(md.country_code, (region,)):
            other_md = phonenumbers.PhoneMetadata.metadata_for_region(other)
            if other_md is not None:
                lengths.update(other_md.general_desc.possible_length)
        return cls(
            region=region,
            lengths=frozenset(lengths),
            country_code=str(md.country_code),
            international_prefix=re.compile(md.international_prefix) if md.international_prefix else None,
            national_prefix=re.compile(md.national_prefix_for_parsing) if md.national_prefix_for_parsing else None,
            exact=md.national_prefix_transform_rule is None,
        )

    def could_be_valid(self, digits: str) -> bool:
        """False only when no reading of ``digits`` in this region has a valid length.

        A necessary condition of ``parse(candidate, region)`` + ``is_valid_number``: the number is read as
        national (optionally after a national prefix), or as international when it starts with the
        region's international prefix or its own country code. The tests check the shortcut changes no
        match.
        """
        if not self.exact or len(digits) in self.lengths or digits.startswith(self.country_code):
            return True
        if self.international_prefix is not None and self.international_prefix.match(digits):
            return True
        if self.national_prefix is not None:
            for k in range(1, min(8, len(digits))):
                if len(digits) - k in self.lengths and self.national_prefix.fullmatch(digits[:k]):
                    return True
        return False


_UNSEEN = object()
_UNGROUPED = object()  # memo value: valid in a region, but not grouped as the region writes numbers


class _AnyRegionMatcher(phonenumbers.PhoneNumberMatcher):
    """One ``PhoneNumberMatcher`` pass that accepts a candidate valid in any of several regions.

    The matcher's candidate search, trimming and inner-match splitting run once instead of once per
    region; only the parse-and-validate step is repeated per region: once for "+country" numbers (their
    region is written in them), and only in regions whose plan allows the candidate's digit count.
    Relies on python-phonenumbers' ``_parse_and_verify`` hook; the tests check it against per-region
    matchers.
    """

    # (candidate, character before, character after, regions) -> parsed number or None. What
    # _parse_and_verify decides depends on nothing else, and e-mail headers repeat the same numbers
    # (hosts, versions, dates) thousands of times. Bounded; a pure function's memo, so output is unchanged.
    _memo: dict = {}
    MEMO_SIZE = 50_000

    def __init__(self, text: str, plans: Sequence[_RegionPlan], leniency: int):
        super().__init__(text, plans[0].region, leniency=leniency)
        self._plans = plans
        self._memo_scope = (leniency, tuple(p.region for p in plans))
        self.ungrouped: list[tuple[int, str]] = []  # (offset, candidate): valid digits, not grouped as a number

    def _parse_and_verify(self, candidate, offset):  # noqa: ANN001, ANN202 - phonenumbers' signature
        end = offset + len(candidate)
        key = (candidate, self.text[offset - 1] if offset > 0 else "", self.text[end] if end < len(self.text) else "",
               self._memo_scope)
        number = self._memo.get(key, _UNSEEN)  # one lookup: another thread may clear the memo
        if number is _UNSEEN:
            number = None
            base = self.leniency
            # dotted numbers and numbers of four or more digit groups must be grouped as the region
            # writes its numbers: "5.00.2615.200" (a version) and "0-596-00712-4" (an ISBN) are not,
            # "01.42.68.53.00" and "1.800.555.1234" are
            if self.leniency == phonenumbers.Leniency.VALID and _needs_grouping(candidate):
                self.leniency = phonenumbers.Leniency.STRICT_GROUPING
            try:
                number = self._first_valid(candidate, offset)
                if number is None and self.leniency != base:
                    # valid, but not written as a number: left, and counted as such
                    self.leniency = base
                    number = _UNGROUPED if self._first_valid(candidate, offset) is not None else None
            finally:
                self.leniency = base
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = number
        if number is _UNGROUPED:
            self.ungrouped.append((offset, candidate))
            return None
        return phonenumbers.PhoneNumberMatch(offset, candidate, number) if number is not None else None

    def _first_valid(self, candidate, offset):  # noqa: ANN001, ANN202
        for region in self._regions_to_try(candidate):
            self.preferred_region = region
            match = super()._parse_and_verify(candidate, offset)
            if match is not None:
                return match.number
        return None

    def _regions_to_try(self, candidate: str) -> list[str]:
        if candidate.lstrip("([\uff08\uff3b").startswith(("+", "\uff0b")):
            return [self._plans[0].region]
        if any(c.isalpha() or c in "#;,*" for c in candidate):  # extensions, vanity letters: no shortcut
            return [p.region for p in self._plans]
        digits = phonenumbers.normalize_digits_only(candidate)
        return [p.region for p in self._plans if p.could_be_valid(digits)]


_GROUPS = re.compile(r"\d+")


def _needs_grouping(candidate: str) -> bool:
    if candidate.lstrip("([\uff08\uff3b").startswith(("+", "\uff0b")):
        return False  # written with its country code: international format, grouped by its writer
    return "." in candidate or len(_GROUPS.findall(candidate)) >= 4


class RegionPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer (python-phonenumbers, leniency VALID, score 0.4), made cheap.

    The stock recognizer runs one ``PhoneNumberMatcher`` per region over the whole text, and the matcher
    parses every digit group it meets (years, page numbers) in every region. Here one matcher pass
    covers all regions, and it only sees runs of digit groups with at least 7 digits (personal numbers
    in the enabled regions have 7 to 12; the shorter valid ones are service numbers), with a few
    characters of margin for a leading "+" or "(", the letter checks at its edges and an extension.
    """

    MARGIN_BEFORE = 6
    MARGIN_AFTER = 24

    def __init__(self, regions: Sequence[str]):
        super().__init__(context=PHONE_CONTEXT, supported_regions=tuple(regions), leniency=1)
        self._runs = digit_run_regex(MIN_PLAN_PHONE_DIGITS)
        self._plans = [_RegionPlan.of(r) for r in self.supported_regions]

    def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001, ANN201 - Presidio's signature
        found: dict[tuple[int, int], RecognizerResult] = {}
        left: dict[tuple[int, int], RecognizerResult] = {}
        for run in self._runs.finditer(text):
            a, b = run.span()
            lo, hi = max(0, a - self.MARGIN_BEFORE), min(len(text), b + self.MARGIN_AFTER)
            matcher = _AnyRegionMatcher(unglued(text, a, b, lo, hi), self._plans, self.leniency)
            for match in matcher:
                span = (lo + match.start, lo + match.end)
                if span not in found:
                    found[span] = self._result(span, self.SCORE)
            for offset, candidate in matcher.ungrouped:
                span = (lo + offset, lo + offset + len(candidate))
                left.setdefault(span, self._result(span, LEFT_SCORE, left="not_grouped_as_a_number"))
        results = [found[k] for k in sorted(found)]
        results += [r for (p, q), r in sorted(left.items()) if not any(x < q and p < y for x, y in found)]
        return EntityRecognizer.remove_duplicates(results)

    def _result(self, span: tuple[int, int], score: float, left: Optional[str] = None) -> RecognizerResult:
        meta = {
            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        if left is not None:
            meta[LEFT_KEY] = left
            meta[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True  # no context word may lift it
        entity = "PHONE_NUMBER" if left is None else f"{LEFT_TYPE}PHONE_NUMBER"
        return RecognizerResult(entity_type=entity, start=span[0], end=span[1], score=score,
                                analysis_explanation=self._get_analysis_explanation("any enabled region"),
                                recognition_metadata=meta)


def unglued(text: str, a: int, b: int, lo: int, hi: int) -> str:
    """``text[lo:hi]`` with a letter glued to either end of the digit run ``text[a:b]`` turned into a space.

    python-phonenumbers rejects a number touching a letter ("703-724-0118W", "703-995-0407Fax",
    "Tel(415) 867-5309"), which real text writes when a table or a signature loses its spacing. Only
    runs written in digit groups are unglued: a bare digit string glued to letters is an identifier
    ("ID20020822123456abc"). Same length, so the matcher's offsets hold.
    """
    run = text[a:b]
    if run.isdigit():
        return text[lo:hi]
    chars = list(text[lo:hi])
    if b < hi and text[b].isalpha():
        chars[b - lo] = " "
    i = a
    while i > lo and text[i - 1] in "(+":
        i -= 1
    if i > lo and text[i - 1].isalpha():
        chars[i - 1 - lo] = " "
    return "".join(chars)


class ContextPhoneRecognizer(PatternRecognizer):
    """Phone-shaped digit groups in any national format, kept only with a phone word nearby.

    python-phonenumbers validates numbers against a region's numbering plan, so short and foreign
    national formats ("61 51 81", "0487 98 11 92") are not valid in the enabled regions. These score 0.1,
    below the 0.4 threshold, and 0.45 when one of the five words before or two words after the number is
    in ``PHONE_CONTEXT``. The check is done here rather than by Presidio's lemma enhancer, which counts
    the number's own digit groups against its window and ignores spaCy stop words such as "call".
    """

    PATTERNS = [
        Pattern(
            "Phone-shaped digit groups (very weak)",
            r"(?<![\w+./-])(?<!\d,)"
            r"(?:\+\d{1,3}[ .-]?)?"  # country code
            r"(?:\(0\)[ .-]?)?"  # trunk prefix written as (0)
            r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
            r"\d{1,12}(?:[ .-]\d{1,8}){0,6}"  # digit groups
            r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?"  # extension
            r"(?![\w]|[.,/-]\d)",
            0.1,
        ),
    ]
    MIN_DIGITS = 6
    MAX_DIGITS = 15
    CONTEXT_SCORE = 0.45
    WORDS_BEFORE = 5
    WORDS_AFTER = 2
    _WORD = re.compile(r"[^\W\d_]+")
    _EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?\d")

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            patterns=self.PATTERNS,
            context=PHONE_CONTEXT,
            name="ContextPhoneRecognizer",
        )
        self._context = frozenset(PHONE_CONTEXT)

    def invalidate_result(self, pattern_text: str) -> bool:
        main = self._EXTENSION.split(pattern_text, maxsplit=1)[0]
        n_digits = sum(c.isdigit() for c in main)
        return not self.MIN_DIGITS <= n_digits <= self.MAX_DIGITS

    def has_context(self, text: str, start: int, end: int) -> bool:
        before = self._WORD.findall(text[max(0, start - 80) : start])[-self.WORDS_BEFORE :]
        after = self._WORD.findall(text[end : end + 40])[: self.WORDS_AFTER]
        return any(w.lower() in self._context for w in before + after)

    def enhance_using_context(self, text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts,
                              context=None):  # noqa: ANN001, ANN201 - Presidio's signature
        for result in raw_recognizer_results:
            if self.has_context(text, result.start, result.end):
                result.score = max(result.score, self.CONTEXT_SCORE)
            # the lemma enhancer must not boost again
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results


class _LazyTokenArtifacts(NlpArtifacts):
    """``NlpArtifacts`` whose tokens are only computed if a context lookup asks for them.

    Most results are already above their threshold and never need context words (see
    ``ThresholdContextEnhancer``), so most windows are never tokenized.
    """

    _TOKEN = re.compile(r"\w+|[^\w\s]")

    def __init__(self, text: str, nlp_engine: "TokenNlpEngine", language: str):  # noqa: D107 - no super(): lazy
        self._text = text
        self._parts: Optional[tuple[list[str], list[int], list[str], list[str]]] = None
        self.nlp_engine = nlp_engine
        self.language = language
        self.entities = []
        self.scores = []

    def _tokenized(self) -> tuple[list[str], list[int], list[str], list[str]]:
        if self._parts is None:
            words, starts = [], []
            for m in self._TOKEN.finditer(self._text):
                words.append(m.group())
                starts.append(m.start())
            lemmas = [w.lower() for w in words]
            self._parts = (words, starts, lemmas, self.set_keywords(self.nlp_engine, lemmas, self.language))
        return self._parts

    @property
    def tokens(self) -> list[str]:
        return self._tokenized()[0]

    @property
    def tokens_indices(self) -> list[int]:
        return self._tokenized()[1]

    @property
    def lemmas(self) -> list[str]:
        return self._tokenized()[2]

    @property
    def keywords(self) -> list[str]:
        return self._tokenized()[3]


class TokenNlpEngine(NlpEngine):
    """Tokens and lower-cased "lemmas" from a regex, no model: what Presidio's context words need.

    Presidio's default engine loads (and downloads) spaCy ``en_core_web_lg``; its no-op engine yields no
    tokens, which disables context words. This one splits words from punctuation (so "788-063-Office"
    gives "office") and filters spaCy's English stop-word list, with no model and no download. Tokens
    are plain strings, computed only when a context lookup needs them: the enhancer only needs their
    lengths and offsets, and building a spaCy ``Doc`` per window cost more than the pattern matching.
    """

    engine_name = "pilewright_tokens"
    is_available = True

    def __init__(self) -> None:
        self._stop_words: Optional[frozenset[str]] = None

    def load(self) -> None:
        from spacy.lang.en.stop_words import STOP_WORDS

        self._stop_words = frozenset(STOP_WORDS)

    def is_loaded(self) -> bool:
        return self._stop_words is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return _LazyTokenArtifacts(text, self, language)

    def process_batch(self, texts: Iterable, language: str, batch_size: int = 1, n_process: int = 1,
                      as_tuples: bool = False, **kwargs) -> Iterator:
        for item in texts:
            if as_tuples:
                text, context = item
                yield text, self.process_text(text, language), context
            else:
                yield item, self.process_text(item, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in self._stop_words

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


class ThresholdContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma context enhancer, run only on results still below their entity's threshold.

    Context words can only raise a score and the stage keeps a result when its score reaches the
    threshold, so enhancing a result already there changes nothing; it costs a deep copy and a token
    search per result, which on e-mail headers full of addresses was a third of the analysis time.
    """

    def __init__(self, thresholds: dict[str, float], **kwargs):
        super().__init__(**kwargs)
        self._thresholds = dict(thresholds)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers,  # noqa: ANN001, ANN201
                              context=None):
        low, done = [], []
        for r in raw_results:
            # at the threshold already, or boosted by its own recognizer (ContextPhoneRecognizer)
            if r.score >= self._thresholds.get(r.entity_type, 0.0) or (r.recognition_metadata or {}).get(
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY
            ):
                done.append(r)
            else:
                low.append(r)
        if not low:
            return raw_results
        return done + super().enhance_using_context(text, low, nlp_artifacts, recognizers, context)


def installed_ner_model(choice: Optional[str]) -> Optional[str]:
    """The spaCy model to load for NER, or None. Never downloads: only an installed package or an
    existing model folder counts (the same test Presidio applies before it would download)."""
    if choice is None:
        return None
    if choice != "auto" and os.path.isdir(choice):
        return choice
    import spacy.util

    for name in NER_MODEL_PREFERENCE if choice == "auto" else (choice,):
        if spacy.util.is_package(name):
            return name
    return None


@dataclass
class AnalyzerBundle:
    """The analyzer with what the audit reports about it."""

    analyzer: AnalyzerEngine
    entities: list[str]  # entities the analyzer will look for
    unavailable: list[str]  # configured entities it cannot find here (NER without a spaCy model)
    ner_model: Optional[str]
    recognizers: list[dict] = field(default_factory=list)

    @property
    def uses_ner(self) -> bool:
        return self.ner_model is not None and any(e in NER_ENTITIES for e in self.entities)

    def report(self, cfg: PIIConfig) -> dict:
        return {
            "recognizers": self.recognizers,
            "entities": self.entities,
            "entities_unavailable": self.unavailable,
            "spacy_ner": {
                "available": self.ner_model is not None,
                "model": self.ner_model,
                "note": None if self.ner_model else "no spaCy model installed: PERSON/LOCATION not detected",
            },
            "thresholds": {e: cfg.threshold(e) for e in self.entities},
            "phone_regions": list(cfg.phone_regions) if "PHONE_NUMBER" in self.entities else [],
            "action": cfg.action,
        }


def pattern_recognizers(entities: Sequence[str], phone_regions: Sequence[str]) -> list:
    wanted = set(entities)
    out: list = []
    if "EMAIL_ADDRESS" in wanted:
        out.append(OfflineEmailRecognizer(context=EMAIL_CONTEXT))
        out.append(EmbeddedEmailRecognizer())
    if "PHONE_NUMBER" in wanted:
        out.append(RegionPhoneRecognizer(phone_regions))
        out.append(ContextPhoneRecognizer())
    if "CREDIT_CARD" in wanted:
        out.append(CardRecognizer())
    if "IBAN_CODE" in wanted:
        out.append(CaseInsensitiveIbanRecognizer())
    if "IP_ADDRESS" in wanted:
        out.append(IpRecognizer(context=IP_CONTEXT))
    if "US_SSN" in wanted:
        out.append(UsSsnRecognizer(context=SSN_CONTEXT))
    if "CRYPTO" in wanted:
        out.append(CryptoRecognizer(context=CRYPTO_CONTEXT))
        out.append(EthereumRecognizer())
    return out


def build_analyzer(cfg: PIIConfig) -> AnalyzerBundle:
    """An AnalyzerEngine with exactly the configured recognizers; loads no model unless one is installed."""
    ner_wanted = [e for e in cfg.entities if e in NER_ENTITIES]
    ner_model = installed_ner_model(cfg.ner_model) if ner_wanted else None
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for rec in pattern_recognizers(cfg.entities, cfg.phone_regions):
        registry.add_recognizer(rec)
    if ner_model:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        nlp_engine: NlpEngine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": ner_model}])
        registry.add_recognizer(SpacyRecognizer(supported_entities=ner_wanted))
    else:
        nlp_engine = TokenNlpEngine()
    nlp_engine.load()
    # whole words: substring matching lets "cc" fire on "account" and "ip" on "ship"
    enhancer = ThresholdContextEnhancer({e: cfg.threshold(e) for e in cfg.entities}, context_prefix_count=5,
                                        context_suffix_count=0, context_matching_mode="whole_word")
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE],
                              context_aware_enhancer=enhancer)
    entities = [e for e in cfg.entities if e not in NER_ENTITIES or ner_model]
    recognizers = sorted(
        ({"name": r.name, "entities": sorted(r.supported_entities)} for r in registry.recognizers),
        key=lambda d: d["name"],
    )
    if ner_model:
        recognizers = [dict(r, model=ner_model) if r["name"] == "SpacyRecognizer" else r for r in recognizers]
    return AnalyzerBundle(
        analyzer=analyzer,
        entities=entities,
        unavailable=[e for e in cfg.entities if e not in entities],
        ner_model=ner_model,
        recognizers=recognizers,
    )
