"""The ``decontaminate`` stage: documents sharing an n-gram with an evaluation item are dropped or cut."""
from __future__ import annotations

import json
import typing
from collections import OrderedDict
from typing import Iterable, Optional

import apache_beam as beam

from pilewright.schemas.stages.decontaminate import DecontaminateConfig
from pilewright.schemas.records import Document
from pilewright.transforms.stage import count, dead_lettered, reject, typed_stage_result
from pilewright.transforms.decontaminate.cut import cut
from pilewright.transforms.decontaminate.index import EvalIndex, Match
from pilewright.transforms.decontaminate.ngrams import norm_word_spans, norm_words

STAGE = "decontaminate"
SAMPLE_IDS = 5
SECTION = "evaluation_sets"
# in a unit's section only (``RunContext.per_unit``): every item found, for the exact merge of the units'
# ``items_found`` (distinct items corpus-wide); ``merge_stats`` drops it from the section it returns
FOUND_IDS = "found_item_ids"


# (config, evaluation files' sizes and times) -> index: a job's unit pipelines in one worker process share
# one index instead of reading and hashing the evaluation files again (about 2 CPU-s for the usual sets)
_INDEXES: "OrderedDict[str, EvalIndex]" = OrderedDict()
_INDEXES_KEPT = 2


def _files_key(cfg: DecontaminateConfig) -> list:
    from apache_beam.io.filesystems import FileSystems

    out = []
    for es in cfg.sets:
        for pattern in es.paths:
            try:
                metas = FileSystems.match([pattern])[0].metadata_list
            except Exception:  # the build below says what is wrong with the set, in one line
                return [None]
            out += sorted((m.path, m.size_in_bytes, getattr(m, "last_updated_in_seconds", 0)) for m in metas)
    return out


def load_index(cfg: DecontaminateConfig) -> EvalIndex:
    """``EvalIndex.build(cfg)``, once per process for the same config and evaluation files."""
    files = _files_key(cfg)
    if files == [None]:
        return EvalIndex.build(cfg)
    key = json.dumps([cfg.model_dump(mode="json"), files], sort_keys=True, default=str)
    index = _INDEXES.get(key)
    if index is None:
        index = EvalIndex.build(cfg)
        _INDEXES[key] = index
        while len(_INDEXES) > _INDEXES_KEPT:
            _INDEXES.popitem(last=False)
    return index


def found_by_set(index: EvalIndex, matches: Iterable[Match]) -> dict[str, tuple[str, ...]]:
    """{set name: sorted item ids} of the items the matches belong to, sets in config order."""
    by_set: dict[int, set[str]] = {}
    for m in matches:
        for item in m.items:
            by_set.setdefault(int(index.item_set[item]), set()).add(index.item_ids[item])
    return {index.set_names[k]: tuple(sorted(by_set[k])) for k in sorted(by_set)}


def decide(doc: Document, index: EvalIndex, cfg: DecontaminateConfig):
    """(document to keep or None, rejection reason or None, {set: item ids found}, cut regions). Pure."""
    mask = cfg.numbers == "mask"
    if cfg.action == "drop":
        matches = index.matches(norm_words(doc.text, mask))
        found = found_by_set(index, matches)
        if not found:
            return doc, None, found, 0
        return None, f"{STAGE}:{next(iter(found))}", found, 0
    words, starts, ends = norm_word_spans(doc.text, mask)
    matches = index.matches(words)
    found = found_by_set(index, matches)
    if not found:
        return doc, None, found, 0
    res = cut(doc.text, matches, starts, ends, cfg.cut_margin, cfg.min_fragment_chars, cfg.max_cuts)
    if res.text is None:
        return None, f"{STAGE}:{res.reason}", found, res.cuts
    quality = dict(doc.quality or {})
    quality[f"{STAGE}:cut_chars"] = float(len(doc.text) - len(res.text))
    return doc._replace(text=res.text, quality=quality), None, found, res.cuts


def match_notes(doc: Document, index: EvalIndex, cfg: DecontaminateConfig, found: dict) -> dict[str, str]:
    """Evidence of a drop: the items found (``set:id,id``) and the first matched n-gram (normalized words)."""
    words = norm_words(doc.text, cfg.numbers == "mask")
    matches = index.matches(words)
    notes = {"decontaminate:items": "; ".join(f"{name}:{','.join(items)}" for name, items in found.items())}
    if matches:
        first = min(matches, key=lambda m: (m.start, -m.length))
        notes["decontaminate:ngram"] = " ".join(words[first.start:first.start + first.length])
    return notes


class _DecontaminateFn(beam.DoFn):
    """Document -> kept Document, ``rejected``, and ``found`` rows (set, doc id, item ids) for the audit."""

    def __init__(self, cfg: DecontaminateConfig):
        super().__init__()
        self._cfg = cfg
        self._index: Optional[EvalIndex] = None

    def setup(self):
        self._index = load_index(self._cfg)

    def process(self, doc: Document):
        kept, reason, found, cuts = decide(doc, self._index, self._cfg)
        for name, items in found.items():
            yield beam.pvalue.TaggedOutput("found", ("found", name, doc.id, items))
        if kept is not None:
            yield kept
            count(STAGE, "cut" if found else "kept")
        else:
            notes = match_notes(doc, self._index, self._cfg, found)
            yield beam.pvalue.TaggedOutput("rejected", reject(doc, STAGE, reason, notes=notes))
            count(STAGE, "dropped", reason.split(":", 1)[1])


