"""PII stage: find e-mail addresses, phone, card, IBAN, SSN numbers, IPs, crypto wallets (and names and
places when a spaCy model is installed) with Presidio, and redact them in every output.

The logic lives in ``pii.scan`` (pre-screen, windows, chunks, batched analysis) and ``pii.actions``
(overlaps, placeholders); the DoFns here only build the scanner once per worker and route records.
"""
from __future__ import annotations

import json
from typing import Iterable, Optional

import apache_beam as beam

from pilewright.schemas.audit import PII_ENTITIES
from pilewright.schemas.stages.pii import PIIConfig
from pilewright.schemas.records import PAYLOAD_PREFIX_CHARS, DeadLetter, Document, RejectedDocument
from pilewright.transforms.stage import (
    DEAD,
    ERROR_CHARS,
    StageResult,
    batch_with_fallback,
    count,
    distribution,
    document_dead_letter,
    reject,
    typed_stage_result,
)

STAGE = "pii"
TOO_MANY = "pii:too_many_entities"
WITHHELD = "<withheld: pii scan failed>"
DOCS_KEY = "documents_with_pii"
LEFT_PREFIX = "left/"  # per-source count keys of strings left on purpose: left/<ENTITY>:<reason>


def _scanner(cfg: PIIConfig):
    # imported here so building a pipeline (and pickling these DoFns) never loads Presidio on the launcher
    from pilewright.transforms.pii.scan import PiiScanner

    return PiiScanner(cfg)


class _RedactDocumentsFn(beam.DoFn):
    """list[Document] -> redacted Document | TaggedOutput rejected / errors / found (source, counts)."""

    def __init__(self, cfg: PIIConfig):
        super().__init__()
        self._cfg = cfg
        self._scanner = None

    def setup(self) -> None:
        self._scanner = _scanner(self._cfg)

    def process(self, batch: list[Document]) -> Iterable:
        yield from batch_with_fallback(batch, lambda docs: self._scanner.redact_many([d.text for d in docs]),
                                       lambda doc: self._scanner.redact_text(doc.text), self._emit, STAGE,
                                       dead_letter=self._dead_letter)

    def _emit(self, doc: Document, red) -> list:
        outputs, dropped = self._route(doc, red)
        for entity, n in red.counts.items():
            count(STAGE, "redacted", entity, n)
        for entity, reasons in red.left.items():
            for reason, n in reasons.items():
                count(STAGE, "left", f"{entity}:{reason}", n)
        distribution(STAGE, "analyzed_chars", red.analyzed_chars)
        count(STAGE, "dropped", TOO_MANY) if dropped else count(STAGE, "kept")
        return outputs

    def _route(self, doc: Document, red) -> tuple[list, bool]:
        annotated = doc._replace(text=red.text, pii_counts=red.counts)
        outputs: list = []
        if red.counts or red.left:
            outputs.append(beam.pvalue.TaggedOutput("found", (doc.source, red.counts, red.left)))
        limit = self._cfg.drop_document_over
        if limit is not None and sum(red.counts.values()) > limit:
            # the snippet comes from the redacted text, so the rejected record holds no value either
            outputs.append(beam.pvalue.TaggedOutput("rejected", reject(annotated, STAGE, TOO_MANY)))
            return outputs, True
        outputs.append(annotated)
        return outputs, False

    def _dead_letter(self, doc: Document, exc_info: tuple) -> DeadLetter:
        # the text could not be scanned, so none of it goes out: no payload, and a redacted message
        exc = exc_info[1]
        try:
            error = self._scanner.redact_fragment(repr(exc)[:ERROR_CHARS], cut=len(repr(exc)) > ERROR_CHARS)
        except Exception:
            error = WITHHELD
        return document_dead_letter(doc, STAGE, type(exc).__name__, error, payload="")



