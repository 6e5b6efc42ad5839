"""Line kinds several stage families share: a document's table lines, and its prose view without them.

A table line is layout, not prose: a row of figures (most words without a letter), a rule drawn with
dashes, equals signs or underscores, a row of ``|``-separated cells, or a short cell holding a figure.
``normalize`` keeps such lines in the text; ``quality`` (``set_aside_tables``) and ``langid``
(``over: prose_lines``) compute their statistics over the other lines, so a filing or a results brief is
judged by its prose and not by the columns of its tables. Pure functions of the text.
"""
from __future__ import annotations

import re

# a line drawn with characters: ----, ====, ____, - ------ (EDGAR's escaped dashes), +--+--+
_RULE = re.compile(r"^[-=_~*+|:.#\u2014\u2013\u2500\u2550 ]{3,}$")
_SENTENCE_END = re.compile(r"""[.!?:;"'\u201d\u2019)]$""")


def _has_letter(word: str) -> bool:
    return any(c.isalpha() for c in word)


def is_table_line(line: str) -> bool:
    """True for a table row, a rule line or a short cell holding a figure (see the module docstring)."""
    s = line.strip()
    if not s:
        return False
    if _RULE.match(s):
        return True
    words = s.split()
    n = len(words)
    alpha = sum(1 for w in words if _has_letter(w))
    if alpha * 2 < n:  # mostly figures, amounts, dates
        return True
    if s.count("|") >= 2 and s.count("|") * 3 >= n:  # | cell | cell |
        return True
    ends = bool(_SENTENCE_END.search(s))
    if not ends and alpha * 10 < n * 7:  # a row of labels and figures, not a sentence
        return True
    return n <= 3 and not ends and any(c.isdigit() for c in s)


def prose_view(text: str) -> str:
    """``text`` without its table lines (blank lines kept, so paragraphs stay paragraphs)."""
    lines = text.split("\n")
    kept = [line for line in lines if not is_table_line(line)]
    if len(kept) == len(lines):
        return text
    return "\n".join(kept).strip("\n")
