"""MinHash signatures and LSH band keys: agreement with datasketch, shingling, determinism, banding."""
from __future__ import annotations

import random

import datasketch
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.transforms.dedup.minhash import (
    MAX_U64,
    Bander,
    MinHasher,
    band_match_probability,
    fmix64,
    jaccard_estimate,
    words,
)


def _random_pair(rng: random.Random, size: int, jaccard: float) -> tuple[list[bytes], list[bytes], float]:
    """Two sets of shingle strings with (about) the given Jaccard similarity, and their exact Jaccard."""
    common = int(round(size * jaccard * 2 / (1 + jaccard)))
    only = size - common
    shared = [f"s{rng.getrandbits(48)}".encode() for _ in range(common)]
    a = shared + [f"a{rng.getrandbits(48)}".encode() for _ in range(only)]
    b = shared + [f"b{rng.getrandbits(48)}".encode() for _ in range(only)]
    sa, sb = set(a), set(b)
    return a, b, len(sa & sb) / len(sa | sb)


def _our_hashes(shingles: list[bytes]) -> np.ndarray:
    import xxhash

    return fmix64(np.array([xxhash.xxh3_64_intdigest(s) for s in shingles], dtype=np.uint64))


def test_jaccard_estimates_agree_with_datasketch_on_random_pairs():
    rng = random.Random(7)
    num_perm = 256
    ours = MinHasher(num_perm, seed=3)
    diffs, our_err, ds_err = [], [], []
    for i in range(40):
        a, b, true_j = _random_pair(rng, rng.randint(80, 600), rng.random())
        est = jaccard_estimate(ours.signature_of_hashes(_our_hashes(a)), ours.signature_of_hashes(_our_hashes(b)))
        ma, mb = datasketch.MinHash(num_perm=num_perm, seed=i), datasketch.MinHash(num_perm=num_perm, seed=i)
        ma.update_batch(a)
        mb.update_batch(b)
        ds = ma.jaccard(mb)
        diffs.append(abs(est - ds))
        our_err.append(est - true_j)
        ds_err.append(ds - true_j)
    # each estimate has a standard deviation of at most 0.5/sqrt(256) = 0.031; two independent ones differ
    # by more than 5 of those combined (0.22) with negligible probability
    assert max(diffs) < 0.22
    # no bias, and the same spread as datasketch's estimator
    assert abs(np.mean(our_err)) < 0.015
    assert np.std(our_err) < 1.5 * np.std(ds_err) + 0.01


def test_identical_texts_have_identical_signatures_and_disjoint_ones_share_nothing():
    mh = MinHasher(112, seed=1)
    text = "the market closed higher on tuesday as investors weighed new inflation data from the bureau"
    other = "a completely unrelated sentence about whales swimming slowly in the cold northern ocean today"
    assert np.array_equal(mh.signature(text), mh.signature(text.upper() + "!!"))
    assert jaccard_estimate(mh.signature(text), mh.signature(other)) < 0.05


def test_signature_is_a_pure_function_of_text_and_seed():
    text = "one two three four five six seven eight nine ten eleven twelve"
    a, b = MinHasher(64, seed=5), MinHasher(64, seed=5)
    assert np.array_equal(a.signature(text), b.signature(text))
    assert not np.array_equal(a.signature(text), MinHasher(64, seed=6).signature(text))


def test_too_short_text_has_no_signature():
    mh = MinHasher(16, ngram=5)
    assert mh.signature("only four words here") is None
    assert mh.signature("") is None
    assert mh.signature("exactly five words are here") is not None
    assert MinHasher(16, ngram=5, unit="char").signature("abcd") is None


def test_char_ngrams_see_spelling_changes_word_ngrams_ignore_punctuation():
    words_mh = MinHasher(128, ngram=3, unit="word")
    chars_mh = MinHasher(128, ngram=4, unit="char")
    a = "The colour of the sky changes at dusk over the quiet harbour town"
    b = "The color of the sky changes at dusk over the quiet harbor town"
    assert jaccard_estimate(words_mh.signature(a), words_mh.signature(a.replace(" ", " , "))) == 1.0
    assert jaccard_estimate(chars_mh.signature(a), chars_mh.signature(b)) > jaccard_estimate(
        words_mh.signature(a), words_mh.signature(b)
    )


def test_words_are_lowercased_word_character_runs():
    assert words("Hello, WORLD! it's 2024_Q3 — café") == [b"hello", b"world", b"it", b"s", b"2024_q3", "café".encode()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=200))
def test_signature_of_a_union_is_the_elementwise_minimum(values):
    """MinHash law: sig(A | B) = min(sig(A), sig(B)), whatever the order or repeats of the hashes."""
    mh = MinHasher(32, seed=2)
    arr = np.array(values, dtype=np.uint64)
    half = len(arr) // 2
    whole = mh.signature_of_hashes(arr)
    assert np.array_equal(whole, np.minimum(mh.signature_of_hashes(arr[:half]), mh.signature_of_hashes(arr[half:])))
    assert np.array_equal(whole, mh.signature_of_hashes(arr[::-1].copy()))


def test_empty_hashes_give_the_all_max_signature():
    assert (MinHasher(8).signature_of_hashes(np.empty(0, dtype=np.uint64)) == MAX_U64).all()


def test_band_keys_match_exactly_when_a_band_of_rows_is_equal():
    bander = Bander(bands=4, rows=3, seed=9)
    sig = np.arange(100, 112, dtype=np.uint64)
    other = sig.copy()
    other[4] += np.uint64(1)  # band 1 differs
    ka, kb = bander.keys(sig), bander.keys(other)
    assert [x == y for x, y in zip(ka, kb)] == [True, False, True, True]
    assert len(set(ka)) == 4  # bands are salted: equal rows in two bands give different keys
    assert bander.keys(sig, scope_salt=17) != ka
    assert all(-(2**63) <= k < 2**63 for k in ka)


def test_band_match_probability_follows_the_lsh_s_curve():
    assert band_match_probability(0.8, 14, 8) == pytest.approx(1 - (1 - 0.8**8) ** 14)
    assert band_match_probability(0.3, 14, 8) < 0.001 < 0.9 < band_match_probability(0.9, 14, 8)


def test_lsh_candidates_follow_the_s_curve_on_real_signatures():
    """Pairs at Jaccard ~0.9 share a band almost always, pairs at ~0.3 almost never (14 x 8)."""
    rng = random.Random(11)
    mh, bander = MinHasher(112, seed=4), Bander(14, 8, seed=4)
    hits = {0.9: 0, 0.3: 0}
    for j in hits:
        for _ in range(30):
            a, b, _true = _random_pair(rng, 400, j)
            ka = bander.keys(mh.signature_of_hashes(_our_hashes(a)))
            kb = bander.keys(mh.signature_of_hashes(_our_hashes(b)))
            hits[j] += any(x == y for x, y in zip(ka, kb))
    assert hits[0.9] >= 28 and hits[0.3] <= 2
