"""`pilewright diff OUT_A OUT_B` (issue 28): flipped documents, config cause, refusal, the HTML page."""
from __future__ import annotations

import contextlib
import io
import json

import pyarrow.parquet as pq
import pytest

from explain_fixtures import ONE, families_run, threshold_runs
from headless_page import CHROMIUM, assert_page_renders_offline
from pilewright.pipeline.audit.diff import DiffError, diff_html, diff_runs
from pilewright.pipeline.cli.main import main



def _cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs():
    return threshold_runs()


def test_a_run_against_itself_is_empty(runs):
    d = diff_runs(str(runs["base"]), str(runs["base"]))
    assert d.identical and not (d.lost or d.gained or d.reason_changed or d.config or d.by_source_stage)
    assert all(t["gained"] == t["lost"] == 0 for t in d.tokens_by_domain.values())


def test_one_threshold_flips_exactly_the_documents_whose_signal_crosses_it(runs):
    """Checked against A's signals table read directly: the kept documents with fewer words than the new
    minimum are lost, nothing is gained, and the config difference names the setting."""
    table = pq.read_table(runs["base"] / "signals").to_pylist()
    new_min = int(ONE.split("=")[1])
    crossing = {r["id"] for r in table if r["fate"] == "kept" and dict(r["signals"])["gopher_quality:word_count"] < new_min}
    assert crossing  # the change matters on this corpus
    d = diff_runs(str(runs["base"]), str(runs["one"]))
    assert set(d.lost) == crossing and d.gained == []
    assert d.config == [("stages.quality.gopher_quality.min_doc_words", 50, new_min)]
    assert sum(r["lost"] for r in d.by_source_stage) == len(crossing)
    assert {r["stage"] for r in d.by_source_stage if r["lost"]} == {"quality"}
    tokens = {r["id"]: r["n_tokens"] for r in table}
    assert sum(t["lost"] for t in d.tokens_by_domain.values()) == sum(tokens[i] for i in crossing)
    # documents already dropped by a later rule set now fail gopher_quality first: their reason changed
    for doc_id in d.reason_changed:
        row = next(r for r in table if r["id"] == doc_id)
        assert row["fate"] == "rejected" and dict(row["signals"])["gopher_quality:word_count"] < new_min
    lost = d.samples["lost"]
    assert lost and all(f.a == "kept" and f.b == "quality:gopher_quality:too_few_words" and f.excerpt for f in lost)


def test_diff_refuses_runs_of_different_inputs_in_one_line(runs):
    with pytest.raises(DiffError, match="different inputs"):
        diff_runs(str(runs["base"]), str(families_run()))
    code, out, err = _cli("diff", str(runs["base"]), str(families_run()))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "different inputs" in err


def test_diff_cli_prints_json_and_writes_the_page_beside_the_report(runs, tmp_path):
    page = tmp_path / "diff.html"
    code, out, err = _cli("diff", str(runs["base"]), str(runs["one"]), "--json", "--html", str(page))
    doc = json.loads(out)
    assert code == 0 and doc["config"] == [{"key": "stages.quality.gopher_quality.min_doc_words", "a": 50, "b": 150}]
    assert page.exists() and str(page) in err
    code, out, err = _cli("diff", str(runs["base"]), str(runs["one"]))
    assert code == 0 and "min_doc_words: 50 -> 150" in out
    assert (runs["one"] / "audit" / "diff.html").exists()


def test_the_page_escapes_document_text(runs):
    d = diff_runs(str(runs["base"]), str(runs["one"]))
    d.samples["lost"][0].excerpt = "<script>alert(1)</script>"
    html = diff_html(d)
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")
def test_diff_page_opens_in_headless_chromium_without_console_errors_or_requests(runs, tmp_path):
    page = tmp_path / "diff.html"
    assert _cli("diff", str(runs["base"]), str(runs["one"]), "--html", str(page))[0] == 0
    assert_page_renders_offline(page, tmp_path, height=1600)
