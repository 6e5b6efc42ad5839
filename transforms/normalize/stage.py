"""Normalize stage: repair Unicode (mojibake, HTML entities, ligatures) and tidy whitespace.

Text that is already clean passes through unchanged: NFC, no control characters, single spaces inside
lines, no spaces at line ends, at most ``max_blank_lines`` blank lines in a row and no blank lines at the
ends. ``ftfy`` does the repair (mojibake detection is a hard problem it solves well); it is configured
not to touch what is legitimate text (curly quotes, full-width CJK forms). Normalization is idempotent:
``normalize_text`` repeats its steps until they change nothing (a repair can expose another).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

import apache_beam as beam

from pilewright.schemas.stages.quality import NormalizeConfig
from pilewright.schemas.records import Document
from pilewright.transforms.stage import AnnotateAndFilter, StageResult, count, rejected_output

STAGE = "normalize"
_MAX_PASSES = 4

# line breaks of every convention become "\n"; vertical tab and form feed too (they separate lines)
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# C0/C1 controls other than tab and newline, and byte-order marks left inside text
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff]")
_HSPACE_RUN = re.compile(r"[^\S\n]+")
_HSPACE_AT_LINE_ENDS = re.compile(r"[^\S\n]+(?=\n)|(?<=\n)[^\S\n]+")


def _ftfy_config(cfg: NormalizeConfig):
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html="auto" if cfg.unescape_html else False,
        fix_character_width=False,  # full-width forms are legitimate in CJK text
        uncurl_quotes=False,  # curly quotes are legitimate typography
        normalization=None,  # done below, as configured
        explain=False,
    )


def _pass(text: str, cfg: NormalizeConfig, fixer) -> str:
    if fixer is not None:
        import ftfy

        text = ftfy.fix_text(text, config=fixer)
    text = _LINE_BREAKS.sub("\n", text)
    if cfg.remove_control_chars:
        text = _CONTROL.sub("", text)
    if cfg.unicode_form != "none":
        text = unicodedata.normalize(cfg.unicode_form, text)
    if cfg.collapse_spaces:
        text = _HSPACE_RUN.sub(" ", text)
    if cfg.strip_lines:
        text = _HSPACE_AT_LINE_ENDS.sub("", text).strip()
    if cfg.max_blank_lines is not None:
        if cfg.strip_lines:
            text = re.sub("\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1), text)
        else:
            text = _collapse_blank_lines(text, cfg.max_blank_lines)
    return text


def _collapse_blank_lines(text: str, keep: int) -> str:
    out: list[str] = []
    blank = 0
    for line in text.split("\n"):
        blank = blank + 1 if not line.strip() else 0
        if blank <= keep:
            out.append(line)
    return "\n".join(out)


class Normalizer:
    """``normalize_text`` with its ftfy configuration built once."""

    def __init__(self, cfg: NormalizeConfig):
        self.cfg = cfg
        self._fixer = _ftfy_config(cfg) if cfg.fix_unicode else None

    def __call__(self, text: str) -> str:
        for _ in range(_MAX_PASSES):
            fixed = _pass(text, self.cfg, self._fixer)
            if fixed == text:
                break
            text = fixed
        return text


def normalize_text(text: str, cfg: NormalizeConfig = NormalizeConfig()) -> str:
    """The normalized text (pure; see the module docstring for what changes)."""
    return Normalizer(cfg)(text)


class _NormalizeFn(beam.DoFn):
    def __init__(self, cfg: NormalizeConfig):
        super().__init__()
        self._cfg = cfg
        self._normalize = None

    def setup(self) -> None:
        self._normalize = Normalizer(self._cfg)

    def process(self, doc: Document) -> Iterable:
        text = self._normalize(doc.text)
        out = doc._replace(text=text)
        if not text and self._cfg.drop_empty:
            yield rejected_output(out, STAGE, "empty")
            return
        count(STAGE, "kept", None if text == doc.text else "changed")
        yield out


class Normalize(beam.PTransform):
    """Repairs and tidies each document's text.

    Input: PCollection[Document]. Output: StageResult(main=Document with normalized text,
    rejected=RejectedDocument "normalize:empty", errors=DeadLetter).
    Counters: normalize/kept (unchanged), normalize/kept:changed, normalize/dropped:empty.
    Determinism: a pure function of the text and config. Cost: element-wise, no shuffle; ftfy dominates.
    """

    def __init__(self, cfg: NormalizeConfig = NormalizeConfig()):
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: beam.PCollection) -> StageResult:
        return docs | "Normalize" >> AnnotateAndFilter(STAGE, _NormalizeFn(self._cfg))
