"""OUT/signals and the signals rejected records carry (issue 28): flattening, transport, redaction, files."""
from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.pipeline.job.fingerprint import inputs_section
from pilewright.pipeline.job.outputs import rejected_row as rejected_parquet_row
from pilewright.pipeline.job.signals import WriteSignals
from pilewright.schemas.arrow import REJECTED_SCHEMA, SIGNALS_SCHEMA
from pilewright.schemas.config import RunConfig
from pilewright.schemas.records import Document, RejectedDocument, SignalRow
from pilewright.transforms.signals import NOTE_CHARS, document_signals, kept_row, rejected_row
from pilewright.transforms.stage import reject

DOC = Document(id="s/1", text="hello world", source="s", domain="general", lang="en", lang_score=0.9,
               quality={"gopher_quality:word_count": 2.0}, dup_cluster="s/0", pii_counts={"EMAIL_ADDRESS": 1},
               n_tokens=4)


def test_a_documents_annotations_become_named_numbers_and_evidence():
    numbers, notes = document_signals(DOC)
    assert numbers == {"gopher_quality:word_count": 2.0, "langid:score": 0.9, "pii:EMAIL_ADDRESS": 1.0}
    assert notes == {"dedup:cluster": "s/0", "langid:lang": "en"}
    bare = Document(id="x", text="t", source="s", domain="d")
    assert document_signals(bare) == (None, None)


def test_reject_records_the_signals_and_the_stages_short_evidence():
    rec = reject(DOC, "decontaminate", "decontaminate:mmlu", notes={"decontaminate:ngram": "w " * 500},
                 signals={"x:y": 3})
    assert rec.signals["gopher_quality:word_count"] == 2.0 and rec.signals["x:y"] == 3.0
    assert rec.notes["langid:lang"] == "en"
    assert len(rec.notes["decontaminate:ngram"]) == NOTE_CHARS and rec.notes["decontaminate:ngram"].endswith("…")
    row = rejected_row(rec)
    assert (row.fate, row.stage, row.reason, row.n_chars) == ("rejected", "decontaminate", "decontaminate:mmlu", 11)
    assert kept_row(DOC).fate == "kept" and kept_row(DOC).n_tokens == 4


def test_rejected_records_round_trip_through_their_parquet_row_and_the_phases_files():
    """OUT/rejected keeps the maps, and so do the per-unit files the phases carry records in."""
    import pyarrow as pa

    from pilewright.transforms.spill import dumps, loads

    rec = reject(DOC, "quality", "gopher_quality:too_few_words")
    row = pa.Table.from_pylist([rejected_parquet_row(rec)], schema=REJECTED_SCHEMA).to_pylist()[0]
    row["signals"], row["notes"] = dict(row["signals"]), dict(row["notes"])
    assert RejectedDocument(**row) == rec
    assert RejectedDocument(*loads(dumps(rec))) == rec


def test_write_signals_writes_one_row_per_curation_decision(tmp_path):
    kept = [DOC]
    rejected = [reject(DOC._replace(id="s/2"), "quality", "gopher_quality:too_few_words"),
                RejectedDocument("s/1", "s", "general", "mix", "subsampled", "", 0)]
    with TestPipeline() as p:
        k = p | "K" >> beam.Create(kept)
        r = p | "R" >> beam.Create(rejected).with_output_types(RejectedDocument)
        (k, r) | WriteSignals(str(tmp_path))
    table = pq.read_table(tmp_path / "signals")
    assert table.schema.names == SIGNALS_SCHEMA.names == list(SignalRow._fields)
    rows = {r["id"]: r for r in table.to_pylist()}
    # the mix's cut is a sampling decision kept in OUT/rejected: one row per id here
    assert sorted(rows) == ["s/1", "s/2"]
    assert rows["s/1"]["fate"] == "kept" and dict(rows["s/1"]["signals"])["langid:score"] == 0.9
    assert rows["s/2"]["reason"] == "gopher_quality:too_few_words"


def test_the_input_fingerprint_follows_content_not_place_or_time(tmp_path):
    def config(folder: Path) -> RunConfig:
        return RunConfig.model_validate({"sources": [{"name": "s", "paths": [str(folder / "*.jsonl")],
                                                      "format": "jsonl"}]})

    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "x.jsonl").write_text(json.dumps({"id": 1, "text": "same"}) + "\n")
    fa, fb = inputs_section(config(a)), inputs_section(config(b))
    assert fa == fb and fa["sources"]["s"]["files"] == 1
    (b / "x.jsonl").write_text(json.dumps({"id": 1, "text": "diff"}) + "\n")  # same size, other content
    assert inputs_section(config(b))["sha256"] != fa["sha256"]


def test_pii_redacts_the_evidence_notes_of_rejected_records():
    from pilewright.schemas.stages.pii import PIIConfig
    from pilewright.transforms.pii.stage import RedactRecords

    email = "maria.lopez@finmail.example.com"
    rec = reject(DOC._replace(text=f"write to {email}"), "url_filter", "url:blocked_domain",
                 notes={"url_filter:url": f"https://x.example.com/?contact={email}"})
    with TestPipeline() as p:
        out = p | beam.Create([rec]).with_output_types(RejectedDocument) | RedactRecords(PIIConfig())
        assert_that(out | beam.Map(lambda r: (email in json.dumps(dict(r.notes)), "EMAIL_ADDRESS" in
                                              dict(r.notes)["url_filter:url"], email in r.snippet)),
                    equal_to([(False, True, False)]))


def test_signals_switch_changes_no_shard_and_explain_rebuilds_the_same_rows_without_the_table(tmp_path):
    import shutil

    import yaml

    from conftest import sample_texts
    from pilewright.pipeline.audit.runfiles import Run
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in sample_texts(10)))
    outs = {}
    for signals in (True, False):
        cfg = tmp_path / f"c-{signals}.yaml"
        cfg.write_text(yaml.safe_dump({
            "run": {"signals": signals}, "sources": [{"name": "s", "paths": [str(data)], "format": "jsonl"}],
            "stages": {"langid": {}, "quality": {}}, "tokenizer": {"train": {"vocab_size": 400}}}))
        outs[signals] = Path(run_job(load_config(str(cfg)), [], str(tmp_path / f"out-{signals}")).out_dir)
    on, off = outs[True], outs[False]
    assert (on / "signals").is_dir() and not (off / "signals").exists()
    m_on, m_off = (json.loads((o / "manifest.json").read_text()) for o in (on, off))
    assert [s["sha256"] for s in m_on["shards"]] == [s["sha256"] for s in m_off["shards"]]
    table = Run(str(on)).rows
    assert {r.fate for r in table.values()} == {"kept", "rejected"}
    assert Run(str(off)).rows == table
    bare = tmp_path / "bare"
    shutil.copytree(on, bare)
    shutil.rmtree(bare / "signals")
    assert Run(str(bare)).rows == table
