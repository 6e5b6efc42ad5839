"""Beam options: what pilewright adds by default, and what it refuses, before passing the rest through.

Defaults are added only for what the user left out, so any Beam option (``--direct_num_workers``,
``--runner``, ...) still wins. Refusals are runners or settings that were seen to give wrong results or to
fail late and expensively; each message says what to use instead.
"""
from __future__ import annotations

import logging
import os
from typing import Optional, Sequence

from apache_beam.options.pipeline_options import PipelineOptions

from pilewright.schemas.errors import UserError


class RunnerError(UserError):
    """A runner choice that cannot give correct results here; the message says what to use instead."""


# Beam 2.77's DaskRunner computes only the last branch of the job graph (dask_runner.py: "we can get away
# with computing just the last value") and reports success: benchmarks/dask_repro.py ends DONE with the
# global sum missing and the element file empty. A job that silently loses shards is worse than none.
DASK_REFUSED = (
    "--runner=DaskRunner is refused: Beam's Dask runner reports success while leaving outputs empty "
    "(a global sum and a file of elements both came out empty; see benchmarks/dask_repro.py and README "
    "'Runners'); use the default DirectRunner on one machine, or DataflowRunner/FlinkRunner/SparkRunner on "
    "a cluster"
)
MULTI_THREADING_REFUSED = (
    "--direct_running_mode=multi_threading loses elements in Beam's DirectRunner (4 of 24 trial runs); "
    "use multi_processing (the default) or in_memory"
)
# what gets pilewright itself onto remote workers; without one of these, a Dataflow job fails on its
# first bundle after the workers have booted (and billed)
WORKER_PACKAGE_FLAGS = ("extra_package", "extra_packages", "setup_file", "sdk_container_image")
DATAFLOW_NEEDS_PACKAGE = (
    "DataflowRunner workers need pilewright installed: build the wheel with `python -m build --wheel` and "
    "pass --extra_package dist/pilewright-<version>-py3-none-any.whl (or --setup_file pyproject.toml, or "
    "--sdk_container_image with a pilewright image); see README 'Runners'"
)


# Below this many cores the default is one in-process worker: measured on 2 cores and ~100 MB of text
# (benchmarks/bench_runners.py), multi_processing with 2 workers took 81.6 s against 52.1 s in_memory,
# because every stage's data crosses gRPC to and from the worker processes (78 vs 51 CPU-seconds).
# 4 is where one worker per core should pay that back (about 1.5x the CPU over 4 cores); it is an
# extrapolation from that CPU ratio, not a measurement on a 4-core machine.
# Re-measured after text and token arrays stopped crossing shuffles (issue 15, benchmarks/bench_scale.py
# --mb-per-x 10 --xs 1,2,4, every curation stage on, machine shared at load 3-4): 2 workers against one
# in-process worker ran 1.75x, 0.74x and 0.92x as fast at 10, 20 and 40 MB, using 2.1-2.3x the memory.
# Not faster on 2 cores, so the threshold stays.
MIN_CORES_FOR_PROCESSES = 4
PACKAGE_FS_PLUGIN = "pilewright.pipeline.job.package_fs.PackageFileSystem"


