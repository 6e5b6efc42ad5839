"""Filings as a reader sees them: EDGAR's machinery taken out before a filing is judged (pure functions).

Four steps, each a ``stages.normalize`` option any profile can turn on (the ``filings`` preset turns on
all four):

- ``strip_xbrl_header``: the hidden header of an inline-XBRL document. As markup it is the
  ``<ix:header>`` element; extracted to text it is a run of fact values at the top of the document
  (``false``, the CIK, ISO dates, ``iso4217:USD``, ``xbrli:shares``, member names, taxonomy URLs) that no
  reader sees.
- ``strip_edgar_boilerplate``: EDGAR's own pages and wrappers around a document: the filing-index page
  (its JavaScript notice, navigation, "Document Format Files" table, filer blocks), the SGML submission
  header (``ACCESSION NUMBER:`` ... and its tags), SGML tags (``<PAGE>``, ``<TABLE>``, ``<S>``, ``<C>``),
  and file-name lines (``aapl-20240928.htm``).
- ``rejoin_fixed_width``: a typewritten (fixed-width) filing's layout rejoined: rule lines of dashes,
  equals signs and underscores removed, and lines a hard wrap broke joined into their sentences (the
  width is the document's usual line length, not a block's longest line). Table rows stay rows.
- ``drop_not_prose``: documents that are forms and data rather than prose are dropped as
  ``filings:not_prose``: XML (XBRL instances, Form D, Forms 3/4/5 as XML), an SGML header alone, XBRL
  facts extracted to text, the forms whose title says they are forms (Forms 3/4/5, D, 13F, 144, 24F-2),
  EDGAR index and viewer pages, and any document with too little prose left to read (see ``not_prose``).
"""
from __future__ import annotations

import re
from typing import Optional

from pilewright.transforms.text_lines import is_table_line

# --- inline XBRL hidden header ----------------------------------------------------------------------------

_IX_HEADER = re.compile(r"<ix:header\b.*?</ix:header\s*>", re.S | re.I)
_FACT_LINE = re.compile(
    r"""^(?:
        true|false                                   # booleans (AmendmentFlag, ...)
      | \d{10}                                       # a CIK
      | -?\d+(?:\.\d+)?                              # a plain number (fiscal year, shares)
      | --\d\d-\d\d | \d{4}-\d\d-\d\d                # fiscal year end, ISO dates
      | P\d+[YMD] | FY | Q[1-4] | H[12]              # durations and fiscal periods
      | [a-z][a-z0-9-]*:[A-Za-z_][\w.\-]*            # QNames: iso4217:USD, us-gaap:CommonStockMember
      | https?://\S+                                 # taxonomy URIs
      | [ci]-\d+ | i[0-9a-f]{12,}(?:_\w+)?           # context ids
    )$""",
    re.X,
)
# a run of facts counts as the hidden header when one of them is unmistakably XBRL
_FACT_MARK = re.compile(r"^(?:true|false|\d{10}|[a-z][a-z0-9-]*:[A-Za-z_][\w.\-]*|--\d\d-\d\d|\d{4}-\d\d-\d\d)$")


def strip_xbrl_header(text: str) -> str:
    """``text`` without an inline-XBRL hidden header (as ``<ix:header>`` markup or as extracted facts)."""
    if "ix:header" in text or "IX:HEADER" in text:
        text = _IX_HEADER.sub("", text)
    lines = text.split("\n")
    i, facts, marked = 0, 0, False
    while i < len(lines):
        s = lines[i].strip()
        if s:
            if not _FACT_LINE.match(s):
                break
            facts += 1
            marked = marked or bool(_FACT_MARK.match(s))
        i += 1
    if facts >= 3 and marked:
        return "\n".join(lines[i:])
    return text


# --- EDGAR boilerplate ------------------------------------------------------------------------------------

