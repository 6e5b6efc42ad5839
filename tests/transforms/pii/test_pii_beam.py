"""The pii stage and RedactRecords as Beam transforms."""
from __future__ import annotations

import json
import uuid

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.schemas.stages.pii import PIIConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument
from pilewright.transforms.pii.stage import RedactPII, RedactRecords, _RedactDocumentsFn
from pilewright.transforms.pii.scan import PiiScanner

EMAIL = "maria.lopez@finmail.example.com"
PHONE = "(415) 867-5309"
CARDS = ("4539 1488 0343 6467", "5555 5555 5555 4444", "4111-1111-1111-1111")


def doc(doc_id: str, text: str, source: str = "web") -> Document:
    return Document(id=doc_id, text=text, source=source, domain="general")


DOCS = [
    doc("a", f"Reach me at {EMAIL} or {PHONE} after the close."),
    # a message id has no user part: left as it is, and counted as left
    doc("b", "Revenue rose 4% in 2023 on higher volumes. Message-ID: <20020822123456.77aa99bb@mx.example.com>",
        source="filings"),
    doc("c", "Cards on file: " + ", ".join(CARDS) + ". " + "Padding words. " * 20),
]


def test_redact_pii_annotates_redacts_drops_and_reports_and_redact_records_cleans_records():
    cfg = PIIConfig(drop_document_over=2)
    with TestPipeline() as p:
        res = p | beam.Create(DOCS) | RedactPII(cfg)
        assert_that(
            res.main | beam.Map(lambda d: (d.id, d.text, dict(d.pii_counts))),
            equal_to([
                ("a", "Reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER> after the close.",
                 {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}),
                ("b", DOCS[1].text, {}),
            ]),
            label="kept",
        )

        def check_rejected(recs):
            (rec,) = recs
            assert (rec.id, rec.stage, rec.reason) == ("c", "pii", "pii:too_many_entities")
            assert rec.snippet.startswith("Cards on file: <CREDIT_CARD>, <CREDIT_CARD>, <CREDIT_CARD>.")
            assert not any(card in rec.snippet for card in CARDS)

        assert_that(res.rejected, check_rejected, label="rejected")
        assert_that(res.errors, equal_to([]), label="errors")

        def check_stats(items):
            stats = dict(items)
            assert set(stats) == {"entities_by_source", "found_and_left", "recognizers"}
            assert json.loads(stats["found_and_left"]) == {
                "CREDIT_CARD": {"redacted": 3},
                "EMAIL_ADDRESS": {"redacted": 1, "left:message_id": 1},
                "PHONE_NUMBER": {"redacted": 1},
            }
            by_source = json.loads(stats["entities_by_source"])
            assert by_source["by_source"] == {
                "web": {"documents_with_pii": 2,
                        "entities": {"CREDIT_CARD": 3, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}},
            }
            assert by_source["total"]["documents_with_pii"] == 2
            recognizers = json.loads(stats["recognizers"])
            assert "RegionPhoneRecognizer" in [r["name"] for r in recognizers["recognizers"]]
            assert recognizers["spacy_ner"]["available"] in (True, False)
            assert recognizers["thresholds"]["PHONE_NUMBER"] == 0.4

        assert_that(res.stats, check_stats, label="stats")

        counts = (
            [res.main, res.rejected, res.errors]
            | beam.Flatten()
            | beam.combiners.Count.Globally()
        )
        assert_that(counts, equal_to([len(DOCS)]), label="conserved")
        check_redact_records(p, cfg)


LONG_TEXT = "word " * 38 + f"call {PHONE} now"  # the phone is cut by the 200-character snippet
REJECTED = [
    RejectedDocument(id="r1", source="web", domain="general", stage="quality", reason="c4:short",
                     snippet=f"mail {EMAIL} please", n_chars=30),
    RejectedDocument(id="r2", source="web", domain="general", stage="quality", reason="c4:short",
                     snippet=LONG_TEXT[:200], n_chars=len(LONG_TEXT)),
]
PAYLOAD = json.dumps({"id": 1, "text": f"Phone:\n{PHONE}"})
DEAD = [
    DeadLetter(stage="ingest", source="web", path="x.jsonl", offset=3, doc_id=None, error_type="invalid_json",
               error=f"bad value {EMAIL}", payload_prefix=PAYLOAD),
]


