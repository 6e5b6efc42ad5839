"""Each quality rule on hand-made texts that must pass and texts that must fail, with its reason code."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.schemas.stages.quality import (
    C4Config,
    FineWebConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    QualityConfig,
)
from pilewright.transforms.quality.c4 import c4_signals
from pilewright.transforms.quality.rules import RuleScorer
from pilewright.transforms.quality.spacy_words import TextAnalyzer


@pytest.fixture(scope="module")
def analyzer():
    return TextAnalyzer(stop_words=GopherQualityConfig().stop_words)


def score(analyzer, rule, text, **cfg):
    config = QualityConfig(rules=[rule], **cfg)
    return RuleScorer(config, analyzer).score(text)


def prose(n_words: int, seed: int = 0, per_line: int = 3) -> str:
    """Varied English-like prose: random sentences over a few hundred made-up words and the common stop
    words, so no n-gram dominates and no line repeats."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mir", "ten", "sa", "vo", "rel", "dun", "pi", "gor", "ne", "tas", "bel", "qui"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))) for _ in range(400)]
    stop = ["the", "of", "and", "to", "with", "that", "be", "have", "in", "a"]
    sentences, n = [], 0
    while n < n_words:
        k = rng.randint(8, 16)
        words = [rng.choice(stop) if rng.random() < 0.3 else rng.choice(vocab) for _ in range(k)]
        sentences.append(words[0].capitalize() + " " + " ".join(words[1:]) + ".")
        n += k
    lines = [" ".join(sentences[i : i + per_line]) for i in range(0, len(sentences), per_line)]
    return "\n".join(lines)


# -- gopher_quality --------------------------------------------------------------------------------------
GOOD = prose(120)


def test_gopher_quality_keeps_prose(analyzer):
    s = score(analyzer, "gopher_quality", GOOD)
    assert s.reason is None
    assert s.signals["gopher_quality:word_count"] >= 100
    assert s.signals["gopher_quality:stop_words"] >= 2


@pytest.mark.parametrize(
    "text,cfg,reason",
    [
        ("A short note with the words of it.", {}, "too_few_words"),
        (GOOD, {"max_doc_words": 20}, "too_many_words"),
        (" ".join(["a b c of the and"] * 20), {}, "short_words"),
        (" ".join(["internationalization extraordinarily incomprehensibilities the and"] * 20), {}, "long_words"),
        (GOOD + " #tag" * 40, {}, "hash_ratio"),
        (GOOD + " wait..." * 40, {}, "ellipsis_ratio"),
        ("\n".join(f"- item {i} of the list and more words here" for i in range(30)), {}, "bullet_lines"),
        ("\n".join(f"line {i} of the story and then it went on..." for i in range(30)), {}, "ellipsis_lines"),
        (" ".join(f"{i * 1000003} {i * 7777777} of the {i + 123456} and" for i in range(40)), {}, "alpha_words"),
        (" ".join(f"market report number {i} shows strong results today" for i in range(12)), {}, "stop_words"),
    ],
)
def test_gopher_quality_reasons(analyzer, text, cfg, reason):
    s = score(analyzer, "gopher_quality", text, gopher_quality=GopherQualityConfig(**cfg))
    assert s.reason == f"gopher_quality:{reason}"


def test_gopher_quality_null_threshold_turns_a_check_off(analyzer):
    text = "A short note with the words of it."
    s = score(analyzer, "gopher_quality", text, gopher_quality=GopherQualityConfig(min_doc_words=None))
    assert s.reason is None or s.reason != "gopher_quality:too_few_words"


# -- gopher_repetition -------------------------------------------------------------------------------------
def test_gopher_repetition_keeps_prose(analyzer):
    s = score(analyzer, "gopher_repetition", prose(400, seed=3))
    assert s.reason is None
    assert 0 < s.signals["gopher_repetition:top_2_gram_char_frac"] <= 0.2


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("\n\n".join(["Same paragraph here."] * 4 + [prose(30)]), "dup_para_frac"),
        ("\n".join(["A repeated line of text."] * 5 + ["unique " * 3, "other " * 3, "third " * 3]), "dup_line_frac"),
        (prose(80, 8, per_line=1) + "\n" + "\n".join([prose(60, 9).replace("\n", " ")] * 2), "dup_line_char_frac"),
        (" ".join(["buy now"] * 40) + " " + prose(80), "top_2_gram"),
        (" ".join([prose(60, 1), prose(60, 2), prose(60, 2), prose(60, 3)]).replace("\n", " "), "dup_5_gram"),
    ],
)
def test_gopher_repetition_reasons(analyzer, text, reason):
    assert score(analyzer, "gopher_repetition", text).reason == f"gopher_repetition:{reason}"


