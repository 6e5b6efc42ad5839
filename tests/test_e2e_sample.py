"""End to end on the embedded sample: totals, lossless rows, accounting, byte-identical reruns."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config
from pilewright.tokenizer.spm import Encoder
from pilewright.tokenizer.arrow_shards import iter_documents, shard_metadata, shard_paths


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    result = run_job(load_config(None), [], str(out))
    return Path(result.out_dir), result


def test_shard_tokens_sum_to_the_manifest_total(sample_run):
    out, result = sample_run
    manifest = json.loads((out / "manifest.json").read_text())
    rows = list(iter_documents(shard_paths(out)))
    assert sum(len(t) for _i, _s, t in rows) == manifest["total_tokens"] > 0
    assert sum(s["tokens"] for s in manifest["shards"]) == manifest["total_tokens"]
    assert len(rows) == manifest["total_docs"]
    assert sorted(p.name for p in (out / "tokens").glob("*.arrow")) == [Path(s["path"]).name for s in manifest["shards"]]


def test_every_row_decodes_to_its_curated_document(sample_run):
    out, _ = sample_run
    encoder = Encoder((out / "tokenizer" / "tokenizer.model").read_bytes())
    texts = {}
    for f in (out / "documents").glob("*.parquet"):
        for r in pq.read_table(f, columns=["id", "text", "n_tokens"]).to_pylist():
            texts[r["id"]] = (r["text"], r["n_tokens"])
    subsampled = set()
    for f in (out / "rejected").glob("*.parquet"):
        t = pq.read_table(f, columns=["id", "stage"]).to_pylist()
        subsampled |= {r["id"] for r in t if r["stage"] == "mix"}
    rows = list(iter_documents(shard_paths(out)))
    # the sample mixes to a token budget: every curated document the mix drew reaches the shards, the
    # ones it left out do not, and finance documents repeat
    assert subsampled and subsampled <= set(texts)
    assert {i for i, _s, _t in rows} == set(texts) - subsampled
    assert len(rows) > len(set(texts) - subsampled)
    for doc_id, _source, tokens in rows:
        assert tokens[-1] == encoder.eos_id
        assert encoder.decode(tokens[:-1]) == texts[doc_id][0]
        assert len(tokens) == texts[doc_id][1]
        assert int(tokens.max()) < encoder.vocab_size
    meta = shard_metadata(shard_paths(out)[0])
    assert meta["eos_id"] == str(encoder.eos_id) and int(meta["vocab_size"]) == encoder.vocab_size


def test_every_input_record_is_accounted_for(sample_run):
    out, _ = sample_run
    audit = json.loads((out / "audit" / "audit.json").read_text())
    stages = audit["stages"]
    assert stages[0]["name"] == "ingest"
    for st in stages:
        assert st["conserved"], st["name"]
        assert st["in"] == st["kept"] + st["rejected"] + st["errors"]
    lines = 0
    import gzip

    for f in (Path(__file__).resolve().parents[1] / "pipeline" / "sample").glob("*.jsonl.gz"):
        with gzip.open(f, "rb") as g:
            lines += sum(1 for line in g if line.strip())
    assert stages[0]["in"] == lines
    manifest = json.loads((out / "manifest.json").read_text())
    # documents leave the last curation stage into the tokenizer; all of them reach the shards
    tokenize = next(s for s in stages if s["name"] == "tokenize")
    mix = next(s for s in stages if s["name"] == "mix")
    assert mix["in"] == tokenize["kept"]
    # every copy the mix drew is a shard row; the target is met to within one document
    assert mix["kept"] <= manifest["total_docs"]
    assert abs(manifest["total_tokens"] - manifest["mix"]["target_tokens"]) < 20_000


def test_same_config_twice_gives_byte_identical_shards_and_manifest(sample_run, tmp_path):
    out, _ = sample_run
    again = Path(run_job(load_config(None), [], str(tmp_path / "again")).out_dir)
    assert (again / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()
    first = sorted((out / "tokens").glob("*.arrow"))
    second = sorted((again / "tokens").glob("*.arrow"))
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    assert (again / "tokenizer" / "tokenizer.model").read_bytes() == (out / "tokenizer" / "tokenizer.model").read_bytes()


def test_shards_hold_near_equal_token_counts(sample_run):
    out, _ = sample_run
    manifest = json.loads((out / "manifest.json").read_text())
    counts = [s["tokens"] for s in manifest["shards"]]
    if len(counts) > 1:
        mean = sum(counts) / len(counts)
        # placement is at document granularity: no shard is off by more than a few documents' worth
        assert max(abs(c - mean) for c in counts) < 0.35 * mean


GOLDEN = Path(__file__).parent / "golden" / "sample_outputs.json"
GOLDEN_OUTPUTS = ("manifest.json", "tokens", "tokenizer", "documents", "rejected", "dead_letter", "signals")


def output_digests(out: Path) -> dict[str, str]:
    import hashlib

    digests = {}
    for name in GOLDEN_OUTPUTS:
        paths = [out / name] if (out / name).is_file() else sorted((out / name).iterdir())
        for path in paths:
            digests[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def test_sample_outputs_are_byte_identical_to_the_recorded_run(sample_run):
    """Refactors must not change what the sample run writes. A change that is meant to (a new default, a
    fixed bug) updates tests/golden/sample_outputs.json with the digests this test prints, and says why in
    the commit."""
    out, _ = sample_run
    got = output_digests(out)
    want = json.loads(GOLDEN.read_text())
    assert got == want, "sample outputs changed; new digests:\n" + json.dumps(got, indent=2, sort_keys=True)
