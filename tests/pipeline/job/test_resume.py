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
