"""The job's phases and the files that pass between them.

1. **curate**, one Beam pipeline per unit of input files (``pipeline.job.units``): ingest and the
   per-document curation stages (``transforms.flow``: every stage before the first one that decides across
   documents). A unit writes, under ``OUT/.work/curate/<unit>/``, its curated documents, its rejected
   records and dead letters (already through the side-output hooks, so PII never reaches disk unredacted),
   the (id, place) rows of its documents, and ``unit.json``: the list of those files, the unit's audit rows
   and stats sections, and its fingerprint. ``unit.json`` is written to a temporary name and renamed, last:
   a unit without it did not finish, and one whose fingerprint matches is reused by ``run --resume``.
2. **corpus**, one Beam pipeline over every unit's files: ids shared across units made unique (only the
   compact (id, place) rows are grouped), then the corpus-wide stages (decontaminate, dedup, span_dedup and
   what follows them), the tokenizer, tokenize, mix, shards, manifest, side outputs and the audit
   (``pipeline.job.build``). Documents are read back from the units' files by reference.

Between the two nothing but files: locally the units run in separate processes (``pipeline.job.executor``),
each an ``in_memory`` pipeline, so memory follows the unit, not the corpus; on Dataflow or a portable
runner each phase is one job (the curate phase over one unit holding every file).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.pipeline.job import steps
from pilewright.pipeline.job.audit_counts import stage_counts, stage_stats
from pilewright.pipeline.job.stages import curation_stages, side_output_hooks
from pilewright.pipeline.job.units import Unit
from pilewright.pipeline.audit.profile import stage_sizes
from pilewright.schemas import layout
from pilewright.schemas.config import RunConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument
from pilewright.transforms.ingest.ids import Place, add_group, empty_section, merge_sections, section_json, unique_ids
from pilewright.transforms.ingest.stage import ReadSources
from pilewright.transforms.spill import SpillDocumentsFn, iter_payloads, loads

CURATE = "curate"
UNIT_FILE = "unit.json"
KINDS = ("docs", "rejected", "errors", "places")
DUPLICATE_IDS = ("ingest", "duplicate_ids")


def unit_stage_order(cfg: RunConfig) -> list[str]:
    """The audited stages of the curate phase, in flow order."""
    return ["ingest"] + [name for name, _ in curation_stages(cfg, None, part="unit")]


def curate_dir(out_dir: str) -> str:
    return FileSystems.join(out_dir, layout.WORK, CURATE)


def unit_dir(out_dir: str, unit: Unit) -> str:
    return FileSystems.join(curate_dir(out_dir), unit.name)


def unit_scratch(out_dir: str, unit: Unit) -> str:
    """The unit's own spill files (ingest's, the stages'): removed once the unit has finished."""
    return FileSystems.join(unit_dir(out_dir, unit), "scratch")


def build_curate_unit(p: beam.Pipeline, cfg: RunConfig, out_dir: str, unit: Unit, fingerprint: str,
                      progress_dir: Optional[str] = None) -> list[str]:
    """Adds phase 1 for one unit to ``p``; returns the audited stage names in flow order.

    ``progress_dir``: the run's progress channel, counted into (the launcher reports stages done)."""
    where = unit_dir(out_dir, unit)
    scratch = unit_scratch(out_dir, unit)
    ingest = p | steps.INGEST >> ReadSources(cfg.sources, cfg.policy.duplicate_ids, cfg.policy.invalid_text,
                                             work_dir=FileSystems.join(scratch, "ingest"), files=unit.read_list())
    results = [("ingest", ingest)]
    docs = ingest.main
    for name, transform in curation_stages(cfg, scratch, part="unit"):
        stage = docs | steps.stage_step(name) >> transform
        results.append((name, stage))
        docs = stage.main
    rejected = [r.rejected for _, r in results] | "AllRejected" >> beam.Flatten()
    errors = [r.errors for _, r in results] | "AllErrors" >> beam.Flatten()
    for name, hook in side_output_hooks(cfg):
        rejected = rejected | f"Rejected[{name}]" >> hook
        errors = errors | f"DeadLetters[{name}]" >> hook

    def refs(pc, kind):
        return (
            pc
            | f"Spill[{kind}]" >> beam.ParDo(SpillDocumentsFn(FileSystems.join(where, kind)))
            | f"Ref[{kind}]" >> beam.Map(lambda path, k=kind: ("file", (k, path)))
        )

    parts = [refs(docs, "docs"), refs(rejected, "rejected"), refs(errors, "errors"), refs(ingest.places, "places")]
    for stage, r in results:
        parts.append(stage_counts(stage, r, progress_dir, report_done=False)
                     | f"Rows[{stage}]" >> beam.Map(lambda kv: ("row", kv)))
        parts.append(stage_sizes(stage, r) | f"Sizes[{stage}]" >> beam.Map(lambda kv: ("size", kv)))
        stats = stage_stats(stage, r)
        if stats is not None:
            parts.append(stats | f"Stats[{stage}]" >> beam.Map(lambda kv: ("stat", kv)))
    names = [name for name, _ in results]
    (
        parts
        | "UnitRecords" >> beam.Flatten()
        | "UnitList" >> beam.combiners.ToList()
        | "WriteUnit" >> beam.Map(_write_unit_file, path=FileSystems.join(where, UNIT_FILE), unit=unit.index,
                                  fingerprint=fingerprint, stages=names)
    )
    return names


