"""The job in phases: units, the same outputs for any unit size and process count, ids shared across units,
and no side input or GroupByKey group that grows with the corpus."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import PipelineVisitor

from pilewright.pipeline.job import phase_runner
from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config
from pilewright.pipeline.job.executor import run_unit
from pilewright.pipeline.job import phases as phases_module
from pilewright.pipeline.job.phases import merge_section, plan_phases
from pilewright.pipeline.job.units import MB, TARGET_UNIT_MB, InputFile, cut_even, cut_units, plan_units
from pilewright.pipeline.audit import profile
from pilewright.transforms import spill
from pilewright.transforms.shard.stage import CELLS_PER_SHARD

from conftest import SAMPLE_DIR, write_jsonl_gz

IN_MEMORY = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


# ---- units (pure) -------------------------------------------------------------------------------------


def _files(sizes):
    return [InputFile("s", "p", f"/f{i}", size, 0.0) for i, size in enumerate(sizes)]


def test_units_are_consecutive_files_cut_by_size():
    units = cut_units(_files([3, 3, 3, 10, 1]), 6)
    assert [[f.path for f in u.files] for u in units] == [["/f0", "/f1"], ["/f2"], ["/f3"], ["/f4"]]
    assert [u.index for u in units] == [0, 1, 2, 3]


def test_plan_spreads_units_over_processes_and_respects_the_budget():
    files = _files([10 * MB] * 12)
    plan = plan_units(files, cores=2, memory_mb=16000)
    assert plan.processes == 2 and len(plan.units) >= 4
    # a budget that fits one unit process only
    assert plan_units(files, cores=2, memory_mb=800).processes == 1
    # a fixed unit size wins over the budget's
    assert len(plan_units(files, cores=2, memory_mb=16000, unit_mb=40).units) == 3


def test_a_bigger_corpus_is_more_units_not_bigger_ones():
    # the unit's size sets a unit process's memory: at 8x the input it must not grow (issue 24)
    for cores in (1, 2):
        small = plan_units(_files([2 * MB] * 8), cores=cores, memory_mb=16000)
        large = plan_units(_files([2 * MB] * 64), cores=cores, memory_mb=16000)
        assert max(u.bytes for u in large.units) <= max(TARGET_UNIT_MB * MB, max(u.bytes for u in small.units))
        assert len(large.units) >= 64 * 2 * MB // (TARGET_UNIT_MB * MB)


def test_unit_fingerprint_changes_with_config_or_files():
    u = cut_units(_files([5]), 10)[0]
    v = cut_units([InputFile("s", "p", "/f0", 6, 0.0)], 10)[0]
    assert u.fingerprint("a") != u.fingerprint("b")
    assert u.fingerprint("a") != v.fingerprint("a")


def test_phases_alternate_per_document_and_corpus_stages(corpus):
    phases, final = plan_phases(corpus.resolved)
    assert [(p.name, p.kind, p.stages) for p in phases] == [
        ("curate", "unit", ("normalize", "langid", "quality", "decontaminate")),
        ("decide1", "corpus", ("dedup", "span_dedup")),
        ("finish2", "unit", ("pii",)),
    ]
    assert final == []
    no_pii = corpus.resolved.model_copy(update={"stages": corpus.resolved.stages.model_copy(update={"pii": None})})
    phases, final = plan_phases(no_pii)
    assert [p.name for p in phases] == ["curate"] and final == ["dedup", "span_dedup"]


def test_merged_sections_do_not_depend_on_the_unit_order():
    a = json.dumps({"en": 5, "de": 1})
    b = json.dumps({"de": 7, "fr": 1})
    assert merge_section([a]) == a  # one unit: untouched
    assert merge_section([a, b]) == merge_section([b, a]) == json.dumps({"de": 8, "en": 5, "fr": 1})
    nested = [json.dumps({"records": 1, "by_source": {"x": {"records": 1, "characters": 9}}}),
              json.dumps({"records": 2, "by_source": {"y": {"records": 2, "characters": 1}}})]
    merged = json.loads(merge_section(nested))
    assert merged == {"by_source": {"x": {"characters": 9, "records": 1}, "y": {"characters": 1, "records": 2}},
                      "records": 3}


# ---- a corpus of many small documents -------------------------------------------------------------------


def _chunks(n: int) -> list[str]:
    """``n`` distinct English texts of ~1,200 characters, cut from the sample's Wikipedia articles."""
    out = []
    with gzip.open(SAMPLE_DIR / "wikipedia.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            for i in range(0, len(text) - 1200, 1200):
                out.append(text[i:i + 1200])
                if len(out) == n:
                    return out
    raise AssertionError(f"the sample has fewer than {n} chunks")


def _corpus(dest: Path, n: int, files: int = 4) -> Path:
    """``n`` distinct documents in ``files`` files, plus the same few duplicates whatever ``n``: 3 exact
    copies, 3 near copies, and one id that two files share."""
    texts = _chunks(n)
    dest.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    rows += [{"id": f"exact{i}", "text": texts[i]} for i in range(3)]
    rows += [{"id": f"near{i}", "text": texts[3 + i].replace(" the ", " a ", 2)} for i in range(3)]
    per = -(-len(rows) // files)
    for k in range(files):
        part = rows[k * per:(k + 1) * per]
        part.append({"id": "shared", "text": f"File {k} has its own text under a shared id. " + texts[-1 - k]})
        write_jsonl_gz(dest / f"part-{k}.jsonl.gz", part)
    # evaluation items quoted by documents of different files: the units' decontaminate sections merge
    write_jsonl_gz(dest / "evals.jsonl.gz", [{"id": f"q{i}", "question": texts[i][100:400]}
                                             for i in sorted({5, n // 3, n // 3 + 1, 3 * n // 4})])
    cfg = {
        "run": {"output": "out", "seed": 3},
        "sources": [{"name": "web", "paths": ["part-*.jsonl.gz"], "format": "jsonl", "domain": "general"}],
        "stages": {"normalize": {}, "langid": {"languages": ["en"]},
                   "quality": {"rules": ["gopher_repetition", "gopher_quality"]},
                   "decontaminate": {"sets": [{"name": "quiz", "paths": ["evals.jsonl.gz"], "fields": ["question"]}]},
                   "dedup": {}, "span_dedup": {}, "pii": {}},
        "tokenizer": {"train": {"vocab_size": 400, "sample_docs": 40}},
        "shards": {"tokens_per_shard": 20000},
    }
    (dest / "job.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest / "job.yaml"


def _digests(out: Path) -> dict[str, str]:
    files = [out / "manifest.json"] + sorted(out.glob("tokens/*")) + sorted(out.glob("tokenizer/*")) \
        + sorted(out.glob("documents/*")) + sorted(out.glob("rejected/*")) + sorted(out.glob("dead_letter/*"))
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return load_config(str(_corpus(tmp_path_factory.mktemp("phases-input"), 160)))


@pytest.fixture(scope="module")
def one_unit(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("one-unit") / "out"
    result = run_job(corpus, IN_MEMORY + ["--direct_num_workers=1"], str(out))
    assert json.loads((out / "audit" / "run.json").read_text())["phases"]["curate_units"] == 1
    return out, result


def test_every_unit_size_and_process_count_gives_the_same_bytes(corpus, one_unit, tmp_path, monkeypatch):
    reference = _digests(one_unit[0])
    # the corpus phase (run in this process) closes its document files at 64 KB: the finish phase is then
    # cut into several units from them, as on a big corpus
    monkeypatch.setattr(phases_module, "PHASE_FILE_BYTES", 64 << 10)
    cfg = corpus.resolved.model_copy(update={"run": corpus.resolved.run.model_copy(update={"unit_mb": 0.000001})})
    small_units = type(corpus)(written=corpus.written, resolved=cfg, path=corpus.path)
    out = tmp_path / "four-units"
    run_job(small_units, ["--direct_num_workers=2"], str(out))
    phases = json.loads((out / "audit" / "run.json").read_text())["phases"]
    # curate (4 units), decide (dedup, span_dedup: one), finish (pii: cut from decide's files), final
    assert phases["curate_units"] == 4 and phases["processes"] == 2
    assert list(phases["phase_seconds"]) == ["curate", "decide1", "finish2", "final"]
    assert phases["phase_units"]["decide1"] == 1 and phases["phase_units"]["finish2"] >= 2
    assert _digests(out) == reference
    a = json.loads((one_unit[0] / "audit" / "audit.json").read_text())
    b = json.loads((out / "audit" / "audit.json").read_text())
    assert a["stages"] == b["stages"]
    quiz = next(s for s in b["stages"] if s["name"] == "decontaminate")["stats"]["evaluation_sets"]["quiz"]
    assert quiz["items_found"] == 4 and quiz["documents"] >= 4


def test_units_encode_with_a_given_tokenizer_and_write_the_same_bytes(corpus, one_unit, tmp_path, monkeypatch):
    # with the tokenizer given (not trained), the last per-document phase's units encode their documents and
    # the final phase only places the token references; nothing it writes may change for that
    model = next((one_unit[0] / "tokenizer").glob("*.model"))
    job = yaml.safe_load(Path(corpus.path).read_text())
    job["tokenizer"] = {"model": str(model)}
    path = Path(corpus.path).with_name("job-model.yaml")
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    loaded = load_config(str(path))
    assert plan_phases(loaded.resolved)[0][-1].encode
    small = loaded.resolved.model_copy(update={"run": loaded.resolved.run.model_copy(update={"unit_mb": 0.000001})})
    run_job(type(loaded)(written=loaded.written, resolved=small, path=loaded.path), ["--direct_num_workers=2"],
            str(tmp_path / "units"))
    units_run = json.loads((tmp_path / "units" / "audit" / "run.json").read_text())["phases"]
    assert units_run["unit_token_files"] > 0
    # the same job with the encoding left to the final phase, as before per-unit encoding
    monkeypatch.setattr(phases_module, "encoder_name", lambda cfg: None)
    run_job(loaded, IN_MEMORY + ["--direct_num_workers=1"], str(tmp_path / "final"))
    assert json.loads((tmp_path / "final" / "audit" / "run.json").read_text())["phases"]["unit_token_files"] == 0
    assert _digests(tmp_path / "units") == _digests(tmp_path / "final")
    a = json.loads((tmp_path / "units" / "audit" / "audit.json").read_text())
    b = json.loads((tmp_path / "final" / "audit" / "audit.json").read_text())
    assert a == b


def test_an_id_two_units_share_is_made_unique_like_within_one(corpus, one_unit):
    out = one_unit[0]
    ids = set()
    for name in ("documents", "rejected"):
        for f in (out / name).glob("*.parquet"):
            ids |= {r["id"] for r in pq.read_table(f, columns=["id"]).to_pylist()}
    shared = sorted(i for i in ids if i.startswith("web/shared"))
    assert shared == [f"web/shared#part-{k}.jsonl.gz:{n}" for k, n in zip(range(4), _shared_lines(corpus))]
    audit = json.loads((out / "audit" / "audit.json").read_text())
    assert audit["stages"][0]["stats"]["duplicate_ids"]["ids"] == 1


def _shared_lines(loaded) -> list[int]:
    folder = Path(loaded.path).parent
    out = []
    for k in range(4):
        with gzip.open(folder / f"part-{k}.jsonl.gz", "rt", encoding="utf-8") as f:
            out.append(sum(1 for _ in f))  # the shared record is each file's last line
    return out


# ---- nothing that grows with the corpus in a side input or a group -----------------------------------------


class _Probe(PipelineVisitor):
    """Finds every side input and every GroupByKey that is not a combine's (a combine is lifted: its state
    is the accumulator, not the group)."""

    def __init__(self):
        self.side_inputs, self.groups = [], []

    def enter_composite_transform(self, node):
        self.visit_transform(node)

    def visit_transform(self, node):
        for si in node.side_inputs:
            self.side_inputs.append((node.full_label, si.pvalue))
        if isinstance(node.transform, beam.GroupByKey):
            parent = node.parent.transform if node.parent is not None else None
            if not isinstance(parent, beam.CombinePerKey):
                self.groups.append((node.full_label, node.inputs[0]))


def _size(element) -> int:
    return len(element) if isinstance(element, (list, dict)) else 1


def _write_figure(value, path: str, label: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps([label, int(value)]) + "\n")


def _instrument(p: beam.Pipeline, figures: Path) -> None:
    probe = _Probe()
    p.visit(probe)
    for i, (label, pc) in enumerate(probe.side_inputs):
        (pc | f"ProbeSide{i}" >> beam.Map(_size) | f"ProbeSideSum{i}" >> beam.CombineGlobally(sum)
         | f"ProbeSideOut{i}" >> beam.Map(_write_figure, path=str(figures), label=f"side:{label}"))
    for i, (label, pc) in enumerate(probe.groups):
        (pc | f"ProbeGroup{i}" >> beam.combiners.Count.PerKey() | f"ProbeGroupN{i}" >> beam.Values()
         | f"ProbeGroupMax{i}" >> beam.CombineGlobally(lambda ns: max(ns, default=0))
         | f"ProbeGroupOut{i}" >> beam.Map(_write_figure, path=str(figures), label=f"group:{label}"))


def _phase_figures(config: Path, work: Path, monkeypatch) -> tuple[dict[str, int], int]:
    """Runs the whole job, one file a unit, every phase's pipeline in this process and instrumented."""
    figures = work / "figures.jsonl"
    original = beam.Pipeline.run

    def instrumented_run(self, test_runner_api="AUTO"):
        if test_runner_api is not False:  # Beam re-runs a round-tripped copy with False: probe once
            _instrument(self, figures)
        return original(self, test_runner_api)

    monkeypatch.setattr(beam.Pipeline, "run", instrumented_run)
    monkeypatch.setattr(phase_runner, "run_units", lambda tasks, processes, on_done=None: [run_unit(t) for t in tasks])
    loaded = load_config(str(config))
    cfg = loaded.resolved.model_copy(update={"run": loaded.resolved.run.model_copy(update={"unit_mb": 0.000001})})
    out = work / "out"
    run_job(type(loaded)(written=loaded.written, resolved=cfg, path=loaded.path), IN_MEMORY, str(out))
    monkeypatch.setattr(beam.Pipeline, "run", original)
    got: dict[str, int] = {}
    for line in figures.read_text().splitlines():
        label, value = json.loads(line)
        got[label] = max(got.get(label, 0), value)
    return got, json.loads((out / "manifest.json").read_text())["num_shards"]


def test_no_side_input_or_group_grows_with_the_number_of_documents(tmp_path, monkeypatch):
    # spill files roll over every 50 documents, so a file's group of decisions is bounded here too
    monkeypatch.setattr(spill, "MAX_RECORDS_PER_FILE", 50)
    # the audit's sample of quality signals is capped (1,000 documents by default): capped below N here
    monkeypatch.setattr(profile, "SAMPLE_DOCS", 20)
    small, _ = _phase_figures(_corpus(tmp_path / "n", 120), tmp_path / "n", monkeypatch)
    large, shards = _phase_figures(_corpus(tmp_path / "4n", 480), tmp_path / "4n", monkeypatch)
    assert set(small) == set(large)
    assert any(k.startswith("side:") for k in small) and any(k.startswith("group:") for k in small)
    # the shard placement's one side input is a token total per cell of the shard order: bounded by the
    # cells (256 a shard), not by the documents
    by_cells = {"side:Stage[shard]/Write/Place"}
    assert all(large[k] <= shards * CELLS_PER_SHARD for k in by_cells)
    grown = {k: (small[k], large[k]) for k in small if k not in by_cells and large[k] > max(1.5 * small[k], 50)}
    assert not grown, f"grows with the corpus (N, 4N): {grown}"


def test_a_full_disk_under_the_working_folder_is_one_line_and_exit_2(tmp_path):
    """The units' files fill a 3 MB filesystem: one line, exit 2, the working folder gone."""
    import subprocess
    import sys

    from conftest import REPO

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + mounted.stderr.decode().strip()[:100])
    try:
        proc = subprocess.run([sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--output",
                               str(mnt / "out"), "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "the disk is full" in lines[0], proc.stderr
        assert not (mnt / "out" / ".work").exists()
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_units_come_in_a_multiple_of_the_processes_so_none_runs_alone_at_the_end():
    # 11 units of two 3 MB files at 8 MB a unit: the last one is split, so 2 processes finish together
    units = plan_units(_files([3 * MB] * 22), cores=2, memory_mb=16000).units
    assert len(units) % 2 == 0 and max(u.bytes for u in units) <= TARGET_UNIT_MB * MB
    assert [f.path for u in units for f in u.files] == [f"/f{i}" for i in range(22)]
    # nothing to split: every unit one file
    assert len(cut_even(_files([9 * MB] * 3), 8 * MB, 2)) == 3
    assert [len(u.files) for u in cut_even(_files([1, 1, 1, 1, 1, 1]), 2, 4)] == [2, 2, 1, 1]
    # a small corpus stays one unit: no unit process to start for it
    assert len(plan_units(_files([100_000] * 5), cores=2, memory_mb=16000).units) == 1
