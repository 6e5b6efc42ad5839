"""Ingest and shard transforms in TestPipeline; shard placement laws; schemas agree with records."""
from __future__ import annotations

import gzip
import json

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.schemas.arrow import DOCUMENT_SCHEMA, REJECTED_SCHEMA
from pilewright.schemas.config import SourceConfig
from pilewright.schemas.records import Document, RejectedDocument
from pilewright.transforms.ingest.stage import ReadSources
from pilewright.transforms.shard.stage import cell_of, num_shards_for, order_key, shard_of_cells


def test_arrow_schemas_match_the_records():
    assert DOCUMENT_SCHEMA.names == list(Document._fields)
    assert REJECTED_SCHEMA.names == list(RejectedDocument._fields)


def test_read_sources_routes_every_record(tmp_path):
    (tmp_path / "a").mkdir()
    with gzip.open(tmp_path / "a" / "1.jsonl.gz", "wt") as f:
        f.write(json.dumps({"id": "x", "text": "hello"}) + "\n")
        f.write(json.dumps({"id": "y", "text": " "}) + "\n")
        f.write("{broken\n")
    (tmp_path / "b.txt").write_text("a whole file")
    sources = [
        SourceConfig(name="web", paths=[str(tmp_path / "a" / "*.jsonl.gz")], format="jsonl"),
        SourceConfig(name="books", paths=[str(tmp_path / "*.txt")], format="text", domain="finance"),
    ]
    with TestPipeline() as p:
        res = p | ReadSources(sources)
        assert_that(res.main | beam.Map(lambda d: (d.id, d.source, d.domain)),
                    equal_to([("web/x", "web", "general"), ("books/b.txt", "books", "finance")]), label="kept")
        assert_that(res.rejected | beam.Map(lambda r: (r.id, r.reason)), equal_to([("web/y", "empty_text")]), label="rej")
        assert_that(res.errors | beam.Map(lambda e: (e.source, e.offset, e.error_type)),
                    equal_to([("web", 3, "invalid_json")]), label="err")


def test_num_shards_follows_the_target():
    assert num_shards_for(1000, 300, None) == 4
    assert num_shards_for(0, 300, None) == 1
    assert num_shards_for(10**9, None, 7) == 7


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=300), st.integers(1, 8))
def test_placement_is_contiguous_balanced_and_complete(sizes, n_shards):
    keys = [order_key(7, f"d{i}", 0) for i in range(len(sizes))]
    n_cells = n_shards * 256
    totals: dict[int, int] = {}
    for k, s in zip(keys, sizes):
        c = cell_of(k, n_cells)
        totals[c] = totals.get(c, 0) + s
    table = shard_of_cells(totals, n_cells, n_shards)
    # shards are contiguous, non-decreasing slices of the key order
    assert np.all(np.diff(table) >= 0)
    assert table.min() >= 0 and table.max() < n_shards
    per_shard = np.zeros(n_shards, dtype=np.int64)
    for k, s in zip(keys, sizes):
        per_shard[table[cell_of(k, n_cells)]] += s
    assert per_shard.sum() == sum(sizes)
    target = sum(sizes) / n_shards
    biggest_cell = max(totals.values())
    assert np.all(np.abs(per_shard - target) <= biggest_cell + 1e-9)


def test_order_key_is_stable_and_seeded():
    assert order_key(1, "a", 0) == order_key(1, "a", 0)
    assert order_key(1, "a", 0) != order_key(2, "a", 0)
    assert order_key(1, "a", 0) != order_key(1, "a", 1)
    assert 0 <= order_key(1, "a", 0) < 2**63


def _shard_files(out) -> dict:
    return {p.name: p.read_bytes() for p in sorted((out / "tokens").glob("*")) if p.is_file()}


def test_shard_stage_follows_keyed_input_and_keys_the_rest_itself(tmp_path):
    """The shard family builds its stage from the ``shards:`` block; given (key, doc) pairs it follows those
    keys, given documents it keys them by (seed, id, epoch): the same keys give the same files."""
    from pilewright.schemas.config import ShardsConfig
    from pilewright.schemas.records import TokenizedDocument
    from pilewright.tokenizer.spm import TokenizerInfo
    from pilewright.transforms import shard
    from pilewright.transforms.flow import RunContext
    from pilewright.transforms.shard.stage import DOCS, INFO, KEYED

    docs = [TokenizedDocument(id=f"s/{i}", source="s", domain="general",
                              tokens=np.append(np.arange(1, i + 2), 0).astype("<u4").tobytes(), n_tokens=i + 2)
            for i in range(30)]
    info = TokenizerInfo(sha256="0" * 64, vocab_size=64, eos_id=0)
    written = {}
    for keyed in (False, True):
        out = tmp_path / ("keyed" if keyed else "docs")
        stage = shard.build_stage(ShardsConfig(num_shards=3, format="both"), RunContext(seed=7, out_dir=str(out)))
        with TestPipeline() as p:
            pc = p | "Docs" >> beam.Create(docs)
            inputs = {INFO: p | "Info" >> beam.Create([info])}
            if keyed:
                inputs[KEYED] = pc | "Key" >> beam.Map(lambda d: (order_key(7, d.id, d.epoch), d))
            else:
                inputs[DOCS] = pc
            result = inputs | stage
            totals = (result.shards | beam.Map(lambda s: (1, s.n_docs))
                      | beam.CombineGlobally(lambda pairs: tuple(map(sum, zip(*pairs)))))
            assert_that(totals, equal_to([(3, 30)]))  # three shards, every document in one
        written[keyed] = _shard_files(out)
    assert written[False] and written[False] == written[True]
    assert any(name.endswith(".bin") for name in written[False])  # format: both adds Megatron files
