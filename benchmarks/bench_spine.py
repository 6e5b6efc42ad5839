"""Ingest and tokenize throughput of the spine, next to a plain-Python read of the same file (the ceiling).

    python benchmarks/bench_spine.py [--file ../shared/corpora/general/wikipedia_en-00000.jsonl.gz]

Each measurement runs in its own subprocess so peak RSS is that measurement's alone. Prints MB/s (of
text), docs/s, peak RSS and the ratio to the plain read. Absolute figures move with machine load; the
ratio measured in the same run is the figure to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPO.parent / "shared" / "corpora" / "general" / "wikipedia_en-00000.jsonl.gz"


def plain_read(path: str) -> dict:
    import gzip

    docs = chars = 0
    t0 = time.perf_counter()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            docs += 1
            chars += len(text.encode("utf-8"))
    return {"seconds": time.perf_counter() - t0, "docs": docs, "bytes": chars}


def _config(path: str, out: str, model: str | None) -> str:
    cfg = {
        "run": {"output": out, "seed": 1},
        "sources": [{"name": "bench", "paths": [path], "format": "jsonl", "domain": "general"}],
        "tokenizer": {"model": model} if model else {"train": {"vocab_size": 32000, "sample_docs": 2000}},
        "shards": {"num_shards": 4},
    }
    fd, name = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return name


def pilewright_ingest(path: str, beam_args: list[str]) -> dict:
    import apache_beam as beam

    from pilewright.pipeline.job.config import load_config
    from pilewright.pipeline.job.options import pipeline_options
    from pilewright.transforms.ingest.stage import ReadSources

    loaded = load_config(_config(path, tempfile.mkdtemp(), None))
    stats_file = tempfile.mktemp()
    t0 = time.perf_counter()
    with beam.Pipeline(options=pipeline_options(beam_args)) as p:
        docs = (p | ReadSources(loaded.resolved.sources)).main
        (
            docs
            | beam.Map(lambda d: (1, len(d.text.encode("utf-8"))))
            | beam.CombineGlobally(lambda vs: tuple(map(sum, zip(*vs))) if vs else (0, 0))
            | beam.Map(lambda t: Path(stats_file).write_text(json.dumps(t)))
        )
    n_docs, n_bytes = json.loads(Path(stats_file).read_text())
    return {"seconds": time.perf_counter() - t0, "docs": n_docs, "bytes": n_bytes}


def pilewright_tokenize_pure(path: str, model: str) -> dict:
    """The Encoder alone over the texts (no Beam): what the tokenize stage costs per core."""
    import gzip

    from pilewright.tokenizer.spm import Encoder

    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    enc = Encoder(Path(model).read_bytes())
    t0 = time.perf_counter()
    n_tokens = sum(len(enc.encode(t)) for t in texts)
    return {"seconds": time.perf_counter() - t0, "docs": len(texts),
            "bytes": sum(len(t.encode("utf-8")) for t in texts), "tokens": n_tokens}


def pilewright_pipeline(path: str, model: str, beam_args: list[str]) -> dict:
    """The whole spine job (ingest -> tokenize -> shards + side outputs) with a given tokenizer."""
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    out = tempfile.mkdtemp()
    t0 = time.perf_counter()
    result = run_job(load_config(_config(path, out, model)), beam_args, out)
    seconds = time.perf_counter() - t0
    ingest = result.audit["stages"][0]
    return {"seconds": seconds, "docs": ingest["kept"], "bytes": ingest["kept_chars"],
            "tokens": result.manifest["total_tokens"]}


def train_model(path: str, out_model: str) -> None:
    import gzip

    from pilewright.tokenizer.spm_train import train_bpe

    with gzip.open(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for i, line in zip(range(1500), f)]
    Path(out_model).write_bytes(train_bpe(texts, 32000, 300_000))


def _child(args) -> None:
    beam_args = args.beam_args.split() if args.beam_args else []
    if args.one == "train":
        train_model(args.file, args.model)
        return
    if args.one == "plain":
        res = plain_read(args.file)
    elif args.one == "ingest":
        res = pilewright_ingest(args.file, beam_args)
    elif args.one == "encode":
        res = pilewright_tokenize_pure(args.file, args.model)
    else:
        res = pilewright_pipeline(args.file, args.model, beam_args)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["peak_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(res))


def measure(what: str, file: str, model: str, beam_args: str) -> dict:
    cmd = [sys.executable, __file__, "--one", what, "--file", file, "--model", model, f"--beam-args={beam_args}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default=str(DEFAULT_FILE))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="", help=argparse.SUPPRESS)
    ap.add_argument("--beam-args", default="--direct_running_mode=in_memory",
                    help="Beam options for the pilewright runs (default: %(default)s)")
    args = ap.parse_args()
    if args.one:
        _child(args)
        return
    if not Path(args.file).is_file():
        sys.exit(f"corpus file not found: {args.file} (needs ../shared/corpora)")
    model = str(Path(tempfile.mkdtemp()) / "bench.model")
    t0 = time.perf_counter()
    # in a child too: Linux keeps a process's peak RSS across fork+exec, so a big parent would inflate
    # every measurement's figure
    subprocess.run([sys.executable, __file__, "--one", "train", "--file", args.file, "--model", model], check=True)
    print(f"(trained a 32k BPE on 1,500 docs in {time.perf_counter() - t0:.1f}s for the tokenize runs)")
    rows = [
        ("plain gzip+json read (ceiling)", measure("plain", args.file, model, "")),
        ("pilewright ingest (Beam)", measure("ingest", args.file, model, args.beam_args)),
        ("pilewright encode (no Beam, 1 core)", measure("encode", args.file, model, "")),
        ("pilewright spine job (ingest+tokenize+shards)", measure("pipeline", args.file, model, args.beam_args)),
    ]
    ceiling = rows[0][1]["bytes"] / rows[0][1]["seconds"]
    print(f"file: {args.file}   beam args: {args.beam_args}")
    print(f"{'measurement':<46} {'docs':>7} {'MB':>7} {'sec':>7} {'MB/s':>7} {'docs/s':>8} {'RSS MB':>7} {'vs ceiling':>10}")
    for name, r in rows:
        mbps = r["bytes"] / 1e6 / r["seconds"]
        rss = max(r["peak_rss_mb"], r["peak_rss_children_mb"])
        print(f"{name:<46} {r['docs']:>7} {r['bytes'] / 1e6:>7.1f} {r['seconds']:>7.1f} {mbps:>7.2f} "
              f"{r['docs'] / r['seconds']:>8.0f} {rss:>7.0f} {mbps * 1e6 / ceiling:>10.3f}")


if __name__ == "__main__":
    main()