def test_gopher_repetition_thresholds_are_configurable(analyzer):
    text = " ".join(["buy now"] * 40) + " " + prose(80)
    loose = GopherRepetitionConfig(top_n_grams={2: 0.9, 3: 0.9, 4: 0.9}, dup_n_grams={5: 0.9})
    assert score(analyzer, "gopher_repetition", text, gopher_repetition=loose).reason is None


# -- c4 ------------------------------------------------------------------------------------------------
C4_GOOD = "\n".join(
    [
        "The first line is a complete sentence.",
        "Menu Home About",  # no end mark: removed
        "The second line has two sentences. Here is the other one.",
        "A citation follows this claim.[1]",
        "Please enable javascript to view this site.",  # removed
        "Read our privacy policy before you continue.",  # removed
        "Another sentence ends with a question mark?",
        "And this one ends in an exclamation mark!",
    ]
)


def test_c4_keeps_and_cleans(analyzer):
    s = score(analyzer, "c4", C4_GOOD)
    assert s.reason is None
    assert s.signals["c4:num_sentences"] == 6
    assert s.signals["c4:kept_lines"] == 5
    assert "Menu Home About" not in s.text and "javascript" not in s.text and "privacy" not in s.text
    assert "A citation follows this claim." in s.text and "[1]" not in s.text


def test_c4_keeps_the_text_when_remove_lines_is_off(analyzer):
    s = score(analyzer, "c4", C4_GOOD, c4=C4Config(remove_lines=False))
    assert s.reason is None and s.text == C4_GOOD


@pytest.mark.parametrize(
    "extra,reason",
    [
        ("Lorem ipsum dolor sit amet, consectetur.", "lorem_ipsum"),
        ("The config is { debug: true } here.", "curly_bracket"),
    ],
)
def test_c4_page_rules(analyzer, extra, reason):
    assert score(analyzer, "c4", C4_GOOD + "\n" + extra).reason == f"c4:{reason}"


def test_c4_too_few_sentences(analyzer):
    s = score(analyzer, "c4", "Only one sentence here.\nAnd a second one here.")
    assert s.reason == "c4:too_few_sentences" and s.signals["c4:num_sentences"] == 2


def test_c4_javascript_line_with_bracket_is_removed_not_fatal(analyzer):
    # the javascript rule removes the line before the curly-bracket rule sees it
    s = score(analyzer, "c4", C4_GOOD + "\nThis javascript snippet { x } is gone.")
    assert s.reason is None


def test_c4_variants_differ_where_documented(analyzer):
    four_lines = "\n".join(f"Line number {w} has six words." for w in ("one", "two", "three", "four"))
    assert score(analyzer, "c4", four_lines).reason == "c4:too_few_sentences"  # needs 5
    assert score(analyzer, "c4_tfds", four_lines).reason is None  # needs 3, lines have >= 5 words
    assert score(analyzer, "c4_paper", four_lines).reason == "c4_paper:too_few_sentences"
    quoted = C4_GOOD + "\nHe said it was 'fine'"
    assert score(analyzer, "c4", quoted).signals["c4:kept_lines"] == 6  # "'" ends a line in datatrove
    assert score(analyzer, "c4_tfds", quoted).signals["c4_tfds:kept_lines"] == 5  # not an end mark in TFDS


# -- fineweb -------------------------------------------------------------------------------------------
def test_fineweb_keeps_prose(analyzer):
    s = score(analyzer, "fineweb", prose(200, seed=4))
    assert s.reason is None
    assert s.signals["fineweb:line_punct_ratio"] == 1.0


@pytest.mark.parametrize(
    "text,reason",
    [
        ("\n \n", "empty"),
        ("\n".join(f"Menu entry number {i} without any punctuation" for i in range(20)), "line_punct_ratio"),
        ("\n".join(f"Short {i}." for i in range(20)), "short_line_ratio"),
        (prose(200, 5) + "\n" + "\n".join(["A sentence that appears twice in the text."] * 2), "char_dup_ratio"),
        ("\n".join(f"Extraordinarily{i} comprehensiveness{i}." for i in range(30)), "list_ratio"),
    ],
)
def test_fineweb_reasons(analyzer, text, reason):
    assert score(analyzer, "fineweb", text).reason == f"fineweb:{reason}"


