"""`pilewright audit`: the terminal summary, --json, --source, dropped samples, and progress while running."""
from __future__ import annotations

import contextlib
import io
import json
import re

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that
from hypothesis import given
from hypothesis import strategies as st

from pilewright.pipeline.audit.profile import (
    DEAD_LETTER_SAMPLES_SECTION,
    DROPPED_SAMPLES_SECTION,
    CuratedProfile,
    DroppedSamples,
    assemble_profile,
    bin_range,
    profile_rows,
    reason_group,
    size_bin,
    _order,
)
from pilewright.pipeline.audit.summary import as_histogram, load_summary, render_text
from pilewright.pipeline.cli.main import main
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument

from test_audit_fixtures import sample_run, tiny_run


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _ints(text: str) -> list[int]:
    return [int(x.replace(",", "")) for x in re.findall(r"(?<![\w.])\d[\d,]*(?![\w.%])", text)]


# ---- pure parts ---------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**12))
def test_size_bin_range_holds_the_size(n):
    lo, hi = bin_range(size_bin(n))
    assert lo <= n < hi * (1 + 1e-12)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_size_bins_are_monotone(a, b):
    if a <= b:
        assert size_bin(a) <= size_bin(b)


def test_reason_group_folds_document_ids():
    assert reason_group("dedup:near:wiki/123") == "dedup:near"
    assert reason_group("c4:lorem_ipsum") == "c4:lorem_ipsum"
    assert reason_group("empty_text") == "empty_text"


def test_profile_counts_annotations_exactly():
    docs = [
        Document("a/1", "x" * 10, "a", "general", lang="en", lang_score=0.99, quality={"q": 0.5},
                 pii_counts={"EMAIL_ADDRESS": 2}, dup_cluster="c1"),
        Document("a/2", "y" * 20, "a", "general", lang="de", lang_score=0.51, pii_counts={"EMAIL_ADDRESS": 0}),
        Document("b/1", "z", "b", "finance", lang="en", lang_score=0.0),
    ]
    rows: dict = {}
    for d in docs:
        for k, n in profile_rows(d):
            rows[k] = rows.get(k, 0) + n
    prof = assemble_profile(list(rows.items()), {"quality_sample": [(1, "a", (("q", 0.5),))]})
    assert prof["docs"] == {"a": 2, "b": 1}
    assert prof["languages"]["total"] == {"en": 2, "de": 1}
    assert prof["languages"]["by_source"]["a"] == {"de": 1, "en": 1}
    assert prof["lang_score"]["counts"][19] == 1 and prof["lang_score"]["counts"][10] == 1
    assert prof["lang_score"]["counts"][0] == 1
    assert prof["pii"]["entities"] == {"EMAIL_ADDRESS": 2}
    assert prof["pii"]["docs_with_pii"] == {"a": 1}
    assert prof["in_duplicate_cluster"] == {"a": 1}
    assert prof["quality_sample"]["signals"]["q"]["p50"] == 0.5


def test_histograms_are_read_in_the_one_shape_stages_write():
    h = as_histogram({"edges": [1, 2, 3, 5], "counts": [4, 2, 1]})
    assert h is not None and h.counts == [4, 2, 1] and len(h.edges) == 4


@pytest.mark.parametrize("payload", [
    {"1": 4, "2": 2, "3": 1},
    [[1, 4], [2, 2], [3, 1]],
    {"edges": [1, 2, 3], "counts": [4, 2, 1]},  # edges must bound every bin
])
def test_other_shapes_are_not_guessed_into_histograms(payload):
    assert as_histogram(payload) is None


def test_a_known_section_in_another_shape_is_one_line(tmp_path):
    from pilewright.pipeline.audit.summary import SummaryError, build_sections

    audit = {"stages": [{"name": "dedup", "in": 2, "kept": 2, "rejected": 0, "errors": 0, "reasons": {},
                         "by_source": {}, "stats": {"duplicates": {"clusters": 3}}}]}
    with pytest.raises(SummaryError, match="stage 'dedup' stats section 'duplicates'.*n_clusters"):
        build_sections(audit, None)


