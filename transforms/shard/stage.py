"""Shard stage: TokenizedDocuments -> Arrow IPC token shards with near-equal token counts.

Placement without a global sort: every document gets an order key blake2b(seed, id, epoch); the key space
is cut into many small cells (contiguous key ranges); per-cell token totals (a small combine) give each
cell's offset in the global order, and a cell goes to the shard that holds its midpoint. Shards are thus
contiguous slices of one pseudo-random permutation, so any prefix of the shard list is an unbiased sample
of the corpus, and shard sizes differ by at most about one cell. Within a shard rows are sorted by key.
"""
from __future__ import annotations

import json
import math
import tempfile
import typing
from typing import Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.config import ShardsConfig
from pilewright.schemas.records import ShardInfo, TokenizedDocument
from pilewright.tokenizer.spm import TokenizerInfo
from pilewright.tokenizer.megatron import SUFFIXES as MEGATRON_SUFFIXES
from pilewright.tokenizer.megatron import megatron_bytes, provenance_bytes
from pilewright.tokenizer.arrow_shards import ShardRow, sha256_hex, shard_bytes
from pilewright.transforms.hashing import stable_hash64
from pilewright.transforms.spill import RangeReader
from pilewright.transforms.stage import count, distribution

STAGE = "shard"
CELLS_PER_SHARD = 256
MAX_CELLS = 1 << 20


def order_key(seed: int, doc_id: str, epoch: int) -> int:
    # 63 bits: Beam's integer coder is signed 64-bit
    return stable_hash64(str(seed), doc_id, str(epoch)) >> 1


def num_shards_for(total_tokens: int, tokens_per_shard: Optional[int], num_shards: Optional[int]) -> int:
    if num_shards:
        return num_shards
    return max(1, math.ceil(total_tokens / tokens_per_shard)) if tokens_per_shard else 1


def num_cells_for(n_shards: int) -> int:
    return min(MAX_CELLS, n_shards * CELLS_PER_SHARD)


def cell_of(key: int, n_cells: int) -> int:
    return (key * n_cells) >> 63


def shard_of_cells(cell_totals: dict[int, int], n_cells: int, n_shards: int) -> np.ndarray:
    """For every cell, the shard holding the cell's midpoint in the global token order."""
    totals = np.zeros(n_cells, dtype=np.int64)
    for cell, tokens in cell_totals.items():
        totals[cell] = tokens
    grand = int(totals.sum())
    if grand == 0:
        return np.zeros(n_cells, dtype=np.int64)
    starts = np.cumsum(totals) - totals
    mid = starts.astype(np.float64) + totals / 2.0
    return np.minimum((mid * n_shards / grand).astype(np.int64), n_shards - 1)


def temp_shard_path(out_dir: str, index: int) -> str:
    return FileSystems.join(out_dir, "tokens", ".tmp", f"shard-{index:05d}.arrow")


def final_shard_name(index: int, n_shards: int, suffix: str = ".arrow") -> str:
    return f"tokens/part-{index:05d}-of-{n_shards:05d}{suffix}"


def _write(path: str, data: bytes) -> dict:
    with FileSystems.create(path) as f:
        f.write(data)
    return {"path": path, "sha256": sha256_hex(data), "bytes": len(data)}


class _PlaceFn(beam.DoFn):
    """(key, doc) -> (shard, (key, doc)); the cell-to-shard table is built once per worker."""

    def __init__(self, tokens_per_shard: Optional[int], num_shards: Optional[int]):
        super().__init__()
        self._tps, self._ns = tokens_per_shard, num_shards
        self._table: Optional[np.ndarray] = None
        self._table_src: Optional[int] = None

    def process(self, item, total: int, cell_totals: dict):
        key, doc = item
        n_shards = num_shards_for(total, self._tps, self._ns)
        n_cells = num_cells_for(n_shards)
        if self._table is None or self._table_src != id(cell_totals):
            self._table = shard_of_cells(cell_totals, n_cells, n_shards)
            self._table_src = id(cell_totals)
        yield int(self._table[cell_of(key, n_cells)]), (key, doc)


