"""FineWeb's own rules (Penedo et al. 2024, section 3.3), as datatrove's ``FineWebQualityFilter``.

Lines are the non-blank pieces between "\\n"; a line "ends with punctuation" if its last character (not
stripped) is a stop character. Signals: ``line_punct_ratio``, ``short_line_ratio`` (lines of at most
``short_line_length`` characters), ``char_dup_ratio`` (characters in repeated lines over characters that are
not "\\n"), ``list_ratio`` ("\\n" per word). Reasons: ``empty`` (no non-blank line) and the signal's name.
"""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.stages.quality import FineWebConfig
from pilewright.transforms.quality.gopher import find_duplicates
from pilewright.transforms.quality.text import TERMINAL_PUNCTUATION
from pilewright.transforms.quality.spacy_words import DocWords


def fineweb_signals(text: str, words: DocWords, cfg: FineWebConfig) -> dict[str, float]:
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return {"lines": 0.0}
    if cfg.stop_chars is None:
        stop = TERMINAL_PUNCTUATION
        ends = sum(1 for line in lines if line[-1] in stop)
    else:
        stop_chars = tuple(cfg.stop_chars)
        ends = sum(1 for line in lines if line.endswith(stop_chars))
    short = cfg.short_line_length
    n = len(lines)
    non_newline = len(text) - text.count("\n")
    return {
        "lines": float(n),
        "line_punct_ratio": ends / n,
        "short_line_ratio": sum(1 for line in lines if len(line) <= short) / n,
        "char_dup_ratio": find_duplicates(lines)[1] / non_newline if non_newline else 0.0,
        "list_ratio": text.count("\n") / words.n_words if words.n_words else 0.0,
    }


def fineweb_reason(s: dict[str, float], cfg: FineWebConfig) -> Optional[str]:
    if not s["lines"]:
        return "empty"
    ratio = s["line_punct_ratio"]
    if ratio < cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
        return "line_punct_ratio"
    if s["short_line_ratio"] > cfg.short_line_thr:
        return "short_line_ratio"
    if s["char_dup_ratio"] > cfg.char_duplicates_ratio:
        return "char_dup_ratio"
    if s["list_ratio"] > cfg.new_line_ratio:
        return "list_ratio"
    return None
