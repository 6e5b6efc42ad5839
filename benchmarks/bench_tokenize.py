"""Encode throughput: pilewright's Hugging Face path vs datatrove's DocumentTokenizer (same tokenizer.json,
same documents, same run), and pilewright's sentencepiece path vs SentencePieceProcessor.encode.

    nice -n 10 .venv/bin/python benchmarks/bench_tokenize.py [--mb 20] [--corpus FILE] [--dt-python PATH]

Every figure is per core: each measurement runs in one process with the tokenizers library's thread pool
held to one thread (RAYON_NUM_THREADS=1), and throughput is text MB (UTF-8) per CPU-second of that process,
plus documents per CPU-second. In-process rows are the fastest of two runs. The corpus is the first --mb MB of ../shared/corpora (Wikipedia by default).
A byte-level BPE tokenizer.json (32k) and a sentencepiece model (pilewright's own trainer) are trained on the
first documents here; nothing is downloaded.

Rows:
- pilewright hf, encoder: ``HFEncoder.encode`` per document (what the tokenize stage calls), and
  ``HFEncoder.encode_batch`` over batches of 1,000;
- pilewright hf, stage DoFn: the tokenize stage's DoFn body per document (encode, uint32 bytes, the
  TokenizedDocument record), without a runner;
- pilewright hf/spm, Beam stage: the ``Encode`` transform on the DirectRunner (in-memory, one worker) as the
  job runs it (token arrays spilled to a working folder), including Beam's own per-element cost and the
  model load: the pipeline with the stage minus the same pipeline without it, the documents coming from an
  in-process source (``bench_common_inmemory``); ``profile_stages.py`` splits this further;
- datatrove DocumentTokenizer: its own step time (encode with its EOS post-processor, write, shuffle) from
  its stats, in its virtualenv, and its core ``tokenizer.encode_batch`` call alone on the same batches;
- sentencepiece ceiling: ``SentencePieceProcessor.encode`` per document; pilewright's ``Encoder.encode`` and
  stage DoFn on the same texts.
Goals (issue 14): pilewright hf >= 2x datatrove per core; pilewright spm >= 0.8 of the ceiling. Issue 29: the
stages on the DirectRunner >= 0.9 of their library's speed, the hf stage >= 2x datatrove's step per CPU-s.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported: one core per measurement
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "general" / "wikipedia_en-00000.jsonl.gz"
DT_PYTHON = Path("/tmp/pilewright-peers/dt-venv/bin/python")

# runs inside datatrove's virtualenv: its DocumentTokenizer as its users run it, then its encode call alone
DT_SCRIPT = r'''
import json, os, resource, sys, time, glob
os.environ["RAYON_NUM_THREADS"] = "1"
work, tok_path = sys.argv[1], sys.argv[2]
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
c0 = time.process_time()
LocalPipelineExecutor(
    pipeline=[JsonlReader(os.path.join(work, "in"), glob_pattern="*.jsonl.gz", text_key="text", id_key="id"),
              DocumentTokenizer(output_folder=os.path.join(work, "dt_tokens"), tokenizer_name_or_path=tok_path,
                                eos_token="<|endoftext|>")],
    tasks=1, workers=1, logging_dir=os.path.join(work, "dt_logs")).run()
whole_cpu = time.process_time() - c0
stats = json.load(open(os.path.join(work, "dt_logs", "stats.json")))
step = {}
for s in stats:
    if "TOKENIZER" in s.get("name", ""):
        step = {"seconds": s["time_stats"]["total"], "tokens": s.get("stats", {}).get("tokens", {}).get("total")}
# the core call alone, as DocumentTokenizer makes it (its tokenizer, with its EOS post-processor)
texts = [json.loads(l)["text"] for l in open(os.path.join(work, "texts.jsonl"))]
dt = DocumentTokenizer(output_folder=os.path.join(work, "dt_tokens2"), tokenizer_name_or_path=tok_path,
                       eos_token="<|endoftext|>")
tok = dt.tokenizer
c0 = time.process_time()
n = 0
for i in range(0, len(texts), 10000):
    n += sum(len(e.ids) for e in tok.encode_batch(texts[i:i + 10000]))
core = time.process_time() - c0
print(json.dumps({"whole_cpu": whole_cpu, "step": step, "core_cpu": core, "core_tokens": n}))
'''


def load_docs(path: Path, mb: float) -> list[dict]:
    out, size = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            if not r.get("text"):
                continue
            out.append({"id": str(r.get("id", i)), "text": r["text"]})
            size += len(r["text"].encode("utf-8"))
            if size >= mb * 1e6:
                break
    return out


def cpu(fn, repeat: int = 2):
    """(CPU-s, wall-s, result) of the fastest of ``repeat`` calls: the machine is shared, and the least
    disturbed run is the closest to the code's own cost."""
    best = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        got = (time.process_time() - c0, time.perf_counter() - w0, result)
        best = got if best is None or got[0] < best[0] else best
    return best


