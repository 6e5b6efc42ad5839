"""url_filter: block/allow lists from files, matched by registered domain and substring, offline."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.config import RunConfig
from pilewright.schemas.records import Document
from pilewright.schemas.stages.url_filter import UrlFilterConfig
from pilewright.transforms.url_filter import UrlFilter
from pilewright.transforms.url_filter.lists import build_lists, candidate_domains, parse_list, url_reason


def test_parse_list_drops_comments_and_reduces_domain_entries_to_hosts():
    text = "# adult sites\nExample.CO.uk\n\n*.bad.com  # wildcard form\nhttps://www.evil.org/path\n.dot.net.\n"
    assert parse_list(text, domains=True) == ["example.co.uk", "bad.com", "www.evil.org", "dot.net"]
    assert parse_list("Casino\n# x\n/ads/\n", domains=False) == ["casino", "/ads/"]


def test_candidate_domains_stop_at_the_registered_domain_from_the_bundled_suffix_list():
    assert candidate_domains("a.news.bbc.co.uk") == ["a.news.bbc.co.uk", "news.bbc.co.uk", "bbc.co.uk"]
    assert candidate_domains("192.168.0.1") == ["192.168.0.1"]


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://news.example.co.uk/x", "url:blocked_domain"),
        ("https://EXAMPLE.co.uk./", "url:blocked_domain"),
        ("https://notexample.co.uk/", None),  # registered-domain match, not a suffix of the string
        ("https://co.uk/", None),
        ("http://ok.com/Casino-night", "url:blocked_substring"),
        ("http://ok.com/", None),
        (None, None),
        ("http://[::1/", None),  # an unparsable URL is not a match, and not a crash
    ],
)
def test_block_lists(url, reason):
    lists = build_lists(["example.co.uk"], ["casino"])
    assert url_reason(url, lists) == reason


def test_allow_lists_keep_only_matches_and_block_wins():
    lists = build_lists(["spam.wikipedia.org"], [], ["wikipedia.org"], ["/finance/"])
    assert url_reason("https://an.wikipedia.org/wiki/x", lists) is None
    assert url_reason("https://x.com/finance/a", lists) is None
    assert url_reason("https://x.com/", lists) == "url:not_allowed"
    assert url_reason("https://spam.wikipedia.org/", lists) == "url:blocked_domain"
    assert url_reason(None, lists) is None  # documents without a URL pass


def test_stage_reads_list_files_and_rejects_with_reasons(tmp_path):
    (tmp_path / "block.txt").write_text("# blocked\nbad.com\n")
    (tmp_path / "subs.txt").write_text("casino\n")
    cfg = RunConfig.model_validate({
        "sources": [{"name": "cc", "paths": ["x.warc.gz"], "format": "warc"}],
        "stages": {"url_filter": {"block_domains": [str(tmp_path / "block.txt")], "block_substrings": [str(tmp_path / "subs.txt")]}},
    }).stages.url_filter
    assert isinstance(cfg, UrlFilterConfig)
    docs = [
        Document(id="1", text="a", source="cc", domain="web", url="https://www.bad.com/x"),
        Document(id="2", text="b", source="cc", domain="web", url="https://good.com/casino"),
        Document(id="3", text="c", source="cc", domain="web", url="https://good.com/"),
        Document(id="4", text="d", source="j", domain="general"),
    ]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | UrlFilter(cfg)
        assert_that(res.main | "M" >> beam.Map(lambda d: d.id), equal_to(["3", "4"]), label="kept")
        assert_that(
            res.rejected | "R" >> beam.Map(lambda r: (r.id, r.stage, r.reason)),
            equal_to([("1", "url_filter", "url:blocked_domain"), ("2", "url_filter", "url:blocked_substring")]),
            label="rejected",
        )


def test_list_paths_resolve_relative_to_the_config_and_a_missing_list_is_a_one_line_error(tmp_path):
    from pilewright.pipeline.job.config import ConfigError, check_inputs_exist, load_config

    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "block.txt").write_text("bad.com\n")
    (tmp_path / "a.warc.gz").write_bytes(b"")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(
        "sources: [{name: cc, paths: [a.warc.gz], format: warc}]\n"
        "stages: {extract: {extractor: resiliparse, timeout_s: 5}, url_filter: {block_domains: [lists/block.txt]}}\n"
    )
    loaded = load_config(str(cfg_path))
    assert loaded.resolved.stages.url_filter.block_domains == [str(tmp_path / "lists" / "block.txt")]
    assert loaded.written.stages.url_filter.block_domains == ["lists/block.txt"]
    assert loaded.resolved.stages.extract.extractor == "resiliparse"
    check_inputs_exist(loaded.resolved)
    (tmp_path / "lists" / "block.txt").unlink()
    with pytest.raises(ConfigError, match=r"stages.url_filter.block_domains\[0\]: file not found"):
        check_inputs_exist(loaded.resolved)
