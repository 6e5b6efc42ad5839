"""The dedup benchmark's generator and scoring (pure parts; no Beam, no peers, no shared corpora)."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_dedup  # noqa: E402


def _text(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(n))


def test_edited_copies_land_near_their_target_jaccard():
    rng = random.Random(0)
    vocab = [f"v{i}" for i in range(1000)]
    means = []
    for target in (0.95, 0.85, 0.7, 0.5):
        got = []
        for i in range(20):
            text = _text(rng, 1500)
            copy, _how = bench_dedup.edited_copy(text, target, random.Random(i), vocab)
            got.append(bench_dedup.jaccard(bench_dedup.shingles(text), bench_dedup.shingles(copy)))
        means.append(sum(got) / len(got))
        # the edit count comes from a first-order model; the benchmark reports the measured Jaccard
        assert abs(means[-1] - target) < 0.1, (target, got)
    assert means == sorted(means, reverse=True)
    exact, how = bench_dedup.edited_copy("Some Text here", 1.0, random.Random(1), vocab)
    assert how == "case+space" and bench_dedup.shingles(exact, 2) == bench_dedup.shingles("some text here", 2)


def test_scoring_counts_pairs_false_positives_and_bands(tmp_path):
    rng = random.Random(3)
    texts = {f"d{i}": _text(rng, 60) for i in range(6)}
    texts["d0~dup"] = texts["d0"]
    texts["d1~dup"] = texts["d1"]
    truth = [{"orig_id": "d0", "copy_id": "d0~dup", "jaccard5": 1.0},
             {"orig_id": "d1", "copy_id": "d1~dup", "jaccard5": 0.85}]
    (tmp_path / "truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth))
    # d0's pair found, d1's pair missed, d5 removed although it has no duplicate
    kept = [d for d in texts if d not in ("d0~dup", "d5")]
    ev = bench_dedup.evaluate(tmp_path, kept, texts, {})
    assert (ev["tp"], ev["fp"], ev["removed"], ev["fp_not_injected"]) == (1, 1, 2, 1)
    assert ev["precision"] == 0.5 and ev["recall"] == 0.5
    assert ev["recall_by_band"]["J>=0.9"]["recall"] == 1.0 and ev["recall_by_band"]["0.8-0.9"]["recall"] == 0.0
    assert ev["fp_not_injected_with_natural_dup"] == 0
