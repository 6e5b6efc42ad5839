"""Runs the curate phase's units: locally P at once, each an ``in_memory`` pipeline in its own process;
on any other runner, one job over one unit holding every file.

Why processes and not Beam's ``multi_processing`` mode: that mode ships every element between the
runner and its workers over gRPC and keeps each stage's whole output in the runner's memory, so a second
worker bought 1.3x at twice the memory (issue 24). A unit process reads its files, runs the per-document
stages and writes its outputs; nothing crosses between processes but file names.
"""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pilewright.pipeline.job.phases import Phase, build_unit, remove_path, unit_scratch
from pilewright.pipeline.job.noise import quiet_beam_noise
from pilewright.pipeline.job.options import quiet_user_error_logs
from pilewright.pipeline.job.stage_timing import stage_seconds
from pilewright.pipeline.job.units import Unit
from pilewright.schemas.config import RunConfig

# Beam options a unit process must not inherit: it always runs one in_memory DirectRunner pipeline
_LOCAL_ONLY = ("runner", "direct_running_mode", "direct_num_workers")


def unit_args(beam_args: Sequence[str]) -> list[str]:
    """The user's Beam args for a local unit pipeline: the runner and its mode fixed, the rest kept."""
    out = []
    skip_next = False
    for a in beam_args:
        if skip_next:
            skip_next = False
            continue
        name = a[2:].split("=", 1)[0] if a.startswith("--") else None
        if name in _LOCAL_ONLY:
            skip_next = "=" not in a
            continue
        out.append(a)
    return out + ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


@dataclass(frozen=True)
class UnitTask:
    cfg: RunConfig
    out_dir: str
    unit: Unit
    fingerprint: str
    beam_args: tuple[str, ...]
    progress_dir: Optional[str]
    phase: Phase


@dataclass(frozen=True)
class UnitDone:
    unit: int
    seconds: float
    stage_seconds: dict


def run_unit(task: UnitTask) -> UnitDone:
    """One unit's curate pipeline, to completion (in the calling process)."""
    started = time.monotonic()
    # a spawned unit process has none of the launcher's logging set-up: the same filters, so a full disk
    # or a user error is the launcher's one line, not a worker traceback before it
    quiet_beam_noise()
    quiet_user_error_logs()
    p = beam.Pipeline(options=PipelineOptions(list(task.beam_args)))
    phase = task.phase
    build_unit(p, task.cfg, task.out_dir, phase, task.unit, task.fingerprint, progress_dir=task.progress_dir)
    result = p.run()
    result.wait_until_finish()
    # the unit's own spill files are of no use once its outputs are written
    remove_path(unit_scratch(task.out_dir, task.unit, phase))
    return UnitDone(task.unit.index, round(time.monotonic() - started, 3), stage_seconds(result))


def run_units(tasks: Sequence[UnitTask], processes: int,
              on_done: Optional[Callable[[UnitDone, int, int], None]] = None) -> list[UnitDone]:
    """Runs every task in ``processes`` worker processes (spawned: no Beam state is inherited); returns
    what each reported, in unit order. The first failure stops the rest and is raised."""
    done: list[UnitDone] = []
    if not tasks:
        return done
    if processes <= 1:
        # one at a time: in this process, one after the other (no process to spawn, and no launcher
        # idling beside a unit process, its memory counted twice)
        for task in tasks:
            done.append(run_unit(task))
            if on_done is not None:
                on_done(done[-1], len(done), len(tasks))
        return done
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=max(1, min(processes, len(tasks))), mp_context=ctx)
    try:
        pending = {pool.submit(run_unit, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in finished:
                result = fut.result()  # raises the unit's error
                done.append(result)
                if on_done is not None:
                    on_done(result, len(done), len(tasks))
    except BaseException:
        # Ctrl-C or a failed unit: no new unit starts, and the running ones are stopped
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return sorted(done, key=lambda d: d.unit)
