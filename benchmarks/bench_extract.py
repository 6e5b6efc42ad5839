"""Main-text extraction: accuracy against gold text, and WARC -> text throughput, next to datatrove.

    python benchmarks/bench_extract.py [--work DIR] [--skip-peer] [--shared DIR]

1. Accuracy on ``../shared/corpora/web_raw/html_pages_article_extraction_benchmark.jsonl.gz`` (181 real
   pages with the gold article text): word-level precision, recall and F1 (bag of lowercased ``\\w+`` words,
   per page, then averaged; an empty extraction scores 0) of each extractor run through pilewright's
   ``extract`` stage in Beam, of the same library called directly with the same options, of the library
   with its own defaults, and of datatrove's ``Trafilatura`` extractor (its defaults, the FineWeb setting).
2. Throughput on ``repacked_trafilatura_eval_pages.warc.gz`` (990 pages), each contender in its own
   measured process (wall and CPU of the whole process tree, extractor children included): pilewright's
   ingest (format warc) + extract in Beam on one worker, and datatrove's ``WarcReader`` + ``Trafilatura``
   on one task, with the same trafilatura options. Pages per CPU-second is the per-core figure.

datatrove runs in its own venv (``$PEERS_HOME/dt-venv``); its trafilatura version may differ from ours and
is printed. Absolute figures move with machine load; ratios measured in the same run are what to compare.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common_measure import measure  # noqa: E402

# ../shared next to the repo root; BENCH_SHARED (set by --shared) points elsewhere, e.g. from a worktree
CORPORA = Path(os.environ.get("BENCH_SHARED", HERE.parent.parent / "shared")) / "corpora" / "web_raw"
GOLD = CORPORA / "html_pages_article_extraction_benchmark.jsonl.gz"
WARC = CORPORA / "repacked_trafilatura_eval_pages.warc.gz"
PEERS = Path(os.environ.get("PEERS_HOME", "/tmp/pilewright-peers"))
# DT_PYTHON: another datatrove venv (the shared one's trafilatura failed to import: lxml_html_clean missing)
DT_PY = Path(os.environ.get("DT_PYTHON", PEERS / "dt-venv" / "bin" / "python"))
WORD_RE = re.compile(r"\w+", re.UNICODE)
EXTRACTORS = ("trafilatura", "resiliparse")
# the options both tools get in the throughput race: pilewright's defaults (datatrove's Trafilatura always
# passes include_comments=False itself, as pilewright does)
SAME_TRAFILATURA = dict(favor_precision=False, deduplicate=False, include_tables=True)


def words(text: str | None) -> Counter:
    return Counter(WORD_RE.findall((text or "").lower()))


def prf(pred: str | None, gold: str) -> tuple[float, float, float]:
    p_words, g_words = words(pred), words(gold)
    overlap = sum((p_words & g_words).values())
    n_p, n_g = sum(p_words.values()), sum(g_words.values())
    if n_p == 0 or n_g == 0:
        return (1.0, 1.0, 1.0) if n_p == n_g else (0.0, 0.0, 0.0)
    p, r = overlap / n_p, overlap / n_g
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(preds: dict[str, str | None], gold: dict[str, str]) -> dict:
    rows = [prf(preds.get(i), g) for i, g in gold.items()]
    n = len(rows)
    return {
        "precision": sum(r[0] for r in rows) / n, "recall": sum(r[1] for r in rows) / n,
        "f1": sum(r[2] for r in rows) / n, "pages": n, "empty": sum(1 for i in gold if not preds.get(i)),
    }


def load_gold() -> list[dict]:
    with gzip.open(GOLD, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# ---- roles, each run in its own process -------------------------------------------------------------------

def role_pilewright_quality(extractor: str, out: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pilewright.schemas.stages.extract import ExtractConfig
    from pilewright.schemas.records import Document
    from pilewright.transforms.extract import Extract

    docs = [Document(id=r["id"], text=r["html"], source="aeb", domain="web", url=r.get("url"), content_type="text/html")
            for r in load_gold()]
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as p:
        res = p | beam.Create(docs) | Extract(ExtractConfig(extractor=extractor))
        (res.main | beam.Map(lambda d: json.dumps({"id": d.id, "text": d.text}))
         | beam.io.WriteToText(out, shard_name_template=""))


def role_direct_quality(extractor: str, mode: str, out: str) -> None:
    from pilewright.schemas.stages.extract import ExtractConfig

    options = getattr(ExtractConfig(), extractor).model_dump() if mode == "same" else {}
    preds = {}
    for r in load_gold():
        if extractor == "trafilatura":
            import trafilatura

            preds[r["id"]] = trafilatura.extract(r["html"], url=r.get("url"), **options)
        else:
            from resiliparse.extract.html2text import extract_plain_text

            preds[r["id"]] = extract_plain_text(r["html"], **options)
    Path(out).write_text(json.dumps(preds))


def role_pilewright_throughput(extractor: str, out_dir: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pilewright.schemas.config import SourceConfig
    from pilewright.schemas.stages.extract import ExtractConfig
    from pilewright.transforms.extract import Extract
    from pilewright.transforms.ingest.stage import ReadSources

    src = SourceConfig(name="cc", paths=[str(WARC)], format="warc", domain="web")
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as p:
        docs = p | ReadSources([src])
        res = docs.main | Extract(ExtractConfig(extractor=extractor))
        (res.main | beam.Map(lambda d: len(d.text)) | beam.combiners.Count.Globally()
         | beam.Map(str) | beam.io.WriteToText(os.path.join(out_dir, "kept"), shard_name_template=""))


def role_direct_throughput(extractor: str, out_dir: str) -> None:
    """The ceiling: pilewright's pure WARC reader and the extractor called in one process, no Beam, no child."""
    from pilewright.schemas.stages.extract import ExtractConfig
    from pilewright.schemas.records import Document
    from pilewright.transforms.extract.extractors import extract_text, extractor_call
    from pilewright.transforms.ingest.read import SourceSpec, read_file

    name, options = extractor_call(ExtractConfig(extractor=extractor))
    kept = 0
    with open(WARC, "rb") as f:
        for r in read_file(f, str(WARC), WARC.name, SourceSpec("cc", "web", "warc")):
            if isinstance(r, Document) and (extract_text(r.text, name, options, r.url) or "").strip():
                kept += 1
    Path(out_dir, "kept").write_text(str(kept))


