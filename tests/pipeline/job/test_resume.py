"""``pilewright run --resume``: SIGKILL at several points, then resume; the outputs equal an uninterrupted run."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, sample_texts

OUTPUTS = ("manifest.json", "tokens", "tokenizer", "documents", "rejected", "dead_letter")
# what a run without --resume writes byte for byte the same (side outputs: the same rows)
SAME_AS_PLAIN = ("manifest.json", "tokens", "tokenizer")


def digests(out: Path, names=OUTPUTS) -> dict[str, str]:
    got = {}
    for name in names:
        paths = [out / name] if (out / name).is_file() else sorted((out / name).iterdir())
        for path in paths:
            got[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return got


def command(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--config", str(cfg), "--output", str(out),
            "--quiet", *extra]


def run(cfg: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run(command(cfg, out, *extra), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr


def kill_when(cfg: Path, out: Path, ready) -> bool:
    """Starts a --resume run and SIGKILLs its process group once ``ready(out)``; True if it was killed."""
    proc = subprocess.Popen(command(cfg, out, "--resume"), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if ready(out):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.wait()
    return False


def _units(out: Path) -> int:
    return len(list((out / ".work" / "curate").glob("u*/unit.json")))


def in_curate(out: Path) -> bool:
    """Some units finished, not all (the corpus has four files, one unit each)."""
    return 1 <= _units(out) < 4


def after_curate(out: Path) -> bool:
    return _units(out) == 4


def in_finish(out: Path) -> bool:
    return after_curate(out) and (out / "tokenizer").is_dir() and any((out / "tokenizer").iterdir())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    texts = sample_texts(30)
    rows = [{"id": i, "text": r["text"]} for i, r in enumerate(texts + texts[:5])]  # five exact duplicates
    for k in range(4):
        with open(root / f"d{k}.jsonl", "w") as f:
            for r in rows[k::4]:
                f.write(json.dumps(r) + "\n")
            if k == 0:
                f.write("{not json\n")
    cfg = root / "c.yaml"
    # one file a unit, one unit at a time: the kill points fall between units
    cfg.write_text("run: {unit_mb: 0.000001, workers: 1}\n"
                   "sources: [{name: s, paths: [d*.jsonl], format: jsonl}]\n"
                   "stages: {normalize: {}, dedup: {}}\n"
                   "tokenizer: {train: {vocab_size: 600}}\nshards: {num_shards: 2}\n")
    reference = root / "reference"
    run(cfg, reference, "--resume")
    return root, cfg, digests(reference)


def test_resume_without_interruption_matches_a_plain_run(corpus):
    root, cfg, reference = corpus
    plain = root / "plain"
    run(cfg, plain)
    assert reference == digests(plain)
    assert not (root / "reference" / ".work").exists()  # removed when the run finished


@pytest.mark.parametrize("point", [in_curate, after_curate, in_finish], ids=lambda f: f.__name__)
def test_sigkill_then_resume_gives_the_uninterrupted_outputs(corpus, point):
    root, cfg, reference = corpus
    out = root / f"killed_{point.__name__}"
    killed = kill_when(cfg, out, point)
    assert killed, "the run finished before the kill point; the corpus is too small to hit it"
    finished_units = _units(out)
    run(cfg, out, "--resume")
    assert digests(out) == reference
    facts = json.loads((out / "audit" / "run.json").read_text())["resume"]
    # every unit that had finished is reused, the others run again
    assert facts["reused_units"] == finished_units >= 1
    assert not (out / ".work").exists()


def test_a_changed_input_or_config_is_not_reused(tmp_path):
    from pilewright.pipeline.job.config import load_config
    from pilewright.pipeline.job.units import cut_units, list_inputs

    (tmp_path / "d.jsonl").write_text('{"id": 1, "text": "x"}\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources: [{name: s, paths: [d.jsonl], format: jsonl}]\n")
    loaded = load_config(str(cfg))

    def unit_fp(loaded):
        return cut_units(list_inputs(loaded.resolved), 1 << 30)[0].fingerprint(loaded.sha256)

    fp = unit_fp(loaded)
    assert unit_fp(load_config(str(cfg))) == fp
    os.utime(tmp_path / "d.jsonl", (time.time() + 5, time.time() + 5))  # same bytes, new mtime
    assert unit_fp(loaded) != fp
    cfg.write_text("run: {seed: 7}\nsources: [{name: s, paths: [d.jsonl], format: jsonl}]\n")
    assert load_config(str(cfg)).sha256 != loaded.sha256
    # how the run is cut is not part of what it writes: the same hash
    cfg.write_text("run: {workers: 3, unit_mb: 5}\nsources: [{name: s, paths: [d.jsonl], format: jsonl}]\n")
    assert load_config(str(cfg)).sha256 == loaded.sha256


# ---- the working state is cleaned as each phase's consumers finish

@pytest.fixture(scope="module")
def phased_corpus(tmp_path_factory):
    """curate -> decide (dedup) -> finish (pii) -> final: three phases before the final one."""
    root = tmp_path_factory.mktemp("cleaned")
    texts = sample_texts(24)
    rows = [{"id": i, "text": r["text"]} for i, r in enumerate(texts + texts[:4])]
    for k in range(4):
        with open(root / f"d{k}.jsonl", "w") as f:
            for r in rows[k::4]:
                f.write(json.dumps(r) + "\n")
    cfg = root / "c.yaml"
    cfg.write_text("run: {unit_mb: 0.000001, workers: 1}\n"
                   "sources: [{name: s, paths: [d*.jsonl], format: jsonl}]\n"
                   "stages: {normalize: {}, dedup: {}, pii: {}}\n"
                   "tokenizer: {train: {vocab_size: 600}}\nshards: {num_shards: 2}\n")
    reference = root / "reference"
    run(cfg, reference)
    return root, cfg, digests(reference)


def _docs_dirs(out: Path, phase: str) -> list[Path]:
    return sorted(p for p in (out / ".work" / phase).glob("*/docs") if p.is_dir())


def test_each_phase_s_documents_go_once_the_next_phase_has_read_them(phased_corpus):
    root, cfg, reference = phased_corpus
    out = root / "killed_in_final"
    # the tokenizer is trained in the final phase: by then every earlier phase has finished
    killed = kill_when(cfg, out, lambda o: (o / "tokenizer").is_dir() and any((o / "tokenizer").iterdir()))
    assert killed, "the run finished before the final phase could be caught"
    work = out / ".work"
    assert {p.name for p in work.iterdir() if p.is_dir()} >= {"curate", "decide1", "finish2"}
    # curate's and decide's documents were read by the phase after them and removed; the last phase's stay
    assert _docs_dirs(out, "curate") == [] and _docs_dirs(out, "decide1") == []
    assert _docs_dirs(out, "finish2")
    # what the final phase reads from the earlier phases is kept: places, rejections, unit files
    assert list((work / "curate").glob("*/places")) and len(list((work / "curate").glob("*/unit.json"))) == 4
    units = sum(len(list((work / phase).glob("*/unit.json"))) for phase in ("curate", "decide1", "finish2"))
    run(cfg, out, "--resume")
    assert digests(out) == reference
    # every unit is reused: the finish units are cut from decide's recorded file sizes, not its files
    assert json.loads((out / "audit" / "run.json").read_text())["resume"]["reused_units"] == units


def test_a_unit_that_must_run_again_without_its_inputs_is_one_line(phased_corpus, capsys):
    from pilewright.pipeline.cli.main import main

    root, cfg, _reference = phased_corpus
    out = root / "killed_then_broken"
    killed = kill_when(cfg, out, lambda o: (o / "tokenizer").is_dir() and any((o / "tokenizer").iterdir()))
    assert killed
    victim = sorted((out / ".work" / "finish2").glob("*/unit.json"))[0]
    victim.unlink()  # that finish unit must run again, and decide's documents are gone
    assert main(["run", "--config", str(cfg), "--output", str(out), "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "were removed" in err[0] and "run without --resume" in err[0]


def test_the_next_phase_is_cut_the_same_from_recorded_sizes_once_the_files_are_gone(tmp_path):
    from pilewright.pipeline.job import phase_runner
    from pilewright.pipeline.job.phases import Phase
    from pilewright.pipeline.job.units import cut_even

    paths = []
    for i, n in enumerate([3000, 5000, 1000, 7000, 2000]):
        path = tmp_path / "work" / f"f{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * n)
        paths.append(str(path))
    infos = [{"unit": 0, "files": {"docs": paths[:2]}}, {"unit": 1, "files": {"docs": paths[2:]}}]
    phase = Phase(1, "corpus", ("dedup",))
    live = phase_runner._doc_files(infos)
    assert phase_runner._doc_sizes(str(tmp_path / "out"), phase, infos, reused_whole=False) == {
        f.path: f.size for f in live}
    for path in paths:
        os.remove(path)
    # a resumed run that reuses the phase whole reads the record, not the files
    recorded = phase_runner._doc_sizes(str(tmp_path / "out"), phase, infos, reused_whole=True)
    assert phase_runner._doc_files(infos, recorded) == live
    assert cut_even(phase_runner._doc_files(infos, recorded), 8000, 2) == cut_even(live, 8000, 2)
    # without the record the sizes are lost, and so is the cut the units' fingerprints come from
    assert cut_even(phase_runner._doc_files(infos), 8000, 2) != cut_even(live, 8000, 2)
