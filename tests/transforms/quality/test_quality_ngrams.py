"""The vectorized Gopher n-gram measures equal the plain-Python reference (datatrove's definitions)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.transforms.quality.ngrams import dup_ngram_chars, hash_words, repetition_chars, top_ngram_chars

TOP = (2, 3, 4)
DUP = (5, 6, 7, 8, 9, 10)
# a tiny vocabulary whose words concatenate into each other ("ab" + "c" == "a" + "bc"): the hard cases
VOCAB = ["a", "b", "c", "ab", "bc", "abc", ".", ",", "the", "of"]


def batch_measures(docs):
    vocab = sorted({w for d in docs for w in d})
    index = {w: i for i, w in enumerate(vocab)}
    ids, chars, lengths = hash_words(vocab)
    flat = np.array([index[w] for d in docs for w in d], dtype=np.int64)
    starts = np.cumsum([0] + [len(d) for d in docs]).tolist()
    return repetition_chars(ids[flat], chars[flat], lengths[flat], starts, TOP, DUP)


def test_reference_definitions_by_hand():
    words = ["a", "b", "a", "b", "a", "b"]
    # "a b" occurs 3 times, 3 characters each
    assert top_ngram_chars(words, 2) == 9
    # ties: every 3-gram "a b a"/"b a b" ... "a b a" first, twice
    assert top_ngram_chars(words, 3) == 5 * 2
    assert top_ngram_chars(["x"], 2) == 0
    # concatenation, not sequence: ["ab", "c"] and ["a", "bc"] are the same 2-gram here
    assert dup_ngram_chars(["ab", "c", "a", "bc"], 2) == 3
    # after a duplicate the scan skips its n words
    assert dup_ngram_chars(["x", "y", "x", "y", "x", "y"], 2) == 4


def test_vectorized_equals_reference_on_a_long_document():
    rng = np.random.default_rng(7)
    words = [VOCAB[i] for i in rng.integers(0, len(VOCAB), 3000)]
    top, dup = batch_measures([words])
    assert {n: int(top[n][0]) for n in TOP} == {n: top_ngram_chars(words, n) for n in TOP}
    assert {n: int(dup[n][0]) for n in DUP} == {n: dup_ngram_chars(words, n) for n in DUP}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(VOCAB), max_size=40), min_size=1, max_size=8))
def test_batch_equals_reference_per_document(docs):
    top, dup = batch_measures(docs)
    for i, words in enumerate(docs):
        assert {n: int(top[n][i]) for n in TOP} == {n: top_ngram_chars(words, n) for n in TOP}
        assert {n: int(dup[n][i]) for n in DUP} == {n: dup_ngram_chars(words, n) for n in DUP}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from(VOCAB), max_size=30), min_size=2, max_size=6))
def test_batching_never_changes_a_document(docs):
    together = batch_measures(docs)
    for i, words in enumerate(docs):
        alone = batch_measures([words])
        assert all(int(together[0][n][i]) == int(alone[0][n][0]) for n in TOP)
        assert all(int(together[1][n][i]) == int(alone[1][n][0]) for n in DUP)


def test_hash_words_is_process_independent_and_concatenates():
    ids, chars, lengths = hash_words(["ab", "c", "abc"])
    assert lengths.tolist() == [2, 1, 3]
    assert ids[0] != ids[2] and chars[0] != chars[2]
    # fixed values: the hashes never depend on the process (no built-in hash)
    assert int(chars[1]) == ord("c") + 1
