"""Plumbing every stage shares: the stage result, counters, rejection and dead letters.

Dead letters have one pattern: a stage runs its DoFn through ``dead_lettered``, which turns any exception
into a ``DeadLetter`` (``with_exception_handling``) and merges the dead letters the DoFn yields itself on
the ``DEAD`` tag; a DoFn over batches uses ``batch_with_fallback`` so a failing document costs only its
own dead letter, never its batch.
"""
from __future__ import annotations

import sys
import traceback
import typing
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from pilewright.schemas.records import ERROR_CHARS, DeadLetter, Document, RejectedDocument, payload_prefix
from pilewright.transforms.signals import document_signals, with_notes

METRICS_NAMESPACE = "pilewright"
SNIPPET_CHARS = 200


class StageResult(typing.NamedTuple):
    """What every stage returns: kept documents, documents dropped by policy, and dead letters."""

    main: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    # optional small aggregates for the audit: PCollection[tuple[str, str]] of (section name, JSON text),
    # already reduced (histograms, top-k), never one element per document
    stats: Optional[beam.PCollection] = None


def sum_pairs(values: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """Element-wise sum of (int, int) pairs: the combine of every two-count tally (docs, tokens)."""
    a = b = 0
    for x, y in values:
        a += x
        b += y
    return a, b


def sum_triples(values: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """Element-wise sum of (int, int, int) triples: the combine of (docs, chars, tokens) tallies."""
    a = b = c = 0
    for x, y, z in values:
        a += x
        b += y
        c += z
    return a, b, c


def metric_name(stage: str, outcome: str, reason: Optional[str] = None) -> str:
    """Counter names follow ``<stage>/<outcome>[:<reason>]``."""
    return f"{stage}/{outcome}" if not reason else f"{stage}/{outcome}:{reason}"


def count(stage: str, outcome: str, reason: Optional[str] = None, n: int = 1) -> None:
    """Telemetry only; the audit's numbers are counted from the data."""
    Metrics.counter(METRICS_NAMESPACE, metric_name(stage, outcome, reason)).inc(n)


def distribution(stage: str, name: str, value: int) -> None:
    Metrics.distribution(METRICS_NAMESPACE, f"{stage}/{name}").update(int(value))


def scope_of(doc: Document, scope: str) -> str:
    """The part of the corpus a cross-document stage compares ``doc`` within (dedup and span_dedup's
    ``scope``): documents are only duplicates of documents with the same scope key."""
    if scope == "per_source":
        return f"source:{doc.source}"
    if scope == "per_domain":
        return f"domain:{doc.domain}"
    return ""


def snippet(text: str, n: int = SNIPPET_CHARS) -> str:
    return text[:n]


def reject(doc: Document, stage: str, reason: str, signals: Optional[dict] = None,
           notes: Optional[dict] = None) -> RejectedDocument:
    """The record of a drop, with the document's signals (``transforms.signals``) and the stage's own
    ``signals`` (numbers) and ``notes`` (short evidence, cut to ``signals.NOTE_CHARS``) added."""
    numbers, evidence = with_notes(*document_signals(doc), signals, notes)
    return RejectedDocument(
        id=doc.id,
        source=doc.source,
        domain=doc.domain,
        stage=stage,
        reason=reason,
        snippet=snippet(doc.text),
        n_chars=len(doc.text),
        signals=numbers,
        notes=evidence,
    )


def _describe_element(element: Any) -> tuple[str, Optional[str], str]:
    """(source, doc_id, payload prefix) of whatever element failed, without assuming its type."""
    doc = element
    if isinstance(element, tuple) and len(element) == 2 and not hasattr(element, "_fields"):
        doc = element[1]  # (key, value) pairs in keyed stages
    source = getattr(doc, "source", "") or ""
    doc_id = getattr(doc, "id", None)
    text = getattr(doc, "text", None)
    payload = text if isinstance(text, str) else repr(element)
    return source, doc_id, payload_prefix(payload)


def document_dead_letter(doc: Document, stage: str, error_type: str, error: str,
                         payload: Optional[str] = None) -> DeadLetter:
    """The dead letter of one document; ``payload`` defaults to the start of its text (pii passes "" so
    no unscanned text goes out)."""
    return DeadLetter(
        stage=stage,
        source=doc.source,
        path=None,
        offset=None,
        doc_id=doc.id,
        error_type=error_type,
        error=error,
        payload_prefix=payload_prefix(doc.text if payload is None else payload),
    )


def to_dead_letter(failure: tuple, stage: str) -> DeadLetter:
    """Convert a ``with_exception_handling`` failure ``(element, (type, repr, traceback))``."""
    element, (exc_type, exc_repr, _tb) = failure[0], failure[1][:3]
    source, doc_id, payload = _describe_element(element)
    name = getattr(exc_type, "__name__", str(exc_type))
    return DeadLetter(
        stage=stage,
        source=source,
        path=None,
        offset=None,
        doc_id=doc_id,
        error_type=name,
        error=str(exc_repr)[:ERROR_CHARS],
        payload_prefix=payload,
    )


# the tag a DoFn yields its own DeadLetter records on (``dead_lettered`` merges them with the exceptions)
DEAD = "errors"
# the tag ``with_exception_handling`` sends failures to, inside ``dead_lettered``
_FAILED = "failed"


def _failure_dead_letters(failure: tuple, stage: str) -> Iterator[DeadLetter]:
    """The dead letters of a ``with_exception_handling`` failure: one per document of a failed batch."""
    element, info = failure[0], failure[1]
    for item in element if isinstance(element, list) else (element,):
        yield to_dead_letter((item, info), stage)


def dead_lettered(pcoll: beam.PCollection, label: str, dofn: beam.DoFn, stage: str, main_tag: str = "kept",
                  main_type: Any = None, side_inputs: Optional[Mapping[str, Any]] = None,
                  **tagged_types: Any) -> tuple[Any, beam.PCollection]:
    """``pcoll | label >> ParDo(dofn, **side_inputs)`` with every failure a dead letter.

    Returns the ParDo's outputs (by tag; ``main_tag`` names the main one) and ``PCollection[DeadLetter]``:
    the exceptions ``with_exception_handling`` caught (a failed batch gives one per document) plus, when
    ``DEAD`` is among ``tagged_types``, the dead letters the DoFn yielded itself. ``main_type`` and
    ``tagged_types`` (tag -> record type) are declared on the ParDo, so its outputs are encoded by their
    RowCoder without an identity step to pin the type (a tagged output has no type otherwise).
    """
    pardo = beam.ParDo(dofn, **(side_inputs or {}))
    if main_type is not None or tagged_types:
        pardo = pardo.with_output_types(main_type if main_type is not None else typing.Any, **tagged_types)
    outs = pcoll | label >> pardo.with_exception_handling(main_tag=main_tag, dead_letter_tag=_FAILED)
    errors = outs[_FAILED] | f"{label}DeadLetters" >> beam.FlatMap(_failure_dead_letters, stage=stage
                                                                    ).with_output_types(DeadLetter)
    if DEAD in tagged_types:
        errors = (outs[DEAD], errors) | f"{label}AllDeadLetters" >> beam.Flatten()
    return outs, errors


def batch_with_fallback(batch: Sequence, run_batch: Callable[[Sequence], Sequence], run_one: Callable[[Any], Any],
                        handle: Callable[[Any, Any], Iterable], stage: str,
                        dead_letter: Optional[Callable[[Any, tuple], DeadLetter]] = None) -> Iterator:
    """A batched DoFn's outputs: ``handle(doc, result)`` for each document and its result of
    ``run_batch(batch)``; when the batch raises, each document is run alone (``run_one(doc)``), so an
    exception is its own document's dead letter (``TaggedOutput(DEAD, ...)``, counted as
    ``<stage>/errors:<type>``) and the rest of the batch goes on. A document's outputs go out together or
    not at all. ``dead_letter(doc, exc_info)`` builds the record (default ``to_dead_letter``).
    """
    try:
        results = run_batch(batch)
    except Exception:  # one bad document must not take its batch down: redo them one by one
        results = None
    for i, doc in enumerate(batch):
        try:
            outputs = list(handle(doc, results[i] if results is not None else run_one(doc)))
        except Exception:
            exc_type, exc, tb = sys.exc_info()
            if dead_letter is None:
                rec = to_dead_letter((doc, (exc_type, repr(exc), traceback.format_tb(tb))), stage)
            else:
                rec = dead_letter(doc, (exc_type, exc, tb))
            count(stage, "errors", exc_type.__name__)
            yield beam.pvalue.TaggedOutput(DEAD, rec)
            continue
        yield from outputs


class AnnotateAndFilter(beam.PTransform):
    """Document -> StageResult with a DoFn that yields kept Documents and ``TaggedOutput("rejected", ...)``.

    The DoFn is wrapped in ``with_exception_handling`` so an exception on one document becomes a dead letter
    with the stage name, never a failed job. Deterministic (element-wise); no shuffle.
    """

    REJECTED = "rejected"

    def __init__(self, stage: str, dofn: beam.DoFn):
        super().__init__()
        self._stage = stage
        self._dofn = dofn

    def expand(self, docs: beam.PCollection) -> StageResult:
        outs, errors = dead_lettered(docs, "Classify", self._dofn, self._stage)
        return typed_stage_result(outs["kept"], outs[self.REJECTED], errors)


def _identity(x):
    return x


def pin_type(pc: beam.PCollection, record_type: type, label: str) -> beam.PCollection:
    """``pc`` with its element type declared: tagged outputs of a ParDo have none, and without one Beam
    pickles the records between steps instead of encoding them with RowCoder."""
    return pc | label >> beam.Map(_identity).with_output_types(record_type)


def typed_stage_result(main: beam.PCollection, rejected: beam.PCollection, errors: beam.PCollection,
                       stats: Optional[beam.PCollection] = None) -> StageResult:
    """The StageResult of a document stage, every output's record type pinned (see ``pin_type``)."""
    return StageResult(
        main=pin_type(main, Document, "TypeKept"),
        rejected=pin_type(rejected, RejectedDocument, "TypeRejected"),
        errors=pin_type(errors, DeadLetter, "TypeErrors"),
        stats=stats,
    )


def rejected_output(doc: Document, stage: str, reason: str, signals: Optional[dict] = None,
                    notes: Optional[dict] = None) -> beam.pvalue.TaggedOutput:
    """Emit from a DoFn used with ``AnnotateAndFilter``; counts ``<stage>/dropped:<reason>``."""
    rec = reject(doc, stage, reason, signals, notes)
    count(stage, "dropped", reason)
    return beam.pvalue.TaggedOutput(AnnotateAndFilter.REJECTED, rec)



class PerSource:
    """A per-source stage's config for each source: its ``stages:`` block, or what a source's profile
    resolves to (``RunContext.per_source``). Picklable; ``build`` runs in ``DoFn.setup``.

    Without profiles every source maps to the one block, so such a stage does exactly what it did before
    profiles existed.
    """

    def __init__(self, default: Any, per_source: Optional[dict] = None):
        self.default = default
        self.per_source = dict(per_source or {})

    @staticmethod
    def _on(config: Any) -> bool:
        return config is not None and getattr(config, "enabled", True)

    def configs(self) -> list[Any]:
        """Every distinct enabled config, in a fixed order (the default first)."""
        out, seen = [], set()
        for config in [self.default, *(self.per_source[k] for k in sorted(self.per_source))]:
            if self._on(config):
                key = config.model_dump_json()
                if key not in seen:
                    seen.add(key)
                    out.append(config)
        return out

    def build(self, make) -> "SourceLookup":
        """source -> ``make(config)``, with one ``make`` per distinct config (equal configs share one
        object, so a model a config names loads once) and None for a source the stage does not run on."""
        made: dict[str, Any] = {}
        for config in self.configs():
            made[config.model_dump_json()] = make(config)

        def pick(config: Any) -> Any:
            return made[config.model_dump_json()] if self._on(config) else None

        return SourceLookup(pick(self.default), {src: pick(c) for src, c in self.per_source.items()})


class SourceLookup:
    """What ``PerSource.build`` returns: ``lookup(source)`` is that source's object (or None: not run)."""

    def __init__(self, default: Any, by_source: dict):
        self._default = default
        self._by_source = by_source

    def __call__(self, source: str) -> Any:
        return self._by_source.get(source, self._default)
