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
from typing import Iterable, Optional

import apache_beam as beam

from pilewright.schemas.stages.quality import NormalizeConfig
from pilewright.schemas.records import Document
from pilewright.transforms.normalize import filings
from pilewright.transforms.stage import AnnotateAndFilter, PerSource, StageResult, count, rejected_output

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


# the ASCII characters ftfy's fixes (as configured here) can change: the "&" of an HTML entity, and the
# control characters other than tab and newline (line breaks, terminal escapes, the rest removed); every
# other fix looks for characters outside ASCII
_ASCII_FTFY_TOUCHES = re.compile("[&\x00-\x08\x0b-\x1f\x7f]")


def fix_segments(text: str, config, memo: dict) -> str:
    """``ftfy.fix_text(text, config)``, the same result for less work.

    ftfy fixes a text line by line (its segments) with a config that turns off HTML unescaping for good
    at the first segment holding a "<"; this follows the same segments and config, but leaves alone a
    segment of ASCII that no configured fix can change, and fixes a segment it has already fixed (in
    ``memo``: the next pass of ``Normalizer`` sees most lines again) only once. Why: ftfy was the largest
    cost of a run (``benchmarks/profile_stages.py``), and most of its work was on lines it left alone.
    """
    import ftfy

    out = []
    pos, end = 0, len(text)
    while pos < end:
        cut = text.find("\n", pos) + 1 or end
        if cut - pos > config.max_decode_length:
            cut = pos + config.max_decode_length
        segment = text[pos:cut]
        pos = cut
        if config.unescape_html == "auto" and "<" in segment:
            config = config._replace(unescape_html=False)
        if segment.isascii() and not _ASCII_FTFY_TOUCHES.search(segment):
            out.append(segment)
            continue
        key = (segment, config.unescape_html)
        fixed = memo.get(key)
        if fixed is None:
            fixed = memo[key] = ftfy.fix_and_explain(segment, config)[0]
        out.append(fixed)
    return "".join(out)


def collapse_and_strip(text: str) -> str:
    """``_HSPACE_RUN`` collapsed to one space, then ``_HSPACE_AT_LINE_ENDS`` removed and the text stripped,
    by string methods: a line's ``split()`` cuts at the same whitespace as ``[^\\S\\n]`` (regex ``\\s`` is
    ``str.isspace``), and five times faster than the two substitutions, which cost as much as ftfy."""
    return "\n".join([" ".join(line.split()) for line in text.split("\n")]).strip()


def _pass(text: str, cfg: NormalizeConfig, fixer, memo: dict) -> str:
    if fixer is not None:
        text = fix_segments(text, fixer, memo)
    text = _LINE_BREAKS.sub("\n", text)
    if cfg.remove_control_chars:
        text = _CONTROL.sub("", text)
    if cfg.unicode_form != "none":
        text = unicodedata.normalize(cfg.unicode_form, text)
    if cfg.collapse_spaces and cfg.strip_lines:
        text = collapse_and_strip(text)
    elif cfg.collapse_spaces:
        text = _HSPACE_RUN.sub(" ", text)
    elif cfg.strip_lines:
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


# a line that ends here ends a sentence (or a heading/label): it is not joined to the next line
_LINE_END = re.compile(r"""[.!?:;"'\u201d\u2019)\]]$""")
# blocks of at most this many words, not ending a sentence, are table cells or inline fragments
TABLE_CELL_MAX_WORDS = 12


def _ends_sentence(line: str) -> bool:
    return bool(_LINE_END.search(line))


def _is_heading(line: str) -> bool:
    # an upper-case line (a wire's headline, a filing's section title) stays a line of its own
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def _join_wrapped(block: list[str], fragments: bool) -> list[str]:
    """Lines of a block joined where a wrap broke a sentence. A line was wrapped when the next line's
    first word would not have fitted on it (the block's longest line is the width) or the next line
    goes on in lower case, so a table's short rows stay rows; with ``fragments`` (HTML extraction, where inline elements land on lines of their own)
    every line not ending a sentence is joined."""
    width = max(len(line) for line in block)
    out: list[str] = []
    for i, line in enumerate(block):
        if out and not _ends_sentence(out[-1]) and not _is_heading(out[-1]) and not _is_heading(line):
            prev = block[i - 1]
            if fragments or line[0].islower() or len(prev) + 1 + len(line.split(" ", 1)[0]) > width - 2:
                out[-1] = f"{out[-1]} {line}"
                continue
        out.append(line)
    return out


