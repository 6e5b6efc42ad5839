"""The quality stage in a pipeline: signals on every document, reasons, classifiers, dead letters."""
from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.stages.quality import ClassifierConfig, QualityConfig
from pilewright.schemas.records import Document
from pilewright.transforms.quality import rules as quality_rules
from pilewright.transforms.quality.classifier import TrainParams, train_classifier
from pilewright.transforms.quality.stage import QualityFilter
from conftest import assert_conserved


def prose(seed: int, n_sentences: int = 12) -> str:
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mir", "ten", "sa", "vo", "rel", "dun", "pi", "gor", "ne", "tas"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))) for _ in range(300)]
    stop = ["the", "of", "and", "to", "with", "that", "be", "in"]
    lines = []
    for _ in range(n_sentences):
        words = [rng.choice(stop) if rng.random() < 0.3 else rng.choice(vocab) for _ in range(rng.randint(9, 14))]
        lines.append(words[0].capitalize() + " " + " ".join(words[1:]) + ".")
    return "\n".join(lines)


def doc(name: str, text: str) -> Document:
    return Document(id=f"web/{name}", text=text, source="web", domain="general")


DOCS = [
    doc("good1", prose(1)),
    doc("good2", prose(2)),
    doc("short", "Too short to be a page."),
    doc("lorem", prose(3) + "\nLorem ipsum dolor sit amet, consectetur adipiscing."),
    doc("menu", "\n".join(f"Home About Contact Page {i}" for i in range(40))),
]


def test_stage_reasons_and_signals():
    cfg = QualityConfig()
    with TestPipeline() as p:
        res = p | beam.Create(DOCS) | QualityFilter(cfg)
        assert_that(res.main | "Kept" >> beam.Map(lambda d: d.id), equal_to(["web/good1", "web/good2"]), label="kept")
        assert_that(
            res.rejected | "Reasons" >> beam.Map(lambda r: (r.id, r.stage, r.reason)),
            equal_to([
                # gopher_repetition comes first: in 6 words the first 2-gram alone is 39% of the characters
                ("web/short", "quality", "gopher_repetition:top_2_gram"),
                ("web/lorem", "quality", "c4:lorem_ipsum"),
                ("web/menu", "quality", "gopher_repetition:top_2_gram"),
            ]),
            label="rejected",
        )
        assert_that(res.errors, equal_to([]), label="errors")
        # every rule set's signals are on every kept document
        families = {"gopher_repetition", "gopher_quality", "c4", "fineweb"}
        assert_that(
            res.main | "Families" >> beam.Map(lambda d: {k.split(":")[0] for k in d.quality} >= families),
            equal_to([True, True]),
            label="signals",
        )


def _train(tmp_path) -> str:
    rng = random.Random(0)
    fin = ["revenue", "earnings", "dividend", "margin", "guidance", "fiscal", "shares", "profit"]
    gen = ["garden", "river", "music", "recipe", "forest", "village", "festival", "poem"]
    make = lambda vocab, n: [(str(i), " ".join(rng.choice(vocab + ["the", "of", "and"]) for _ in range(25))) for i in range(n)]  # noqa: E731
    model = str(tmp_path / "finance.bin")
    train_classifier(make(fin, 80), make(gen, 80), "finance", model, seed=3, params=TrainParams(epoch=10, dim=16))
    return model


def test_stage_scores_classifiers(tmp_path):
    model = _train(tmp_path)
    finance = doc("fin", "The revenue and the dividend guidance and the fiscal margin of the shares.")
    garden = doc("gar", "The garden and the river and the village festival of the music and a poem.")
    cfg = QualityConfig(rules=[], classifiers=[ClassifierConfig(model=model, label="finance", min_score=0.5)])
    with TestPipeline() as p:
        res = p | beam.Create([finance, garden]) | QualityFilter(cfg)
        assert_that(res.main | "Kept" >> beam.Map(lambda d: (d.id, d.quality["classifier:finance"] > 0.5)),
                    equal_to([("web/fin", True)]), label="kept")
        assert_that(res.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([("web/gar", "classifier:finance")]), label="rejected")


def test_a_failing_document_becomes_a_dead_letter_and_nothing_is_lost(monkeypatch):
    original = quality_rules.RuleScorer.score_batch

    def score_batch(self, texts, langs=None):
        if any("BOOM" in t for t in texts):
            raise RuntimeError("cannot score")
        return original(self, texts, langs)

    monkeypatch.setattr(quality_rules.RuleScorer, "score_batch", score_batch)
    docs = DOCS + [doc("boom", "BOOM " + prose(9))]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | QualityFilter(QualityConfig())
        assert_that(res.errors | "Errors" >> beam.Map(lambda e: (e.doc_id, e.stage, e.error_type)),
                    equal_to([("web/boom", "quality", "RuntimeError")]), label="errors")
        assert_conserved(res, len(docs))


def test_c4_cleaning_changes_kept_text_only():
    text = prose(4) + "\nNavigation menu without an end mark"
    cfg = QualityConfig(rules=["c4"])
    with TestPipeline() as p:
        res = p | beam.Create([doc("nav", text)]) | QualityFilter(cfg)
        assert_that(res.main | beam.Map(lambda d: "Navigation" in d.text), equal_to([False]))


@pytest.mark.parametrize("rules", [["fineweb"], ["gopher_quality", "c4_tfds"]])
def test_config_round_trip(rules):
    cfg = QualityConfig.model_validate({"rules": rules, "c4_tfds": {"min_num_sentences": 2}})
    assert cfg.rules == rules and cfg.c4_tfds.min_num_sentences == 2
