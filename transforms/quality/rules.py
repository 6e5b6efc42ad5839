"""The quality rule sets by name: all signals of a text first, then the thresholds, then the reason.

Pure logic over ``QualityConfig``; the Beam stage (``transforms/quality/stage.py``) and the benchmark call
``RuleScorer.score_batch`` the same way. A signal's key in ``Document.quality`` is ``<rule set>:<signal>``;
a reason is ``<rule set>:<reason>``. Scores never depend on how documents are batched.
"""
from __future__ import annotations

import gc
from itertools import chain
from typing import NamedTuple, Optional, Sequence

from pilewright.schemas.stages.quality import QualityConfig
from pilewright.transforms.quality.c4 import BadWords, c4_reason, c4_signals
from pilewright.transforms.quality.fineweb import fineweb_reason, fineweb_signals
from pilewright.transforms.quality.junk import junk_reason, junk_signals
from pilewright.transforms.quality.gopher import (
    gopher_quality_reason,
    gopher_quality_signals,
    gopher_repetition_reason,
    gopher_repetition_signals,
)
from pilewright.transforms.quality.ngrams import repetition_chars
from pilewright.transforms.quality.spacy_words import TextAnalyzer
from pilewright.transforms.text_lines import prose_view

# the rule sets that count words (one tokenization shared by all of them)
_WORD_RULES = ("gopher_quality", "gopher_repetition", "fineweb")
# n-gram measures run over groups of documents of about this many words (keeps their key arrays in cache)
NGRAM_GROUP_WORDS = 50_000


class RuleScore(NamedTuple):
    signals: dict[str, float]  # "<rule set>:<signal>" -> value, for every configured rule set
    reasons: dict[str, Optional[str]]  # rule set -> its reason, or None when it keeps the text
    text: str  # the text to keep: C4's cleaned lines when a C4 variant with remove_lines is configured

    @property
    def reason(self) -> Optional[str]:
        """The first failing rule set's reason as ``<rule set>:<reason>``, or None to keep."""
        for rule, reason in self.reasons.items():
            if reason is not None:
                return f"{rule}:{reason}"
        return None


def decide(rule: str, signals: dict[str, float], cfg: QualityConfig, text: str) -> Optional[str]:
    """Thresholds of one rule set applied to its signals (keys without the rule-set prefix)."""
    if rule == "gopher_quality":
        return gopher_quality_reason(signals, cfg.gopher_quality)
    if rule == "gopher_repetition":
        return gopher_repetition_reason(signals, cfg.gopher_repetition, text)
    if rule == "fineweb":
        return fineweb_reason(signals, cfg.fineweb)
    if rule == "junk":
        return junk_reason(signals, cfg.junk)
    return c4_reason(signals, getattr(cfg, rule))


