"""The langid stage's second detector (lingua) where lid.176 is unsure, as on short text (issue 27)."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.records import Document
from pilewright.schemas.stages.quality import LangIdConfig
from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, load_fasttext, local_model_path
from pilewright.transforms.langid.stage import LangId, SecondDetector, identify, predict_top

# short sentences lid.176 gets wrong or is unsure of (written for this test)
SHORT = {
    "so": "Ardayda waxay u socdaan dugsiga subax kasta.",
    "yo": "Àwọn ọmọdé ń ṣeré ní ọgbà ilé-ìwé.",
    "af": "Ons het gister baie lekker geëet by my ouma se huis.",
}
ENGLISH = "The central bank raised interest rates by a quarter point on Tuesday."


@pytest.fixture(scope="module")
def model():
    return load_fasttext(local_model_path(DEFAULT_LANGID_MODEL))


@pytest.fixture(scope="module")
def second():
    return SecondDetector()


@pytest.mark.parametrize("lang", sorted(SHORT))
def test_second_detector_decides_where_lid176_is_unsure(model, second, lang):
    text = SHORT[lang]
    lid_lang, lid_score = predict_top(model, text)
    assert lid_score < LangIdConfig().second_below  # lid.176 alone is unsure (and for so, yo: wrong)
    got, score = identify(model, text, LangIdConfig(), second)
    assert got == lang and score > lid_score
    assert identify(model, text, LangIdConfig(second_detector="none"), second) == (lid_lang, lid_score)
    assert identify(model, text, LangIdConfig(), None) == (lid_lang, lid_score)


class _Spy:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def top(self, text):
        self.calls += 1
        return self.inner.top(text)


def test_confident_lid176_is_kept_without_asking(model, second):
    spy = _Spy(second)
    assert identify(model, ENGLISH, LangIdConfig(), spy) == predict_top(model, ENGLISH)
    assert spy.calls == 0
    identify(model, SHORT["so"], LangIdConfig(), spy)
    assert spy.calls == 1


def test_the_more_confident_answer_wins(model):
    class Unsure:
        def top(self, text):
            return "la", 0.01

    text = "Net income rose."
    assert identify(model, text, LangIdConfig(), Unsure()) == predict_top(model, text)


def test_second_detector_reads_a_bounded_head(model):
    seen = []

    class Recorder:
        def top(self, text):
            seen.append(text)
            return None

    long_text = " ".join([SHORT["so"]] * 200)
    identify(model, long_text, LangIdConfig(second_max_chars=100), Recorder())
    assert seen and len(seen[0]) <= 100 and long_text.startswith(seen[0])


def test_lingua_codes_are_lid176_codes(second):
    got = second.top("Jeg har bodd i Oslo i mange år, og jeg trives veldig godt i byen med familien min.")
    assert got is not None and got[0] in {"no", "nn", "da"}
    assert second.top("") is None


def test_stage_annotates_with_the_second_detector():
    docs = [Document(id=f"d{lang}", text=text, source="s", domain="general") for lang, text in SHORT.items()]
    docs.append(Document(id="den", text=ENGLISH, source="s", domain="general"))
    with TestPipeline() as p:
        res = p | beam.Create(docs) | LangId(LangIdConfig(languages=[], min_score=0.5))
        assert_that(res.main | beam.Map(lambda d: (d.id, d.lang)),
                    equal_to([("dso", "so"), ("dyo", "yo"), ("daf", "af"), ("den", "en")]))


def test_a_document_lid176_keeps_is_not_re_read(model, second):
    text = "Profit beat estimates again."
    lang, score = predict_top(model, text)
    assert lang == "en" and 0.65 <= score < 0.9  # kept by lid.176, though unsure
    spy = _Spy(second)
    assert identify(model, text, LangIdConfig(languages=["en"], min_score=0.65), spy) == (lang, score)
    assert spy.calls == 0
    identify(model, text, LangIdConfig(languages=[]), spy)  # annotate every language: re-read
    identify(model, text, LangIdConfig(languages=["en"], min_score=0.8), spy)  # below min_score: re-read
    assert spy.calls == 2


def test_a_missing_lingua_is_a_user_error(monkeypatch):
    import sys

    from pilewright.schemas.errors import UserError

    monkeypatch.setitem(sys.modules, "lingua", None)  # import lingua raises ImportError
    with pytest.raises(UserError, match="second_detector: none"):
        SecondDetector()
