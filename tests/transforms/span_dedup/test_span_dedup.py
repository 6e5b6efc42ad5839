"""The span_dedup stage: units, span keys, removal, and the stage in Beam (keep one copy, scope, too short)."""
from __future__ import annotations

import json
import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.records import Document
from pilewright.schemas.stages.span_dedup import SpanDedupConfig
from pilewright.transforms.span_dedup import SpanDedup
from pilewright.transforms.span_dedup.spans import remove_units, spans, units
from pilewright.transforms.span_dedup.stage import order_key
from conftest import assert_conserved

FOOTER = "Forward-looking statements: this release contains statements that involve risks and uncertainties."
_rng = random.Random(7)
VOCAB = [f"w{i}" for i in range(500)]


def para(n=30):
    return " ".join(_rng.choice(VOCAB) for _ in range(n)) + "."


def doc(i, text, source="web"):
    return Document(id=i, text=text, source=source, domain="general")


def test_units_per_kind():
    text = "One. Two!\nThree?\n\n  \nFour five.\n"
    assert [text[a:b] for a, b in units(text, "line")] == ["One. Two!", "Three?", "Four five."]
    assert [text[a:b] for a, b in units(text, "paragraph")] == ["One. Two!\nThree?", "Four five.\n"]
    assert [text[a:b] for a, b in units(text, "sentences")] == ["One.", "Two!", "Three?", "Four five."]


def test_span_keys_ignore_case_punctuation_spacing_and_windows_slide():
    cfg = SpanDedupConfig(unit="line", min_chars=5)
    _, a = spans("Hello, World!\nsecond line here", cfg)
    _, b = spans("hello   world\nSECOND line here.", cfg)
    assert [s.key for s in a] == [s.key for s in b]
    assert spans("Hello, World!", cfg, "source:x")[1][0].key != a[0].key  # scope is part of the key
    cfg = SpanDedupConfig(unit="sentences", window=3, min_chars=1)
    us, sp = spans("A one. B two. C three. D four.", cfg)
    assert len(us) == 4 and [(s.first, s.last) for s in sp] == [(0, 2), (1, 3)]
    assert spans("ok.", SpanDedupConfig(unit="line"))[1] == []  # shorter than min_chars


def test_remove_units_keeps_the_other_breaks():
    text = "first para\nstill first\n\nsecond para\n\nthird para"
    us = units(text, "paragraph")
    assert remove_units(text, us, {1}) == "first para\nstill first\n\nthird para"
    assert remove_units(text, us, {2}) == "first para\nstill first\n\nsecond para"
    assert remove_units(text, us, {0, 2}) == "second para"
    assert remove_units(text, us, set()) == text


def test_order_key_is_seeded_and_stable():
    assert order_key(1, "a") == order_key(1, "a")
    assert order_key(1, "a") != order_key(2, "a")


def test_stage_keeps_one_copy_in_seeded_first_document_and_drops_too_short():
    cfg = SpanDedupConfig(unit="paragraph", min_doc_words=20)
    docs = [doc(f"d{i}", f"{para()}\n\n{FOOTER}") for i in range(6)]
    # 20+ words before the removal, fewer after: dropped; already short before: kept with what is left
    docs.append(doc("short", f"a tiny body here with a few more words in it.\n\n{FOOTER}"))
    docs.append(doc("stub", f"stub.\n\n{FOOTER}"))
    unique = doc("u", para() + "\n\n" + para())
    docs.append(unique)
    first = min(order_key(1234, d.id) for d in docs if FOOTER in d.text)[1]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | SpanDedup(cfg)
        assert_that(res.main | beam.Map(lambda d: (d.id, FOOTER in d.text)),
                    equal_to([(d.id, d.id == first) for d in docs if d.id != "short" or first == "short"]),
                    label="kept")
        assert_that(res.main | beam.Filter(lambda d: d.id == "stub") | beam.Map(lambda d: d.text),
                    equal_to(["stub." if first != "stub" else f"stub.\n\n{FOOTER}"]), label="stub")
        expected_rej = [] if first == "short" else [("short", "span_dedup:too_short")]
        assert_that(res.rejected | beam.Map(lambda r: (r.id, r.reason)), equal_to(expected_rej), label="rej")
        assert_that(res.main | beam.Filter(lambda d: d.id == "u") | beam.Map(lambda d: d.text),
                    equal_to([unique.text]), label="unique kept whole")

        def check(stats):
            s = dict(stats)
            rep = json.loads(s["repeated_spans"])
            assert rep["spans"] == 1 and rep["copies_removed"] == 7
            assert rep["largest"] == [{"docs": 8, "kept_in": first}]
            src = json.loads(s["removed_per_source"])["web"]
            assert src["docs"] == 9 and src["docs_trimmed"] + src["docs_dropped"] == 7 and src["words_removed"] > 0

        assert_that(res.stats, check, label="stats")


