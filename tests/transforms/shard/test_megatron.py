"""Megatron indexed dataset: the bytes follow the published layout; a run with `tokenizer: {hf: ...}` and
`shards: {format: both}` writes .bin/.idx whose documents equal the Arrow rows (uint16 and uint32
vocabularies), with provenance, listed in the manifest and checked by `audit --verify`."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from pilewright.pipeline.audit.verify import verify_run  # noqa: E402
from pilewright.tokenizer.megatron import (  # noqa: E402
    MegatronFormatError,
    iter_megatron_documents,
    megatron_bytes,
    read_index,
)
from pilewright.tokenizer.arrow_shards import iter_documents, shard_metadata  # noqa: E402

from conftest import sample_texts  # noqa: E402
from hf_tokenizers import big_vocab_byte_tokenizer, train_byte_bpe  # noqa: E402


def _parse_idx_by_hand(idx: bytes):
    """A second reader, straight from the published layout with struct only, for the pure tests."""
    assert idx[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack_from("<Q", idx, 9)
    (code,) = struct.unpack_from("<B", idx, 17)
    n_seq, n_doc = struct.unpack_from("<QQ", idx, 18)
    off = 34
    lengths = struct.unpack_from(f"<{n_seq}i", idx, off)
    pointers = struct.unpack_from(f"<{n_seq}q", idx, off + 4 * n_seq)
    docs = struct.unpack_from(f"<{n_doc}q", idx, off + 12 * n_seq)
    assert off + 12 * n_seq + 8 * n_doc == len(idx)
    return version, code, lengths, pointers, docs


@pytest.mark.parametrize("vocab,code,fmt", [(1000, 8, "H"), (70_000, 4, "i")])
def test_bytes_follow_the_published_layout(vocab, code, fmt):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, vocab, size=n, dtype=np.uint32) for n in (5, 1, 17, 3)]
    bin_data, idx = megatron_bytes(arrays, vocab)
    version, got_code, lengths, pointers, docs = _parse_idx_by_hand(idx)
    assert (version, got_code) == (1, code)
    assert lengths == (5, 1, 17, 3) and docs == (0, 1, 2, 3, 4)
    size = struct.calcsize(fmt)
    assert pointers == (0, 5 * size, 6 * size, 23 * size) and len(bin_data) == 26 * size
    for a, p, n in zip(arrays, pointers, lengths):
        assert list(struct.unpack_from(f"<{n}{fmt}", bin_data, p)) == a.tolist()
    assert [d.tolist() for d in iter_megatron_documents(bin_data, idx)] == [a.tolist() for a in arrays]
    # deterministic
    assert megatron_bytes(arrays, vocab) == (bin_data, idx)


def test_reader_refuses_damaged_indexes():
    _bin, idx = megatron_bytes([np.array([1, 2], np.uint32)], 100)
    with pytest.raises(MegatronFormatError, match="bad magic"):
        read_index(b"X" + idx[1:])
    with pytest.raises(MegatronFormatError, match="header implies"):
        read_index(idx + b"\x00")
    with pytest.raises(MegatronFormatError, match="points past the end"):
        list(iter_megatron_documents(b"\x00", idx))


def _run(tmp_path: Path, tok_json: bytes, literal_doc: bool = True):
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "tok").mkdir()
    (folder / "tok" / "tokenizer.json").write_bytes(tok_json)
    rows = [{"id": r["id"], "text": r["text"][:1500]} for r in sample_texts(16)]
    if literal_doc:
        rows.append({"id": "literal", "text": "one story ends here<|endoftext|>and the next begins"})
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "c.yaml").write_text(
        "run: {seed: 3}\n"
        "sources: [{name: web, paths: ['docs.jsonl'], format: jsonl, domain: general}]\n"
        "stages: {}\n"
        "tokenizer: {hf: tok, bos: true}\n"
        "shards: {num_shards: 2, format: both}\n"
    )
    out = tmp_path / "out"
    result = run_job(load_config(str(folder / "c.yaml")), [], str(out))
    return out, result


def _check_run(out: Path, manifest: dict, tok_json: bytes) -> None:
    from pilewright.tokenizer.hf import HFEncoder

    enc = HFEncoder(tok_json, add_bos=True)
    tok = manifest["tokenizer"]
    assert tok["kind"] == "hf" and tok["path"] == "tokenizer/tokenizer.json"
    assert (tok["vocab_size"], tok["eos_id"], tok["bos_id"]) == (enc.vocab_size, enc.eos_id, enc.bos_id)
    assert (out / tok["path"]).read_bytes() == tok_json
    n_docs = 0
    for entry in manifest["shards"]:
        arrow = out / entry["path"]
        prefix = str(arrow)[: -len(".arrow")]
        assert [f["path"] for f in entry["files"]] == [
            entry["path"][: -len(".arrow")] + s for s in (".bin", ".idx", ".provenance.jsonl")
        ]
        rows = list(iter_documents([arrow]))
        mega = list(iter_megatron_documents(np.memmap(prefix + ".bin", mode="r"), Path(prefix + ".idx").read_bytes()))
        prov = [json.loads(line) for line in Path(prefix + ".provenance.jsonl").read_text().splitlines()]
        assert len(rows) == len(mega) == len(prov) == entry["docs"] > 0
        for (doc_id, source, tokens), m, p in zip(rows, mega, prov):
            assert np.array_equal(tokens, m) and (p["doc_id"], p["source"]) == (doc_id, source)
            assert tokens[0] == enc.bos_id and tokens[-1] == enc.eos_id and enc.eos_id not in tokens[1:-1]
        _v, code, *_ = _parse_idx_by_hand(Path(prefix + ".idx").read_bytes())
        assert code == (8 if tok["vocab_size"] <= 65_536 else 4)
        assert shard_metadata(arrow)["tokenizer_sha256"] == tok["sha256"]
        n_docs += len(rows)
    assert n_docs == manifest["total_docs"]
    result = verify_run(str(out))
    assert result.ok, result.problems


def test_run_writes_megatron_beside_arrow_uint16(tmp_path):
    tok_json = train_byte_bpe([r["text"] for r in sample_texts(20)], vocab_size=600)
    out, result = _run(tmp_path, tok_json)
    manifest = result.manifest
    assert manifest["tokenizer"]["token_dtype"] == "uint16"
    _check_run(out, manifest, tok_json)
    # the literal special-token string went through the whole run as plain text
    from pilewright.tokenizer.hf import HFEncoder

    enc = HFEncoder(tok_json, add_bos=True)
    literal = next(t for s in manifest["shards"] for d, _s, t in iter_documents([out / s["path"]]) if d.endswith("literal"))
    assert enc.decode(literal[1:-1]) == "one story ends here<|endoftext|>and the next begins"
    # lossless through the whole run: every row decodes to its curated document's text
    import pyarrow.parquet as pq

    texts = {}
    for part in sorted((out / "documents").glob("*.parquet")):
        t = pq.read_table(part, columns=["id", "text"])
        texts.update(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))
    rows = [r for s in manifest["shards"] for r in iter_documents([out / s["path"]])]
    assert len(rows) == len(texts) == manifest["total_docs"]
    assert all(enc.decode(tokens[1:-1]) == texts[doc_id] for doc_id, _s, tokens in rows)
    # a flipped byte in a .bin is caught by verify
    bin_path = out / manifest["shards"][0]["files"][0]["path"]
    data = bytearray(bin_path.read_bytes())
    data[-1] ^= 0x01
    bin_path.write_bytes(bytes(data))
    problems = verify_run(str(out)).problems
    assert any(p.startswith(manifest["shards"][0]["files"][0]["path"]) for p in problems), problems
    assert any("differs from the Arrow shard" in p for p in problems), problems


def test_run_writes_megatron_beside_arrow_uint32(tmp_path):
    tok_json = big_vocab_byte_tokenizer(70_000)
    out, result = _run(tmp_path, tok_json, literal_doc=False)
    assert result.manifest["tokenizer"]["token_dtype"] == "uint32"
    _check_run(out, result.manifest, tok_json)


def test_megatron_cores_own_reader_agrees(tmp_path):
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset",
                                  reason="megatron-core (it needs torch) is not installed")
    tok_json = big_vocab_byte_tokenizer(70_000)
    out, result = _run(tmp_path, tok_json, literal_doc=False)
    for entry in result.manifest["shards"]:
        ds = indexed.IndexedDataset(str(out / entry["path"])[: -len(".arrow")])
        rows = list(iter_documents([out / entry["path"]]))
        assert len(ds) == len(rows)
        assert all(np.array_equal(np.asarray(ds[i]), r[2]) for i, r in enumerate(rows))
