"""The pure readers: every bad input becomes a dead letter with file, offset and reason."""
from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pilewright.schemas.records import DeadLetter, Document
from pilewright.transforms.ingest.read import (
    Rejection,
    Repaired,
    SourceSpec,
    glob_root,
    read_file,
    relative_path,
)

JSONL = SourceSpec(name="web", domain="general", format="jsonl")
STRICT = SourceSpec(name="web", domain="general", format="jsonl", invalid_text="dead_letter")


def run(data: bytes, path: str, spec: SourceSpec = JSONL):
    return list(read_file(io.BytesIO(data), path, path.rsplit("/", 1)[-1], spec))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def test_good_lines_become_documents_with_source_prefixed_ids():
    out = run(b'{"id": "a", "text": "hello"}\n{"id": 7, "text": "world"}\n', "d/x.jsonl")
    assert [(d.id, d.text, d.source, d.domain) for d in out] == [
        ("web/a", "hello", "web", "general"),
        ("web/7", "world", "web", "general"),
    ]


def test_missing_id_derives_it_from_file_and_line():
    out = run(b'{"text": "a"}\n\n{"text": "b"}\n', "d/x.jsonl")
    assert [d.id for d in out] == ["web/x.jsonl:1", "web/x.jsonl:3"]


def test_malformed_json_invalid_utf8_and_missing_field_are_dead_letters_with_offsets():
    data = b'{"text": "ok"}\n{"text": broken\n{"text": "\xff\xfe"}\n{"body": "x"}\n{"text": 5}\n[1,2]\n'
    out = run(data, "d/x.jsonl", STRICT)
    assert isinstance(out[0], Document)
    dead = [(d.offset, d.error_type) for d in out if isinstance(d, DeadLetter)]
    assert dead == [
        (2, "invalid_json"),
        (3, "invalid_utf8"),
        (4, "missing_text_field"),
        (5, "text_not_a_string"),
        (6, "not_an_object"),
    ]
    assert all(d.path == "d/x.jsonl" and d.stage == "ingest" for d in out if isinstance(d, DeadLetter))


def test_lone_surrogate_escape_is_a_dead_letter_not_a_crash_downstream():
    out = run(b'{"text": "a\\ud800b"}\n', "x.jsonl", STRICT)
    assert [type(o).__name__ for o in out] == ["DeadLetter"]
    assert out[0].error_type == "invalid_json"


def test_invalid_bytes_and_lone_surrogates_are_repaired_to_the_replacement_character_and_counted():
    data = (b'{"id": 1, "text": "caf\xe9 ok \xef\xbf\xbd kept"}\n'  # one bad byte; a real U+FFFD is not counted
            b'{"id": 2, "text": "a\\ud800b \\ud83d\\ude00 pair"}\n'  # a lone surrogate; a valid pair stays
            b'{"id": 3, "text": "clean"}\n')
    out = run(data, "x.jsonl")
    assert [type(o).__name__ for o in out] == ["Repaired", "Repaired", "Document"]
    assert (out[0].result.text, out[0].chars) == ("caf\ufffd ok \ufffd kept", 1)
    assert (out[1].result.text, out[1].chars) == ("a\ufffdb \U0001F600 pair", 1)
    assert out[1].result.id == "web/2"
    text = run(b"ab\xff\xfecd", "books/b.txt", SourceSpec(name="books", domain="general", format="text"))
    assert isinstance(text[0], Repaired) and text[0].result.text == "ab\ufffd\ufffdcd" and text[0].chars == 2


def test_empty_text_is_rejected_and_empty_file_is_reported():
    out = run(b'{"text": "   "}\n', "x.jsonl")
    assert isinstance(out[0], Rejection) and out[0].reason == "empty_text"
    empty = run(b"", "empty.jsonl")
    assert [(d.error_type, d.path) for d in empty] == [("empty_file", "empty.jsonl")]


