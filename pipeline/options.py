"""Beam options: what pilewright adds by default, and what it refuses, before passing the rest through."""
from __future__ import annotations

from typing import Sequence

from apache_beam.options.pipeline_options import PipelineOptions


class RunnerError(Exception):
    """A runner choice that cannot give correct results here; the message says what to use instead."""


def _has_flag(args: Sequence[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in args)


def _flag_value(args: Sequence[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
        if a == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return None


def beam_args_with_defaults(args: Sequence[str]) -> list[str]:
    """User Beam args, unchanged, plus defaults for what they leave out.

    The runner and DirectRunner mode are always explicit: left implicit, Beam 2.77's DirectRunner tries
    to download the Prism binary first. ``multi_threading`` is refused: it lost elements in 4 of 24 runs.
    """
    out = list(args)
    runner = _flag_value(out, "runner")
    if runner is None:
        out.append("--runner=DirectRunner")
        runner = "DirectRunner"
    if runner in ("DirectRunner", "direct"):
        mode = _flag_value(out, "direct_running_mode")
        if mode == "multi_threading":
            raise RunnerError(
                "--direct_running_mode=multi_threading loses elements in Beam's DirectRunner; "
                "use in_memory or multi_processing"
            )
        if mode is None:
            out.append("--direct_running_mode=in_memory")
    return out


def pipeline_options(args: Sequence[str]) -> PipelineOptions:
    return PipelineOptions(beam_args_with_defaults(args))
