"""Megatron-LM's indexed dataset (``PREFIX.bin`` + ``PREFIX.idx``): writing one shard, reading it back.

Written from Megatron-LM's published layout (megatron/core/datasets/indexed_dataset.py), which NeMo and
GPT-NeoX read as well. ``.bin`` is every sequence's token ids back to back; ``.idx`` is, little-endian:

    magic b"MMIDIDX\\x00\\x00" | version <Q = 1 | dtype code <B | sequence count <Q | document count <Q
    | sequence lengths int32[sequences] | byte pointers int64[sequences] | document indices int64[documents]

Document indices start at 0 and end at the sequence count (so "document count" is documents + 1). One
sequence per document here, EOS included, as Megatron's own preprocess_data.py writes with --append-eod.
Megatron's dtype codes have no uint32: vocabularies above 65,536 are stored as int32 (code 4), which holds
every id below 2**31. ``.bin/.idx`` cannot hold provenance, so each shard has a JSONL sidecar with one
``{"doc_id", "source", "domain"}`` line per document in the same order.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from pilewright.schemas.errors import UserError

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
# Megatron's DType enum: the codes it reads
DTYPE_CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
               8: np.uint16}
UINT16_CODE = 8
INT32_CODE = 4
_HEADER = struct.Struct("<9sQBQQ")
SUFFIXES = (".bin", ".idx", ".provenance.jsonl")


class MegatronFormatError(UserError, ValueError):
    """A file that is not a readable Megatron indexed dataset; the message says what is wrong."""


def dtype_code(vocab_size: int) -> int:
    """uint16 when every id fits (as the Arrow shards), else int32 (Megatron has no uint32)."""
    if vocab_size > 1 << 31:
        raise ValueError(f"vocabulary of {vocab_size} ids does not fit Megatron's int32 token type")
    return UINT16_CODE if vocab_size <= 1 << 16 else INT32_CODE


def megatron_bytes(token_arrays: Sequence[np.ndarray], vocab_size: int) -> tuple[bytes, bytes]:
    """(``.bin`` bytes, ``.idx`` bytes) for one document per array, in order. Pure and deterministic."""
    code = dtype_code(vocab_size)
    dtype = np.dtype(DTYPE_CODES[code]).newbyteorder("<")
    lengths = np.fromiter((len(a) for a in token_arrays), dtype=np.int64, count=len(token_arrays))
    if lengths.size and int(lengths.max()) > np.iinfo(np.int32).max:
        raise ValueError("a document longer than 2**31 tokens cannot be stored in Megatron's int32 lengths")
    data = np.concatenate(token_arrays).astype(dtype) if len(token_arrays) else np.empty(0, dtype)
    pointers = np.zeros(len(token_arrays), dtype="<i8")
    if len(token_arrays) > 1:
        np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
    n = len(token_arrays)
    idx = b"".join((
        _HEADER.pack(MAGIC, VERSION, code, n, n + 1),
        lengths.astype("<i4").tobytes(),
        pointers.tobytes(),
        np.arange(n + 1, dtype="<i8").tobytes(),
    ))
    return data.tobytes(), idx


def provenance_bytes(rows: Sequence[tuple[str, str, str]]) -> bytes:
    """The sidecar: one JSON line (doc_id, source, domain) per document, in the ``.bin`` order."""
    return "".join(
        json.dumps({"doc_id": d, "source": s, "domain": m}, ensure_ascii=False, separators=(",", ":")) + "\n"
        for d, s, m in rows
    ).encode("utf-8", "surrogatepass")


# ---- reading: independent of the writer above, parsed field by field from the published layout ----------


@dataclass(frozen=True)
class MegatronIndex:
    dtype: np.dtype
    sequence_lengths: np.ndarray  # int32
    sequence_pointers: np.ndarray  # int64, byte offsets into .bin
    document_indices: np.ndarray  # int64, 0 .. sequence count


def read_index(idx: bytes) -> MegatronIndex:
    """Parses ``.idx`` bytes, checking the magic, version, dtype code and that the arrays fill the file."""
    if len(idx) < _HEADER.size:
        raise MegatronFormatError(f"index of {len(idx)} bytes is shorter than the {_HEADER.size}-byte header")
    magic, version, code, n_seq, n_doc = _HEADER.unpack_from(idx, 0)
    if magic != MAGIC:
        raise MegatronFormatError(f"bad magic {magic!r} (expected {MAGIC!r})")
    if version != VERSION:
        raise MegatronFormatError(f"index version {version}, only {VERSION} is defined")
    if code not in DTYPE_CODES:
        raise MegatronFormatError(f"unknown dtype code {code}")
    want = _HEADER.size + n_seq * 4 + n_seq * 8 + n_doc * 8
    if len(idx) != want:
        raise MegatronFormatError(f"index is {len(idx)} bytes, its header implies {want}")
    off = _HEADER.size
    lengths = np.frombuffer(idx, dtype="<i4", count=n_seq, offset=off)
    pointers = np.frombuffer(idx, dtype="<i8", count=n_seq, offset=off + 4 * n_seq)
    docs = np.frombuffer(idx, dtype="<i8", count=n_doc, offset=off + 12 * n_seq)
    if n_doc == 0 or docs[0] != 0 or docs[-1] != n_seq or np.any(np.diff(docs) < 0):
        raise MegatronFormatError("document indices must rise from 0 to the sequence count")
    return MegatronIndex(np.dtype(DTYPE_CODES[code]).newbyteorder("<"), lengths, pointers, docs)


def iter_megatron_documents(bin_data, idx: bytes) -> Iterator[np.ndarray]:
    """Token ids of each document (its sequences joined), in order. ``bin_data``: bytes or a memory map."""
    index = read_index(idx)
    size = len(memoryview(bin_data))
    item = index.dtype.itemsize
    for d in range(len(index.document_indices) - 1):
        parts = []
        for s in range(int(index.document_indices[d]), int(index.document_indices[d + 1])):
            ptr, n = int(index.sequence_pointers[s]), int(index.sequence_lengths[s])
            if ptr < 0 or n < 0 or ptr + n * item > size:
                raise MegatronFormatError(f"sequence {s} points past the end of the .bin ({size} bytes)")
            parts.append(np.frombuffer(bin_data, dtype=index.dtype, count=n, offset=ptr))
        yield parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, index.dtype)


def read_provenance(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8", "surrogatepass").splitlines() if line.strip()]
