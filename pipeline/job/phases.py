"""The job's phases and the files that pass between them.

The curation stages of ``transforms.flow`` fall into runs: per-document stages (run per **unit**) and
corpus-wide ones (``StageSpec.corpus``: dedup, span_dedup). A run is:

1. **curate**, one Beam pipeline per unit of input files (``pipeline.job.units``): ingest and the first
   run of per-document stages (extract, url_filter, normalize, langid, quality, decontaminate).
2. for each later run of stages, one phase: a corpus run is one pipeline over every document of the
   phase before (``decide``: dedup, span_dedup); a per-document run (``finish``: pii) is
   one pipeline per unit again, its units cut from the files the phase before wrote. The last run of
   corpus stages, when nothing per-document follows it, joins the final phase instead.
3. the **final** phase, one pipeline: tokenizer, tokenize, mix, shards, manifest, side outputs, audit
   (``pipeline.job.build``), reading every phase's files.

Every unit of every phase writes, under ``OUT/.work/<phase>/<unit>/``, its documents, its rejected records
and dead letters (already through the side-output hooks, so PII never reaches disk unredacted), for the
curate phase the (id, place) rows of its documents, and ``unit.json``: the list of those files, the
unit's audit rows and stats sections, and its fingerprint. ``unit.json`` is written to a temporary name
and renamed, last: a unit without it did not finish, and one whose fingerprint matches is reused by
``run --resume``. Ids that two curate units share are made unique where the curate phase's documents are
first read (only the compact (id, place) rows are grouped).

Between phases nothing but files: locally the units run in separate processes (``pipeline.job.executor``),
each an ``in_memory`` pipeline, so memory follows the unit, not the corpus, and every core has work in the
per-document phases; on Dataflow or a portable runner each phase is one job (a unit phase over one unit).
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.pipeline.job import steps
from pilewright.pipeline.job.audit_counts import stage_counts, stage_stats
from pilewright.pipeline.job.stages import (
    DUPLICATE_IDS,
    SOURCE,
    curation_kinds,
    curation_stages,
    encoder_name,
    side_output_hooks,
    source_stage,
    unit_encoder,
)
from pilewright.pipeline.job.units import Unit
from pilewright.pipeline.audit.profile import stage_sizes
from pilewright.schemas import layout
from pilewright.schemas.config import RunConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument, TokenizedDocument
from pilewright.transforms.ingest.ids import Place, unique_ids
from pilewright.transforms.ingest.stage import DuplicateIdsSection
from pilewright.transforms.spill import SpillDocumentsFn, iter_documents, iter_payloads, loads

CURATE = "curate"
UNIT_FILE = "unit.json"
KINDS = ("docs", "rejected", "errors", "places", "tokens")
# a phase's files close at this size (a fraction of a later unit: ``units.cut_even`` cuts at files), so the next unit phase has files to cut several units from even when
# one pipeline (a corpus phase) wrote every document in one bundle; named by content, so they sort (and the
# units cut from them fall) the same way in every run
PHASE_FILE_BYTES = 4 << 20
ENCODED = "encoded"  # a unit's token arrays and tokenizer copy (``Phase.encode``)


@dataclass(frozen=True)
class Phase:
    """One phase before the final one: ``kind`` ``unit`` (a pipeline per unit) or ``corpus`` (one
    pipeline over every document), and the curation stages it runs."""

    index: int
    kind: str
    stages: tuple[str, ...]
    # the last per-document phase when nothing corpus-wide follows it and the tokenizer is given: its units
    # also encode their documents (``stages.unit_encoder``), so the final phase only places the tokens
    encode: bool = False

    @property
    def name(self) -> str:
        return CURATE if self.index == 0 else f"{'finish' if self.kind == 'unit' else 'decide'}{self.index}"

    @property
    def first(self) -> bool:
        return self.index == 0


def plan_phases(cfg: RunConfig) -> tuple[list[Phase], list[str]]:
    """The phases before the final one, and the curation stages the final phase runs itself."""
    runs: list[tuple[str, list[str]]] = [("unit", [])]
    for name, corpus in curation_kinds(cfg):
        kind = "corpus" if corpus else "unit"
        if runs[-1][0] == kind:
            runs[-1][1].append(name)
        else:
            runs.append((kind, [name]))
    final: list[str] = []
    if len(runs) > 1 and runs[-1][0] == "corpus":
        final = runs.pop()[1]
    phases = [Phase(i, kind, tuple(names)) for i, (kind, names) in enumerate(runs)]
    if not final and encoder_name(cfg) is not None:
        phases[-1] = replace(phases[-1], encode=True)
    return phases, final


def unit_stage_order(cfg: RunConfig) -> list[str]:
    """The audited stages of every phase before the final one, in flow order."""
    phases, _ = plan_phases(cfg)
    encoder = [encoder_name(cfg)] if phases[-1].encode else []
    return [SOURCE.name] + [name for phase in phases for name in phase.stages] + encoder


def phase_dir(out_dir: str, phase: Phase) -> str:
    return FileSystems.join(out_dir, layout.WORK, phase.name)


def unit_dir(out_dir: str, unit: Unit, phase: Phase) -> str:
    return FileSystems.join(phase_dir(out_dir, phase), unit.name)


def unit_scratch(out_dir: str, unit: Unit, phase: Phase) -> str:
    """The unit's own spill files (ingest's, the stages'): removed once the unit has finished."""
    return FileSystems.join(unit_dir(out_dir, unit, phase), "scratch")


