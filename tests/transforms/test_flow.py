"""Adding a stage takes its config model, its config field, its package and one line in the flow: shown here
with a toy stage that goes through the whole job (audit, outputs, manifest) without touching anything else,
and whose own audit sections the summary, the report and `--verify` take by the kind its package declares."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import apache_beam as beam
import pytest

from pilewright.pipeline.audit.report import hist_labels, render_report
from pilewright.pipeline.audit.summary import load_summary, render_text
from pilewright.pipeline.audit.verify import verify_run
from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import LoadedConfig
from pilewright.schemas.config import RunConfig, SourceConfig, StagesConfig, TokenizerConfig, TokenizerTrainConfig
from pilewright.schemas.audit import AuditSection, AuditView, BreakdownView
from pilewright.schemas.records import Document
from pilewright.schemas.stages.base import Frozen
from pilewright.transforms import flow
from pilewright.transforms.stage import AnnotateAndFilter, rejected_output

from conftest import sample_texts, write_jsonl_gz


# 1. the config model
class ShortDocsConfig(Frozen):
    enabled: bool = True
    min_chars: int = 1500


# 2. the config field (a test cannot edit StagesConfig itself, so it derives from it)
class StagesWithShortDocs(StagesConfig):
    short_docs: Optional[ShortDocsConfig] = None


# 3. the package: this module stands in for transforms/short_docs/
class _ShortDocsFn(beam.DoFn):
    def __init__(self, min_chars: int):
        super().__init__()
        self._min = min_chars

    def process(self, doc: Document):
        if len(doc.text) < self._min:
            yield rejected_output(doc, "short_docs", "too_short")
        else:
            yield doc


LENGTH_EDGES = [0, 1000, 2000, 4000, 8000]


def length_sections(lengths: list[int], min_chars: int) -> list[tuple[str, str]]:
    """The stage's own audit sections (name, JSON): documents by length class, and a length histogram."""
    short = sum(1 for n in lengths if n < min_chars)
    counts = [sum(1 for n in lengths if lo <= n < hi) for lo, hi in zip(LENGTH_EDGES, LENGTH_EDGES[1:])]
    return [("length_classes", json.dumps({"short": short, "long": len(lengths) - short})),
            ("length_bins", json.dumps({"edges": LENGTH_EDGES, "counts": counts}))]


class ShortDocs(beam.PTransform):
    def __init__(self, min_chars: int):
        super().__init__()
        self._min = min_chars

    def expand(self, docs):
        result = docs | "Filter" >> AnnotateAndFilter("short_docs", _ShortDocsFn(self._min))
        stats = (docs
                 | "Lengths" >> beam.Map(lambda d: len(d.text))
                 | "AllLengths" >> beam.combiners.ToList()
                 | "Sections" >> beam.FlatMap(length_sections, min_chars=self._min))
        return result._replace(stats=stats)


def build_stage(config: ShortDocsConfig, context: flow.RunContext) -> beam.PTransform:
    return ShortDocs(config.min_chars)


# what the audit knows of the stage's sections: their kind, declared by the package, as any family does
AUDIT_SECTIONS = {
    "length_classes": AuditSection("counts", "documents by length", headline=True, unit="documents"),
    "length_bins": AuditSection("histogram", "length", headline=True, unit="chars"),
}


def short_docs_view(audit: dict, manifest: dict, source: Optional[str]) -> Optional[BreakdownView]:
    """A family view (of a kind the audit draws) over the stage's own row of the audit."""
    st = next((s for s in audit.get("stages", []) if s["name"] == "short_docs"), None)
    if st is None or source is not None:
        return None
    return BreakdownView(counts=dict(st["reasons"]), docs=int(st["rejected"]))


AUDIT_VIEWS = (AuditView("breakdown", "short-docs-reasons", "Why short", "SHORTVIEW", short_docs_view,
                         plot_title="short documents by reason", unit="documents", docs_text="documents dropped."),)


@pytest.fixture(scope="module")
def short_docs_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("flow")
    with pytest.MonkeyPatch.context() as monkeypatch:
        # 4. one line in the flow (corpus-wide: the toy's histogram is one combine over every document)
        monkeypatch.setattr(flow, "FLOW", flow.FLOW + (flow.StageSpec("short_docs", module=__name__, corpus=True),))
        records = sample_texts(20)
        write_jsonl_gz(tmp_path / "docs.jsonl.gz", records)
        cfg = RunConfig(
            sources=[SourceConfig(name="s", paths=[str(tmp_path / "docs.jsonl.gz")], format="jsonl")],
            stages=StagesWithShortDocs(short_docs=ShortDocsConfig(min_chars=1500)),
            tokenizer=TokenizerConfig(train=TokenizerTrainConfig(vocab_size=400)),
        )
        result = run_job(LoadedConfig(written=cfg, resolved=cfg, path=str(tmp_path / "c.yaml")), [],
                         str(tmp_path / "out"))
        yield records, result