def _sort_key(value) -> str:
    return json.dumps(value, sort_keys=True)


def _write_unit_file(items: list, path: str, unit: int, fingerprint: str, stages: list[str]) -> str:
    doc: dict = {"unit": unit, "fingerprint": fingerprint, "stages": stages,
                 "files": {k: [] for k in KINDS}, "rows": [], "sizes": [], "stats": []}
    for kind, value in items:
        if kind == "file":
            doc["files"][value[0]].append(value[1])
        else:
            doc[{"row": "rows", "size": "sizes", "stat": "stats"}[kind]].append(list(value))
    for k in KINDS:
        doc["files"][k].sort()
    for k in ("rows", "sizes", "stats"):
        doc[k].sort(key=_sort_key)
    write_json_atomic(doc, path)
    return path


def write_json_atomic(doc: dict, path: str) -> None:
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(json.dumps(doc).encode("utf-8"))
    FileSystems.rename([tmp], [path])


def read_unit_file(out_dir: str, unit: Unit) -> Optional[dict]:
    path = FileSystems.join(unit_dir(out_dir, unit), UNIT_FILE)
    try:
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def remove_path(path: str) -> None:
    try:
        if FileSystems.exists(path):
            FileSystems.delete([path])
    except Exception:  # an object store has no folder to delete once its files are gone
        pass


# --- phase 2: the units read back ---------------------------------------------------------------------

@dataclass
class Carried:
    """Phase 1 read back in phase 2: documents, rejections, dead letters and the audit rows."""

    docs: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    rows: beam.PCollection
    sizes: beam.PCollection
    stats: beam.PCollection
    stages: tuple[str, ...]


class _CrossUnitIdsFn(beam.DoFn):
    """(id as read, [(unit, id now, place)]) -> ((unit, id now), final id) where they differ; ``dups``:
    (source, id, records) for each id more than one record has.

    A unit makes the ids shared inside it unique already (``ingest.ids``); a record alone in its unit with
    an id that another unit also has gets its suffix here, from the same rule over the whole group."""

    def __init__(self, policy: str):
        super().__init__()
        self._policy = policy

    def process(self, item):
        doc_id, members = item
        members = list(members)
        if len(members) < 2:
            return
        places = [Place(*m[2]) for m in members]
        renamed = {tuple(place): new_id for place, new_id in unique_ids(doc_id, places, self._policy)}
        yield beam.pvalue.TaggedOutput("dups", (places[0].source, doc_id, len(members)))
        for unit, now, place in members:
            final = renamed[tuple(Place(*place))]
            if final != now:
                yield (unit, now), final


class _DuplicateIdsSection(beam.CombineFn):
    def create_accumulator(self):
        return empty_section()

    def add_input(self, acc, row):
        return add_group(acc, *row)

    def merge_accumulators(self, accs):
        return merge_sections(accs)

    def extract_output(self, acc):
        return section_json(merge_sections([acc]))


def _read_places(ref: tuple[int, str]) -> Iterable:
    unit, path = ref
    for payload in iter_payloads(path):
        orig, now, place = loads(payload)
        yield orig, (unit, now, tuple(place))


