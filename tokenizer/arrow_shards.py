"""Token shards on disk: building one Arrow IPC file, and reading shards back for training code.

A shard holds rows (doc_id, source, domain, tokens). The writer side is pure (rows in, bytes out) so the
Beam stage in ``transforms/shard/stage.py`` can hash and place the bytes through any Beam filesystem.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import pyarrow as pa

from pilewright.schemas.arrow import token_dtype, token_shard_schema

ROWS_PER_BATCH = 4096


@dataclass(frozen=True)
class ShardRow:
    doc_id: str
    source: str
    domain: str
    tokens: bytes  # little-endian uint32


def shard_bytes(rows: Sequence[ShardRow], vocab_size: int, tokenizer_sha256: str, eos_id: int) -> bytes:
    """The IPC file for ``rows`` in the given order. Same rows and metadata -> same bytes."""
    schema = token_shard_schema(vocab_size, tokenizer_sha256, eos_id)
    np_dtype = np.uint16 if token_dtype(vocab_size) == pa.uint16() else np.uint32
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        for start in range(0, len(rows), ROWS_PER_BATCH):
            batch_rows = rows[start : start + ROWS_PER_BATCH]
            arrays = [np.frombuffer(r.tokens, dtype="<u4") for r in batch_rows]
            lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
            offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            values = np.concatenate(arrays).astype(np_dtype) if arrays else np.empty(0, np_dtype)
            tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
            batch = pa.record_batch(
                [
                    pa.array([r.doc_id for r in batch_rows], pa.string()),
                    pa.array([r.source for r in batch_rows], pa.string()),
                    pa.array([r.domain for r in batch_rows], pa.string()),
                    tokens.cast(schema.field("tokens").type),
                ],
                schema=schema,
            )
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- reading (for training code) ----------------------------------------------------------------


def open_shard(path: str | Path) -> pa.Table:
    """Memory-maps one shard: token data stays on disk until touched."""
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def shard_metadata(path: str | Path) -> dict[str, str]:
    reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
    return {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}


def shard_paths(out_dir: str | Path) -> list[Path]:
    """Shards of a run in order, from its manifest (so a stray file in tokens/ is never read)."""
    out = Path(out_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    return [out / s["path"] for s in manifest["shards"]]


def iter_documents(paths: Sequence[str | Path]) -> Iterator[tuple[str, str, np.ndarray]]:
    """(doc_id, source, tokens incl. EOS) for every row of the shards, in order; zero-copy views."""
    for path in paths:
        table = open_shard(path)
        for batch in table.to_batches():
            ids = batch.column(0).to_pylist()
            sources = batch.column(1).to_pylist()
            tok = batch.column(3)
            offsets = tok.offsets.to_numpy()
            values = tok.values.to_numpy(zero_copy_only=True)
            for i, doc_id in enumerate(ids):
                yield doc_id, sources[i], values[offsets[i] : offsets[i + 1]]


@dataclass(frozen=True)
class Position:
    """Where packed reading resumes: token ``offset`` of row ``row`` of shard ``shard`` (indices into the
    shard list given to ``iter_sequences``). Save it with the training checkpoint; JSON-friendly."""

    shard: int = 0
    row: int = 0
    offset: int = 0

    def to_dict(self) -> dict:
        return {"shard": self.shard, "row": self.row, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: dict) -> "Position":
        return cls(int(d["shard"]), int(d["row"]), int(d["offset"]))


def _rows_from(path: str | Path, first_row: int) -> Iterator[tuple[int, np.ndarray]]:
    """(row index, tokens) of one shard from ``first_row`` on; batches before it are skipped unread."""
    table = open_shard(path)
    row0 = 0
    for batch in table.to_batches():
        n = len(batch)
        if row0 + n <= first_row:
            row0 += n
            continue
        tok = batch.column(3)
        offsets = tok.offsets.to_numpy()
        values = tok.values.to_numpy(zero_copy_only=True)
        for i in range(max(0, first_row - row0), n):
            yield row0 + i, values[offsets[i] : offsets[i + 1]]
        row0 += n


def iter_sequences(
    paths: Sequence[str | Path],
    seq_len: int,
    drop_last: bool = True,
    start: Optional[Position] = None,
    with_position: bool = False,
) -> Iterator:
    """Fixed-length training sequences: documents (each ending in EOS) concatenated and cut every
    ``seq_len`` tokens, the usual packing for pretraining.

    ``with_position``: yield ``(sequence, position)`` where ``position`` is where the next sequence starts;
    a reader restarted with ``start=position`` (same paths, same ``seq_len``) yields exactly the sequences
    that would have followed, so a restarted training job neither repeats nor skips data.
    """
    if seq_len <= 0:
        raise ValueError("seq_len must be positive")
    pos = start or Position()
    buf: Optional[np.ndarray] = None
    fill = 0
    for shard_i in range(pos.shard, len(paths)):
        first_row = pos.row if shard_i == pos.shard else 0
        for row_i, tokens in _rows_from(paths[shard_i], first_row):
            if buf is None:
                buf = np.empty(seq_len, dtype=tokens.dtype)
            off = pos.offset if (shard_i, row_i) == (pos.shard, pos.row) else 0
            n = len(tokens)
            while off < n:
                take = min(seq_len - fill, n - off)
                buf[fill : fill + take] = tokens[off : off + take]
                fill += take
                off += take
                if fill == seq_len:
                    seq = buf.copy()
                    fill = 0
                    if with_position:
                        nxt = Position(shard_i, row_i, off) if off < n else Position(shard_i, row_i + 1, 0)
                        yield seq, nxt
                    else:
                        yield seq
    if fill and not drop_last:
        seq = buf[:fill].copy()
        yield (seq, Position(len(paths), 0, 0)) if with_position else seq