DT_QUALITY = r'''
import gzip, json, sys
import trafilatura
from datatrove.data import Document
from datatrove.pipeline.extractors import Trafilatura
gold, out = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in gzip.open(gold, "rt", encoding="utf-8")]
docs = (Document(text=r["html"], id=r["id"], metadata={"url": r.get("url")}) for r in recs)
preds = {d.id: d.text for d in Trafilatura().run(docs)}   # datatrove's defaults (FineWeb's setting)
json.dump({"preds": preds, "trafilatura": trafilatura.__version__}, open(out, "w"))
'''

DT_THROUGHPUT = r'''
import json, os, sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.writers import JsonlWriter
warc, work, opts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ex = LocalPipelineExecutor(
    pipeline=[
        WarcReader(os.path.dirname(warc), glob_pattern=os.path.basename(warc)),
        Trafilatura(favour_precision=opts.pop("favor_precision"), timeout=10, **opts),
        JsonlWriter(os.path.join(work, "out"), compression=None),
    ],
    tasks=1, workers=1, logging_dir=os.path.join(work, "logs"),
)
ex.run()
'''


def _read_jsonl_preds(path: str) -> dict:
    preds = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            preds[r["id"]] = r["text"]
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=None)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--only", choices=["all", "accuracy", "throughput"], default="all")
    ap.add_argument("--shared", default=None, help="the shared folder (default: ../shared from the repo root)")
    ap.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.shared:
        # re-executes itself so the module-level paths and the role subprocesses see the same folder
        os.environ["BENCH_SHARED"] = os.path.abspath(args.shared)
        argv = [a for i, a in enumerate(sys.argv[1:]) if a != "--shared" and sys.argv[i] != "--shared"]
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve())] + argv)
    if args.role:
        {"pw-quality": role_pilewright_quality, "direct-quality": role_direct_quality,
         "pw-throughput": role_pilewright_throughput, "direct-throughput": role_direct_throughput}[args.role[0]](*args.role[1:])
        return
    if not GOLD.exists() or not WARC.exists():
        sys.exit(f"needs ../shared/corpora/web_raw (not found at {CORPORA})")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_extract_"))
    work.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve()), "--role"]
    peer = DT_PY.exists() and not args.skip_peer
    gold = {r["id"]: r["text"] for r in load_gold()}
    results: dict = {"accuracy": {}, "throughput": {}}
    import trafilatura

    print(f"# bench_extract: {len(gold)} gold pages, trafilatura {trafilatura.__version__} (pilewright venv)")

    if args.only in ("all", "accuracy"):
        accuracy(me, work, gold, peer, results)
    if args.only in ("all", "throughput"):
        throughput(me, work, peer, results)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {work}/results.json")


