"""Where each stage's CPU goes on the DirectRunner, beside its ceiling (the library alone, one process).

    nice -n 10 .venv/bin/python benchmarks/profile_stages.py [--mb 10] [--pages 990] [--trafilatura-pages 300]
        [--rounds 3] [--stages ingest,quality,...] [--shared ../shared] [--dt-python PEERS/dt-venv/bin/python]

Every figure is CPU-seconds of this one process (and its extractor child), one core: the tokenizers
library's thread pool is held to one thread, the DirectRunner runs ``in_memory`` with one worker, so Beam's
SDK harness runs in this process too. Each stage is measured ``--rounds`` times, every part in turn, and each
part counts at its lowest (the machine is shared: a part measured while another process held the core reads
high, and the least disturbed run is the closest to the code's own cost). Documents: the first ``--mb`` MB
of Wikipedia from ``../shared/corpora``, and pages of its repacked trafilatura WARC for extract.
``extract_resiliparse_inline`` is the stage with ``timeout_s: 0`` (no child process), to show what the
child's isolation costs a fast extractor.

For each stage, measured separately on the same documents:
- ``library``: the ceiling, the library alone (sentencepiece ``encode``, tokenizers ``encode_batch_fast``
  and each encoding's ``ids``, gzip + orjson, the extractor on each page, the pure rule / signature
  functions) in a plain loop (the extractor in a fresh process of its own, as the stage runs it). The
  libraries hand the ids back as Python lists, and building them is part of any use (``ids`` alone took
  0.3-0.7 CPU-s of tokenizers' 3.6 on 10 MB);
- ``python``: the stage's DoFn body called directly (no runner, set up beforehand) minus the library: the
  Python around the library call;
- ``spill``: writing the stage's spilled payloads to a working folder and reading them back (tokenize: the
  token arrays; dedup and ingest: the documents as JSON);
- ``beam``: the rest of the stage on the DirectRunner: the stage's pipeline minus the same pipeline without
  the stage (an in-process source of the same documents and a count of each output), minus the DoFn body
  and spill: per-element Beam overhead, coders at the stage's own step boundaries, its shuffles;
- ``coders``: one RowCoder encode + decode of every input record, for scale: what one fused-step boundary
  crossed by the documents costs (the in_memory runner encodes only at real boundaries, inside ``beam``);
- ``fixed``: the stage's pipeline over its first document alone, minus the baseline's: DoFn setup, model
  loads, the extractor child's start, per-step costs. A job pays it once per worker, not per byte, so it is
  left out of the per-byte figures; the ceiling's own setup (loading the model) is left out likewise.
The line ends with the stage's MB (or pages) per CPU-s divided by the library's: ``ratio to ceiling``.
With ``--dt-python`` (datatrove's virtualenv), datatrove's ``JsonlReader`` runs over ingest's files too.
Small inputs (under a few MB) are dominated by the fixed cost and the noise of subtracting two pipelines:
the per-byte figures can then come out negative; use 10 MB or more.
"""
from __future__ import annotations

import argparse
import gc
import glob
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers is imported: one core per measurement
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_common_inmemory as mem  # noqa: E402

SHARED = Path(os.environ.get("BENCH_SHARED", HERE.parent.parent / "shared"))
STAGES = ("ingest", "quality", "dedup", "tokenize_spm", "tokenize_hf", "extract_trafilatura", "extract_resiliparse",
          "extract_resiliparse_inline")
PART_TEXT_BYTES = 2_000_000  # as the benchmark corpus (bench_common_corpus): many small files


_CLK = os.sysconf("SC_CLK_TCK")


def _live_children_cpu() -> float:
    """CPU-s of this process's live children (the extractor child, before it is closed and reaped)."""
    total = 0
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[1].decode() == me:
            total += int(fields[11]) + int(fields[12])
    return total / _CLK


def cpu_now() -> float:
    """CPU-s of this process and its children: reaped ones (rusage) and live ones (/proc)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ru.ru_utime + ru.ru_stime + _live_children_cpu()


def fastest(fn: Callable[[], object], repeat: int, prepare: Optional[Callable[[], object]] = None) -> float:
    """CPU-s of the fastest of ``repeat`` calls of ``fn``; ``prepare`` runs before each, untimed."""
    best = None
    for _ in range(repeat):
        if prepare is not None:
            prepare()
        # what the corpus and earlier runs left on the heap is frozen out of the collector's scans: every
        # measurement then pays for its own garbage only, as in a worker holding just its bundle
        gc.collect()
        gc.freeze()
        c0 = cpu_now()
        fn()
        c = cpu_now() - c0
        gc.unfreeze()
        best = c if best is None or c < best else best
    return best


def direct(build: Callable) -> Callable[[], None]:
    """A callable running ``build(p)`` on the DirectRunner, in_memory, one worker."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    opts = PipelineOptions(["--direct_num_workers=1", "--direct_running_mode=in_memory"])

    def run() -> None:
        with beam.Pipeline("DirectRunner", options=opts) as p:
            build(p)

    return run


