"""Pure logic of the mix stage: token budgets per domain and source, shortfalls, and the seeded choices.

Nothing here imports Beam. The Beam shell (``transforms/mix/stage.py``) gathers per-source token totals and
per-cell token arrays, calls ``plan_budgets`` and ``with_cell_limits`` once, and applies ``copies_of`` and ``order_key`` per document.

Budgets: ``target x share`` per domain. Inside a domain every source is sampled at a rate proportional to its
weight (weight 1.0 = natural size), no source above ``max_epochs`` (water-filling: capped sources free their
budget for the others). A domain whose every source at ``max_epochs`` cannot reach its budget is short;
``warn`` shrinks the whole target so every share still holds (the largest corpus with the requested mix),
``error`` stops the job.

Choices: a source sampled at rate ``r = e + f`` gives every document ``e`` whole epochs, plus one more copy
for the documents whose selection cell (a seeded hash of the id cut into ``MIX_CELLS`` cells) is below a
limit chosen from per-cell token totals so the partial epoch holds ``f x tokens`` to within half a cell.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from pilewright.schemas.errors import UserError
from pilewright.transforms.hashing import stable_hash64

# cells per source for the partial-epoch selection and for the order; 16 bits of a 64-bit hash. A cell
# holds 1/65,536 of a source, so a budget is met to within half a cell (or one document, whichever is larger)
MIX_CELLS = 1 << 16
_CELL_SHIFT = 64 - 16
_LOW_MASK = (1 << _CELL_SHIFT) - 1
# 63 bits: Beam's integer coder is signed 64-bit, and transforms/shard/stage.py cuts keys in [0, 2**63)
KEY_SPACE = 1 << 63


class MixShortfallError(UserError, ValueError):
    """A domain cannot reach its share within ``max_epochs`` and the config says ``on_shortfall: error``."""


@dataclass(frozen=True)
class SourceInput:
    """What the plan needs to know about one source: config and what curation left of it."""

    name: str
    domain: str
    weight: float
    tokens: int
    docs: int


@dataclass(frozen=True)
class SourcePlan:
    name: str
    domain: str
    weight: float
    available_tokens: int
    available_docs: int
    target_tokens: float
    rate: float  # target / available: < 1 subsamples, > 1 repeats
    full_epochs: int
    partial_tokens: float  # tokens wanted from the partial (last) epoch
    cell_limit: int = 0  # documents whose selection cell is below this get the partial-epoch copy


@dataclass(frozen=True)
class Shortfall:
    domain: str
    share: float
    target_tokens: int
    available_tokens: int
    max_epochs: int
    capacity_tokens: int
    missing_tokens: int

    def message(self) -> str:
        return (
            f"mix: domain {self.domain!r} is short by {self.missing_tokens:,} tokens: its share "
            f"{self.share:g} of the target needs {self.target_tokens:,}, curation left {self.available_tokens:,}, "
            f"at most {self.capacity_tokens:,} with max_epochs={self.max_epochs}"
        )


@dataclass(frozen=True)
class MixPlan:
    requested_target: int
    target: int  # requested, or shrunk to keep every share when a domain is short (on_shortfall: warn)
    shares: Mapping[str, float]
    max_epochs: int
    sources: Mapping[str, SourcePlan]
    shortfalls: Sequence[Shortfall] = field(default_factory=tuple)

    def domain_target(self, domain: str) -> float:
        return self.target * self.shares[domain]

    def to_json_dict(self) -> dict:
        return asdict(self)


def _water_fill(budget: float, sources: Sequence[SourceInput], max_epochs: int) -> dict[str, float]:
    """Rates r_s = min(k * w_s, max_epochs) with sum r_s * T_s == budget (callers ensure it is reachable)."""
    live = [s for s in sources if s.tokens > 0]
    rates = {s.name: 0.0 for s in sources}
    if budget <= 0 or not live:
        return rates
    # sources reach the cap in order of max_epochs / weight; ties broken by name for determinism
    order = sorted(live, key=lambda s: (max_epochs / s.weight, s.name))
    capped_tokens = 0.0
    free_wt = sum(s.weight * s.tokens for s in order)
    k = 0.0
    for i, s in enumerate(order):
        k = (budget - max_epochs * capped_tokens) / free_wt
        if k * s.weight <= max_epochs:
            break
        capped_tokens += s.tokens
        free_wt -= s.weight * s.tokens
        if free_wt <= 0:
            k = math.inf
            break
    for s in live:
        rates[s.name] = min(k * s.weight, float(max_epochs))
    return rates


def plan_budgets(
    sources: Sequence[SourceInput],
    shares: Mapping[str, float],
    requested_target: int,
    max_epochs: int,
    on_shortfall: str,
) -> MixPlan:
    """Target per domain and rate per source; raises ``MixShortfallError`` when short and ``on_shortfall`` is error.

    Args:
        sources: every configured source with its curated token and document counts.
        shares: domain -> share of the target (sums to 1).
        requested_target: tokens asked for (``model_params x tokens_per_param`` or ``target_tokens``).
        max_epochs: how many times a source may be repeated at most.
        on_shortfall: ``warn`` (shrink the target to keep the shares) or ``error``.

    Returns:
        The plan, without cell limits (``with_cell_limits`` adds them).
    """
    by_domain: dict[str, list[SourceInput]] = {d: [] for d in shares}
    for s in sorted(sources, key=lambda s: s.name):
        by_domain.setdefault(s.domain, []).append(s)
    capacity = {d: max_epochs * sum(s.tokens for s in by_domain[d]) for d in by_domain}
    shortfalls = []
    for d in sorted(shares):
        need = requested_target * shares[d]
        if shares[d] > 0 and need > capacity[d]:
            shortfalls.append(
                Shortfall(d, shares[d], int(round(need)), capacity[d] // max_epochs, max_epochs, capacity[d],
                          int(math.ceil(need - capacity[d])))
            )
    target = requested_target
    if shortfalls:
        if on_shortfall == "error":
            raise MixShortfallError(
                "; ".join(s.message() for s in shortfalls)
                + ". Add sources to the domain, raise mix.max_epochs, lower the target, or set mix.on_shortfall: warn"
            )
        # the largest target every domain can still fill at its share
        target = int(math.floor(min(capacity[s.domain] / s.share for s in shortfalls)))
    plans: dict[str, SourcePlan] = {}
    for d, members in sorted(by_domain.items()):
        budget = min(target * shares.get(d, 0.0), float(capacity[d]))
        if shortfalls and capacity[d] - budget < 1.0:
            budget = float(capacity[d])  # the binding short domain uses every epoch (flooring left a sliver)
        rates = _water_fill(budget, members, max_epochs)
        for s in members:
            rate = rates[s.name]
            want = rate * s.tokens
            full = min(int(math.floor(rate + 1e-12)), max_epochs)
            partial = max(0.0, want - full * s.tokens) if full < max_epochs else 0.0
            plans[s.name] = SourcePlan(s.name, d, s.weight, s.tokens, s.docs, want, rate, full, partial)
    return MixPlan(requested_target, target, dict(shares), max_epochs, plans, tuple(shortfalls))


def cell_limit(cell_tokens: np.ndarray, budget: float) -> int:
    """The L for which cells [0, L) hold closest to ``budget`` tokens (the smaller L on a tie)."""
    if budget <= 0:
        return 0
    cum = np.concatenate(([0], np.cumsum(cell_tokens, dtype=np.int64)))
    hi = int(np.searchsorted(cum, budget, side="left"))
    if hi >= len(cum):
        return len(cum) - 1
    lo = hi - 1
    return hi if lo < 0 or (cum[hi] - budget) < (budget - cum[lo]) else lo


def with_cell_limits(plan: MixPlan, cell_tokens: Mapping[str, np.ndarray]) -> MixPlan:
    """The plan with each source's partial-epoch cell limit, from its per-cell token totals.

    A limit misses its source's budget by up to half a cell (or document). Inside a domain that miss is
    carried to the next source that can take more or less of a partial epoch, finest-grained sources last,
    so the domain's total misses by about half of one small document rather than by the sum of the misses.
    """
    empty = np.zeros(MIX_CELLS, dtype=np.int64)
    limits: dict[str, int] = {}
    by_domain: dict[str, list[SourcePlan]] = {}
    for sp in plan.sources.values():
        by_domain.setdefault(sp.domain, []).append(sp)
    for _domain, members in sorted(by_domain.items()):
        # coarse sources (long documents) first: the last, finest one absorbs what is left
        members.sort(key=lambda sp: (-(sp.available_tokens / max(1, sp.available_docs)), sp.name))
        carry = 0.0
        for sp in members:
            flexible = sp.available_tokens > 0 and sp.rate > 0 and sp.full_epochs < plan.max_epochs
            if not flexible:
                limits[sp.name] = 0
                continue
            cells = cell_tokens.get(sp.name, empty)
            want = sp.partial_tokens + carry
            limit = cell_limit(cells, min(max(want, 0.0), float(sp.available_tokens)))
            limits[sp.name] = limit
            carry = want - float(np.sum(cells[:limit], dtype=np.int64))
    sources = {name: replace(sp, cell_limit=limits[name]) for name, sp in plan.sources.items()}
    return MixPlan(plan.requested_target, plan.target, plan.shares, plan.max_epochs, sources, plan.shortfalls)


def selection_cell(seed: int, doc_id: str) -> int:
    """The document's cell for the partial-epoch draw: a seeded hash of its id, top 16 bits."""
    return stable_hash64(str(seed), "mix-select", doc_id) >> _CELL_SHIFT


