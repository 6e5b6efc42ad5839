"""``pilewright classifier train``: a fastText classifier from positive and negative example files.

    pilewright classifier train --positive hq/*.jsonl.gz --negative web/*.jsonl.gz --output hq.bin --label hq

Files are JSONL (optionally gzip/zstd-compressed, text in ``--text-field``) or plain text with one document
per line, on any filesystem Beam reads. The model scores documents in the quality stage with
``stages.quality.classifiers: [{model: hq.bin, label: hq, min_score: 0.5}]``.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Iterator

from pilewright.transforms.quality.classifier import TrainParams, train_classifier


def _paths(patterns: list[str]) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    out: list[str] = []
    for pattern in patterns:
        matched = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
        if not matched:
            raise FileNotFoundError(f"no file matches {pattern!r}")
        out.extend(matched)
    return out


def read_documents(patterns: list[str], text_field: str, max_docs: int | None) -> Iterator[tuple[str, str]]:
    """(``path:line``, text) of every document in the files, in file then line order."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    n = 0
    for path in _paths(patterns):
        is_jsonl = ".jsonl" in path or ".json" in path
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as f:
            for i, raw in enumerate(iter(f.readline, b"")):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line.strip():
                    continue
                if is_jsonl:
                    try:
                        text = json.loads(line).get(text_field)
                    except (ValueError, AttributeError):
                        continue
                    if not isinstance(text, str):
                        continue
                else:
                    text = line
                yield f"{path}:{i}", text
                n += 1
                if max_docs is not None and n >= max_docs:
                    return


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def run(args: argparse.Namespace) -> int:
    if args.classifier_command != "train":
        print("pilewright: error: use `pilewright classifier train ...`", file=sys.stderr)
        return 2
    params = TrainParams(
        epoch=args.epoch, lr=args.lr, word_ngrams=args.word_ngrams, dim=args.dim, min_count=args.min_count
    )
    try:
        report = train_classifier(
            read_documents(args.positive, args.text_field, args.max_docs),
            read_documents(args.negative, args.text_field, args.max_docs),
            label=args.label,
            output=args.output,
            seed=args.seed,
            holdout=args.holdout,
            params=params,
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"pilewright: error: {e}", file=sys.stderr)
        return 2
    print(f"trained {args.output}  (label {report.label!r} vs 'other', seed {report.seed})")
    print(f"  training documents: {report.train}")
    print(f"  held-out documents: {report.heldout}")
    print(
        f"  held-out precision {_fmt(report.precision)}  recall {_fmt(report.recall)}  "
        f"f1 {_fmt(report.f1)}  accuracy {_fmt(report.accuracy)}  (label probability >= 0.5)"
    )
    print(f"  report: {args.output}.json")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Adds ``classifier train`` to the ``pilewright`` command line."""
    parser = subparsers.add_parser(
        "classifier", help="train fastText classifiers for the quality stage", description=__doc__
    )
    sub = parser.add_subparsers(dest="classifier_command", required=True)
    train = sub.add_parser("train", help="train a supervised fastText model and report held-out precision/recall")
    train.add_argument("--positive", nargs="+", required=True, metavar="FILES", help="files/globs of positive examples")
    train.add_argument("--negative", nargs="+", required=True, metavar="FILES", help="files/globs of negative examples")
    train.add_argument("--output", required=True, metavar="MODEL", help="model path (a .json report goes beside it)")
    train.add_argument("--label", default="positive", help="name of the positive label (scored as classifier:<label>)")
    train.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    train.add_argument("--holdout", type=float, default=0.1, help="fraction held out for the report (default 0.1)")
    train.add_argument("--seed", type=int, default=1234)
    train.add_argument("--max-docs", type=int, default=None, help="read at most this many documents per class")
    train.add_argument("--epoch", type=int, default=TrainParams.epoch)
    train.add_argument("--lr", type=float, default=TrainParams.lr)
    train.add_argument("--word-ngrams", type=int, default=TrainParams.word_ngrams)
    train.add_argument("--dim", type=int, default=TrainParams.dim)
    train.add_argument("--min-count", type=int, default=TrainParams.min_count)
    parser.set_defaults(func=run)
    return parser