def _tokens(doc: TokenizedDocument, reader: RangeReader) -> bytes:
    """The document's token bytes: inline, or read back from the working folder by reference."""
    if doc.ref_path:
        return reader.read(doc.ref_path, doc.ref_offset, 4 * doc.n_tokens)
    return doc.tokens


class _WriteShardFn(beam.DoFn):
    """(shard, [(key, doc)]) -> ShardInfo; writes the shard to a temp path (renamed at finalize)."""

    def __init__(self, out_dir: str, megatron: bool = False):
        super().__init__()
        self._out_dir = out_dir
        self._megatron = megatron

    def process(self, item, info: TokenizerInfo) -> Iterable[ShardInfo]:
        index, keyed = item
        rows_sorted = sorted(keyed, key=lambda kd: (kd[0], kd[1].id, kd[1].epoch))
        reader = RangeReader()
        try:
            rows = [ShardRow(d.id, d.source, d.domain, _tokens(d, reader)) for _k, d in rows_sorted]
        finally:
            reader.close()
        data = shard_bytes(rows, info.vocab_size, info.sha256, info.eos_id)
        path = temp_shard_path(self._out_dir, index)
        # a retried bundle rewrites the same bytes to the same temp path: nothing duplicates
        with FileSystems.create(path) as f:
            f.write(data)
        extra = []
        if self._megatron:
            # same rows, same order as the Arrow shard: row i of the shard is document i of the .bin
            arrays = [np.frombuffer(r.tokens, dtype="<u4") for r in rows]
            bin_data, idx_data = megatron_bytes(arrays, info.vocab_size)
            prov = provenance_bytes([(r.doc_id, r.source, r.domain) for r in rows])
            for suffix, blob in zip(MEGATRON_SUFFIXES, (bin_data, idx_data, prov)):
                extra.append({"suffix": suffix, **_write(path[: -len(".arrow")] + suffix, blob)})
        n_tokens = sum(d.n_tokens for _k, d in rows_sorted)
        distribution(STAGE, "shard_tokens", n_tokens)
        count(STAGE, "written")
        yield ShardInfo(index, path, len(rows), n_tokens, sha256_hex(data), len(data), json.dumps(extra))


def finalize_shards(infos: list[ShardInfo], out_dir: str) -> list[ShardInfo]:
    """Renames temp shards to ``part-NNNNN-of-MMMMM.arrow``, numbering the non-empty shards in order.

    Idempotent: a shard already renamed (a retried finalize) is kept as it is.
    """
    ordered = sorted(infos, key=lambda s: s.index)
    total = len(ordered)
    final: list[ShardInfo] = []
    for new_index, info in enumerate(ordered):
        rel = final_shard_name(new_index, total)
        dest = FileSystems.join(out_dir, rel)
        if FileSystems.exists(info.path):
            if FileSystems.exists(dest):
                FileSystems.delete([dest])
            FileSystems.rename([info.path], [dest])
        extras = []
        for extra in json.loads(info.extra_files):
            extra_rel = final_shard_name(new_index, total, extra["suffix"])
            extra_dest = FileSystems.join(out_dir, extra_rel)
            if FileSystems.exists(extra["path"]):
                if FileSystems.exists(extra_dest):
                    FileSystems.delete([extra_dest])
                FileSystems.rename([extra["path"]], [extra_dest])
            extras.append({"path": extra_rel, "bytes": extra["bytes"], "sha256": extra["sha256"]})
        final.append(info._replace(index=new_index, path=rel, extra_files=json.dumps(extras)))
    tmp_dir = FileSystems.join(out_dir, "tokens", ".tmp")
    try:
        if FileSystems.exists(tmp_dir):
            FileSystems.delete([tmp_dir])
    except Exception:  # an object store has no directories to delete
        pass
    return final


