"""Runs the phases before the final one (``pipeline.job.phases``) and returns what each wrote.

Locally a unit phase runs its units ``processes`` at a time in spawned processes (``executor``) and a
corpus phase runs in this process, ``in_memory``; on any other runner each phase is one job. With
``resume``, a unit whose ``unit.json`` carries the same fingerprint is reused instead of run.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.pipeline.job.executor import UnitDone, UnitTask, run_units, unit_args
from pilewright.pipeline.job.options import pipeline_options
from pilewright.pipeline.job.phases import (
    KINDS,
    Phase,
    build_corpus_phase,
    build_unit,
    phase_dir,
    plan_phases,
    read_unit_file,
    remove_path,
    unit_dir,
    write_json_atomic,
)
from pilewright.pipeline.job.stage_timing import stage_seconds
from pilewright.pipeline.job.stages import SOURCE
from pilewright.pipeline.job.units import (
    MB,
    MIN_UNIT_MB,
    SPILL_BYTES_PER_INPUT_BYTE,
    InputFile,
    Plan,
    Unit,
    cut_even,
)
from pilewright.schemas.config import RunConfig
from pilewright.schemas.errors import UserError


@dataclass
class PhasesDone:
    earlier: list[list[dict]]  # per phase, its units' unit.json
    reused: int = 0
    units: int = 0
    seconds: dict = field(default_factory=dict)  # phase name -> wall seconds
    # phase name -> peak resident MB so far of this process and of its largest unit process (Linux)
    peak_mb: dict = field(default_factory=dict)
    stage_seconds: dict = field(default_factory=dict)
    phase_units: dict = field(default_factory=dict)  # phase name -> its units (run or reused)


# beside a phase's units: the size of every document file the phase wrote, recorded when the phase ends,
# so a resumed run cuts the next phase's units the same way after those files were removed
DOC_SIZES = "doc_sizes.json"


class WorkRemovedError(UserError):
    """A resumed run needs working files an earlier run already removed."""


def _doc_files(infos: Sequence[dict], recorded: Optional[dict] = None) -> list[InputFile]:
    """The documents a phase wrote, as the input files of the next unit phase (sizes as ``recorded`` when
    the phase ended, else from the filesystem)."""
    paths = sorted(p for u in infos for p in u["files"]["docs"])
    if not paths:
        return []
    sizes = dict(recorded or {})
    unknown = [p for p in paths if p not in sizes]
    if unknown:
        sizes.update({m.path: m.size_in_bytes for r in FileSystems.match(unknown) for m in r.metadata_list})
    return [InputFile("", "", p, int(sizes.get(p, 0)), 0.0) for p in paths]


def _doc_sizes(out: str, phase: Phase, infos: Sequence[dict], reused_whole: bool) -> dict:
    """{path: size} of every document file ``phase`` wrote, recorded beside its units. A phase reused whole
    keeps the record it has: its files may be gone already (the phase after it read them)."""
    path = FileSystems.join(phase_dir(out, phase), DOC_SIZES)
    if reused_whole:
        try:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                return json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):  # none (a run before 481d441): the files are still there
            pass
    sizes = {f.path: f.size for f in _doc_files(infos)}
    write_json_atomic(sizes, path)
    return sizes


def _drop_docs(out: str, phase: Phase, infos: Sequence[dict]) -> None:
    """Removes the documents ``phase`` wrote once the phase after it has read them all: only the last
    phase's documents reach the final phase (the others' rejections, dead letters and places stay)."""
    for info in infos:
        remove_path(FileSystems.join(unit_dir(out, Unit(int(info["unit"]), ()), phase), "docs"))


def _check_inputs_kept(phase: Phase, before: Phase, tasks: Sequence["UnitTask"]) -> None:
    """A unit of ``phase`` that must run again reads ``before``'s documents: one line when they are gone."""
    paths = sorted({f.path for t in tasks for f in t.unit.files})
    if not paths:
        return
    found = {m.path for r in FileSystems.match(paths) for m in r.metadata_list}
    missing = [p for p in paths if p not in found]
    if missing:
        raise WorkRemovedError(
            f"--resume: {len(missing)} document file(s) of phase {before.name} that {phase.name} must read again "
            f"were removed when the interrupted run went past them (e.g. {missing[0]}); run without --resume")


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def dry_infos(phase: Phase) -> list[dict]:
    """A unit that wrote nothing: what a dry run builds the next phase over (the graph is the same)."""
    stages = ([SOURCE.name] if phase.first else []) + list(phase.stages)
    return [{"phase": phase.index, "unit": 0, "fingerprint": "", "stages": stages, "files": {k: [] for k in KINDS}, "rows": [],
             "sizes": [], "stats": []}]


