"""Connected components of the duplicate graph, distributed: bounded rounds of label propagation.

Nodes are members ``(rank, id, weight, samples)``; a node's label is the best ``(rank, id)`` it has heard
of, starting with the best of itself and its neighbours. Each round is one ``GroupByKey``: a node whose
label changed in the previous round sends it to its neighbours, and each node keeps the best label it
receives (Rastogi et al.'s Hash-Min). Groups are bounded by a node's degree plus one, and the star edges of
``dedup.lsh`` keep degrees bounded by the buckets a node centers (so never a component-sized group, which
hash-to-min and large-star/small-star build at the component's minimum). Star edges make components
shallow, so a few rounds settle nearly everything; ``max_rounds`` are unrolled, each counting the nodes it
changed (``dedup/cc_updated:round_NN``).

Residue fallback: after the last round, one more exchange finds every edge whose ends still disagree
(all such edges touch a node that changed in the last round). Those edges, contracted to
``(label, label)`` pairs and de-duplicated, are collected in one worker if there are at most
``max_residue_edges`` of them, and a union-find over them maps each label to its component's best label
(a side input of at most that many entries). Over the cap, labels stay as the rounds left them: a long
chain may keep more than one document (never a wrong removal), counted in the audit's ``components``
section as ``residue_resolved: false``.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

import apache_beam as beam

from pilewright.transforms.stage import count

STAGE = "dedup"
_STATE, _MSG = 0, 1

Label = tuple  # (rank, id)
# node state: (member, label, neighbour ids (sorted), changed in the last round)
State = tuple


def label_of(member: tuple) -> Label:
    return member[0], member[1]


def initial_state(pairs: Iterable[tuple[tuple, tuple]]) -> State:
    """State of one node from its (self member, neighbour member) edge ends; label = best of all of them."""
    me = None
    nbrs: dict[str, tuple] = {}
    for self_member, nbr in pairs:
        me = self_member
        nbrs[nbr[1]] = nbr
    label = min([label_of(me)] + [label_of(n) for n in nbrs.values()])
    return me, label, tuple(sorted(nbrs)), True


def messages(node_id: str, state: State) -> Iterable[tuple[str, tuple]]:
    """The state to the node itself, and its label to every neighbour when it changed last round."""
    yield node_id, (_STATE, state)
    if state[3]:
        for nbr in state[2]:
            yield nbr, (_MSG, state[1])


def receive(values: Iterable[tuple]) -> tuple[State, Optional[Label]]:
    """(the node's state, best label received or None) from one grouped node."""
    state, best = None, None
    for tag, value in values:
        if tag == _STATE:
            state = value
        elif best is None or value < best:
            best = value
    return state, best


def update(values: Iterable[tuple]) -> State:
    state, best = receive(values)
    me, label, nbrs, _ = state
    if best is not None and best < label:
        return me, best, nbrs, True
    return me, label, nbrs, False


def union_find_roots(edges: Iterable[tuple[Label, Label]]) -> dict[str, Label]:
    """label id -> best label of its component, for every label that is not its component's best.

    The result depends only on the set of edges, never on their order: a root is always the minimum.
    """
    parent: dict[Label, Label] = {}

    def find(x: Label) -> Label:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            nxt = parent.get(x, x)
            parent[x] = root
            x = nxt
        return root

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            parent[hi] = lo
            parent.setdefault(lo, lo)
    return {x[1]: find(x) for x in sorted(parent) if find(x) != x}


class ComponentAuditFn(beam.CombineFn):
    """Rows of the components step -> its summary and the residue's union-find, in bounded memory.

    Rows: ("node", degree) per node, ("unconverged",) per node still changing after the last round,
    ("contracted", (label, label)) per residue edge. Contracted edges are kept, de-duplicated, while there
    are at most ``cap`` distinct ones; past it only their count is kept and the residue is left unresolved.
    """

    def __init__(self, cap: int):
        super().__init__()
        self._cap = cap

    def create_accumulator(self):
        # nodes, degree sum, max degree, unconverged, contracted rows seen, distinct contracted (or None)
        return [0, 0, 0, 0, 0, []]

    def _add_edges(self, acc, edges):
        if acc[5] is None:
            return
        acc[5].extend(edges)
        if len(acc[5]) > self._cap:
            acc[5] = sorted(set(acc[5]))
            if len(acc[5]) > self._cap:
                acc[5] = None

    def add_input(self, acc, row):
        kind = row[0]
        if kind == "node":
            acc[0] += 1
            acc[1] += row[1]
            acc[2] = max(acc[2], row[1])
        elif kind == "unconverged":
            acc[3] += 1
        else:
            acc[4] += 1
            self._add_edges(acc, [tuple(row[1])])
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for acc in accs:
            out[0] += acc[0]
            out[1] += acc[1]
            out[2] = max(out[2], acc[2])
            out[3] += acc[3]
            out[4] += acc[4]
            if acc[5] is None:
                out[5] = None
            else:
                self._add_edges(out, [tuple(e) for e in acc[5]])
        return out

    def extract_output(self, acc):
        nodes, degree_sum, max_degree, unconverged, contracted, edges = acc
        resolved = edges is not None
        return {
            "nodes": nodes,
            "edges": degree_sum // 2,
            "max_degree": max_degree,
            "unconverged_after_rounds": unconverged,
            "residue_edges": len(set(edges)) if resolved else contracted,
            "residue_resolved": resolved,
            "map": union_find_roots(edges) if resolved else {},
        }


# what the final relabelling sees when the graph is empty
EMPTY_SUMMARY = {"nodes": 0, "edges": 0, "max_degree": 0, "unconverged_after_rounds": 0, "residue_edges": 0,
                 "residue_resolved": True, "map": {}}


def final_label(state_and_next: tuple, summary: dict) -> tuple[tuple, Label]:
    """(member, final label): the union-find root of the label when the residue was resolved."""
    state, next_label = state_and_next
    me, label = state[0], state[1]
    if summary["residue_resolved"]:
        root = summary["map"].get(label[1])
        return me, (tuple(root) if root is not None else label)
    return me, next_label


def component_stats(summary: dict, rounds: int) -> dict:
    """The audit's ``components`` section (the summary without the relabelling map)."""
    out = {"rounds": rounds}
    out.update({k: v for k, v in summary.items() if k != "map"})
    return out


def _edge_ends(edge: tuple) -> list:
    a, b = edge
    return [(a[1], (a, b)), (b[1], (b, a))]


class _InitFn(beam.DoFn):
    """Grouped edge ends of one node -> its first messages, and its degree for the audit."""

    def process(self, item):
        node_id, pairs = item
        state = initial_state(pairs)
        yield from messages(node_id, state)
        yield beam.pvalue.TaggedOutput("audit", ("node", len(state[2])))


class _RoundFn(beam.DoFn):
    """One round: the node's new state, sent on (to itself, and its label to neighbours if it changed)."""

    def __init__(self, round_no: int):
        super().__init__()
        self._counter = f"round_{round_no:02d}"

    def process(self, item):
        node_id, values = item
        new = update(values)
        yield from messages(node_id, new)
        if new[3]:
            count(STAGE, "cc_updated", self._counter)


class _ResidueFn(beam.DoFn):
    """The last exchange: (final-round state, best label heard) and audit rows for what still disagrees."""

    def process(self, item):
        _node_id, values = item
        state, best = receive(values)
        label = state[1]
        if best is not None and best < label:
            yield beam.pvalue.TaggedOutput("audit", ("contracted", (best, label)))
            yield state, best
        else:
            yield state, label
        if state[3]:
            yield beam.pvalue.TaggedOutput("audit", ("unconverged",))
            count(STAGE, "cc_unconverged")


# The main outputs' type, declared: from apache-beam 2.78 a DoFn that also yields TaggedOutput is inferred to
# give Union[TaggedOutput, ...] on its main output, which fails FinalLabel's type check at graph construction.
_KV = Tuple[Any, Any]


class ConnectedComponents(beam.PTransform):
    """Edges (member, member) -> (member, component label) for every node with an edge.

    Input: PCollection[(Member, Member)] of distinct undirected edges. Output: a pair ``(labels, summary)``:
    PCollection[(Member, (rank, id))], and at most one summary dict (graph size, convergence, residue)
    for the audit. Counters: ``dedup/cc_updated:round_NN``, ``dedup/cc_unconverged``.
    Deterministic: labels are minima over the graph, whatever the input order. Cost: ``max_rounds + 2``
    shuffles of the graph's nodes and edges; per-key groups bounded by node degree + 1; the residue step
    holds at most ``max_residue_edges`` contracted edges in one worker.
    """

    def __init__(self, max_rounds: int, max_residue_edges: int):
        super().__init__()
        self._rounds = max_rounds
        self._cap = max_residue_edges

    def expand(self, edges):
        init = (
            edges
            | "EdgeEnds" >> beam.FlatMap(_edge_ends)
            | "ByNode" >> beam.GroupByKey()
            | "InitialState" >> beam.ParDo(_InitFn()).with_output_types(_KV).with_outputs("audit", main="messages")
        )
        msgs = init["messages"]
        for r in range(1, self._rounds + 1):
            msgs = msgs | f"Group{r:02d}" >> beam.GroupByKey() | f"Round{r:02d}" >> beam.ParDo(_RoundFn(r))
        residue = (
            msgs
            | "GroupResidue" >> beam.GroupByKey()
            | "Residue" >> beam.ParDo(_ResidueFn()).with_output_types(_KV).with_outputs("audit", main="states")
        )
        summary = (
            (init["audit"], residue["audit"])
            | "AuditRows" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda row: (None, row))
            | "Summarize" >> beam.CombinePerKey(ComponentAuditFn(self._cap))
            | "DropKey" >> beam.Values()
        )
        labels = residue["states"] | "FinalLabel" >> beam.Map(
            final_label, summary=beam.pvalue.AsSingleton(summary, default_value=EMPTY_SUMMARY)
        )
        return labels, summary | "Stats" >> beam.Map(component_stats, rounds=self._rounds)