def test_truncated_gzip_keeps_complete_lines_and_dead_letters_the_rest():
    lines = b"".join(b'{"text": "line %d %s"}\n' % (i, b"x" * 200) for i in range(2000))
    full = gz(lines)
    out = run(full[: len(full) // 2], "t.jsonl.gz")
    docs = [o for o in out if isinstance(o, Document)]
    dead = [o for o in out if isinstance(o, DeadLetter)]
    assert 0 < len(docs) < 2000
    assert len(dead) == 1 and dead[0].error_type == "truncated_file"
    assert dead[0].offset == len(docs) + 1
    # nothing silently lost: the good docs are exactly the first lines
    assert [d.id for d in docs] == [f"web/t.jsonl.gz:{i}" for i in range(1, len(docs) + 1)]


def test_complete_gzip_and_zstd_read_fully():
    lines = b"".join(b'{"text": "doc %d"}\n' % i for i in range(500))
    assert len(run(gz(lines), "a.jsonl.gz")) == 500
    z = zstandard.ZstdCompressor().compress(lines)
    assert len(run(z, "a.jsonl.zst")) == 500


def test_truncated_zstd_is_reported():
    lines = b"".join(b'{"text": "doc %d %s"}\n' % (i, b"y" * 100) for i in range(3000))
    z = zstandard.ZstdCompressor().compress(lines)
    out = run(z[: len(z) // 2], "a.jsonl.zst")
    assert any(isinstance(o, DeadLetter) and o.error_type == "truncated_file" for o in out)


def test_corrupt_gzip_header_is_a_dead_letter():
    out = run(b"\x1f\x8bnot really gzip", "bad.jsonl.gz")
    assert [o.error_type for o in out] == ["corrupt_file"]
    assert "before compressed byte 4:" in out[0].error  # the bad method byte is at offset 2


def test_text_format_one_document_per_file():
    spec = SourceSpec(name="books", domain="general", format="text")
    out = run("Ünïcode text\nwith lines\n".encode(), "books/a.txt", spec)
    assert [(d.id, d.text) for d in out] == [("books/a.txt", "Ünïcode text\nwith lines\n")]
    bad = run(b"\xff\xfe", "books/b.txt", SourceSpec(name="books", domain="general", format="text",
                                                      invalid_text="dead_letter"))
    assert bad[0].error_type == "invalid_utf8"


def test_parquet_rows_and_missing_column():
    table = pa.table({"id": ["p1", "p2"], "content": ["alpha", "beta"]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    spec = SourceSpec(name="pq", domain="finance", format="parquet", text_field="content")
    out = run(buf.getvalue(), "x.parquet", spec)
    assert [(d.id, d.text, d.domain) for d in out] == [("pq/p1", "alpha", "finance"), ("pq/p2", "beta", "finance")]
    spec_missing = SourceSpec(name="pq", domain="finance", format="parquet", text_field="text")
    assert run(buf.getvalue(), "x.parquet", spec_missing)[0].error_type == "missing_text_field"
    assert run(b"PAR1garbage", "y.parquet", spec)[0].error_type == "corrupt_parquet"


@pytest.mark.parametrize(
    "pattern,path,expected",
    [
        ("data/wiki/*.jsonl.gz", "data/wiki/a.jsonl.gz", "a.jsonl.gz"),
        ("gs://b/c/**/x*.gz", "gs://b/c/d/x1.gz", "d/x1.gz"),
        ("/abs/file.jsonl", "/abs/file.jsonl", "file.jsonl"),
    ],
)
def test_ids_do_not_depend_on_where_the_corpus_lives(pattern, path, expected):
    assert relative_path(path, pattern) == expected
    assert glob_root("no_wildcards.jsonl") == ""


def test_bom_is_stripped_so_the_first_record_survives():
    data = b"\xef\xbb\xbf" + b'{"id": "a", "text": "first"}\n{"id": "b", "text": "second"}\n'
    for path, payload in (("a.jsonl", data), ("a.jsonl.gz", gz(data))):
        out = run(payload, path)
        assert [(d.id, d.text) for d in out] == [("web/a", "first"), ("web/b", "second")]
    spec = SourceSpec(name="books", domain="general", format="text")
    assert [d.text for d in run(b"\xef\xbb\xbfbook", "books/a.txt", spec)] == ["book"]


def test_compression_is_sniffed_from_magic_bytes_not_the_name():
    data = b'{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}\n'
    expected = [("web/a", "one"), ("web/b", "two")]
    # plain text misnamed .gz / .zst, and compressed files without the suffix
    assert [(d.id, d.text) for d in run(data, "plain.jsonl.gz")] == expected
    assert [(d.id, d.text) for d in run(data, "plain.jsonl.zst")] == expected
    assert [(d.id, d.text) for d in run(gz(data), "packed.jsonl")] == expected
    zst = zstandard.ZstdCompressor().compress(data)
    assert [(d.id, d.text) for d in run(zst, "packed.jsonl")] == expected


def test_a_file_shorter_than_the_magic_is_still_read():
    assert [(d.id, d.text) for d in run(b'{"text":"x"}', "tiny.jsonl")] == [("web/tiny.jsonl:1", "x")]
    spec = SourceSpec(name="books", domain="general", format="text")
    assert [d.text for d in run(b"ab", "books/a.txt", spec)] == ["ab"]
    assert [o.error_type for o in run(b"", "empty.jsonl.gz")] == ["empty_file"]


def test_corrupt_gzip_mid_stream_keeps_records_before_the_damage():
    lines = b"".join(b'{"id": "%d", "text": "record %d"}\n' % (i, i) for i in range(5000))
    packed = bytearray(gz(lines))
    cut = len(packed) * 3 // 4
    packed[cut:cut + 64] = b"\x00" * 64
    out = run(bytes(packed), "damaged.jsonl.gz")
    docs = [o for o in out if isinstance(o, Document)]
    dead = [o for o in out if isinstance(o, DeadLetter)]
    assert len(docs) > 0 and [d.text for d in docs] == [f"record {i}" for i in range(len(docs))]
    assert [d.error_type for d in dead] == ["corrupt_file"] and "compressed byte" in dead[0].error
