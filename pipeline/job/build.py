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

from pilewright.pipeline.job.audit_counts import WriteAudit
from pilewright.pipeline.audit.profile import CuratedProfile, DroppedSamples
from pilewright.pipeline.job.config import LoadedConfig, check_inputs_exist
from pilewright.pipeline.job.remote import prepare_for_runner
from pilewright.pipeline.job.manifest import WriteManifest, source_profiles_section
from pilewright.pipeline.job.options import pipeline_options
from pilewright.pipeline.job.resume import (
    Checkpoint,
    fingerprint,
    input_manifest,
    read_checkpoint,
    remove_work,
    usable_checkpoint,
    write_curated,
    write_marker,
)
from pilewright.pipeline.job.outputs import WriteDeadLetters, WriteDocuments, WriteRejected
from pilewright.pipeline.job.signals import WriteSignals
from pilewright.pipeline.job.fingerprint import inputs_section
from pilewright.pipeline.audit.progress import SHARDS_KEY, CountFn, ProgressView, ProgressWatch
from pilewright.pipeline.audit.report import write_report
from pilewright.pipeline.audit.summary import load_run_files
from pilewright.pipeline.job.stage_timing import stage_seconds
from pilewright.pipeline.job.stages import curation_stages, side_output_hooks
from pilewright.pipeline.job import steps
from pilewright.schemas import layout
from pilewright.schemas.audit import RunFacts
from pilewright.schemas.errors import UserError
from pilewright.tokenizer.spm import model_info
from pilewright.tokenizer.hf import hf_info
from pilewright.transforms.stage import METRICS_NAMESPACE, StageResult, sum_pairs
from pilewright.transforms.ingest.stage import ReadSources
from pilewright.transforms.mix.stage import MixDomains
from pilewright.transforms.shard.stage import WriteShards
from pilewright.transforms.spill import SpillDocumentsFn, iter_documents, remove_work_dir
from pilewright.schemas.records import Document
from pilewright.transforms.tokenize.stage import Encode, LoadHFTokenizer, LoadTokenizer, TrainTokenizer

MANAGED_OUTPUTS = layout.MANAGED


@dataclass
class JobResult:
    out_dir: str
    audit: dict
    manifest: dict
    seconds: float
    telemetry: dict = field(default_factory=dict)



def curate(p: beam.Pipeline, cfg, out_dir: str) -> tuple[list[tuple[str, StageResult]], beam.PCollection]:
    """Ingest and the curation stages: their results in flow order, and the curated documents."""
    results: list[tuple[str, StageResult]] = []
    work = FileSystems.join(out_dir, *layout.SPILL.split("/"))
    ingest = p | steps.INGEST >> ReadSources(cfg.sources, cfg.policy.duplicate_ids, cfg.policy.invalid_text,
                                         work_dir=FileSystems.join(work, "ingest"))
    results.append(("ingest", ingest))
    docs = ingest.main
    for name, transform in curation_stages(cfg, work):
        stage = docs | steps.stage_step(name) >> transform
        results.append((name, stage))
        docs = stage.main
    return results, docs


def build_curate_pipeline(p: beam.Pipeline, loaded: LoadedConfig, out_dir: str) -> list[str]:
    """``run --resume``, phase 1: ingest and curation, written under OUT/.work (``pipeline.job.resume``)."""
    results, docs = curate(p, loaded.resolved, out_dir)
    write_curated(p, results, docs, side_output_hooks(loaded.resolved), out_dir)
    return [name for name, _ in results]