def _read_records(ref: tuple[int, str], record_type, id_field: str, renames: dict) -> Iterable:
    unit, path = ref
    for payload in iter_payloads(path):
        rec = record_type(*loads(payload))
        if renames:
            new_id = renames.get((unit, getattr(rec, id_field)))
            if new_id is not None:
                rec = rec._replace(**{id_field: new_id})
        yield rec


def _refs(units: Sequence[dict], kind: str) -> list[tuple[int, str]]:
    return sorted((u["unit"], path) for u in units for path in u["files"][kind])


def read_units(p: beam.Pipeline, units: Sequence[dict], cfg: RunConfig) -> Carried:
    """Every finished unit's files as PCollections (documents by reference: only paths are created)."""
    places = (
        p | "PlaceFiles" >> beam.Create(_refs(units, "places"))
        | "Places" >> beam.FlatMap(_read_places)
        | "PlacesById" >> beam.GroupByKey()
        | "CrossUnitIds" >> beam.ParDo(_CrossUnitIdsFn(cfg.policy.duplicate_ids)).with_outputs("dups", main="renames")
    )
    renames = beam.pvalue.AsDict(places.renames)

    def records(kind, record_type, id_field):
        return (
            p | f"Carried{kind}Files" >> beam.Create(_refs(units, kind))
            # a reshuffle of the file references spreads the reading over the workers
            | f"Carried{kind}Spread" >> beam.Reshuffle()
            | f"Carried{kind}" >> beam.FlatMap(_read_records, record_type=record_type, id_field=id_field,
                                               renames=renames).with_output_types(record_type)
        )

    stats = merge_unit_stats(units)
    dup_section = (
        places.dups
        | "DuplicateIds" >> beam.CombineGlobally(_DuplicateIdsSection())
        | "DuplicateIdsRow" >> beam.Map(lambda kv: (DUPLICATE_IDS[0], kv[0], kv[1]))
    )
    rows = [(tuple(k), tuple(v)) for u in units for k, v in u["rows"]]
    sizes = [(tuple(k), n) for u in units for k, n in u["sizes"]]
    return Carried(
        docs=records("docs", Document, "id"),
        rejected=records("rejected", RejectedDocument, "id"),
        errors=records("errors", DeadLetter, "doc_id"),
        rows=p | "CarriedRows" >> beam.Create(rows),
        sizes=p | "CarriedSizes" >> beam.Create(sizes),
        stats=(p | "CarriedStats" >> beam.Create(stats), dup_section) | "AllCarriedStats" >> beam.Flatten(),
        stages=tuple(units[0]["stages"]) if units else (),
    )


# --- stats sections of several units -----------------------------------------------------------------

def _merge_values(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge_values(out[k], v) if k in out else v
        return out
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return sorted(set(map(_freeze, a)) | set(map(_freeze, b)), key=_sort_key)
    return a


def _freeze(v):
    return v if not isinstance(v, (list, dict)) else json.dumps(v, sort_keys=True)


def _by_key(value):
    if isinstance(value, dict):
        return {k: _by_key(value[k]) for k in sorted(value)}
    return value


def _ordered(value):
    """A merged section's keys in a form that does not depend on the unit order: a flat histogram by
    count, highest first (as ``languages`` is written), anything else by key at every level."""
    if isinstance(value, dict) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
        return dict(sorted(value.items(), key=lambda kv: (-kv[1], kv[0])))
    return _by_key(value)


def merge_section(payloads: Sequence[str]) -> str:
    """One stats section from the same section of several units: counts summed, sample lists united.

    The per-unit stages' sections are tallies (``languages``, ``repaired_text``, ``skipped_records``), for
    which this is exact; a section whose numbers are not sums must come from the corpus phase."""
    if len(payloads) == 1:
        return payloads[0]
    merged = json.loads(payloads[0])
    for payload in payloads[1:]:
        merged = _merge_values(merged, json.loads(payload))
    return json.dumps(_ordered(merged))


def merge_unit_stats(units: Sequence[dict]) -> list[tuple[str, str, str]]:
    by_section: dict[tuple[str, str], list[str]] = {}
    for u in sorted(units, key=lambda u: u["unit"]):
        for stage, section, payload in u["stats"]:
            if (stage, section) == DUPLICATE_IDS:
                continue  # counted over every unit's places in phase 2
            by_section.setdefault((stage, section), []).append(payload)
    return [(stage, section, merge_section(payloads)) for (stage, section), payloads in sorted(by_section.items())]
