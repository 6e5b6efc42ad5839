"""``pilewright explain OUT [ID ...]``: why documents were kept or dropped, and ``--what-if`` thresholds."""
from __future__ import annotations

import argparse
import json
import sys

from pilewright.schemas.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="why documents were kept or dropped: every rule's value against its threshold (reads OUT only)",
        description="Explains documents of a finished run from its files (signals, rejected, dead letters, "
                    "shards); never re-runs. --what-if KEY=VALUE recomputes the decisions of threshold changes "
                    "from the stored signals and shows the kept share per source before and after.",
    )
    p.add_argument("out", help="the output folder of a finished run")
    p.add_argument("ids", nargs="*", help="document ids to explain")
    p.add_argument("--source", help="explain documents of this source")
    p.add_argument("--reason", help="explain documents whose stage or reason starts with this (e.g. quality, "
                                    "gopher_quality:too_few_words, kept, mix, dead_letter)")
    p.add_argument("--sample", type=int, help="at most this many of the selected documents (a seeded sample)")
    p.add_argument("--what-if", dest="what_if", action="append", default=[], metavar="KEY=VALUE",
                   help="a changed setting, e.g. quality.gopher_quality.min_doc_words=30 (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON for tools")
    p.set_defaults(func=cmd_explain)


def _error(msg: str) -> int:
    print(f"pilewright: error: {msg}", file=sys.stderr)
    return 2


def cmd_explain(args: argparse.Namespace) -> int:
    from pilewright.pipeline.audit.explain import explain, explanation_lines, select_ids, what_if, what_if_lines
    from pilewright.pipeline.audit.runfiles import Run

    try:
        run = Run(args.out)
        if args.what_if:
            result = what_if(run, args.what_if)
            if args.json:
                print(json.dumps(result.as_json(), indent=2, sort_keys=True))
            else:
                print("\n".join(what_if_lines(result)))
            if not (args.ids or args.source or args.reason):
                return 0
        ids = list(args.ids)
        if args.source or args.reason or (args.sample and not ids):
            ids += [i for i in select_ids(run, args.source, args.reason, args.sample, run.manifest.get("seed", 0))
                    if i not in ids]
        if not ids:
            return _error("name document ids, or select them with --source / --reason (and --sample N)")
        explained = explain(run, ids)
    except UserError as e:
        return _error(str(e))
    if args.json:
        print(json.dumps([e.as_json() for e in explained], indent=2, sort_keys=True, default=str))
    else:
        for i, e in enumerate(explained):
            if i:
                print()
            print("\n".join(explanation_lines(e)))
    return 0 if all(e.found for e in explained) else 1
