"""fastText classifier training (deterministic, with a held-out report), the CLI, and scoring."""
from __future__ import annotations

import gzip
import json
import random

import pytest

from pilewright.pipeline.cli.main import main as cli_main
from pilewright.transforms.fasttext_models import load_fasttext
from pilewright.transforms.quality.classifier import TrainParams, label_probability, precision_recall, train_classifier

FINANCE = ["revenue", "earnings", "quarter", "margin", "dividend", "shares", "guidance", "fiscal", "ebitda",
           "investors", "profit", "outlook", "bond", "yield", "equity", "analyst"]
GENERAL = ["garden", "river", "music", "football", "recipe", "holiday", "forest", "painting", "village",
           "weather", "children", "museum", "poem", "mountain", "coffee", "festival"]
COMMON = ["the", "a", "of", "and", "in", "was", "for", "we", "this", "with", "our", "it"]


def labeled_docs(vocab, n, seed):
    rng = random.Random(seed)
    return [
        (f"doc{i}", " ".join(rng.choice(vocab) if rng.random() < 0.5 else rng.choice(COMMON) for _ in range(30)))
        for i in range(n)
    ]


PARAMS = TrainParams(epoch=10, dim=16)


def test_train_reports_heldout_precision_recall_and_scores(tmp_path):
    out = tmp_path / "finance.bin"
    report = train_classifier(
        labeled_docs(FINANCE, 150, 1), labeled_docs(GENERAL, 150, 2), "finance", str(out),
        seed=7, holdout=0.2, params=PARAMS,
    )
    assert report.train["finance"] + report.heldout["finance"] == 150
    assert report.heldout["finance"] > 10 and report.heldout["other"] > 10
    assert report.precision > 0.9 and report.recall > 0.9
    assert json.loads((tmp_path / "finance.bin.json").read_text())["label"] == "finance"
    model = load_fasttext(str(out))
    finance = label_probability(model, "the revenue and dividend guidance for investors this quarter", "finance")
    general = label_probability(model, "a walk by the river to the village festival", "finance")
    assert finance > 0.5 > general
    assert label_probability(model, "anything", "unknown-label") == 0.0


def test_training_is_deterministic(tmp_path):
    args = (labeled_docs(FINANCE, 60, 3), labeled_docs(GENERAL, 60, 4), "finance")
    train_classifier(*args, str(tmp_path / "a.bin"), seed=5, params=PARAMS)
    train_classifier(*args, str(tmp_path / "b.bin"), seed=5, params=PARAMS)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert (tmp_path / "a.bin.json").read_text() == (tmp_path / "b.bin.json").read_text()


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="both classes"):
        train_classifier(labeled_docs(FINANCE, 5, 1), [], "finance", str(tmp_path / "m.bin"))
    with pytest.raises(ValueError, match="word_ngrams"):
        train_classifier(labeled_docs(FINANCE, 5, 1), labeled_docs(GENERAL, 5, 1), "finance", str(tmp_path / "m.bin"),
                         params=TrainParams(word_ngrams=1))
    with pytest.raises(ValueError, match="one word"):
        train_classifier(labeled_docs(FINANCE, 5, 1), labeled_docs(GENERAL, 5, 1), "two words", str(tmp_path / "m.bin"))


def test_precision_recall():
    r = precision_recall([True, True, False, False], [True, False, True, False])
    assert r == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.5}
    assert precision_recall([False], [False])["precision"] is None


def test_cli_train(tmp_path, capsys):
    pos, neg = tmp_path / "pos.jsonl.gz", tmp_path / "neg.txt"
    with gzip.open(pos, "wt", encoding="utf-8") as f:
        for key, text in labeled_docs(FINANCE, 80, 8):
            f.write(json.dumps({"id": key, "body": text}) + "\n")
    neg.write_text("".join(text + "\n" for _, text in labeled_docs(GENERAL, 80, 9)), encoding="utf-8")
    model = tmp_path / "models" / "fin.bin"
    rc = cli_main([
        "classifier", "train", "--positive", str(pos), "--negative", str(tmp_path / "neg*.txt"),
        "--output", str(model), "--label", "finance", "--text-field", "body", "--epoch", "10", "--dim", "16",
    ])
    out = capsys.readouterr().out
    assert rc == 0 and model.exists()
    assert "held-out precision" in out
    assert json.loads((tmp_path / "models" / "fin.bin.json").read_text())["train"]["finance"] > 50
    assert cli_main(["classifier", "train", "--positive", str(tmp_path / "missing*.jsonl"),
                     "--negative", str(neg), "--output", str(model)]) == 2
