"""Dedup accuracy, speed, memory and scale: pilewright's Dedup stage next to datatrove's 4-stage MinHash.

    python benchmarks/bench_dedup.py [--base-docs 700] [--scales 1,4] [--beam="--direct_num_workers=2"]
                                     [--skip-peer] [--skip-hot] [--work DIR]

1. Builds a near-duplicate set from ``../shared/corpora/general/wikipedia_en-00000.jsonl.gz``: a seeded
   draw of real articles plus, for a quarter of them, a copy edited to a known 5-gram Jaccard level (word
   substitutions, deletions and insertions, appended boilerplate; level 1.0 is a case/whitespace-only
   copy, an exact duplicate after normalization). The true Jaccard of every pair is measured, not assumed.
2. Runs, each in its own measured process (wall, CPU and peak RSS of the whole process tree):
   pilewright's signatures alone (read + sign + write band keys, one process), pilewright's whole Dedup
   stage in Beam (read with the ingest stage, write kept ids and audit sections), and datatrove's
   MinhashDedupSignature / Buckets / Cluster / Filter with the same 5-grams and 14 bands x 8 rows, in
   datatrove's venv (``$PEERS_HOME/dt-venv``, made by ``../shared/bench/peers/setup.sh`` when missing).
3. Prints precision and recall per Jaccard band for both tools (a pair counts as found when at least one
   of its two documents is removed; every other removal is a false positive, split into removals whose
   document has a natural near-duplicate in Wikipedia itself and the rest), docs/s and MB/s (of text), peak
   RSS, the ratios to datatrove, the 1x -> 4x time ratio, and the largest per-key group with a synthetic
   hot bucket of 10,000 identical boilerplate documents (exact dedup on, and off so LSH takes it).

Absolute figures move with machine load; ratios measured in the same run are the figures to compare.
Results also go to ``WORK/results.json``.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
WIKI = SHARED / "corpora" / "general" / "wikipedia_en-00000.jsonl.gz"
PEERS_SETUP = SHARED / "bench" / "peers" / "setup.sh"
PEERS_HOME = Path(os.environ.get("PEERS_HOME", os.path.join(tempfile.gettempdir(), "pilewright-peers")))
DT_PYTHON = PEERS_HOME / "dt-venv" / "bin" / "python"

NGRAM, BANDS, ROWS = 5, 14, 8
SEED = 1234
DUP_FRAC = 0.25
MIN_WORDS = 30
# target Jaccard levels of the copies (1.0: case/whitespace changes only)
LEVELS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4)
BANDS_REPORTED = (("J>=0.9", 0.9, 1.01), ("0.8-0.9", 0.8, 0.9), ("0.7-0.8", 0.7, 0.8), ("0.5-0.7", 0.5, 0.7),
                  ("<0.5", 0.0, 0.5))
BOILERPLATE = (
    "Share this article: Facebook Twitter LinkedIn Email. Copyright Example Media Group. All rights reserved. "
    "Terms of Use | Privacy Policy | Cookie Settings | Contact Us | Advertise with us.",
    "Subscribe to our newsletter to get the latest updates delivered straight to your inbox every week. "
    "We respect your privacy and you can unsubscribe at any time. Click here to manage your preferences.",
    "This page was last edited by the site team. Content is available under the site license unless "
    "otherwise noted. Report an error | Suggest an edit | Back to top.",
)
HOT_DOCS = 10_000
HOT_TEXT = (
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our use "
    "of cookies. Read our cookie policy and privacy notice to learn more about how we use your data and how "
    "you can change your settings at any time. Accept all cookies or manage your preferences below."
)
_WORD = re.compile(r"\w+")


# ---- the near-duplicate generator -----------------------------------------------------------------------


def key64(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def shingles(text: str, n: int = NGRAM) -> set[str]:
    """Word n-grams of lowercased \\w+ tokens: the similarity space of the ground truth."""
    w = _WORD.findall(text.lower())
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def read_wiki(path: Path) -> list[tuple[str, str]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            text = rec.get("text") or ""
            if len(text.split()) >= MIN_WORDS:
                out.append((f"wiki-{rec.get('id', i)}", text))
    return out


def edited_copy(text: str, target: float, rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    """A copy of ``text`` edited towards 5-gram Jaccard ``target``: (copy, what was done)."""
    if target >= 1.0:
        # exact duplicate after normalization: case and whitespace only
        return "  ".join(text.upper().split(" ")), "case+space"
    words = text.split(" ")
    tail = rng.choice(BOILERPLATE) if rng.random() < 0.5 else ""
    n_shingles = max(1, len(words) - NGRAM + 1)
    extra = len(tail.split()) if tail else 0
    # each edit changes about NGRAM shingles on each side: J ~ (S - 5k) / (S + 5k + extra)
    k = max(1, round((n_shingles * (1 - target) - target * extra) / (NGRAM * (1 + target))))
    for _ in range(k):
        if len(words) < 3:
            break
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 1 / 3:
            words[i] = rng.choice(vocab)
        elif op < 2 / 3:
            del words[i]
        else:
            words.insert(i, rng.choice(vocab))
    copy = " ".join(words)
    if tail:
        copy += "\n" + tail
    return copy, f"{k} edits" + (" +boilerplate" if tail else "")


def build_corpus(base_docs: int, out_dir: Path, hot: bool = False) -> dict:
    """Writes OUT/docs/part-*.jsonl.gz, OUT/truth.jsonl, OUT/meta.json; reuses a finished folder."""
    meta_path = out_dir / "meta.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    wiki = read_wiki(WIKI)
    wiki.sort(key=lambda d: key64(SEED, "draw", d[0]))
    if base_docs > len(wiki):
        raise SystemExit(f"only {len(wiki)} articles of >= {MIN_WORDS} words in {WIKI.name}; use fewer base docs")
    docs = wiki[:base_docs]
    vocab = sorted({w for _i, t in docs[:500] for w in t.split(" ")[:300] if w.isalpha() and len(w) > 2})
    picks = sorted(docs, key=lambda d: key64(SEED, "copy", d[0]))[: round(DUP_FRAC * len(docs))]
    truth, copies = [], []
    for n, (orig_id, text) in enumerate(sorted(picks)):
        rng = random.Random(key64(SEED, "edit", orig_id))
        target = LEVELS[n % len(LEVELS)]
        copy, how = edited_copy(text, target, rng, vocab)
        copy_id = orig_id + "~dup"
        copies.append((copy_id, copy))
        truth.append({"orig_id": orig_id, "copy_id": copy_id, "target": target, "edit": how,
                      "jaccard5": round(jaccard(shingles(text), shingles(copy)), 4)})
    everything = docs + copies
    if hot:
        everything += [(f"hot-{i:05d}", HOT_TEXT) for i in range(HOT_DOCS)]
    everything.sort(key=lambda d: key64(SEED, "order", d[0]))
    tmp = Path(str(out_dir) + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "docs").mkdir(parents=True)
    n_parts = 4  # two workers of either tool share the files
    for k in range(n_parts):
        with gzip.GzipFile(tmp / "docs" / f"part-{k:04d}.jsonl.gz", "wb", mtime=0) as f:
            for doc_id, text in everything[k::n_parts]:
                f.write((json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n").encode())
    with open(tmp / "truth.jsonl", "w") as f:
        f.writelines(json.dumps(t) + "\n" for t in truth)
    meta = {"base_docs": base_docs, "copies": len(copies), "hot_docs": HOT_DOCS if hot else 0,
            "docs": len(everything), "text_bytes": sum(len(t.encode()) for _i, t in everything), "seed": SEED}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return meta


def corpus_texts(corpus: Path) -> dict[str, str]:
    out = {}
    for path in sorted(glob.glob(str(corpus / "docs" / "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                out[rec["id"]] = rec["text"]
    return out


# ---- children: each runs in its own measured process ----------------------------------------------------


def child_pw_signatures(corpus: str, out: str) -> None:
    """pilewright's signatures alone: read the JSONL, sign every document, write its band keys."""
    import numpy as np

    from pilewright.transforms.dedup.minhash import Bander, MinHasher

    hasher, bander = MinHasher(BANDS * ROWS, NGRAM, "word", SEED), Bander(BANDS, ROWS, SEED)
    docs = nbytes = signed = 0
    compute = 0.0
    with open(out + ".bands", "wb") as sink:
        for path in sorted(glob.glob(os.path.join(corpus, "docs", "*.jsonl.gz"))):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    text = json.loads(line)["text"]
                    t0 = time.process_time()  # CPU time: a shared machine's load does not inflate it
                    sig = hasher.signature(text)
                    keys = bander.keys(sig) if sig is not None else None
                    compute += time.process_time() - t0
                    docs += 1
                    nbytes += len(text.encode())
                    if keys is not None:
                        signed += 1
                        sink.write(np.asarray(keys, dtype=np.int64).tobytes())
    Path(out).write_text(json.dumps({"docs": docs, "bytes": nbytes, "signed": signed, "compute_s": compute}))