def test_not_a_histogram_is_none():
    assert as_histogram({"recognizers": ["EmailRecognizer"], "spacy": False}) is None
    assert as_histogram("text") is None


def _rejected(i: int, reason: str, source: str = "web") -> RejectedDocument:
    return RejectedDocument(f"{source}/{i}", source, "general", "quality", reason, f"text {i} " + "x" * 300, 310)


def test_audit_rows_fold_reasons_that_name_a_document():
    from pilewright.pipeline.job.audit_counts import _row_key

    keys = {_row_key(_rejected(i, f"dedup:near:web/{i}"), stage="dedup", outcome="rejected")[0] for i in range(50)}
    assert keys == {("dedup", "web", "rejected", "dedup:near")}
    key, value = _row_key(_rejected(1, "c4:lorem_ipsum"), stage="quality", outcome="rejected")
    assert key[3] == "c4:lorem_ipsum" and value == (1, 310, 0)


def test_dropped_samples_are_the_smallest_hashes_per_stage_reason_source():
    recs = [_rejected(i, "c4:lorem_ipsum") for i in range(20)] + [_rejected(i, "dedup:near:web/0") for i in range(20, 23)]
    dead = [DeadLetter("ingest", "web", "/d/x.jsonl", 3, None, "invalid_json", "bad line", "{oops")]
    expected = sorted(r.id for r in recs[:20] if True)
    expected = sorted(expected, key=lambda i: _order(7, i))[:5]
    with TestPipeline() as p:
        errors = p | "Errors" >> beam.Create(dead)
        sections = p | beam.Create(recs) | DroppedSamples(errors, seed=7, per_key=5)
        parsed = sections | beam.MapTuple(lambda name, text: (name, json.loads(text)))

        def check(items):
            got = dict(items)
            groups = got[DROPPED_SAMPLES_SECTION]["groups"]
            assert [(g["reason"], len(g["samples"])) for g in groups] == [("c4:lorem_ipsum", 5), ("dedup:near", 3)]
            assert [s["id"] for s in groups[0]["samples"]] == expected
            assert all(len(s["snippet"]) == 200 for g in groups for s in g["samples"])
            assert groups[1]["samples"][0]["reason"] == "dedup:near:web/0"
            dead_groups = got[DEAD_LETTER_SAMPLES_SECTION]["groups"]
            assert dead_groups[0]["error_type"] == "invalid_json"
            assert dead_groups[0]["samples"][0]["offset"] == 3

        assert_that(parsed, check)


def test_curated_profile_transform():
    docs = [Document(f"s/{i}", "t" * i, "s", "general", lang="en", quality={"words": float(i)}) for i in range(1, 9)]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | CuratedProfile(seed=1, sample_docs=4)
        parsed = out | beam.MapTuple(lambda name, text: (name, json.loads(text)))

        def check(items):
            (name, prof), = items
            assert name == "curated"
            assert prof["languages"]["total"] == {"en": 8}
            assert prof["quality_sample"]["docs"] == 4
            assert prof["quality_sample"]["signals"]["words"]["count"] == 4

        assert_that(parsed, check)


# ---- the sample run -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    run = sample_run()
    assert run.code == 0, run.stderr
    return run