def accuracy(me: list, work: Path, gold: dict, peer: bool, results: dict) -> None:
    print("\n## Accuracy (word-level, mean over pages)")
    print(f"| {'extractor, path':58} | P | R | F1 | empty |")
    print("| --- | --- | --- | --- | --- |")

    def row(name: str, preds: dict) -> None:
        s = score(preds, gold)
        results["accuracy"][name] = s
        print(f"| {name:58} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['empty']} |", flush=True)

    for ex in EXTRACTORS:
        out = work / f"pw-{ex}.jsonl"
        m = measure(me + ["pw-quality", ex, str(out)], log_path=str(work / f"pw-{ex}.log"))
        if m.rc != 0:
            print(f"| {ex} through pilewright: FAILED (rc {m.rc}, see {work}/pw-{ex}.log) |")
        else:
            row(f"{ex} through pilewright's extract stage (Beam)", _read_jsonl_preds(str(out)))
        for mode, label in (("same", "called directly, same options"), ("defaults", "called directly, library defaults")):
            out = work / f"direct-{ex}-{mode}.json"
            m = measure(me + ["direct-quality", ex, mode, str(out)], log_path=str(work / f"direct-{ex}-{mode}.log"))
            if m.rc == 0:
                row(f"{ex} {label}", json.loads(out.read_text()))
    if peer:
        script = work / "dt_quality.py"
        script.write_text(DT_QUALITY)
        out = work / "dt-quality.json"
        m = measure([str(DT_PY), str(script), str(GOLD), str(out)], log_path=str(work / "dt-quality.log"))
        if m.rc == 0:
            got = json.loads(out.read_text())
            row(f"datatrove Trafilatura() defaults (trafilatura {got['trafilatura']})", got["preds"])
        else:
            print(f"datatrove quality run failed (rc {m.rc}), see {work}/dt-quality.log")


def throughput(me: list, work: Path, peer: bool, results: dict) -> None:
    print("\n## Throughput: WARC (990 pages) -> main text, one worker")
    print("| contender | pages out | wall s | CPU s | pages/s | pages per CPU-s |")
    print("| --- | --- | --- | --- | --- | --- |")

    def trow(name: str, m, pages: int) -> None:
        per_cpu = pages / m.cpu_s if m.cpu_s else float("nan")
        results["throughput"][name] = {"pages": pages, "wall_s": m.wall_s, "cpu_s": m.cpu_s, "pages_per_cpu_s": per_cpu}
        print(f"| {name} | {pages} | {m.wall_s:.1f} | {m.cpu_s:.1f} | {pages / m.wall_s:.1f} | {per_cpu:.1f} |", flush=True)

    for ex in EXTRACTORS:
        d = work / f"tp-direct-{ex}"
        d.mkdir(exist_ok=True)
        m = measure(me + ["direct-throughput", ex, str(d)], log_path=str(d / "log.txt"))
        if m.rc == 0:
            trow(f"ceiling: WARC reader + {ex} in one process (no Beam)", m, int((d / "kept").read_text()))
    for ex in EXTRACTORS:
        d = work / f"tp-{ex}"
        d.mkdir(exist_ok=True)
        m = measure(me + ["pw-throughput", ex, str(d)], log_path=str(d / "log.txt"))
        if m.rc == 0:
            trow(f"pilewright ingest(warc) + extract({ex})", m, int((d / "kept").read_text().strip() or 0))
        else:
            print(f"| pilewright {ex}: FAILED rc {m.rc} (see {d}/log.txt) |")
    if peer:
        d = work / "tp-datatrove"
        d.mkdir(exist_ok=True)
        script = d / "dt_throughput.py"
        script.write_text(DT_THROUGHPUT)
        m = measure([str(DT_PY), str(script), str(WARC), str(d), json.dumps(SAME_TRAFILATURA)], log_path=str(d / "log.txt"))
        if m.rc == 0:
            pages = sum(1 for f in (d / "out").glob("*.jsonl") for _ in open(f))
            trow("datatrove WarcReader + Trafilatura (same options)", m, pages)
        else:
            print(f"| datatrove: FAILED rc {m.rc} (see {d}/log.txt) |")
        pw = results["throughput"].get("pilewright ingest(warc) + extract(trafilatura)")
        dt = results["throughput"].get("datatrove WarcReader + Trafilatura (same options)")
        if pw and dt:
            print(f"\npilewright / datatrove, pages per CPU-s, trafilatura: {pw['pages_per_cpu_s'] / dt['pages_per_cpu_s']:.2f}x "
                  "(goal >= 2x)")


if __name__ == "__main__":
    main()
