"""Mix stage: size the corpus to the token target and each domain to its share, by exact token counts.

The decisions live in ``transforms/mix/plan.py`` (pure); this module gathers the totals they need as
small combines and applies them per document.
"""
from __future__ import annotations

import typing

import json
import logging
from typing import Iterable, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np

from pilewright.schemas.config import SourceConfig
from pilewright.schemas.stages.mix import MixConfig
from pilewright.schemas.records import RejectedDocument, TokenizedDocument
from pilewright.transforms.stage import count, dead_lettered, sum_pairs, sum_triples
from pilewright.transforms.mix.plan import (
    MIX_CELLS,
    MixPlan,
    SourceInput,
    copies_of,
    order_hash,
    order_key,
    plan_budgets,
    selection_cell,
    with_cell_limits,
)

STAGE = "mix"
REPORT_SECTION = "mix"
_log = logging.getLogger(__name__)


class CellTokens(beam.CombineFn):
    """(cell, tokens) -> int64 array of ``MIX_CELLS`` token totals; sparse dict while accumulating."""

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, acc: dict, item: tuple[int, int]) -> dict:
        cell, tokens = item
        acc[cell] = acc.get(cell, 0) + tokens
        return acc

    def merge_accumulators(self, accs: Iterable[dict]) -> dict:
        out: dict = {}
        for acc in accs:
            for cell, tokens in acc.items():
                out[cell] = out.get(cell, 0) + tokens
        return out

    def extract_output(self, acc: dict) -> np.ndarray:
        arr = np.zeros(MIX_CELLS, dtype=np.int64)
        for cell, tokens in acc.items():
            arr[cell] = tokens
        return arr




def make_plan(
    totals: Sequence[tuple[str, tuple[int, int]]],
    cells: Mapping[str, np.ndarray],
    cfg: MixConfig,
    sources: Sequence[tuple[str, str, float]],
) -> MixPlan:
    """The plan from per-source (docs, tokens) totals and selection-cell arrays. Raises on a shortfall by config."""
    have = dict(totals)
    inputs = [SourceInput(name, domain, weight, have.get(name, (0, 0))[1], have.get(name, (0, 0))[0])
              for name, domain, weight in sources]
    plan = plan_budgets(inputs, cfg.domains, cfg.target, cfg.max_epochs, cfg.on_shortfall)
    for s in plan.shortfalls:
        _log.warning("%s; the corpus is shrunk to %s tokens so every share holds", s.message(), f"{plan.target:,}")
    return with_cell_limits(plan, cells)


def _r(x: float) -> float:
    return round(float(x), 6)


def mix_report(plan: MixPlan, achieved: Sequence[tuple[str, tuple[int, int, int]]], seed: int, cfg: MixConfig) -> dict:
    """Target vs achieved in total, per domain and per source, from the plan and the counted output.

    ``achieved`` rows are ``(source, (distinct docs, copies, tokens))`` counted from the mixed documents.
    """
    got = {name: row for name, row in achieved}
    total = sum(t for _d, _c, t in got.values())
    domains: dict[str, dict] = {}
    for d in sorted(plan.shares):
        members = [sp for sp in plan.sources.values() if sp.domain == d]
        tokens = sum(got.get(sp.name, (0, 0, 0))[2] for sp in members)
        target = plan.domain_target(d)
        domains[d] = {
            "share": _r(plan.shares[d]),
            "target_tokens": int(round(target)),
            "achieved_tokens": tokens,
            "achieved_share": _r(tokens / total) if total else 0.0,
            "available_tokens": sum(sp.available_tokens for sp in members),
            "docs": sum(got.get(sp.name, (0, 0, 0))[0] for sp in members),
            "copies": sum(got.get(sp.name, (0, 0, 0))[1] for sp in members),
        }
    sources = {}
    for name in sorted(plan.sources):
        sp = plan.sources[name]
        docs, copies, tokens = got.get(name, (0, 0, 0))
        sources[name] = {
            "domain": sp.domain,
            "weight": _r(sp.weight),
            "available_tokens": sp.available_tokens,
            "available_docs": sp.available_docs,
            "sampling_rate": _r(sp.rate),
            "achieved_rate": _r(tokens / sp.available_tokens) if sp.available_tokens else 0.0,
            "full_epochs": sp.full_epochs,
            "partial_epoch_tokens": int(round(sp.partial_tokens)),
            "target_tokens": int(round(sp.target_tokens)),
            "achieved_tokens": tokens,
            "docs": docs,
            "copies": copies,
        }
    return {
        "version": cfg.version,
        "seed": seed,
        "requested_target_tokens": plan.requested_target,
        "target_tokens": plan.target,
        "achieved_tokens": total,
        "achieved_vs_target": _r(total / plan.target) if plan.target else 0.0,
        "max_epochs": plan.max_epochs,
        "on_shortfall": cfg.on_shortfall,
        "shortfall": [
            {"domain": s.domain, "share": _r(s.share), "target_tokens": s.target_tokens,
             "available_tokens": s.available_tokens, "capacity_tokens": s.capacity_tokens,
             "missing_tokens": s.missing_tokens, "message": s.message()}
            for s in plan.shortfalls
        ],
        "domains": domains,
        "sources": sources,
    }