def build_unit(p: beam.Pipeline, cfg: RunConfig, out_dir: str, phase: Phase, unit: Unit, fingerprint: str,
               docs_in: Optional[beam.PCollection] = None, progress_dir: Optional[str] = None) -> list[str]:
    """Adds one unit of ``phase`` to ``p``: its stages and its outputs under ``OUT/.work/<phase>/<unit>``.

    The curate phase reads the unit's input files; a later unit phase reads the documents its unit's files
    hold (spill files of the phase before); a corpus phase passes its documents as ``docs_in``.
    ``progress_dir``: the run's progress channel, counted into (the launcher reports stages done).
    Returns the audited stage names in flow order."""
    where = unit_dir(out_dir, unit, phase)
    scratch = unit_scratch(out_dir, unit, phase)
    results: list = []
    places = None
    if phase.first:
        name, transform = source_stage(cfg, scratch, unit.read_list())
        read = p | steps.stage_step(name) >> transform
        results.append((name, read))
        docs, places = read.main, read.places
    elif docs_in is not None:
        docs = docs_in
    else:
        docs = (
            p | "UnitFiles" >> beam.Create([f.path for f in unit.files])
            | "UnitSpread" >> beam.Reshuffle()
            | "UnitDocs" >> beam.FlatMap(iter_documents).with_output_types(Document)
        )
    for name, transform in curation_stages(cfg, scratch, names=phase.stages, per_unit=True):
        stage = docs | steps.stage_step(name) >> transform
        results.append((name, stage))
        docs = stage.main
    tokens = None
    if phase.encode:
        # token arrays stay beside the unit's outputs (not in its scratch): the final phase reads them
        name, transform = unit_encoder(cfg, FileSystems.join(where, ENCODED))
        encoded = docs | steps.stage_step(name) >> transform
        results.append((name, encoded))
        docs, tokens = encoded.annotated, encoded.main
    rejected = [r.rejected for _, r in results] | "AllRejected" >> beam.Flatten()
    errors = [r.errors for _, r in results] | "AllErrors" >> beam.Flatten()
    for name, hook in side_output_hooks(cfg):
        rejected = rejected | f"Rejected[{name}]" >> hook
        errors = errors | f"DeadLetters[{name}]" >> hook

    def refs(pc, kind):
        return (
            pc
            | f"Spill[{kind}]" >> beam.ParDo(SpillDocumentsFn(FileSystems.join(where, *kind.split("/")),
                                                              max_bytes=PHASE_FILE_BYTES, by_content=True))
            | f"Ref[{kind}]" >> beam.Map(lambda path, k=kind.split("/")[0]: ("file", (k, path)))
        )

    names = [name for name, _ in results]
    parts = [refs(docs, "docs")] + _by_stage(rejected, "rejected", names, refs) + _by_stage(errors, "errors", names, refs)
    if places is not None:
        parts.append(refs(places, "places"))
    if tokens is not None:
        parts.append(refs(tokens | "TokenRows" >> beam.Map(_token_row), "tokens"))
    for stage, r in results:
        parts.append(stage_counts(stage, r, progress_dir, report_done=False)
                     | f"Rows[{stage}]" >> beam.Map(lambda kv: ("row", kv)))
        parts.append(stage_sizes(stage, r) | f"Sizes[{stage}]" >> beam.Map(lambda kv: ("size", kv)))
        stats = stage_stats(stage, r)
        if stats is not None:
            parts.append(stats | f"Stats[{stage}]" >> beam.Map(lambda kv: ("stat", kv)))
    (
        parts
        | "UnitRecords" >> beam.Flatten()
        | "UnitList" >> beam.combiners.ToList()
        | "WriteUnit" >> beam.Map(_write_unit_file, path=FileSystems.join(where, UNIT_FILE), unit=unit.index,
                                  fingerprint=fingerprint, stages=names, phase=phase.index)
    )
    return names


