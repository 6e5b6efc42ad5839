"""The one dead-letter pattern of ``transforms.stage``: ``dead_lettered`` and ``batch_with_fallback``."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.records import DeadLetter, Document, RejectedDocument
from pilewright.transforms.stage import DEAD, batch_with_fallback, dead_lettered, rejected_output


def doc(name: str, text: str = "some text") -> Document:
    return Document(id=f"web/{name}", text=text, source="web", domain="general")


def _outputs(out):
    kept = [o for o in out if not isinstance(o, beam.pvalue.TaggedOutput)]
    dead = [o.value for o in out if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == DEAD]
    return kept, dead


def test_a_failing_batch_is_redone_one_by_one_and_only_the_bad_document_is_a_dead_letter():
    batch = [doc("a"), doc("bad", "BOOM"), doc("c")]

    def run_batch(docs):
        raise RuntimeError("the batch fails")

    def run_one(d):
        if d.text == "BOOM":
            raise ValueError("cannot read")
        return d.text.upper()

    kept, dead = _outputs(list(batch_with_fallback(batch, run_batch, run_one, lambda d, r: [r], "s")))
    assert kept == ["SOME TEXT", "SOME TEXT"]
    assert [(d.stage, d.doc_id, d.error_type, d.payload_prefix) for d in dead] == [("s", "web/bad", "ValueError", "BOOM")]


def test_a_document_whose_handling_fails_leaves_no_partial_output():
    batch = [doc("a"), doc("b")]

    def handle(d, result):
        yield f"first {d.id}"
        if d.id == "web/b":
            raise KeyError("late")
        yield f"second {d.id}"

    out = list(batch_with_fallback(batch, lambda docs: [1, 2], lambda d: 0, handle, "s",
                                   dead_letter=lambda d, info: f"dead {d.id} {info[0].__name__}"))
    kept, dead = _outputs(out)
    assert kept == ["first web/a", "second web/a"] and dead == ["dead web/b KeyError"]


class _Fn(beam.DoFn):
    def process(self, d: Document):
        if d.text == "BOOM":
            raise ValueError("cannot read")
        if d.text == "drop":
            yield rejected_output(d, "s", "dropped")
        elif d.text == "own":
            yield beam.pvalue.TaggedOutput(DEAD, DeadLetter("s", d.source, None, None, d.id, "Own", "own", ""))
        else:
            yield d


def test_dead_lettered_merges_exceptions_and_own_dead_letters_with_typed_outputs():
    docs = [doc("a"), doc("b", "BOOM"), doc("c", "drop"), doc("d", "own")]
    with TestPipeline() as p:
        outs, errors = dead_lettered(p | beam.Create(docs), "Run", _Fn(), "s", main_type=Document,
                                     rejected=RejectedDocument, **{DEAD: DeadLetter})
        # declared on the ParDo: encoded with their RowCoder, no identity step to pin them
        assert outs["kept"].element_type is Document and outs["rejected"].element_type is RejectedDocument
        assert errors.element_type is DeadLetter
        assert_that(outs["kept"] | "K" >> beam.Map(lambda d: d.id), equal_to(["web/a"]), label="kept")
        assert_that(outs["rejected"] | "R" >> beam.Map(lambda r: r.id), equal_to(["web/c"]), label="rejected")
        assert_that(errors | "E" >> beam.Map(lambda e: (e.doc_id, e.error_type)),
                    equal_to([("web/b", "ValueError"), ("web/d", "Own")]), label="errors")


def test_a_dead_letter_payload_escapes_what_utf8_cannot_carry_and_keeps_the_rest():
    from pilewright.schemas.records import PAYLOAD_PREFIX_CHARS, payload_prefix

    assert payload_prefix("caf\u00e9 \ud800 end") == "caf\u00e9 \\ud800 end"
    payload_prefix("x\udfff" * 300).encode("utf-8")  # no UnicodeEncodeError
    assert payload_prefix("a" * 1000) == "a" * PAYLOAD_PREFIX_CHARS
