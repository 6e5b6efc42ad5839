"""``pilewright audit OUT [--json] [--source NAME] [--html] [--verify]``, the end-of-run summary, and the
terminal rendering of progress while ``pilewright run`` runs."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from typing import Optional, TextIO

from pilewright.pipeline.audit.progress import ProgressView, progress_line

# a non-terminal (CI log, pipe) gets a progress line this often, instead of a line redrawn in place
LOG_EVERY_SECONDS = 10.0
MIN_LOG_GAP_SECONDS = 2.0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "audit",
        help="summarize, report on, or verify a finished run's output folder",
        description="Reads OUT/audit/audit.json, OUT/manifest.json and the side outputs of a run.",
    )
    p.add_argument("out", metavar="OUT", help="the output folder (or URL) of a `pilewright run`")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the text summary")
    p.add_argument("--source", metavar="NAME", help="narrow the summary to one source")
    p.add_argument("--html", action="store_true", help="(re)write OUT/audit/report.html")
    p.add_argument("--verify", action="store_true",
                   help="recompute shard hashes and counts, check EOS, token ids and the funnel; exit 1 on a problem")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pilewright.pipeline.audit.summary import SummaryError, load_summary, render_text

    verify = None
    if args.verify:
        from pilewright.pipeline.audit.verify import verify_run

        verify = verify_run(args.out)
    try:
        summary = None
        if args.json or not (args.html or args.verify):
            summary = load_summary(args.out, args.source)
        if args.html:
            from pilewright.pipeline.audit.report import write_report

            print(f"pilewright: wrote {write_report(args.out, verify)}", file=sys.stderr)
    except SummaryError as e:
        print(f"pilewright: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        doc = summary.model_dump(mode="json")
        if verify is not None:
            doc["verify"] = {"ok": verify.ok, "problems": verify.problems, "checked": verify.checked}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    elif summary is not None:
        print("\n".join(render_text(summary)))
    if verify is not None and not args.json:
        if verify.ok:
            print(f"verify: OK ({verify.checked})")
        else:
            more = len(verify.problems) - 1
            print(f"verify: FAILED: {verify.problems[0]}" + (f" (+{more} more problems)" if more else ""),
                  file=sys.stderr)
    return 0 if verify is None or verify.ok else 1


def run_summary_lines(result) -> list[str]:
    """What ``pilewright run`` prints when it finishes: where and how long, then the audit summary."""
    from pilewright.pipeline.audit.summary import load_summary, render_text

    lines = [f"pilewright: wrote {result.out_dir} in {result.seconds:.1f}s"]
    lines += render_text(load_summary(result.out_dir))
    return lines


class TerminalProgress:
    """Renders progress views: one line redrawn in place on a terminal, a line every ``LOG_EVERY_SECONDS``
    (and on every phase change) otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, tty: Optional[bool] = None):
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._last_phase = ""
        self._last_log = 0.0
        self._width = 0

    def __call__(self, view: ProgressView) -> None:
        if self._tty:
            cols = shutil.get_terminal_size((120, 20)).columns - 1
            if view.finished:
                # the summary follows: leave no half-drawn line behind
                self._stream.write("\r" + " " * self._width + "\r")
            elif view.failed:
                # the error follows: keep the last state on screen, on its own line
                self._stream.write("\r" + progress_line(view, cols) + "\n")
            else:
                line = progress_line(view, cols)
                self._stream.write("\r" + line + " " * max(0, self._width - len(line)))
                self._width = len(line)
            self._stream.flush()
            return
        now = time.monotonic()
        since = now - self._last_log
        changed = view.phase != self._last_phase and since >= MIN_LOG_GAP_SECONDS
        if view.finished or view.failed or changed or since >= LOG_EVERY_SECONDS:
            self._stream.write("pilewright: " + progress_line(view, 200) + "\n")
            self._stream.flush()
            self._last_phase = view.phase
            self._last_log = now


# runners whose workers run on this machine and can write to the progress channel's local folder
LOCAL_RUNNERS = ("DirectRunner", "direct", "PortableRunner", "FnApiRunner", "BundleBasedDirectRunner",
                 "SwitchingDirectRunner")


def _runner(beam_args: list[str]) -> Optional[str]:
    for i, a in enumerate(beam_args):
        if a.startswith("--runner="):
            return a.split("=", 1)[1]
        if a == "--runner" and i + 1 < len(beam_args):
            return beam_args[i + 1]
    return None


def progress_display(beam_args: list[str], stream: TextIO = sys.stderr) -> Optional[TerminalProgress]:
    """A progress renderer for local runners; None for remote ones (their own console shows progress, and
    their workers cannot reach this machine's progress folder)."""
    runner = _runner(beam_args)
    if runner is not None and runner.rsplit(".", 1)[-1] not in LOCAL_RUNNERS:
        return None
    return TerminalProgress(stream)
