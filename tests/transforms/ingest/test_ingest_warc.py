"""WARC/WET ingestion: every record of a file ends as a document, a rejection, a dead letter or a skip."""
from __future__ import annotations

import io
import json
import os
import uuid
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.config import SourceConfig
from pilewright.schemas.records import DeadLetter, Document
from pilewright.transforms.ingest.stage import ReadSources
from pilewright.transforms.ingest.read import Rejection, SourceSpec, read_file
from pilewright.transforms.ingest.read import Skip
from pilewright.transforms.ingest.warc import decode_html
from warc_records import gz_members, http, record

WARC = SourceSpec(name="cc", domain="web", format="warc")
WET = SourceSpec(name="cc", domain="web", format="wet")


def page(i: int, words: str = "") -> bytes:
    return record("response", f"https://ex.com/{i}", http(f"<html><body><p>page {i} {words}</p></body></html>".encode()), n=i + 1)


def run(data: bytes, path: str, spec: SourceSpec = WARC) -> list:
    return list(read_file(io.BytesIO(data), path, path.rsplit("/", 1)[-1], spec))


def outcome(r) -> str:
    if isinstance(r, Document):
        return "doc"
    if isinstance(r, Skip):
        return f"skip:{r.reason}"
    if isinstance(r, Rejection):
        return f"rejected:{r.reason}"
    assert isinstance(r, DeadLetter)
    return f"dead:{r.error_type}"


def test_response_pages_become_documents_with_record_id_url_date_and_type():
    out = run(gz_members([page(0, "hello"), page(1, "world")]), "x.warc.gz")
    assert [outcome(r) for r in out] == ["doc", "doc"]
    d = out[0]
    assert d.id == f"cc/{uuid.UUID(int=1)}"
    assert d.url == "https://ex.com/0"
    assert d.crawl_date == "2024-05-18T01:58:01Z"
    assert d.content_type == "text/html"
    assert "page 0 hello" in d.text and d.source == "cc" and d.domain == "web"


