"""benchmarks/profile_stages.py: the in-process source, the split of a stage's CPU and its ratio line."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_common_inmemory as mem  # noqa: E402
import profile_stages  # noqa: E402

from pilewright.schemas.records import Document  # noqa: E402

# ../shared beside the repository, or BENCH_SHARED (as the benchmarks take it), e.g. from a worktree
SHARED = Path(os.environ.get("BENCH_SHARED", Path(__file__).resolve().parents[3] / "shared"))
RATIO = re.compile(r"\| ratio to ceiling (-?\d+\.\d\d)$")


def _docs(n: int) -> list[Document]:
    return [Document(id=f"s/{i}", text=f"text {i}", source="s", domain="general") for i in range(n)]


def test_in_memory_source_yields_every_registered_record_typed():
    docs = _docs(7)
    assert mem.put("t", docs, chunk=3) == 3
    opts = PipelineOptions(["--direct_num_workers=1", "--direct_running_mode=in_memory"])
    with beam.Pipeline("DirectRunner", options=opts) as p:
        out = p | mem.InMemorySource("t", Document)
        assert out.element_type is Document  # so RowCoder, not pickle, encodes it at a boundary
        assert_that(out, equal_to(docs))


def test_the_line_splits_the_cpu_and_ends_with_the_ratio():
    p = profile_stages.Profile("tokenize_spm", "MB", 10.0, library=2.5, body=2.6, beam_total=3.0, spill=0.1,
                               coders=0.02, fixed=0.4)
    line = p.line()
    assert "library   2.50 s" in line and "python +0.10 s" in line and "spill 0.10 s" in line
    # beam: the stage on the runner minus the DoFn body and the spill
    assert "beam +0.30 s" in line and "fixed 0.40 s" in line
    assert float(RATIO.search(line).group(1)) == pytest.approx(2.5 / 3.0, abs=0.005)


def test_best_of_takes_each_part_at_its_lowest():
    a = profile_stages.Profile("q", "MB", 1.0, library=1.0, body=2.0, beam_total=3.0, fixed=0.5)
    b = profile_stages.Profile("q", "MB", 1.0, library=1.5, body=1.8, beam_total=3.5, fixed=0.2)
    best = profile_stages.best_of([a, b])
    assert (best.library, best.body, best.beam_total, best.fixed) == (1.0, 1.8, 3.0, 0.2)


def test_stage_on_runner_subtracts_the_pipeline_without_the_stage():
    docs = _docs(20)
    per_element, fixed = profile_stages.stage_on_runner(
        "t2", docs, Document, lambda p, pc: {"main": pc | beam.Map(lambda d: d._replace(text=d.text.upper()))}, 1)
    assert fixed >= 0.0
    # a Map over 20 tiny documents costs far less than a pipeline run (~0.2 CPU-s here)
    assert abs(per_element) < 0.5


def test_without_the_corpora_it_says_so_and_exits_cleanly(tmp_path, capsys):
    assert profile_stages.main(["--shared", str(tmp_path), "--stages", "dedup"]) == 0
    assert "nothing to measure" in capsys.readouterr().out


@pytest.mark.skipif(not (SHARED / "corpora" / "general").exists(), reason="../shared/corpora is not here")
def test_a_stage_line_on_the_real_corpus(capsys):
    assert profile_stages.main(["--shared", str(SHARED), "--mb", "0.3", "--rounds", "1", "--stages", "dedup"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("dedup ")]
    assert len(lines) == 1 and RATIO.search(lines[0])
