"""Why a document went, and what a threshold change would do: read from OUT, never re-run.

``explain(run, ids)`` gives each document's path through the stages with every rule's value against its
threshold (``checks``), its fate (kept with shard and row, rejected with stage and reason, dead letter, cut
by the mix) and an excerpt. ``what_if(run, ["quality.gopher_quality.min_doc_words=30", ...])`` applies the
changes to the run's recorded config and recomputes, from the stored signals, the decisions of every stage
whose changed settings are thresholds over those signals (``RECOMPUTABLE``), with the stages' own pure
decision functions; it names every other change as not recomputable, and says when a later stage's
decisions depend on documents the change lets through (dedup's clusters, a stage they never reached).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

import yaml

from pilewright.pipeline.audit.runfiles import Run, curation_order, loadable, stage_config, stage_order
from pilewright.schemas.config import RunConfig, StagesConfig
from pilewright.schemas.errors import UserError
from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, flat
from pilewright.transforms.flow import FLOW, spec_named
from pilewright.transforms.hashing import stable_hash64


class WhatIfError(UserError):
    """A --what-if assignment that cannot be applied."""


def stage_checks(stage: str, cfg: Any, row: SignalRow) -> list[Check]:
    """Every rule of ``stage`` (its config ``cfg`` for the document's source) over the document's row, as its
    family explains them (``EXPLAIN``)."""
    spec = spec_named(stage)
    if spec is None:
        return []
    return spec.explain().checks(cfg, row, row.fate == "rejected" and row.stage == stage)


# -- explain ---------------------------------------------------------------------------------------------
@dataclass
class StageStep:
    stage: str
    status: str  # "passed", "failed", "not reached", "dead letter"
    checks: list[Check] = field(default_factory=list)


@dataclass
class Explanation:
    id: str
    found: bool
    source: str = ""
    domain: str = ""
    fate: str = ""  # "kept", "rejected", "dead letter", "cut by the mix", "unknown"
    stage: str = ""
    reason: str = ""
    shards: list[tuple[str, int]] = field(default_factory=list)
    n_tokens: Optional[int] = None
    path: list[StageStep] = field(default_factory=list)
    excerpt: str = ""

    def as_json(self) -> dict:
        return asdict(self)


def explain(run: Run, ids: Iterable[str]) -> list[Explanation]:
    ids = list(ids)
    cfg = run.config
    rows = run.rows_of(ids)
    shards = run.rows_in_shards([i for i in ids if i in rows and rows[i].fate == "kept"])
    excerpts = run.excerpts(ids)
    out = []
    for doc_id in ids:
        row = rows.get(doc_id)
        dead = run.dead_letters_by_id.get(doc_id)
        if row is None and dead is None:
            out.append(Explanation(doc_id, False, fate="unknown"))
            continue
        if row is None:
            source = dead.get("source") or ""
            e = Explanation(doc_id, True, source, "", "dead letter", dead["stage"],
                            f"{dead['error_type']}: {dead['error']}")
            for st in stage_order(cfg, source):
                status = "dead letter" if st == dead["stage"] else ("passed" if not e.path or e.path[-1].status ==
                                                                    "passed" else "not reached")
                e.path.append(StageStep(st, status))
            out.append(e)
            continue
        e = Explanation(doc_id, True, row.source, row.domain, row.fate, row.stage, row.reason, n_tokens=row.n_tokens,
                        excerpt=excerpts.get(doc_id, ""))
        if row.fate == "kept":
            if doc_id in run.cuts:
                e.stage, e.reason = run.cuts[doc_id]
                e.fate = f"cut by the {e.stage}"
            elif dead is not None:
                e.fate, e.stage, e.reason = "dead letter", dead["stage"], f"{dead['error_type']}: {dead['error']}"
            e.shards = shards.get(doc_id, [])
        status = "passed"
        curation = curation_order(cfg, row.source)
        for st in stage_order(cfg, row.source):
            step_status = status
            if st == e.stage:
                step_status = "failed" if e.fate != "dead letter" else "dead letter"
                status = "not reached"
            scfg = stage_config(cfg, st, row.source) if st in curation else None
            checks = stage_checks(st, scfg, row) if scfg is not None and step_status != "not reached" else []
            e.path.append(StageStep(st, step_status, checks))
        out.append(e)
    return out


def select_ids(run: Run, source: Optional[str] = None, reason: Optional[str] = None, sample: Optional[int] = None,
               seed: int = 0) -> list[str]:
    """Ids of the documents of ``source`` whose reason (or stage, or fate) starts with ``reason``: a
    deterministic sample of ``sample`` of them (lowest blake2b(seed, id) first), or all, sorted."""
    def reasons(doc_id: str, row: SignalRow) -> list[str]:
        if row.fate == "kept":
            if doc_id in run.cuts:
                stage, why = run.cuts[doc_id]
                return [stage, f"{stage}:{why}"]
            return ["kept"]
        return [row.stage, row.reason, f"{row.stage}:{row.reason}"]

    ids = []
    for doc_id, row in run.rows.items():
        if source is not None and row.source != source:
            continue
        if reason is not None and not any(r == reason or r.startswith(reason) for r in reasons(doc_id, row)):
            continue
        ids.append(doc_id)
    if reason is not None:
        for d in run.dead_letters:
            if d.get("doc_id") and d["doc_id"] not in run.rows and (source is None or d.get("source") == source) \
                    and (d["stage"].startswith(reason) or d["error_type"].startswith(reason) or reason == "dead_letter"):
                ids.append(d["doc_id"])
    if sample is not None:
        ids = sorted(ids, key=lambda i: (stable_hash64(str(seed), "explain", i), i))[:sample]
    return sorted(ids)


def explanation_lines(e: Explanation) -> list[str]:
    """The terminal form of one explanation."""
    if not e.found:
        return [f"{e.id}: not in this run (no signals row, rejected record or dead letter has this id)"]
    lines = [f"{e.id}  (source {e.source}{', domain ' + e.domain if e.domain else ''})"]
    fate = e.fate
    if e.fate == "kept":
        where = ", ".join(f"{p} row {r}" for p, r in e.shards) or "no shard row"
        fate = f"kept: {where}" + (f" ({e.n_tokens} tokens)" if e.n_tokens is not None else "")
    elif e.fate in ("rejected", "dead letter") or e.fate.startswith("cut by the "):
        fate = f"{e.fate} at {e.stage}: {e.reason}"
    lines.append(f"  fate: {fate}")
    marks = {"passed": "ok", "failed": "FAILED", "not reached": "-", "dead letter": "DEAD LETTER"}
    lines.append("  path: " + " > ".join(f"{s.stage} [{marks[s.status]}]" for s in e.path))
    for step in e.path:
        for c in step.checks:
            lines.append(f"    {step.stage:<13} {c.text()}")
    if e.excerpt:
        text = " ".join(e.excerpt.split())
        lines.append(f"  excerpt: {text[:200]}{'…' if len(text) > 200 else ''}")
    return lines


# -- what-if ---------------------------------------------------------------------------------------------
def config_changes(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in a, value in b) of every setting that differs; a missing key is None."""
    fa, fb = flat(a), flat(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def parse_assignment(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise WhatIfError(f"--what-if {text!r}: write KEY=VALUE, e.g. quality.gopher_quality.min_doc_words=30")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise WhatIfError(f"--what-if {text!r}: no key before '='")
    if parts[0] in StagesConfig.model_fields:
        parts = ["stages"] + parts
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise WhatIfError(f"--what-if {text!r}: the value is not a YAML scalar or list") from None
    return parts, value


def apply_assignments(written: dict, assignments: Iterable[str]) -> RunConfig:
    """The run's recorded config with ``KEY=VALUE`` assignments applied (keys relative to ``stages`` when
    they start with a stage name), validated as a run would validate it."""
    doc = copy.deepcopy(written)  # every setting as recorded: a key inside a dict setting merges into it
    for text in assignments:
        parts, value = parse_assignment(text)
        node = doc
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, list):
                try:
                    nxt = node[int(p)]
                except (ValueError, IndexError):
                    raise WhatIfError(f"--what-if {text!r}: {'.'.join(parts[:i + 1])} is not an item of the list")
            elif nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, (dict, list)):
                raise WhatIfError(f"--what-if {text!r}: {'.'.join(parts[:i + 1])} is a value, not a block")
            node = nxt
        if isinstance(node, list):
            raise WhatIfError(f"--what-if {text!r}: name a setting of a list item, not the item")
        node[parts[-1]] = value
    try:
        return RunConfig.model_validate(loadable(doc))
    except Exception as e:
        first = str(e).splitlines()
        detail = first[2].strip() if len(first) > 2 else first[0]
        raise WhatIfError(f"--what-if: the changed config is invalid: {first[1] if len(first) > 1 else ''}: {detail}")


def plain_config(value: Any) -> Any:
    """A config model as plain data, every field included (dumps leave some defaults out)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return {name: plain_config(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _block(cfg: Any) -> Optional[dict]:
    return None if cfg is None else plain_config(cfg)


@dataclass
class StageChange:
    stage: str
    sources: list[str]
    keys: list[str]
    recomputable: bool
    not_recomputable: list[str] = field(default_factory=list)


@dataclass
class WhatIf:
    assignments: list[str]
    changes: list[StageChange]
    exact: bool
    caveats: list[str]
    # source -> {"docs", "kept_before", "kept_after", "newly_kept", "newly_dropped", "unknown"}
    by_source: dict[str, dict[str, int]]
    newly_kept: list[str]
    newly_dropped: list[str]
    unknown: list[str]
    reasons_after: dict[str, str]  # id -> the new "stage:reason" of a newly dropped document

    def kept_ids(self, run: Run) -> set[str]:
        """The predicted curated set (``unknown`` documents left out)."""
        kept = {i for i, r in run.rows.items() if r.fate == "kept"}
        return (kept - set(self.newly_dropped) - set(self.unknown)) | set(self.newly_kept)

    def as_json(self) -> dict:
        d = asdict(self)
        return d


def recompute(stage: str, cfg: Any, row: SignalRow) -> Optional[str]:
    """The stage's reason for the document under ``cfg`` (None: kept), from its stored signals, by its
    family's own decision (``EXPLAIN.recompute``)."""
    if cfg is None:
        return None
    recompute_with = spec_named(stage).explain().recompute
    if recompute_with is None:
        raise KeyError(stage)
    return recompute_with(cfg, row)


def _may_drop(stage: str, cfg: Any) -> bool:
    return spec_named(stage).explain().may_drop(cfg)


def what_if(run: Run, assignments: list[str]) -> WhatIf:
    old_cfg: RunConfig = run.config
    new_cfg = apply_assignments(run.manifest["config"], assignments)
    sources = sorted({s.name for s in old_cfg.sources} | {s.name for s in new_cfg.sources})

    changes: list[StageChange] = []
    recompute_stages: set[str] = set()
    for spec in FLOW:
        explains = spec.explain()
        keys: dict[str, set[str]] = {}
        bad: set[str] = set()
        for src in sources:
            a, b = stage_config(old_cfg, spec.name, src), stage_config(new_cfg, spec.name, src)
            ba, bb = _block(a), _block(b)
            if ba == bb:
                continue
            if (ba is None) != (bb is None):  # turned on or off for a source
                key = "enabled"
                keys.setdefault(key, set()).add(src)
                # turning a stage off is recomputable when its family says so (it then keeps everything)
                if not (bb is None and explains.can_recompute(key, ba, bb)):
                    bad.add(key)
                continue
            for key, _x, _y in config_changes(ba, bb):
                keys.setdefault(key, set()).add(src)
                if not explains.can_recompute(key, ba, bb):
                    bad.add(key)
        if keys:
            ok = not bad
            changes.append(StageChange(spec.name, sorted(set().union(*keys.values())), sorted(keys), ok, sorted(bad)))
            if ok:
                recompute_stages.add(spec.name)
    other = [k for k, _a, _b in config_changes(
        {k: v for k, v in plain_config(old_cfg).items() if k not in ("stages", "profiles")},
        {k: v for k, v in plain_config(new_cfg).items() if k not in ("stages", "profiles")})]
    caveats: list[str] = []
    exact = all(c.recomputable for c in changes)
    for c in changes:
        if not c.recomputable:
            caveats.append(f"{c.stage}: not recomputable from the stored signals: {', '.join(c.not_recomputable)} "
                           "(rerun to see its effect); its decisions are kept as they were")
    if other:
        caveats.append(f"settings outside the curation stages changed ({', '.join(other)}): they act after "
                       "curation (tokenizer, mix, shards), so the curated set below does not show them")

    newly_kept, newly_dropped, unknown = [], [], []
    reasons_after: dict[str, str] = {}
    cross_hit: set[str] = set()
    by_source: dict[str, dict[str, int]] = {}
    for doc_id, row in sorted(run.rows.items()):
        order = curation_order(old_cfg, row.source)
        new_order = curation_order(new_cfg, row.source)
        kept_before = row.fate == "kept"
        fate, new_reason = "kept", ""
        if row.fate == "rejected" and row.stage not in order:  # ingest: decided before any curation stage
            fate, new_reason = "rejected", f"{row.stage}:{row.reason}"
        else:
            for st in new_order:
                reached = kept_before or (st in order and order.index(st) <= order.index(row.stage))
                if not reached:
                    if _may_drop(st, stage_config(new_cfg, st, row.source)):
                        fate = "unknown"
                        cross_hit.add(st)
                        break
                    continue
                if st in recompute_stages:
                    reason = recompute(st, stage_config(new_cfg, st, row.source), row)
                elif st == row.stage and not kept_before:
                    reason = row.reason
                else:
                    reason = None
                if reason is not None:
                    fate, new_reason = "rejected", reason if reason.startswith(st + ":") else f"{st}:{reason}"
                    break
        entry = by_source.setdefault(row.source, {"docs": 0, "kept_before": 0, "kept_after": 0, "newly_kept": 0,
                                                   "newly_dropped": 0, "unknown": 0})
        entry["docs"] += 1
        entry["kept_before"] += kept_before
        if fate == "unknown":
            unknown.append(doc_id)
            entry["unknown"] += 1
            continue
        kept_after = fate == "kept"
        entry["kept_after"] += kept_after
        if kept_after and not kept_before:
            newly_kept.append(doc_id)
            entry["newly_kept"] += 1
        elif kept_before and not kept_after:
            newly_dropped.append(doc_id)
            reasons_after[doc_id] = new_reason
            entry["newly_dropped"] += 1
    if unknown:
        exact = False
        caveats.append(f"{len(unknown)} documents the change lets through would then reach "
                       f"{', '.join(sorted(cross_hit))}, which never saw them: their fate is unknown (left out)")
    flipped = newly_kept or newly_dropped or unknown
    if flipped:
        first = min((i for i, s in enumerate(FLOW) if s.name in {c.stage for c in changes}), default=len(FLOW))
        # a stage that decides across documents (``corpus``) may decide otherwise for the ones that stay
        later = [s.name for s in FLOW[first + 1:] if s.corpus
                 and any(stage_config(new_cfg, s.name, src) is not None for src in sources)]
        if later:
            exact = False
            caveats.append(f"{', '.join(later)} decide each document against the others: documents that flip can "
                           "change their decisions for documents that did not (a rerun tells)")
    return WhatIf(list(assignments), changes, exact, caveats, by_source, newly_kept, newly_dropped, unknown,
                  reasons_after)


def what_if_lines(w: WhatIf) -> list[str]:
    lines = [f"what if: {', '.join(w.assignments)}"]
    for c in w.changes:
        state = "recomputed from the stored signals" if c.recomputable else "NOT recomputable"
        lines.append(f"  {c.stage}: {', '.join(c.keys)} ({state}; sources {', '.join(c.sources)})")
    lines.append(f"  {'source':<20} {'docs':>7} {'kept before':>12} {'kept after':>12} {'+kept':>7} {'-kept':>7}"
                 f" {'unknown':>8}")
    for src, e in sorted(w.by_source.items()):
        before = 100.0 * e["kept_before"] / e["docs"] if e["docs"] else 0.0
        after = 100.0 * e["kept_after"] / e["docs"] if e["docs"] else 0.0
        lines.append(f"  {src:<20} {e['docs']:>7} {e['kept_before']:>6} {before:>4.1f}% {e['kept_after']:>6} "
                     f"{after:>4.1f}% {e['newly_kept']:>7} {e['newly_dropped']:>7} {e['unknown']:>8}")
    lines.append(f"  prediction: {'exact' if w.exact else 'NOT exact'}")
    for c in w.caveats:
        lines.append(f"  note: {c}")
    return lines
