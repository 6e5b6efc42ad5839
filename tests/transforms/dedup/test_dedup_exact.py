"""Exact-duplicate keys and the keep order."""
from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pilewright.schemas.stages.dedup import ExactNormalization
from pilewright.transforms.dedup.exact import exact_key, keep_rank, normalize_for_exact

ALL = ExactNormalization(lowercase=True, punctuation=True, digits=True, whitespace=True)
NONE = ExactNormalization(lowercase=False, punctuation=False, digits=False, whitespace=False)


def test_each_normalization_option_does_one_thing():
    text = "  Page 3,  of 7!\n"
    assert normalize_for_exact(text, NONE) == text
    assert normalize_for_exact(text, ALL) == "page 0 of 0"
    spaces_only = ExactNormalization(lowercase=False, punctuation=False, digits=False)
    assert normalize_for_exact(text, spaces_only) == "Page 3, of 7!"
    assert normalize_for_exact(text, ExactNormalization(punctuation=False)) == "page 3, of 7!"


def test_exact_keys_are_128_bit_and_scoped():
    a = exact_key("Hello, world", ExactNormalization())
    assert a == exact_key("hello world", ExactNormalization())
    assert a != exact_key("hello world", ExactNormalization(), scope="source:x")
    assert a != exact_key("hello, world", NONE)
    assert len(a) == 32 and int(a, 16) >= 0


@given(st.text(max_size=200))
def test_normalization_is_idempotent(text):
    once = normalize_for_exact(text, ExactNormalization())
    assert normalize_for_exact(once, ExactNormalization()) == once


def test_keep_rank_orders_highest_score_first_and_missing_last():
    assert keep_rank({"hq": 0.9}, "hq") < keep_rank({"hq": 0.2}, "hq") < keep_rank({}, "hq")
    assert keep_rank({"hq": 0.9}, None) == math.inf
    assert keep_rank({"hq": float("nan")}, "hq") == math.inf
    assert keep_rank({"other": 1.0}, "hq") == math.inf



def test_scope_keys_separate_sources_or_domains_only_when_asked():
    from pilewright.schemas.records import Document
    from pilewright.transforms.stage import scope_of

    d = Document(id="s/1", text="t", source="calls", domain="finance")
    assert (scope_of(d, "global"), scope_of(d, "per_source"), scope_of(d, "per_domain")) == (
        "", "source:calls", "domain:finance")
