"""The ``pilewright`` command line. Progress and summaries are printed here, never in library code."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from pilewright.pipeline.config import ConfigError, check_inputs_exist, load_config
from pilewright.pipeline.options import RunnerError


def _error(msg: str) -> int:
    print(f"pilewright: error: {msg}", file=sys.stderr)
    return 2


def _user_fixable(exc: BaseException) -> Optional[str]:
    """The one-line message of an error the user can fix, raised inside the pipeline, if it is one."""
    from pilewright.tokenizer.train import TokenizerTrainingError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (TokenizerTrainingError, ConfigError)):
            return str(exc)
        text = str(exc)
        if "TokenizerTrainingError" in text:
            line = text.split("TokenizerTrainingError:", 1)[-1].strip().splitlines()[0]
            return line
        exc = exc.__cause__ or exc.__context__
    return None


def summary_lines(result) -> list[str]:
    """A short funnel; ``pilewright audit OUT`` prints the full report."""
    lines = [f"pilewright: wrote {result.out_dir} in {result.seconds:.1f}s"]
    for st in result.audit.get("stages", []):
        reasons = ", ".join(f"{r}={n}" for r, n in st["reasons"].items())
        errs = ", ".join(f"{r}={n}" for r, n in st["error_types"].items())
        lines.append(
            f"  {st['name']:<10} in={st['in']:>8} kept={st['kept']:>8} rejected={st['rejected']:>7} "
            f"errors={st['errors']:>6}" + (f"  [{reasons}]" if reasons else "") + (f"  <{errs}>" if errs else "")
        )
    m = result.manifest
    lines.append(f"  shards: {m['num_shards']}  tokens: {m['total_tokens']:,}  docs: {m['total_docs']:,}")
    return lines


def cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pilewright.pipeline.build import run_job

    try:
        loaded = load_config(args.config)
        check_inputs_exist(loaded.resolved)
    except ConfigError as e:
        return _error(str(e))
    if not args.quiet:
        what = "the embedded sample corpus" if args.config is None else args.config
        print(f"pilewright: running {what} ({len(loaded.resolved.sources)} sources)", file=sys.stderr)
    try:
        result = run_job(loaded, beam_args, args.output)
    except (ConfigError, RunnerError) as e:
        return _error(str(e))
    except Exception as e:
        msg = _user_fixable(e)
        if msg:
            return _error(msg)
        raise
    if not args.quiet:
        for line in summary_lines(result):
            print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilewright",
        description="Raw text to training-ready token shards, on Apache Beam, with an audit of every stage.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the pipeline (no --config: the embedded sample corpus)",
        description="Any option not listed here is passed to Beam unchanged (--runner, --direct_num_workers, ...).",
    )
    run.add_argument("--config", help="YAML config file (default: the embedded sample corpus)")
    run.add_argument("--output", help="output folder or URL (default: run.output from the config)")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "run" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    return args.func(args, rest) if args.command == "run" else args.func(args)


if __name__ == "__main__":
    sys.exit(main())