def copies_of(sp: SourcePlan, sel_cell: int) -> range:
    """Epochs a document of this source appears in: all whole epochs, plus the partial one if drawn."""
    return range(sp.full_epochs + (1 if sel_cell < sp.cell_limit else 0))


def order_hash(seed: int, doc_id: str, epoch: int) -> tuple[int, float]:
    """(order cell, position inside the cell in [0, 1)) of one copy, from a seeded hash of (id, epoch)."""
    h = stable_hash64(str(seed), "mix-order", doc_id, str(epoch))
    return h >> _CELL_SHIFT, (h & _LOW_MASK) / float(1 << _CELL_SHIFT)


def order_key(cell: int, within: float, n_tokens: int, starts: np.ndarray, cell_tokens: np.ndarray, total: int) -> int:
    """Key in [0, 2**63) at the copy's relative position in its domain's token stream.

    A domain's copies are laid end to end, its cells in seeded order and each copy's span at a seeded place
    inside its cell; the key is the span's midpoint over the domain's total. Every domain is thus spread
    evenly over the key space, so any key prefix holds each domain at its share to within half of the one
    document the prefix boundary cuts (shards are contiguous key ranges, so this holds for shard prefixes).
    """
    if total <= 0:
        return 0
    room = max(0.0, float(cell_tokens[cell]) - n_tokens)
    pos = (float(starts[cell]) + within * room + n_tokens / 2.0) / float(total)
    return min(KEY_SPACE - 1, int(pos * KEY_SPACE))