def test_terminal_summary_fits_in_60_lines_and_matches_json(sample):
    code, text, _ = _cli("audit", str(sample.out))
    assert code == 0
    lines = text.rstrip("\n").splitlines()
    assert 10 <= len(lines) <= 60
    code, js, _ = _cli("audit", str(sample.out), "--json")
    assert code == 0
    doc = json.loads(js)
    names = {f["name"] for f in doc["funnel"]}
    funnel_lines: dict[str, str] = {}
    for ln in lines:  # the funnel comes first; later sections (reasons by stage) start with a stage name too
        if ln.split() and ln.split()[0] in names:
            funnel_lines.setdefault(ln.split()[0], ln)
    for f in doc["funnel"]:
        nums = _ints(funnel_lines[f["name"]])
        assert nums[:4] == [f["docs_in"], f["kept"], f["rejected"], f["errors"]]
        for extra in (f["chars_kept"], f["tokens_kept"]):
            if extra is not None:
                assert extra in nums
    source_lines = {ln.split()[0]: ln for ln in lines if ln and ln.split()[0] in doc["sources"]}
    assert set(source_lines) == set(doc["sources"])
    for r in doc["by_source"]:
        nums = _ints(source_lines[r["name"]])
        assert nums[:2] == [r["read"], r["curated"]] and r["tokens"] in nums
    shard_line = next(ln for ln in lines if ln.startswith("SHARDS"))
    sh = next(v["data"] for v in doc["views"] if v["kind"] == "parts")
    assert _ints(shard_line)[:3] == [sh["count"], sh["tokens"], sh["docs"]]
    assert f"{sh['min_tokens']:,}-{sh['max_tokens']:,}" in shard_line
    # the numbers are the run's own: the manifest and the audit say the same
    manifest = json.loads((sample.out / "manifest.json").read_text())
    audit = json.loads((sample.out / "audit" / "audit.json").read_text())
    assert sh["tokens"] == manifest["total_tokens"] and sh["count"] == manifest["num_shards"]
    assert [f["kept"] for f in doc["funnel"]] == [s["kept"] for s in audit["stages"]]


def test_run_ends_with_the_audit_summary_and_shows_progress(sample):
    _, text, _ = _cli("audit", str(sample.out))
    printed = sample.stdout.splitlines()
    assert printed[0].startswith(f"pilewright: wrote {sample.out}")
    # the same summary `pilewright audit OUT` prints (the run's seconds are the same file's)
    assert printed[1:] == text.rstrip("\n").splitlines()
    progress = [ln for ln in sample.stderr.splitlines() if ln.startswith("pilewright: [")]
    assert progress and "finished" in progress[-1]
    assert "ingest \u2713" in progress[-1] and "tokenize \u2713" in progress[-1]


def test_source_narrows_every_number(sample):
    audit = json.loads((sample.out / "audit" / "audit.json").read_text())
    code, js, _ = _cli("audit", str(sample.out), "--json", "--source", "sotu")
    assert code == 0
    doc = json.loads(js)
    assert doc["source"] == "sotu" and [r["name"] for r in doc["by_source"]] == ["sotu"]
    for f, st_ in zip(doc["funnel"], audit["stages"]):
        assert f["kept"] == st_["by_source"]["sotu"]["kept"] and f["docs_in"] == st_["by_source"]["sotu"]["in"]
    assert all(g["source"] == "sotu" for g in doc["dropped_samples"])
    code, text, _ = _cli("audit", str(sample.out), "--source", "sotu")
    assert "(source: sotu)" in text.splitlines()[0] and "wikipedia" not in text


def test_unknown_source_and_missing_folder_exit_2(sample, tmp_path):
    code, _, err = _cli("audit", str(sample.out), "--source", "nope")
    assert code == 2 and "unknown source 'nope'" in err and "sotu" in err
    code, _, err = _cli("audit", str(tmp_path))
    assert code == 2 and "audit.json not found" in err


# ---- dropped samples and progress, end to end ---------------------------------------------------------


def test_dropped_samples_and_dead_letters_land_in_the_audit():
    run = tiny_run("multi_processing", True)
    audit = json.loads((run.out / "audit" / "audit.json").read_text())
    groups = audit[DROPPED_SAMPLES_SECTION]["groups"]
    assert [(g["stage"], g["reason"], g["source"]) for g in groups] == [("ingest", "empty_text", "web")]
    assert sorted(s["id"] for s in groups[0]["samples"]) == ["web/blank-1", "web/blank-2"]
    dead = audit[DEAD_LETTER_SAMPLES_SECTION]["groups"]
    assert [(g["stage"], g["error_type"]) for g in dead] == [("ingest", "invalid_json")]
    summary = load_summary(str(run.out))
    assert summary.dropped_samples[0].samples[0].id.startswith("web/blank-")
    text = "\n".join(render_text(summary))
    assert "empty_text 2" in text and "invalid_json 1" in text


