"""C4's rules (Raffel et al. 2020, section 2.2): line cleaning, then page-level drops.

Three variants, one implementation (``C4Config`` and its subclasses set the differences):

============================  =====================  ======================  ========================
                              ``c4`` (datatrove)     ``c4_paper``            ``c4_tfds`` (built C4)
============================  =====================  ======================  ========================
min sentences per page        5                      5                       3
min words per line            3                      3                       5
line end marks                . ? ! " '              . ? ! "                 . ? ! "
words counted                 before citations gone  after                   after
============================  =====================  ======================  ========================

``c4`` is datatrove's ``C4QualityFilter`` with its defaults (the paper's thresholds on the TFDS code
structure, plus the apostrophe as an end mark); ``benchmarks/compare_quality.py`` checks it decision for
decision. ``c4_tfds`` follows ``tensorflow_datasets/text/c4_utils.py:clean_page`` (whose constants differ
from the paper: 5 words a line and 3 sentences a page). In all three, sentences are counted with spaCy's
rule-based sentencizer as datatrove does; TFDS used NLTK's punkt model, which would need a download at run
time. C4's three-sentence-span deduplication is the ``span_dedup`` stage's job.

The bad-words rule (``BadWords``) applies C4's LDNOOBW lists, per document language, to the cleaned text
when ``bad_words.lists`` names a list for that language; its decisions are datatrove's
``C4BadWordsFilter``'s (``keep_fraction`` 0): the lowercased text matches a listed word flanked by
non-word characters or the text's ends (anywhere, for ja/th/zh), after the same allowlist is removed.

Signals (prefixed with the variant's name): ``lines`` and ``kept_lines`` (lines before/after line
cleaning), ``num_sentences`` (in kept lines), ``lorem_ipsum`` and ``curly_bracket`` (1.0 when a line that
survived the earlier line rules contains one). Reasons: ``lorem_ipsum``, ``curly_bracket``,
``too_few_sentences``, ``bad_words`` (signal ``bad_words``: 1.0, only when the language has a list).
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional, Sequence

from pilewright.schemas.stages.quality import BadWordsConfig, C4Config
from pilewright.transforms.quality.text import C4_CITATION, C4_POLICY, C4_POLICY_HINTS
from pilewright.transforms.quality.spacy_words import TextAnalyzer

_ELLIPSIS = "..."


class C4Result(NamedTuple):
    signals: dict[str, float]
    cleaned_text: str


def c4_signals(
    text: str,
    cfg: C4Config,
    analyzer: TextAnalyzer,
    chunk_infos: Optional[Sequence[tuple]] = None,
    lines: Optional[list[str]] = None,
    line_words: Optional[list[list[str]]] = None,
) -> C4Result:
    """C4's signals and cleaned text.

    The optional arguments spare work already done for other rule sets: ``lines`` is
    ``text.splitlines()``, ``line_words`` each line's ``split()``, and ``chunk_infos`` is
    ``analyzer.words(text).chunk_infos`` (the facts of ``text.split()``, which are each line's words in turn).
    """
    end_marks = tuple(cfg.end_punctuation)
    count_sentences = cfg.min_num_sentences is not None and cfg.min_num_sentences != -1
    max_word = cfg.max_word_length if cfg.max_word_length is not None and cfg.max_word_length != -1 else None
    min_words = cfg.min_words_per_line or 0
    if lines is None:
        lines = text.splitlines()
    kept: list[str] = []
    num_sentences = 0
    lorem = curly = 0.0
    at = 0
    for i, line in enumerate(lines):
        line = line.strip()
        words = line.split() if line_words is None else line_words[i]
        first, at = at, at + len(words)
        if max_word is not None and len(line) > max_word and max(map(len, words)) > max_word:
            continue
        chunks = words
        if cfg.remove_citations and "[" in line:
            cited = C4_CITATION.sub("", line)
            if cited != line:
                line, chunks = cited, None
                if cfg.words_after_citations:
                    words = line.split()
        if cfg.filter_no_terminal_punct and (not line.endswith(end_marks) or line.endswith(_ELLIPSIS)):
            continue
        if len(words) < min_words:
            continue
        lower = line.lower()
        if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
            lorem = 1.0
        if cfg.filter_javascript and "javascript" in lower:
            continue
        if cfg.filter_curly_bracket and "{" in line:
            curly = 1.0
        if cfg.filter_policy and any(h in lower for h in C4_POLICY_HINTS) and C4_POLICY.search(lower):
            continue
        if count_sentences:
            if chunk_infos is not None and chunks is not None and " ".join(chunks) == line:
                num_sentences += analyzer.sentences_of_chunks(chunk_infos[first:at])
            else:
                num_sentences += analyzer.sentences(line, chunks)
        kept.append(line)
    signals = {
        "lines": float(len(lines)),
        "kept_lines": float(len(kept)),
        "lorem_ipsum": lorem,
        "curly_bracket": curly,
    }
    if count_sentences:
        signals["num_sentences"] = float(num_sentences)
    return C4Result(signals, "\n".join(kept).strip())


def c4_reason(s: dict[str, float], cfg: C4Config) -> Optional[str]:
    if s["lorem_ipsum"]:
        return "lorem_ipsum"
    if s["curly_bracket"]:
        return "curly_bracket"
    if "num_sentences" in s and s["num_sentences"] < cfg.min_num_sentences:
        return "too_few_sentences"
    if s.get("bad_words"):
        return "bad_words"
    return None


# words that are common parts of longer words in scripts without spaces: C4's (and datatrove's) allowlist,
# removed from every language's list
BAD_WORDS_ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}


def bad_words_pattern(words: Sequence[str], lang: str, no_word_boundary: Sequence[str] = ("ja", "th", "zh")):
    """The compiled matcher of one language's list (lines stripped, allowlist removed, as datatrove)."""
    listed = {w.strip() for w in words}
    for allow in BAD_WORDS_ALLOWLIST.values():
        listed -= allow
    alternatives = "|".join(re.escape(w) for w in sorted(listed))
    if lang in no_word_boundary:
        return re.compile(alternatives)
    return re.compile(r"(?:\W|^)({})(?:\W|$)".format(alternatives))


def read_list(path: str) -> list[str]:
    """Lines of a list file on any Beam filesystem (UTF-8)."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        data = f.read()
    # splitlines(keepends) then strip matches datatrove's `for line in f: line.strip()` line for line
    return data.decode("utf-8").splitlines(True)


class BadWords:
    """Per-language matchers of ``BadWordsConfig``, compiled on first use of each language (once per worker)."""

    def __init__(self, cfg: BadWordsConfig):
        self.cfg = cfg
        self._patterns: dict[str, "re.Pattern"] = {}

    def __bool__(self) -> bool:
        return bool(self.cfg.lists)

    def found(self, text: str, lang: Optional[str]) -> Optional[bool]:
        """True when ``text`` holds a listed word; None when its language has no list."""
        lang = lang or self.cfg.default_language
        path = self.cfg.lists.get(lang)
        if path is None:
            return None
        pattern = self._patterns.get(lang)
        if pattern is None:
            pattern = self._patterns[lang] = bad_words_pattern(read_list(path), lang, self.cfg.no_word_boundary)
        return pattern.search(text.lower()) is not None
