"""Local parallelism: wall time of the same job on 1 and 2 DirectRunner worker processes, and how time
grows with input (1x, 2x, 4x).

    python benchmarks/bench_runners.py [--mb 100] [--workers 2]

Input: about ``--mb`` MB of raw text from ../shared/corpora (Wikipedia parts 0-3, as many as needed), rewritten once into
8 equal JSONL.gz files under benchmarks/work/runners/ (a sharded corpus, as users have; 1x/2x/4x input
are 2/4/8 of those files). Each run is a fresh ``pilewright run`` process with the same config (no
curation stages beyond what the config enables, tokenizer trained on a fixed-size sample). Prints wall
seconds, CPU seconds of the whole process tree, the 1->2 worker speedup against in_memory and against one
worker process (goal >= 1.6x on 2 cores) and the
4x/1x time ratio (goal <= 4, i.e. no worse than linear). A busy machine lowers the speedup: the load
average is printed with every run.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPORA = REPO.parent / "shared" / "corpora"
WORK = HERE / "work" / "runners"
SOURCES = [f"general/wikipedia_en-0000{i}.jsonl.gz" for i in range(4)]
N_FILES = 8


def prepare_input(total_mb: float) -> list[Path]:
    """N_FILES files of about total_mb / N_FILES MB of text each, written once and reused."""
    out_dir = WORK / f"input-{total_mb:g}mb"
    files = [out_dir / f"part-{i}.jsonl.gz" for i in range(N_FILES)]
    if all(f.exists() for f in files):
        return files
    out_dir.mkdir(parents=True, exist_ok=True)
    per_file = total_mb * 1e6 / N_FILES
    writers = [gzip.open(f, "wt", encoding="utf-8", compresslevel=1) for f in files]
    sizes = [0.0] * N_FILES
    i = 0
    try:
        for rel in SOURCES:
            with gzip.open(CORPORA / rel, "rt", encoding="utf-8") as f:
                for line in f:
                    if i >= N_FILES:
                        break
                    rec = json.loads(line)
                    writers[i].write(json.dumps({"id": rec["id"], "text": rec["text"]}) + "\n")
                    sizes[i] += len(rec["text"].encode())
                    if sizes[i] >= per_file:
                        i += 1
    finally:
        for w in writers:
            w.close()
    if i < N_FILES:
        raise SystemExit(f"not enough text in {SOURCES} for {total_mb} MB")
    return files


def write_config(files: list[Path], name: str) -> Path:
    cfg = WORK / f"{name}.yaml"
    paths = json.dumps([str(f) for f in files])
    cfg.write_text(
        "run: {output: out, seed: 1234}\n"
        f"sources:\n  - {{name: wiki, paths: {paths}, format: jsonl, domain: general}}\n"
        "stages: {}\n"
        "tokenizer: {train: {vocab_size: 8000, sample_docs: 1000}}\n"
        "shards: {tokens_per_shard: 2000000}\n"
    )
    return cfg


def run(cfg: Path, label: str, beam_args: list[str]) -> dict:
    out = WORK / f"out-{label}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t = time.monotonic()
    subprocess.run([sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--config", str(cfg),
                    "--output", str(out), "--quiet", *beam_args], check=True)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    manifest = json.loads((out / "manifest.json").read_text())
    row = {"label": label, "wall": wall, "cpu": cpu, "load": load,
           "docs": manifest["total_docs"], "tokens": manifest["total_tokens"],
           "manifest_sha": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()[:12]}
    print(f"  {label:<28} wall {wall:7.1f}s  cpu {cpu:7.1f}s  docs {row['docs']:>7,}  tokens {row['tokens']:>12,}"
          f"  load-before {load:4.1f}  manifest {row['manifest_sha']}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="raw text MB of the full (4x) input")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the parallel runs")
    args = ap.parse_args()
    if not CORPORA.is_dir():
        print("../shared/corpora is not present; nothing to measure", file=sys.stderr)
        return 2
    files = prepare_input(args.mb)
    n = args.workers
    one = ["--direct_running_mode=in_memory"]
    many = ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]
    print(f"input: {N_FILES} files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB gzipped, "
          f"~{args.mb:g} MB text; cores available: {len(os.sched_getaffinity(0))}")

    full = write_config(files, "full")
    print("1 vs N local workers on the full input:")
    r1 = run(full, "4x, 1 worker (in_memory)", one)
    # the same worker-process machinery with one worker: separates the job's own parallel scaling
    # from the cost of running in worker processes at all
    rp = run(full, "4x, 1 worker process", ["--direct_running_mode=multi_processing", "--direct_num_workers=1"])
    rn = run(full, f"4x, {n} workers (multi_processing)", many)
    print("input scaling, " + f"{n} workers:")
    rows = {4: rn}
    for scale in (1, 2):
        rows[scale] = run(write_config(files[: N_FILES * scale // 4], f"x{scale}"), f"{scale}x, {n} workers", many)

    speedup = r1["wall"] / rn["wall"]
    print(f"speedup 1 -> {n} workers: {speedup:.2f}x (goal >= 1.6x): {'met' if speedup >= 1.6 else 'NOT met'}")
    print(f"speedup 1 -> {n} worker processes (both multi_processing): {rp['wall'] / rn['wall']:.2f}x")
    print(f"identical manifest on all: {r1['manifest_sha'] == rp['manifest_sha'] == rn['manifest_sha']}")
    for scale in (2, 4):
        ratio = rows[scale]["wall"] / rows[1]["wall"]
        print(f"time {scale}x / 1x input: {ratio:.2f} (linear = {scale}; goal <= {scale}): "
              f"{'met' if ratio <= scale else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