def _per_source_items(found: tuple) -> list[tuple[tuple[str, str], int]]:
    source, counts, left = found
    items = [((source, entity), n) for entity, n in sorted(counts.items())]
    items += [((source, f"{LEFT_PREFIX}{entity}:{reason}"), n)
              for entity, reasons in sorted(left.items()) for reason, n in sorted(reasons.items())]
    return items + ([((source, DOCS_KEY), 1)] if counts else [])


def entities_by_source(rows: list[tuple[tuple[str, str], int]]) -> str:
    """``{source: {"documents_with_pii": n, "entities": {type: n}}, "total": {...}}`` as JSON."""
    out: dict = {}
    total: dict = {DOCS_KEY: 0, "entities": {}}
    for (source, key), n in sorted(rows):
        if key.startswith(LEFT_PREFIX):
            continue
        entry = out.setdefault(source, {DOCS_KEY: 0, "entities": {}})
        if key == DOCS_KEY:
            entry[DOCS_KEY] += n
            total[DOCS_KEY] += n
        else:
            entry["entities"][key] = entry["entities"].get(key, 0) + n
            total["entities"][key] = total["entities"].get(key, 0) + n
    total["entities"] = dict(sorted(total["entities"].items()))
    return json.dumps({"by_source": out, "total": total}, sort_keys=True)


def found_and_left(rows: list[tuple[tuple[str, str], int]]) -> str:
    """Per entity, over all sources: regions redacted, and value-shaped strings deliberately left, by reason.

    ``{"EMAIL_ADDRESS": {"redacted": 41, "left:message_id": 9, "left:no_public_suffix": 3}, ...}`` as JSON
    (one row per entity in the report). Left strings are the ones no recognizer redacted: message ids with
    no user part, addresses whose domain has no public suffix, "@" with nothing before it.
    """
    out: dict = {}
    for (_source, key), n in sorted(rows):
        if key == DOCS_KEY:
            continue
        if key.startswith(LEFT_PREFIX):
            entity, reason = key[len(LEFT_PREFIX):].split(":", 1)
            column = f"left:{reason}"
        else:
            entity, column = key, "redacted"
        row = out.setdefault(entity, {"redacted": 0})
        row[column] = row.get(column, 0) + n
    return json.dumps(out, sort_keys=True)


def _stats_sections(rows: list[tuple[tuple[str, str], int]]) -> list[tuple[str, str]]:
    return [(PII_ENTITIES, entities_by_source(rows)), ("found_and_left", found_and_left(rows))]


def recognizer_report(_: object, cfg: PIIConfig) -> str:
    """Which recognizers run where the pipeline runs (a worker), and whether spaCy NER was available."""
    return json.dumps(_scanner(cfg).bundle.report(cfg), sort_keys=True)


class RedactPII(beam.PTransform):
    """Document -> StageResult(redacted Document with ``pii_counts``, RejectedDocument, DeadLetter, stats).

    Input/output: ``Document``; rejected ``pii:too_many_entities`` (with ``drop_document_over``).
    Counters: ``pii/kept``, ``pii/dropped:pii:too_many_entities``, ``pii/redacted:<ENTITY>``,
    ``pii/left:<ENTITY>:<reason>``,
    ``pii/errors:<exception>``; distribution ``pii/analyzed_chars``.
    Stats: ``entities_by_source`` (counts per source and entity type), ``found_and_left`` (per entity:
    regions redacted and value-shaped strings left on purpose, by reason) and ``recognizers`` (what ran,
    spaCy NER availability, thresholds, phone regions).
    Determinism: output depends only on the text and the config (and the hash key); batch boundaries
    do not matter.
    Cost: one Presidio analyzer per worker; texts without a pre-screen candidate cost one regex pass;
    no shuffle except the tiny per-source count combine.
    """

    def __init__(self, cfg: PIIConfig):
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: beam.PCollection) -> StageResult:
        cfg = self._cfg
        outs = (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.batch_size)
            | "Redact" >> beam.ParDo(_RedactDocumentsFn(cfg)).with_outputs("rejected", DEAD, "found", main="kept")
        )
        by_source = (
            outs.found
            | "PerSourceItems" >> beam.FlatMap(_per_source_items)
            | "SumPerSource" >> beam.CombinePerKey(sum)
            | "CollectSources" >> beam.combiners.ToList()
            | "EntitiesBySource" >> beam.FlatMap(_stats_sections)
        )
        recognizers = (
            docs.pipeline
            | "RecognizerSeed" >> beam.Create([None])
            | "Recognizers" >> beam.Map(lambda x: ("recognizers", recognizer_report(x, cfg)))
        )
        return typed_stage_result(outs.kept, outs.rejected, outs[DEAD],
                                  stats=(by_source, recognizers) | "Stats" >> beam.Flatten())