def test_a_stage_added_by_one_line_in_the_flow_runs_and_is_audited(short_docs_run):
    records, result = short_docs_run
    short = sum(1 for r in records if len(r["text"]) < 1500)
    assert 0 < short < len(records)
    stages = {s["name"]: s for s in result.audit["stages"]}
    assert list(stages)[:2] == ["ingest", "short_docs"]
    assert stages["short_docs"]["in"] == len(records)
    assert stages["short_docs"]["rejected"] == short
    assert stages["short_docs"]["kept"] == len(records) - short
    assert result.manifest["total_docs"] == len(records) - short
    rejected = Path(result.out_dir) / "rejected"
    import pyarrow.parquet as pq

    reasons = [r["reason"] for f in rejected.glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert reasons.count("too_short") == short
    assert json.loads((Path(result.out_dir) / "audit" / "audit.json").read_text())["stages"][1]["name"] == "short_docs"


def test_a_new_stages_own_sections_are_summarized_reported_and_verified_by_kind(short_docs_run, monkeypatch,
                                                                               tmp_path):
    records, result = short_docs_run
    # the audit finds the stage's package through the flow, as the run did
    monkeypatch.setattr(flow, "FLOW", flow.FLOW + (flow.StageSpec("short_docs", module=__name__, corpus=True),))
    lengths = [len(r["text"]) for r in records]
    short = sum(1 for n in lengths if n < 1500)
    bins = [sum(1 for n in lengths if lo <= n < hi) for lo, hi in zip(LENGTH_EDGES, LENGTH_EDGES[1:])]
    out = Path(result.out_dir)

    summary = load_summary(str(out))
    views = {v.name: v for v in summary.sections if v.stage == "short_docs"}
    assert views["length_classes"].kind == "counts" and views["length_bins"].kind == "histogram"
    # the terminal: one line per headline section, written by its kind
    text = render_text(summary)
    assert f"SHORT_DOCS  documents by length: short {short:,} \u00b7 long {len(lengths) - short:,}" in text
    hist_line = next(ln for ln in text if ln.startswith("SHORT_DOCS  length: "))
    shown = [(float(e), c) for e, c in zip(LENGTH_EDGES, bins) if c]
    assert hist_line.count(":") - 1 == len(shown) and f": {max(bins):,}" in hist_line

    # the report (the run wrote it; rendering again gives the same section): a plot and a table per kind
    for html in ((out / "audit" / "report.html").read_text(), render_report(summary)):
        section = re.search(r'<section id="stage-short-docs">.*?</section>', html, re.S).group(0)
        assert 'id="plot-stat-short-docs-length-classes"' in section
        assert 'id="plot-stat-short-docs-length-bins"' in section
        assert f"<td>short</td><td class=\"num\">{short:,}</td>" in section
        top = max(range(len(bins)), key=lambda i: bins[i])
        label = hist_labels(views["length_bins"].hist)[top]
        assert f"<td class=\"num\">{label}</td><td class=\"num\">{bins[top]:,}</td>" in section
        assert "Sections that could not be drawn" not in html

    # the family's view: a line of its kind in the terminal and a section with its figure in the report
    assert f"SHORTVIEW   too_short {short:,} in {short:,} docs" in text
    page = render_report(summary)
    view_section = re.search(r'<section id="short-docs-reasons">.*?</section>', page, re.S).group(0)
    assert 'id="plot-short-docs-reasons"' in view_section and f"{short:,} documents dropped." in view_section

    # --verify checks the sections against their kinds: clean, then a histogram whose bins lost an edge
    assert verify_run(str(out)).ok, verify_run(str(out)).problems
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    audit_path = damaged / "audit" / "audit.json"
    audit = json.loads(audit_path.read_text())
    stage = next(s for s in audit["stages"] if s["name"] == "short_docs")
    stage["stats"]["length_bins"]["edges"] = LENGTH_EDGES[:-1]
    stage["stats"]["length_classes"] = {"short": "many"}
    audit_path.write_text(json.dumps(audit))
    problems = verify_run(str(damaged)).problems
    assert any("short_docs" in p and "'length_bins' (histogram)" in p and "edges" in p for p in problems), problems
    assert any("short_docs" in p and "'length_classes' (counts)" in p for p in problems), problems