class _SummaryFn(beam.DoFn):
    """One ("set", summary) row per evaluation set: what the index holds (built once, on one worker)."""

    def __init__(self, cfg: DecontaminateConfig):
        super().__init__()
        self._cfg = cfg

    def process(self, _):
        for s in load_index(self._cfg).summaries:
            yield ("set", tuple(s))


class AuditFn(beam.CombineFn):
    """Rows -> [(SECTION, JSON)]: per set, items, items protected, items found, documents, sample ids.

    Memory: the found item ids of each set (bounded by the evaluation sets' size) and a few sample ids.
    ``carry_found``: also write every found item id (``FOUND_IDS``), for ``merge_stats``.
    """

    def __init__(self, set_names: list[str], carry_found: bool = False):
        super().__init__()
        self._names = list(set_names)
        self._carry = carry_found

    def create_accumulator(self):
        return {}

    def _entry(self, acc, name):
        return acc.setdefault(name, {"items": 0, "protected": 0, "unprotected": 0, "found": set(), "docs": 0,
                                     "sample_docs": []})

    def add_input(self, acc, row):
        if row[0] == "set":
            name, items, indexed, short = row[1]
            e = self._entry(acc, name)
            e["items"], e["protected"], e["unprotected"] = items, indexed, short
        elif row[0] == "found":
            _, name, doc_id, items = row
            e = self._entry(acc, name)
            e["found"].update(items)
            e["docs"] += 1
            e["sample_docs"] = sorted(set(e["sample_docs"]) | {doc_id})[:SAMPLE_IDS]
        return acc

    def merge_accumulators(self, accs):
        out = {}
        for acc in accs:
            for name, e in acc.items():
                o = self._entry(out, name)
                for k in ("items", "protected", "unprotected"):
                    o[k] = max(o[k], e[k])
                o["found"] |= e["found"]
                o["docs"] += e["docs"]
                o["sample_docs"] = sorted(set(o["sample_docs"]) | set(e["sample_docs"]))[:SAMPLE_IDS]
        return out

    def extract_output(self, acc):
        sets = {}
        for name in self._names:
            e = self._entry(acc, name)
            sets[name] = {
                "items": e["items"], "protected": e["protected"], "unprotected": e["unprotected"],
                "items_found": len(e["found"]), "documents": e["docs"],
                "sample_item_ids": sorted(e["found"])[:SAMPLE_IDS], "sample_doc_ids": e["sample_docs"],
            }
            if self._carry:
                sets[name][FOUND_IDS] = sorted(e["found"])
        return [(SECTION, json.dumps(sets, sort_keys=True))]


def merge_sections(payloads: list[str]) -> str:
    """One ``evaluation_sets`` section from the sections of several units, each carrying ``FOUND_IDS``:
    what one pipeline over every document would have written. Pure.

    The index figures are the same in every unit; documents add up; the distinct items found and the
    first sample ids come from the union (the first ``SAMPLE_IDS`` of a union are among the units' firsts).
    """
    units = [json.loads(p) for p in payloads]
    out = {}
    for name in units[0]:
        entries = [u[name] for u in units if name in u]
        found = sorted(set().union(*(e.get(FOUND_IDS, ()) for e in entries)))
        first = entries[0]
        out[name] = {
            "items": first["items"], "protected": first["protected"], "unprotected": first["unprotected"],
            "items_found": len(found), "documents": sum(e["documents"] for e in entries),
            "sample_item_ids": found[:SAMPLE_IDS],
            "sample_doc_ids": sorted(set().union(*(e["sample_doc_ids"] for e in entries)))[:SAMPLE_IDS],
        }
    return json.dumps(out, sort_keys=True)



class Decontaminate(beam.PTransform):
    """Drop (or cut) documents that share an n-gram of normalized words with an evaluation item.

    Input: PCollection[Document]. Output: StageResult(main=Document (text cut when ``action: cut``,
    ``quality["decontaminate:cut_chars"]`` set), rejected=RejectedDocument ``decontaminate:<set>`` (drop) or
    ``decontaminate:{too_many_cuts,nothing_left}`` (cut), errors=DeadLetter, stats=("evaluation_sets", JSON)).
    Counters: decontaminate/kept, decontaminate/cut, decontaminate/dropped:<set|reason>.
    Determinism: element-wise and pure given the evaluation files; sets are reported in config order.
    Cost: the index (~12 bytes per item n-gram) once per worker; one numpy pass per n-gram length per document;
    no shuffle but a global combine of the few rows of contaminated documents.
    """

    def __init__(self, cfg: DecontaminateConfig, carry_found: bool = False):
        super().__init__()
        self._cfg = cfg
        self._carry = carry_found

    def expand(self, docs):
        outs, errors = dead_lettered(docs, "Scan", _DecontaminateFn(self._cfg), STAGE)
        set_rows = docs.pipeline | "IndexOnce" >> beam.Create([None]) | "IndexSummary" >> beam.ParDo(
            _SummaryFn(self._cfg))
        stats = (
            (set_rows, outs["found"])
            | "AuditRows" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda row: (None, row))
            | "Audit" >> beam.CombinePerKey(AuditFn([s.name for s in self._cfg.sets], self._carry))
            | "Sections" >> beam.FlatMap(lambda kv: kv[1]).with_output_types(typing.Tuple[str, str])
        )
        return typed_stage_result(outs["kept"], outs["rejected"], errors, stats)


def check_eval_sets(cfg: DecontaminateConfig) -> list:
    """Reads every evaluation file once before the run: raises ``EvalSetError`` (one line) on a bad one.
    Not through ``load_index``: the launcher would keep the index (~30 MB for MMLU, GSM8K, TruthfulQA and
    HumanEval) for the whole run while its unit processes build their own."""
    return EvalIndex.build(cfg).summaries