class _RedactRecordsFn(beam.DoFn):
    """RejectedDocument | DeadLetter -> the same record with its text fields redacted (fail-closed)."""

    def __init__(self, cfg: PIIConfig):
        super().__init__()
        self._cfg = cfg
        self._scanner = None

    def setup(self) -> None:
        self._scanner = _scanner(self._cfg)

    def _clean(self, text: Optional[str], cut: bool, raw: bool) -> tuple[Optional[str], bool]:
        if not text:
            return text, True
        try:
            return self._scanner.redact_fragment(text, cut=cut, raw=raw), True
        except Exception:
            return WITHHELD, False

    def process(self, rec) -> Iterable:
        # Dispatch on the fields, not the class: in a worker process RowCoder may decode a record into a
        # class Beam generates from the schema, which is not a RejectedDocument/DeadLetter instance.
        fields = getattr(rec, "_fields", ())
        if fields == RejectedDocument._fields:
            rec = RejectedDocument(*rec)
            snippet, ok = self._clean(rec.snippet, cut=rec.n_chars > len(rec.snippet), raw=False)
            notes = rec.notes
            if notes:  # evidence text (a URL, a matched n-gram): redacted like the snippet
                cleaned = {}
                for key, value in sorted(dict(notes).items()):
                    cleaned[key], ok_note = self._clean(value, cut=value.endswith("…"), raw=False)
                    ok = ok and ok_note
                notes = cleaned
            yield rec._replace(snippet=snippet, notes=notes)
            count(STAGE, "records", "rejected" if ok else "withheld")
        elif fields == DeadLetter._fields:
            rec = DeadLetter(*rec)
            # these were cut at a fixed length; at the limit, assume the cut went through a value
            payload, ok_payload = self._clean(
                rec.payload_prefix, cut=len(rec.payload_prefix or "") >= PAYLOAD_PREFIX_CHARS, raw=True
            )
            error, ok_error = self._clean(rec.error, cut=len(rec.error or "") >= ERROR_CHARS, raw=True)
            yield rec._replace(payload_prefix=payload, error=error)
            count(STAGE, "records", "dead_letter" if ok_payload and ok_error else "withheld")
        else:
            raise TypeError(f"RedactRecords takes RejectedDocument or DeadLetter records, got {type(rec).__name__}")


class RedactRecords(beam.PTransform):
    """RejectedDocument or DeadLetter -> the same type with ``snippet`` / ``payload_prefix`` and ``error``
    redacted by the pii stage's analyzer.

    Applied to the rejected and dead-letter outputs of every stage, so a value in a document an earlier
    stage dropped, or in a malformed input line, never reaches OUT/rejected or OUT/dead_letter. A
    fragment cut at its length limit loses its cut last word and any digit or "@" words before it (a
    half value is not recognizable); a fragment that cannot be scanned is replaced, never kept.
    Counters: ``pii/records:<rejected|dead_letter|withheld>``; any other record type is a wiring error (raised).
    Determinism: element-wise and deterministic. Cost: one analyzer per worker; no shuffle.
    """

    def __init__(self, cfg: PIIConfig):
        super().__init__()
        self._cfg = cfg

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        redact = beam.ParDo(_RedactRecordsFn(self._cfg))
        if records.element_type in (RejectedDocument, DeadLetter):
            redact = redact.with_output_types(records.element_type)
        return records | "RedactRecords" >> redact
