"""The audit's numbers, counted from the data inside the pipeline (counters are only telemetry).

Every stage's outputs are reduced to ``(stage, source, outcome, reason) -> (docs, chars, tokens)`` by a
combine, so the audit costs a few hundred small records whatever the corpus size. ``assemble_audit`` turns
those rows into the audit document with each stage's funnel and its conservation check
(``in == kept + rejected + errors``).
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.audit import AUDIT_VERSION, Audit
from pilewright.pipeline.audit.profile import SizeKey, assemble_sizes, reason_group, record_kind, stage_sizes
from pilewright.pipeline.audit.progress import CountingMapFn, ReportStageDone
from pilewright.transforms.stage import StageResult, sum_triples

# (stage, source, outcome, reason group): a tuple, so no separator can collide with a name
RowKey = tuple[str, str, str, str]


def _measure(element) -> tuple[str, str, tuple[int, int, int]]:
    """(source, reason, (docs, chars, tokens)) of one output record of any stage."""
    # by fields, not isinstance: a multi_processing worker can decode a record after a shuffle into a
    # schema-generated class rather than the registered NamedTuple
    kind = record_kind(element)
    if kind == "document":
        return element.source, "", (1, len(element.text), element.n_tokens or 0)
    if kind == "rejected":
        return element.source, element.reason, (1, element.n_chars, 0)
    if kind == "dead_letter":
        return element.source, element.error_type, (1, 0, 0)
    if kind == "tokenized":
        return element.source, "", (1, 0, element.n_tokens)
    return getattr(element, "source", ""), "", (1, 0, 0)


def _row_key(element, stage: str, outcome: str) -> tuple[RowKey, tuple[int, int, int]]:
    source, reason, value = _measure(element)
    # folded: `dedup:near:<kept id>` names a document, and one audit row per duplicate cluster would make
    # the audit grow with the corpus (the full reason stays on the record in OUT/rejected)
    return (stage, source, outcome, reason_group(reason)), value



def stage_counts(stage: str, result: StageResult, progress_dir: Optional[str] = None,
                 report_done: bool = True) -> beam.PCollection:
    """PCollection of (key, (docs, chars, tokens)) rows for one stage, already combined.

    With ``progress_dir`` the same per-element step also counts documents on the progress channel, and the
    stage reports itself done (with its totals) once its rows are combined, unless ``report_done`` is
    False (one unit of a phased run: the launcher reports the stage done when every unit has finished).
    """
    parts = []
    for outcome, pc in (("kept", result.main), ("rejected", result.rejected), ("errors", result.errors)):
        if progress_dir is None:
            keyed = beam.Map(_row_key, stage=stage, outcome=outcome)
        else:
            keyed = beam.ParDo(CountingMapFn(_row_key, progress_dir, stage, stage=stage, outcome=outcome))
        parts.append(pc | f"Audit{stage}{outcome}" >> keyed)
    sums = parts | f"Audit{stage}Flatten" >> beam.Flatten() | f"Audit{stage}Sum" >> beam.CombinePerKey(sum_triples)
    if progress_dir is not None and report_done:
        sums | f"Progress{stage}" >> ReportStageDone(progress_dir, stage, _docs_and_kept)
    return sums


def stage_totals(rows, stage: str) -> tuple[int, int]:
    """(documents in, documents kept) of ``stage`` from combined audit rows."""
    total = kept = 0
    for key, value in rows:
        if key[0] == stage:
            n, k = _docs_and_kept((key, value))
            total += n
            kept += k
    return total, kept


def _docs_and_kept(row: tuple[RowKey, tuple[int, int, int]]) -> tuple[int, int]:
    key, (docs, _chars, _tokens) = row
    return docs, docs if key[2] == "kept" else 0


def stage_stats(stage: str, result: StageResult) -> Optional[beam.PCollection]:
    if result.stats is None:
        return None
    return result.stats | f"Audit{stage}Stats" >> beam.Map(lambda kv: (stage, kv[0], kv[1]))


def assemble_audit(
    rows: Sequence[tuple[RowKey, tuple[int, int, int]]],
    stats: Sequence[tuple[str, str, str]],
    stage_order: Sequence[str],
    source_domains: dict[str, str],
    size_rows: Sequence[tuple[SizeKey, int]] = (),
) -> dict:
    """The audit document from the combined rows. Pure and order-independent."""
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))))
    for key, (docs, chars, tokens) in rows:
        stage, source, outcome, reason = key
        cell = table[stage][source][outcome][reason]
        cell[0] += docs
        cell[1] += chars
        cell[2] += tokens

    sizes = assemble_sizes(size_rows)
    stages_out = []
    prev_kept: dict[str, int] = {}
    for position, stage in enumerate(stage_order):
        by_source = {}
        totals = {"in": 0, "kept": 0, "rejected": 0, "errors": 0, "kept_chars": 0, "kept_tokens": 0}
        reasons: dict[str, int] = defaultdict(int)
        error_types: dict[str, int] = defaultdict(int)
        for source in sorted(source_domains):
            outcomes = table.get(stage, {}).get(source, {})
            kept = sum(v[0] for v in outcomes.get("kept", {}).values())
            rejected = sum(v[0] for v in outcomes.get("rejected", {}).values())
            errors = sum(v[0] for v in outcomes.get("errors", {}).values())
            # ingest has no upstream: what it read is what it emitted; later stages get the previous kept
            n_in = kept + rejected + errors if position == 0 else prev_kept.get(source, 0)
            src_reasons = {r: v[0] for r, v in sorted(outcomes.get("rejected", {}).items())}
            src_errors = {r: v[0] for r, v in sorted(outcomes.get("errors", {}).items())}
            entry = {
                "domain": source_domains[source],
                "in": n_in,
                "kept": kept,
                "rejected": rejected,
                "errors": errors,
                "kept_chars": sum(v[1] for v in outcomes.get("kept", {}).values()),
                "kept_tokens": sum(v[2] for v in outcomes.get("kept", {}).values()),
                "rejected_chars": sum(v[1] for v in outcomes.get("rejected", {}).values()),
                "reasons": src_reasons,
                "error_types": src_errors,
                "conserved": n_in == kept + rejected + errors,
            }
            by_source[source] = entry
            prev_kept[source] = kept
            for k in ("in", "kept", "rejected", "errors", "kept_chars", "kept_tokens"):
                totals[k] += entry[k]
            for r, n in src_reasons.items():
                reasons[r] += n
            for r, n in src_errors.items():
                error_types[r] += n
        stage_stats_out = {}
        for st, section, payload in sorted(stats):
            if st == stage:
                stage_stats_out.setdefault(section, []).append(json.loads(payload))
        stages_out.append(
            {
                "name": stage,
                **totals,
                "reasons": dict(sorted(reasons.items())),
                "error_types": dict(sorted(error_types.items())),
                "conserved": all(e["conserved"] for e in by_source.values()),
                "by_source": by_source,
                "stats": {k: (v[0] if len(v) == 1 else v) for k, v in stage_stats_out.items()},
                # documents per size bin (see size_bin), per "<outcome>:<unit>" and source
                "size_hist": sizes.get(stage, {}),
            }
        )
    return {"audit_version": AUDIT_VERSION, "stages": stages_out}


def _write_json(doc: dict, path: str) -> str:
    with FileSystems.create(path) as f:
        f.write((json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8"))
    return path


class WriteAudit(beam.PTransform):
    """[(stage, StageResult)] -> OUT/audit/audit.json (one small element at the end of the job)."""

    def __init__(self, results: Sequence[tuple[str, StageResult]], source_domains: dict[str, str], path: str,
                 extra: Optional[beam.PCollection] = None, progress_dir: Optional[str] = None,
                 carried=None):
        super().__init__()
        self._results = list(results)
        self._domains = dict(source_domains)
        self._path = path
        self._extra = extra
        self._progress_dir = progress_dir
        # the rows of the stages the curate phase counted (pipeline.job.phases.Carried)
        self._carried = carried

    def expand(self, pbegin) -> beam.PCollection:
        carried = self._carried
        rows = [stage_counts(stage, r, self._progress_dir) for stage, r in self._results]
        sizes = [stage_sizes(stage, r) for stage, r in self._results]
        stats = [s for s in (stage_stats(stage, r) for stage, r in self._results) if s is not None]
        if carried is not None:
            rows, sizes, stats = [carried.rows] + rows, [carried.sizes] + sizes, [carried.stats] + stats
        size_list = (
            sizes
            | "AuditSizes" >> beam.Flatten()
            | "AuditSizeList" >> beam.combiners.ToList()
        )
        all_rows = rows | "AuditRows" >> beam.Flatten() | "AuditRowList" >> beam.combiners.ToList()
        stats_pc = (
            (stats | "AuditStats" >> beam.Flatten()) if stats
            else (pbegin | "NoStats" >> beam.Create([]))
        ) | "AuditStatList" >> beam.combiners.ToList()
        order = (list(carried.stages) if carried is not None else []) + [stage for stage, _ in self._results]
        domains, path = self._domains, self._path
        extra = self._extra

        def build(row_list, stat_list, extras, size_rows):
            doc = assemble_audit(row_list, stat_list, order, domains, size_rows)
            for section, payload in sorted(extras or []):
                doc[section] = json.loads(payload)
            # validated against the schema readers use, so a producer change cannot drift from them
            return _write_json(Audit.model_validate(doc).dump(), path)

        extras_side = (
            beam.pvalue.AsList(extra) if extra is not None
            else beam.pvalue.AsList(pbegin | "NoExtras" >> beam.Create([]))
        )
        return all_rows | "WriteAuditJson" >> beam.Map(
            build, stat_list=beam.pvalue.AsSingleton(stats_pc), extras=extras_side,
            size_rows=beam.pvalue.AsSingleton(size_list),
        )