def build_pipeline(
    p: beam.Pipeline, loaded: LoadedConfig, out_dir: str, progress_dir: Optional[str] = None,
    checkpoint: Optional[Checkpoint] = None,
) -> list[str]:
    """Adds the whole flow to ``p``: ingest -> curation stages -> tokenize -> shards, plus side outputs.

    ``progress_dir``: a progress channel folder (``pipeline.progress``) the workers report to, or None.
    ``checkpoint``: a completed phase 1 of ``run --resume``, read instead of ingest and curation.
    Returns the audited stage names in flow order.
    """
    cfg = loaded.resolved
    seed = cfg.run.seed
    carried = None
    work = FileSystems.join(out_dir, *layout.SPILL.split("/"))
    if checkpoint is None:
        results, docs = curate(p, cfg, out_dir)
    else:
        carried = read_checkpoint(p, checkpoint)
        results, docs = [], carried.docs

    model_dir = FileSystems.join(out_dir, "tokenizer")
    hf = None
    if cfg.tokenizer.hf:
        hf = {"eos_token": cfg.tokenizer.eos_token, "bos_token": cfg.tokenizer.bos_token, "add_bos": cfg.tokenizer.bos}
        model = p | steps.LOAD_TOKENIZER >> LoadHFTokenizer(cfg.tokenizer.hf, model_dir)
        tokenizer_info = model | steps.TOKENIZER_INFO >> beam.Map(lambda data: hf_info(data, **hf))
    else:
        if cfg.tokenizer.model:
            model = p | steps.LOAD_TOKENIZER >> LoadTokenizer(cfg.tokenizer.model, model_dir)
        else:
            model = docs | steps.TRAIN_TOKENIZER >> TrainTokenizer(
                cfg.tokenizer.train, seed, model_dir, FileSystems.join(work, "tokenizer")
            )
            # the encoder waits for the model, which waits for every document: the curated documents
            # wait on disk (one reference per bundle crosses the barrier), not in a runner's buffers
            docs = (
                docs
                | steps.SPILL_CURATED >> beam.ParDo(SpillDocumentsFn(FileSystems.join(work, "curated")))
                | steps.READ_CURATED >> beam.FlatMap(iter_documents).with_output_types(Document)
            )
        tokenizer_info = model | steps.TOKENIZER_INFO >> beam.Map(model_info)

    tokenized = docs | steps.TOKENIZE >> Encode(model, hf, FileSystems.join(work, "tokens"))
    results.append(("tokenize", tokenized))
    tokens = tokenized.main
    shard_input, mix_report = tokens, None
    if cfg.mix is not None and cfg.mix.enabled:
        # mix repeats/subsamples by token budget and supplies the stratified order keys the shards follow
        mix = tokens | steps.MIX >> MixDomains(cfg.mix, cfg.sources, seed)
        results.append(("mix", mix))
        tokens, shard_input, mix_report = mix.mixed, mix.keyed, mix.report

    shard_infos = shard_input | steps.SHARD >> WriteShards(
        out_dir, tokenizer_info, seed, cfg.shards.tokens_per_shard, cfg.shards.num_shards,
        prekeyed=mix_report is not None, megatron=cfg.shards.format == "both",
    )
    tokens_by = (
        tokens
        | steps.TOKENS_BY >> beam.FlatMap(
            lambda t: [(("source", t.source), (1, t.n_tokens)), (("domain", t.domain), (1, t.n_tokens))]
        )
        | steps.SUM_TOKENS_BY >> beam.CombinePerKey(sum_pairs)
    )
    shard_infos | steps.MANIFEST >> WriteManifest(
        out_dir, tokenizer_info, tokens_by, loaded.written.model_dump(mode="json"), loaded.sha256, seed,
        extra=mix_report, sections=_manifest_sections(cfg),
    )

    tokenized.annotated | "WriteDocuments" >> WriteDocuments(out_dir)
    rejected = [r.rejected for _, r in results] | "AllRejected" >> beam.Flatten()
    errors = [r.errors for _, r in results] | "AllErrors" >> beam.Flatten()
    for name, hook in side_output_hooks(cfg):
        # pii: a value planted in a document dropped before the pii stage must not reach OUT/rejected either
        rejected = rejected | f"Rejected[{name}]" >> hook
        errors = errors | f"DeadLetters[{name}]" >> hook
    if carried is not None:  # phase 1's were redacted before they were written
        rejected = (carried.rejected, rejected) | "WithCarriedRejected" >> beam.Flatten()
        errors = (carried.errors, errors) | "WithCarriedErrors" >> beam.Flatten()
    rejected | "WriteRejected" >> WriteRejected(out_dir)
    if cfg.run.signals:  # issue 28: OUT/signals (pipeline.job.signals), from the kept and the rejected
        (tokenized.annotated, rejected) | steps.SIGNALS >> WriteSignals(out_dir)
    errors | "WriteDeadLetters" >> WriteDeadLetters(out_dir)

    # samples are taken after redaction: the audit must not leak what OUT/rejected does not hold
    audit_extras = (
        rejected | "DroppedSamples" >> DroppedSamples(errors, seed),
        tokenized.annotated | "CuratedProfile" >> CuratedProfile(seed),
    ) | "AuditExtras" >> beam.Flatten()
    if progress_dir is not None:
        shard_infos | "ProgressShards" >> beam.ParDo(CountFn(progress_dir, SHARDS_KEY))

    domains = {s.name: s.domain for s in cfg.sources}
    p | steps.AUDIT >> WriteAudit(
        results, domains, FileSystems.join(out_dir, *layout.AUDIT.split("/")), extra=audit_extras,
        progress_dir=progress_dir, carried=carried,
    )
    return (list(carried.stages) if carried is not None else []) + [name for name, _ in results]


def prepare_output(out_dir: str) -> None:
    """Removes what an earlier run wrote under OUT (only pilewright's own outputs)."""
    existing = [FileSystems.join(out_dir, name) for name in MANAGED_OUTPUTS]
    existing = [path for path in existing if FileSystems.exists(path)]
    if existing:
        FileSystems.delete(existing)


class OutputError(UserError):
    """The output folder cannot be written (a file is in its place, no permission)."""