def test_progress_reports_every_stage_with_the_audits_numbers():
    run = tiny_run("multi_processing", True)
    assert run.views, "the monitor never rendered"
    final = run.views[-1]
    assert final.finished
    audit = run.result.audit
    by_name = {s.name: s for s in final.stages}
    for st_ in audit["stages"]:
        got = by_name[st_["name"]]
        assert got.done and got.processed == st_["in"]
    assert final.shards_written == run.result.manifest["num_shards"]
    # the tokenizer's total was known (ingest finished first), so an ETA could be computed for it
    assert by_name["tokenize"].total == audit["stages"][0]["kept"]


def test_progress_does_not_change_the_outputs():
    with_progress = tiny_run("multi_processing", True)
    quiet = tiny_run("in_memory", False)
    m1 = (with_progress.out / "manifest.json").read_text()
    m2 = (quiet.out / "manifest.json").read_text()
    assert m1 == m2
    for shard in json.loads(m1)["shards"]:
        assert (with_progress.out / shard["path"]).read_bytes() == (quiet.out / shard["path"]).read_bytes()
    a1 = json.loads((with_progress.out / "audit" / "audit.json").read_text())
    a2 = json.loads((quiet.out / "audit" / "audit.json").read_text())
    for k in ("stages", DROPPED_SAMPLES_SECTION, DEAD_LETTER_SAMPLES_SECTION, "curated"):
        assert a1[k] == a2[k]


# ---- stage sections by kind -----------------------------------------------------------------------------


def _stage_with(name: str, stats: dict) -> dict:
    return {"name": name, "in": 1, "kept": 1, "rejected": 0, "errors": 0, "reasons": {},
            "by_source": {"web": {"in": 1, "kept": 1, "rejected": 0, "errors": 0}}, "stats": stats}


def test_verify_checks_declared_sections_by_kind_and_leaves_undeclared_ones():
    from pilewright.pipeline.audit.sections import section_problems

    good = {"stages": [_stage_with("langid", {"languages": {"en": 3}}),
                       _stage_with("dedup", {"cluster_sizes": {"edges": [2, 3, 4], "counts": [1, 1]},
                                             "anything": [1, "two"]})]}
    assert section_problems(good) == []
    bad = {"stages": [_stage_with("langid", {"languages": {"en": "three"}}),
                      _stage_with("dedup", {"cluster_sizes": {"edges": [2, 3], "counts": [1, 1]}})]}
    problems = section_problems(bad)
    assert len(problems) == 2
    assert "stage langid" in problems[0] and "'languages' (counts)" in problems[0]
    assert "stage dedup" in problems[1] and "'cluster_sizes' (histogram)" in problems[1] and "2 edges for 2 bins" in problems[1]


def test_a_section_of_an_unknown_kind_is_refused_where_it_is_declared():
    from pilewright.schemas.audit import AuditSection

    with pytest.raises(ValueError, match="kind 'count' is not one of counts, histogram, top_k, table"):
        AuditSection("count", "documents")


def test_headline_sections_are_one_line_each_written_by_kind():
    from pilewright.pipeline.audit.sections import build_sections
    from pilewright.pipeline.audit.text import section_text

    audit = {"stages": [_stage_with("langid", {"languages": {"de": 1, "en": 3}}),
                        _stage_with("dedup", {"duplicates": {"n_clusters": 2, "docs_in_clusters": 5},
                                              "cluster_sizes": {"edges": [2, 3, 4], "counts": [1, 1]},
                                              "largest_clusters": [{"kept_id": "a", "size": 3, "sample_ids": []}]})]}
    views = build_sections(audit)
    assert [(v.stage, v.name, v.kind) for v in views] == [
        ("langid", "languages", "counts"), ("dedup", "duplicates", "counts"),
        ("dedup", "cluster_sizes", "histogram"), ("dedup", "largest_clusters", "top_k")]
    texts = [section_text(v) for v in views]
    assert texts[0] == "en 3 (75.0%) \u00b7 de 1 (25.0%)"
    assert texts[1] == "clusters 2 \u00b7 documents in clusters 5"
    assert texts[2] == "2: 1, 3: 1"
    assert texts[3] == "top 1, first: kept_id a \u00b7 size 3"
