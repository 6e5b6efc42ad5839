"""Ingest stage: configured sources (globs over any Beam filesystem) -> Documents.

Globs are expanded on workers (``fileio.MatchAll``), not in a ``beam.Create`` of file names, so a source
of millions of files does not bloat the job graph. Files are spread over workers by a reshuffle; each file
is read by one worker, streaming, with the pure readers of ``ingest.read``.
"""
from __future__ import annotations

import json
import tempfile
import typing
from typing import Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.config import SourceConfig
from pilewright.schemas.records import Document
from pilewright.transforms.spill import SpillDocumentsFn, iter_payloads
from pilewright.transforms.spill import loads as spill_loads
from pilewright.transforms.stage import StageResult, count, reject, sum_pairs, sum_triples, typed_stage_result
from pilewright.transforms.ingest.ids import (
    Place,
    add_group,
    empty_section,
    merge_sections,
    section_json,
    unique_ids,
)
from pilewright.transforms.ingest.read import (
    STAGE,
    Rejection,
    Repaired,
    RepairedTextError,
    Skip,
    SourceSpec,
    dead_letter,
    lost_input_section,
    lost_row,
    read_file,
    unreadable_file,
    relative_path,
)


def source_spec(src: SourceConfig, invalid_text: str = "repair") -> SourceSpec:
    return SourceSpec(
        invalid_text=invalid_text,
        name=src.name,
        domain=src.domain,
        format=src.format,
        text_field=src.text_field,
        id_field=src.id_field,
        url_field=src.url_field,
        # issue 25: the source's text encoding and its repaired-text limit (resolved from policy)
        encoding=src.encoding,
        max_repaired_share=src.max_repaired_share if src.max_repaired_share is not None else 1.0,
    )


class _ExpandPatternFn(beam.DoFn):
    """(source name, pattern) -> (source name, pattern, matched path), on a worker."""

    def process(self, item: tuple[str, str]) -> Iterable[tuple[str, str, str]]:
        name, pattern = item
        for match in FileSystems.match([pattern]):
            for meta in match.metadata_list:
                yield name, pattern, meta.path


class _ReadFileFn(beam.DoFn):
    """Thin shell over ``read_file``: opens the file through Beam's filesystems (local, gs://, ...)."""

    def __init__(self, specs: dict[str, SourceSpec]):
        super().__init__()
        self._specs = specs

    def process(self, item: tuple[str, str, str]) -> Iterable:
        name, pattern, path = item
        spec = self._specs[name]
        try:
            raw = FileSystems.open(path, compression_type="uncompressed")
        except Exception as e:  # unreadable file: a dead letter with the path, not a failed job
            count(STAGE, "errors", "unreadable_file")
            yield beam.pvalue.TaggedOutput("errors", unreadable_file(spec, path, e))  # issue 25: with its bytes
            return
        n_results = 0
        rel_path = relative_path(path, pattern)
        with raw:
            try:
                for result in read_file(raw, path, rel_path, spec):
                    n_results += 1
                    if isinstance(result, Repaired):
                        count(STAGE, "repaired", "chars", result.chars)
                        yield beam.pvalue.TaggedOutput("repaired", (spec.name, (1, result.chars)))
                        result = result.result
                    if isinstance(result, Document):
                        count(STAGE, "kept")
                        # with its place: duplicate ids are found by grouping the places by id
                        yield result, Place(spec.name, path, rel_path, n_results)
                    elif isinstance(result, Skip):
                        # a WARC record that is by design not a document (request, image, ...): counted
                        # from the data (a (source, reason) pair) so the audit accounts for every record
                        count(STAGE, "skipped", result.reason)
                        yield beam.pvalue.TaggedOutput("skipped", (spec.name, result.reason))
                    elif isinstance(result, Rejection):
                        count(STAGE, "dropped", result.reason)
                        yield beam.pvalue.TaggedOutput("rejected", reject(result.doc, STAGE, result.reason))
                    else:
                        count(STAGE, "errors", result.error_type)
                        yield beam.pvalue.TaggedOutput("errors", result)
            except RepairedTextError:  # issue 25: the wrong encoding, most likely; the run fails naming the file
                raise
            except Exception as e:
                # An unforeseen failure mid-file keeps what was read and dead-letters the rest with the
                # position, rather than failing the job or retrying the file into duplicates.
                count(STAGE, "errors", "read_failed")
                yield beam.pvalue.TaggedOutput(
                    "errors",
                    dead_letter(spec, path, n_results + 1, "read_failed", f"{type(e).__name__}: {e}"),
                )


