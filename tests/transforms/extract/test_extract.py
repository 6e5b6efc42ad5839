"""The extract stage: HTML documents -> main text; other documents pass; slow or huge pages are dead letters."""
from __future__ import annotations

import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.stages.extract import ExtractConfig
from pilewright.schemas.records import Document
from pilewright.transforms.extract import Extract
from pilewright.transforms.extract.extractors import extract_text, extractor_call
from pilewright.transforms.extract.isolated import ExtractTimeout, IsolatedExtractor

ARTICLE = (
    "<html><head><title>Quarterly results</title></head><body><nav><a href='/'>Home</a> | <a href='/x'>Markets</a></nav>"
    "<article><h1>Quarterly results</h1>"
    "<p>The company reported revenue growth for the third quarter, driven by strong demand in its core markets.</p>"
    "<table><tr><th>Year</th><th>Revenue</th></tr><tr><td>2023</td><td>1,234</td></tr><tr><td>2024</td><td>2,345</td></tr></table>"
    "<p>Management expects margins to improve next year as input costs stabilise and new products ship.</p>"
    "</article><footer>Copyright 2024 Example Corp. All rights reserved.</footer></body></html>"
)


def html_doc(i: int, html: str = ARTICLE, ctype: str = "text/html") -> Document:
    return Document(id=f"cc/{i}", text=html, source="cc", domain="web", url=f"https://ex.com/{i}", content_type=ctype)


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
def test_extractors_keep_main_text_and_table_rows(extractor):
    name, options = extractor_call(ExtractConfig(extractor=extractor))
    text = extract_text(ARTICLE, name, options)
    assert "revenue growth for the third quarter" in text
    assert "margins to improve" in text
    # a table row stays one line with both cells in order
    row = next(line for line in text.splitlines() if "2023" in line)
    assert "1,234" in row and row.index("2023") < row.index("1,234")
    assert "All rights reserved" not in text


def test_isolated_extractor_times_out_then_recovers():
    name, options = extractor_call(ExtractConfig(extractor="trafilatura"))
    huge = "<html><body>" + "".join(f"<div><p>paragraph {i} with some words in it</p></div>" for i in range(40000)) + "</body></html>"
    run = IsolatedExtractor(name, options, timeout_s=1.0)
    try:
        assert "third quarter" in run(ARTICLE)
        t = time.monotonic()
        with pytest.raises(ExtractTimeout):
            run(huge)
        assert time.monotonic() - t < 5  # killed, not waited for
        assert "third quarter" in run(ARTICLE)  # a fresh child serves the next page
        assert run.restarts == 1
    finally:
        run.close()


def test_stage_routes_html_text_empty_and_too_large():
    docs = [
        html_doc(1),
        html_doc(2, html="<html><body><script>var x = 1;</script></body></html>"),
        html_doc(3, html=ARTICLE + "<!--" + "x" * 5000 + "-->"),
        Document(id="j/1", text="plain jsonl text", source="j", domain="general"),
        html_doc(4, html="already text", ctype="text/plain"),
    ]
    cfg = ExtractConfig(extractor="resiliparse", max_html_chars=4000, timeout_s=5)
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Extract(cfg)
        assert_that(
            res.main | "M" >> beam.Map(lambda d: (d.id, "third quarter" in d.text or d.text)),
            equal_to([("cc/1", True), ("j/1", "plain jsonl text"), ("cc/4", "already text")]),
            label="main",
        )
        assert_that(res.rejected | "R" >> beam.Map(lambda r: (r.id, r.stage, r.reason)), equal_to([("cc/2", "extract", "empty")]), label="rej")
        assert_that(res.errors | "E" >> beam.Map(lambda e: (e.doc_id, e.error_type)), equal_to([("cc/3", "extract:too_large")]), label="err")


def test_stage_timeout_is_a_dead_letter_and_the_job_goes_on():
    huge = "<html><body>" + "".join(f"<div><p>paragraph {i} with some words in it</p></div>" for i in range(40000)) + "</body></html>"
    docs = [html_doc(1), html_doc(2, html=huge), html_doc(3)]
    cfg = ExtractConfig(extractor="trafilatura", timeout_s=1.0)
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Extract(cfg)
        assert_that(res.main | "M" >> beam.Map(lambda d: d.id), equal_to(["cc/1", "cc/3"]), label="main")
        assert_that(res.errors | "E" >> beam.Map(lambda e: (e.doc_id, e.stage, e.error_type)), equal_to([("cc/2", "extract", "extract:timeout")]), label="err")
