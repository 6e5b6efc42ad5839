"""Config models of the normalize, langid and quality stages (``stages.normalize``, ``.langid``, ``.quality``).

Defaults are the published values: Gopher (Rae et al. 2021, Table A1), C4 (Raffel et al. 2020), FineWeb
(Penedo et al. 2024), as datatrove's filters implement them; lid.176 with datatrove's 0.65 threshold. A
threshold set to ``null`` turns that single check off.
"""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional

from pydantic import Field, field_validator, model_serializer, model_validator

from pilewright.schemas.paths import DataPath
from pilewright.schemas.stages.base import Frozen

# fastText models shipped in pilewright's package (transforms/models), named without a path
SHIPPED_FASTTEXT_MODELS = ("lid.176.ftz",)
# a fastText model file: a shipped one by name, or a path
FastTextModel = Annotated[str, DataPath("file", names=SHIPPED_FASTTEXT_MODELS)]

QUALITY_RULE_SETS = ("gopher_repetition", "gopher_quality", "c4", "c4_paper", "c4_tfds", "fineweb", "junk")


def _omit_defaults(model, data, fields: tuple[str, ...]):
    """``data`` without ``fields`` that hold their default: keys added after a run recorded its config
    (the manifest's ``config``) do not change that record while unused."""
    if isinstance(data, dict):
        for name in fields:
            if name in data and getattr(model, name) == type(model).model_fields[name].default:
                data.pop(name)
    return data