def test_fineweb_exclude_zero(analyzer):
    text = "\n".join(f"Menu entry number {i} without any punctuation marks at all" for i in range(20))
    s = score(analyzer, "fineweb", text, fineweb=FineWebConfig(line_punct_exclude_zero=True))
    assert s.reason != "fineweb:line_punct_ratio"


# -- the rule sets together ----------------------------------------------------------------------------
def test_reason_is_first_failing_rule_set_in_order(analyzer):
    text = "Too short."
    a = RuleScorer(QualityConfig(rules=["gopher_quality", "c4"]), analyzer).score(text)
    b = RuleScorer(QualityConfig(rules=["c4", "gopher_quality"]), analyzer).score(text)
    assert a.reason.startswith("gopher_quality:") and b.reason.startswith("c4:")
    # every configured rule set's signals are there, whatever failed first
    assert any(k.startswith("c4:") for k in a.signals) and any(k.startswith("gopher_quality:") for k in a.signals)


def test_rule_sets_after_c4_judge_its_cleaned_text(analyzer):
    # navigation lines without end marks: C4 removes them, and FineWeb after it sees only the prose
    nav = [f"Section {w}" for w in ("alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta")] * 3
    body = prose(120, seed=3).splitlines()
    text = "\n".join(nav[:12] + body + nav[12:])
    before = RuleScorer(QualityConfig(rules=["fineweb", "c4"]), analyzer).score(text)
    after = RuleScorer(QualityConfig(rules=["c4", "fineweb"]), analyzer).score(text)
    assert before.reasons["fineweb"] is not None  # the raw page fails FineWeb
    assert after.reasons["c4"] is None and after.reasons["fineweb"] is None
    assert after.text == before.text and "Section" not in after.text  # both keep C4's cleaned lines
    assert after.signals["fineweb:line_punct_ratio"] > before.signals["fineweb:line_punct_ratio"]
    # a batch gives the same scores as one text at a time, also when C4 changed the text
    scorer = RuleScorer(QualityConfig(rules=["c4", "gopher_repetition", "gopher_quality", "fineweb"]), analyzer)
    texts = [text, prose(80, seed=5), C4_GOOD]
    assert scorer.score_batch(texts) == [scorer.score(t) for t in texts]


def test_batch_scores_equal_single_scores(analyzer):
    scorer = RuleScorer(QualityConfig(), analyzer)
    texts = [prose(50 + 40 * i, seed=i) for i in range(6)] + ["", "x", C4_GOOD]
    assert scorer.score_batch(texts) == [scorer.score(t) for t in texts]


def test_unknown_rule_set_is_a_config_error():
    with pytest.raises(ValueError, match="unknown rule set"):
        QualityConfig(rules=["gopher", "c4"])
    with pytest.raises(ValueError, match="one of c4"):
        QualityConfig(rules=["c4", "c4_tfds"])


def test_alpha_words_over_whitespace_words(analyzer):
    # dialogue: every quote, comma and dash is a token without a letter, but every whitespace word has one
    names = ["Annabel", "Bartholomew", "Cynthia", "Dorothea"] * 6
    text = " ".join(f'"Certainly," answered {n}, "consequences — with the rest of history."' for n in names)
    tokens = score(analyzer, "gopher_quality", text)
    assert tokens.reason == "gopher_quality:alpha_words"
    assert tokens.signals["gopher_quality:alpha_chunks_ratio"] > 0.8
    paper = score(analyzer, "gopher_quality", text, gopher_quality=GopherQualityConfig(alpha_words_over="whitespace"))
    assert paper.reason != "gopher_quality:alpha_words"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["One two three.", "Wait, what? Yes!", "Ref [1] here.", "a  b\tc.", " lead. x",
                                 "Menu", "U.S. news.", "end. [2]"]), max_size=12))
def test_c4_sentences_from_chunk_facts_equal_lookups(analyzer, lines):
    text = "\n".join(lines)
    infos = analyzer.words(text).chunk_infos
    assert c4_signals(text, C4Config(), analyzer, infos) == c4_signals(text, C4Config(), analyzer)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \n")), max_size=40))
def test_fast_line_and_paragraph_splits_equal_the_regex_splits(text):
    import re

    from pilewright.transforms.quality.gopher import split_lines, split_paragraphs

    assert split_lines(text) == re.split("\n+", text)
    assert split_paragraphs(text) == re.split(r"\n{2,}", text.strip())