class WriteShards(beam.PTransform):
    """TokenizedDocument -> ShardInfo per written shard, under its final name (see ``finalize_shards``).

    Counters: ``shard/written``; distribution ``shard/shard_tokens``.
    Determinism: placement and row order depend on (seed, id, epoch) only.
    Cost: two small combines (total, per-cell totals); one shuffle by shard of (key, document) records
    that, inside a job, hold a reference to the tokens rather than the tokens (read back by file and
    offset while the shard is written); a shard is held in one worker's memory while written (bounded by
    tokens_per_shard).
    """

    def __init__(
        self,
        out_dir: str,
        tokenizer_info: beam.PCollection,
        seed: int,
        tokens_per_shard: Optional[int],
        num_shards: Optional[int],
        prekeyed: bool = False,
        megatron: bool = False,
    ):
        super().__init__()
        self._megatron = megatron
        # prekeyed: the input is (order key in [0, 2**63), doc) pairs, e.g. the mix stage's stratified keys
        self._prekeyed = prekeyed
        self._out_dir = out_dir
        self._info = tokenizer_info
        self._seed = seed
        self._tps = tokens_per_shard
        self._ns = num_shards

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        seed, tps, ns = self._seed, self._tps, self._ns
        keyed = docs if self._prekeyed else docs | "OrderKey" >> beam.Map(
            lambda d: (order_key(seed, d.id, d.epoch), d)
        ).with_output_types(Tuple[int, TokenizedDocument])
        total = (
            keyed
            | "Tokens" >> beam.Map(lambda kd: kd[1].n_tokens)
            | "Total" >> beam.CombineGlobally(sum)
        )
        cell_totals = (
            keyed
            | "CellTokens" >> beam.Map(
                lambda kd, t: (cell_of(kd[0], num_cells_for(num_shards_for(t, tps, ns))), kd[1].n_tokens),
                t=beam.pvalue.AsSingleton(total),
            )
            | "CellTotals" >> beam.CombinePerKey(sum)
        )
        return (
            keyed
            | "Place" >> beam.ParDo(
                _PlaceFn(tps, ns),
                total=beam.pvalue.AsSingleton(total),
                cell_totals=beam.pvalue.AsDict(cell_totals),
            )
            .with_output_types(Tuple[int, Tuple[int, TokenizedDocument]])
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteShardFn(self._out_dir, self._megatron), info=beam.pvalue.AsSingleton(self._info))
            # one step sees every shard: numbering part-NNNNN-of-MMMMM needs the count of non-empty shards
            | "AllShards" >> beam.combiners.ToList()
            | "Finalize" >> beam.FlatMap(finalize_shards, out_dir=self._out_dir).with_output_types(ShardInfo)
        )


# the names of ``Shard``'s inputs
DOCS = "docs"  # TokenizedDocument: the shards order them by (seed, id, epoch)
KEYED = "keyed"  # (order key, TokenizedDocument): an order another stage chose (the mix's stratified keys)
INFO = "info"  # one TokenizerInfo, recorded in every shard


class ShardResult(typing.NamedTuple):
    """``shards``: a ``ShardInfo`` per written shard, under its final name."""

    shards: beam.PCollection


class Shard(beam.PTransform):
    """{``docs``: TokenizedDocument, or ``keyed``: (order key, TokenizedDocument); ``info``: TokenizerInfo}
    -> ShardResult(ShardInfo per shard), from the ``shards:`` block (``WriteShards`` does the work).

    Keyed input is written in the order of its keys; otherwise every copy gets the key blake2b(seed, id, epoch).
    ``format: both`` adds Megatron ``.bin/.idx`` beside each Arrow shard.
    Counters, determinism and cost: ``WriteShards``'s.
    """

    def __init__(self, cfg: ShardsConfig, seed: int, out_dir: Optional[str] = None):
        super().__init__()
        self._cfg = cfg
        self._seed = seed
        # outside a job (tests, benchmarks) the shards go to a temporary folder
        self._out_dir = out_dir if out_dir is not None else tempfile.mkdtemp(prefix="pilewright-shards-")

    def expand(self, inputs: dict) -> ShardResult:
        prekeyed = KEYED in inputs
        cfg = self._cfg
        shards = inputs[KEYED if prekeyed else DOCS] | "Write" >> WriteShards(
            self._out_dir, inputs[INFO], self._seed, cfg.tokens_per_shard, cfg.num_shards,
            prekeyed=prekeyed, megatron=cfg.format == "both",
        )
        return ShardResult(shards=shards)