OTHER_STAGE = "~other"  # a record from no stage of the unit (sorts after every stage name's position)


def _by_stage(records, kind: str, names: Sequence[str], refs) -> list:
    """``records`` (rejected or dead letters) spilled per stage, under ``<kind>/<stage>/``.

    Why: the order in which a pipeline's stages hand their side outputs to one writer follows the runner's
    scheduling and the stages' batch boundaries, which move with the unit's size; read back stage by stage
    in flow order (``_side_refs``), the rows come out in the same order for every unit size and P."""
    slots = list(names) + [OTHER_STAGE]
    index = {name: i for i, name in enumerate(names)}
    split = records | f"ByStage[{kind}]" >> beam.Partition(lambda r, n: index.get(r.stage, n - 1), len(slots))
    return [refs(split[i], f"{kind}/{name}") for i, name in enumerate(slots)]


def build_corpus_phase(p: beam.Pipeline, cfg: RunConfig, out_dir: str, phase: Phase, earlier: Sequence[Sequence[dict]],
                       fingerprint: str, progress_dir: Optional[str] = None) -> list[str]:
    """Adds a corpus phase that is not the final one: its stages over every document of the phase before,
    written as the phase's one unit."""
    docs = read_docs(p, earlier, cfg)
    return build_unit(p, cfg, out_dir, phase, Unit(0, ()), fingerprint, docs_in=docs, progress_dir=progress_dir)


def _sort_key(value) -> str:
    return json.dumps(value, sort_keys=True)


