"""OUT/audit/report.html: every section and plot present with the run's own numbers; self-contained; opens
cleanly in headless Chromium."""
from __future__ import annotations

import contextlib
import io
import json
import re
from html.parser import HTMLParser

import pytest

from pilewright.pipeline.audit.summary import build_summary, render_text, SideOutputs
from pilewright.pipeline.cli.main import main
from pilewright.pipeline.audit.report import render_report

from headless_page import CHROMIUM, assert_page_renders_offline
from test_audit_fixtures import sample_run, tiny_run

SECTIONS = ("funnel", "sources", "reasons", "samples", "dead-letters", "pii", "languages", "quality",
            "lengths", "mix", "shards", "stage-langid", "stage-dedup", "stage-pii", "telemetry")


class _Page(HTMLParser):
    """Ids, figure ids, external references and the text of every element with an id (tables)."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.figures: list[str] = []
        self.external: list[str] = []
        self.svgs = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "figure":
            self.figures.append(a.get("data-plot", ""))
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href", "xlink:href"):
            v = a.get(key) or ""
            if v and not v.startswith("#") and not v.startswith("data:"):
                self.external.append(v)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _figure(html: str, name: str) -> str:
    m = re.search(rf'<figure class="plot" id="plot-{name}".*?</figure>', html, re.S)
    assert m, f"plot {name} missing"
    return m.group(0)


def _section(html: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">.*?</section>', html, re.S)
    assert m, f"section {name} missing"
    return m.group(0)


@pytest.fixture(scope="module")
def sample():
    run = sample_run()
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def report(sample):
    return (sample.out / "audit" / "report.html").read_text()


def test_every_run_writes_a_self_contained_report(report):
    page = _parse(report)
    for section in SECTIONS:
        assert section in page.ids, section
    assert page.external == [] and page.scripts == 0
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", report)
    assert "<link" not in report


def test_plots_and_tables_hold_the_runs_own_numbers(sample, report):
    audit = json.loads((sample.out / "audit" / "audit.json").read_text())
    manifest = json.loads((sample.out / "manifest.json").read_text())
    page = _parse(report)
    for plot in ("funnel", "source-funnel", "lengths", "mix", "shards"):
        assert plot in page.figures, plot
    assert page.svgs == len(page.figures)
    funnel_plot = _figure(report, "funnel")
    funnel_table = _section(report, "funnel")
    for st in audit["stages"]:
        assert f"{st['kept']:,} kept" in funnel_plot  # bar labels are SVG text
        row = re.search(rf"<tr><td>{st['name']}</td>(.*?)</tr>", funnel_table, re.S).group(1)
        assert f">{st['in']:,}<" in row and f">{st['kept']:,}<" in row
    tok = next(s for s in audit["stages"] if s["name"] == "tokenize")
    assert f">{tok['kept_tokens']:,}<" in funnel_table
    sources = _section(report, "sources")
    for name, entry in audit["stages"][0]["by_source"].items():
        assert f"<td>{name}</td>" in sources and f">{manifest['tokens_by_source'][name]['tokens']:,}<" in sources
        assert name in _figure(report, "source-funnel")
    mix = _section(report, "mix")
    for domain, v in manifest["tokens_by_domain"].items():
        assert f">{v['tokens']:,}<" in mix
        share = 100 * v["tokens"] / manifest["total_tokens"]
        assert f"{share:.1f}%" in _figure(report, "mix")
    shards = _section(report, "shards")
    assert f"{manifest['num_shards']:,} shards, {manifest['total_tokens']:,} tokens" in shards
    assert len(re.findall(r"<g id=\"patch_\d+\">", _figure(report, "shards"))) >= manifest["num_shards"]
    lengths = _section(report, "lengths")
    assert f"<td>read: chars per document</td><td class=\"num\">{audit['stages'][0]['in']:,}<" in lengths
    assert f"{tok['kept']:,} docs" in _figure(report, "lengths")


def test_report_shows_samples_and_dead_letters_escaped():
    run = tiny_run("multi_processing", True)
    html = (run.out / "audit" / "report.html").read_text()
    samples = _section(html, "samples")
    assert "web/blank-1" in samples and "empty_text" in samples
    dead = _section(html, "dead-letters")
    assert "invalid_json" in dead and "docs.jsonl" in dead
    # the broken line's text is shown as text, never as markup
    assert "&lt;not json&gt;" in dead or "<not json>" not in dead


def _synthetic_audit() -> tuple[dict, dict]:
    """An audit with the stats sections other stages write, and one nobody knows."""
    def stage(name, n_in, kept, reasons, stats=None):
        rej = sum(reasons.values())
        return {"name": name, "in": n_in, "kept": kept, "rejected": rej, "errors": n_in - kept - rej,
                "kept_chars": kept * 100, "kept_tokens": 0, "reasons": reasons, "error_types": {}, "conserved": True,
                "by_source": {"web": {"domain": "general", "in": n_in, "kept": kept, "rejected": rej,
                                      "errors": n_in - kept - rej, "kept_chars": kept * 100, "kept_tokens": 0,
                                      "rejected_chars": rej * 10, "reasons": reasons, "error_types": {},
                                      "conserved": True}},
                "stats": stats or {}, "size_hist": {}}
    audit = {
        "stages": [
            stage("ingest", 100, 100, {}),
            stage("quality", 100, 90, {"c4:lorem_ipsum": 4, "gopher_quality:stop_words": 6},
                  {"signals_used": {"c4": 3, "gopher": 9}}),
            stage("dedup", 90, 80, {"dedup:exact": 3, "dedup:near:web/1": 4, "dedup:near:web/2": 3},
                  # the shapes transforms/dedup/stats.py and transforms/pii/stage.py write
                  {"duplicates": {"n_clusters": 7, "docs_in_clusters": 30},
                   "cluster_sizes": {"edges": [2, 3, 4, 5, 9, 17, 33], "counts": [5, 1, 0, 0, 0, 1]},
                   "largest_clusters": [{"kept_id": "web/1", "size": 17, "sample_ids": ["web/3", "web/4"]}],
                   "removed_per_source": {"web": {"exact": 3, "near": 7}}}),
            stage("pii", 80, 80, {}, {"entities_by_source": {
                "by_source": {"web": {"documents_with_pii": 9, "entities": {"EMAIL_ADDRESS": 12, "PHONE_NUMBER": 3}}},
                "total": {"documents_with_pii": 9, "entities": {"EMAIL_ADDRESS": 12, "PHONE_NUMBER": 3}}},
                "recognizers": {"spacy_ner": {"available": False}, "recognizers": ["EmailRecognizer"]}}),
        ],
        "curated": {"docs": {"web": 80},
                    "pii": {"entities": {"EMAIL_ADDRESS": 11}, "by_source": {"web": {"EMAIL_ADDRESS": 11}},
                            "docs_with_pii": {"web": 8}},
                    "languages": {"total": {"en": 78, "de": 2}, "by_source": {"web": {"en": 78, "de": 2}}},
                    "lang_score": {"edges": [i / 20 for i in range(21)], "counts": [0] * 18 + [10, 70]},
                    "quality_sample": {"docs": 80, "signals": {"gopher:word_count": {
                        "count": 80, "min": 50.0, "p10": 80.0, "p50": 400.0, "p90": 2000.0, "max": 9000.0,
                        "mean": 800.0, "hist": {"edges": [50.0 + i * 447.5 for i in range(21)], "counts": [40, 20] + [1] * 18 + [0] * 0}}}}},
        "dropped_samples": {"per_key": 5, "groups": [
            {"stage": "quality", "reason": "c4:lorem_ipsum", "source": "web",
             "samples": [{"id": "web/9", "reason": "c4:lorem_ipsum", "snippet": "<script>alert(1)</script> lorem"}]}]},
        "mystery_section_from_the_future": {"a": 1},
    }
    manifest = {"num_shards": 1, "total_tokens": 1000, "total_docs": 80,
                "shards": [{"path": "tokens/part-00000-of-00001.arrow", "docs": 80, "tokens": 1000, "bytes": 3000, "sha256": "0" * 64}],
                "tokens_by_domain": {"general": {"docs": 80, "tokens": 1000}},
                "tokens_by_source": {"web": {"docs": 80, "tokens": 1000}},
                "tokenizer": {"vocab_size": 800, "eos_id": 2, "sha256": "f" * 64, "token_dtype": "uint16"},
                "mix": {"target_tokens": 1200, "achieved_tokens": 1000, "shortfall": [{"message": "general is short by 200 tokens"}],
                        "domains": {"general": {"share": 1.0, "target_tokens": 1200, "achieved_tokens": 1000, "achieved_share": 1.0}}}}
    return audit, manifest


def test_stage_sections_render_by_the_kind_their_family_declares():
    audit, manifest = _synthetic_audit()
    s = build_summary("/tmp/x", audit, manifest, SideOutputs())
    views = {(v.stage, v.name): v for v in s.sections}
    # dedup declares counts, a histogram and a top-k; pii counts and tables; quality declares nothing (a table)
    assert views["dedup", "duplicates"].kind == "counts"
    assert views["dedup", "duplicates"].counts == {"clusters": 7, "documents in clusters": 30}
    assert views["dedup", "cluster_sizes"].kind == "histogram"
    assert views["dedup", "cluster_sizes"].hist.counts == [5, 1, 0, 0, 0, 1]
    assert views["dedup", "largest_clusters"].kind == "top_k" and views["dedup", "largest_clusters"].rows[0]["size"] == 17
    assert views["dedup", "removed_per_source"].kind == "table"
    assert views["pii", "entities_by_source"].counts == {"EMAIL_ADDRESS": 12, "PHONE_NUMBER": 3}
    assert views["quality", "signals_used"].kind == "table"
    assert [k for k in views if k[0] == "dedup"][:3] == [("dedup", "duplicates"), ("dedup", "cluster_sizes"),
                                                       ("dedup", "largest_clusters")]  # declared order
    # the families' views of the curated profile and the manifest, by the kind each family declares
    fam = {v.name: v for v in s.views}
    assert fam["pii"].kind == "breakdown" and fam["pii"].stage == "pii"
    assert fam["pii"].data.counts == {"EMAIL_ADDRESS": 11} and fam["pii"].data.docs == 8
    assert s.languages == {"en": 78, "de": 2}
    assert fam["mix"].kind == "shares" and fam["mix"].data.rows[0].target == 1200
    assert fam["mix"].data.notes == ["general is short by 200 tokens"]
    assert fam["quality"].kind == "distributions" and fam["quality"].data.items[0].name == "gopher:word_count"
    assert fam["shards"].kind == "parts" and fam["shards"].data.tokens_per_part == [1000]
    # narrowed to a source: only sections a family's view narrows
    narrowed = build_summary("/tmp/x", audit, manifest, SideOutputs(), source="web")
    assert [(v.stage, v.name) for v in narrowed.sections] == [("pii", "entities_by_source")]
    html = render_report(s)
    page = _parse(html)
    assert {"stat-dedup-cluster-sizes", "stat-dedup-duplicates", "stat-pii-entities-by-source", "pii",
            "languages", "lang-score", "quality", "mix", "shards", "reasons"} <= set(page.figures)
    assert "Sections that could not be drawn" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "signals_used" in _section(html, "stage-quality")
    assert ">11<" in _section(html, "pii") and "general is short by 200 tokens" in html
    pii = _section(html, "stage-pii")
    assert "EmailRecognizer" in pii and ">12<" in pii
    dedup = _section(html, "stage-dedup")
    assert "documents in clusters" in dedup and "web/1" in dedup and "removed_per_source" in dedup
    assert ">17-32<" in dedup and "17-32" in _figure(html, "stat-dedup-cluster-sizes")
    text = "\n".join(render_text(s))
    assert "DEDUP       duplicate clusters: clusters 7 \u00b7 documents in clusters 30" in text
    assert "DEDUP       clusters by size: 2: 5, 3: 1, 17: 1" in text
    assert "PII         EMAIL_ADDRESS 11 in 8 docs" in text
    assert "QUALITY     1 signals, medians on a sample of 80 curated docs: gopher:word_count 400" in text
    assert "MIX         general target 100.0% -> 100.0% (1.0k tokens)" in text
    assert "            shortfall: general is short by 200 tokens" in text
    assert "SHARDS      1 shards \u00b7 1,000 tokens \u00b7 80 docs" in text


def test_audit_html_rewrites_the_report_with_verification(sample, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(sample.out, out)
    (out / "audit" / "report.html").unlink()
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["audit", str(out), "--html", "--verify"]) == 0
    html = (out / "audit" / "report.html").read_text()
    assert "OK:" in _section(html, "verify") and "report.html" in err.getvalue()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")
def test_report_opens_in_headless_chromium_without_console_errors(report, sample, tmp_path):
    assert_page_renders_offline(sample.out / "audit" / "report.html", tmp_path, height=2400)
