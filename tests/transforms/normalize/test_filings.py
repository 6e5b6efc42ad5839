"""Filings as a reader sees them: EDGAR's machinery removed, forms and data told from prose, tables set
aside when a filing is judged (issue 27)."""
from __future__ import annotations

import gzip
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.config import StagesConfig
from pilewright.schemas.profiles import resolve_source_stages
from pilewright.schemas.records import Document
from pilewright.schemas.stages.quality import NormalizeConfig, QualityConfig
from pilewright.transforms.normalize import Normalize
from pilewright.transforms.normalize.filings import (
    not_prose,
    rejoin_fixed_width,
    strip_edgar_boilerplate,
    strip_xbrl_header,
)
from pilewright.transforms.normalize.stage import Normalizer
from pilewright.transforms.text_lines import is_table_line, prose_view


ITEM = (
    "On March 3, 2025, the Board of Directors of the Company approved an amendment to the bylaws of the "
    "Company to permit stockholders to act by written consent. The amendment became effective upon its "
    "adoption by the Board, and a copy of the amended bylaws is filed as an exhibit to this report. The "
    "Company also announced that its annual meeting of stockholders will be held in the second quarter."
)
COVER = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 8-K
CURRENT REPORT
Example Widgets, Inc.
(Exact name of registrant as specified in its charter)
Delaware
001-12345
12-3456789
Check the appropriate box below if the Form 8-K filing is intended to simultaneously satisfy the filing obligation of the registrant under any of the following provisions:
Item 5.03 Amendments to Articles of Incorporation or Bylaws.
"""
EIGHT_K = COVER + ITEM + "\n\n" + ITEM.replace("bylaws", "charter") + "\n"


def _doc(text: str, doc_id: str = "d", source: str = "edgar") -> Document:
    return Document(id=doc_id, text=text, source=source, domain="finance")


# --- the inline-XBRL hidden header -----------------------------------------------------------------------

def test_hidden_xbrl_facts_at_the_top_are_removed():
    facts = "false\n0001234567\n0001234567\n2025-03-03\n2025-03-03\niso4217:USD\nxbrli:shares\nP1Y\n\n"
    out = strip_xbrl_header(facts + EIGHT_K)
    assert out.lstrip().startswith("UNITED STATES")
    assert "iso4217:USD" not in out and "0001234567" not in out
    assert ITEM in out


def test_ix_header_markup_is_removed():
    text = '<div style="display:none"><ix:header><ix:hidden>false 0001234567</ix:hidden></ix:header></div>' + EIGHT_K
    out = strip_xbrl_header(text)
    assert "ix:header" not in out and "0001234567" not in out and ITEM in out


def test_leading_figures_without_xbrl_marks_are_text():
    text = "2024\n2023\n1,234\n\n" + EIGHT_K
    assert strip_xbrl_header(text) == text


# --- EDGAR boilerplate -----------------------------------------------------------------------------------

def test_index_page_navigation_and_sgml_machinery_are_removed():
    text = (
        "EDGAR Filing Documents for 0000000000-25-000001\n"
        "This page uses Javascript. Your browser either doesn't support Javascript or you have it turned off. "
        "To see this page as it is meant to appear please use a Javascript enabled browser.\n"
        "Home\n|\nLatest Filings\n|\nPrevious Page\nSearch the Next-Generation EDGAR System\n"
        "ACCESSION NUMBER: 0000000000-25-000001\nCONFORMED SUBMISSION TYPE: 8-K\n"
        "<SEC-HEADER>\n<TYPE>8-K\nexample-8k.htm\n<PAGE> 2\n" + EIGHT_K +
        "<XBRL>\n<?xml version=\"1.0\"?>\n<xs:schema>\n<link:label>Entity Registrant Name</link:label>\n"
        "</xs:schema>\n</XBRL>\ntrue\nhttp://xbrl.sec.gov/dei/2024\n"
    )
    out = strip_edgar_boilerplate(text)
    for gone in ("Javascript", "Latest Filings", "ACCESSION NUMBER", "<TYPE>", "example-8k.htm", "<PAGE>",
                 "xs:schema", "Entity Registrant Name", "http://xbrl.sec.gov", "EDGAR Filing Documents"):
        assert gone not in out, gone
    assert ITEM in out and "Example Widgets, Inc." in out


def test_boilerplate_leaves_prose_alone():
    assert strip_edgar_boilerplate(EIGHT_K) == EIGHT_K


# --- fixed-width layout ----------------------------------------------------------------------------------

def test_fixed_width_lines_are_rejoined_and_rules_removed():
    text = (
        "ITEM 5. OTHER EVENTS\n"
        "--------------------------------------------------------\n"
        "The Registrant has entered into an agreement with the trustee\n"
        "under which the certificates will be repaid in full on the next\n"
        "distribution date.\n"
        "\n"
        "CLASS A 1,000,000.00 998,000.00 2,000.00\n"
        "CLASS B 500,000.00 500,000.00 0.00\n"
    )
    out = rejoin_fixed_width(text)
    assert "----" not in out
    assert ("The Registrant has entered into an agreement with the trustee under which the certificates will "
            "be repaid in full on the next distribution date.") in out
    assert "CLASS A 1,000,000.00 998,000.00 2,000.00\nCLASS B 500,000.00 500,000.00 0.00" in out
    assert out.startswith("ITEM 5. OTHER EVENTS\n")


# --- forms and data --------------------------------------------------------------------------------------

FORM4_XML = """<?xml version="1.0"?>
<ownershipDocument>
<schemaVersion>X0508</schemaVersion>
<documentType>4</documentType>
<issuer><issuerCik>0000000001</issuerCik><issuerName>EXAMPLE CORP</issuerName></issuer>
<footnotes><footnote id="F1">The price reported is a weighted average price of shares sold in multiple
transactions at prices ranging from $10.00 to $10.50, and full information will be provided on request
by the reporting person to the staff of the Commission or to any holder of the securities.</footnote></footnotes>
</ownershipDocument>
"""


def test_forms_and_data_are_not_prose():
    assert not_prose(FORM4_XML) == "xml"
    values = "X0508\n4\n2025-01-10\n0000000001\nEXAMPLE CORP\nEXC\n" + ITEM
    assert not_prose(values) == "xml"  # an EDGAR XML form's values, extracted to text
    header = "ACCESSION NUMBER: 0000000000-25-000001\nCONFORMED SUBMISSION TYPE: 485APOS\nFILER:\n" \
             "COMPANY DATA:\nCOMPANY CONFORMED NAME: EXAMPLE TRUST\nCENTRAL INDEX KEY: 0000000001\n"
    assert not_prose(header) == "no_prose"
    form4 = ("FORM 4\nSTATEMENT OF CHANGES IN BENEFICIAL OWNERSHIP\n" + ITEM + "\n"
             "Table I -- Non-Derivative Securities Acquired\nCommon Stock 01/10/2025 S 1,500 D $66.90 37,565 D\n")
    assert not_prose(form4) == "form_title"
    facts = "\n".join(["iso4217:USD", "2024-12-31", "us-gaap:Revenues", "1234000", "c-1"] * 10) + "\n" + ITEM
    assert not_prose(facts) == "xbrl_facts"
    index = ("EDGAR Filing Documents for 0000000000-25-000001\nFiling Detail\nDocument Format Files\nSeq\n"
             "Description\nDocument\nType\nSize\n1\nexample-8k.htm\n8-K\n45348\n"
             "Example Widgets, Inc. (Filer)\nCIK\n0000000001 (see all company filings)\n")
    assert not_prose(index) == "no_prose"


def test_data_pages_without_prose_are_not_prose():
    info_table = "\n".join(f"EXAMPLE HOLDING {i} INC\nCOM\n0{i:08d}\n{i * 1234}\n{i * 50}\nSH\nSOLE\n{i * 50}\n0\n0"
                           for i in range(1, 30))
    assert not_prose(info_table) is not None  # a 13F information table's values
    r_page = ("Document and Entity Information - USD ($)\n12 Months Ended\nSep. 28, 2024\nDocument Type\n10-K\n"
              "Amendment Flag\nfalse\nEntity Registrant Name\nExample Widgets, Inc.\nEntity Central Index Key\n"
              "0001234567\nCurrent Fiscal Year End Date\n--09-28\nEntity Filer Category\nLarge Accelerated Filer\n")
    assert not_prose(r_page) is not None  # an XBRL viewer page
    listing = ("Index of /Archives/edgar/data/1234567/000123456725000001\nName\nLast Modified\nSize\n"
               "Parent Directory\n0001234567-25-000001-index.htm\n2025-03-03 16:05\n4 KB\n"
               "example-8k.htm\n2025-03-03 16:05\n45 KB\n")
    assert not_prose(listing) is not None  # an EDGAR directory index


def test_prose_filings_are_prose():
    assert not_prose(EIGHT_K) is None
    facts = "false\n0001234567\n2025-03-03\niso4217:USD\n"
    assert not_prose(facts + EIGHT_K) is None


def test_normalize_drops_not_prose_with_its_reason():
    cfg = NormalizeConfig(drop_not_prose=True, strip_xbrl_header=True, strip_edgar_boilerplate=True,
                          rejoin_fixed_width=True)
    docs = [_doc(EIGHT_K, "report"), _doc(FORM4_XML, "form4")]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Normalize(cfg)
        assert_that(res.main | beam.Map(lambda d: d.id), equal_to(["report"]), label="kept")
        assert_that(res.rejected | beam.Map(lambda r: (r.id, r.stage, r.reason)),
                    equal_to([("form4", "normalize", "filings:not_prose")]), label="rejected")


def test_filings_options_are_off_by_default():
    text = "false\n0001234567\niso4217:USD\nxbrli:shares\n" + EIGHT_K
    assert Normalizer(NormalizeConfig()).reject_reason(FORM4_XML) is None
    assert "iso4217:USD" in Normalizer(NormalizeConfig())(text)
    assert NormalizeConfig().model_dump() == NormalizeConfig.model_validate({}).model_dump()
    assert "drop_not_prose" not in NormalizeConfig().model_dump()  # an unused option leaves a run's record alone


# --- tables set aside ------------------------------------------------------------------------------------

def test_table_lines():
    for line in ("2024 2023 2022", "$ 1,234 $ 5,678 12.5 %", "------------", "| Revenue | 1,234 | 5,678 |",
                 "Total revenue 1,234 5,678 9,012", "(1,234)"):
        assert is_table_line(line), line
    for line in ("", ITEM, "Revenue grew 12% to $4.5 billion in 2023 from $4.0 billion in 2022.",
                 "Item 2.02 Results of Operations and Financial Condition.", "Per share"):
        assert not is_table_line(line), line
    text = "Intro sentence of the report.\n2024 2023\n1,234 5,678\nClosing sentence of the report."
    assert prose_view(text) == "Intro sentence of the report.\nClosing sentence of the report."


def _table(rows: int) -> str:
    return "\n".join(f"Line item {i} {i * 1000:,} {i * 1100:,} {i * 1200:,} {i * 7}.5%" for i in range(rows))


def test_quality_judges_the_prose_and_keeps_the_tables():
    from pilewright.transforms.quality.rules import RuleScorer

    text = "\n\n".join([ITEM, _table(60), ITEM.replace("bylaws", "policy"), ITEM.replace("Board", "Committee")])
    whole = RuleScorer(QualityConfig(rules=["gopher_quality"])).score(text)
    aside = RuleScorer(QualityConfig(rules=["gopher_quality"], set_aside_tables=True)).score(text)
    assert whole.reason == "gopher_quality:alpha_words"
    assert aside.reason is None and aside.text == text  # judged by its prose, kept whole
    only_tables = RuleScorer(QualityConfig(rules=["gopher_quality"], set_aside_tables=True)).score(_table(60))
    assert only_tables.reason is not None


# --- the filings profile on real filings -----------------------------------------------------------------

NOT_PROSE_IDS = {
    "sec-sgml_0001127602-25-001055.txt", "sec-sgml_0001398344-24-000491.nc.txt",
    "sec-sgml_header_with_double_newlines.txt", "sec-sgml_0001094891-00-000193.txt",
    "sec-sgml_0000950129-95-001652.txt", "sec-troweprice.DEF14A.html",
}


def test_filings_profile_on_real_filings(shared_corpora):
    blocks = resolve_source_stages("filings", StagesConfig.model_validate({"normalize": {}}), {})
    normalize = Normalizer(blocks["normalize"])
    with gzip.open(shared_corpora / "finance" / "sec_filings_edgartools.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    flagged = {r["id"] for r in rows if normalize.reject_reason(r["text"]) is not None}
    assert flagged == NOT_PROSE_IDS
    # the two inline-XBRL 8-Ks lose their hidden header and keep their items
    by_id = {r["id"]: r["text"] for r in rows}
    for doc_id in ("sec-sgml_0000943374-24-000509.txt", "sec-sgml_0001213900-25-032135.txt"):
        out = normalize(by_id[doc_id])
        assert out.startswith("UNITED STATES"), out[:80]
        assert "xbrli:shares" not in out and "<xs:schema" not in out