# EDGAR's navigation and index-page lines: removed anywhere ...
_NAV_LINES = {
    s.lower()
    for s in (
        "Latest Filings", "Previous Page", "Search the Next-Generation EDGAR System", "Filing Detail",
        "SEC Home", "Company Search", "EDGAR Search", "Document Format Files", "Complete submission text file",
        "Series and Classes/Contracts Information:", "Filer Information", "(see all company filings)",
    )
}
# ... and, inside an index page, its table headers and labels (elsewhere they are a filing's own cells)
_INDEX_LINES = {
    s.lower()
    for s in (
        "Home", "|", "»", "Current Page", "Full-Text Search", "Data Files", "Seq", "Description", "Document",
        "Type", "Size", "Existing", "Status", "Name", "Ticker Symbol", "Mailing Address", "Business Address",
        "Filing Date", "Accepted", "Documents", "Period of Report", "Filing Date Changed", "Effectiveness Date",
        "Items",
    )
}
_JS_NOTICE = re.compile(r"This page uses Javascript\..*?(?:enabled browser\.|$)", re.S | re.I)
_INDEX_TITLE = re.compile(r"^(?:EDGAR Filing Documents for|Index of /Archives/edgar/)", re.I)
# `KEY: value` lines of an SGML submission header
_HEADER_FIELD = re.compile(
    r"^(?:ACCESSION NUMBER|CONFORMED SUBMISSION TYPE|PUBLIC DOCUMENT COUNT|CONFORMED PERIOD OF REPORT|"
    r"FILED AS OF DATE|DATE AS OF CHANGE|EFFECTIVENESS DATE|ITEM INFORMATION|GROUP MEMBERS|FILER|"
    r"SUBJECT COMPANY|FILED BY|REPORTING-OWNER|ISSUER|COMPANY DATA|COMPANY CONFORMED NAME|"
    r"CENTRAL INDEX KEY|STANDARD INDUSTRIAL CLASSIFICATION|ORGANIZATION NAME|IRS NUMBER|"
    r"STATE OF INCORPORATION|FISCAL YEAR END|FILING VALUES|FORM TYPE|SEC ACT|SEC FILE NUMBER|FILM NUMBER|"
    r"BUSINESS ADDRESS|MAIL ADDRESS|STREET \d|CITY|STATE|ZIP|BUSINESS PHONE|FORMER COMPANY|"
    r"FORMER CONFORMED NAME|DATE OF NAME CHANGE|OWNER DATA|REPORTING-OWNER RELATIONSHIP)\s*:",
)
_SGML_HEADER_TAG_LINE = re.compile(
    r"^<(?:ACCEPTANCE-DATETIME|PRIVATE-TO-PUBLIC|SEC-HEADER|/SEC-HEADER|SEC-DOCUMENT|IMS-HEADER|OWNER-CIK|"
    r"SERIES-ID|SERIES-NAME|CLASS-CONTRACT-ID|CLASS-CONTRACT-NAME|CLASS-CONTRACT-TICKER-SYMBOL|"
    r"/?[A-Z-]*SERIES[A-Z-]*|/?CLASS-CONTRACT|TYPE|SEQUENCE|FILENAME|DESCRIPTION)>.*$"
)
_PAGE_TAG = re.compile(r"</?(?:PAGE|TABLE|CAPTION|S|C|FN|TEXT|DOCUMENT|PDF)>(?:\s*\d+\s*$)?", re.I)
_FILE_NAME = re.compile(r"^[\w.\-&]+\.(?:htm|html|txt|xml|xsd|jpg|jpeg|gif|png|pdf|js|css)$", re.I)
# EDGAR's document-generator stamp ("tm2415452-18_424b4 - none - 26.4219618s")
_GENERATOR = re.compile(r"^\S+ - none - [\d.]+s$")


# an attached XBRL/XML document or a JSON file (MetaLinks) inside a submission starts here ...
_DATA_START = re.compile(r"^(?:<XBRL>|<XML>|<\?xml\b|\{$)", re.I)
# ... and ends at its closing tag, or at the first line of prose outside markup
_DATA_END = re.compile(r"^</(?:XBRL|XML)>", re.I)
# a lone machine value: a boolean, a taxonomy URI, a QName
_MACHINE_VALUE = re.compile(r"^(?:true|false|https?://\S+|[a-z][a-z0-9-]*:[A-Za-z_][\w.\-]*)$")


def _strip_data_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_data = False
    for line in lines:
        s = line.strip()
        if not in_data:
            if _DATA_START.match(s):
                in_data = True
                continue
            out.append(line)
            continue
        if _DATA_END.match(s):
            in_data = False
            continue
        if s and "<" not in s and '":' not in s and _prose_words(s) >= 8:
            in_data = False
            out.append(line)
    return out


def strip_edgar_boilerplate(text: str) -> str:
    """``text`` without EDGAR's index page, navigation, SGML header and tags, attached XBRL/XML and JSON
    files, lone machine values (booleans, taxonomy URIs, QNames) and file-name lines."""
    in_index = False
    if "Javascript" in text or "JavaScript" in text:
        text, notices = _JS_NOTICE.subn("", text)
        in_index = notices > 0
    out: list[str] = []
    for line in _strip_data_blocks(text.split("\n")):
        s = line.strip()
        if not s:
            out.append(line)
            continue
        if _MACHINE_VALUE.match(s):
            continue
        if _INDEX_TITLE.match(s):
            in_index = True
            continue
        low = s.lower()
        if low in _NAV_LINES or _HEADER_FIELD.match(s) or _SGML_HEADER_TAG_LINE.match(s):
            continue
        if in_index and low in _INDEX_LINES:
            continue
        if _FILE_NAME.match(s) or _GENERATOR.match(s):
            continue
        if in_index and (s.startswith("|") or "(see all company filings)" in s or s.endswith("(Filer)")):
            continue
        if "<" in s:
            s2 = _PAGE_TAG.sub("", s).strip()
            if s2 != s:
                if s2:
                    out.append(s2)
                continue
        out.append(line)
    return "\n".join(out)


# --- fixed-width layout -----------------------------------------------------------------------------------

_RULE_LINE = re.compile(r"^[-=_~*+ ]{3,}$")
_ENDS = re.compile(r"""[.!?:;"'\u201d\u2019)\]]$""")