def run_phases(cfg: RunConfig, config_sha256: str, out: str, plan: Plan, beam_args: Sequence[str], options,
               local: bool, dry_run: bool, resume: bool, progress_dir: Optional[str] = None,
               on_unit: Optional[Callable[[int, int], None]] = None) -> PhasesDone:
    phases, _final = plan_phases(cfg)
    done = PhasesDone(earlier=[])
    sizes: Optional[dict] = None  # the document file sizes of the phase before (``_doc_sizes``)
    for i, phase in enumerate(phases):
        started = time.monotonic()
        reused_before = done.reused
        if phase.kind == "corpus":
            infos = _run_corpus_phase(cfg, config_sha256, out, phase, done, beam_args, options, local, dry_run,
                                      resume, progress_dir)
        else:
            if phase.first:
                units = plan.units
            elif not local:
                units = (Unit(0, tuple(_doc_files(done.earlier[-1], sizes))),) if not dry_run else (Unit(0, ()),)
            else:
                # the next per-document phase is cut from what the phase before wrote, by the same budget
                units = tuple(cut_even(_doc_files(done.earlier[-1], sizes),
                                       plan.unit_bytes * SPILL_BYTES_PER_INPUT_BYTE,
                                       plan.processes, int(MIN_UNIT_MB * MB * SPILL_BYTES_PER_INPUT_BYTE)))
            infos = _run_unit_phase(cfg, config_sha256, out, phase, units, plan.processes, beam_args, options,
                                    local, dry_run, resume, done, progress_dir, on_unit,
                                    before=phases[i - 1] if i else None)
        done.earlier.append(infos)
        if not dry_run:
            sizes = _doc_sizes(out, phase, infos, reused_whole=done.reused - reused_before == len(infos))
            if i:
                # the phase before's documents have been read by every unit of this one (issue 24: the
                # working state is cleaned as each phase's consumers finish)
                _drop_docs(out, phases[i - 1], done.earlier[-2])
        done.phase_units[phase.name] = len(infos)
        done.seconds[phase.name] = round(time.monotonic() - started, 3)
        done.peak_mb[phase.name] = peak_rss_mb()
    return done


def peak_rss_mb() -> dict:
    """{"launcher": MB, "unit_process": MB}: the peak resident memory so far of this process and of the
    largest of its finished child processes (what ``getrusage`` knows; {} where it is not available)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return {}
    to_mb = 1 / 1024  # Linux reports kilobytes
    return {"launcher": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mb),
            "unit_process": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mb)}


def _reusable(out: str, unit: Unit, phase: Phase, fp: str, resume: bool, dry_run: bool) -> Optional[dict]:
    if not resume or dry_run:
        return None
    info = read_unit_file(out, unit, phase)
    return info if info is not None and info.get("fingerprint") == fp else None


def _unit_fingerprint(config_sha256: str, unit: Unit, phase: Phase) -> str:
    if phase.first:
        return unit.fingerprint(config_sha256)
    # the files of a later phase are the phase before's outputs: named afresh by every run of it
    return _fingerprint(config_sha256, phase.name, *[f.path for f in unit.files])


def _run_unit_phase(cfg, config_sha256, out, phase, units, processes, beam_args, options, local, dry_run, resume,
                    done: PhasesDone, progress_dir, on_unit, before: Optional[Phase] = None) -> list[dict]:
    tasks, kept = [], {}
    for unit in units:
        fp = _unit_fingerprint(config_sha256, unit, phase)
        info = _reusable(out, unit, phase, fp, resume, dry_run)
        if info is not None:
            kept[unit.index] = info
            done.reused += 1
            continue
        if not dry_run:  # a dry run deletes nothing (and on gs:// would wait on the network to find out)
            remove_path(unit_dir(out, unit, phase))
        tasks.append(UnitTask(cfg, out, unit, fp, tuple(unit_args(beam_args) if local else beam_args),
                              progress_dir if local else None, phase))
    done.units += len(units)
    if resume and not dry_run and before is not None:
        _check_inputs_kept(phase, before, tasks)
    if local:
        finished = run_units(tasks, processes,
                             on_done=(lambda d, n, total: on_unit(n + len(kept), total + len(kept)))
                             if on_unit else None)
    else:
        finished = []
        for task in tasks:  # one job for the phase on the user's runner
            p = beam.Pipeline(options=options)
            build_unit(p, cfg, out, phase, task.unit, task.fingerprint)
            result = p.run()
            result.wait_until_finish()
            if not dry_run:
                finished.append(UnitDone(task.unit.index, 0.0, stage_seconds(result)))
    _add_seconds(done, finished)
    if dry_run:
        return dry_infos(phase)
    infos = []
    for unit in units:
        info = kept.get(unit.index) or read_unit_file(out, unit, phase)
        if info is None:
            raise RuntimeError(f"{phase.name} unit {unit.name} finished without its {unit.name}/unit.json")
        infos.append(info)
    return infos


def _run_corpus_phase(cfg, config_sha256, out, phase, done: PhasesDone, beam_args, options, local, dry_run,
                      resume, progress_dir) -> list[dict]:
    unit = Unit(0, ())
    fp = _fingerprint(config_sha256, phase.name, *[u["fingerprint"] for infos in done.earlier for u in infos])
    info = _reusable(out, unit, phase, fp, resume, dry_run)
    if info is not None:
        done.reused += 1
        done.units += 1
        return [info]
    if not dry_run:
        remove_path(unit_dir(out, unit, phase))
    p = beam.Pipeline(options=pipeline_options(unit_args(beam_args)) if local else options)
    build_corpus_phase(p, cfg, out, phase, done.earlier, fp, progress_dir=progress_dir if local else None)
    result = p.run()
    result.wait_until_finish()
    done.units += 1
    if dry_run:
        return dry_infos(phase)
    _add_seconds(done, [UnitDone(0, 0.0, stage_seconds(result))])
    info = read_unit_file(out, unit, phase)
    if info is None:
        raise RuntimeError(f"{phase.name} finished without its unit.json")
    # the corpus phase's own spill files are of no use once its outputs are written
    remove_path(FileSystems.join(unit_dir(out, unit, phase), "scratch"))
    return [info]


def _add_seconds(done: PhasesDone, finished: Sequence[UnitDone]) -> None:
    for d in finished:
        for stage, sec in d.stage_seconds.items():
            done.stage_seconds[stage] = round(done.stage_seconds.get(stage, 0.0) + sec, 3)

