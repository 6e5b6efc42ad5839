"""`pilewright explain` and `--what-if` (issue 28), on real runs: every stage family, and a real rerun."""
from __future__ import annotations

import contextlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from explain_fixtures import EVAL_ITEM, EVERY, PII, families_run, threshold_runs
from pilewright.pipeline.audit.explain import WhatIfError, explain, what_if
from pilewright.pipeline.audit.runfiles import Run, stage_config
from pilewright.pipeline.cli.main import main
from pilewright.transforms.quality.explain import quality_rule_checks, rule_signals as _rule_signals
from pilewright.transforms.quality.rules import decide as quality_decide


def _cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _failed(e, stage):
    step = next(s for s in e.path if s.stage == stage)
    assert step.status == "failed", (e.id, [(s.stage, s.status) for s in e.path])
    assert all(s.status == "passed" for s in e.path[:e.path.index(step)])
    assert all(s.status == "not reached" for s in e.path[e.path.index(step) + 1:])
    return [c for c in step.checks if c.failed]


@pytest.fixture(scope="module")
def families():
    return Run(str(families_run()))


def test_explain_names_the_failing_rule_its_value_and_threshold_for_every_stage_family(families):
    ids = {
        "cc/00000000-0000-0000-0000-000000000002": "extract", "web/blocked": "url_filter",
        "web/controls": "normalize", "web/german": "langid", "web/short": "quality",
        "web/contaminated": "decontaminate", "web/good3": "dedup", "web/emails": "pii",
    }
    span = next(i for i, r in families.rows.items() if r.stage == "span_dedup")
    ids[span] = "span_dedup"
    got = {e.id: e for e in explain(families, ids)}
    for doc_id, stage in ids.items():
        e = got[doc_id]
        assert (e.fate, e.stage) == ("rejected", stage), doc_id
        assert _failed(e, stage), doc_id
    cfg = families.config
    (c,) = _failed(got["cc/00000000-0000-0000-0000-000000000002"], "extract")
    assert c.threshold == cfg.stages.extract.min_chars
    (c,) = _failed(got["web/blocked"], "url_filter")
    assert c.value == "https://spam.example.net/page" and c.reason == "url:blocked_domain"
    (c,) = _failed(got["web/controls"], "normalize")
    assert c.value == 0
    (c,) = _failed(got["web/german"], "langid")
    assert (c.rule, c.value, c.op, c.threshold) == ("langid:lang", "de", "in", ["en"])
    # quality: every failing rule with its value and threshold; the first is the recorded reason
    checks = _failed(got["web/short"], "quality")
    rule_set = families.rows["web/short"].reason.split(":")[0]
    first = next(c for c in checks if c.rule.startswith(rule_set))
    assert f"{rule_set}:{first.reason}" == families.rows["web/short"].reason
    assert first.op == "<=" and first.value > first.threshold
    assert any(c.rule == "gopher_quality:word_count" and c.value < c.threshold == 50 for c in checks)
    (c,) = _failed(got["web/contaminated"], "decontaminate")
    assert c.value in EVAL_ITEM and len(c.value.split()) == cfg.stages.decontaminate.n == c.threshold
    assert "quiz:q1" in c.reason
    (c,) = _failed(got["web/good3"], "dedup")
    assert c.value == families.rows["web/good3"].notes["dedup:kept"] and families.rows[c.value].fate == "kept"
    (c,) = _failed(got[span], "span_dedup")
    assert c.value < c.threshold == cfg.stages.span_dedup.min_doc_words
    (c,) = _failed(got["web/emails"], "pii")
    assert (c.value, c.op, c.threshold) == (6, "<=", 3)


def test_a_kept_document_shows_its_shard_row_and_every_stage_passed(families):
    kept = sorted(i for i, r in families.rows.items() if r.fate == "kept")
    e = explain(families, [kept[0]])[0]
    assert e.fate == "kept" and all(s.status == "passed" for s in e.path)
    assert not any(c.failed for s in e.path for c in s.checks)
    (path, row), = e.shards
    with open(families.out + "/" + path, "rb") as f:
        table = pa.ipc.open_file(f).read_all()
    assert table.column("doc_id")[row].as_py() == kept[0]
    assert len(table.column("tokens")[row]) == e.n_tokens