def check_redact_records(p: beam.Pipeline, cfg: PIIConfig) -> None:
    """RedactRecords on rejected and dead-letter records: fields cleaned, element types kept."""
    rej = p | "Rejected" >> beam.Create(REJECTED).with_output_types(RejectedDocument) | "R1" >> RedactRecords(cfg)
    err = p | "Dead" >> beam.Create(DEAD).with_output_types(DeadLetter) | "R2" >> RedactRecords(cfg)
    assert rej.element_type is RejectedDocument and err.element_type is DeadLetter
    assert_that(
        rej | "RejView" >> beam.Map(lambda r: (r.id, r.snippet)),
        equal_to([("r1", "mail <EMAIL_ADDRESS> please"), ("r2", LONG_TEXT[: LONG_TEXT.index("call") + 5])]),
        label="records_rejected",
    )
    assert_that(
        err | "DeadView" >> beam.Map(lambda r: (r.error, r.payload_prefix)),
        equal_to([("bad value <EMAIL_ADDRESS>", PAYLOAD.replace(PHONE, "<PHONE_NUMBER>"))]),
        label="records_dead",
    )


def test_records_decoded_into_beam_generated_classes_are_still_redacted():
    """In worker processes RowCoder can decode records into classes Beam generates from the schema."""
    from apache_beam.typehints.schemas import named_tuple_from_schema, named_tuple_to_schema

    from pilewright.transforms.pii.stage import _RedactRecordsFn

    fn = _RedactRecordsFn(PIIConfig())
    fn.setup()
    for record, field in ((REJECTED[0], "snippet"), (DEAD[0], "error")):
        schema = named_tuple_to_schema(type(record))
        schema.id = str(uuid.uuid4())  # an unregistered schema id: Beam generates a class, as in a worker
        generated = named_tuple_from_schema(schema)
        assert not isinstance(generated(*record), type(record))
        (out,) = list(fn.process(generated(*record)))
        assert type(out) is type(record) and EMAIL not in getattr(out, field)


class _FlakyScanner:
    """Stands in for PiiScanner: fails on one text, so the batch is redone document by document."""

    def __init__(self, real: PiiScanner):
        self._real = real

    def redact_many(self, texts):
        if any("BOOM" in t for t in texts):
            raise RuntimeError("analyzer failed")
        return self._real.redact_many(texts)

    def redact_text(self, text):
        if "BOOM" in text:
            raise RuntimeError(f"analyzer failed near {EMAIL}")
        return self._real.redact_text(text)

    def redact_fragment(self, text, cut, raw=False):
        return self._real.redact_fragment(text, cut=cut, raw=raw)


def test_one_failing_document_becomes_a_dead_letter_without_its_text():
    fn = _RedactDocumentsFn(PIIConfig())
    fn._scanner = _FlakyScanner(PiiScanner(PIIConfig()))
    batch = [DOCS[0], doc("bad", f"BOOM {EMAIL}"), DOCS[1]]
    out = list(fn.process(batch))
    kept = [o for o in out if isinstance(o, Document)]
    errors = [o.value for o in out if isinstance(o, beam.pvalue.TaggedOutput) and o.tag == "errors"]
    assert [d.id for d in kept] == ["a", "b"]
    assert "<EMAIL_ADDRESS>" in kept[0].text
    (dead,) = errors
    assert (dead.stage, dead.doc_id, dead.error_type, dead.payload_prefix) == ("pii", "bad", "RuntimeError", "")
    assert EMAIL not in dead.error and "<EMAIL_ADDRESS>" in dead.error