def row(name: str, cpu_s: float, mb: float, n_docs: int, extra: str = "") -> dict:
    r = {"name": name, "cpu_s": cpu_s, "mb_per_cpu_s": mb / cpu_s, "docs_per_cpu_s": n_docs / cpu_s}
    print(f"{name:<52} {cpu_s:>8.2f} {r['mb_per_cpu_s']:>10.2f} {r['docs_per_cpu_s']:>10.0f}  {extra}", flush=True)
    return r


def beam_cpu(docs, transform_factory) -> float:
    """CPU-s of ``transform_factory``'s steps on the DirectRunner (in_memory, one worker): the pipeline
    with them minus the same pipeline without them, each the fastest of two runs. The documents come from
    an in-process registry (``bench_common_inmemory``), not ``beam.Create``, whose own cost (it embeds every
    element in the pipeline: 15.8 CPU-s for 20 MB) was most of what this row used to show."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pilewright.schemas.records import Document

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_common_inmemory as mem

    mem.put("bench_tokenize", docs)
    opts = PipelineOptions(["--direct_num_workers=1", "--direct_running_mode=in_memory"])

    def pipeline(with_stage: bool):
        def run():
            with beam.Pipeline("DirectRunner", options=opts) as p:
                pc = p | mem.InMemorySource("bench_tokenize", Document)
                if with_stage:
                    pc = transform_factory(p, pc)
                pc | beam.combiners.Count.Globally()
        return run

    c, _w, _ = cpu(pipeline(True))
    base, _w, _ = cpu(pipeline(False))
    return c - base


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--dt-python", type=Path, default=DT_PYTHON)
    ap.add_argument("--no-beam", action="store_true", help="skip the DirectRunner rows")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}; nothing to measure")
        return 0

    import apache_beam as beam
    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from pilewright.schemas.records import Document
    from pilewright.tokenizer.spm import Encoder
    from pilewright.tokenizer.hf import HFEncoder
    from pilewright.tokenizer.spm_train import train_bpe
    from pilewright.tokenizer.hf import HFOptions
    from pilewright.transforms.tokenize.stage import Encode, _EncodeFn

    docs = load_docs(args.corpus, args.mb)
    texts = [d["text"] for d in docs]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"corpus: {args.corpus.name}, {len(texts):,} documents, {mb:.1f} MB of text; one core per row "
          f"(RAYON_NUM_THREADS=1)")

    work = Path(tempfile.mkdtemp(prefix="pilewright-bench-tok-"))
    train_texts = texts[: max(1, len(texts) // 4)]
    t0 = time.perf_counter()
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=32000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok_path = work / "tokenizer.json"
    hf.save(str(tok_path))
    spm_model = train_bpe(train_texts, vocab_size=32000, max_sentences=200_000)
    print(f"trained byte-level BPE 32k and sentencepiece BPE 32k on {len(train_texts):,} documents "
          f"in {time.perf_counter() - t0:.0f} s")
    tok_bytes = tok_path.read_bytes()

    print(f"\n{'measurement':<52} {'CPU-s':>8} {'MB/CPU-s':>10} {'docs/CPU-s':>10}")
    rows = []
    enc = HFEncoder(tok_bytes)
    c, _w, n_tok = cpu(lambda: sum(len(enc.encode(t)) for t in texts))
    rows.append(row("pilewright hf: HFEncoder.encode per document", c, mb, len(texts), f"{n_tok:,} tokens"))
    c, _w, _ = cpu(lambda: [enc.encode_batch(texts[i:i + 1000]) for i in range(0, len(texts), 1000)])
    rows.append(row("pilewright hf: HFEncoder.encode_batch (1,000 docs)", c, mb, len(texts)))
    documents = [Document(id=d["id"], text=d["text"], source="wiki", domain="general", url=None, lang=None,
                          lang_score=None, quality=None, dup_cluster=None, pii_counts=None, n_tokens=None)
                 for d in docs]
    fn = _EncodeFn(HFOptions())
    list(fn.process(documents[0], tok_bytes))  # loads the tokenizer once, as a worker does before its bundles
    c, _w, _ = cpu(lambda: [list(fn.process(d, tok_bytes)) for d in documents])
    rows.append(row("pilewright hf: tokenize stage DoFn body", c, mb, len(texts)))

    if not args.no_beam:
        def hf_stage(p, pc):
            model = p | "Model" >> beam.Create([tok_bytes])
            return (pc | Encode(model, HFOptions(),
                                str(work / "tokens"))).main

        c = beam_cpu(documents, hf_stage)
        rows.append(row("pilewright hf: Encode stage on the DirectRunner", c, mb, len(texts),
                        "(spill included; minus the pipeline without it)"))

    dt = {}
    if args.dt_python.exists():
        (work / "in").mkdir()
        with gzip.open(work / "in" / "docs.jsonl.gz", "wt", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d) + "\n")
        with open(work / "texts.jsonl", "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        script = work / "dt_bench.py"
        script.write_text(DT_SCRIPT)
        proc = subprocess.run([str(args.dt_python), str(script), str(work), str(tok_path)], capture_output=True,
                              text=True, env={**os.environ, "RAYON_NUM_THREADS": "1"})
        if proc.returncode != 0:
            print(f"datatrove run failed: {proc.stderr[-2000:]}")
        else:
            dt = json.loads(proc.stdout.strip().splitlines()[-1])
            step = dt.get("step") or {}
            if step.get("seconds"):
                rows.append(row("datatrove DocumentTokenizer step (its stats)", step["seconds"], mb, len(texts),
                                f"{step.get('tokens') or 0:,} tokens; the step's own time, 1 worker: WALL "
                                f"seconds, not CPU (a loaded machine inflates it)"))
            rows.append(row("datatrove whole run (read JSONL + tokenize + write)", dt["whole_cpu"], mb, len(texts)))
            rows.append(row("datatrove core: tokenizer.encode_batch (10,000)", dt["core_cpu"], mb, len(texts),
                            f"{dt['core_tokens']:,} tokens"))
    else:
        print(f"datatrove virtualenv not found at {args.dt_python}; its rows are skipped")

    sp = spm.SentencePieceProcessor(model_proto=spm_model)
    c, _w, _ = cpu(lambda: [sp.encode(t) for t in texts])
    ceiling = row("sentencepiece ceiling: SentencePieceProcessor.encode", c, mb, len(texts))
    rows.append(ceiling)
    spe = Encoder(spm_model)
    c, _w, _ = cpu(lambda: [spe.encode(t) for t in texts])
    rows.append(row("pilewright spm: Encoder.encode per document", c, mb, len(texts)))
    fn_spm = _EncodeFn()
    list(fn_spm.process(documents[0], spm_model))
    c, _w, _ = cpu(lambda: [list(fn_spm.process(d, spm_model)) for d in documents])
    rows.append(row("pilewright spm: tokenize stage DoFn body", c, mb, len(texts)))
    if not args.no_beam:
        def spm_stage(p, pc):
            model = p | "Model" >> beam.Create([spm_model])
            return (pc | Encode(model, None, str(work / "tokens"))).main

        c = beam_cpu(documents, spm_stage)
        rows.append(row("pilewright spm: Encode stage on the DirectRunner", c, mb, len(texts)))

    import shutil

    shutil.rmtree(work, ignore_errors=True)
    by = {r["name"]: r["mb_per_cpu_s"] for r in rows}
    print("\nratios (MB per CPU-second):")
    hf_dofn = by["pilewright hf: tokenize stage DoFn body"]
    for name in ("datatrove DocumentTokenizer step (its stats)", "datatrove core: tokenizer.encode_batch (10,000)"):
        if name in by:
            print(f"  pilewright hf stage DoFn / {name}: {hf_dofn / by[name]:.2f}x (goal >= 2x)")
    hf_stage = by.get("pilewright hf: Encode stage on the DirectRunner")
    if hf_stage and "datatrove whole run (read JSONL + tokenize + write)" in by:
        # datatrove's step time in its stats is wall-clock; its whole run is CPU, reading and writing included
        print(f"  pilewright hf Encode stage on the DirectRunner / datatrove whole run, CPU-s: "
              f"{hf_stage / by['datatrove whole run (read JSONL + tokenize + write)']:.2f}x (goal >= 2x, issue 29)")
    if hf_stage:
        print(f"  pilewright hf Encode stage on the DirectRunner / HFEncoder.encode_batch (1,000 docs): "
              f"{hf_stage / by['pilewright hf: HFEncoder.encode_batch (1,000 docs)']:.2f}")
    for name in ("pilewright spm: Encoder.encode per document", "pilewright spm: tokenize stage DoFn body",
                 "pilewright spm: Encode stage on the DirectRunner"):
        if name in by:
            print(f"  {name} / sentencepiece ceiling: {by[name] / ceiling['mb_per_cpu_s']:.2f} (goal >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