def child_pw_dedup(corpus: str, out: str, exact: bool, beam_args: list[str]) -> None:
    """pilewright's whole Dedup stage in Beam: ingest -> Dedup -> kept ids and audit sections."""
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter

    from pilewright.pipeline.job.options import pipeline_options
    from pilewright.schemas.config import SourceConfig
    from pilewright.schemas.stages.dedup import DedupConfig, MinHashConfig
    from pilewright.transforms.dedup.stage import Dedup
    from pilewright.transforms.ingest.stage import ReadSources

    source = SourceConfig(name="bench", paths=[os.path.join(corpus, "docs", "*.jsonl.gz")], format="jsonl")
    cfg = DedupConfig(exact=exact, minhash=MinHashConfig(ngram=NGRAM, bands=BANDS, rows=ROWS))
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    p = beam.Pipeline(options=pipeline_options(beam_args))
    res = p | "Ingest" >> ReadSources([source])
    dedup = res.main | "Dedup" >> Dedup(cfg, seed=SEED)
    dedup.main | "KeptIds" >> beam.Map(lambda d: d.id.split("/", 1)[1]) | "WriteKept" >> beam.io.WriteToText(
        os.path.join(out, "kept"), file_name_suffix=".txt")
    dedup.stats | "StatsJson" >> beam.MapTuple(lambda k, v: json.dumps({k: json.loads(v)})) | "WriteStats" >> (
        beam.io.WriteToText(os.path.join(out, "stats"), file_name_suffix=".jsonl"))
    (dedup.errors | "ErrIds" >> beam.Map(lambda e: e.doc_id or "")
     | "WriteErrors" >> beam.io.WriteToText(os.path.join(out, "errors"), file_name_suffix=".txt"))
    result = p.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - t0
    counters = {}
    try:
        for c in result.metrics().query(MetricsFilter().with_namespace("pilewright"))["counters"]:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    except Exception:  # a runner without metrics still gives the data-derived numbers
        pass
    Path(out, "run.json").write_text(json.dumps({"pipeline_s": seconds, "counters": counters}))