def count_all(pcolls: dict) -> None:
    import apache_beam as beam

    for name, pc in pcolls.items():
        if pc is not None:
            pc | f"Count[{name}]" >> beam.combiners.Count.Globally()


def body_cpu(make_fn: Callable, elements, repeat: int, *args, warm=None) -> float:
    """CPU-s of a DoFn's body over ``elements`` without a runner: a fresh DoFn each run, set up as a worker
    sets it up (``setup`` and, for a model that loads on first use from a side input, the element ``warm``,
    by default the first), untimed; then one bundle of every element, timed. Setup is in the stage's fixed
    cost instead."""
    live: list = []

    def prepare() -> None:
        while live:
            live.pop().teardown()
        fn = make_fn()
        fn.setup()
        fn.start_bundle()
        for _ in fn.process(elements[0] if warm is None else warm, *args):
            pass
        fn.finish_bundle()
        live.append(fn)

    def run() -> None:
        fn = live[0]
        fn.start_bundle()
        for e in elements:
            for _ in fn.process(e, *args):
                pass
        fn.finish_bundle()

    try:
        return fastest(run, repeat, prepare)
    finally:
        while live:
            live.pop().teardown()


def coder_round_trip(records, record_type) -> Callable[[], None]:
    from apache_beam.coders import registry

    coder = registry.get_coder(record_type)

    def run() -> None:
        for r in records:
            coder.decode(coder.encode(r))

    return run


def spill_round_trip(payloads, folder: str) -> Callable[[], None]:
    from pilewright.transforms.spill import RangeReader, SpillWriter

    def run() -> None:
        w = SpillWriter(folder)
        refs = [w.write(p() if callable(p) else p) for p in payloads]
        w.close()
        r = RangeReader()
        for ref in refs:
            r.read(*ref)
        r.close()
        shutil.rmtree(folder, ignore_errors=True)

    return run


@dataclass
class Profile:
    stage: str
    unit: str  # "MB" or "pages"
    amount: float
    library: float
    body: float
    beam_total: float  # stage pipeline minus the baseline pipeline, minus the fixed cost
    spill: float = 0.0
    coders: float = 0.0
    fixed: float = 0.0
    note: str = ""
    peer: Optional[float] = None  # CPU-s of the peer's same step on the same input (datatrove), when run

    @property
    def ratio(self) -> float:
        return self.library / self.beam_total

    def line(self) -> str:
        python = self.body - self.library
        beam = self.beam_total - self.body - self.spill
        head = f"{self.stage:<26} {self.amount:>6.1f} {self.unit:<5}"
        split = (f"library {self.library:6.2f} s  python {python:+5.2f} s  spill {self.spill:4.2f} s  "
                 f"beam {beam:+5.2f} s  (coders {self.coders:4.2f} s a boundary; fixed {self.fixed:4.2f} s)")
        rates = (f"stage {self.amount / self.beam_total:7.2f} {self.unit}/CPU-s, "
                 f"ceiling {self.amount / self.library:7.2f}")
        return f"{head} | {split} | {rates} | ratio to ceiling {self.ratio:.2f}"


# ---------------------------------------------------------------------------------------------- corpus


def wiki_documents(mb: float):
    from pilewright.schemas.records import Document

    path = SHARED / "corpora" / "general" / "wikipedia_en-00000.jsonl.gz"
    docs, size = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            if not r.get("text"):
                continue
            docs.append(Document(id=f"wiki/{r.get('id', i)}", text=r["text"], source="wiki", domain="general"))
            size += len(r["text"].encode("utf-8"))
            if size >= mb * 1e6:
                break
    return docs, size / 1e6


