"""Adding a stage takes its config model, its config field, its package and one line in the flow: shown here
with a toy stage that goes through the whole job (audit, outputs, manifest) without touching anything else."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import apache_beam as beam

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import LoadedConfig
from pilewright.schemas.config import RunConfig, SourceConfig, StagesConfig, TokenizerConfig, TokenizerTrainConfig
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


def build_stage(config: ShortDocsConfig, context: flow.RunContext) -> beam.PTransform:
    return AnnotateAndFilter("short_docs", _ShortDocsFn(config.min_chars))


def test_a_stage_added_by_one_line_in_the_flow_runs_and_is_audited(tmp_path, monkeypatch):
    # 4. one line in the flow
    monkeypatch.setattr(flow, "FLOW", flow.FLOW + (flow.StageSpec("short_docs", module=__name__),))
    records = sample_texts(20)
    write_jsonl_gz(tmp_path / "docs.jsonl.gz", records)
    cfg = RunConfig(
        sources=[SourceConfig(name="s", paths=[str(tmp_path / "docs.jsonl.gz")], format="jsonl")],
        stages=StagesWithShortDocs(short_docs=ShortDocsConfig(min_chars=1500)),
        tokenizer=TokenizerConfig(train=TokenizerTrainConfig(vocab_size=400)),
    )
    result = run_job(LoadedConfig(written=cfg, resolved=cfg, path=str(tmp_path / "c.yaml")), [], str(tmp_path / "out"))

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
