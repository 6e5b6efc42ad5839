"""`pilewright plan`: the published sizing table, domain splits, yield from a run, worker-hours, GPU days."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilewright.pipeline.cli.main import main
from pilewright.pipeline.cli.plan import (
    DEFAULT_MFU,
    GPU_PEAK_FLOPS,
    PUBLISHED_DAYS_6_6B_64_A100,
    PUBLISHED_TOKENS,
    PlanError,
    facts_from_audit,
    parse_domains,
    published_rows,
    raw_needed,
    split_by_domain,
    tokens_for,
    training_days,
    training_flops,
    worker_hours,
)
from pilewright.pipeline.job.stage_timing import stage_of_step, sum_stage_seconds


@pytest.mark.parametrize("params,published", PUBLISHED_TOKENS)
def test_tokens_column_matches_the_published_table_exactly(params, published):
    assert tokens_for(params) == int(published)


def test_six_point_six_b_on_64_a100_is_about_a_week_at_the_default_mfu():
    days = training_days(training_flops(6.6e9, tokens_for(6.6e9)), 64, GPU_PEAK_FLOPS["a100"], DEFAULT_MFU)
    assert abs(days - PUBLISHED_DAYS_6_6B_64_A100) / PUBLISHED_DAYS_6_6B_64_A100 < 0.15
    row = next(r for r in published_rows() if r["params"] == 6.6e9)
    assert row["days_64_a100"] == pytest.approx(days)


def test_training_compute_is_six_n_d():
    assert training_flops(1e9, 2e10) == 1.2e20
    # 1 PFLOP/s-day on 1 GPU of 1 PFLOP/s at full utilization
    assert training_days(86_400e15, 1, 1e15, 1.0) == pytest.approx(1.0)


@given(st.integers(0, 10**13), st.floats(0.01, 0.99))
def test_domain_split_sums_to_the_total(tokens, share):
    parts = split_by_domain(tokens, {"finance": share, "general": 1 - share})
    assert sum(parts.values()) == tokens
    assert abs(parts["finance"] - tokens * share) <= 1


@pytest.mark.parametrize("text,msg", [("finance=0.5,general=0.4", "sum to 1"), ("finance", "name=share"),
                                      ("finance=x,general=1", "not a number"), ("a=2,b=-1", "between 0 and 1")])
def test_bad_domains_are_named(text, msg):
    with pytest.raises(PlanError, match=msg):
        parse_domains(text)


def _audit(stage_seconds=None):
    def src(domain, kept_chars=0, rejected_chars=0, kept_tokens=0):
        return {"domain": domain, "kept_chars": kept_chars, "rejected_chars": rejected_chars, "kept_tokens": kept_tokens}

    return {
        "stages": [
            {"name": "ingest", "by_source": {"calls": src("finance", 800, 200), "wiki": src("general", 3000)}},
            {"name": "quality", "by_source": {"calls": src("finance", 600), "wiki": src("general", 2000)}},
            {"name": "tokenize", "by_source": {"calls": src("finance", 600, 0, 250), "wiki": src("general", 2000, 0, 600)}},
        ],
        "run": {"seconds": 12.0, "stage_seconds": stage_seconds or {}},
    }


def test_yield_and_raw_text_needed_come_from_the_run():
    facts = facts_from_audit(_audit({"ingest": 2.0, "tokenize": 6.0}))
    assert facts.raw_chars == {"finance": 1000, "general": 3000}
    assert facts.curated_tokens == {"finance": 250, "general": 600}
    needs = {n.domain: n for n in raw_needed({"finance": 500, "general": 400}, {"finance": 0.5, "general": 0.5}, facts, 4)}
    assert needs["finance"].tokens_per_char == 0.25 and needs["finance"].raw_chars == 2000
    assert needs["general"].raw_chars == pytest.approx(2000) and needs["general"].raw_chars_max_epochs == pytest.approx(500)
    # 4,000 raw chars in the run took 2 s of ingest: 40,000 needed take 20 s
    hours = worker_hours(facts, 40_000)
    assert hours == {"ingest": pytest.approx(20 / 3600), "tokenize": pytest.approx(60 / 3600)}
    # tokenizer training reads a fixed-size sample: its time does not grow with the corpus
    fixed = facts_from_audit(_audit({"train_tokenizer": 36.0}))
    assert worker_hours(fixed, 40_000) == {"train_tokenizer": pytest.approx(0.01)}


def test_without_stage_times_the_whole_run_is_scaled_and_said_so():
    facts = facts_from_audit(_audit())
    assert worker_hours(facts, 4000) == {"all stages (wall time)": pytest.approx(12 / 3600)}
    assert facts.notes


def test_stage_seconds_group_beam_steps_by_stage():
    rows = [("Stage[ingest]/Read/Parse", 1500), ("Stage[quality]/Classify", 250), ("Stage[quality]/TypeKept", 250),
            ("Stage[tokenize]/Encode/Encode", 4000), ("Stage[mix]/Select", 100), ("Stage[shard]/Write/Place", 900),
            ("Manifest/Finalize", 100), ("WriteRejected/Parquet", 10)]
    assert sum_stage_seconds(rows) == {"ingest": 1.5, "mix": 0.1, "outputs": 0.11, "quality": 0.5, "shard": 0.9,
                                       "tokenize": 4.0}
    # the tokenize family puts loading or training the tokenizer on a line of its own (a fixed cost)
    assert stage_of_step("Stage[tokenize]/TrainTokenizer/Sample") == "train_tokenizer"
    assert stage_of_step("Stage[tokenize]/LoadTokenizer") == "train_tokenizer"
    assert stage_of_step("Stage[tokenize]/ReadCurated") == "tokenize"


def test_cli_plan_prints_tokens_per_domain_and_days(capsys):
    assert main(["plan", "--params", "6.6e9", "--domains", "finance=0.51,general=0.49"]) == 0
    out = capsys.readouterr().out
    assert "132,000,000,000 tokens" in out
    assert "67,320,000,000" in out and "64,680,000,000" in out
    assert "on 64 x A100 (312 TFLOPS dense bf16 peak each) at MFU 0.4: 7.57 days" in out


def _as_written(audit: dict) -> tuple[dict, dict]:
    """(audit.json, run.json) as a run writes them: every field of the schema, run facts in their own file."""
    counts = {"in": 0, "kept": 0, "rejected": 0, "errors": 0, "kept_chars": 0, "kept_tokens": 0,
              "reasons": {}, "error_types": {}, "conserved": True}
    stages = [
        {**counts, "name": s["name"], "stats": {}, "size_hist": {},
         "by_source": {k: {**counts, "rejected_chars": 0, **v} for k, v in s["by_source"].items()}}
        for s in audit["stages"]
    ]
    run = {"seconds": audit["run"]["seconds"], "beam_args": [], "stage_seconds": audit["run"]["stage_seconds"],
           "telemetry": {}}
    return {"audit_version": 1, "stages": stages}, run


def test_cli_plan_from_run_reads_the_output_folder(tmp_path, capsys):
    (tmp_path / "audit").mkdir()
    audit, run = _as_written(_audit({"ingest": 2.0, "tokenize": 6.0}))
    (tmp_path / "audit" / "audit.json").write_text(json.dumps(audit))
    (tmp_path / "audit" / "run.json").write_text(json.dumps(run))
    manifest = {
        "manifest_version": 1, "total_tokens": 0, "total_docs": 0, "num_shards": 0, "shards": [],
        "tokens_by_domain": {}, "tokens_by_source": {},
        "tokenizer": {"path": "tokenizer/t.model", "kind": "sentencepiece", "sha256": "0" * 64, "vocab_size": 8,
                      "eos_id": 2, "bos_id": None, "token_dtype": "uint16"},
        "seed": 0, "config_sha256": "0" * 64, "versions": {},
        "config": {"mix": {"domains": {"finance": 0.6, "general": 0.4}}},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert main(["plan", "--params", "1e6", "--from-run", str(tmp_path), "--gpus", "8", "--gpu", "h100"]) == 0
    out = capsys.readouterr().out
    assert "finance       0.600" in out  # the run's own mix when --domains is not given
    assert "tokens/char" in out and "tokenize" in out and "8 x H100 (989 TFLOPS" in out
    # a file that is not what a run writes is one line naming the field, not a KeyError later
    (tmp_path / "audit" / "run.json").write_text(json.dumps({"seconds": 1.0}))
    assert main(["plan", "--params", "1e6", "--from-run", str(tmp_path)]) == 2
    assert "run.json: not a pilewright runfacts file: beam_args: Field required" in capsys.readouterr().err


def test_cli_plan_errors_are_one_line(tmp_path, capsys):
    assert main(["plan", "--params", "1e9", "--from-run", str(tmp_path)]) == 2
    assert "no audit/audit.json" in capsys.readouterr().err
    assert main(["plan"]) == 2
    assert main(["plan", "--published"]) == 0
    assert "1.3T" in capsys.readouterr().out


def test_published_table_every_cell_with_its_implied_mfu(capsys):
    from pilewright.pipeline.cli.plan import PUBLISHED_DAYS, implied_mfu, published_table_rows

    rows = published_table_rows()
    assert len(rows) == 25 == sum(len(d) for _p, _g, d in PUBLISHED_DAYS)
    # a cell's implied MFU reproduces its published days through the planner's own formula
    for r in rows:
        days = training_days(training_flops(r["params"], r["tokens"]), r["gpus"], GPU_PEAK_FLOPS["a100"], r["mfu"])
        assert days == pytest.approx(r["published_days"])
        assert r["mfu_low"] <= r["mfu"] <= r["mfu_high"]
    # checked by hand: 6 x 6.6e9 x 132e9 / (64 x 312e12 x 6.6 x 86400) = 0.459
    assert implied_mfu(6.6e9, 132e9, 64, 6.6) == pytest.approx(0.459, abs=1e-3)
    mfu_65b = [r["mfu"] for r in rows if r["params"] == 65e9]
    mfu_13b = [r["mfu"] for r in rows if r["params"] == 13e9]
    assert max(mfu_65b) < 0.35 < 0.45 < min(mfu_13b)
    assert main(["plan", "--published"]) == 0
    out = capsys.readouterr().out
    assert "  55   440     65B    1.3T          164    106.86         0.26" in out
    assert "65B: 0.26 - 0.32" in out


def test_continued_pretraining_split_raw_text_and_gpu_days(tmp_path, capsys):
    (tmp_path / "audit").mkdir()
    audit, run = _as_written(_audit({"ingest": 2.0, "tokenize": 6.0}))
    (tmp_path / "audit" / "audit.json").write_text(json.dumps(audit))
    (tmp_path / "audit" / "run.json").write_text(json.dumps(run))
    args = ["plan", "--params", "8e9", "--extra-tokens", "40e9", "--replay", "0.25", "--domain-name", "finance",
            "--from-run", str(tmp_path), "--gpus", "64"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "base model of 8B parameters + 40,000,000,000 extra tokens (40B, 5.00 per parameter)" in out
    assert "finance       0.750       30,000,000,000" in out and "general       0.250       10,000,000,000" in out
    # finance yields 250 tokens per 1,000 raw chars: 30B tokens need 120B chars; general 0.2: 10B need 50B
    assert "finance           0.2500            120B" in out and "general           0.2000             50B" in out
    days = training_days(training_flops(8e9, 40e9), 64, GPU_PEAK_FLOPS["a100"], DEFAULT_MFU)
    assert f"at MFU 0.4: {days:,.2f} days" in out and f"{days * 64:,.1f} GPU-days" in out
    assert main(["plan", "--params", "8e9", "--extra-tokens", "1e9", "--replay", "1.5"]) == 2
    assert "--replay must be in [0, 1)" in capsys.readouterr().err
