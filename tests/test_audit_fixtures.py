"""Runs shared by the audit, report and verify tests (no tests here): each runs once per session.

- ``sample_run()``: ``pilewright run`` on the embedded sample through the CLI, progress on (not a terminal).
- ``tiny_run(mode)``: a small corpus with records ingest rejects and dead-letters, run through ``run_job``
  in the given DirectRunner mode, with or without the progress channel.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from conftest import sample_texts

_ROOT = Path(tempfile.mkdtemp(prefix="pilewright-audit-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)


@dataclass(frozen=True)
class CliRun:
    out: Path
    code: int
    stdout: str
    stderr: str


@functools.lru_cache(maxsize=None)
def sample_run() -> CliRun:
    from pilewright.pipeline.cli.main import main

    out = _ROOT / "sample"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", "--output", str(out)])
    return CliRun(out, code, stdout.getvalue(), stderr.getvalue())


def copy_of_sample(dest: Path) -> Path:
    """A private copy of the sample run's output, for tests that damage it."""
    run = sample_run()
    assert run.code == 0, run.stderr
    shutil.copytree(run.out, dest)
    return dest


def _tiny_config() -> Path:
    folder = _ROOT / "tiny-input"
    if (folder / "c.yaml").exists():
        return folder / "c.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    good = sample_texts(24)
    lines = [json.dumps({"id": r["id"], "text": r["text"]}) for r in good]
    # an empty text is rejected by ingest (ingest:empty_text); an unparsable line is a dead letter
    bad = [
        json.dumps({"id": "blank-1", "text": "   "}),
        json.dumps({"id": "blank-2", "text": ""}),
        '{"id": "broken", "text": <not json>}',
    ]
    (folder / "docs.jsonl").write_text("\n".join(lines[:12] + bad[:2] + lines[12:] + bad[2:]) + "\n")
    cfg = folder / "c.yaml"
    cfg.write_text(
        "run: {seed: 7}\n"
        "sources: [{name: web, paths: ['docs.jsonl'], format: jsonl, domain: general}]\n"
        "stages: {}\n"
        "tokenizer: {train: {vocab_size: 800}}\nshards: {num_shards: 3}\n"
    )
    return cfg


@dataclass
class TinyRun:
    out: Path
    result: object
    views: list


@functools.lru_cache(maxsize=None)
def tiny_run(mode: str, progress: bool) -> TinyRun:
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    out = _ROOT / f"tiny-{mode}-{'progress' if progress else 'quiet'}"
    views: list = []
    args = [f"--direct_running_mode={mode}"] + (["--direct_num_workers=2"] if mode == "multi_processing" else [])
    collect: Optional[object] = views.append if progress else None
    result = run_job(load_config(str(_tiny_config())), args, str(out), progress=collect)
    return TinyRun(out, result, views)