DT_STAGES = ("signatures", "buckets", "cluster", "filter")


def child_dt_stage(stage: str, corpus: str, work: str) -> None:
    """One of datatrove's four MinHash stages (run with datatrove's own python)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    docs = os.path.join(corpus, "docs")

    def reader():
        return JsonlReader(docs, glob_pattern="*.jsonl.gz", text_key="text", id_key="id")

    def logs(name):
        return os.path.join(work, "logs", name)

    if stage == "signatures":
        steps, tasks = [reader(), MinhashDedupSignature(output_folder=os.path.join(work, "sigs"), config=cfg)], 2
    elif stage == "buckets":
        steps = [MinhashDedupBuckets(input_folder=os.path.join(work, "sigs"), output_folder=os.path.join(work, "buckets"),
                                     config=cfg)]
        tasks = BANDS
    elif stage == "cluster":
        steps = [MinhashDedupCluster(input_folder=os.path.join(work, "buckets"),
                                     output_folder=os.path.join(work, "remove_ids"), config=cfg)]
        tasks = 1
    else:
        steps = [reader(), MinhashDedupFilter(input_folder=os.path.join(work, "remove_ids")),
                 JsonlWriter(os.path.join(work, "kept"))]
        tasks = 2
    LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=min(2, tasks), logging_dir=logs(stage)).run()
    if stage == "filter":
        kept = []
        for path in sorted(glob.glob(os.path.join(work, "kept", "*.jsonl.gz"))):
            with gzip.open(path, "rt") as f:
                kept.extend(json.loads(line)["id"] for line in f)
        Path(work, "kept_ids.txt").write_text("".join(i + "\n" for i in kept))


# ---- measuring and evaluating (parent) -----------------------------------------------------------------


def _measure(cmd: list[str], log: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from bench_common_measure import measure

    m = measure(cmd, log_path=str(log))
    if m.rc != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"command failed ({m.rc}): {' '.join(cmd)}\n{tail}")
    return {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb, "max_single_rss_mb": m.max_single_rss_mb}


def ensure_datatrove() -> bool:
    if DT_PYTHON.exists():
        return True
    if PEERS_SETUP.exists():
        print(f"creating datatrove's venv with {PEERS_SETUP} ...", flush=True)
        subprocess.run(["bash", str(PEERS_SETUP)], check=False)
    else:  # a fresh machine without the shared harness: datatrove's own venv
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_HOME / "dt-venv")], check=True)
        subprocess.run([str(DT_PYTHON), "-m", "pip", "install", "-q", "datatrove[processing,io]", "spacy",
                        "orjson", "xxhash"], check=False)
    return DT_PYTHON.exists()


def run_pilewright(corpus: Path, work: Path, exact: bool, beam_args: list[str]) -> dict:
    out = work / ("pw-exact" if exact else "pw-lsh-only")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, __file__, "child-pw-dedup", str(corpus), str(out), "1" if exact else "0", *beam_args]
    m = _measure(cmd, out / "log.txt")
    kept = []
    for path in sorted(glob.glob(str(out / "kept*.txt"))):
        kept.extend(line.strip() for line in open(path) if line.strip())
    stats = {}
    for path in sorted(glob.glob(str(out / "stats*.jsonl"))):
        for line in open(path):
            stats.update(json.loads(line))
    errors = sum(1 for path in glob.glob(str(out / "errors*.txt")) for line in open(path) if line.strip())
    run = json.loads((out / "run.json").read_text())
    return {"measure": m, "kept": kept, "stats": stats, "errors": errors, **run}


def run_signatures(corpus: Path, work: Path) -> dict:
    out = work / "pw-signatures.json"
    m = _measure([sys.executable, __file__, "child-pw-signatures", str(corpus), str(out)], work / "pw-signatures.log")
    return {"measure": m, **json.loads(out.read_text())}


def run_datatrove(corpus: Path, work: Path) -> dict:
    dt_work = work / "datatrove"
    shutil.rmtree(dt_work, ignore_errors=True)
    dt_work.mkdir(parents=True)
    stages = {}
    env_cmd = [str(DT_PYTHON), __file__]
    for stage in DT_STAGES:
        stages[stage] = _measure([*env_cmd, "child-dt-stage", stage, str(corpus), str(dt_work)], dt_work / f"{stage}.log")
    kept = [line.strip() for line in open(dt_work / "kept_ids.txt") if line.strip()]
    return {"stages": stages, "kept": kept}


def evaluate(corpus: Path, kept_ids: list[str], texts: dict[str, str], natural: dict) -> dict:
    """Precision/recall against the injected pairs; false positives split by natural near-duplicates."""
    truth = [json.loads(line) for line in open(corpus / "truth.jsonl")]
    kept = set(kept_ids)
    removed = set(texts) - kept
    in_pair = {t["orig_id"] for t in truth} | {t["copy_id"] for t in truth}
    tp = both = 0
    bands = {name: [0, 0] for name, _lo, _hi in BANDS_REPORTED}
    for t in truth:
        r = (t["orig_id"] in removed) + (t["copy_id"] in removed)
        tp += r >= 1
        both += r == 2
        name = next(n for n, lo, hi in BANDS_REPORTED if lo <= t["jaccard5"] < hi)
        bands[name][0] += 1
        bands[name][1] += r >= 1
    hot_removed = sum(1 for d in removed if d.startswith("hot-"))
    hot_kept = sum(1 for d in kept if d.startswith("hot-"))
    other = sorted(d for d in removed if d not in in_pair and not d.startswith("hot-"))
    natural_scan(other, texts, natural)
    fp_natural = sum(1 for d in other if natural[d] >= 0.5)
    n_removed = len(removed) - hot_removed
    fp = both + len(other)
    precision = tp / n_removed if n_removed else 1.0
    recall = tp / len(truth) if truth else 1.0
    return {
        "pairs": len(truth), "removed": n_removed, "tp": tp, "fp": fp, "fp_both_of_pair": both,
        "fp_not_injected": len(other), "fp_not_injected_with_natural_dup": fp_natural,
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision_excluding_natural": tp / (n_removed - fp_natural) if n_removed - fp_natural else 1.0,
        "recall_by_band": {n: {"pairs": v[0], "found": v[1], "recall": v[1] / v[0] if v[0] else None}
                           for n, v in bands.items()},
        "recall_j_ge_0.8": (bands["J>=0.9"][1] + bands["0.8-0.9"][1]) / max(1, bands["J>=0.9"][0] + bands["0.8-0.9"][0]),
        "hot_kept": hot_kept, "hot_removed": hot_removed,
        "fp_examples": [{"id": d, "best_natural_jaccard": round(natural[d], 3)} for d in other[:10]],
    }


def natural_scan(doc_ids: list[str], texts: dict[str, str], cache: dict) -> None:
    """Best 5-gram Jaccard of each wrongly removed document to any other one (a natural near-duplicate).

    One pass over the corpus with an inverted index of the documents asked about (not all pairs).
    """
    todo = [d for d in doc_ids if d not in cache]
    if not todo:
        return
    mine = {d: shingles(texts[d]) for d in todo}
    index: dict[str, list[str]] = {}
    for d, sh in mine.items():
        for g in sh:
            index.setdefault(g, []).append(d)
    best = {d: 0.0 for d in todo}
    for other, text in texts.items():
        if other.startswith("hot-"):
            continue
        theirs = shingles(text)
        overlap: dict[str, int] = {}
        for g in theirs:
            for d in index.get(g, ()):
                if d != other:
                    overlap[d] = overlap.get(d, 0) + 1
        for d, n in overlap.items():
            best[d] = max(best[d], n / (len(mine[d]) + len(theirs) - n))
    cache.update(best)


def _rate(n: float, seconds: float) -> float:
    return n / seconds if seconds else float("nan")


def _largest_group(stats: dict) -> tuple[int, int, int]:
    """(largest group held by one key, largest key's true member count, keys that took the hot path)."""
    groups = stats.get("groups", {})
    levels = [v for v in groups.values() if isinstance(v, dict)]
    held = max([groups.get("largest_group_held", 0)] + [stats.get("components", {}).get("max_degree", 0) + 1])
    return held, max((v["largest_key_members"] for v in levels), default=0), sum(v["keys_over_max_group"] for v in levels)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-docs", type=int, default=700, help="articles at 1x (4x uses four times as many)")
    ap.add_argument("--scales", default="1,4")
    # in_memory: on a 2-core machine shared with other jobs, multi_processing spent ~1.7x the CPU on the 1x
    # corpus (worker start-up and cross-process shuffles) for no gain in wall time
    ap.add_argument("--beam", default="--direct_running_mode=in_memory",
                    help='Beam options for pilewright\'s run, e.g. --beam="--direct_num_workers=2"')
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-hot", action="store_true")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "pilewright-bench-dedup"))
    a = ap.parse_args(argv)
    if not WIKI.exists():
        print(f"skipped: {WIKI} is not present")
        return 0
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    beam_args = a.beam.split()
    scales = [int(s) for s in a.scales.split(",")]
    results: dict = {"config": {"ngram": NGRAM, "bands": BANDS, "rows": ROWS, "base_docs": a.base_docs,
                                "beam": beam_args, "load_before": os.getloadavg()[0]}}

    runs = {}
    for scale in scales:
        corpus = work / f"corpus-{a.base_docs * scale}"
        meta = build_corpus(a.base_docs * scale, corpus)
        print(f"[{scale}x] corpus: {meta['docs']} docs ({meta['copies']} injected copies), "
              f"{meta['text_bytes'] / 1e6:.1f} MB of text", flush=True)
        sig = run_signatures(corpus, _mk(work / f"s{scale}"))
        pw = run_pilewright(corpus, _mk(work / f"s{scale}"), True, beam_args)
        runs[scale] = {"corpus": corpus, "meta": meta, "sig": sig, "pw": pw}
        print(f"[{scale}x] pilewright dedup {pw['measure']['wall_s']} s, signatures {sig['measure']['wall_s']} s",
              flush=True)
    one = runs[scales[0]]
    texts = corpus_texts(one["corpus"])
    natural: dict = {}
    results["pilewright"] = evaluate(one["corpus"], one["pw"]["kept"], texts, natural)
    dt = None
    if not a.skip_peer and ensure_datatrove():
        dt = run_datatrove(one["corpus"], work / f"s{scales[0]}")
        results["datatrove"] = evaluate(one["corpus"], dt["kept"], texts, natural)
        print(f"[{scales[0]}x] datatrove 4 stages {sum(s['wall_s'] for s in dt['stages'].values()):.1f} s", flush=True)
    hot = {}
    if not a.skip_hot:
        corpus = work / f"corpus-{a.base_docs}-hot"
        meta = build_corpus(a.base_docs, corpus, hot=True)
        hot_texts = corpus_texts(corpus)
        for exact in (True, False):
            r = run_pilewright(corpus, _mk(work / "hot"), exact, beam_args)
            hot["exact" if exact else "lsh_only"] = (r, evaluate(corpus, r["kept"], hot_texts, natural))
        print(f"[hot] {meta['docs']} docs incl. {HOT_DOCS} identical", flush=True)

    report(results, runs, scales, dt, hot)
    results["runs"] = {str(s): {"meta": r["meta"], "sig": r["sig"], "pw": {k: v for k, v in r["pw"].items() if k != "kept"}}
                       for s, r in runs.items()}
    if dt:
        results["datatrove_stages"] = dt["stages"]
    results["hot"] = {k: {"run": {kk: vv for kk, vv in r.items() if kk != "kept"}, "eval": e} for k, (r, e) in hot.items()}
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {work / 'results.json'}")
    return 0


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def report(results: dict, runs: dict, scales: list[int], dt: dict | None, hot: dict) -> None:
    first = runs[scales[0]]
    meta = first["meta"]
    mb = meta["text_bytes"] / 1e6
    pw_eval, dt_eval = results["pilewright"], results.get("datatrove")
    print(f"\nACCURACY  {meta['docs']} docs, {pw_eval['pairs']} injected pairs; {NGRAM}-grams, {BANDS} bands x {ROWS} rows")
    print(f"{'Jaccard band':<14}{'pairs':>7}{'pilewright recall':>20}{'datatrove recall':>19}")
    for name, _lo, _hi in BANDS_REPORTED:
        p = pw_eval["recall_by_band"][name]
        d = dt_eval["recall_by_band"][name] if dt_eval else None
        fmt = lambda v: "-" if v is None or v["recall"] is None else f"{v['recall']:.3f} ({v['found']})"
        print(f"{name:<14}{p['pairs']:>7}{fmt(p):>20}{fmt(d):>19}")
    for label, ev in (("pilewright", pw_eval), ("datatrove", dt_eval)):
        if ev is None:
            continue
        print(f"{label:<11} removed {ev['removed']:>5}  precision {ev['precision']:.4f} "
              f"(excl. natural near-dups {ev['precision_excluding_natural']:.4f})  recall {ev['recall']:.4f}  "
              f"recall J>=0.8 {ev['recall_j_ge_0.8']:.4f}  F1 {ev['f1']:.4f}  "
              f"FP: {ev['fp_not_injected']} not injected ({ev['fp_not_injected_with_natural_dup']} with a natural "
              f"near-dup >= 0.5), {ev['fp_both_of_pair']} both of a pair")
    goals = [("precision >= 0.98", pw_eval["precision"] >= 0.98),
             ("recall J>=0.8 >= 0.95", pw_eval["recall_j_ge_0.8"] >= 0.95)]
    if dt_eval:
        goals.append(("F1 >= datatrove's", pw_eval["f1"] >= dt_eval["f1"]))

    print(f"\nSPEED AND MEMORY  {meta['docs']} docs, {mb:.1f} MB of text (wall of the whole process; CPU of its tree)")
    print(f"{'what':<38}{'wall s':>8}{'cpu s':>8}{'docs/s':>9}{'MB/s':>8}{'MB/cpu-s':>10}{'peak RSS MB':>13}")

    def row(name, m, docs=meta["docs"]):
        print(f"{name:<38}{m['wall_s']:>8.1f}{m['cpu_s']:>8.1f}{_rate(docs, m['wall_s']):>9.1f}"
              f"{_rate(mb, m['wall_s']):>8.2f}{_rate(mb, m['cpu_s']):>10.2f}{m['peak_rss_mb']:>13.0f}")

    sig = first["sig"]
    row("pilewright signatures (1 process)", sig["measure"])
    print(f"{'  (signing alone, CPU s in-process)':<38}{'':>8}{sig['compute_s']:>8.1f}{'':>9}{'':>8}"
          f"{_rate(mb, sig['compute_s']):>10.2f}")
    row("pilewright whole Dedup (Beam)", first["pw"]["measure"])
    if dt:
        for stage, m in dt["stages"].items():
            row(f"datatrove {stage}", m)
        total = {"wall_s": sum(m["wall_s"] for m in dt["stages"].values()),
                 "cpu_s": sum(m["cpu_s"] for m in dt["stages"].values()),
                 "peak_rss_mb": max(m["peak_rss_mb"] for m in dt["stages"].values())}
        row("datatrove 4 stages", total)
        sig_ratio = dt["stages"]["signatures"]["wall_s"] / sig["measure"]["wall_s"]
        sig_cpu_ratio = dt["stages"]["signatures"]["cpu_s"] / sig["measure"]["cpu_s"]
        whole_ratio = total["wall_s"] / first["pw"]["measure"]["wall_s"]
        whole_cpu_ratio = total["cpu_s"] / first["pw"]["measure"]["cpu_s"]
        print(f"ratio signatures: {sig_ratio:.1f}x datatrove's stage 1 (wall; datatrove on 2 workers, pilewright on 1), "
              f"{sig_cpu_ratio:.1f}x per CPU-second")
        print(f"ratio whole dedup: {whole_ratio:.2f}x datatrove's four stages (wall), {whole_cpu_ratio:.2f}x per CPU-second")
        goals += [("signatures >= 5x datatrove stage 1", sig_ratio >= 5), ("whole dedup faster than datatrove", whole_ratio > 1)]
        results["ratios"] = {"signatures_wall": sig_ratio, "signatures_cpu": sig_cpu_ratio, "whole_wall": whole_ratio,
                             "whole_cpu": whole_cpu_ratio}

    if len(scales) > 1:
        print("\nSCALE  (pilewright whole Dedup and signatures; time ratios against the docs ratio)")
        base = runs[scales[0]]
        for s in scales:
            r = runs[s]
            m, m0 = r["pw"]["measure"], base["pw"]["measure"]
            docs_ratio = r["meta"]["docs"] / base["meta"]["docs"]
            wall_ratio = m["wall_s"] / m0["wall_s"]
            cpu_ratio = m["cpu_s"] / m0["cpu_s"]
            sig_ratio = r["sig"]["compute_s"] / base["sig"]["compute_s"]
            print(f"{s}x: {r['meta']['docs']:>6} docs {r['meta']['text_bytes'] / 1e6:>6.1f} MB  wall {m['wall_s']:>6.1f} s  "
                  f"cpu {m['cpu_s']:>6.1f} s  {_rate(r['meta']['docs'], m['wall_s']):>6.1f} docs/s  "
                  f"peak RSS {m['peak_rss_mb']:.0f} MB  docs x{docs_ratio:.2f} -> wall x{wall_ratio:.2f}, "
                  f"cpu x{cpu_ratio:.2f}; signing cpu x{sig_ratio:.2f}")
            if s != scales[0]:
                results.setdefault("scale", {})[str(s)] = {"docs_ratio": docs_ratio, "wall_ratio": wall_ratio,
                                                            "cpu_ratio": cpu_ratio, "signing_cpu_ratio": sig_ratio}
                goals.append((f"time at {s}x no worse than linear (wall x{wall_ratio:.2f}, cpu x{cpu_ratio:.2f} "
                              f"for docs x{docs_ratio:.2f})", max(wall_ratio, cpu_ratio) <= docs_ratio))
    for label, (r, ev) in hot.items():
        held, largest, hot_keys = _largest_group(r["stats"])
        comp = r["stats"].get("components", {})
        print(f"\nHOT BUCKET ({label}): {HOT_DOCS} identical boilerplate docs -> kept {ev['hot_kept']}, "
              f"removed {ev['hot_removed']}; largest key {largest} members, keys over max_group {hot_keys}; "
              f"largest per-key group held {held} (max_group {r['stats'].get('groups', {}).get('max_group')}; "
              f"components: {comp.get('nodes', 0)} nodes, max degree {comp.get('max_degree', 0)}); "
              f"wall {r['measure']['wall_s']} s, cpu {r['measure']['cpu_s']} s, peak RSS {r['measure']['peak_rss_mb']:.0f} MB; "
              f"pairs: precision {ev['precision']:.4f} recall {ev['recall']:.4f}")
        goals.append((f"hot bucket bounded ({label})", held <= r["stats"].get("groups", {}).get("max_group", 0) and ev["hot_kept"] == 1))
    print("\nGOALS")
    for name, ok in goals:
        print(f"  {'met    ' if ok else 'NOT MET'}  {name}")
    results["goals"] = {name: ok for name, ok in goals}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("child-"):
        cmd, args = sys.argv[1], sys.argv[2:]
        if cmd == "child-pw-signatures":
            child_pw_signatures(*args)
        elif cmd == "child-pw-dedup":
            child_pw_dedup(args[0], args[1], args[2] == "1", args[3:])
        elif cmd == "child-dt-stage":
            child_dt_stage(*args)
        sys.exit(0)
    sys.exit(main())
