"""C4's bad-words rule: datatrove's matching (word boundaries, ja/th/zh inside words, allowlist), per
language, on C4's cleaned text, and its reason in the quality stage. Lists are written by the test."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.stages.quality import BadWordsConfig, QualityConfig
from pilewright.schemas.records import Document
from pilewright.transforms.quality.stage import QualityFilter
from pilewright.transforms.quality.c4 import BadWords, bad_words_pattern
from pilewright.transforms.quality.rules import RuleScorer

GOOD = ("The committee met on Tuesday to review the budget for the coming year. "
        "Members discussed the new library and the repairs to the bridge. "
        "The chair thanked the volunteers who organised the spring fair. "
        "A vote on the proposal will take place next month. "
        "Residents are invited to send their comments before then.")


def test_pattern_matches_whole_words_only_and_phrases():
    p = bad_words_pattern(["darn\n", "heck it\n"], "en")
    assert p.search("well, darn.") and p.search("darn") and p.search("oh heck it!")
    assert not p.search("darned") and not p.search("undarn") and not p.search("heck its")


def test_pattern_without_word_boundaries_and_allowlist():
    p = bad_words_pattern(["性\n", "坏蛋\n"], "zh")
    assert p.search("他是坏蛋们")  # inside a run of characters
    assert not p.search("性别")  # allowlisted for every language, as datatrove does
    assert not bad_words_pattern(["sm", "xx"], "en").search("sm")


def test_bad_words_per_language_and_default(tmp_path):
    en = tmp_path / "en.txt"
    en.write_text("darn\nheck\n")
    fr = tmp_path / "fr.txt"
    fr.write_text("zut\n")
    bw = BadWords(BadWordsConfig(lists={"en": str(en), "fr": str(fr)}))
    assert bw.found("Darn it", None) is True  # default language en, lowercased text
    assert bw.found("zut alors", "en") is False
    assert bw.found("zut alors", "fr") is True
    assert bw.found("darn", "de") is None  # no list: not judged
    assert not BadWords(BadWordsConfig())


def test_rule_scorer_judges_the_cleaned_text(tmp_path):
    en = tmp_path / "en.txt"
    en.write_text("darn\n")
    cfg = QualityConfig(rules=["c4"], c4={"bad_words": {"lists": {"en": str(en)}}})
    scorer = RuleScorer(cfg)
    assert scorer.score(GOOD).reason is None
    assert scorer.score(GOOD).signals["c4:bad_words"] == 0.0
    assert scorer.score(GOOD + " Darn, they said.", "en").reason == "c4:bad_words"
    # the word is on a line C4 removes (no end mark): the cleaned text is clean
    assert scorer.score(GOOD + "\ndarn menu link", "en").reason is None
    assert "c4:bad_words" not in scorer.score(GOOD + " Darn, they said.", "de").signals


def test_quality_stage_drops_with_bad_words_reason(tmp_path):
    en = tmp_path / "en.txt"
    en.write_text("darn\n")
    cfg = QualityConfig(rules=["c4"], c4={"bad_words": {"lists": {"en": str(en)}}})
    docs = [Document(id="a", text=GOOD, source="s", domain="d", lang="en"),
            Document(id="b", text=GOOD + " Darn, they said.", source="s", domain="d", lang="en")]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | QualityFilter(cfg)
        assert_that(res.main | beam.Map(lambda d: d.id), equal_to(["a"]), label="kept")
        assert_that(res.rejected | beam.Map(lambda r: (r.id, r.reason)), equal_to([("b", "c4:bad_words")]), label="r")
