"""The benchmark harness: deterministic corpus, honest quality metrics, process-tree measurement."""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_common_corpus as corpus  # noqa: E402
import bench_common_eval as evaluate  # noqa: E402
from bench_common_measure import measure, process_tree  # noqa: E402

WORDS = ("market revenue quarter growth shares bank rates inflation outlook guidance margin dividend "
         "the of and to in that with for on as").split()


def _text(i: int, n_words: int = 80) -> str:
    """Reproducible prose-like text: common words mixed with document-specific rare ones."""
    rng = random.Random(i)
    words = [rng.choice(WORDS) if rng.random() < 0.5 else f"w{rng.randrange(100_000)}" for _ in range(n_words)]
    return " ".join(w + ("." if k % 12 == 11 else "") for k, w in enumerate(words))


def _write_inputs(root: Path, per_domain: int = 30) -> list[str]:
    patterns = []
    for domain in ("finance", "general"):
        d = root / domain
        d.mkdir(parents=True)
        with gzip.open(d / "a.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(per_domain):
                f.write(json.dumps({"id": f"{domain}{i}", "text": _text(i + (100 if domain == "general" else 0))}) + "\n")
            f.write("not json\n")
            f.write(json.dumps({"id": "empty", "text": "  "}) + "\n")
        patterns.append(str(d / "*.jsonl.gz"))
    return patterns


def _read_dir_bytes(d: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(d):
        for name in sorted(files):
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


# ------------------------------------------------------------------------------------------- corpus

def test_prepare_is_byte_identical_across_runs_and_skips_bad_lines(tmp_path):
    patterns = _write_inputs(tmp_path / "in")
    a = corpus.prepare(patterns, 0.003, 0.2, 7, str(tmp_path / "c1"))
    b = corpus.prepare(patterns, 0.003, 0.2, 7, str(tmp_path / "c2"))
    assert _read_dir_bytes(a) == _read_dir_bytes(b)
    meta = corpus.load_meta(a)
    texts = corpus.read_corpus_texts(a)
    assert len(texts) == meta["docs"] == meta["drawn_docs"] + meta["injected_copies"]
    # 3 kB of ~500-byte documents: the draw stops once the size is reached, and never takes a bad line
    assert 3000 <= sum(len(t.encode()) for i, t in texts.items() if "~dup" not in i) < 3000 + 1000
    assert all(t.strip() for t in texts.values())


def test_prepare_reuses_a_prepared_corpus_and_a_new_seed_draws_differently(tmp_path):
    patterns = _write_inputs(tmp_path / "in")
    first = corpus.prepare(patterns, 0.004, 0.2, 1, str(tmp_path / "c"))
    again = corpus.prepare(patterns, 0.004, 0.2, 1, str(tmp_path / "c"))
    other = corpus.prepare(patterns, 0.004, 0.2, 2, str(tmp_path / "c"))
    assert first == again != other
    assert set(corpus.read_corpus_texts(first)) != set(corpus.read_corpus_texts(other))


def test_truth_rows_name_a_real_original_and_its_copy(tmp_path):
    patterns = _write_inputs(tmp_path / "in")
    c = corpus.prepare(patterns, 0, 0.25, 3, str(tmp_path / "c"))
    texts = corpus.read_corpus_texts(c)
    truth = corpus.read_truth(c)
    assert len(truth) == round(0.25 * 60)
    for row in truth:
        assert row["copy_id"] == row["orig_id"] + "~dup"
        assert row["orig_id"] in texts and row["copy_id"] in texts
        assert row["jaccard5"] == round(corpus.jaccard(texts[row["orig_id"]], texts[row["copy_id"]]), 4)


def test_an_unedited_copy_differs_only_by_boilerplate():
    text = _text(3, 200)
    rng = random.Random(0)
    for _ in range(50):
        copy, rate, added = corpus.near_duplicate(text, rng, ["zebra"])
        if rate == 0:
            assert text in copy and added != "none"
            assert corpus.jaccard(text, copy) > 0.5
            return
    pytest.fail("no exact-rate copy in 50 draws")


def test_key64_is_stable_across_processes():
    code = f"import sys; sys.path.insert(0, {str(BENCH)!r}); import bench_common_corpus as c; print(c.key64(5, 'a', 'b'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) == corpus.key64(5, "a", "b")


# ------------------------------------------------------------------------------------------- eval

def _truth(pairs):
    return [{"orig_id": o, "copy_id": c, "jaccard5": j} for o, c, j in pairs]


def test_dedup_scores_count_groups_extra_removals_and_natural_copies():
    texts = {i: _text(n) for n, i in enumerate(["a", "a~dup", "b", "b~dup", "c", "c~dup", "x", "y"])}
    truth = _truth([("a", "a~dup", 0.95), ("b", "b~dup", 0.75), ("c", "c~dup", 0.4)])
    # removed: a~dup (right), both of b (one right, one extra), x (outside any group, "natural")
    kept = ["a", "c", "c~dup", "y"]
    s = evaluate.dedup_scores(kept, texts, truth, natural={"x": (0.9, "y")})
    assert (s["removed"], s["tp"], s["fp"], s["fp_both_members"], s["fp_outside_groups"]) == (4, 2, 2, 1, 1)
    assert s["precision"] == 0.5 and s["precision_natural_ok"] == 0.75
    assert s["recall"] == round(2 / 3, 4)
    assert s["recall_by_jaccard"]["J>=0.9"] == {"groups": 1, "found": 1, "recall": 1.0}
    assert s["recall_by_jaccard"]["<0.5"] == {"groups": 1, "found": 0, "recall": 0.0}


def test_dedup_scores_when_nothing_is_removed():
    texts = {"a": "x", "a~dup": "x"}
    s = evaluate.dedup_scores(list(texts), texts, _truth([("a", "a~dup", 1.0)]))
    assert s["removed"] == 0 and s["precision"] is None and s["recall"] == 0.0


def test_natural_near_duplicates_finds_a_copy_already_in_the_data():
    base = _text(1, 120)
    texts = {"p": base, "q": base + " and one more sentence here.", "r": _text(2, 120)}
    found = evaluate.natural_near_duplicates(["p", "r"], texts, threshold=0.7)
    assert found["p"][1] == "q" and found["p"][0] >= 0.7
    assert "r" not in found


@given(st.sets(st.integers(0, 30)), st.sets(st.integers(0, 30)))
@settings(max_examples=200, deadline=None)
def test_filter_agreement_is_symmetric_and_bounded(ka, kb):
    ids = [str(i) for i in range(31)]
    a = [str(i) for i in ka]
    b = [str(i) for i in kb]
    x, y = evaluate.filter_agreement(ids, a, b), evaluate.filter_agreement(ids, b, a)
    assert x["agreement"] == y["agreement"] and x["kappa"] == y["kappa"]
    assert x["both_kept"] + x["both_dropped"] + x["only_a_kept"] + x["only_b_kept"] == 31
    assert 0 <= x["agreement"] <= 1 and -1 <= x["kappa"] <= 1
    if ka == kb:
        assert x["agreement"] == 1.0


def test_ratios_and_spread():
    assert evaluate.throughput_ratio(10.0, 35.0) == 3.5
    assert evaluate.throughput_ratio(None, 3.0) is None
    assert evaluate.spread([3.0, 3.3]) == 0.1
    assert evaluate.spread([3.0]) is None


# ------------------------------------------------------------------------------------------- measure

def test_measure_sees_memory_of_a_child_process_and_its_exit_code(tmp_path):
    # the parent stays small; a child it spawns holds ~120 MB: only a whole-tree measurement sees it
    child = "b = bytearray(120 * 2**20); import time; time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}]); sys.exit(3)"
    m = measure([sys.executable, "-c", parent], log_path=str(tmp_path / "log"), interval=0.1)
    assert m.rc == 3
    if not os.path.isdir("/proc/self"):
        pytest.skip("tree sampling needs /proc")
    assert m.peak_rss_mb >= 120 and m.peak_pss_mb >= 100
    assert m.cpu_s is not None and m.samples >= 2


def test_process_tree_contains_the_root():
    assert os.getpid() in process_tree(os.getpid())


# ------------------------------------------------------------------------------------------- pilewright side

def test_pilewright_stage_runner_keeps_every_document_without_curation_stages(tmp_path):
    patterns = _write_inputs(tmp_path / "in", per_domain=10)
    c = corpus.prepare(patterns, 0, 0.2, 0, str(tmp_path / "c"))
    sources = [{"name": dom, "paths": [str(Path(c) / "docs" / f"{dom}-part-*.jsonl.gz")], "format": "jsonl",
                "domain": dom} for dom in ("finance", "general")]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps({"sources": sources, "stages": {}}))
    runner = str(BENCH / "bench_common_pilewright.py")
    out = tmp_path / "out"
    subprocess.run([sys.executable, runner, "stage", "--config", str(cfg), "--output", str(out),
                    "--direct_running_mode=in_memory"], check=True, capture_output=True)
    subprocess.run([sys.executable, runner, "collect", "--output", str(out), "--ids", str(tmp_path / "ids.txt"),
                    "--summary", str(tmp_path / "s.json")], check=True)
    kept = (tmp_path / "ids.txt").read_text().split()
    assert sorted(kept) == sorted(corpus.read_corpus_texts(c))
    assert json.loads((tmp_path / "s.json").read_text())["dead_letters"] == 0


def test_pilewright_schema_lists_built_stages():
    out = subprocess.run([sys.executable, str(BENCH / "bench_common_pilewright.py"), "schema"],
                         capture_output=True, text=True, check=True).stdout
    schema = json.loads(out)
    assert set(schema) == {"built", "not_built"}
    assert not set(schema["built"]) & set(schema["not_built"])
