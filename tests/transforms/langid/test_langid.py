"""Language identification with the shipped lid.176 model."""
from __future__ import annotations

import hashlib
import json
import shutil
from importlib import resources

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.stages.quality import LangIdConfig
from pilewright.schemas.records import Document
from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, load_fasttext, local_model_path
from pilewright.transforms.langid.stage import LangId, langid_reason, predict_top

SENTENCES = {
    "en": "The central bank raised interest rates by a quarter point on Tuesday.",
    "de": "Die Zentralbank hat am Dienstag die Zinsen um einen Viertelpunkt angehoben.",
    "fr": "La banque centrale a relevé ses taux d'intérêt d'un quart de point mardi.",
    "es": "El banco central subió los tipos de interés un cuarto de punto el martes.",
    "ja": "中央銀行は火曜日に金利を0.25ポイント引き上げた。",
}


@pytest.fixture(scope="module")
def model():
    return load_fasttext(local_model_path(DEFAULT_LANGID_MODEL))


def test_shipped_model_is_the_official_lid176():
    path = resources.files("pilewright.transforms") / "models" / DEFAULT_LANGID_MODEL
    data = path.read_bytes()
    assert len(data) == 938013
    digest = hashlib.sha256(data).hexdigest()
    assert digest.startswith("8f3472cf") and digest.endswith("db603e83")
    names = {p.name for p in (resources.files("pilewright.transforms") / "models").iterdir()}
    assert {"LICENSE-lid.176.txt", "ATTRIBUTION.md"} <= names


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_predicts_languages(model, lang):
    got, score = predict_top(model, SENTENCES[lang])
    assert got == lang and 0.5 < score <= 1.0


def test_multiline_and_odd_input(model):
    lang, _ = predict_top(model, "First line of English text.\nSecond line, also English.\r\nThird.")
    assert lang == "en"
    lang, score = predict_top(model, "")
    assert isinstance(lang, str) and 0.0 <= score <= 1.0
    assert predict_top(model, "broken \ud800 surrogate in English text")[0] == "en"


def test_reasons():
    cfg = LangIdConfig(languages=["en", "de"], min_score=0.65)
    assert langid_reason("en", 0.9, cfg) is None
    assert langid_reason("fr", 0.99, cfg) == "not_in_languages"
    assert langid_reason("de", 0.3, cfg) == "low_score"
    assert langid_reason("fr", 0.3, LangIdConfig(languages=[], min_score=0.2)) is None


def test_stage_annotates_filters_and_counts_languages(tmp_path):
    docs = [Document(id=f"s/{k}", text=v, source="s", domain="general") for k, v in SENTENCES.items()]
    # a user model path (here a copy of the shipped model) is loaded the same way
    custom = tmp_path / "my-lid.ftz"
    shutil.copyfile(local_model_path(DEFAULT_LANGID_MODEL), custom)
    with TestPipeline() as p:
        res = p | beam.Create(docs) | LangId(LangIdConfig(languages=["en", "de"], model=str(custom)))
        assert_that(res.main | "Kept" >> beam.Map(lambda d: (d.id, d.lang, d.lang_score > 0.65)),
                    equal_to([("s/en", "en", True), ("s/de", "de", True)]), label="kept")
        assert_that(res.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([(f"s/{k}", "not_in_languages") for k in ("es", "fr", "ja")]), label="rejected")
        assert_that(res.stats | "Stats" >> beam.MapTuple(lambda k, v: (k, json.loads(v))),
                    equal_to([("languages", {k: 1 for k in SENTENCES})]), label="stats")
