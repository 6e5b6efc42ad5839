"""Building and running the whole job from a loaded config."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from pilewright.pipeline.audit_counts import WriteAudit
from pilewright.pipeline.audit_profile import CuratedProfile, DroppedSamples
from pilewright.pipeline.config import LoadedConfig, check_inputs_exist
from pilewright.pipeline.dataflow import prepare_for_runner
from pilewright.pipeline.manifest import WriteManifest
from pilewright.pipeline.options import pipeline_options
from pilewright.pipeline.outputs import WriteDeadLetters, WriteDocuments, WriteRejected
from pilewright.pipeline.progress import SHARDS_KEY, CountFn, ProgressView, ProgressWatch
from pilewright.pipeline.report import write_report
from pilewright.pipeline.stage_timing import stage_seconds
from pilewright.pipeline.stages import curation_stages
from pilewright.tokenizer.encode import model_info
from pilewright.tokenizer.hf import hf_info
from pilewright.transforms.common import METRICS_NAMESPACE, StageResult, sum_pairs
from pilewright.transforms.ingest import ReadSources
from pilewright.transforms.mix import MixDomains
from pilewright.transforms.shard import WriteShards
from pilewright.transforms.tokenize import Encode, LoadHFTokenizer, LoadTokenizer, TrainTokenizer

# what a run writes under OUT; removed before a new run so no stale shard survives
MANAGED_OUTPUTS = ("tokens", "documents", "rejected", "dead_letter", "audit", "tokenizer", "manifest.json")


@dataclass
class JobResult:
    out_dir: str
    audit: dict
    manifest: dict
    seconds: float
    telemetry: dict = field(default_factory=dict)



def build_pipeline(
    p: beam.Pipeline, loaded: LoadedConfig, out_dir: str, progress_dir: Optional[str] = None
) -> list[str]:
    """Adds the whole flow to ``p``: ingest -> curation stages -> tokenize -> shards, plus side outputs.

    ``progress_dir``: a progress channel folder (``pipeline.progress``) the workers report to, or None.
    Returns the audited stage names in flow order.
    """
    cfg = loaded.resolved
    seed = cfg.run.seed
    results: list[tuple[str, StageResult]] = []

    ingest = p | "Ingest" >> ReadSources(cfg.sources)
    results.append(("ingest", ingest))
    docs = ingest.main
    for name, transform in curation_stages(cfg):
        stage = docs | f"Stage[{name}]" >> transform
        results.append((name, stage))
        docs = stage.main

    model_dir = FileSystems.join(out_dir, "tokenizer")
    hf = None
    if cfg.tokenizer.hf:
        hf = {"eos_token": cfg.tokenizer.eos_token, "bos_token": cfg.tokenizer.bos_token, "add_bos": cfg.tokenizer.bos}
        model = p | "LoadTokenizer" >> LoadHFTokenizer(cfg.tokenizer.hf, model_dir)
        tokenizer_info = model | "TokenizerInfo" >> beam.Map(lambda data: hf_info(data, **hf))
    else:
        if cfg.tokenizer.model:
            model = p | "LoadTokenizer" >> LoadTokenizer(cfg.tokenizer.model, model_dir)
        else:
            model = docs | "TrainTokenizer" >> TrainTokenizer(cfg.tokenizer.train, seed, model_dir)
        tokenizer_info = model | "TokenizerInfo" >> beam.Map(model_info)

    encode = Encode(model, hf)
    tokenized = docs | "Tokenize" >> encode
    results.append(("tokenize", tokenized))
    tokens = tokenized.main
    shard_input, mix_report = tokens, None
    if cfg.mix is not None and cfg.mix.enabled:
        # mix repeats/subsamples by token budget and supplies the stratified order keys the shards follow
        mix = MixDomains(cfg.mix, cfg.sources, seed)
        results.append(("mix", tokens | "Mix" >> mix))
        tokens, shard_input, mix_report = mix.mixed, mix.keyed, mix.report

    shard_infos = shard_input | "Shard" >> WriteShards(
        out_dir, tokenizer_info, seed, cfg.shards.tokens_per_shard, cfg.shards.num_shards,
        prekeyed=mix_report is not None, megatron=cfg.shards.format == "both",
    )
    tokens_by = (
        tokens
        | "TokensBy" >> beam.FlatMap(
            lambda t: [(f"source:{t.source}", (1, t.n_tokens)), (f"domain:{t.domain}", (1, t.n_tokens))]
        )
        | "SumTokensBy" >> beam.CombinePerKey(sum_pairs)
    )
    shard_infos | "Manifest" >> WriteManifest(
        out_dir, tokenizer_info, tokens_by, loaded.written.model_dump(mode="json"), loaded.sha256, seed,
        extra=mix_report,
    )

    encode.annotated | "WriteDocuments" >> WriteDocuments(out_dir)
    rejected = [r.rejected for _, r in results] | "AllRejected" >> beam.Flatten()
    errors = [r.errors for _, r in results] | "AllErrors" >> beam.Flatten()
    pii_cfg = getattr(cfg.stages, "pii", None)
    if pii_cfg is not None and pii_cfg.enabled:
        # a value planted in a document dropped before the pii stage must not reach OUT/rejected either
        from pilewright.transforms.pii import RedactRecords

        rejected = rejected | "RedactRejected" >> RedactRecords(pii_cfg)
        errors = errors | "RedactErrors" >> RedactRecords(pii_cfg)
    rejected | "WriteRejected" >> WriteRejected(out_dir)
    errors | "WriteDeadLetters" >> WriteDeadLetters(out_dir)

    # samples are taken after redaction: the audit must not leak what OUT/rejected does not hold
    audit_extras = (
        rejected | "DroppedSamples" >> DroppedSamples(errors, seed),
        encode.annotated | "CuratedProfile" >> CuratedProfile(seed),
    ) | "AuditExtras" >> beam.Flatten()
    if progress_dir is not None:
        shard_infos | "ProgressShards" >> beam.ParDo(CountFn(progress_dir, SHARDS_KEY))

    domains = {s.name: s.domain for s in cfg.sources}
    p | "Audit" >> WriteAudit(
        results, domains, FileSystems.join(out_dir, "audit", "audit.json"), extra=audit_extras,
        progress_dir=progress_dir,
    )
    return [name for name, _ in results]


def prepare_output(out_dir: str) -> None:
    """Removes what an earlier run wrote under OUT (only pilewright's own outputs)."""
    existing = [FileSystems.join(out_dir, name) for name in MANAGED_OUTPUTS]
    existing = [path for path in existing if FileSystems.exists(path)]
    if existing:
        FileSystems.delete(existing)


def _dist(result) -> dict:
    return {"count": result.count, "sum": result.sum, "min": result.min, "max": result.max,
            "mean": result.mean if result.count else None}


def telemetry(run_result) -> dict:
    """Beam counters and distributions: shown beside the exact counts, never instead of them."""
    try:
        q = run_result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except Exception:  # some runners cannot report metrics
        return {}
    out: dict = {}
    for c in q.get("counters", []):
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + (value or 0)
    for d in q.get("distributions", []):
        value = d.committed if d.committed is not None else d.attempted
        if value is not None:
            out[d.key.metric.name] = _dist(value)
    return dict(sorted(out.items()))


def _read_json(path: str) -> dict:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return json.loads(f.read().decode("utf-8"))


def _write_json(doc: dict, path: str) -> None:
    with FileSystems.create(path) as f:
        f.write((json.dumps(doc, indent=2) + "\n").encode("utf-8"))


def output_dir(loaded: LoadedConfig, override: Optional[str]) -> str:
    out = override or loaded.resolved.run.output
    return out if "://" in out else os.path.abspath(out)


def run_job(
    loaded: LoadedConfig,
    beam_args: Sequence[str] = (),
    out_dir: Optional[str] = None,
    progress: Optional[Callable[[ProgressView], None]] = None,
) -> JobResult:
    """Runs the job to completion and returns the audit and manifest it wrote.

    ``progress(view)`` is called about twice a second from a monitor thread while the job runs (and once
    at the end); None runs the job without the progress channel.
    """
    out = output_dir(loaded, out_dir)
    check_inputs_exist(loaded.resolved, loaded.written)
    options = pipeline_options(beam_args)
    # remote workers read the embedded sample from their installed package, never this machine's paths
    loaded = prepare_for_runner(loaded, beam_args, out)
    # --dry_run (Dataflow) builds and validates the job without running it: nothing may be deleted
    dry_run = bool(options.get_all_options().get("dry_run"))
    if not dry_run:
        prepare_output(out)
    started = time.monotonic()
    p = beam.Pipeline(options=options)
    watch = ProgressWatch(progress) if progress is not None else None
    try:
        order = build_pipeline(p, loaded, out, progress_dir=watch.dir if watch else None)
        if watch:
            watch.start(order)
        run_result = p.run()
        run_result.wait_until_finish()
    finally:
        if watch:
            watch.close(finished=sys.exc_info()[0] is None)
    seconds = time.monotonic() - started
    if dry_run:
        return JobResult(out, {}, {}, seconds)
    tel = telemetry(run_result)
    audit_path = FileSystems.join(out, "audit", "audit.json")
    audit = _read_json(audit_path)
    audit["telemetry"] = tel
    audit["run"] = {"seconds": round(seconds, 3), "beam_args": list(beam_args),
                    "stage_seconds": stage_seconds(run_result)}
    _write_json(audit, audit_path)
    write_report(out)
    manifest = _read_json(FileSystems.join(out, "manifest.json"))
    return JobResult(out, audit, manifest, seconds, tel)
