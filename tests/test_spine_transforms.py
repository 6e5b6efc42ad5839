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