def test_explain_cli_selects_by_source_and_reason_and_prints_json(families):
    code, out, _ = _cli("explain", families.out, "--reason", "dedup", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["id"] for r in rows} == {i for i, r in families.rows.items() if r.stage == "dedup"}
    code, out, _ = _cli("explain", families.out, "--source", "web", "--sample", "2")
    assert code == 0 and out.count("fate:") == 2
    code, out, _ = _cli("explain", families.out, "web/german", "no-such-id")
    assert code == 1 and "langid:lang = de" in out and "FAILED (not_in_languages)" in out and "not in this run" in out
    code, _, err = _cli("explain", families.out + "/nowhere", "x")
    assert code == 2 and "no manifest.json" in err


@pytest.fixture(scope="module")
def runs():
    return {k: Run(str(v)) for k, v in threshold_runs().items()}


def _curated(run: Run) -> set[str]:
    """The ids in OUT/documents, read directly."""
    return set(pq.read_table(f"{run.out}/documents", columns=["id"]).column("id").to_pylist())


def test_quality_checks_fail_exactly_where_the_rule_sets_own_functions_do(runs):
    """The value/threshold table explain shows agrees with quality.rules.decide, rule set by rule set."""
    base = runs["base"]
    seen = set()
    for row in base.rows.values():
        cfg = stage_config(base.config, "quality", row.source)
        if not row.signals or not any(k.startswith("gopher_quality:") for k in row.signals):
            continue
        for rule in cfg.rules:
            sub = _rule_signals(dict(row.signals), rule)
            failed = [c.reason for c in quality_rule_checks(rule, sub, cfg) if c.failed]
            want = quality_decide(rule, sub, cfg, "x")
            assert (failed[0] if failed else None) == want, (row.id, rule)
            seen.add(want)
    assert len(seen) >= 4  # several different reasons were exercised


def test_what_if_predicts_a_real_reruns_kept_set_exactly_for_every_recomputable_rule(runs):
    base, every = runs["base"], runs["every"]
    w = what_if(base, EVERY)
    assert w.exact and not w.unknown and all(c.recomputable for c in w.changes)
    assert {c.stage for c in w.changes} == {"langid", "quality"}
    assert w.newly_kept and w.newly_dropped  # the rerun really moved documents both ways
    assert w.kept_ids(base) == _curated(every)
    # and the reasons the rerun gave the newly dropped documents
    for doc_id in w.newly_dropped:
        row = every.rows[doc_id]
        assert w.reasons_after[doc_id] in (f"{row.stage}:{row.reason}", row.reason), doc_id
    for src, e in w.by_source.items():
        assert e["kept_after"] == sum(1 for i in _curated(every) if base.rows[i].source == src)
    # pii's threshold, in its own rerun (it decides last)
    w = what_if(base, PII)
    assert w.exact and w.newly_dropped and not w.newly_kept
    assert w.kept_ids(base) == _curated(runs["pii"])
    assert set(w.reasons_after.values()) == {"pii:too_many_entities"}


def test_what_if_cli_reports_kept_share_per_source(runs):
    code, out, _ = _cli("explain", runs["base"].out, "--what-if", "quality.gopher_quality.min_doc_words=150")
    assert code == 0 and "prediction: exact" in out and "wikipedia" in out and "recomputed from the stored signals" in out
    code, out, _ = _cli("explain", runs["base"].out, "--what-if", "quality.gopher_quality.min_doc_words=150", "--json")
    assert json.loads(out)["exact"] is True


def test_what_if_names_what_it_cannot_recompute(runs, families):
    w = what_if(runs["base"], ["quality.c4.min_words_per_line=5", "langid.min_score=0.7"])
    c4 = next(c for c in w.changes if c.stage == "quality")
    assert not c4.recomputable and c4.not_recomputable == ["c4.min_words_per_line"] and not w.exact
    assert any("c4.min_words_per_line" in n for n in w.caveats)
    assert next(c for c in w.changes if c.stage == "langid").recomputable
    # documents a looser threshold lets through would reach dedup, which never saw them
    w = what_if(families, ["quality.gopher_repetition.top_n_grams.2=0.9", "quality.gopher_repetition.top_n_grams.3=0.9",
                           "quality.gopher_repetition.top_n_grams.4=0.9", "quality.gopher_quality.min_doc_words=1",
                           "quality.gopher_quality.min_stop_words=0"])
    assert w.unknown == ["web/short"] and not w.exact and any("dedup" in n for n in w.caveats)
    with pytest.raises(WhatIfError):
        what_if(families, ["quality.gopher_quality.min_doc_words"])
    code, _, err = _cli("explain", families.out, "--what-if", "quality.gopher_quality.min_doc_words=lots")
    assert code == 2 and "min_doc_words" in err and len(err.strip().splitlines()) == 1
