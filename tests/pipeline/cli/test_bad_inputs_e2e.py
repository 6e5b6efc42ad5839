"""A corpus of broken files completes, and every bad record is a dead letter with its reason."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config

from conftest import sample_texts


def test_broken_corpus_completes_with_every_bad_record_in_dead_letter(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = sample_texts(12)
    lines = [json.dumps({"id": r["id"], "text": r["text"]}).encode() for r in good]
    (data / "good.jsonl").write_bytes(b"\n".join(lines[:6]) + b"\n")
    (data / "mixed.jsonl").write_bytes(
        b"\n".join([lines[6], b'{"id": "m1", "text": unquoted}', b'{"id": "m2", "text": "\xff\xfe bad"}', lines[7], b'{"id": "m3"}']) + b"\n"
    )
    (data / "empty.jsonl").write_bytes(b"")
    full = gzip.compress(b"\n".join(lines[8:] * 300) + b"\n", mtime=0)
    (data / "cut.jsonl.gz").write_bytes(full[: len(full) * 2 // 3])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "sources: [{name: web, paths: ['data/*.jsonl*'], format: jsonl, id_field: null}]\n"
        "tokenizer: {train: {vocab_size: 600}}\nshards: {num_shards: 2}\n"
    )
    result = run_job(load_config(str(cfg)), [], str(tmp_path / "out"))
    out = Path(result.out_dir)
    dead = [json.loads(line) for f in (out / "dead_letter").glob("*.jsonl") for line in f.read_text().splitlines()]
    by_type = {}
    for d in dead:
        by_type.setdefault(d["error_type"], []).append(d)
    # the invalid bytes of line 3 are repaired to U+FFFD (policy.invalid_text: repair), not dead-lettered
    assert set(by_type) == {"invalid_json", "missing_text_field", "empty_file", "truncated_file"}
    assert by_type["invalid_json"][0]["path"].endswith("mixed.jsonl") and by_type["invalid_json"][0]["offset"] == 2
    assert result.audit["stages"][0]["stats"]["repaired_text"] == {
        "records": 1, "characters": 2, "by_source": {"web": {"records": 1, "characters": 2}}}
    assert by_type["missing_text_field"][0]["offset"] == 5
    assert by_type["empty_file"][0]["path"].endswith("empty.jsonl")
    assert by_type["truncated_file"][0]["path"].endswith("cut.jsonl.gz")
    ingest = result.audit["stages"][0]
    assert ingest["errors"] == len(dead) == 4
    assert ingest["in"] == ingest["kept"] + ingest["errors"]
    assert result.manifest["total_docs"] == ingest["kept"] > 6
