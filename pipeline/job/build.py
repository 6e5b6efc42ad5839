"""Building and running the whole job from a loaded config."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from pilewright.pipeline.job.audit_counts import WriteAudit, stage_totals
from pilewright.pipeline.audit.profile import CuratedProfile, DroppedSamples
from pilewright.pipeline.job.config import LoadedConfig, check_inputs_exist
from pilewright.pipeline.job.remote import prepare_for_runner
from pilewright.pipeline.job.manifest import WriteManifest, source_profiles_section
from pilewright.pipeline.job.options import pipeline_options
from pilewright.pipeline.job.executor import unit_args
from pilewright.pipeline.job.output_guard import claim_output
from pilewright.pipeline.job.phase_runner import peak_rss_mb, run_phases
from pilewright.pipeline.job.options import beam_args_with_defaults, local_cores, runner_kind
from pilewright.pipeline.job.phases import plan_phases, read_units, unit_stage_order
from pilewright.pipeline.job.resume import remove_work
from pilewright.pipeline.job.units import Plan, Unit, list_inputs, plan_units
from pilewright.pipeline.job.outputs import WriteDeadLetters, WriteDocuments, WriteRejected
from pilewright.pipeline.job.signals import WriteSignals
from pilewright.pipeline.job.fingerprint import inputs_section
from pilewright.pipeline.audit.progress import SHARDS_KEY, CountFn, ProgressView, ProgressWatch
from pilewright.pipeline.audit.progress import reporter as progress_reporter
from pilewright.pipeline.audit.atomic import write_atomic
from pilewright.pipeline.audit.report import write_report
from pilewright.pipeline.audit.summary import load_run_files
from pilewright.pipeline.job.stage_timing import stage_seconds
from pilewright.pipeline.job.stages import curation_stages, side_output_hooks, spine
from pilewright.pipeline.job import steps
from pilewright.schemas import layout
from pilewright.schemas.audit import RunFacts
from pilewright.schemas.errors import UserError
from pilewright.transforms.stage import METRICS_NAMESPACE, StageResult, sum_pairs

MANAGED_OUTPUTS = layout.MANAGED


@dataclass
class JobResult:
    out_dir: str
    audit: dict
    manifest: dict
    seconds: float
    telemetry: dict = field(default_factory=dict)



def build_pipeline(
    p: beam.Pipeline, loaded: LoadedConfig, out_dir: str, earlier: Sequence[Sequence[dict]],
    progress_dir: Optional[str] = None, threads: int = 1,
) -> list[str]:
    """Adds the final phase to ``p``: the earlier phases' files read back -> the last corpus-wide stages
    (when no per-document stage follows them) -> the spine (``pipeline.job.stages.spine``: tokens and
    shards), plus side outputs, manifest and audit.

    ``earlier``: per earlier phase, its units' ``unit.json`` (``pipeline.job.phases``). ``progress_dir``: a
    progress channel folder (``pipeline.progress``) the workers report to, or None. ``threads``: the cores
    its stages may use in this process (``RunContext.threads``). Returns the audited stage names in flow
    order.
    """
    cfg = loaded.resolved
    seed = cfg.run.seed
    work = FileSystems.join(out_dir, *layout.SPILL.split("/"))
    carried = read_units(p, earlier, cfg)
    results: list[tuple[str, StageResult]] = []
    docs = carried.docs
    for name, transform in curation_stages(cfg, work, names=plan_phases(cfg)[1]):
        stage = docs | steps.stage_step(name) >> transform
        results.append((name, stage))
        docs = stage.main

    # the units encoded their documents when the last phase before this one could (``Phase.encode``)
    encoded = carried.tokens if plan_phases(cfg)[0][-1].encode else None
    made = spine(docs, cfg, out_dir, work, encoded=encoded, threads=threads)
    results += made.results
    tokens_by = (
        made.tokens
        | steps.TOKENS_BY >> beam.FlatMap(
            lambda t: [(("source", t.source), (1, t.n_tokens)), (("domain", t.domain), (1, t.n_tokens))]
        )
        | steps.SUM_TOKENS_BY >> beam.CombinePerKey(sum_pairs)
    )
    made.shards | steps.MANIFEST >> WriteManifest(
        out_dir, made.tokenizer_info, tokens_by, loaded.written.model_dump(mode="json"), loaded.sha256, seed,
        extra=made.sections, sections=_manifest_sections(cfg),
    )

    made.documents | "WriteDocuments" >> WriteDocuments(out_dir)
    rejected = [r.rejected for _, r in results] | "AllRejected" >> beam.Flatten(pipeline=p)
    errors = [r.errors for _, r in results] | "AllErrors" >> beam.Flatten(pipeline=p)
    for name, hook in side_output_hooks(cfg):
        # a value planted in a document dropped before the hook's stage must not reach OUT/rejected either
        rejected = rejected | f"Rejected[{name}]" >> hook
        errors = errors | f"DeadLetters[{name}]" >> hook
    # the units' were redacted before they were written
    rejected = (carried.rejected, rejected) | "WithCarriedRejected" >> beam.Flatten()
    errors = (carried.errors, errors) | "WithCarriedErrors" >> beam.Flatten()
    rejected | "WriteRejected" >> WriteRejected(out_dir)
    if cfg.run.signals:  # issue 28: OUT/signals (pipeline.job.signals), from the kept and the rejected
        (made.documents, rejected) | steps.SIGNALS >> WriteSignals(out_dir)
    errors | "WriteDeadLetters" >> WriteDeadLetters(out_dir)

    # samples are taken after redaction: the audit must not leak what OUT/rejected does not hold
    audit_extras = (
        rejected | "DroppedSamples" >> DroppedSamples(errors, seed),
        made.documents | "CuratedProfile" >> CuratedProfile(seed),
    ) | "AuditExtras" >> beam.Flatten()
    if progress_dir is not None:
        made.shards | "ProgressShards" >> beam.ParDo(CountFn(progress_dir, SHARDS_KEY))

    domains = {s.name: s.domain for s in cfg.sources}
    p | steps.AUDIT >> WriteAudit(
        results, domains, FileSystems.join(out_dir, *layout.AUDIT.split("/")), extra=audit_extras,
        progress_dir=progress_dir, carried=carried,
    )
    return list(carried.stages) + [name for name, _ in results]


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
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))


def output_dir(loaded: LoadedConfig, override: Optional[str]) -> str:
    out = override or loaded.resolved.run.output
    return out if "://" in out else os.path.abspath(out)


def _local(full_args: Sequence[str]) -> bool:
    runner = next((a.split("=", 1)[1] for a in reversed(full_args) if a.startswith("--runner=")), "DirectRunner")
    return runner_kind(runner) in ("direct", "switchingdirect")


def _workers_flag(beam_args: Sequence[str]) -> Optional[int]:
    for i, a in enumerate(beam_args):
        value = a.split("=", 1)[1] if a.startswith("--direct_num_workers=") else (
            beam_args[i + 1] if a == "--direct_num_workers" and i + 1 < len(beam_args) else None)
        if value is not None and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def plan_run(cfg, beam_args: Sequence[str], local: bool) -> Plan:
    """The curate phase's units and how many run at once (one unit of every file on a remote runner, where
    each phase is one job)."""
    if not local:
        return Plan(1, 0, (Unit(0, (), whole=True),))
    files = list_inputs(cfg)
    workers = _workers_flag(beam_args) or cfg.run.workers
    return plan_units(files, local_cores(), workers=workers, memory_mb=cfg.run.memory_mb, unit_mb=cfg.run.unit_mb)


def run_job(
    loaded: LoadedConfig,
    beam_args: Sequence[str] = (),
    out_dir: Optional[str] = None,
    progress: Optional[Callable[[ProgressView], None]] = None,
    resume: bool = False,
    overwrite: bool = False,
    on_unit: Optional[Callable[[int, int], None]] = None,
    inputs_checked: bool = False,
) -> JobResult:
    """``_run_job`` with the output folder claimed for the run's length (``pipeline.job.output_guard``:
    refusals, marker, lock). ``overwrite``: use a folder that is not a pilewright output anyway.
    ``inputs_checked``: the caller ran ``check_inputs_exist`` on this config already (the CLI does, to
    fail before it announces the run), so the job does not read every evaluation set a second time."""
    # nothing under OUT is deleted or written before the claim; released at the end
    dry_run = bool(pipeline_options(beam_args).get_all_options().get("dry_run"))
    with (contextlib.nullcontext() if dry_run else claim_output(output_dir(loaded, out_dir), overwrite)):
        return _run_job(loaded, beam_args, out_dir, progress, resume, on_unit, inputs_checked)


def _run_job(
    loaded: LoadedConfig,
    beam_args: Sequence[str] = (),
    out_dir: Optional[str] = None,
    progress: Optional[Callable[[ProgressView], None]] = None,
    resume: bool = False,
    on_unit: Optional[Callable[[int, int], None]] = None,
    inputs_checked: bool = False,
) -> JobResult:
    """Runs the job to completion, in phases (``pipeline.job.phases``), and returns the audit and manifest.

    ``progress(view)`` is called about twice a second from a monitor thread while the job runs (and once
    at the end); None runs it without the progress channel. ``on_unit(done, total)`` is called as units
    of a per-document phase finish. ``resume``: reuse the finished units of an interrupted run of the same
    config and inputs (each unit is checked against its fingerprint).
    """
    out = output_dir(loaded, out_dir)
    if not inputs_checked:
        check_inputs_exist(loaded.resolved, loaded.written)
    options = pipeline_options(beam_args)
    # remote workers read the embedded sample from their installed package, never this machine's paths
    loaded = prepare_for_runner(loaded, beam_args, out)
    cfg = loaded.resolved
    # --dry_run (Dataflow) builds and validates the job without running it: nothing may be deleted
    dry_run = bool(options.get_all_options().get("dry_run"))
    local = _local(beam_args_with_defaults(beam_args))
    if not dry_run:
        prepare_output(out)
        if not resume:
            remove_work(out)
    started = time.monotonic()
    plan = plan_run(cfg, beam_args, local)
    watch = ProgressWatch(progress) if progress is not None else None
    if watch and local:
        watch.start(unit_stage_order(cfg))
    try:
        done = run_phases(cfg, loaded.sha256, out, plan, beam_args, options, local, dry_run, resume,
                          progress_dir=watch.dir if watch and local else None, on_unit=on_unit)
        if watch and local:
            rows = [(tuple(k), tuple(v)) for infos in done.earlier for u in infos for k, v in u["rows"]]
            rep = progress_reporter(watch.dir)
            for stage in unit_stage_order(cfg):
                rep.done(stage, *stage_totals(rows, stage))
        final_started = time.monotonic()
        # locally the final phase runs in this process (in_memory); elsewhere on the user's runner
        p = beam.Pipeline(options=pipeline_options(unit_args(beam_args)) if local else options)
        # the final phase runs alone: locally its encoding may use the P cores the units used
        order = build_pipeline(p, loaded, out, done.earlier, progress_dir=watch.dir if watch else None,
                               threads=plan.processes if local else 1)
        if watch:
            if local:
                watch.set_order(order)
            else:
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
        if not dry_run and not resume:
            remove_work(out)
    seconds = time.monotonic() - started
    if dry_run:
        return JobResult(out, {}, {}, seconds)
    tel = telemetry(run_result)
    stage_secs = dict(stage_seconds(run_result))
    for stage, sec in done.stage_seconds.items():
        stage_secs[stage] = round(stage_secs.get(stage, 0.0) + sec, 3)
    facts = {"units": done.units, "curate_units": len(plan.units), "phase_units": done.phase_units,
             "processes": plan.processes,
             "unit_bytes": plan.unit_bytes, "phase_seconds": {**done.seconds,
                                                               "final": round(time.monotonic() - final_started, 3)},
             "peak_mb": {**done.peak_mb, "final": peak_rss_mb()},
             # files of token references the units wrote (0: the final phase encoded every document)
             "unit_token_files": sum(len(u["files"].get("tokens", ())) for infos in done.earlier for u in infos)}
    resume_facts = {"config_sha256": loaded.sha256, "reused_units": done.reused} if resume else None
    run_facts = RunFacts(seconds=round(seconds, 3), beam_args=list(beam_args),
                         stage_seconds=dict(sorted(stage_secs.items())), telemetry=tel, resume=resume_facts,
                         phases=facts)
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