def check_output(out_dir: str) -> None:
    """Fails before anything is deleted or run when a local OUT cannot be a writable folder."""
    if "://" in out_dir:
        return  # remote: the workers find out, with credentials this machine may not have
    probe_dir = out_dir
    while not os.path.exists(probe_dir):
        parent = os.path.dirname(probe_dir)
        if parent == probe_dir:
            break
        probe_dir = parent
    if not os.path.isdir(probe_dir):
        raise OutputError(f"output {out_dir}: {probe_dir} is a file, not a folder; choose another --output "
                          "(or run.output)")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise OutputError(f"output {out_dir}: {probe_dir} is not writable; choose another --output (or run.output)")


def remove_temporary_files(out_dir: str) -> None:
    """Removes what a failed run left half-written under OUT: shard temp files and Beam's write temps
    (finished parts stay; the next run removes them with the rest of pilewright's outputs)."""
    patterns = [layout.TOKENS_TMP + "/*"] + [f"{name}/{temp}*" for name in ("",) + layout.MANAGED
                                             for temp in (".temp", "beam-temp")]
    for pattern in patterns:
        try:
            matched = FileSystems.match([FileSystems.join(out_dir, *pattern.strip("/").split("/"))])[0]
            paths = [m.path for m in matched.metadata_list]
            if paths:
                FileSystems.delete(paths)
        except Exception:  # cleaning up must never hide the error that caused it
            continue
    if "://" not in out_dir:  # local folders left empty by the deletes above
        import glob
        import shutil

        for folder in glob.glob(os.path.join(out_dir, "*", "beam-temp*")) + glob.glob(os.path.join(out_dir, "*", ".temp*")) \
                + glob.glob(os.path.join(out_dir, ".temp*")) + glob.glob(os.path.join(out_dir, "beam-temp*")) \
                + [os.path.join(out_dir, *layout.TOKENS_TMP.split("/"))]:
            if os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)


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
    resume: bool = False,
) -> JobResult:
    """Runs the job to completion and returns the audit and manifest it wrote.

    ``progress(view)`` is called about twice a second from a monitor thread while the job runs (and once
    at the end); None runs the job without the progress channel. ``resume``: run in two phases and reuse a
    completed first phase of an interrupted run of the same config and inputs (``pipeline.job.resume``).
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
        if not resume:
            remove_work(out)
    started = time.monotonic()
    checkpoint, resume_facts = None, {}
    if resume and not dry_run:
        inputs = input_manifest(loaded.resolved)
        fp = fingerprint(loaded.sha256, inputs)
        checkpoint = usable_checkpoint(out, fp)
        resume_facts = {"fingerprint": fp, "config_sha256": loaded.sha256, "inputs": inputs,
                        "reused_phase": "curate" if checkpoint else None}
        if checkpoint is None:
            remove_work(out)
            phase = beam.Pipeline(options=options)
            try:
                stages = build_curate_pipeline(phase, loaded, out)
                phase.run().wait_until_finish()
            except BaseException:
                remove_temporary_files(out)
                raise
            write_marker(out, {"fingerprint": fp, "config_sha256": loaded.sha256, "inputs": inputs,
                               "stages": stages})
            checkpoint = usable_checkpoint(out, fp)
        resume_facts["curate_seconds"] = round(time.monotonic() - started, 3)
    finish_started = time.monotonic()
    p = beam.Pipeline(options=options)
    watch = ProgressWatch(progress) if progress is not None else None
    try:
        order = build_pipeline(p, loaded, out, progress_dir=watch.dir if watch else None, checkpoint=checkpoint)
        if watch:
            watch.start(order)
        run_result = p.run()
        run_result.wait_until_finish()
    except BaseException:
        if not dry_run:
            remove_temporary_files(out)
        raise
    finally:
        if watch:
            watch.close(finished=sys.exc_info()[0] is None)
        if not dry_run:
            # spill files are of no use once the job ends, finished or not; without --resume nothing else
            # lives in OUT/.work
            remove_work_dir(out) if resume else remove_work(out)
    seconds = time.monotonic() - started
    if dry_run:
        return JobResult(out, {}, {}, seconds)
    tel = telemetry(run_result)
    if resume:
        resume_facts["finish_seconds"] = round(time.monotonic() - finish_started, 3)
    run_facts = RunFacts(seconds=round(seconds, 3), beam_args=list(beam_args),
                         stage_seconds=stage_seconds(run_result), telemetry=tel,
                         resume=resume_facts if resume else None)
    _write_json(run_facts.dump(), FileSystems.join(out, *layout.RUN.split("/")))
    write_report(out)
    audit, manifest = load_run_files(out)
    if resume:
        remove_work(out)
    return JobResult(out, audit, manifest, seconds, tel)


def _manifest_sections(cfg) -> dict:
    section = source_profiles_section(cfg)
    sections = {"source_profiles": section} if section is not None else {}
    sections["inputs"] = inputs_section(cfg)  # issue 28: the input fingerprint `pilewright diff` checks
    return sections
