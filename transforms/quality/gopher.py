"""Gopher quality and repetition rules (Rae et al. 2021, appendix A.1.1 and Table A1).

Signals first (``*_signals``: numbers a user can re-threshold from OUT/documents), then thresholds
(``*_reason``: the first failing check in datatrove's order, or None). Definitions follow datatrove's
``GopherQualityFilter`` and ``GopherRepetitionFilter`` exactly, including its choices the paper leaves
open: words are spaCy English tokens; "words" for the word count and mean length exclude tokens made only
of punctuation; the stop-word rule counts *distinct* stop words, case-sensitively; a threshold of 0 or null
turns its check off.

Signals of ``gopher_quality`` (reason when out of range):
  word_count (too_few_words / too_many_words), avg_word_length (short_words / long_words),
  hash_ratio, ellipsis_ratio, bullet_lines_ratio (bullet_lines), ellipsis_lines_ratio (ellipsis_lines),
  alpha_words_ratio (alpha_words), alpha_chunks_ratio (alpha_words when ``alpha_words_over: whitespace``),
  stop_words (stop_words).
Signals of ``gopher_repetition`` (the reason is the signal's name, ``top_<n>_gram`` / ``dup_<n>_gram`` for
the n-gram ones; ``empty`` for an empty text):
  dup_para_frac, dup_para_char_frac, dup_line_frac, dup_line_char_frac, top_<n>_gram_char_frac,
  dup_<n>_gram_char_frac.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from pilewright.schemas.stages.quality import GopherQualityConfig, GopherRepetitionConfig
from pilewright.transforms.quality.spacy_words import DocWords

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile("\n+")


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# -- gopher_quality ------------------------------------------------------------------------------------
def gopher_quality_signals(text: str, words: DocWords, lines: Optional[list[str]] = None) -> dict[str, float]:
    if lines is None:
        lines = text.splitlines()
    n_lines = len(lines)
    bullets = ellipsis_lines = 0
    for line in lines:
        head = line.lstrip()
        if head.startswith("•") or head.startswith("-"):
            bullets += 1
        tail = line.rstrip()
        if tail.endswith("...") or tail.endswith("…"):
            ellipsis_lines += 1
    n = words.n_words
    return {
        "word_count": float(words.non_symbol_words),
        "avg_word_length": _ratio(words.non_symbol_chars, words.non_symbol_words),
        "hash_ratio": _ratio(text.count("#"), n),
        "ellipsis_ratio": _ratio(text.count("...") + text.count("…"), n),
        "bullet_lines_ratio": _ratio(bullets, n_lines),
        "ellipsis_lines_ratio": _ratio(ellipsis_lines, n_lines),
        "alpha_words_ratio": _ratio(words.alpha_words, n),
        # the same share over whitespace-separated words, as the Gopher paper counts words
        "alpha_chunks_ratio": _ratio(words.alpha_chunks, words.n_chunks),
        "stop_words": float(words.stop_words),
    }


def gopher_quality_reason(s: dict[str, float], cfg: GopherQualityConfig) -> Optional[str]:
    if cfg.min_doc_words and s["word_count"] < cfg.min_doc_words:
        return "too_few_words"
    if cfg.max_doc_words and s["word_count"] > cfg.max_doc_words:
        return "too_many_words"
    if cfg.min_avg_word_length and s["avg_word_length"] < cfg.min_avg_word_length:
        return "short_words"
    if cfg.max_avg_word_length and s["avg_word_length"] > cfg.max_avg_word_length:
        return "long_words"
    if cfg.max_symbol_word_ratio and s["hash_ratio"] > cfg.max_symbol_word_ratio:
        return "hash_ratio"
    if cfg.max_symbol_word_ratio and s["ellipsis_ratio"] > cfg.max_symbol_word_ratio:
        return "ellipsis_ratio"
    if cfg.max_bullet_lines_ratio and s["bullet_lines_ratio"] > cfg.max_bullet_lines_ratio:
        return "bullet_lines"
    if cfg.max_ellipsis_lines_ratio and s["ellipsis_lines_ratio"] > cfg.max_ellipsis_lines_ratio:
        return "ellipsis_lines"
    alpha = s["alpha_chunks_ratio"] if cfg.alpha_words_over == "whitespace" else s["alpha_words_ratio"]
    if cfg.min_alpha_words_ratio and alpha < cfg.min_alpha_words_ratio:
        return "alpha_words"
    if cfg.min_stop_words and s["stop_words"] < cfg.min_stop_words:
        return "stop_words"
    return None


# -- gopher_repetition ---------------------------------------------------------------------------------
def split_paragraphs(text: str) -> list[str]:
    """``re.split(r"\n{2,}", text.strip())``, with ``str.split`` when no break is longer than two."""
    stripped = text.strip()
    if "\n\n\n" in stripped:
        return _PARAGRAPH_BREAK.split(stripped)
    return stripped.split("\n\n")


def split_lines(text: str) -> list[str]:
    """``re.split("\n+", text)``: pieces between runs of line breaks (empty only at the two ends)."""
    parts = text.split("\n")
    if len(parts) <= 2:
        return parts
    return [parts[0], *filter(None, parts[1:-1]), parts[-1]]


def find_duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(number of repeated items, characters in them): every occurrence after the first counts."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


def gopher_repetition_signals(
    text: str, cfg: GopherRepetitionConfig, top_chars: dict[int, int], dup_chars: dict[int, int]
) -> dict[str, float]:
    """Signals from the text's paragraphs and lines, and its n-gram characters (``quality.ngrams``)."""
    n_chars = len(text)
    paragraphs = split_paragraphs(text)
    para_dups, para_chars = find_duplicates(paragraphs)
    lines = split_lines(text)
    line_dups, line_chars = find_duplicates(lines)
    out = {
        "dup_para_frac": _ratio(para_dups, len(paragraphs)),
        "dup_para_char_frac": _ratio(para_chars, n_chars),
        "dup_line_frac": _ratio(line_dups, len(lines)),
        "dup_line_char_frac": _ratio(line_chars, n_chars),
    }
    for n in cfg.top_n_grams:
        out[f"top_{n}_gram_char_frac"] = _ratio(top_chars[n], n_chars)
    for n in cfg.dup_n_grams:
        out[f"dup_{n}_gram_char_frac"] = _ratio(dup_chars[n], n_chars)
    return out


def gopher_repetition_reason(s: dict[str, float], cfg: GopherRepetitionConfig, text: str) -> Optional[str]:
    if not text:
        return "empty"
    if cfg.dup_para_frac and s["dup_para_frac"] > cfg.dup_para_frac:
        return "dup_para_frac"
    if cfg.dup_para_char_frac and s["dup_para_char_frac"] > cfg.dup_para_char_frac:
        return "dup_para_char_frac"
    if cfg.dup_line_frac and s["dup_line_frac"] > cfg.dup_line_frac:
        return "dup_line_frac"
    if cfg.dup_line_char_frac and s["dup_line_char_frac"] > cfg.dup_line_char_frac:
        return "dup_line_char_frac"
    for n, frac in cfg.top_n_grams.items():
        if s[f"top_{n}_gram_char_frac"] > frac:
            return f"top_{n}_gram"
    for n, frac in cfg.dup_n_grams.items():
        if s[f"dup_{n}_gram_char_frac"] > frac:
            return f"dup_{n}_gram"
    return None