def web_pages(n: int):
    from pilewright.schemas.config import SourceConfig
    from pilewright.schemas.records import Document
    from pilewright.transforms.ingest.read import read_file
    from pilewright.transforms.ingest.stage import source_spec

    path = str(SHARED / "corpora" / "web_raw" / "repacked_trafilatura_eval_pages.warc.gz")
    spec = source_spec(SourceConfig(name="web", paths=[path], format="warc"))
    pages = []
    with open(path, "rb") as raw:
        for result in read_file(raw, path, "pages.warc.gz", spec):
            result = getattr(result, "result", result)
            if isinstance(result, Document) and result.content_type:
                pages.append(result)
                if len(pages) >= n:
                    break
    return pages


def stage_on_runner(key: str, items: list, record_type, apply: Callable, repeat: int) -> tuple[float, float]:
    """(per-element CPU-s, fixed CPU-s) of a stage on the DirectRunner.

    The pipeline is an in-process source of ``items``, the stage (``apply(p, pcoll)`` returns its outputs),
    and a count of each output; the same pipeline without the stage is subtracted. Fixed: the same
    difference over the first item alone (DoFn setup, model loads, child processes, per-step and per-bundle
    costs), taken out of the per-element figure; a job pays it once per worker, not per byte."""

    def runs(k: str) -> float:
        def build_stage(p):
            count_all(apply(p, p | mem.InMemorySource(k, record_type)))

        def build_base(p):
            count_all({"docs": p | mem.InMemorySource(k, record_type)})

        return fastest(direct(build_stage), repeat) - fastest(direct(build_base), repeat)

    mem.put(key, items)
    mem.put(key + ":one", items[:1])
    fixed = max(0.0, runs(key + ":one"))
    return runs(key) - fixed, fixed


def result_outputs(result) -> dict:
    return {f: getattr(result, f) for f in ("main", "rejected", "errors", "stats", "annotated") if hasattr(result, f)}


# ---------------------------------------------------------------------------------------------- stages


_TRAINED: dict[str, bytes] = {}