def test_truncated_warc_gz_keeps_whole_records_and_dead_letters_the_cut_one():
    data = gz_members([page(i) for i in range(4)])
    out = run(data[:-40], "x.warc.gz")
    assert [outcome(r) for r in out] == ["doc", "doc", "doc", "dead:truncated_file"]
    # cut in the middle of the file: what is whole is kept, the rest is one dead letter with its offset
    out = run(data[: len(data) // 2], "x.warc.gz")
    assert [outcome(r) for r in out][-1] == "dead:truncated_file"
    assert all(outcome(r) == "doc" for r in out[:-1])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("clen", [20, 400])
def test_wrong_content_length_dead_letters_that_record_and_the_reader_resyncs(compress, clen):
    bad = record("response", "https://ex.com/bad", http(b"<html>abc def ghi</html>"), clen=clen, n=99)
    records = [page(0), bad, page(2), page(3)]
    data = gz_members(records) if compress else b"".join(records)
    out = run(data, "x.warc.gz" if compress else "x.warc")
    assert [outcome(r) for r in out] == ["doc", "dead:bad_content_length", "doc", "doc"]
    assert [r.url for r in out if isinstance(r, Document)] == ["https://ex.com/0", "https://ex.com/2", "https://ex.com/3"]


def test_non_http_records_non_html_and_non_response_records_are_counted_skips():
    records = [
        record("warcinfo", "", b"software: test\r\n", ctype="application/warc-fields", n=50),
        record("request", "https://ex.com/0", b"GET / HTTP/1.1\r\nHost: ex.com\r\n\r\n", ctype="application/http; msgtype=request", n=51),
        page(0),
        record("response", "https://ex.com/raw", b"no http here", ctype="text/plain", n=52),
        record("response", "https://ex.com/a.png", http(b"\x89PNG....", ctype="image/png"), n=53),
        record("response", "https://ex.com/moved", http(b"", status="301 Moved"), n=54),
        record("response", "https://ex.com/empty", http(b"   "), n=55),
    ]
    out = run(gz_members(records), "x.warc.gz")
    assert [outcome(r) for r in out] == [
        "skip:record_type:warcinfo",
        "skip:record_type:request",
        "doc",
        "skip:not_http",
        "skip:content_type:image/png",
        "skip:http_status:3xx",
        "rejected:empty_text",
    ]


def test_garbage_between_records_is_one_dead_letter_then_reading_goes_on():
    data = b"".join([page(0), b"this is not a record at all\r\n\r\n", page(1)])
    assert [outcome(r) for r in run(data, "x.warc")] == ["doc", "dead:invalid_record_header", "doc"]


def test_charset_order_http_then_meta_then_detection():
    text = ("Voilà une page écrite en français. Les élèves étudient à l'école près de la forêt; "
            "l'été, ils mangent des crêpes et boivent du café. Où est la bibliothèque? Très loin d'ici.")
    latin = f"<html><body><p>{text}</p></body></html>".encode("cp1252")
    # undeclared: neither header nor meta; detection finds a Latin codec that restores the accents
    decoded, how = decode_html(latin, None)
    assert text in decoded and how.startswith("detected:")
    meta = b'<html><head><meta charset="windows-1251"></head><body>' + "Привет мир".encode("cp1251") + b"</body></html>"
    decoded, how = decode_html(meta, None)
    assert "Привет мир" in decoded and how == "meta:cp1251"
    # a header that does not decode the bytes is not trusted
    decoded, how = decode_html("Grüße".encode("latin-1"), "utf-8")
    assert how != "http:utf-8"


def test_undeclared_charset_page_is_decoded_and_undecodable_page_is_a_dead_letter():
    text = "Привет, как дела? Это страница на русском языке без объявления кодировки, довольно длинная."
    undeclared = record("response", "https://ex.ru/", http(f"<html><body><p>{text}</p></body></html>".encode("cp1251"), ctype="text/html"), n=7)
    binary = record("response", "https://ex.com/bin", http(os.urandom(3000) + b"\x00" * 200, ctype="text/html"), n=8)
    out = run(gz_members([undeclared, binary]), "x.warc.gz")
    assert outcome(out[0]) == "doc" and text in out[0].text
    assert outcome(out[1]) in ("dead:undecodable", "dead:binary_payload")


def test_wet_conversion_records_are_documents_as_is():
    conv = record("conversion", "https://ex.com/0", "Plain text from the page, déjà.\n".encode(), ctype="text/plain", n=3)
    info = record("warcinfo", "", b"x: y\r\n", ctype="application/warc-fields", n=4)
    out = run(gz_members([info, conv]), "x.warc.wet.gz", WET)
    assert [outcome(r) for r in out] == ["skip:record_type:warcinfo", "doc"]
    assert out[1].text == "Plain text from the page, déjà.\n" and out[1].content_type == "text/plain"


def test_beam_ingest_accounts_for_every_record_of_a_bad_file(tmp_path):
    """kept + rejected + dead + skipped == records written, counted from the stage's outputs."""
    bad_len = record("response", "https://ex.com/bad", http(b"<html>abc</html>"), clen=400, n=98)
    non_http = record("response", "https://ex.com/raw", b"no http here", ctype="text/plain", n=97)
    req = record("request", "https://ex.com/0", b"GET / HTTP/1.1\r\n\r\n", ctype="application/http; msgtype=request", n=96)
    undeclared = record("response", "https://ex.fr/", http("<p>Théâtre à l'été, très français.</p>".encode("cp1252"), ctype="text/html"), n=95)
    records = [page(0), req, bad_len, non_http, undeclared, page(1), page(2)]
    data = gz_members(records)
    (tmp_path / "a.warc.gz").write_bytes(data[:-30])  # the last record is cut
    src = SourceConfig(name="cc", paths=[str(tmp_path / "*.warc.gz")], format="warc", domain="web")
    with TestPipeline() as p:
        res = p | ReadSources([src])
        outcomes = (
            (res.main | "K" >> beam.Map(lambda d: "doc"), res.rejected | "R" >> beam.Map(lambda r: "rejected"),
             res.errors | "E" >> beam.Map(lambda e: f"dead:{e.error_type}"))
            | beam.Flatten()
        )
        assert_that(outcomes, equal_to(["doc", "doc", "doc", "dead:bad_content_length", "dead:truncated_file"]), label="outcomes")
        skips = (res.stats | "OnlySkips" >> beam.Filter(lambda kv: kv[0] == "skipped_records")
                 | beam.Map(lambda kv: (kv[0], json.loads(kv[1]))))
        assert_that(skips, equal_to([("skipped_records", {"cc": {"not_http": 1, "record_type:request": 1}})]), label="skips")
        n_skipped = skips | "NSkipped" >> beam.Map(lambda kv: sum(sum(r.values()) for r in kv[1].values()))
        n_out = outcomes | "NOut" >> beam.combiners.Count.Globally()
        total = (n_skipped, n_out) | "Both" >> beam.Flatten() | "Sum" >> beam.CombineGlobally(sum)
        assert_that(total, equal_to([len(records)]), label="every_record_accounted_for")


def test_common_crawl_whirlwind_warc_and_wet_yield_the_page(shared_corpora):
    WHIRLWIND = shared_corpora / "web_raw" / "commoncrawl_whirlwind"
    with open(WHIRLWIND / "whirlwind.warc.gz", "rb") as f:
        out = list(read_file(f, str(WHIRLWIND / "whirlwind.warc.gz"), "whirlwind.warc.gz", WARC))
    c = Counter(outcome(r) for r in out)
    assert c == Counter({"doc": 1, "skip:record_type:warcinfo": 1, "skip:record_type:request": 1, "skip:record_type:metadata": 1})
    (doc,) = [r for r in out if isinstance(r, Document)]
    assert doc.url == "https://an.wikipedia.org/wiki/Escopete"
    assert doc.id == "cc/2aabeff2-67f5-4608-8466-e87c6296e2b6"
    assert doc.crawl_date == "2024-05-18T01:58:10Z" and doc.content_type == "text/html"
    assert "<title>Escopete - Biquipedia, a enciclopedia libre</title>" in doc.text

    with open(WHIRLWIND / "whirlwind.warc.wet.gz", "rb") as f:
        out = list(read_file(f, str(WHIRLWIND / "whirlwind.warc.wet.gz"), "whirlwind.warc.wet.gz", WET))
    (wet,) = [r for r in out if isinstance(r, Document)]
    assert wet.url == doc.url and wet.id == "cc/ba729a40-ff84-4085-8d48-0a5b2ee0c42d"
    assert wet.text.startswith("Escopete - Biquipedia, a enciclopedia libre\n")
    assert "Escopete ye un municipio" in wet.text