def _heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def rejoin_fixed_width(text: str) -> str:
    """A fixed-width filing rejoined: rule lines removed, hard-wrapped lines joined into sentences.

    A line is joined to the next when it does not end a sentence, neither is a heading in capitals or a
    table line, and the line was wrapped: it reaches close to the document's usual width (the 90th
    percentile of its line lengths) or the next line goes on in lower case. Blank lines stay.
    """
    lines = [line for line in text.split("\n") if not _RULE_LINE.match(line.strip()) or not line.strip()]
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    if not lengths:
        return text
    width = lengths[min(len(lengths) - 1, (len(lengths) * 9) // 10)]
    out: list[str] = []
    prev_raw = ""
    for line in lines:
        s = line.strip()
        if (
            s
            and out
            and out[-1].strip()
            and not _ENDS.search(out[-1])
            and not _heading(out[-1])
            and not _heading(s)
            and not is_table_line(prev_raw)
            and not is_table_line(s)
            and (s[0].islower() or len(prev_raw) + 1 + len(s.split(" ", 1)[0]) > width - 12)
        ):
            out[-1] = f"{out[-1].rstrip()} {s}"
            prev_raw = s
            continue
        out.append(line)
        prev_raw = s
    return "\n".join(out)


# --- forms and data ---------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^<>\n]{1,200}>")
_XML_START = re.compile(r"^\s*(?:<XML>\s*)?<\?xml|^\s*<(?:xbrl|xbrli:xbrl|edgarSubmission|ownershipDocument|informationTable)\b", re.I)
# the values of an EDGAR XML form (Forms 3/4/5, D, 13F) extracted to text open with its schema version
_SCHEMA_VERSION = re.compile(r"X0\d{3}\s*\n")
# titles that say the document is a form to fill, whatever prose its footnotes hold
_FORM_TITLES = re.compile(
    r"statement of changes in beneficial ownership|initial statement of beneficial ownership"
    r"|notice of exempt offering of securities|form 13f(?:-hr)? (?:information table|summary page|cover page)"
    r"|form 13f information table|notice of proposed sale of securities pursuant to rule 144"
    r"|annual notice of securities sold pursuant to rule 24f-2|inline xbrl viewer",
    re.I,
)
_STOP = frozenset(
    "the of to and a in is for that by with as on be are or this which will may shall has have its an at "
    "from not any such our we it been were was all if under".split()
)
# below this many words in prose sentences a document has nothing a reader reads
MIN_PROSE_WORDS = 40
# share of characters in prose sentences under which a document with under 100 words of prose (a form's
# few sentences of instructions) is a form
MIN_PROSE_SHARE = 0.15


def _prose_words(line: str) -> int:
    """Words of ``line`` when it is a sentence of prose (8+ words, mostly with letters, 2+ stop words)."""
    words = line.split()
    if len(words) < 8:
        return 0
    if sum(1 for w in words if any(c.isalpha() for c in w)) * 4 < len(words) * 3:
        return 0
    if sum(1 for w in words if w.lower().strip(",.;:()\"'") in _STOP) < 2:
        return 0
    if not any(c.islower() for c in line):  # headings and header fields in capitals
        return 0
    return len(words)


def not_prose(text: str) -> Optional[str]:
    """Why ``text`` (as extracted, before the steps above) is a form or data rather than prose, or None.

    The why is for tests and the benchmark (``xml``, ``xbrl_facts``, ``form_title``, ``no_prose``); the
    stage drops all of them as ``filings:not_prose``.
    """
    head = text[:4000]
    if _XML_START.search(head) or _SCHEMA_VERSION.match(head.lstrip()):
        return "xml"
    nonspace = sum(1 for c in head if not c.isspace())
    if nonspace and sum(len(m) for m in _TAG.findall(head)) * 10 >= nonspace * 3:
        return "xml"
    lines = [s for s in (line.strip() for line in text.split("\n")) if s]
    facts = sum(1 for s in lines if _FACT_LINE.match(s))
    # an HTML-extracted 10-Q has up to a fifth of its lines bare figures, but almost no XBRL values
    marks = sum(1 for s in lines if _FACT_MARK.match(s))
    if lines and facts >= 20 and facts * 10 >= len(lines) * 4 and marks * 10 >= len(lines):
        return "xbrl_facts"
    body = strip_edgar_boilerplate(strip_xbrl_header(text))
    joined = rejoin_fixed_width(body)
    prose_lines = [(line, _prose_words(line)) for line in joined.split("\n")]
    words = sum(n for _, n in prose_lines)
    if _FORM_TITLES.search(" ".join(body[:3000].split())) and words < 1500:
        return "form_title"
    if words < MIN_PROSE_WORDS:
        return "no_prose"
    chars = sum(len(line) - line.count(" ") for line, n in prose_lines if n)
    total = sum(1 for c in body if not c.isspace())
    if total and words < 100 and chars < total * MIN_PROSE_SHARE:
        return "no_prose"
    return None