def test_stage_max_docs_and_per_source_scope():
    docs = [doc("a", f"{para()}\n\n{FOOTER}", "s1"), doc("b", f"{para()}\n\n{FOOTER}", "s2")]
    # per source: each source holds the footer once, nothing removed
    with TestPipeline() as p:
        res = p | beam.Create(docs) | SpanDedup(SpanDedupConfig(scope="per_source", min_doc_words=0))
        assert_that(res.main | beam.Map(lambda d: FOOTER in d.text), equal_to([True, True]))
    # max_docs 2: two copies are allowed
    with TestPipeline() as p:
        res = p | beam.Create(docs) | SpanDedup(SpanDedupConfig(max_docs=2, min_doc_words=0))
        assert_that(res.main | beam.Map(lambda d: FOOTER in d.text), equal_to([True, True]))
    # global, max_docs 1: one copy
    with TestPipeline() as p:
        res = p | beam.Create(docs) | SpanDedup(SpanDedupConfig(min_doc_words=0))
        assert_that(res.main | beam.Map(lambda d: FOOTER in d.text), equal_to([True, False]))


def test_stage_on_no_input_still_reports():
    with TestPipeline() as p:
        res = p | beam.Create([]).with_output_types(Document) | SpanDedup(SpanDedupConfig())
        assert_that(res.stats | beam.Map(lambda kv: kv[0]), equal_to(["removed_per_source", "repeated_spans"]))


def test_a_failing_document_is_a_dead_letter_and_nothing_is_lost(monkeypatch):
    import pilewright.transforms.span_dedup.stage as stage_module

    original = stage_module.spans

    def failing(text, cfg, scope=""):
        if text.startswith("BOOM"):
            raise ValueError("cannot split")
        return original(text, cfg, scope)

    monkeypatch.setattr(stage_module, "spans", failing)
    docs = [doc("a", f"{para()}\n\n{FOOTER}"), doc("b", f"{para()}\n\n{FOOTER}"), doc("boom", "BOOM " + para())]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | SpanDedup(SpanDedupConfig(min_doc_words=0))
        assert_that(res.errors | beam.Map(lambda e: (e.doc_id, e.stage, e.error_type)),
                    equal_to([("boom", "span_dedup", "ValueError")]), label="errors")
        assert_conserved(res, len(docs))


def test_flow_order_puts_decontaminate_after_quality_and_span_dedup_after_dedup():
    from pilewright.pipeline.job.stages import curation_stages
    from pilewright.schemas.config import RunConfig

    cfg = RunConfig(sources=[{"name": "s", "paths": ["x"], "format": "jsonl"}],
                    stages={"span_dedup": {}, "dedup": {}, "quality": {"rules": []},
                            "decontaminate": {"sets": [{"name": "e", "paths": ["e.jsonl"], "fields": ["q"]}]}})
    assert [name for name, _ in curation_stages(cfg)] == ["quality", "decontaminate", "dedup", "span_dedup"]