def trained_tokenizer(kind: str, texts: list[str]) -> bytes:
    """A 32k BPE model trained once on the first quarter of ``texts``: sentencepiece with pilewright's
    trainer, or a byte-level tokenizer.json; nothing is downloaded."""
    if kind not in _TRAINED:
        train = texts[: max(1, len(texts) // 4)]
        if kind == "spm":
            from pilewright.tokenizer.spm_train import train_bpe

            _TRAINED[kind] = train_bpe(train, vocab_size=32000, max_sentences=200_000)
        else:
            from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            tok.train_from_iterator(train, trainers.BpeTrainer(
                vocab_size=32000, special_tokens=["<|endoftext|>"],
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
            _TRAINED[kind] = tok.to_str().encode("utf-8")
    return _TRAINED[kind]


def profile_tokenize(kind: str, docs, mb: float, repeat: int, work: str) -> Profile:
    import apache_beam as beam

    from pilewright.schemas.records import Document, TokenizedDocument
    from pilewright.tokenizer.hf import HFOptions
    from pilewright.transforms.tokenize.stage import Encode, _EncodeFn

    texts = [d.text for d in docs]
    model = trained_tokenizer(kind, texts)
    if kind == "spm":
        import sentencepiece as spm

        hf = None
        sp = spm.SentencePieceProcessor(model_proto=model)

        def library():
            for t in texts:
                sp.encode(t)
    else:
        from tokenizers import Tokenizer

        hf = HFOptions()
        fresh = Tokenizer.from_str(model.decode("utf-8"))

        def library():  # the library's fastest call (batches, no offsets), the ids taken out as it hands them
            for i in range(0, len(texts), 1000):
                for e in fresh.encode_batch_fast(texts[i:i + 1000], add_special_tokens=False):
                    e.ids  # noqa: B018 - a Python list built from the library's buffer: part of every use

    lib = fastest(library, repeat)
    body = body_cpu(lambda: _EncodeFn(hf), docs, repeat, model)
    fn = _EncodeFn(hf)
    arrays = [o.tokens for d in docs for o in fn.process(d, model) if isinstance(o, TokenizedDocument)]
    spill = fastest(spill_round_trip(arrays, os.path.join(work, "spill")), repeat)
    coders = fastest(coder_round_trip(docs, Document), repeat)

    def apply(p, pc):
        m = p | "Model" >> beam.Create([model])
        return result_outputs(pc | Encode(m, hf, os.path.join(work, "tokens")))

    total, fixed = stage_on_runner("tok", docs, Document, apply, repeat)
    name = "tokenize_spm" if kind == "spm" else "tokenize_hf"
    return Profile(name, "MB", mb, lib, body, total, spill, coders, fixed)


def profile_quality(docs, mb: float, repeat: int) -> Profile:
    from pilewright.schemas.records import Document
    from pilewright.schemas.stages.quality import QualityConfig
    from pilewright.transforms.quality.rules import RuleScorer
    from pilewright.transforms.quality.stage import MAX_BATCH, QualityFilter, _QualityBatchFn
    from pilewright.transforms.stage import PerSource

    cfg = QualityConfig(rules=["gopher_repetition", "gopher_quality", "c4", "fineweb"])
    texts = [d.text for d in docs]
    scorers: list = []

    def new_scorer():  # a fresh scorer each run: the stage's worker starts with an empty word memo
        scorers[:] = [RuleScorer(cfg)]

    def library():
        for i in range(0, len(texts), MAX_BATCH):
            scorers[0].score_batch(texts[i:i + MAX_BATCH])

    lib = fastest(library, repeat, new_scorer)
    batches = [docs[i:i + MAX_BATCH] for i in range(0, len(docs), MAX_BATCH)]
    # warmed on a batch of one document: a whole batch would fill the word memo before the timed run
    body = body_cpu(lambda: _QualityBatchFn(PerSource(cfg)), batches, repeat, warm=docs[:1])
    coders = fastest(coder_round_trip(docs, Document), repeat)
    total, fixed = stage_on_runner(
        "quality", docs, Document, lambda p, pc: result_outputs(pc | QualityFilter(cfg)), repeat)
    return Profile("quality", "MB", mb, lib, body, total, 0.0, coders, fixed,
                   note="library: the rule functions (RuleScorer.score_batch, 1,000 a batch)")


def profile_dedup(docs, mb: float, repeat: int, work: str) -> Profile:
    from pilewright.schemas.records import Document
    from pilewright.schemas.stages.dedup import DedupConfig
    from pilewright.transforms import spill as spillmod
    from pilewright.transforms.dedup.exact import exact_key
    from pilewright.transforms.dedup.minhash import Bander, MinHasher
    from pilewright.transforms.dedup.stage import Dedup, _SignFn

    cfg = DedupConfig.model_validate({"exact": True, "minhash": {"ngram": 5, "bands": 14, "rows": 8}})
    mh = cfg.minhash
    seed = 1234
    hasher = MinHasher(mh.num_perm, mh.ngram, mh.unit, seed)
    bander = Bander(mh.bands, mh.rows, seed)

    def library():
        for d in docs:
            exact_key(d.text, cfg.exact_normalization, "")
            sig = hasher.signature(d.text)
            if sig is not None:
                bander.keys(sig, 0)

    lib = fastest(library, repeat)
    body = body_cpu(lambda: _SignFn(cfg, seed), docs, repeat)
    spill = fastest(spill_round_trip([(lambda d=d: spillmod.dumps(d)) for d in docs], os.path.join(work, "spill")),
                    repeat)
    coders = fastest(coder_round_trip(docs, Document), repeat)
    total, fixed = stage_on_runner("dedup", docs, Document, lambda p, pc: result_outputs(
        pc | Dedup(cfg, seed=seed, work_dir=os.path.join(work, "dedup"))), repeat)
    return Profile("dedup", "MB", mb, lib, body, total, spill, coders, fixed,
                   note="library: exact key + MinHash signature + band keys; beam: its shuffles and components")


# datatrove's JsonlReader over the same files, in its own virtualenv: the loop over its documents alone
# (imports and the reader's construction untimed), fastest of ``repeat``
DT_READER = r'''
import gc, sys, time
from datatrove.pipeline.readers import JsonlReader
folder, repeat = sys.argv[1], int(sys.argv[2])
best = None
for _ in range(repeat):
    reader = JsonlReader(folder, glob_pattern="*.jsonl.gz", text_key="text", id_key="id")
    gc.collect()
    c0 = time.process_time()
    n = sum(len(d.text) for d in reader.run(rank=0, world_size=1))
    c = time.process_time() - c0
    best = c if best is None else min(best, c)
print(best)
'''
DT_PYTHON: Optional[Path] = None  # --dt-python


def datatrove_reader_cpu(folder: str, repeat: int) -> Optional[float]:
    if DT_PYTHON is None or not DT_PYTHON.exists():
        return None
    out = subprocess.run([str(DT_PYTHON), "-c", DT_READER, folder, str(repeat)], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"datatrove reader failed: {out.stderr[-500:]}", flush=True)
        return None
    return float(out.stdout.strip().splitlines()[-1])


def profile_ingest(docs, mb: float, repeat: int, work: str) -> Profile:
    import apache_beam as beam
    import orjson

    from pilewright.schemas.config import SourceConfig
    from pilewright.schemas.records import Document
    from pilewright.transforms import spill as spillmod
    from pilewright.transforms.ingest.stage import ReadSources, _ReadFileFn, source_spec

    def write_parts(folder: str, some) -> SourceConfig:
        os.makedirs(folder, exist_ok=True)
        files, part, size = [], [], 0
        for i, d in enumerate(some):  # as the benchmark corpus holds them: gzip JSONL parts of ~2 MB of text
            part.append(json.dumps({"id": d.id.split("/", 1)[1], "text": d.text}))
            size += len(d.text.encode("utf-8"))
            if size >= PART_TEXT_BYTES or i == len(some) - 1:
                path = os.path.join(folder, f"part-{len(files):05d}.jsonl.gz")
                with gzip.open(path, "wt", encoding="utf-8") as f:
                    f.write("\n".join(part) + "\n")
                files.append(path)
                part, size = [], 0
        return SourceConfig(name="wiki", paths=[os.path.join(folder, "*.jsonl.gz")], format="jsonl")

    source = write_parts(os.path.join(work, "ingest_in"), docs)
    one = write_parts(os.path.join(work, "ingest_one"), docs[:1])
    files = sorted(glob.glob(source.paths[0]))

    def library():
        for path in files:
            with gzip.open(path, "rb") as f:
                for line in f:
                    orjson.loads(line)["text"].encode("utf-8", "surrogatepass")

    lib = fastest(library, repeat)
    items = [("wiki", source.paths[0], path) for path in files]
    body = body_cpu(lambda: _ReadFileFn({"wiki": source_spec(source)}), items, repeat)
    spill = fastest(spill_round_trip([(lambda d=d: spillmod.dumps(d)) for d in docs], os.path.join(work, "spill")),
                    repeat)
    coders = fastest(coder_round_trip(docs, Document), repeat)

    def runs(src: SourceConfig) -> float:
        stage = fastest(direct(lambda p: count_all(result_outputs(
            p | ReadSources([src], work_dir=os.path.join(work, "ingest_spill"))))), repeat)
        return stage - fastest(direct(lambda p: count_all({"one": p | beam.Create([0])})), repeat)

    fixed = max(0.0, runs(one))
    total = runs(source) - fixed
    peer = datatrove_reader_cpu(os.path.dirname(source.paths[0]), repeat)
    return Profile("ingest", "MB", mb, lib, body, total, spill, coders, fixed, peer=peer,
                   note="library: gzip + orjson of the same files; spill: the documents' round trip of the "
                        "unique-id step")


# the extractor alone in a fresh process (as the stage's child runs it): measured in this process, whose heap
# holds the corpus and Beam, trafilatura ran ~40% slower than in a fresh one, which is no fair ceiling
EXTRACT_CEILING = r'''
import gc, json, sys, time
from pilewright.transforms.extract.extractors import extract_text
name, options, path, repeat = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
pages = [json.loads(line) for line in open(path, encoding="utf-8")]
extract_text(pages[0][0], name, options, pages[0][1])  # imports and first-call caches
best = None
for _ in range(repeat):
    gc.collect()
    c0 = time.process_time()
    for html, url in pages:
        extract_text(html, name, options, url)
    c = time.process_time() - c0
    best = c if best is None else min(best, c)
print(best)
'''


def extract_ceiling(name: str, options: dict, pages, repeat: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for d in pages:
            f.write(json.dumps([d.text, d.url]) + "\n")
    try:
        out = subprocess.run([sys.executable, "-c", EXTRACT_CEILING, name, json.dumps(options), f.name, str(repeat)],
                             capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    return float(out.stdout.strip().splitlines()[-1])


def profile_extract(extractor: str, pages, repeat: int, timeout_s: Optional[float] = None) -> Profile:
    from pilewright.schemas.records import Document
    from pilewright.schemas.stages.extract import ExtractConfig
    from pilewright.transforms.extract.extractors import extractor_call
    from pilewright.transforms.extract.stage import Extract, _ExtractFn

    cfg = ExtractConfig(extractor=extractor, **({} if timeout_s is None else {"timeout_s": timeout_s}))
    name, options = extractor_call(cfg)
    lib = extract_ceiling(name, options, pages, repeat)
    body = body_cpu(lambda: _ExtractFn(cfg), pages, repeat)
    coders = fastest(coder_round_trip(pages, Document), repeat)
    total, fixed = stage_on_runner(f"pages:{extractor}", pages, Document,
                                   lambda p, pc: result_outputs(pc | Extract(cfg)), repeat)
    inline = cfg.timeout_s == 0
    return Profile(f"extract_{extractor}" + ("_inline" if inline else ""), "pages", len(pages), lib, body, total,
                   0.0, coders, fixed,
                   note="timeout_s: 0, the extractor in the worker thread" if inline else
                   "a child process per worker (timeout_s > 0); fixed: its start")


def best_of(profiles: list[Profile]) -> Profile:
    """Each figure at its lowest over the rounds: the least disturbed measurement of each part."""
    first = profiles[0]
    low = {f: min(getattr(p, f) for p in profiles)
           for f in ("library", "body", "beam_total", "spill", "coders", "fixed")}
    peers = [p.peer for p in profiles if p.peer is not None]
    return Profile(first.stage, first.unit, first.amount, note=first.note, peer=min(peers) if peers else None,
                   **low)


def profile_stage(s: str, docs, mb: float, pages, tf_pages, work: str) -> Profile:
    if s == "ingest":
        return profile_ingest(docs, mb, 1, work)
    if s == "quality":
        return profile_quality(docs, mb, 1)
    if s == "dedup":
        return profile_dedup(docs, mb, 1, work)
    if s.startswith("tokenize_"):
        return profile_tokenize(s.split("_", 1)[1], docs, mb, 1, work)
    if s == "extract_trafilatura":
        return profile_extract("trafilatura", tf_pages, 1)
    if s == "extract_resiliparse":
        return profile_extract("resiliparse", pages, 1)
    return profile_extract("resiliparse", pages, 1, timeout_s=0)


def main(argv: Optional[list] = None) -> int:
    global SHARED, DT_PYTHON
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0, help="MB of text for the text stages")
    ap.add_argument("--pages", type=int, default=990, help="WARC pages for Resiliparse")
    ap.add_argument("--trafilatura-pages", type=int, default=300, help="WARC pages for trafilatura (~25 ms a page)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="each stage is measured this many times, all its parts in turn; each part's lowest counts")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--dt-python", type=Path, default=None,
                    help="datatrove's virtualenv python: its JsonlReader beside ingest")
    args = ap.parse_args(argv)
    SHARED = args.shared
    DT_PYTHON = args.dt_python
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        ap.error(f"unknown stages {unknown}; choose from {','.join(STAGES)}")
    if not (SHARED / "corpora").exists():
        print(f"corpora not found under {SHARED}; nothing to measure")
        return 0

    work = tempfile.mkdtemp(prefix="pilewright-profile-")
    profiles = []
    try:
        docs, mb = wiki_documents(args.mb) if any(not s.startswith("extract") for s in stages) else ([], 0.0)
        if docs:
            print(f"text stages: {len(docs):,} Wikipedia documents, {mb:.1f} MB of text", flush=True)
        pages = web_pages(args.pages) if any(s.startswith("extract") for s in stages) else []
        if pages:
            print(f"extract: {len(pages)} HTML pages of the repacked trafilatura WARC "
                  f"({min(len(pages), args.trafilatura_pages)} for trafilatura)", flush=True)
        print(f"each part: the lowest of {args.rounds} rounds; CPU-s of one core; DirectRunner in_memory, one "
              f"worker\n", flush=True)
        for s in stages:
            p = best_of([profile_stage(s, docs, mb, pages, pages[:args.trafilatura_pages], work)
                         for _ in range(args.rounds)])
            profiles.append(p)
            print(p.line(), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in profiles:
        if p.peer:
            print(f"\n{p.stage}: datatrove's JsonlReader on the same files (its loop alone) "
                  f"{p.amount / p.peer:.2f} MB/CPU-s; pilewright's stage / datatrove's reader, MB per CPU-s: "
                  f"{p.peer / p.beam_total:.2f}x per byte, {p.peer / (p.beam_total + p.fixed):.2f}x with the "
                  f"stage's fixed cost on these {p.amount:.0f} MB (goal >= 2x)")
    notes = [p for p in profiles if p.note]
    if notes:
        print("\nnotes:")
        for p in notes:
            print(f"  {p.stage:<28} {p.note}")
    print("\nratio to ceiling: the stage's throughput on the DirectRunner / the library's alone (goal >= 0.9)")
    for p in profiles:
        print(f"  {p.stage:<28} {p.ratio:.2f}{'' if p.ratio >= 0.9 else '  (below 0.9)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
