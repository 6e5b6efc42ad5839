"""The fast spaCy-equivalent tokenization: the same tokens and sentences as spaCy itself."""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.transforms.quality.spacy_words import (
    SENTENCE_PUNCT_CHARS,
    ChunkTokenizer,
    TextAnalyzer,
    count_sentences,
    load_spacy,
    sentence_kind,
    spacy_reference_words,
)

CORPORA = Path(__file__).resolve().parents[3].parent / "shared" / "corpora"


@pytest.fixture(scope="module")
def nlp():
    return load_spacy("en")


@pytest.fixture(scope="module")
def chunker(nlp):
    return ChunkTokenizer(nlp)


@pytest.fixture(scope="module")
def analyzer():
    return TextAnalyzer(stop_words=["the", "and", "of"])


def spacy_chunk(nlp, chunk):
    with nlp.memory_zone():
        return tuple(t.text for t in nlp.tokenizer(chunk))


def spacy_sentences(nlp, sentencizer, line):
    """datatrove's split_into_sentences count: spaCy tokenizer + rule-based sentencizer."""
    with nlp.memory_zone():
        doc = sentencizer(nlp.tokenizer(line))
        return max(1, len(list(doc.sents)))


HARD_CHUNKS = [
    "word", "word,", "word.", "Word.", "A.", "U.S.", "U.S", "(don't)", "don't", "can't", "cannot", "gonna",
    "word.)", '"(hello),', "It.", "etc.", "Mr.", "(Mr.)", "word;.", "—word", "open-ended", "41,790",
    "37.83%.", "(1827),", "Jesus's", "Jesus’s", "graph).", "US$5", "C$10", "$5.00", "5km", "10km/h",
    "e-mail", "http://example.com/a?b=c", "www.example.com.", "user@example.com", "a/b", "1/2", "x=y",
    "...", "word...", "……", "wait!?", ":)", "(:", ":-)", "<3", "'s", "'twas", "o'clock", "y'all",
    "rock'n'roll", "10a.m.", "3p.m.", "°C.", "5°C.", "№1", "1+1=2", "a--b", "a—b", "IS_ALPHA", "hello—",
    "«quoted»", "„Zitat“", "日本語。", "中文，", "ÉCOLE.", "école.", "ǅ.", "™", "🙂", "a🙂b", "''", "``",
]


@pytest.mark.parametrize("chunk", HARD_CHUNKS)
def test_chunk_tokens_equal_spacy(nlp, chunker, chunk):
    assert chunker(chunk) == spacy_chunk(nlp, chunk)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZé.,;:!?'\"()-—/$%0123456789…’“”[]{}#@&*+=<>_~`^|\\")), min_size=1, max_size=12))
def test_random_chunks_equal_spacy(nlp, chunker, chunk):
    chunk = "".join(chunk.split()) or "x"
    assert chunker(chunk) == spacy_chunk(nlp, chunk)


def test_shortcut_claims_hold_for_every_letter_and_digit(nlp, chunker):
    """The shortcuts assume no prefix starts, and no suffix or infix match ends, with a letter or digit
    (besides "US$"-like prefixes, units after digits and "'s"): check every such code point."""
    tok = nlp.tokenizer
    alnum = [chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF and chr(cp).isalnum()]
    for c in alnum:
        if c not in "UCA":
            assert tok.find_prefix(c + "x") == 0, c
        assert tok.find_suffix("x" + c) == 0, c
        assert not tok.find_infix("x" + c + "x"), c


def test_sentence_punct_chars_are_spacys():
    from spacy.pipeline.sentencizer import Sentencizer

    assert SENTENCE_PUNCT_CHARS == frozenset(Sentencizer.default_punct_chars)


@pytest.mark.parametrize(
    "line",
    [
        "One. Two. Three.",
        "Hello... world",
        "Hello!? World",
        "Dr. Smith went home. He slept.",
        "End.  ",
        "End.  Next",
        " leading. space",
        "tab\tinside. here",
        "Quote.\" Next one.",
        "No punctuation at all",
        "x",
        "Wait — what? Yes.",
    ],
)
def test_sentence_count_equals_spacy_sentencizer(nlp, analyzer, line):
    sentencizer = nlp.add_pipe("sentencizer") if "sentencizer" not in nlp.pipe_names else nlp.get_pipe("sentencizer")
    assert analyzer.sentences(line) == spacy_sentences(nlp, sentencizer, line)


def test_count_sentences_law():
    assert count_sentences("") == 1
    assert count_sentences("wwPw") == 2
    assert count_sentences("wPpPw") == 2  # punctuation after the end mark keeps the sentence open
    assert count_sentences("wPwPw") == 3
    assert sentence_kind(".") == "P" and sentence_kind("...") == "p" and sentence_kind("word") == "w"


TEXT_ALPHABET = st.sampled_from(list("abcdeABC xyz  .,;:!?'\"()-\n\t0123456789$%—…’éü日"))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=TEXT_ALPHABET, max_size=200))
def test_document_words_equal_spacy(nlp, analyzer, text):
    words = analyzer.words(text)
    ref = spacy_reference_words(nlp, text)
    assert words.n_words == len(ref)
    assert analyzer.word_strings(words.word_ids) == ref


def test_memo_reset_keeps_results(analyzer):
    small = TextAnalyzer(max_chunks=3)
    text = "The cat, the dog (and) the bird. And the fish."
    first = small.words(text)
    for _ in range(3):
        small.begin_document()
        again = small.words(text)
        assert again._replace(word_ids=[]) == first._replace(word_ids=[])


@pytest.mark.skipif(not CORPORA.exists(), reason="shared corpora not available")
def test_real_documents_equal_spacy(nlp, analyzer):
    docs = []
    for rel in ("general/bbc_news.jsonl.gz", "email/spamassassin_emails.jsonl.gz", "finance/reuters21578_news.jsonl.gz"):
        with gzip.open(CORPORA / rel, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 15:
                    break
                docs.append(json.loads(line)["text"])
    for text in docs:
        words = analyzer.words(text)
        assert analyzer.word_strings(words.word_ids) == spacy_reference_words(nlp, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\u00a0\u3000")), max_size=40))
def test_text_split_is_the_lines_splits_concatenated(text):
    """The quality rules split each text into lines once and reuse the lines' words as the text's words."""
    assert text.split() == [w for line in text.splitlines() for w in line.split()]
