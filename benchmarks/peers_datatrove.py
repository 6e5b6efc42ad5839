"""datatrove's side of the benchmark: one step per invocation, run in datatrove's own virtualenv.

    python peers_datatrove.py STEP --input DIR --work DIR [--tasks N --workers 2]

STEP is one of ingest | filter | minhash_sig | minhash_buckets | minhash_cluster | minhash_filter |
train_tok | tokenize | collect. Each reads ``*.jsonl.gz`` from --input (the benchmark corpus, or the output
of the previous step) and writes under --work, so a chain of steps is datatrove's pipeline as its users run
it (MinHash needs four executor runs by design). ``collect`` reads a step's output after the measured run:
kept ids, drop reasons and token counts, into ``summary_<of>.json``.

The steps use datatrove's own defaults where pilewright's config mirrors them: Gopher repetition, Gopher
quality, C4 (``filter_no_terminal_punct=False``, FineWeb's setting) and FineWeb quality filters; MinHash
5-grams, 14 buckets x 8 hashes; a byte-level BPE trained locally with HF ``tokenizers`` (no hub access).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shutil
import sys

GLOB = "*.jsonl.gz"
EOS = "<|endoftext|>"


def _fresh(*paths: str) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


def _executor(pipeline, tasks: int, workers: int, logs: str):
    from datatrove.executor import LocalPipelineExecutor

    _fresh(logs)
    return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=logs)


def _reader(path: str):
    from datatrove.pipeline.readers import JsonlReader

    return JsonlReader(path, glob_pattern=GLOB, text_key="text", id_key="id")


def _writer(path: str):
    from datatrove.pipeline.writers import JsonlWriter

    return JsonlWriter(path)


def _minhash_config():
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    return MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)


def step_ingest(a) -> None:
    out = os.path.join(a.work, "ingest_out")
    _fresh(out)
    _executor([_reader(a.input), _writer(out)], a.tasks, a.workers, os.path.join(a.work, "logs", "ingest")).run()


def step_filter(a) -> None:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    out = os.path.join(a.work, "filter_out")
    _fresh(out)
    _executor(
        [_reader(a.input), GopherRepetitionFilter(), GopherQualityFilter(),
         C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter(), _writer(out)],
        a.tasks, a.workers, os.path.join(a.work, "logs", "filter"),
    ).run()


def step_minhash_sig(a) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    out = os.path.join(a.work, "minhash", "signatures")
    _fresh(out)
    _executor([_reader(a.input), MinhashDedupSignature(output_folder=out, config=_minhash_config())],
              a.tasks, a.workers, os.path.join(a.work, "logs", "minhash_sig")).run()


def step_minhash_buckets(a) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

    cfg = _minhash_config()
    out = os.path.join(a.work, "minhash", "buckets")
    _fresh(out)
    _executor([MinhashDedupBuckets(input_folder=os.path.join(a.work, "minhash", "signatures"),
                                   output_folder=out, config=cfg)],
              cfg.num_buckets, a.workers, os.path.join(a.work, "logs", "minhash_buckets")).run()


def step_minhash_cluster(a) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashDedupCluster

    out = os.path.join(a.work, "minhash", "remove_ids")
    _fresh(out)
    _executor([MinhashDedupCluster(input_folder=os.path.join(a.work, "minhash", "buckets"),
                                   output_folder=out, config=_minhash_config())],
              1, 1, os.path.join(a.work, "logs", "minhash_cluster")).run()


def step_minhash_filter(a) -> None:
    from datatrove.pipeline.dedup.minhash import MinhashDedupFilter

    out = os.path.join(a.work, "dedup_out")
    _fresh(out)
    _executor([_reader(a.input), MinhashDedupFilter(input_folder=os.path.join(a.work, "minhash", "remove_ids")),
               _writer(out)],
              a.tasks, a.workers, os.path.join(a.work, "logs", "minhash_filter")).run()


def _texts(folder: str):
    for path in sorted(glob.glob(os.path.join(folder, GLOB))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]


def step_train_tok(a) -> None:
    """A byte-level BPE of --vocab tokens trained on every input document (no hub download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=a.vocab, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_texts(a.input), trainer=trainer)
    tok.save(os.path.join(a.work, "tokenizer.json"))


def step_tokenize(a) -> None:
    from datatrove.pipeline.tokens import DocumentTokenizer

    out = os.path.join(a.work, "tokens")
    _fresh(out)
    _executor([_reader(a.input),
               DocumentTokenizer(output_folder=out, tokenizer_name_or_path=os.path.join(a.work, "tokenizer.json"),
                                 eos_token=EOS)],
              a.tasks, a.workers, os.path.join(a.work, "logs", "tokenize")).run()


def _stats(logs: str) -> list[dict]:
    path = os.path.join(logs, "stats.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def _total(v):
    return v.get("total") if isinstance(v, dict) else v


def step_collect(a) -> None:
    """Summary of step ``--of``: kept ids (when it writes documents), drop reasons, tokens."""
    logs = os.path.join(a.work, "logs", a.of)
    summary: dict = {"step": a.of}
    reasons: dict[str, int] = {}
    for st in _stats(logs):
        name = st.get("name", "").encode("ascii", "ignore").decode().strip(" -")
        for k, v in (st.get("stats") or {}).items():
            if k.startswith("dropped_"):
                key = f"{name}:{k[len('dropped_'):]}"
                reasons[key] = reasons.get(key, 0) + int(_total(v) or 0)
            elif k == "tokens":
                summary["tokens"] = int(_total(v) or 0)
    summary["reasons"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    out_dir = {"ingest": "ingest_out", "filter": "filter_out", "minhash_filter": "dedup_out"}.get(a.of)
    if out_dir:
        ids = []
        for path in sorted(glob.glob(os.path.join(a.work, out_dir, GLOB))):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                ids.extend(json.loads(line)["id"] for line in f)
        ids.sort()
        with open(os.path.join(a.work, f"kept_{a.of}.txt"), "w") as f:
            f.write("".join(i + "\n" for i in ids))
        summary["docs_out"] = len(ids)
    if a.of == "tokenize":
        summary["tokens_files"] = len(glob.glob(os.path.join(a.work, "tokens", "*.ds")))
        tok_path = os.path.join(a.work, "tokenizer.json")
        if os.path.exists(tok_path):
            from tokenizers import Tokenizer

            summary["vocab_size"] = Tokenizer.from_file(tok_path).get_vocab_size()
    import datatrove

    summary["datatrove_version"] = getattr(datatrove, "__version__", None)
    if summary["datatrove_version"] is None:
        from importlib.metadata import version

        summary["datatrove_version"] = version("datatrove")
    with open(os.path.join(a.work, f"summary_{a.of}.json"), "w") as f:
        json.dump(summary, f, indent=1)


STEPS = {
    "ingest": step_ingest, "filter": step_filter, "minhash_sig": step_minhash_sig,
    "minhash_buckets": step_minhash_buckets, "minhash_cluster": step_minhash_cluster,
    "minhash_filter": step_minhash_filter, "train_tok": step_train_tok, "tokenize": step_tokenize,
    "collect": step_collect,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=sorted(STEPS))
    ap.add_argument("--input", default="")
    ap.add_argument("--work", required=True)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--of", default="", help="collect: the step whose outputs to summarise")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    STEPS[a.step](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