class NormalizeConfig(Frozen):
    """``stages.normalize``: repair and tidy text without changing text that is already clean."""

    enabled: bool = True
    version: str = "normalize_v1"
    # ftfy: mojibake, HTML-escaped entities left by extraction, terminal escapes, ligatures, line breaks
    fix_unicode: bool = True
    # HTML entities such as "&amp;" are decoded only when the text has no "<" (ftfy's own rule)
    unescape_html: bool = True
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    # C0/C1 control characters other than tab and newline, and stray byte-order marks
    remove_control_chars: bool = True
    # runs of spaces/tabs/other horizontal whitespace inside a line become one space
    collapse_spaces: bool = True
    # leading and trailing horizontal whitespace of every line is removed
    strip_lines: bool = True
    # at most this many blank lines in a row (1 keeps paragraph breaks); null keeps them all
    max_blank_lines: Optional[int] = Field(default=1, ge=0)
    # a document that is empty after normalization is dropped as `normalize:empty`
    drop_empty: bool = True
    # rejoin the line structure HTML extraction breaks (filings, hard-wrapped wires): `wrapped` joins a
    # line to the next when it does not end a sentence; `table_cells` also joins runs of short blocks
    # (table cells and inline fragments each put on their own line) into one line. `none`: as extracted
    rejoin_lines: Literal["none", "wrapped", "table_cells"] = "none"
    # EDGAR filings as a reader sees them (``transforms/normalize/filings.py``; the `filings` profile turns
    # all four on): remove an inline-XBRL document's hidden header (`ix:header`, or its facts extracted to
    # text); remove EDGAR's index page, navigation, SGML header and tags and file-name lines
    strip_xbrl_header: bool = False
    strip_edgar_boilerplate: bool = False
    # a typewritten (fixed-width) layout rejoined: rule lines removed, hard-wrapped lines joined
    rejoin_fixed_width: bool = False
    # documents that are forms and data, not prose (XML, XBRL facts, an SGML header alone, Forms 3/4/5, D,
    # 13F, index and viewer pages, too little prose) are dropped as `filings:not_prose`
    drop_not_prose: bool = False

    _ADDED: ClassVar[tuple[str, ...]] = (
        "rejoin_lines", "strip_xbrl_header", "strip_edgar_boilerplate", "rejoin_fixed_width", "drop_not_prose",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        return _omit_defaults(self, handler(self), self._ADDED)


class LangIdConfig(Frozen):
    """``stages.langid``: fastText language identification (lid.176 shipped with pilewright)."""

    enabled: bool = True
    version: str = "langid_v2"
    # ISO codes of lid.176 (e.g. en, de, zh); an empty list keeps every language
    languages: list[str] = Field(default_factory=lambda: ["en"])
    # a document is kept when its top language is in `languages` with at least this probability
    min_score: float = Field(default=0.65, ge=0.0, le=1.0)
    # another fastText language model (lid.176.bin, GlotLID, ...): any local or Beam/fsspec path; labels
    # like __label__en or __label__eng_Latn
    model: Optional[FastTextModel] = None
    # what the model reads: the whole document, or only its prose lines (lines of at least
    # `prose_min_words` words, most of them with a letter), so the number columns of a filing's tables do
    # not pull an English document below `min_score`; a document without prose lines is read whole
    over: Literal["document", "prose_lines"] = "document"
    prose_min_words: int = Field(default=6, ge=1)
    # a second detector for short or low-confidence text: where the fastText model's top score is below
    # `second_below`, lingua (low-accuracy mode, its 75 languages, models inside its wheel) names the
    # language when it is at least as confident, and its confidence is the score; lid.176 stays where it is
    # confident and where it keeps the document (language in `languages`, score >= `min_score`). `none`:
    # fastText only
    second_detector: Literal["lingua", "none"] = "lingua"
    second_below: float = Field(default=0.9, ge=0.0, le=1.0)
    # lingua reads at most this many characters of the text (its cost grows with the length)
    second_max_chars: int = Field(default=1000, ge=1)

    _ADDED: ClassVar[tuple[str, ...]] = (
        "over", "prose_min_words", "second_detector", "second_below", "second_max_chars",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        return _omit_defaults(self, handler(self), self._ADDED)

    @field_validator("languages")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return [c.strip() for c in v]


class GopherQualityConfig(Frozen):
    """Gopher quality rules (Rae et al. 2021, appendix A.1.1), datatrove's ``GopherQualityFilter``."""

    min_doc_words: Optional[int] = 50
    max_doc_words: Optional[int] = 100_000
    min_avg_word_length: Optional[float] = 3
    max_avg_word_length: Optional[float] = 10
    # '#' and '...'/'…' per word
    max_symbol_word_ratio: Optional[float] = 0.1
    max_bullet_lines_ratio: Optional[float] = 0.9
    max_ellipsis_lines_ratio: Optional[float] = 0.3
    # share of words with at least one letter (datatrove calls it max_non_alpha_words_ratio)
    min_alpha_words_ratio: Optional[float] = 0.8
    # what a "word" is for that share: spaCy tokens (datatrove; every punctuation mark is a word without a
    # letter, so dialogue and transcripts often fall below 0.8) or whitespace-separated words (the paper)
    alpha_words_over: Literal["tokens", "whitespace"] = "tokens"
    min_stop_words: Optional[int] = 2
    stop_words: list[str] = Field(default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"])


class GopherRepetitionConfig(Frozen):
    """Gopher repetition rules (Rae et al. 2021, Table A1), datatrove's ``GopherRepetitionFilter``."""

    dup_line_frac: Optional[float] = 0.3
    dup_para_frac: Optional[float] = 0.3
    dup_line_char_frac: Optional[float] = 0.2
    dup_para_char_frac: Optional[float] = 0.2
    # n -> max character fraction of the most frequent n-gram
    top_n_grams: dict[int, float] = Field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    # n -> max character fraction in duplicated n-grams
    dup_n_grams: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )

    @field_validator("top_n_grams", "dup_n_grams")
    @classmethod
    def _positive_n(cls, v: dict[int, float]) -> dict[int, float]:
        if any(n < 1 for n in v):
            raise ValueError("n-gram sizes must be >= 1")
        return dict(sorted(v.items()))


class BadWordsConfig(Frozen):
    """C4's bad-words rule (the LDNOOBW lists), decided as datatrove's ``C4BadWordsFilter`` decides.

    pilewright does not ship the lists (see the README: no package on the index carries them under a
    licence that allows redistribution); point each language at a local copy of its LDNOOBW file (one word
    or phrase per line, CC BY 4.0). With no list the rule is off.
    """

    # language code (as langid writes it) -> list file on any Beam filesystem; relative to the config file
    lists: dict[str, Annotated[str, DataPath("file")]] = Field(default_factory=dict)
    # language of documents langid did not annotate (datatrove's default_language)
    default_language: str = "en"
    # languages matched inside words: scripts written without spaces (C4, datatrove)
    no_word_boundary: list[str] = Field(default_factory=lambda: ["ja", "th", "zh"])


class C4Config(Frozen):
    """C4 rules as datatrove's ``C4QualityFilter`` applies them (the paper's thresholds on TFDS's code).

    ``c4_paper`` and ``c4_tfds`` are the same rules with the paper's or the TFDS code's settings; see
    ``transforms/quality/c4.py`` for where the three differ.
    """

    # lines (split on line breaks) not ending in one of these are removed; FineWeb turns this off
    filter_no_terminal_punct: bool = True
    end_punctuation: list[str] = Field(default_factory=lambda: [".", "?", "!", '"', "'"])
    remove_citations: bool = True
    # count a line's words after removing citation markers (TFDS) or before (datatrove)
    words_after_citations: bool = False
    min_words_per_line: Optional[int] = 3
    max_word_length: Optional[int] = 1000
    min_num_sentences: Optional[int] = 5
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    # a kept document's text becomes C4's cleaned text (only the kept lines), as C4 was built
    remove_lines: bool = True
    # judged on the cleaned text, after the rules above (datatrove chains C4BadWordsFilter after them)
    bad_words: BadWordsConfig = BadWordsConfig()


class C4PaperConfig(C4Config):
    """The C4 paper's wording: end marks . ? ! and the closing double quote."""

    end_punctuation: list[str] = Field(default_factory=lambda: [".", "?", "!", '"'])
    words_after_citations: bool = True


class C4TfdsConfig(C4Config):
    """TFDS ``c4_utils.clean_page``, the code that built C4: 5 words a line, 3 sentences a page."""

    end_punctuation: list[str] = Field(default_factory=lambda: [".", "?", "!", '"'])
    words_after_citations: bool = True
    min_words_per_line: Optional[int] = 5
    min_num_sentences: Optional[int] = 3


class FineWebConfig(Frozen):
    """FineWeb's own rules (Penedo et al. 2024), datatrove's ``FineWebQualityFilter``."""

    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    # null: datatrove's TERMINAL_PUNCTUATION
    stop_chars: Optional[list[str]] = None
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3


class JunkConfig(Frozen):
    """pilewright's junk signals (``transforms/quality/junk.py``): word salad and spam, judged apart from
    the sentence, repetition and letter rules a domain profile loosens. Not in the default rule sets; the
    shipped domain profiles add it. A threshold set to ``null`` turns that check off."""

    # share of sentence ends followed by a lower-case word (word salad: most of them)
    max_lower_after_stop: Optional[float] = 0.5
    min_sentence_ends: int = Field(default=4, ge=1)
    # share of prepositions followed by an article or determiner (English prose: about a third)
    min_prep_det_ratio: Optional[float] = None
    min_prepositions: int = Field(default=15, ge=1)
    # marketing phrases ("click here", "unsubscribe", ...) per 1,000 words
    max_spam_phrases_per_1k: Optional[float] = 2.5
    # share of sentence ends that are "!" (prose, filings, news, calls: below 0.01)
    max_exclaim_ratio: Optional[float] = 0.1
    # share of 3+-letter words in capitals (off: filing headers and wire headlines are in capitals)
    max_upper_word_ratio: Optional[float] = None


class ClassifierConfig(Frozen):
    """One fastText classifier the quality stage scores every document with."""

    # a model trained by `pilewright classifier train` (or any supervised fastText model); any path
    model: FastTextModel
    # the label scored, without the __label__ prefix; annotated as quality["classifier:<label>"]
    label: str
    # documents scoring below are dropped as `classifier:<label>`; 0 annotates only
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)


class QualityConfig(Frozen):
    """``stages.quality``: rule sets by name, every threshold configurable, and fastText classifiers."""

    enabled: bool = True
    version: str = "quality_v1"
    # applied in this order; a document's reason is the first failing rule of the first failing set
    rules: list[str] = Field(default_factory=lambda: ["gopher_repetition", "gopher_quality", "c4", "fineweb"])
    gopher_quality: GopherQualityConfig = GopherQualityConfig()
    gopher_repetition: GopherRepetitionConfig = GopherRepetitionConfig()
    c4: C4Config = C4Config()
    c4_paper: C4PaperConfig = C4PaperConfig()
    c4_tfds: C4TfdsConfig = C4TfdsConfig()
    fineweb: FineWebConfig = FineWebConfig()
    junk: JunkConfig = JunkConfig()
    classifiers: list[ClassifierConfig] = Field(default_factory=list)
    # judge a document by its prose: the rule sets compute their signals over the text without its table
    # lines (rows of figures, rules, short cells holding a figure; ``transforms/text_lines.py``), and a kept
    # document keeps its whole text, tables included (C4's line removal does not apply)
    set_aside_tables: bool = False

    _ADDED: ClassVar[tuple[str, ...]] = ("junk", "set_aside_tables")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        return _omit_defaults(self, handler(self), self._ADDED)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: list[str]) -> list[str]:
        unknown = [r for r in v if r not in QUALITY_RULE_SETS]
        if unknown:
            raise ValueError(f"unknown rule set(s) {unknown}; choose from {list(QUALITY_RULE_SETS)}")
        if len(set(v)) != len(v):
            raise ValueError("a rule set is listed twice")
        return v

    @model_validator(mode="after")
    def _one_c4(self) -> "QualityConfig":
        if sum(r.startswith("c4") for r in self.rules) > 1:
            raise ValueError("use one of c4, c4_paper, c4_tfds: they are variants of the same rules")
        labels = [c.label for c in self.classifiers]
        if len(set(labels)) != len(labels):
            raise ValueError("classifiers: each label can be used once")
        return self
