"""The ``pilewright`` command line. Progress and summaries are printed here, never in library code."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from pilewright.pipeline.job.noise import quiet_beam_noise

quiet_beam_noise()  # before anything below imports Beam: one of its lines is logged at import time

from pilewright.pipeline.cli.terminal import progress_display, run_summary_lines
from pilewright.pipeline.cli.terminal import add_parser as add_audit_parser
from pilewright.pipeline.cli.classifier import add_parser as add_classifier_parser
from pilewright.pipeline.cli.explain import add_parser as add_explain_parser
from pilewright.pipeline.cli.diff import add_parser as add_diff_parser
from pilewright.pipeline.job.config import ConfigError, check_inputs_exist, load_config
from pilewright.pipeline.job.options import RunnerError, pipeline_options, quiet_local_worker_logs
from pilewright.pipeline.cli.plan import add_parser as add_plan_parser
from pilewright.pipeline.job.options import quiet_user_error_logs
from pilewright.pipeline.job.outputs import output_fault_message
from pilewright.schemas.errors import UserError, user_error_message


# the shell's status for a process stopped by Ctrl-C (128 + SIGINT)
EXIT_INTERRUPTED = 130


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pilewright")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _error(msg: str) -> int:
    print(f"pilewright: error: {msg}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pilewright.pipeline.job.build import check_output, output_dir, run_job
    from pilewright.pipeline.job.checks import check_before_run
    from pilewright.pipeline.job.remote import prepare_for_runner
    from pilewright.pipeline.job.policy import EXIT_POLICY, breaches, warnings

    try:
        pipeline_options(beam_args)  # an unknown option or refused runner fails first, before anything else
        loaded = load_config(args.config)
        check_inputs_exist(loaded.resolved, loaded.written)
        check_before_run(loaded.resolved)
        check_output(output_dir(loaded, args.output))
        # a path remote workers could not read is refused here, before the run is announced (run_job
        # prepares the config the same way)
        prepare_for_runner(loaded, beam_args, output_dir(loaded, args.output))
    except UserError as e:
        return _error(str(e))
    if not args.quiet:
        what = "the embedded sample corpus" if args.config is None else args.config
        print(f"pilewright: running {what} ({len(loaded.resolved.sources)} sources)", file=sys.stderr)
    if not args.debug:
        # a worker's UserError is logged by Beam with its traceback before it reaches us; the one line is ours
        quiet_user_error_logs()
    interrupted = _watch_interrupts()
    try:
        progress = None if args.quiet else progress_display(beam_args, sys.stderr)
        result = run_job(loaded, beam_args, args.output, progress=progress, resume=args.resume,
                         overwrite=args.overwrite, inputs_checked=True)
    except BaseException as e:
        # Beam re-raises an interrupt that lands inside a running step as a RuntimeError naming it: the
        # flag, not only the exception's type, says the user stopped the run
        if isinstance(e, KeyboardInterrupt) or interrupted():
            # run_job has removed the temporary files and released the output folder's lock on the way out
            again = ("run the same command again to resume: the finished units are reused" if args.resume else
                     "run the same command again to start over (a run with --resume keeps its finished units)")
            print(f"pilewright: interrupted: the run stopped and its temporary files were removed; {again}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        if isinstance(e, UserError):
            if args.debug:
                raise
            return _error(user_error_message(e) or str(e))
        if isinstance(e, Exception):
            msg = user_error_message(e) or output_fault_message(e, output_dir(loaded, args.output))
            if msg and not args.debug:
                return _error(msg)
        raise
    finally:
        interrupted.restore()
    return _finish_run(args, loaded, result)


class _Interrupts:
    """Records a Ctrl-C (SIGINT) and raises KeyboardInterrupt as Python would."""

    def __init__(self):
        import signal

        self._seen = False
        self._signal = signal
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Python's own handling
            self._previous = None

    def _handle(self, signum, frame):
        import logging

        self._seen = True
        # what fails from here on fails because the user stopped it: Beam's error logs (with tracebacks)
        # would bury the one line that says so
        logging.disable(logging.CRITICAL)
        raise KeyboardInterrupt

    def __call__(self) -> bool:
        return self._seen

    def restore(self) -> None:
        if self._previous is not None:
            self._signal.signal(self._signal.SIGINT, self._previous)


def _watch_interrupts() -> _Interrupts:
    return _Interrupts()


def _finish_run(args, loaded, result) -> int:
    from pilewright.pipeline.job.policy import EXIT_POLICY, breaches, warnings

    if not result.manifest and not result.audit:  # --dry_run: the runner built and validated the job
        if not args.quiet:
            print(f"pilewright: dry run: the job for {result.out_dir} was built and validated; nothing ran")
        return 0
    if not args.quiet:
        for line in run_summary_lines(result):
            print(line)
        for line in warnings(result.audit, loaded.resolved.policy):
            print(f"pilewright: warning: {line}", file=sys.stderr)
    from pilewright.pipeline.job.checks import local_input_bytes

    failed = breaches(result.audit, result.manifest, loaded.resolved.policy, local_input_bytes(loaded.resolved))
    if failed:
        more = f" [+{len(failed) - 1} more]" if len(failed) > 1 else ""
        print(f"pilewright: failed: {failed[0]}{more}", file=sys.stderr)
        return EXIT_POLICY
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilewright",
        description="Raw text to training-ready token shards, on Apache Beam, with an audit of every stage.",
    )
    parser.add_argument("--version", action="version", version=f"pilewright {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the pipeline (no --config: the embedded sample corpus)",
        description="Any option not listed here is passed to Beam unchanged (--runner, --direct_num_workers, ...).",
    )
    run.add_argument("--config", help="YAML config file (default: the embedded sample corpus)")
    run.add_argument("--output", help="output folder or URL (default: run.output from the config)")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.add_argument("--debug", action="store_true", help="show the traceback of an error, not only its line")
    run.add_argument("--overwrite", action="store_true",
                     help="write into an output folder that is not empty and not a pilewright output (or the home or "
                          "working folder); pilewright's own outputs there are replaced")
    run.add_argument("--resume", action="store_true",
                     help="keep the working folder and reuse the finished units of an interrupted --resume run of "
                          "the same config and inputs (README 'Resuming')")
    run.set_defaults(func=cmd_run)
    add_plan_parser(sub)
    add_audit_parser(sub)
    add_classifier_parser(sub)
    add_explain_parser(sub)
    add_diff_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "run" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    quiet_local_worker_logs()
    try:
        return args.func(args, rest) if args.command == "run" else args.func(args)
    except KeyboardInterrupt:
        print("pilewright: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