class RuleScorer:
    """Scores texts with the configured rule sets. Build once per worker: it loads spaCy's tokenizer.

    Args:
        cfg: the quality stage config (``rules`` and each rule set's thresholds).
        analyzer: a ``TextAnalyzer`` to share; by default one is built with the Gopher stop words.
    """

    def __init__(self, cfg: QualityConfig, analyzer: Optional[TextAnalyzer] = None):
        self.cfg = cfg
        self.analyzer = analyzer or TextAnalyzer(stop_words=cfg.gopher_quality.stop_words)
        self._names: dict[str, dict[str, str]] = {}  # rule set -> signal -> "<rule set>:<signal>"
        # the C4 variant's bad-words matchers (compiled per language on first use)
        self._bad_words = {r: BadWords(getattr(cfg, r).bad_words) for r in cfg.rules if r.startswith("c4")}

    def _ngram_chars(self, words) -> list[tuple[dict[int, int], dict[int, int]]]:
        rep = self.cfg.gopher_repetition
        starts = [0]
        for w in words:
            starts.append(starts[-1] + w.n_words)
        arrays = self.analyzer.word_arrays(list(chain.from_iterable(w.word_ids for w in words)))
        top, dup = repetition_chars(*arrays, starts, list(rep.top_n_grams), list(rep.dup_n_grams))
        top_l = {n: a.tolist() for n, a in top.items()}
        dup_l = {n: a.tolist() for n, a in dup.items()}
        return [
            ({n: v[i] for n, v in top_l.items()}, {n: v[i] for n, v in dup_l.items()}) for i in range(len(words))
        ]

    def score(self, text: str, lang: Optional[str] = None) -> RuleScore:
        return self.score_batch([text], [lang])[0]

    def score_batch(self, texts: Sequence[str], langs: Optional[Sequence[Optional[str]]] = None) -> list[RuleScore]:
        """Scores of several texts; the n-gram measures of the whole batch are computed in one pass.

        ``langs`` (each text's language, None when unknown) picks the bad-words list of a C4 variant. With
        ``set_aside_tables`` the signals are those of each text's prose view and the kept text is the text.
        """
        # a batch allocates millions of small strings, lists and tuples and no reference cycles: pausing
        # the cyclic garbage collector meanwhile saves its repeated scans (~10% of the time)
        paused = gc.isenabled()
        gc.disable()
        try:
            langs = langs if langs is not None else [None] * len(texts)
            if self.cfg.set_aside_tables:  # judged by the prose, kept whole
                scores = self._score_batch([prose_view(t) for t in texts], langs)
                return [s._replace(text=t) for s, t in zip(scores, texts)]
            return self._score_batch(texts, langs)
        finally:
            if paused:
                gc.enable()

    def _score_batch(self, texts: Sequence[str], langs: Sequence[Optional[str]]) -> list[RuleScore]:
        cfg = self.cfg
        analyzer = self.analyzer
        analyzer.begin_document()
        # one split of each text into lines and words, shared by every rule set (text.split() is the
        # concatenation of the lines' split(): every line break is whitespace)
        lines = [t.splitlines() for t in texts]
        line_words = [[line.split() for line in doc_lines] for doc_lines in lines]
        words = None
        if any(r in _WORD_RULES for r in cfg.rules):
            words = [analyzer.words(t, list(chain.from_iterable(lw))) for t, lw in zip(texts, line_words)]
        ngrams: list[tuple[dict[int, int], dict[int, int]]] = []
        if "gopher_repetition" in cfg.rules:
            lo = 0
            while lo < len(texts):
                hi, n = lo, 0
                while hi < len(texts) and (hi == lo or n + words[hi].n_words <= NGRAM_GROUP_WORDS):
                    n += words[hi].n_words
                    hi += 1
                ngrams.extend(self._ngram_chars(words[lo:hi]))
                lo = hi
        out = []
        for i, text in enumerate(texts):
            signals: dict[str, float] = {}
            reasons: dict[str, Optional[str]] = {}
            # Rule sets judge the text in order, and a C4 variant that removes lines hands its cleaned text to
            # the rule sets after it (as datatrove's chained filters do): the kept text is the judged text.
            judged = text
            doc_lines, doc_line_words = lines[i], line_words[i]
            doc_words = words[i] if words is not None else None
            doc_ngrams = ngrams[i] if ngrams else None
            for rule in cfg.rules:
                cleaned = None
                if rule == "gopher_quality":
                    values = gopher_quality_signals(judged, doc_words, doc_lines)
                elif rule == "gopher_repetition":
                    if doc_ngrams is None:  # the text changed since the batch's n-gram pass
                        doc_ngrams = self._ngram_chars([doc_words])[0]
                    values = gopher_repetition_signals(judged, cfg.gopher_repetition, *doc_ngrams)
                elif rule == "fineweb":
                    values = fineweb_signals(judged, doc_words, cfg.fineweb)
                elif rule == "junk":
                    values = junk_signals(judged, cfg.junk)
                else:
                    infos = doc_words.chunk_infos if doc_words is not None else None
                    values, cleaned = c4_signals(judged, getattr(cfg, rule), analyzer, infos, doc_lines, doc_line_words)
                    bad = self._bad_words[rule]
                    if bad:
                        found = bad.found(cleaned if getattr(cfg, rule).remove_lines else judged, langs[i])
                        if found is not None:
                            values["bad_words"] = 1.0 if found else 0.0
                reasons[rule] = decide(rule, values, cfg, judged)
                names = self._names.setdefault(rule, {})
                for k, v in values.items():
                    name = names.get(k)
                    if name is None:
                        name = names[k] = f"{rule}:{k}"
                    signals[name] = v
                if cleaned is not None and getattr(cfg, rule).remove_lines and cleaned != judged:
                    judged = cleaned
                    doc_lines = judged.splitlines()
                    doc_line_words = [line.split() for line in doc_lines]
                    if doc_words is not None:
                        doc_words = analyzer.words(judged, list(chain.from_iterable(doc_line_words)))
                    doc_ngrams = None
            out.append(RuleScore(signals, reasons, judged))
        return out
