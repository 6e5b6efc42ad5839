"""Optional NER (PERSON, LOCATION): with a spaCy pipeline installed, it runs on the stage's chunks and is
counted like every other entity.

No trained spaCy model is installable offline here, so the test builds the smallest pipeline that has
named entities: a blank English pipeline with an EntityRuler, saved to a folder (``ner_model`` accepts a
model folder as well as an installed package name). What is checked is the wiring, not NER quality.
"""
from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pilewright.schemas.stages.pii import PIIConfig
from pilewright.schemas.records import Document
from pilewright.transforms.pii.stage import RedactPII
from pilewright.transforms.pii.scan import PiiScanner

spacy = pytest.importorskip("spacy")

PEOPLE = ("Ada Quellwright", "Birger Tollefsen")
PLACES = ("Tromsø", "Kirkenes")


@pytest.fixture(scope="module")
def tiny_ner(tmp_path_factory) -> str:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": p} for p in PEOPLE]
                       + [{"label": "GPE", "pattern": p} for p in PLACES])
    path = tmp_path_factory.mktemp("ner") / "tiny_ner"
    nlp.to_disk(path)
    return str(path)


def config(model: str) -> PIIConfig:
    return PIIConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "LOCATION"], ner_model=model,
                     chunk_chars=512, chunk_overlap=64)


def long_text() -> str:
    """Names and places spread over several 512-character chunks, with an address and a number."""
    filler = "The committee reviewed the quarterly figures and the audit notes in detail. " * 3
    parts = []
    for i, (person, place) in enumerate(zip(PEOPLE * 3, PLACES * 3)):
        parts.append(f"{filler}{person} wrote from {place} on day {i}.")
    parts.append("Reply to ada.quellwright@fjordpost.no or call +47 22 33 44 55.")
    return " ".join(parts)


def test_ner_runs_on_the_chunks_and_is_counted(tiny_ner):
    scanner = PiiScanner(config(tiny_ner))
    report = scanner.bundle.report(config(tiny_ner))
    assert scanner.bundle.uses_ner and report["spacy_ner"]["available"] and report["spacy_ner"]["model"] == tiny_ner
    assert "SpacyRecognizer" in [r["name"] for r in report["recognizers"]]
    text = long_text()
    assert len(text) > 3 * 512  # several chunks
    red = scanner.redact_text(text)
    assert red.counts == {"EMAIL_ADDRESS": 1, "LOCATION": 6, "PERSON": 6, "PHONE_NUMBER": 1}
    assert not any(v in red.text for v in PEOPLE + PLACES + ("ada.quellwright",))
    assert red.analyzed_chars >= len(text)  # NER sees all of the text, not only pre-screen windows


def test_the_stage_reports_ner_entities_like_the_others(tiny_ner):
    docs = [Document(id="a", text=long_text(), source="mail", domain="general"),
            Document(id="b", text="Nothing personal here.", source="mail", domain="general")]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | RedactPII(config(tiny_ner))

        def check(items):
            stats = dict(items)
            totals = json.loads(stats["entities_by_source"])["total"]
            assert totals == {"documents_with_pii": 1,
                              "entities": {"EMAIL_ADDRESS": 1, "LOCATION": 6, "PERSON": 6, "PHONE_NUMBER": 1}}
            assert json.loads(stats["found_and_left"])["PERSON"] == {"redacted": 6}
            assert json.loads(stats["recognizers"])["spacy_ner"]["available"] is True

        assert_that(res.stats, check)
