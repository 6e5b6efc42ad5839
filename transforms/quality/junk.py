"""Signals of junk that domain profiles must still drop once they loosen the web rules for their text.

Gopher, C4 and FineWeb catch most junk through the very rules a domain profile has to loosen (sentence
counts, repetition, letter shares); these signals do not depend on them:

- ``lower_after_stop``: share of sentence ends (``. ! ?`` then a space) followed by a lower-case word.
  Prose starts a sentence with a capital; word salad (words shuffled) puts a random word there, mostly
  lower case. Counted only with at least ``min_sentence_ends`` sentence ends (else 0).
- ``prep_det_ratio``: share of prepositions (of, in, to, ...) followed by an article or determiner.
  English prose has "of the", "in a" in about a third of them; shuffled words rarely. Counted only with
  at least ``min_prepositions`` prepositions (else 1).
- ``spam_phrases_per_1k``: marketing phrases ("click here", "unsubscribe", "act now", ...) per 1,000 words.
- ``exclaim_ratio``: share of sentence ends that are "!".
- ``upper_word_ratio``: share of words (3+ letters) written in capitals.

Reasons: ``word_salad`` (either word-order signal), ``spam_phrases``, ``exclamations``, ``shouting``.
Pure functions; every threshold is in ``schemas.stages.quality.JunkConfig``.
"""
from __future__ import annotations

import re
from typing import Optional

from pilewright.schemas.stages.quality import JunkConfig

_STOP_NEXT = re.compile(r"[.!?][\"')\]]?\s+[\"'(]?([A-Za-z])")
_EXCLAIM = re.compile(r"!+(?=\s|$)")
_STOPS = re.compile(r"[.?]+(?=\s|$)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
PREPOSITIONS = frozenset("of in to on for from with at by into about over under after".split())
DETERMINERS = frozenset("the a an this that these those its their his her our your my each every some any all no".split())
SPAM_PHRASES = (
    "click here", "click below", "unsubscribe", "to be removed", "remove me", "opt-out", "opt out",
    "act now", "order now", "limited time", "risk free", "risk-free", "100% free", "free!", "money back",
    "no obligation", "call now", "buy now", "special promotion", "dear friend", "this is not spam",
    "mailing list", "earn $", "make money", "work from home", "viagra", "lowest price", "apply now",
    "cash bonus", "save up to",
)


def junk_signals(text: str, cfg: JunkConfig) -> dict[str, float]:
    ends = _STOP_NEXT.findall(text)
    lower_after = sum(1 for c in ends if c.islower()) / len(ends) if len(ends) >= cfg.min_sentence_ends else 0.0
    words = _WORD.findall(text)
    lowered = [w.lower() for w in words]
    n_prep = n_det = 0
    for a, b in zip(lowered, lowered[1:]):
        if a in PREPOSITIONS:
            n_prep += 1
            n_det += b in DETERMINERS
    prep_det = n_det / n_prep if n_prep >= cfg.min_prepositions else 1.0
    low = text.lower()
    n_words = max(1, len(text.split()))
    spam = sum(low.count(p) for p in SPAM_PHRASES) * 1000.0 / n_words
    n_excl = len(_EXCLAIM.findall(text))
    n_stop = len(_STOPS.findall(text)) + n_excl
    long_words = [w for w in words if len(w) >= 3]
    upper = sum(1 for w in long_words if w.isupper()) / len(long_words) if long_words else 0.0
    return {
        "lower_after_stop": lower_after,
        "prep_det_ratio": prep_det,
        "spam_phrases_per_1k": spam,
        "exclaim_ratio": n_excl / n_stop if n_stop else 0.0,
        "upper_word_ratio": upper,
    }


def junk_reason(s: dict[str, float], cfg: JunkConfig) -> Optional[str]:
    if cfg.max_lower_after_stop is not None and s["lower_after_stop"] > cfg.max_lower_after_stop:
        return "word_salad"
    if cfg.min_prep_det_ratio is not None and s["prep_det_ratio"] < cfg.min_prep_det_ratio:
        return "word_salad"
    if cfg.max_spam_phrases_per_1k is not None and s["spam_phrases_per_1k"] > cfg.max_spam_phrases_per_1k:
        return "spam_phrases"
    if cfg.max_exclaim_ratio is not None and s["exclaim_ratio"] > cfg.max_exclaim_ratio:
        return "exclamations"
    if cfg.max_upper_word_ratio is not None and s["upper_word_ratio"] > cfg.max_upper_word_ratio:
        return "shouting"
    return None
