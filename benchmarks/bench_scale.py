"""Scale on one machine: wall time, CPU, peak RSS of the whole process tree and MB/s as the input grows
(1x, 2x, 4x, 8x), on 1 and 2 local workers, with every curation stage on.

    python benchmarks/bench_scale.py [--mb-per-x 50] [--xs 1,2,4,8] [--workers 1,2]
                                     [--tokenizer model|train|both] [--sample-docs 2000]
                                     [--python PATH] [--label NAME]

Input: ``--mb-per-x`` MB of raw text per x drawn from ../shared/corpora (Wikipedia parts 0-3 and the other
general corpora as the ``general`` source, the finance corpora as ``finance``, about 15% of the bytes),
written once under benchmarks/work/scale/ as 4 JSONL.gz files per x (so two workers always have files to
share). Every 10th document is followed by a near-duplicate of itself (about 2% of its words replaced,
new id), so dedup has clusters to find. Nx input is the first N groups of files.

Stages: normalize, langid, quality, decontaminate (MMLU, GSM8K, TruthfulQA, HumanEval from
../shared/corpora/benchmarks), dedup (exact + MinHash), span_dedup, pii, and the shard writer; no mix.
``--tokenizer model`` uses one fixed sentencepiece model (trained once by this script on a sample of the
1x input, cached), so tokenizer training is out of the picture; ``train`` trains a 8k BPE tokenizer on a
``--sample-docs`` sample inside the job, as users do; ``both`` runs each.

Workers: ``--direct_num_workers=N``: N unit processes at once in the curate phase, each an in_memory
pipeline (``pipeline.job.executor``); the corpus phase runs in_memory in the main process. ``--python`` runs another checkout's interpreter (a virtualenv with that checkout installed),
so a baseline and a change are measured by the same script on the same input.

Printed for every run: wall s, CPU s of the process tree, peak RSS (sum over the tree, sampled every 0.2 s),
MB of input text per second, load average before; then the ratios the issue sets goals for: peak RSS at
the largest x over 1x (goal <= 1.3 at 8x), time at the largest x over 1x (goal <= 8.5 at 8x), and the
speedup of 2 workers over 1 (goal >= 1.6 on 2 idle cores). The manifest's sha256 is printed so runs of
the same input can be checked for identical output across worker counts.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common_measure import measure  # noqa: E402

REPO = HERE.parent
CORPORA = REPO.parent / "shared" / "corpora"
WORK = HERE / "work" / "scale"
GENERAL = [f"general/wikipedia_en-0000{i}.jsonl.gz" for i in range(4)] + [
    "general/nltk_misc_english.jsonl.gz", "general/imdb_reviews.jsonl.gz", "general/sotu_addresses.jsonl.gz",
    "general/bbc_news.jsonl.gz", "general/brown_corpus.jsonl.gz", "general/moby_dick_chapters.jsonl.gz"]
FINANCE = ["finance/earnings_calls_la83la.jsonl.gz", "finance/earnings_calls_rev_earnings21_22.jsonl.gz",
           "finance/sec_filings_edgartools.jsonl.gz", "finance/reuters21578_news.jsonl.gz",
           "finance/financial_phrasebank.jsonl.gz", "finance/fiqa_semeval2017_sentiment.jsonl.gz",
           "finance/seeking_alpha_snippets.jsonl.gz"]
EVALS = [("mmlu", "question"), ("gsm8k", "text"), ("truthfulqa", "text"), ("humaneval", "text")]
FILES_PER_X = 4
FINANCE_SHARE = 0.15
NEAR_DUP_EVERY = 10


def _docs(rels: list[str]):
    for rel in rels:
        with gzip.open(CORPORA / rel, "rt", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("text"):
                    yield rec["id"], rec["text"]


def _near_duplicate(doc_id: str, text: str) -> str:
    """The text with about 2% of its words replaced, chosen by a hash of the id (no randomness)."""
    words = text.split(" ")
    seed = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big")
    for k in range(max(1, len(words) // 50)):
        i = (seed + k * 7919) % len(words)
        words[i] = "edited"
    return " ".join(words)


def prepare_input(mb_per_x: float, max_x: int) -> Path:
    """FILES_PER_X general and finance files per x, written once and reused; returns their folder."""
    out_dir = WORK / f"input-{mb_per_x:g}mb-x{max_x}"
    done = out_dir / "DONE"
    if done.exists():
        return out_dir
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    n_files = FILES_PER_X * max_x
    per_file = mb_per_x * 1e6 / FILES_PER_X
    streams = {"general": _docs(GENERAL), "finance": _docs(FINANCE)}
    shares = {"general": 1 - FINANCE_SHARE, "finance": FINANCE_SHARE}
    for i in range(n_files):
        for name, stream in streams.items():
            budget, size, n = per_file * shares[name], 0, 0
            with gzip.open(out_dir / f"{name}-{i:03d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1) as w:
                while size < budget:
                    try:
                        doc_id, text = next(stream)
                    except StopIteration:
                        raise SystemExit(f"not enough {name} text in ../shared/corpora for "
                                         f"{mb_per_x:g} MB x {max_x}") from None
                    w.write(json.dumps({"id": doc_id, "text": text}) + "\n")
                    size += len(text.encode())
                    n += 1
                    if n % NEAR_DUP_EVERY == 0:
                        dup = _near_duplicate(doc_id, text)
                        w.write(json.dumps({"id": doc_id + "-neardup", "text": dup}) + "\n")
                        size += len(dup.encode())
    done.write_text("ok\n")
    return out_dir


def text_mb(files: list[Path]) -> float:
    total = 0
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as r:
            total += sum(len(json.loads(line)["text"].encode()) for line in r)
    return total / 1e6


def fixed_tokenizer(input_dir: Path) -> Path:
    """An 8k BPE model trained once on the first 2,000 documents of the input, cached."""
    model = WORK / "fixed-8k.model"
    if model.exists():
        return model
    from pilewright.tokenizer.spm_train import train_bpe

    texts = []
    for f in sorted(input_dir.glob("general-000.jsonl.gz")) + sorted(input_dir.glob("finance-000.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as r:
            texts += [json.loads(line)["text"] for line in r][:1000]
    model.write_bytes(train_bpe(texts, 8000))
    return model


def write_config(input_dir: Path, x: int, tokenizer: str, sample_docs: int, model: Path) -> Path:
    general = [str(input_dir / f"general-{i:03d}.jsonl.gz") for i in range(FILES_PER_X * x)]
    finance = [str(input_dir / f"finance-{i:03d}.jsonl.gz") for i in range(FILES_PER_X * x)]
    evals = [{"name": n, "paths": [str(CORPORA / "benchmarks" / f"{n}.jsonl.gz")], "fields": [field]}
             for n, field in EVALS]
    tok = {"model": str(model)} if tokenizer == "model" else {"train": {"vocab_size": 8000,
                                                                         "sample_docs": sample_docs}}
    cfg = {
        "run": {"output": "out", "seed": 1234},
        "sources": [{"name": "general", "paths": general, "format": "jsonl", "domain": "general"},
                    {"name": "finance", "paths": finance, "format": "jsonl", "domain": "finance"}],
        "stages": {"normalize": {}, "langid": {"languages": ["en"]},
                   "quality": {"rules": ["gopher_repetition", "gopher_quality", "c4", "fineweb"]},
                   "decontaminate": {"sets": evals}, "dedup": {}, "span_dedup": {}, "pii": {}},
        "tokenizer": tok,
        "shards": {"tokens_per_shard": 5_000_000},
    }
    path = WORK / f"x{x}-{tokenizer}.yaml"
    path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
    return path


def beam_args(workers: int) -> list[str]:
    # the curate phase's unit processes (pipeline.job.executor); the corpus phase runs in_memory
    return [f"--direct_num_workers={workers}"]


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


class _WorkDiskPeak:
    """Samples the size of OUT/.work (the run's working state) every half second; keeps the peak."""

    def __init__(self, folder: Path):
        import threading

        self.peak = 0
        self._folder = folder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, _tree_bytes(self._folder))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_one(python: str, cfg: Path, label: str, workers: int, mb: float) -> dict:
    out = WORK / f"out-{label}"
    shutil.rmtree(out, ignore_errors=True)
    log = WORK / f"log-{label}.txt"
    disk = _WorkDiskPeak(out / ".work")
    m = measure([python, "-m", "pilewright.pipeline.cli.main", "run", "--config", str(cfg), "--output", str(out),
                 "--quiet", *beam_args(workers)], log_path=str(log))
    work_peak_mb = disk.stop() / 1e6
    if m.rc != 0:
        print(f"  {label}: FAILED (exit {m.rc}), see {log}", flush=True)
        return {"label": label, "ok": False}
    manifest = out / "manifest.json"
    sha = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
    row = {"label": label, "ok": True, "wall": m.wall_s, "cpu": m.cpu_s, "rss": m.peak_rss_mb,
           "mbps": mb / m.wall_s, "load": m.load_before, "manifest": sha,
           "tokens": json.loads(manifest.read_text())["total_tokens"], "work_mb": work_peak_mb}
    print(f"  {label:<22} wall {m.wall_s:7.1f}s  cpu {m.cpu_s:7.1f}s  peak RSS {m.peak_rss_mb:7.0f} MB  "
          f"{row['mbps']:5.2f} MB/s  .work peak {work_peak_mb:6.0f} MB ({work_peak_mb / mb:.1f} B/B of text)  "
          f"tokens {row['tokens']:>11,}  load-before {m.load_before or 0:4.1f}  manifest {sha}", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb-per-x", type=float, default=50.0, help="MB of raw text per x")
    ap.add_argument("--xs", default="1,2,4,8", help="input sizes, in x")
    ap.add_argument("--workers", default="1,2", help="worker counts (1 = in_memory)")
    ap.add_argument("--tokenizer", choices=["model", "train", "both"], default="model")
    ap.add_argument("--sample-docs", type=int, default=2000, help="tokenizer sample with --tokenizer train")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the checkout to measure")
    ap.add_argument("--label", default="", help="prefix of the run labels")
    args = ap.parse_args()
    if not CORPORA.is_dir():
        print("../shared/corpora is not present; nothing to measure", file=sys.stderr)
        return 2
    xs = sorted(int(v) for v in args.xs.split(","))
    workers = [int(v) for v in args.workers.split(",")]
    input_dir = prepare_input(args.mb_per_x, max(xs))
    model = fixed_tokenizer(input_dir)
    modes = ["model", "train"] if args.tokenizer == "both" else [args.tokenizer]
    print(f"python: {args.python}; cores: {len(os.sched_getaffinity(0))}; {args.mb_per_x:g} MB of text per x")
    for mode in modes:
        print(f"tokenizer: {'fixed model' if mode == 'model' else f'trained on {args.sample_docs} docs'}")
        rows: dict[tuple[int, int], dict] = {}
        for x in xs:
            cfg = write_config(input_dir, x, mode, args.sample_docs, model)
            files = [input_dir / f"{k}-{i:03d}.jsonl.gz" for k in ("general", "finance")
                     for i in range(FILES_PER_X * x)]
            mb = text_mb(files)
            for w in workers:
                rows[(x, w)] = run_one(args.python, cfg, f"{args.label}{mode}-{x}x-{w}w", w, mb)
        ok = {k: r for k, r in rows.items() if r.get("ok")}
        lo, hi = xs[0], xs[-1]
        for w in workers:
            if (lo, w) in ok and (hi, w) in ok and hi != lo:
                a, b = ok[(lo, w)], ok[(hi, w)]
                print(f"  {w} worker(s): peak RSS {hi}x/{lo}x {b['rss'] / a['rss']:.2f} "
                      f"(goal <= 1.3 at 8x/1x); time {hi}x/{lo}x {b['wall'] / a['wall']:.2f} "
                      f"(linear = {hi // lo}; goal <= 8.5 at 8x/1x)")
        for x in xs:
            if len(workers) > 1 and all((x, w) in ok for w in workers):
                base = ok[(x, workers[0])]
                for w in workers[1:]:
                    r = ok[(x, w)]
                    same = "same" if r["manifest"] == base["manifest"] else "DIFFERENT"
                    print(f"  {x}x: {w} workers vs {workers[0]}: speedup {base['wall'] / r['wall']:.2f}x "
                          f"(goal >= 1.6), memory {r['rss'] / base['rss']:.2f}x, manifest {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
