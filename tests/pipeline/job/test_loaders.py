"""The shards load in Hugging Face `datasets` (skipped where it is not installed) exactly as written."""
from __future__ import annotations

import numpy as np
import pytest

from pilewright.tokenizer.arrow_shards import ShardRow, iter_documents, shard_bytes


def _shards(tmp_path, vocab: int) -> list:
    paths = []
    for s in range(2):
        rows = [ShardRow(f"src/{s}-{i}", "src", "general",
                         (np.arange(i + 2, dtype="<u4") * 977 % vocab).astype("<u4").tobytes()) for i in range(5)]
        path = tmp_path / f"part-{s:05d}-of-00002.arrow"
        path.write_bytes(shard_bytes(rows, vocab, "sha", 0))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("vocab", [1000, 70_000])
def test_hf_datasets_loads_the_shards(tmp_path, vocab):
    datasets = pytest.importorskip("datasets")
    paths = _shards(tmp_path, vocab)
    ds = datasets.load_dataset("arrow", data_files=paths, split="train", cache_dir=str(tmp_path / "cache"))
    want = list(iter_documents(paths))
    assert ds.column_names == ["doc_id", "source", "domain", "tokens"] and len(ds) == len(want)
    for row, (doc_id, source, tokens) in zip(ds, want):
        assert (row["doc_id"], row["source"]) == (doc_id, source) and row["tokens"] == tokens.tolist()