class _NewIdsFn(beam.DoFn):
    """(id, [Place]) -> ((path, record), new id) for each record of a shared id; ``dups``: (source, id,
    records) of each shared id."""

    def __init__(self, policy: str):
        super().__init__()
        self._policy = policy

    def process(self, item):
        doc_id, places = item
        renamed = unique_ids(doc_id, list(places), self._policy)
        if renamed:
            count(STAGE, "duplicate_ids", None, len(renamed))
            yield beam.pvalue.TaggedOutput("dups", (renamed[0][0].source, doc_id, len(renamed)))
        for place, new_id in renamed:
            yield (place.path, place.record), new_id


def _read_with_unique_ids(path: str, new_ids: dict) -> Iterable:
    """Documents with unique ids; ``places``: (id as read, id now, Place) of every document, for a caller
    that reads its sources in several units and must find ids shared across them (``pipeline.job.units``)."""
    for payload in iter_payloads(path):
        fields = spill_loads(payload)
        n = len(Document._fields)
        doc, place = Document(*fields[:n]), Place(*fields[n:])
        new_id = new_ids.get((place.path, place.record))
        yield doc if new_id is None else doc._replace(id=new_id)
        yield beam.pvalue.TaggedOutput(PLACES, (doc.id, doc.id if new_id is None else new_id, tuple(place)))


class DuplicateIdsSection(beam.CombineFn):
    """(source, id, records) rows -> the audit's ``duplicate_ids`` section (counts and a few sample ids)."""

    def create_accumulator(self):
        return empty_section()

    def add_input(self, acc, row):
        return add_group(acc, *row)

    def merge_accumulators(self, accs):
        return merge_sections(accs)

    def extract_output(self, acc):
        return section_json(merge_sections([acc]))


PLACES = "places"


class IngestResult(typing.NamedTuple):
    """The ingest stage's ``StageResult`` fields, plus ``places``: (id as read, id now, Place fields) of
    every document (compact rows; unused by a single pipeline, read by the phased job's id check)."""

    main: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    stats: Optional[beam.PCollection]
    places: beam.PCollection


