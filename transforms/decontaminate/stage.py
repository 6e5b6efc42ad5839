"""The ``decontaminate`` stage: documents sharing an n-gram with an evaluation item are dropped or cut."""
from __future__ import annotations

import json
import typing
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
        self._index = EvalIndex.build(self._cfg)

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
        for s in EvalIndex.build(self._cfg).summaries:
            yield ("set", tuple(s))


class AuditFn(beam.CombineFn):
    """Rows -> [(SECTION, JSON)]: per set, items, items protected, items found, documents, sample ids.

    Memory: the found item ids of each set (bounded by the evaluation sets' size) and a few sample ids.
    """

    def __init__(self, set_names: list[str]):
        super().__init__()
        self._names = list(set_names)

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
        return [(SECTION, json.dumps(sets, sort_keys=True))]



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

    def __init__(self, cfg: DecontaminateConfig):
        super().__init__()
        self._cfg = cfg

    def expand(self, docs):
        outs, errors = dead_lettered(docs, "Scan", _DecontaminateFn(self._cfg), STAGE)
        set_rows = docs.pipeline | "IndexOnce" >> beam.Create([None]) | "IndexSummary" >> beam.ParDo(
            _SummaryFn(self._cfg))
        stats = (
            (set_rows, outs["found"])
            | "AuditRows" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda row: (None, row))
            | "Audit" >> beam.CombinePerKey(AuditFn([s.name for s in self._cfg.sets]))
            | "Sections" >> beam.FlatMap(lambda kv: kv[1]).with_output_types(typing.Tuple[str, str])
        )
        return typed_stage_result(outs["kept"], outs["rejected"], errors, stats)


def check_eval_sets(cfg: DecontaminateConfig) -> list:
    """Reads every evaluation file once before the run: raises ``EvalSetError`` (one line) on a bad one."""
    return EvalIndex.build(cfg).summaries