def rejoin_lines(text: str, mode: str) -> str:
    """The line structure HTML extraction and hard wrapping broke, rejoined (``normalize.rejoin_lines``).

    ``wrapped``: inside a block of non-blank lines, a line that does not end a sentence is joined to the
    next (a wire's 65-column wrapping, a filing's inline element put on its own line), so rules that judge
    lines judge sentences. ``table_cells``: also, a run of blocks that are each one short line not ending
    a sentence (a table's cells, one per block) becomes one line, so repetition rules judge the prose and
    not the cell layout, and C4's line rule can drop the table as one line. Idempotent; ``none`` is the
    identity. Expects text already normalized (stripped lines, ``\n`` breaks).
    """
    if mode == "none" or not text:
        return text
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line)
        else:
            if current:
                blocks.append(current)
            blocks.append([])  # the blank line itself, kept as written
            current = []
    if current:
        blocks.append(current)
    joined = [_join_wrapped(b, mode == "table_cells") if b else b for b in blocks]
    if mode == "table_cells":
        merged: list[list[str]] = []
        run: list[str] = []  # cells of the current run

        def is_cell(b: list[str]) -> bool:
            return len(b) == 1 and len(b[0].split()) <= TABLE_CELL_MAX_WORDS and not _ends_sentence(b[0])

        def flush() -> None:
            if run:
                merged.append([" ".join(run)])
                run.clear()

        for b in joined:
            if not b:
                if not run:
                    merged.append(b)
                continue  # blank lines between cells of one run go with the run
            if is_cell(b):
                run.append(b[0])
                continue
            if run:
                flush()
                merged.append([])
            merged.append(b)
        flush()
        joined = merged
    return "\n".join("\n".join(b) for b in joined).strip("\n")


class Normalizer:
    """``normalize_text`` with its ftfy configuration built once."""

    def __init__(self, cfg: NormalizeConfig):
        self.cfg = cfg
        self._fixer = _ftfy_config(cfg) if cfg.fix_unicode else None

    def reject_reason(self, text: str) -> Optional[str]:
        """Why the document is dropped before it is normalized (``filings:not_prose``), or None."""
        if self.cfg.drop_not_prose and filings.not_prose(_LINE_BREAKS.sub("\n", text)) is not None:
            return "filings:not_prose"
        return None

    def __call__(self, text: str) -> str:
        cfg = self.cfg
        if cfg.strip_xbrl_header or cfg.strip_edgar_boilerplate or cfg.rejoin_fixed_width:
            text = _LINE_BREAKS.sub("\n", text)
            if cfg.strip_xbrl_header:
                text = filings.strip_xbrl_header(text)
            if cfg.strip_edgar_boilerplate:
                text = filings.strip_edgar_boilerplate(text)
            if cfg.rejoin_fixed_width:
                text = filings.rejoin_fixed_width(text)
        memo: dict = {}
        for _ in range(_MAX_PASSES):
            fixed = _pass(text, self.cfg, self._fixer, memo)
            if fixed == text:
                break
            text = fixed
        if self.cfg.rejoin_lines != "none":
            text = rejoin_lines(text, self.cfg.rejoin_lines)
        return text


def normalize_text(text: str, cfg: NormalizeConfig = NormalizeConfig()) -> str:
    """The normalized text (pure; see the module docstring for what changes)."""
    return Normalizer(cfg)(text)


class _NormalizeFn(beam.DoFn):
    def __init__(self, configs: PerSource):
        super().__init__()
        self._configs = configs
        self._normalize = None

    def setup(self) -> None:
        self._normalize = self._configs.build(Normalizer)

    def process(self, doc: Document) -> Iterable:
        normalize = self._normalize(doc.source)
        if normalize is None:  # a source whose profile turns the stage off
            count(STAGE, "kept")
            yield doc
            return
        reason = normalize.reject_reason(doc.text)
        if reason is not None:
            yield rejected_output(doc, STAGE, reason)
            return
        text = normalize(doc.text)
        out = doc._replace(text=text)
        if not text and normalize.cfg.drop_empty:
            yield rejected_output(out, STAGE, "empty")
            return
        count(STAGE, "kept", None if text == doc.text else "changed")
        yield out


class Normalize(beam.PTransform):
    """Repairs and tidies each document's text.

    Input: PCollection[Document]. Output: StageResult(main=Document with normalized text,
    rejected=RejectedDocument "normalize:empty" / "normalize:filings:not_prose", errors=DeadLetter).
    Counters: normalize/kept (unchanged), normalize/kept:changed, normalize/dropped:empty,
    normalize/dropped:filings:not_prose.
    Per source: ``per_source`` maps a source name to the config its profile resolves to (None or
    ``enabled: false``: its documents pass unchanged); other sources use ``cfg``.
    Determinism: a pure function of the text and config. Cost: element-wise, no shuffle; ftfy dominates.
    """

    def __init__(self, cfg: Optional[NormalizeConfig] = NormalizeConfig(), per_source: Optional[dict] = None):
        super().__init__()
        self._configs = PerSource(cfg, per_source)

    def expand(self, docs: beam.PCollection) -> StageResult:
        return docs | "Normalize" >> AnnotateAndFilter(STAGE, _NormalizeFn(self._configs))