class ReadSources(beam.PTransform):
    """Sources -> StageResult(Document, RejectedDocument ``ingest:empty_text``, DeadLetter).

    Counters: ``ingest/kept``, ``ingest/dropped:<reason>``, ``ingest/errors:<type>``,
    ``ingest/skipped:<reason>`` (WARC records that are not documents; also in the ``skipped_records`` stats),
    ``ingest/duplicate_ids`` (records whose id another record has; the ``duplicate_ids`` stats section).
    Determinism: ids come from the data or from (source, file path relative to the glob, line/row); a
    duplicate id gets a suffix from its file and record number (``ingest.ids``), whatever the read order.
    Cost: one pass over the bytes; a reshuffle of file names; one group of (id, place) rows by id (no
    text), and a side input of the new ids of records whose id is shared.
    """

    def __init__(self, sources: Sequence[SourceConfig], duplicate_ids: str = "suffix", invalid_text: str = "repair",
                 work_dir: Optional[str] = None, files: Optional[Sequence[tuple[str, str, str]]] = None):
        super().__init__()
        self._sources = list(sources)
        # (source, pattern, path) of exactly the files to read (one unit of a phased run); None: every
        # file the sources' patterns match
        self._files = None if files is None else [tuple(f) for f in files]
        # outside a job (tests, benchmarks) the spill files go to a temporary folder of this machine
        self._work_dir = work_dir if work_dir is not None else tempfile.mkdtemp(prefix="pilewright-ingest-")
        self._duplicate_ids = duplicate_ids
        self._invalid_text = invalid_text

    def expand(self, pbegin: beam.pvalue.PBegin) -> StageResult:
        patterns = [(s.name, p) for s in self._sources for p in s.paths]
        specs = {s.name: source_spec(s, self._invalid_text) for s in self._sources}
        if self._files is not None:
            files = pbegin | "Files" >> beam.Create(self._files) | "SpreadFiles" >> beam.Reshuffle()
        else:
            files = (
                pbegin
                | "Patterns" >> beam.Create(patterns)
                | "Expand" >> beam.ParDo(_ExpandPatternFn())
                # a file matched by two patterns of one source is read once
                | "DistinctFiles" >> beam.Distinct()
                | "SpreadFiles" >> beam.Reshuffle()
            )
        read = files | "Read" >> beam.ParDo(_ReadFileFn(specs)).with_outputs(
            "rejected", "errors", "skipped", "repaired", main="docs"
        )
        # only (id, place) rows are grouped; the new ids (of records whose id is shared, usually none)
        # reach the documents as a side input, so no text crosses a shuffle here
        new_ids = (
            read.docs
            | "IdPlaces" >> beam.MapTuple(lambda doc, place: (doc.id, place))
            | "ById" >> beam.GroupByKey()
            | "NewIds" >> beam.ParDo(_NewIdsFn(self._duplicate_ids)).with_outputs("dups", main="renames")
        )
        unique = (
            read.docs
            # one flat record per document: its fields, then its place
            | "FlatRecords" >> beam.MapTuple(lambda doc, place: tuple(doc) + tuple(place))
            | "SpillDocs" >> beam.ParDo(SpillDocumentsFn(self._work_dir))
            | "UniqueIds" >> beam.FlatMap(_read_with_unique_ids, new_ids=beam.pvalue.AsDict(new_ids.renames))
            .with_outputs(PLACES, main="docs")
        )
        unique_docs = unique.docs
        stats = [
            new_ids.dups | "DuplicateIds" >> beam.CombineGlobally(DuplicateIdsSection()),
            read.repaired
            | "SumRepaired" >> beam.CombinePerKey(sum_pairs)
            | "RepairedToOne" >> beam.combiners.ToList()
            | "RepairedSection" >> beam.Map(_repaired_section),
            # issue 25: what the dead letters lost, in records (a whole file's estimate) and bytes
            read.errors
            | "LostRows" >> beam.Map(lost_row)
            | "SumLost" >> beam.CombinePerKey(sum_triples)
            | "LostToOne" >> beam.combiners.ToList()
            | "LostSection" >> beam.Map(lost_input_section),
        ]
        if any(s.format in ("warc", "wet") for s in self._sources):
            # one small section: {source: {reason: n}} of WARC records that are not documents by design
            stats.append(
                read.skipped
                | "CountSkips" >> beam.combiners.Count.PerElement()
                | "SkipsToOne" >> beam.combiners.ToList()
                | "SkipsSection" >> beam.Map(_skips_section)
            )
        result = typed_stage_result(unique_docs, read.rejected, read.errors, stats | "Stats" >> beam.Flatten())
        return IngestResult(*result, places=unique[PLACES])


def _repaired_section(rows: list) -> tuple[str, str]:
    """{records, characters, by_source: {source: {records, characters}}}: text repaired to U+FFFD."""
    by_source = {source: {"records": r, "characters": c} for source, (r, c) in sorted(rows)}
    return "repaired_text", json.dumps({
        "records": sum(v["records"] for v in by_source.values()),
        "characters": sum(v["characters"] for v in by_source.values()),
        "by_source": by_source,
    }, sort_keys=True)


def _skips_section(counted: list) -> tuple[str, str]:
    by_source: dict[str, dict[str, int]] = {}
    for (source, reason), n in sorted(counted):
        by_source.setdefault(source, {})[reason] = n
    return "skipped_records", json.dumps(by_source, sort_keys=True)