def _has_flag(args: Sequence[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in args)


def _flag_value(args: Sequence[str], name: str) -> Optional[str]:
    """The last value given for ``--name`` (Beam's argparse keeps the last one too)."""
    value = None
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            value = a.split("=", 1)[1]
        elif a == f"--{name}" and i + 1 < len(args):
            value = args[i + 1]
    return value


def runner_kind(runner: str) -> str:
    """Beam's runner name normalized the way Beam resolves it: ``DirectRunner``, ``direct`` -> ``direct``."""
    name = runner.rsplit(".", 1)[-1].lower()
    return name[: -len("runner")] if name.endswith("runner") and name != "runner" else name


def local_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup CPU sets, unlike ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def beam_args_with_defaults(args: Sequence[str], cores: Optional[int] = None) -> list[str]:
    """User Beam args, unchanged, plus defaults for what they leave out.

    The runner and DirectRunner mode are always explicit: left implicit, Beam 2.77's DirectRunner tries
    to download the Prism binary first. The default DirectRunner mode is ``multi_processing`` with one
    worker process per core (``cores``, default: this machine's) from ``MIN_CORES_FOR_PROCESSES`` cores
    up, and ``in_memory`` below (faster there; same output). ``--direct_num_workers=N`` alone gets
    ``multi_processing`` with N workers (``in_memory`` for 1). ``multi_threading`` and DaskRunner are
    refused.
    """
    out = list(args)
    runner = _flag_value(out, "runner")
    if runner is None:
        out.append("--runner=DirectRunner")
        runner = "DirectRunner"
    kind = runner_kind(runner)
    if kind == "dask":
        raise RunnerError(DASK_REFUSED)
    if kind in ("direct", "switchingdirect"):
        mode = _flag_value(out, "direct_running_mode")
        if mode == "multi_threading":
            raise RunnerError(MULTI_THREADING_REFUSED)
        workers = _flag_value(out, "direct_num_workers")
        if mode is None:
            n = int(workers) if workers not in (None, "") and workers.lstrip("-").isdigit() else None
            if n is None:
                n = cores if cores is not None else local_cores()
                if n < MIN_CORES_FOR_PROCESSES:
                    n = 1
                if n > 1:
                    out.append(f"--direct_num_workers={n}")
            out.append("--direct_running_mode=" + ("multi_processing" if n != 1 else "in_memory"))
        elif mode == "multi_processing" and workers is None:
            out.append(f"--direct_num_workers={cores if cores is not None else local_cores()}")
    elif kind in ("portable", "flink", "spark") and (_flag_value(out, "environment_type") or "").upper() != "LOOPBACK":
        # a cluster's SDK workers import this so they can read pkg:// paths (Dataflow adds it itself)
        out.append(f"--beam_plugins={PACKAGE_FS_PLUGIN}")
    return out


def check_remote_setup(args: Sequence[str]) -> None:
    """Refuses a remote job that would fail only after its workers started: pilewright not on them."""
    runner = _flag_value(args, "runner") or "DirectRunner"
    if runner_kind(runner) == "dataflow" and not any(_has_flag(args, f) for f in WORKER_PACKAGE_FLAGS):
        raise RunnerError(DATAFLOW_NEEDS_PACKAGE)


# pilewright's own `run` options, offered as corrections of a mistyped one
OWN_OPTIONS = ("--config", "--output", "--quiet", "--debug", "--resume")


def unknown_options(args: Sequence[str]) -> list[str]:
    """The args no Beam options class defines. Beam itself only logs and drops them, so a mistyped
    ``--ouput`` would run the job into the config's output folder and delete the last run there."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    _known, unknown = parser.parse_known_args(list(args))
    return unknown


def check_options(args: Sequence[str]) -> None:
    """Refuses an option neither pilewright nor Beam knows, naming the closest known one."""
    import difflib

    unknown = unknown_options(args)
    if not unknown:
        return
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    known = list(OWN_OPTIONS) + [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    arg = unknown[0]
    name = arg.split("=", 1)[0]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else "; see `pilewright run --help` and Beam's pipeline options"
    raise RunnerError(f"unknown option {arg!r}{hint} (nothing was run or deleted)")


def pipeline_options(args: Sequence[str]) -> PipelineOptions:
    """Beam ``PipelineOptions`` from the user's args plus pilewright's defaults and checks."""
    check_options(args)
    full = beam_args_with_defaults(args)
    check_remote_setup(full)
    return PipelineOptions(full)


class _WorkerNoiseFilter(logging.Filter):
    """Drops two warnings every local worker subprocess logs at start-up; they concern options Beam
    passes to itself, not the user's job, and would otherwise print once per worker on every run."""

    NOISE = ("No semi_persistent_directory found", "Discarding unparseable args")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(n in msg for n in self.NOISE)


def quiet_local_worker_logs() -> None:
    """Installs the filter on the logger that relays local worker logs (idempotent). For the CLI."""
    relay = logging.getLogger("apache_beam.runners.portability.local_job_service")
    if not any(isinstance(f, _WorkerNoiseFilter) for f in relay.filters):
        relay.addFilter(_WorkerNoiseFilter())


class _UserErrorLogFilter(logging.Filter):
    """Drops Beam's log record of a failing bundle when the failure is a ``UserError``: the CLI prints that
    error as one line, and the record would put a worker traceback in front of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pilewright.schemas.errors import user_error_classes

        if record.levelno < logging.ERROR:
            return True
        from pilewright.pipeline.job.outputs import OUTPUT_FAULTS

        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        # a full disk or a read-only folder: the CLI says it in one line (an error it cannot name still
        # ends in its traceback there)
        if any(needle in text for needle, _fix in OUTPUT_FAULTS):
            return False
        return not any(f"{cls.__name__}" in text for cls in user_error_classes()) and not _is_user_error(record)


def _is_user_error(record: logging.LogRecord) -> bool:
    from pilewright.schemas.errors import user_error_message

    exc = record.exc_info[1] if record.exc_info else None
    return exc is not None and user_error_message(exc) is not None


def quiet_user_error_logs() -> None:
    """Installs the filter on the root handlers (Beam logs through them). Idempotent. For the CLI."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        if not any(isinstance(f, _UserErrorLogFilter) for f in handler.filters):
            handler.addFilter(_UserErrorLogFilter())