def _write_unit_file(items: list, path: str, unit: int, fingerprint: str, stages: list[str], phase: int) -> str:
    doc: dict = {"phase": phase, "unit": unit, "fingerprint": fingerprint, "stages": stages,
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


def read_unit_file(out_dir: str, unit: Unit, phase: Phase) -> Optional[dict]:
    path = FileSystems.join(unit_dir(out_dir, unit, phase), UNIT_FILE)
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
    tokens: beam.PCollection  # TokenizedDocument by reference, when the last phase encoded (else empty)
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


def _read_places(ref: tuple[int, int, str]) -> Iterable:
    _phase, unit, path = ref
    for payload in iter_payloads(path):
        orig, now, place = loads(payload)
        yield orig, (unit, now, tuple(place))


def _token_row(t: TokenizedDocument) -> tuple:
    # by reference: the array is in the unit's token files, and the spill format holds no bytes
    return t.id, t.source, t.domain, "", t.n_tokens, t.epoch, t.ref_path, t.ref_offset


def _token_record(*fields) -> TokenizedDocument:
    return TokenizedDocument(*fields)._replace(tokens=b"")


def _read_records(ref: tuple[int, int, str], record_type, id_field: str, renames: dict, make=None) -> Iterable:
    phase, unit, path = ref
    make = make or record_type
    for payload in iter_payloads(path):
        rec = make(*loads(payload))
        if renames and phase == 0:  # only the curate phase's records can carry an id two units share
            new_id = renames.get((unit, getattr(rec, id_field)))
            if new_id is not None:
                rec = rec._replace(**{id_field: new_id})
        yield rec


def _refs(infos: Sequence[dict], kind: str) -> list[tuple[int, int, str]]:
    return sorted((u.get("phase", 0), u["unit"], path) for u in infos for path in u["files"][kind])


def _stage_of(path: str) -> str:
    parts = path.rstrip("/").split("/")
    return parts[-2] if len(parts) > 1 else OTHER_STAGE


def _side_refs(infos: Sequence[dict], kind: str) -> list[tuple[int, int, str]]:
    """The rejected or dead-letter files of every unit, stage by stage in flow order (phase, then the
    stage's place in the phase), then by unit and path: the order the rows are written in (``_by_stage``)."""
    order = {(u.get("phase", 0), name): i for u in infos for i, name in enumerate(u["stages"])}
    return sorted(_refs(infos, kind), key=lambda r: (r[0], order.get((r[0], _stage_of(r[2])), len(order)), r[1:]))


def _cross_unit_ids(p: beam.Pipeline, curate_infos: Sequence[dict], cfg: RunConfig):
    """(renames side input: (unit, id) -> final id, for ids two curate units share; (source, id, records)
    of every shared id)."""
    places = (
        p | "PlaceFiles" >> beam.Create(_refs(curate_infos, "places"))
        | "Places" >> beam.FlatMap(_read_places)
        | "PlacesById" >> beam.GroupByKey()
        | "CrossUnitIds" >> beam.ParDo(_CrossUnitIdsFn(cfg.policy.duplicate_ids)).with_outputs("dups", main="renames")
    )
    return beam.pvalue.AsDict(places.renames), places.dups


def _records(p, infos, kind, record_type, id_field, renames, label="", make=None):
    refs = _refs(infos, kind) if kind == "docs" else _side_refs(infos, kind)
    return (
        p | f"{label}Carried{kind}Files" >> beam.Create(refs)
        # a reshuffle of the file references spreads the reading over the workers
        | f"{label}Carried{kind}Spread" >> beam.Reshuffle()
        | f"{label}Carried{kind}" >> beam.FlatMap(_read_records, record_type=record_type, id_field=id_field,
                                                  renames=renames, make=make).with_output_types(record_type)
    )


def read_docs(p: beam.Pipeline, earlier: Sequence[Sequence[dict]], cfg: RunConfig) -> beam.PCollection:
    """The documents the last of the ``earlier`` phases wrote (each phase: its units' ``unit.json``)."""
    renames, _dups = _cross_unit_ids(p, earlier[0], cfg)
    return _records(p, earlier[-1], "docs", Document, "id", renames)


def read_units(p: beam.Pipeline, earlier: Sequence[Sequence[dict]], cfg: RunConfig) -> Carried:
    """Every earlier phase's files as PCollections (documents by reference: only paths are created):
    the last phase's documents, and every phase's rejections, dead letters and audit rows."""
    renames, dups = _cross_unit_ids(p, earlier[0], cfg)
    infos = [u for phase in earlier for u in phase]
    stats = merge_unit_stats(infos)
    dup_section = (
        dups
        | "DuplicateIds" >> beam.CombineGlobally(DuplicateIdsSection())
        | "DuplicateIdsRow" >> beam.Map(lambda kv: (DUPLICATE_IDS[0], kv[0], kv[1]))
    )
    rows = [(tuple(k), tuple(v)) for u in infos for k, v in u["rows"]]
    sizes = [(tuple(k), n) for u in infos for k, n in u["sizes"]]
    return Carried(
        docs=_records(p, earlier[-1], "docs", Document, "id", renames),
        tokens=_records(p, earlier[-1], "tokens", TokenizedDocument, "id", renames, make=_token_record),
        rejected=_records(p, infos, "rejected", RejectedDocument, "id", renames),
        errors=_records(p, infos, "errors", DeadLetter, "doc_id", renames),
        rows=p | "CarriedRows" >> beam.Create(rows),
        sizes=p | "CarriedSizes" >> beam.Create(sizes),
        stats=(p | "CarriedStats" >> beam.Create(stats), dup_section) | "AllCarriedStats" >> beam.Flatten(),
        stages=tuple(name for phase in earlier if phase for name in phase[0]["stages"]),
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


def _family_merge(stage: str, section: str, payloads: Sequence[str]) -> Optional[str]:
    """A stage family's own merge of its section (``merge_stats(section, payloads)`` in its package), for
    a section that is not a tally (pii's ``recognizers`` report, the same in every unit)."""
    try:
        module = importlib.import_module(f"pilewright.transforms.{stage}")
    except ImportError:
        return None
    merge = getattr(module, "merge_stats", None)
    return merge(section, list(payloads)) if merge is not None else None


def merge_unit_stats(units: Sequence[dict]) -> list[tuple[str, str, str]]:
    by_section: dict[tuple[str, str], list[str]] = {}
    for u in sorted(units, key=lambda u: (u.get("phase", 0), u["unit"])):
        for stage, section, payload in u["stats"]:
            if (stage, section) == DUPLICATE_IDS:
                continue  # counted over every unit's places where the curate phase is read back
            by_section.setdefault((stage, section), []).append(payload)
    out = []
    for (stage, section), payloads in sorted(by_section.items()):
        # a family's merge runs for one unit too: it returns the section's final form (``RunContext.per_unit``)
        merged = _family_merge(stage, section, payloads)
        out.append((stage, section, merged if merged is not None else merge_section(payloads)))
    return out
