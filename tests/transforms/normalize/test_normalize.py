"""Normalization: repairs what is broken, never changes clean text, idempotent."""
from __future__ import annotations

import unicodedata

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.schemas.stages.quality import NormalizeConfig
from pilewright.schemas.records import Document
from pilewright.transforms.normalize.stage import Normalize, Normalizer, normalize_text

NORMALIZE = Normalizer(NormalizeConfig())


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.", "The Mona Lisa doesn’t have eyebrows."),  # mojibake
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("\ufeffBOM\x00 and\x07 bell", "BOM and bell"),  # control characters
        ("a  b\t\tc\u00a0 d", "a b c d"),  # horizontal whitespace runs
        ("line one   \n   line two", "line one\nline two"),  # line ends
        ("p1\r\n\r\n\r\n\r\np2\rp3", "p1\n\np2\np3"),  # line breaks and blank-line runs
        ("\n\n  text  \n\n", "text"),
        ("ﬁnancial", "financial"),  # ligature
        ("AT&amp;T reports", "AT&T reports"),  # HTML entity without markup
    ],
)
def test_repairs(raw, clean):
    assert normalize_text(raw) == clean


def test_legitimate_typography_is_kept():
    text = "“Curly quotes” and ‘single’ stay; full-width ＡＢＣ too; naïve café — ok."
    assert normalize_text(text) == text


def test_configurable():
    cfg = NormalizeConfig(collapse_spaces=False, strip_lines=False, max_blank_lines=None, fix_unicode=False)
    text = "a  b  \n\n\n\nc"
    assert normalize_text(text, cfg) == text
    assert normalize_text("a\n\n\n\nb", NormalizeConfig(max_blank_lines=0)) == "a\nb"


# no "œ": it is a cp1252 byte (0x9C), so "œß" alone is the mojibake of "ϧ" and ftfy rightly repairs it
WORD = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789éüñçøßæàèìòù" "日本語中文한국어абвгдежзαβγδ")),
    min_size=1,
    max_size=8,
)
PUNCT = st.sampled_from(["", "", "", ".", ",", "!", "?", ";", ":", "'s", "%", ")", "”", "…"])
LINE = st.lists(st.tuples(WORD, PUNCT).map("".join), min_size=1, max_size=8).map(" ".join)
PARAGRAPH = st.lists(LINE, min_size=1, max_size=4).map("\n".join)
CLEAN_TEXT = st.lists(PARAGRAPH, min_size=1, max_size=4).map("\n\n".join)


@settings(max_examples=200, deadline=None, derandomize=True)  # the same examples on every machine
@given(CLEAN_TEXT)
def test_clean_text_is_never_changed(text):
    assert unicodedata.is_normalized("NFC", text)
    assert NORMALIZE(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_idempotent(text):
    once = NORMALIZE(text)
    assert NORMALIZE(once) == once


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aÃ©â€™ \t\n\r\x00\x85\u2028ﬁ&;amp")), max_size=60))
def test_idempotent_on_mojibake_like_input(text):
    once = NORMALIZE(text)
    assert NORMALIZE(once) == once


def doc(i, text):
    return Document(id=f"s/{i}", text=text, source="s", domain="general")


def test_stage_routes_every_document():
    docs = [doc(0, "Clean text."), doc(1, "needs  fixing  "), doc(2, " \n\t \x00 ")]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Normalize(NormalizeConfig())
        assert_that(res.main | "Texts" >> beam.Map(lambda d: (d.id, d.text)),
                    equal_to([("s/0", "Clean text."), ("s/1", "needs fixing")]), label="kept")
        assert_that(res.rejected | "Reasons" >> beam.Map(lambda r: (r.id, r.stage, r.reason)),
                    equal_to([("s/2", "normalize", "empty")]), label="rejected")
        assert_that(res.errors, equal_to([]), label="errors")


# --- the fast paths give ftfy's and the regexes' results ----------------------------------------------------

# what ftfy and the whitespace rules react to: mojibake pieces, entities, tags, controls, odd spaces and breaks
_TRICKY = st.sampled_from(["Ã©", "Ã¢â‚¬â„¢", "â€œ", "&amp;", "&lt;", "&#39;", "<b>", "\x1b[31m", "\x00", "\x07",
                           "\x7f", "\x85", "\r", "\r\n", "\x0b", "\x0c", "\u2028", "\ufeff", "ﬁ", "\ud800",
                           "\u00a0", "\u3000", "\t", " ", "  ", "\n", "\n\n\n", "é", "naïve", "plain ascii"])
_TEXTS = st.lists(st.one_of(_TRICKY, st.text(max_size=8)), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXTS, st.sampled_from([True, False]))
def test_fix_segments_is_ftfy_fix_text(text, unescape):
    import ftfy

    from pilewright.transforms.normalize.stage import _ftfy_config, fix_segments

    config = _ftfy_config(NormalizeConfig(unescape_html=unescape))
    memo: dict = {}
    assert fix_segments(text, config, memo) == ftfy.fix_text(text, config=config)
    # a second call answers from the memo for segments seen: still the same
    assert fix_segments(text, config, memo) == ftfy.fix_text(text, config=config)


def test_fix_segments_follows_ftfy_turning_html_off_at_the_first_tag():
    import ftfy

    from pilewright.transforms.normalize.stage import _ftfy_config, fix_segments

    config = _ftfy_config(NormalizeConfig())
    text = "a &amp; b\n<p>tag</p>\nc &amp; d\n"
    assert fix_segments(text, config, {}) == ftfy.fix_text(text, config=config) == text.replace("a &amp;", "a &", 1)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_collapse_and_strip_is_the_two_substitutions(text):
    from pilewright.transforms.normalize.stage import _HSPACE_AT_LINE_ENDS, _HSPACE_RUN, collapse_and_strip

    assert collapse_and_strip(text) == _HSPACE_AT_LINE_ENDS.sub("", _HSPACE_RUN.sub(" ", text)).strip()
