"""`pilewright audit OUT --verify`: passes on a clean run, names the first problem of a damaged one."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from pilewright.pipeline.cli.main import main
from pilewright.pipeline.audit.verify import verify_run
from pilewright.tokenizer.arrow_shards import ShardRow, iter_documents, sha256_hex, shard_bytes, shard_metadata

from test_audit_fixtures import copy_of_sample


@pytest.fixture
def out(tmp_path) -> Path:
    return copy_of_sample(tmp_path / "out")


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _write_manifest(out: Path, m: dict) -> None:
    (out / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")


def _verify_cli(out: Path) -> tuple[int, str, str]:
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = main(["audit", str(out), "--verify"])
    return code, o.getvalue(), e.getvalue()


def test_clean_run_passes(out):
    result = verify_run(str(out))
    m = _manifest(out)
    assert result.ok, result.problems
    assert (result.shards, result.tokens, result.documents) == (m["num_shards"], m["total_tokens"], m["total_docs"])
    code, text, _ = _verify_cli(out)
    assert code == 0 and text.startswith("verify: OK")


def test_one_flipped_byte_in_a_shard_fails(out):
    shard = out / _manifest(out)["shards"][1]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    result = verify_run(str(out))
    assert not result.ok
    assert result.problems[0].startswith(f"{shard.relative_to(out).as_posix()}: sha256")
    code, _, err = _verify_cli(out)
    assert code == 1 and "verify: FAILED: tokens/part-00001" in err and "sha256" in err


def test_a_manifest_with_a_wrong_count_fails(out):
    m = _manifest(out)
    m["shards"][0]["tokens"] += 1
    _write_manifest(out, m)
    result = verify_run(str(out))
    assert not result.ok
    assert result.problems[0] == (f"manifest.json: total_tokens is {m['total_tokens']} but the shards list sums to "
                                  f"{m['total_tokens'] + 1}")
    assert any(p.startswith(m["shards"][0]["path"]) and "manifest says" in p for p in result.problems)


def test_a_missing_shard_fails(out):
    m = _manifest(out)
    (out / m["shards"][-1]["path"]).unlink()
    result = verify_run(str(out))
    assert result.problems == [f"{m['shards'][-1]['path']}: listed in manifest.json but missing"]
    assert _verify_cli(out)[0] == 1


def _rewrite_shard(out: Path, index: int, change) -> str:
    """Rewrites one shard with ``change(tokens)`` applied to its first document, and re-hashes it in the
    manifest, so only the content checks can catch it."""
    m = _manifest(out)
    entry = m["shards"][index]
    path = out / entry["path"]
    meta = shard_metadata(path)
    rows = []
    for i, (doc_id, source, tokens) in enumerate(iter_documents([path])):
        t = np.array(tokens, dtype="<u4")
        if i == 0:
            t = change(t)
        rows.append(ShardRow(doc_id, source, "general", t.astype("<u4").tobytes()))
    data = shard_bytes(rows, int(meta["vocab_size"]), meta["tokenizer_sha256"], int(meta["eos_id"]))
    path.write_bytes(data)
    entry["sha256"], entry["bytes"] = sha256_hex(data), len(data)
    _write_manifest(out, m)
    return rows[0].doc_id


def test_a_document_without_eos_fails(out):
    eos = _manifest(out)["tokenizer"]["eos_id"]
    doc_id = _rewrite_shard(out, 0, lambda t: np.where(np.arange(len(t)) == len(t) - 1, (eos + 1) % 50, t))
    result = verify_run(str(out))
    assert f"document {doc_id!r} does not end with EOS" in result.problems[0]


def test_a_token_id_beyond_the_vocabulary_fails(out):
    vocab = _manifest(out)["tokenizer"]["vocab_size"]
    doc_id = _rewrite_shard(out, 0, lambda t: np.concatenate([[vocab + 5], t]))
    result = verify_run(str(out))
    assert any(f"document {doc_id!r} has token id {vocab + 5} >= vocabulary size {vocab}" in p for p in result.problems)


def test_a_broken_funnel_fails(out):
    audit_path = out / "audit" / "audit.json"
    audit = json.loads(audit_path.read_text())
    entry = next(iter(audit["stages"][0]["by_source"].values()))
    entry["kept"] += 1
    audit_path.write_text(json.dumps(audit))
    problems = verify_run(str(out)).problems
    assert any("kept + rejected + dead letters" in p for p in problems)
    assert any("its sources sum to" in p for p in problems)


def test_side_outputs_must_match_the_audit(out):
    for f in (out / "documents").glob("*.parquet"):
        f.unlink()
    problems = verify_run(str(out)).problems
    assert problems and problems[0].startswith("documents/: 0 curated documents on disk")


def test_the_mix_family_checks_its_own_manifest_block(out):
    # the sample mixes: its totals are the mix's, checked by the mix family's verify_manifest (the audit
    # names no stage), and a block that disagrees with the totals is reported
    m = _manifest(out)
    assert "mix" in m and verify_run(str(out)).ok
    m["mix"]["achieved_tokens"] += 1
    _write_manifest(out, m)
    problems = verify_run(str(out)).problems
    assert any(p.startswith("manifest.json: total_tokens is") and "but the mix achieved" in p for p in problems)
