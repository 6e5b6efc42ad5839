"""Spill files and the tokenizer sample's byte bound: bulk data written once, references read back."""
from __future__ import annotations

from pilewright.transforms.spill import RangeReader, SpillWriter, iter_payloads, remove_work_dir, work_dir
from pilewright.transforms.tokenize.stage import _within_bytes


def test_references_read_back_the_bytes_written(tmp_path):
    w = SpillWriter(str(tmp_path / "area"))
    refs = [w.write(p) for p in (b"alpha", b"", "\u00e9t\u00e9".encode())]
    path = w.close()
    assert {r[0] for r in refs} == {path}
    reader = RangeReader()
    assert [reader.read(*r) for r in reversed(refs)] == ["\u00e9t\u00e9".encode(), b"", b"alpha"]
    reader.close()
    assert list(iter_payloads(path)) == [b"alpha", b"", "\u00e9t\u00e9".encode()]


def test_a_writer_with_nothing_written_creates_no_file(tmp_path):
    assert SpillWriter(str(tmp_path / "none")).close() is None
    assert not (tmp_path / "none").exists()


def test_the_work_folder_is_removed(tmp_path):
    w = SpillWriter(work_dir(str(tmp_path), "x"))
    w.write(b"data")
    w.close()
    remove_work_dir(str(tmp_path))
    assert not (tmp_path / ".work" / "spill").exists()
    remove_work_dir(str(tmp_path))  # quiet when absent


def test_the_tokenizer_sample_stops_before_the_byte_bound_in_key_order():
    sample = [(30, "c", 5), (10, "a", 4), (20, "b", 4), (40, "d", 1)]
    assert _within_bytes(sample, 8) == {"a": 10, "b": 20}
    assert _within_bytes(sample, 100) == {"a": 10, "b": 20, "c": 30, "d": 40}
    # one document over the bound is still a sample: training on nothing would fail later and less clearly
    assert _within_bytes(sample, 1) == {"a": 10}


def test_spilled_documents_come_back_equal_without_pickle():
    import math
    import types

    from pilewright.schemas.records import Document
    from pilewright.transforms.spill import dumps, loads

    doc = Document("a/1", "t\u00ebxt \ud800 \U0001F600", "s", "g", None, "en", -0.0,
                   types.MappingProxyType({"q": 0.1 + 0.2, "n": float("nan")}), None, {"EMAIL": 2}, 5)
    payload = dumps(tuple(doc))
    assert b"\x80" not in payload and not payload.startswith(b"\x80")  # JSON text, not a pickle stream
    back = Document(*loads(payload))
    assert back.text == doc.text and back.quality["q"] == 0.1 + 0.2 and math.isnan(back.quality["n"])
    assert math.copysign(1, back.lang_score) == -1 and back._replace(quality=None) == doc._replace(quality=None)
