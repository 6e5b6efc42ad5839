#!/usr/bin/env python3
"""The CPU cost of OUT/signals: the end-to-end run of ``benchmarks/run.py`` with ``run.signals`` on and off.

    python benchmarks/bench_signals.py [--sample-mb 8] [--reps 2] [--corpus GLOB ...]

Draws the same corpus as ``benchmarks/run.py`` (``bench_common_corpus``: real general and finance text from
../shared/corpora, 20% injected near-duplicates), writes run.py's end-to-end config (quality with its rule
sets, MinHash dedup, tokenizer trained in the job), and runs ``pilewright run`` on it alternately with the
signals table on and off (ABBA order, so drift in the machine's load falls on both), measuring the CPU
seconds of each run's whole process tree (``bench_common_measure``). Prints each run, the median of each
setting and the cost ``on / off - 1``; and, measured inside each run with the table on, the signals step's
share of the run's worker-seconds (Beam's per-step execution time, ``audit/run.json`` stage ``signals``),
which the machine's load does not blur as it blurs two runs' totals. The goal is under 5%.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_common_corpus as corpus  # noqa: E402
from bench_common_measure import measure  # noqa: E402

GOAL = 0.05
QUALITY_RULES = ["gopher_repetition", "gopher_quality", "c4", "fineweb"]
MINHASH = {"ngram": 5, "bands": 14, "rows": 8}


def config(corpus_dir: str, out: str, signals: bool) -> dict:
    meta = corpus.load_meta(corpus_dir)
    sources = [{"name": dom, "paths": [os.path.join(corpus_dir, "docs", f"{dom}-part-*.jsonl.gz")],
                "format": "jsonl", "domain": dom, "id_field": "id"} for dom in sorted(meta["parts"])]
    return {"run": {"output": out, "seed": 1234, "signals": signals}, "sources": sources,
            "stages": {"quality": {"rules": QUALITY_RULES, "c4": {"filter_no_terminal_punct": False}},
                       "dedup": {"exact": False, "minhash": MINHASH}},
            "tokenizer": {"train": {"vocab_size": 32000, "sample_docs": 10_000_000}},
            "shards": {"tokens_per_shard": 100_000_000}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", action="append", help="input globs (default: ../shared/corpora general + finance)")
    p.add_argument("--sample-mb", type=float, default=8.0)
    p.add_argument("--reps", type=int, default=2, help="runs of each setting (ABBA order)")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "pilewright-bench-signals"))
    p.add_argument("--pilewright", default=os.path.join(REPO, ".venv", "bin", "pilewright"))
    a = p.parse_args(argv)
    patterns = a.corpus or corpus.default_patterns(REPO)
    if not corpus.input_files(patterns):
        print(f"no input matches {patterns} (../shared/corpora is only on the project's machines)", file=sys.stderr)
        return 2
    os.makedirs(a.work, exist_ok=True)
    cdir = corpus.prepare(patterns, a.sample_mb, 0.2, 1234, os.path.join(a.work, "corpus"))
    meta = corpus.load_meta(cdir)
    order = [True, False, False, True] * ((a.reps + 1) // 2)
    order = order[: 2 * a.reps]
    cpu: dict[bool, list[float]] = {True: [], False: []}
    shares: list[float] = []
    for i, signals in enumerate(order):
        out = os.path.join(a.work, f"out-{'on' if signals else 'off'}")
        path = os.path.join(a.work, f"signals-{'on' if signals else 'off'}.yaml")
        with open(path, "w") as f:
            json.dump(config(cdir, out, signals), f)
        m = measure([a.pilewright, "run", "--config", path, "--output", out, "--quiet"],
                    log_path=os.path.join(a.work, f"run-{i}.log"))
        if m.rc != 0:
            print(f"run {i} failed (rc {m.rc}); see {a.work}/run-{i}.log", file=sys.stderr)
            return 1
        cpu[signals].append(m.cpu_s)
        share = ""
        if signals:  # the runner's own worker-seconds per step, summed by stage (audit/run.json)
            with open(os.path.join(out, "audit", "run.json")) as f:
                secs = json.load(f).get("stage_seconds") or {}
            if secs:
                shares.append(secs.get("signals", 0.0) / sum(secs.values()))
                share = f"  signals step {secs.get('signals', 0.0):.2f} of {sum(secs.values()):.1f} worker-s " \
                        f"({100 * shares[-1]:.1f}%)"
        print(f"run {i + 1}: signals {'on ' if signals else 'off'}  cpu {m.cpu_s:.1f} s  wall {m.wall_s:.1f} s  "
              f"load {m.load_before:.1f}->{m.load_after:.1f}{share}", flush=True)
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    cost = on / off - 1
    table = os.path.join(a.work, "out-on", "signals")
    size = sum(os.path.getsize(os.path.join(table, n)) for n in os.listdir(table))
    print(f"corpus: {meta['docs']} documents, {meta['text_bytes'] / 1e6:.1f} MB of text")
    print(f"median cpu: signals on {on:.1f} s, off {off:.1f} s; cost {100 * cost:+.1f}% (goal < {100 * GOAL:.0f}%)")
    print(f"OUT/signals: {size / 1e6:.2f} MB")
    if shares:
        print(f"signals step, same run: {100 * statistics.median(shares):.2f}% of the run's worker-seconds "
              f"(median of {len(shares)}; goal < {100 * GOAL:.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
