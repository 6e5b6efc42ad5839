"""pilewright's side of the benchmark, run in pilewright's own virtualenv as a child process.

    python bench_common_pilewright.py schema
    python bench_common_pilewright.py stage --config CFG --output OUT [beam options]
    python bench_common_pilewright.py collect --output OUT --ids IDS.txt --summary SUMMARY.json

``stage`` runs the real transforms of one stage the way ``pipeline.build`` wires them (ingest ->
``curation_stages(cfg)`` -> the documents/rejected/dead-letter sinks) but without the tokenizer, so a stage
row compares with the peer's reader -> step -> writer. The whole pipeline and the tokenization row use
``pilewright run`` itself. ``collect`` reads what a run wrote (kept ids, token totals, reasons) after the
measured process has exited, so reading the results is never part of a measured time.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time


def cmd_schema(_args, _rest) -> int:
    """Prints which stages this checkout builds and each one's config fields with their defaults."""
    from pilewright.schemas import config as cfgmod

    fields = cfgmod.StagesConfig.model_fields
    built = {}
    for name, info in fields.items():
        ann = info.annotation
        model = None
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, cfgmod.Frozen):
                model = cand
        if model is None:
            continue
        try:
            defaults = model().model_dump(mode="json")
        except Exception:  # a block with required fields: list the field names only
            defaults = {k: None for k in model.model_fields}
        built[name] = defaults
    out = {"built": built, "not_built": sorted(getattr(cfgmod, "NOT_YET_BUILT_STAGES", ()))}
    print(json.dumps(out))
    return 0


def cmd_stage(args, beam_args) -> int:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from pilewright.pipeline.job.build import prepare_output
    from pilewright.pipeline.job.config import load_config
    from pilewright.pipeline.job.options import pipeline_options
    from pilewright.pipeline.job.outputs import WriteDeadLetters, WriteDocuments, WriteRejected
    from pilewright.pipeline.job.stages import curation_stages
    from pilewright.transforms.ingest.stage import ReadSources

    loaded = load_config(args.config)
    cfg = loaded.resolved
    out = os.path.abspath(args.output)
    prepare_output(out)
    started = time.monotonic()
    with beam.Pipeline(options=pipeline_options(beam_args)) as p:
        ingest = p | "Ingest" >> ReadSources(cfg.sources)
        results = [ingest]
        docs = ingest.main
        for name, transform in curation_stages(cfg):
            stage = docs | f"Stage[{name}]" >> transform
            results.append(stage)
            docs = stage.main
        docs | "WriteDocuments" >> WriteDocuments(out)
        [r.rejected for r in results] | "AllRejected" >> beam.Flatten() | "WriteRejected" >> WriteRejected(out)
        [r.errors for r in results] | "AllErrors" >> beam.Flatten() | "WriteDeadLetters" >> WriteDeadLetters(out)
    with FileSystems.create(FileSystems.join(out, "stage_run.json")) as f:
        f.write(json.dumps({"seconds": round(time.monotonic() - started, 3), "beam_args": beam_args}).encode())
    return 0


def _parquet_column(pattern: str, column: str) -> list:
    import pyarrow.parquet as pq

    values: list = []
    for path in sorted(glob.glob(pattern)):
        values.extend(pq.read_table(path, columns=[column]).column(column).to_pylist())
    return values


def cmd_collect(args, _rest) -> int:
    """Kept ids (source prefix stripped: the corpus ids), rejection reasons, tokens, dead letters."""
    out = args.output
    ids = _parquet_column(os.path.join(out, "documents", "*.parquet"), "id")
    reasons = _parquet_column(os.path.join(out, "rejected", "*.parquet"), "reason")
    stages = _parquet_column(os.path.join(out, "rejected", "*.parquet"), "stage")
    dead = 0
    for path in glob.glob(os.path.join(out, "dead_letter", "*.jsonl")):
        with open(path, "rb") as f:
            dead += sum(1 for line in f if line.strip())
    # pilewright ids are "<source>/<id from the data>"; the corpus ids carry no slash before that
    corpus_ids = sorted(i.split("/", 1)[1] if "/" in i else i for i in ids)
    with open(args.ids, "w") as f:
        f.write("".join(i + "\n" for i in corpus_ids))
    by_reason: dict[str, int] = {}
    for stage, reason in zip(stages, reasons):
        key = f"{stage}:{reason}"
        by_reason[key] = by_reason.get(key, 0) + 1
    summary = {"docs_out": len(ids), "rejected": len(reasons), "dead_letters": dead,
               "reasons": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0])))}
    manifest = os.path.join(out, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            m = json.load(f)
        summary["tokens"] = m.get("total_tokens")
        summary["token_docs"] = m.get("total_docs")
        summary["num_shards"] = m.get("num_shards")
        summary["vocab_size"] = (m.get("tokenizer") or {}).get("vocab_size")
    audit = os.path.join(out, "audit", "audit.json")
    if os.path.exists(audit):
        with open(audit) as f:
            a = json.load(f)
        summary["audit_stages"] = [{k: s.get(k) for k in ("name", "in", "kept", "rejected", "errors")}
                                   for s in a.get("stages", [])]
        summary["run_seconds"] = (a.get("run") or {}).get("seconds")
    with open(args.summary, "w") as f:
        json.dump(summary, f, indent=1)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("schema").set_defaults(func=cmd_schema)
    st = sub.add_parser("stage")
    st.add_argument("--config", required=True)
    st.add_argument("--output", required=True)
    st.set_defaults(func=cmd_stage)
    co = sub.add_parser("collect")
    co.add_argument("--output", required=True)
    co.add_argument("--ids", required=True)
    co.add_argument("--summary", required=True)
    co.set_defaults(func=cmd_collect)
    args, rest = parser.parse_known_args(argv)
    import logging

    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    return args.func(args, rest)


if __name__ == "__main__":
    sys.exit(main())
