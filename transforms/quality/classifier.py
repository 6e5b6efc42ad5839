"""fastText classifiers: supervised training with a held-out report, and scoring (loading is in
``transforms.fasttext_models``).

For DCLM-style quality classifiers (Li et al. 2024: high-quality reference text vs. random web text) or a
domain classifier (finance vs. general). Training is deterministic: examples are ordered by a seeded hash
of their position and source, and fastText runs with a fixed seed on one thread. The held-out split is a
seeded hash of the same key, so the same inputs and seed always give the same model and report.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional, Sequence

from pilewright.transforms.fasttext_models import LABEL_PREFIX, fasttext_line, fasttext_predict, load_fasttext
from pilewright.transforms.hashing import seeded_unit

OTHER_LABEL = "other"


@dataclass(frozen=True)
class TrainParams:
    """fastText ``train_supervised`` settings (defaults suit a few thousand to a million documents)."""

    epoch: int = 5
    lr: float = 0.1
    # >= 2: fasttext-numpy2 0.10.4's softmax training diverges (NaN) with word_ngrams=1
    word_ngrams: int = 2
    dim: int = 100
    min_count: int = 1
    # characters of each document used (fastText reads whitespace tokens; very long texts add little)
    max_chars: int = 20_000


@dataclass
class TrainReport:
    label: str
    seed: int
    holdout: float
    train: dict = field(default_factory=dict)  # label -> documents
    heldout: dict = field(default_factory=dict)
    precision: Optional[float] = None  # of `label` at probability >= 0.5, on the held-out documents
    recall: Optional[float] = None
    f1: Optional[float] = None
    accuracy: Optional[float] = None
    params: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def training_line(label: str, text: str, max_chars: int) -> str:
    """One fastText training example: ``__label__<label> <text on one line>``."""
    return f"{LABEL_PREFIX}{label} {' '.join(fasttext_line(text[:max_chars]).split())}"


def is_heldout(key: str, seed: int, holdout: float) -> bool:
    return seeded_unit(seed, "holdout", key) < holdout


def label_probability(model, text: str, label: str) -> float:
    """Probability the model gives ``label`` (0 when the model does not know the label)."""
    labels, probs = fasttext_predict(model, " ".join(fasttext_line(text).split()), -1)
    target = LABEL_PREFIX + label
    for lab, p in zip(labels, probs):
        if lab == target:
            return min(1.0, max(0.0, float(p)))
    return 0.0


def precision_recall(truth: Sequence[bool], predicted: Sequence[bool]) -> dict:
    tp = sum(1 for t, p in zip(truth, predicted) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted) if t and not p)
    correct = sum(1 for t, p in zip(truth, predicted) if t == p)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": correct / len(truth) if truth else None,
    }


def train_classifier(
    positive: Iterable[tuple[str, str]],
    negative: Iterable[tuple[str, str]],
    label: str,
    output: str,
    *,
    seed: int = 1234,
    holdout: float = 0.1,
    params: TrainParams = TrainParams(),
) -> TrainReport:
    """Trains ``__label__<label>`` vs ``__label__other`` and writes the model to ``output``.

    Args:
        positive, negative: (key, text) pairs; the key (e.g. ``file:line``) only seeds ordering and the
            held-out split, so it must be stable across runs.
        label: the positive label's name, as later scored (``classifier:<label>``).
        output: model path (local or any Beam filesystem); a JSON report is written beside it.
        seed: seeds the example order, the split and fastText.
        holdout: fraction of documents held out for the precision/recall report.

    Returns:
        The report (also written to ``<output>.json``).
    """
    import fasttext

    if not label or any(c.isspace() for c in label) or label == OTHER_LABEL:
        raise ValueError(f"label must be one word other than {OTHER_LABEL!r}, got {label!r}")
    if params.word_ngrams < 2:
        raise ValueError("word_ngrams must be >= 2 (fastText training diverges with 1 in this build)")
    train: list[tuple[float, str]] = []
    held: list[tuple[bool, str]] = []
    report = TrainReport(label=label, seed=seed, holdout=holdout, params=asdict(params))
    for is_pos, pairs in ((True, positive), (False, negative)):
        name = label if is_pos else OTHER_LABEL
        n_train = n_held = 0
        for key, text in pairs:
            if not text or not text.strip():
                continue
            key = f"{name}\x1f{key}"
            if is_heldout(key, seed, holdout):
                held.append((is_pos, text))
                n_held += 1
            else:
                train.append((seeded_unit(seed, "order", key), training_line(name, text, params.max_chars)))
                n_train += 1
        report.train[name] = n_train
        report.heldout[name] = n_held
    if not report.train.get(label) or not report.train.get(OTHER_LABEL):
        raise ValueError(f"need training documents of both classes, got {report.train}")
    train.sort()
    workdir = tempfile.mkdtemp(prefix="pilewright-classifier-")
    try:
        train_path = os.path.join(workdir, "train.txt")
        with open(train_path, "w", encoding="utf-8", errors="replace") as f:
            for _, line in train:
                f.write(line + "\n")
        model = fasttext.train_supervised(
            input=train_path,
            epoch=params.epoch,
            lr=params.lr,
            wordNgrams=params.word_ngrams,
            dim=params.dim,
            minCount=params.min_count,
            seed=seed,
            thread=1,
            verbose=0,
        )
        local_model = os.path.join(workdir, "model.bin")
        model.save_model(local_model)
        model = load_fasttext(local_model)
        if held:
            truth = [is_pos for is_pos, _ in held]
            predicted = [label_probability(model, text, label) >= 0.5 for _, text in held]
            for k, v in precision_recall(truth, predicted).items():
                setattr(report, k, v)
        _copy_out(local_model, output)
        _write_text(output + ".json", report.to_json() + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _copy_out(local: str, dest: str) -> None:
    if "://" not in dest:
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        shutil.copyfile(local, dest)
        return
    from apache_beam.io.filesystems import FileSystems

    with open(local, "rb") as src, FileSystems.create(dest) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def _write_text(dest: str, text: str) -> None:
    if "://" not in dest:
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
        return
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(dest) as f:
        f.write(text.encode("utf-8"))
