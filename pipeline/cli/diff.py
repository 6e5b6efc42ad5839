"""``pilewright diff OUT_A OUT_B``: which documents flipped between two runs of the same inputs, and why."""
from __future__ import annotations

import argparse
import json
import sys

from pilewright.schemas.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two runs of the same inputs: flipped documents per source and stage, config changes",
        description="Compares two finished runs from their files (never re-runs): documents kept in one and not "
                    "the other, changed reasons, tokens gained and lost per domain, the config difference, "
                    "samples to read. Writes an HTML page (default OUT_B/audit/diff.html).",
    )
    p.add_argument("out_a", help="the earlier run's output folder")
    p.add_argument("out_b", help="the later run's output folder")
    p.add_argument("--json", action="store_true", help="print JSON for tools")
    p.add_argument("--html", metavar="PATH", help="where to write the page (default OUT_B/audit/diff.html)")
    p.add_argument("--no-html", dest="no_html", action="store_true", help="write no page")
    p.add_argument("--samples", type=int, default=5, help="flipped documents shown per kind (default 5)")
    p.set_defaults(func=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    from pilewright.pipeline.audit.diff import diff_lines, diff_runs, write_html

    try:
        d = diff_runs(args.out_a, args.out_b, args.samples)
        page = None if args.no_html else write_html(d, args.html)
    except UserError as e:
        print(f"pilewright: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(d.as_json(), indent=2, sort_keys=True, default=str))
    else:
        print("\n".join(diff_lines(d)))
    if page:
        print(f"pilewright: diff page: {page}", file=sys.stderr)
    return 0