class _SelectFn(beam.DoFn):
    """TokenizedDocument -> one copy per epoch it is drawn for, or a RejectedDocument when none."""

    def process(self, doc: TokenizedDocument, plan: MixPlan, seed: int) -> Iterable:
        sp = plan.sources[doc.source]
        epochs = copies_of(sp, selection_cell(seed, doc.id))
        for epoch in epochs:
            yield doc._replace(epoch=epoch)
        if len(epochs) == 0:
            yield beam.pvalue.TaggedOutput(
                "rejected",
                RejectedDocument(doc.id, doc.source, doc.domain, STAGE, "subsampled", "", 0),
            )
            count(STAGE, "dropped", "subsampled")
        else:
            count(STAGE, "kept")
            count(STAGE, "copies", n=len(epochs))


class _KeyFn(beam.DoFn):
    """copy -> (order key, copy); a domain's cumulative cell offsets are computed once per worker."""

    def __init__(self, seed: int):
        super().__init__()
        self._seed = seed
        self._tables: dict = {}
        self._src: Optional[int] = None

    def process(self, doc: TokenizedDocument, order_cells: Mapping[str, np.ndarray]) -> Iterable:
        if self._src != id(order_cells):
            self._tables, self._src = {}, id(order_cells)
        table = self._tables.get(doc.domain)
        if table is None:
            arr = order_cells[doc.domain]
            table = (np.cumsum(arr) - arr, arr, int(arr.sum()))
            self._tables[doc.domain] = table
        cell, within = order_hash(self._seed, doc.id, doc.epoch)
        yield order_key(cell, within, doc.n_tokens, *table), doc


class MixResult(typing.NamedTuple):
    """``StageResult``'s fields (``main``: the first copy of each document), plus every copy (``mixed``),
    (order key, copy) pairs for ``WriteShards`` (``keyed``) and the ``("mix", json)`` report."""

    main: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    stats: Optional[beam.PCollection]
    mixed: beam.PCollection
    keyed: beam.PCollection
    report: beam.PCollection


class MixDomains(beam.PTransform):
    """TokenizedDocument -> StageResult(main=selected documents once, rejected=subsampled, errors, stats).

    The result's ``mixed`` holds every copy (``epoch`` numbers repeats, so (id, epoch) is unique) and
    ``keyed`` holds (order key, copy) for ``WriteShards``: keys spread each domain evenly over the key
    space, so any prefix of the shards has the target mix (to within half of one cut document). ``report`` is ``("mix", json)`` with target vs
    achieved tokens in total, per domain and per source, epochs, rates and any shortfall.
    Counters: ``mix/kept``, ``mix/copies``, ``mix/dropped:subsampled``.
    Determinism: every choice is a function of (seed, id, epoch) and of token totals.
    Cost: three small combines (per-source totals; per-cell token arrays of 65,536 int64 per source and
    per domain, held as side inputs); element-wise otherwise, no shuffle of the token data.
    """

    def __init__(self, cfg: MixConfig, sources: Sequence[SourceConfig], seed: int):
        super().__init__()
        self._cfg = cfg
        self._sources = [(s.name, s.domain, float(s.weight)) for s in sources]
        self._seed = seed

    def expand(self, docs: beam.PCollection) -> "MixResult":
        cfg, seed, sources = self._cfg, self._seed, self._sources
        totals = (
            docs
            | "SourceTokens" >> beam.Map(lambda d: (d.source, (1, d.n_tokens)))
            | "SumSourceTokens" >> beam.CombinePerKey(sum_pairs)
        )
        select_cells = (
            docs
            | "SelectCells" >> beam.Map(lambda d: (d.source, (selection_cell(seed, d.id), d.n_tokens)))
            | "SumSelectCells" >> beam.CombinePerKey(CellTokens())
        )
        plan = (
            totals
            | "AllTotals" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(make_plan, cells=beam.pvalue.AsDict(select_cells), cfg=cfg, sources=sources)
        )
        outs, errors = dead_lettered(docs, "Select", _SelectFn(), STAGE, main_tag="copies",
                                     main_type=TokenizedDocument,
                                     side_inputs={"plan": beam.pvalue.AsSingleton(plan), "seed": seed},
                                     rejected=RejectedDocument)
        mixed, rejected = outs["copies"], outs["rejected"]
        order_cells = (
            mixed
            | "OrderCells" >> beam.Map(lambda d: (d.domain, (order_hash(seed, d.id, d.epoch)[0], d.n_tokens)))
            | "SumOrderCells" >> beam.CombinePerKey(CellTokens())
        )
        keyed = mixed | "OrderKey" >> beam.ParDo(
            _KeyFn(seed), order_cells=beam.pvalue.AsDict(order_cells)
        ).with_output_types(Tuple[int, TokenizedDocument])
        achieved = (
            mixed
            | "Achieved" >> beam.Map(lambda d: (d.source, (1 if d.epoch == 0 else 0, 1, d.n_tokens)))
            | "SumAchieved" >> beam.CombinePerKey(sum_triples)
            | "AllAchieved" >> beam.combiners.ToList()
        )
        report = achieved | "Report" >> beam.Map(
            lambda rows, p: (REPORT_SECTION, json.dumps(mix_report(p, rows, seed, cfg), sort_keys=True)),
            p=beam.pvalue.AsSingleton(plan),
        )
        distinct = mixed | "FirstCopies" >> beam.Filter(lambda d: d.epoch == 0).with_output_types(TokenizedDocument)
        return MixResult(main=distinct, rejected=rejected, errors=errors, stats=report, mixed=mixed, keyed=keyed,
                         report=report)

