"""Pure readers behind the ingest stage: bytes of one file -> Documents, rejections and dead letters.

Nothing here imports Beam's pipeline machinery, so every failure mode (bad JSON, invalid UTF-8, a truncated
compressed file) is unit-testable on in-memory bytes. Decompression is done here rather than by Beam's
``CompressedFile`` because Beam returns a truncated ``.gz`` without an error; these readers report it.
"""
from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional, Union

import orjson

from pilewright.schemas.errors import UserError
from pilewright.schemas.records import ERROR_CHARS, PAYLOAD_PREFIX_CHARS, DeadLetter, Document, payload_prefix

STAGE = "ingest"
CHUNK_BYTES = 1 << 20
# Compressed input is fed in small pieces so that the records before a corrupt spot are decoded
# (and yielded) before the decoder fails, and the dead letter can bound where the damage is.
FEED_BYTES = 1 << 14


@dataclass(frozen=True)
class SourceSpec:
    """What a reader needs to know about the source a file belongs to."""

    name: str
    domain: str
    format: str
    text_field: str = "text"
    id_field: Optional[str] = "id"
    url_field: Optional[str] = None
    # `repair`: invalid UTF-8 and lone surrogates become U+FFFD (counted); `dead_letter`: the record is refused
    invalid_text: str = "repair"
    # jsonl/text: a Python codec name, or `auto` (detected per file, ``detect_encoding``)
    encoding: str = "utf-8"
    # a file whose repaired characters pass this share of its characters fails the run (RepairedTextError)
    max_repaired_share: float = 1.0


@dataclass(frozen=True)
class Rejection:
    """A record that parsed but holds nothing to train on (e.g. empty text)."""

    doc: Document
    reason: str


@dataclass(frozen=True)
class Skip:
    """A record that is by design not a document (a WARC request, warcinfo, an image): counted, not kept."""

    reason: str


@dataclass(frozen=True)
class Repaired:
    """What a record with invalid text became after repair, and how many characters were replaced."""

    result: "ReadResult"
    chars: int


ReadResult = Union[Document, Rejection, DeadLetter, Skip, Repaired]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_bytes(data: bytes) -> tuple[str, int]:
    """UTF-8 text with every invalid byte sequence replaced by U+FFFD, and how many were replaced.

    Python's ``errors="replace"`` rule: one U+FFFD per maximal invalid subsequence (the Unicode standard's
    "substitution of maximal subparts"), so valid text around the damage is never touched.
    """
    text = data.decode("utf-8", "replace")
    # only the replacements the decoder made: U+FFFD already in the data is not counted
    return text, text.count(REPLACEMENT) - data.count(REPLACEMENT.encode("utf-8"))


def _repair_value(value, counter: list):
    if isinstance(value, str):
        fixed, n = _SURROGATE.subn(REPLACEMENT, value)
        counter[0] += n
        return fixed
    if isinstance(value, dict):
        return {_repair_value(k, counter): _repair_value(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair_value(v, counter) for v in value]
    return value


def loads_repairing_surrogates(text: str) -> tuple[object, int]:
    """A JSON document whose lone surrogate escapes (``"\\ud800"``, which orjson refuses) become U+FFFD."""
    import json

    counter = [0]
    return _repair_value(json.loads(text), counter), counter[0]


class RepairedTextError(UserError):
    """A file whose text needed too many U+FFFD repairs: most likely the wrong ``encoding`` for its source."""


def check_repaired_share(spec: SourceSpec, path: str, encoding: str, repaired: int, chars: int) -> None:
    """Raises ``RepairedTextError`` naming the file when its repaired share passes the source's limit."""
    if repaired and chars and repaired / chars > spec.max_repaired_share:
        raise RepairedTextError(
            f"source {spec.name!r}: {path}: {repaired:,} of {chars:,} characters ({repaired / chars:.1%}) were not "
            f"valid {encoding} and became U+FFFD, over policy.max_repaired_share {spec.max_repaired_share:g}; set "
            f"the source's `encoding:` (e.g. cp1252, latin-1, or auto)"
        )


# bytes of a file's (decompressed) start that `encoding: auto` detects its charset from
DETECT_BYTES = 1 << 20
NEAR_CHAOS = 0.15


def detect_encoding(head: bytes) -> str:
    """The charset of a file from its first bytes: ``utf-8`` when they are valid UTF-8 (a multi-byte
    character cut at the end allowed), else charset-normalizer's best guess (``utf-8`` when it has none).

    On a short sample of Western text several single-byte code pages fit about as well (cp1257 and cp1252
    for French); cp1252, by far the most common of them in the wild, wins among those within
    ``NEAR_CHAOS`` of the best.
    """
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3 and e.reason == "unexpected end of data":
            return "utf-8"
    from charset_normalizer import from_bytes

    results = list(from_bytes(head))
    if not results:
        return "utf-8"
    best = results[0]
    for r in results:
        if r.encoding == "cp1252" and r.chaos <= best.chaos + NEAR_CHAOS:
            return "cp1252"
    return best.encoding


def _with_encoding(chunks: Iterator[bytes], spec: SourceSpec) -> tuple[str, Iterator[bytes]]:
    """(the encoding to decode this file with, the same chunks): ``auto`` looks at the first DETECT_BYTES."""
    if spec.encoding != "auto":
        return spec.encoding, chunks
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= DETECT_BYTES:
            break
    data = b"".join(head)

    def again() -> Iterator[bytes]:
        if data:
            yield data
        yield from chunks

    return detect_encoding(data[:DETECT_BYTES]), again()


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def repair_decode(data: bytes, encoding: str) -> tuple[str, int]:
    """``repair_bytes`` for any codec: undecodable bytes become U+FFFD, and how many were replaced."""
    if _is_utf8(encoding):
        return repair_bytes(data)
    text = data.decode(encoding, "replace")
    return text, text.count(REPLACEMENT) - data.decode(encoding, "ignore").count(REPLACEMENT)


class TruncatedInput(Exception):
    """The compressed stream ended early or is corrupt."""


class CorruptInput(TruncatedInput):
    """The compressed stream holds bytes the decoder refuses (not merely a missing end)."""


def _damage_kind(e: TruncatedInput) -> str:
    return "corrupt_file" if isinstance(e, CorruptInput) else "truncated_file"


def compression_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".gz") or lower.endswith(".gzip"):
        return "gzip"
    if lower.endswith(".zst") or lower.endswith(".zstd"):
        return "zstd"
    return "none"


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
UTF8_BOM = b"\xef\xbb\xbf"


class _Prefixed:
    """A reader that returns ``head`` before the rest of ``raw``: sniffing must not need ``seek``."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._raw.read(n)


def sniffed(raw: BinaryIO, path: str) -> tuple[str, BinaryIO]:
    """The compression read from the file's first bytes; the name only decides an empty file.

    A ``.gz`` that is plain text is read as plain text, and a compressed file without the suffix is
    decompressed, so a misnamed file is not mistaken for a corrupt one.
    """
    head = raw.read(4)
    if head.startswith(GZIP_MAGIC):
        compression = "gzip"
    elif head.startswith(ZSTD_MAGIC):
        compression = "zstd"
    elif head:
        compression = "none"
    else:
        compression = compression_of(path)
    return compression, _Prefixed(head, raw)


def without_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Drops a UTF-8 BOM at the start of the decompressed stream (it would make the first line bad JSON)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(UTF8_BOM):
            break
    else:
        if head:
            yield head[len(UTF8_BOM):] if head.startswith(UTF8_BOM) else head
        return
    yield head[len(UTF8_BOM):] if head.startswith(UTF8_BOM) else head
    yield from chunks


def file_chunks(raw: BinaryIO, path: str) -> Iterator[bytes]:
    compression, reader = sniffed(raw, path)
    return without_bom(decompressed_chunks(reader, compression))


def _gzip_chunks(raw: BinaryIO) -> Iterator[bytes]:
    # Decoded with zlib directly so every byte before a truncation is yielded; Beam's reader (and a
    # large GzipFile.read) can lose or silently drop the tail.
    dobj = zlib.decompressobj(wbits=31)
    pending_member = False
    consumed = 0
    try:
        while True:
            data = raw.read(FEED_BYTES)
            if not data:
                break
            consumed += len(data)
            while data:
                pending_member = True
                out = dobj.decompress(data)
                if out:
                    yield out
                data = b""
                if dobj.eof:
                    pending_member = False
                    # concatenated gzip members (e.g. from `cat a.gz b.gz`)
                    data = dobj.unused_data
                    dobj = zlib.decompressobj(wbits=31)
        tail = dobj.flush()
        if tail:
            yield tail
    except zlib.error as e:
        # zlib does not say where it failed; the damage lies within the last chunk read
        raise CorruptInput(f"gzip stream is corrupt before compressed byte {consumed}: {e}") from e
    if pending_member and not dobj.eof:
        raise TruncatedInput("gzip stream is truncated: the file ends before the end of its last member")


def _zstd_chunks(raw: BinaryIO) -> Iterator[bytes]:
    import zstandard

    # zstandard's stream_reader returns a truncated frame silently, so frames are decoded with
    # decompressobj and checked for a proper end.
    dctx = zstandard.ZstdDecompressor()
    dobj = dctx.decompressobj()
    seen_input = False
    consumed = 0
    try:
        while True:
            data = raw.read(FEED_BYTES)
            if not data:
                break
            consumed += len(data)
            seen_input = True
            while data:
                out = dobj.decompress(data)
                if out:
                    yield out
                data = b""
                if dobj.eof:
                    data = dobj.unused_data
                    dobj = dctx.decompressobj()
                    if not data:
                        seen_input = False
            if dobj.eof:
                seen_input = False
    except zstandard.ZstdError as e:
        raise CorruptInput(f"zstd stream is corrupt before compressed byte {consumed}: {e}") from e
    if seen_input and not dobj.eof:
        raise TruncatedInput("zstd stream is truncated: the last frame has no end")


def _plain_chunks(raw: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = raw.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def decompressed_chunks(raw: BinaryIO, compression: str) -> Iterator[bytes]:
    if compression == "gzip":
        return _gzip_chunks(raw)
    if compression == "zstd":
        return _zstd_chunks(raw)
    return _plain_chunks(raw)


def iter_lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without newline). A final line without newline is still yielded.

    On truncation, raises ``TruncatedInput`` whose ``partial`` attribute holds the incomplete tail and
    ``line`` its line number, so the caller can dead-letter it instead of losing it.
    """
    line_no = 0
    rest = b""
    try:
        for chunk in chunks:
            buf = rest + chunk if rest else chunk
            lines = buf.split(b"\n")
            rest = lines.pop()
            for line in lines:
                line_no += 1
                yield line_no, line
    except TruncatedInput as e:
        e.partial = rest  # type: ignore[attr-defined]
        e.line = line_no + 1  # type: ignore[attr-defined]
        raise
    if rest:
        line_no += 1
        yield line_no, rest


def file_size(raw: BinaryIO) -> Optional[int]:
    """The size of an open file, without moving its position; None when it cannot seek."""
    try:
        pos = raw.tell()
        end = raw.seek(0, io.SEEK_END)
        raw.seek(pos)
        return int(end)
    except Exception:  # not seekable: the loss is then counted in records only
        return None


class _CountingReader:
    """Counts the bytes read from a file, so a reader knows how far into the (compressed) file it was."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        return data


def lost_after_damage(size: Optional[int], read_at_last_good: int, good: int, bad_since: int
                      ) -> tuple[int, Optional[int]]:
    """(records, bytes) a damaged file lost past its last good record.

    Bytes: the file's bytes after the point its last good record had been read to (within one decoder
    feed). Records: as many as those bytes held at the rate of the good records before them, less the
    ones already dead-lettered one by one since (garbage a decoder produced before failing), at least 1.
    """
    if size is None:
        return 1, None
    left = max(0, size - read_at_last_good)
    if not good or not read_at_last_good:
        return 1, left
    estimate = int(round(left * good / read_at_last_good))
    return max(1, estimate - bad_since), left


def unreadable_file(spec: SourceSpec, path: str, error: BaseException) -> DeadLetter:
    """The dead letter of a file that cannot be opened: all of its bytes are lost (its size, when it can
    be listed), and at least one record."""
    size = None
    try:
        from apache_beam.io.filesystems import FileSystems

        matched = FileSystems.match([path], limits=[1])[0].metadata_list
        size = matched[0].size_in_bytes if matched else None
    except Exception:  # the size is a courtesy: the dead letter stands without it
        size = None
    return dead_letter(spec, path, None, "unreadable_file", repr(error), lost_records=1, lost_bytes=size)


def lost_input_section(rows: list) -> tuple[str, str]:
    """The ingest audit section ``lost_input``: per source, the dead letters, the records they stand for
    (``DeadLetter.lost_records``, 1 for one bad record) and the input bytes lost, from
    (source, (dead letters, records, bytes)) sums."""
    import json

    by_source = {s: {"dead_letters": n, "records": r, "bytes": b} for s, (n, r, b) in sorted(rows)}
    return "lost_input", json.dumps({
        "dead_letters": sum(v["dead_letters"] for v in by_source.values()),
        "records": sum(v["records"] for v in by_source.values()),
        "bytes": sum(v["bytes"] for v in by_source.values()),
        "by_source": by_source,
    }, sort_keys=True)


def lost_row(d: DeadLetter) -> tuple[str, tuple[int, int, int]]:
    """(source, (1, records lost, bytes lost)) of one dead letter, for ``lost_input_section``."""
    records = d.lost_records if d.lost_records is not None else 1
    return d.source, (1, records, d.lost_bytes or 0)


def dead_letter(
    spec: SourceSpec, path: str, offset: Optional[int], error_type: str, error: str, payload: bytes | str = b"",
    lost_records: Optional[int] = None, lost_bytes: Optional[int] = None,
) -> DeadLetter:
    if isinstance(payload, bytes):
        payload = payload[: PAYLOAD_PREFIX_CHARS * 4].decode("utf-8", "backslashreplace")
    return DeadLetter(
        stage=STAGE,
        source=spec.name,
        path=path,
        offset=offset,
        doc_id=None,
        error_type=error_type,
        error=error[:ERROR_CHARS],
        payload_prefix=payload_prefix(payload),
        lost_records=lost_records,
        lost_bytes=lost_bytes,
    )


def _make_document(
    spec: SourceSpec, record: object, fallback_id: str, path: str, offset: int, raw: bytes | str
) -> ReadResult:
    """Type-checks a parsed record before a Document exists (RowCoder would fail outside the DoFn)."""
    if not isinstance(record, dict):
        return dead_letter(spec, path, offset, "not_an_object", "record is not a JSON object", raw)
    text = record.get(spec.text_field)
    if text is None:
        return dead_letter(
            spec, path, offset, "missing_text_field", f"no field {spec.text_field!r} (sources.text_field)", raw
        )
    if not isinstance(text, str):
        return dead_letter(
            spec, path, offset, "text_not_a_string", f"field {spec.text_field!r} is {type(text).__name__}", raw
        )
    raw_id = record.get(spec.id_field) if spec.id_field else None
    if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id) != "":
        doc_id = f"{spec.name}/{raw_id}"
    else:
        doc_id = f"{spec.name}/{fallback_id}"
    url = record.get(spec.url_field) if spec.url_field else None
    doc = Document(
        id=doc_id,
        text=text,
        source=spec.name,
        domain=spec.domain,
        url=url if isinstance(url, str) else None,
    )
    if not text.strip():
        return Rejection(doc, "empty_text")
    return doc


def read_jsonl(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[ReadResult]:
    """One JSON object per line, in the source's ``encoding``; ids default to ``<rel_path>:<line>``."""
    size = file_size(raw)
    counted = _CountingReader(raw)
    encoding, chunks = _with_encoding(file_chunks(counted, path), spec)
    total_chars = total_repaired = 0
    good = bad_since = read_at_good = 0  # for the loss estimate of a file that stops early
    try:
        for line_no, line in iter_lines(chunks):
            if not line.strip():
                continue
            repaired = 0
            try:
                decoded = line.decode(encoding)
            except UnicodeDecodeError as e:
                if spec.invalid_text != "repair":
                    kind = "invalid_utf8" if _is_utf8(encoding) else "invalid_text"
                    bad_since += 1
                    yield dead_letter(spec, path, line_no, kind, f"{encoding}: {e}", line)
                    continue
                decoded, repaired = repair_decode(line, encoding)
            total_chars += len(decoded)
            try:
                # orjson also refuses lone surrogates, which could not be encoded downstream
                record = orjson.loads(decoded)
            except orjson.JSONDecodeError as e:
                record = None
                if spec.invalid_text == "repair" and "surrogate" in str(e):
                    try:
                        record, n = loads_repairing_surrogates(decoded)
                        repaired += n
                    except ValueError:
                        record = None
                if record is None:
                    bad_since += 1
                    yield dead_letter(spec, path, line_no, "invalid_json", str(e), line)
                    continue
            total_repaired += repaired
            result = _make_document(spec, record, f"{rel_path}:{line_no}", path, line_no, line)
            if isinstance(result, DeadLetter):
                bad_since += 1
            else:
                good, bad_since, read_at_good = good + 1, 0, counted.count
            yield Repaired(result, repaired) if repaired else result
    except TruncatedInput as e:
        partial = getattr(e, "partial", b"")
        line = getattr(e, "line", None)
        # past the last good record: the bytes left and the records they held at the rate before them (a
        # truncated file's missing tail is not on disk: only what is left of it counts)
        records, left = lost_after_damage(size, read_at_good, good, bad_since)
        yield dead_letter(spec, path, line, _damage_kind(e), str(e), partial, lost_records=records, lost_bytes=left)
    check_repaired_share(spec, path, encoding, total_repaired, total_chars)


def read_text(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[ReadResult]:
    """The whole file is one document, in the source's ``encoding``; its id is ``<rel_path>``."""
    size = file_size(raw)
    try:
        data = b"".join(file_chunks(raw, path))
    except TruncatedInput as e:
        yield dead_letter(spec, path, 0, _damage_kind(e), str(e), lost_records=1, lost_bytes=size)
        return
    encoding = detect_encoding(data[:DETECT_BYTES]) if spec.encoding == "auto" else spec.encoding
    repaired = 0
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        if spec.invalid_text != "repair":
            kind = "invalid_utf8" if _is_utf8(encoding) else "invalid_text"
            yield dead_letter(spec, path, 0, kind, f"{encoding}: {e}", data)
            return
        text, repaired = repair_decode(data, encoding)
    check_repaired_share(spec, path, encoding, repaired, len(text))
    doc = Document(id=f"{spec.name}/{rel_path}", text=text, source=spec.name, domain=spec.domain)
    result = doc if text.strip() else Rejection(doc, "empty_text")
    yield Repaired(result, repaired) if repaired else result


def read_parquet(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[ReadResult]:
    """Row groups are streamed; ids default to ``<rel_path>:<row>``."""
    import pyarrow.parquet as pq

    row = 0
    size = file_size(raw)
    pf = None
    try:
        pf = pq.ParquetFile(io.BytesIO(raw.read()) if not hasattr(raw, "seek") else raw)
        names = set(pf.schema_arrow.names)
        if spec.text_field not in names:
            yield dead_letter(
                spec, path, None, "missing_text_field",
                f"no column {spec.text_field!r} (sources.text_field); columns: {sorted(names)[:20]}",
            )
            return
        columns = [c for c in (spec.text_field, spec.id_field, spec.url_field) if c and c in names]
        for batch in pf.iter_batches(batch_size=4096, columns=columns):
            for record in batch.to_pylist():
                row += 1
                yield _make_document(spec, record, f"{rel_path}:{row}", path, row, repr(record)[:PAYLOAD_PREFIX_CHARS])
    except Exception as e:  # pyarrow raises several types for a corrupt or truncated file
        # the footer says how many rows the file holds; without a footer the whole file is lost
        records = max(1, pf.metadata.num_rows - row) if pf is not None else 1
        lost = None if pf is not None else size
        yield dead_letter(spec, path, row + 1, "corrupt_parquet", f"{type(e).__name__}: {e}", lost_records=records,
                          lost_bytes=lost)


READERS = {"jsonl": read_jsonl, "text": read_text, "parquet": read_parquet}


def read_file(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[ReadResult]:
    """Everything one file holds, as Documents, Rejections and DeadLetters, in file order.

    An empty file yields one dead letter (``empty_file``) so that a file that holds nothing is visible
    in the audit rather than silently contributing zero records.
    """
    any_result = False
    reader = READERS.get(spec.format)
    if reader is None and spec.format in ("warc", "wet"):
        # imported on use: the web readers pull in FastWARC, which jsonl-only runs do not need
        from pilewright.transforms.ingest import warc as ingest_warc

        reader = ingest_warc.read_warc if spec.format == "warc" else ingest_warc.read_wet
    for result in reader(raw, path, rel_path, spec):
        any_result = True
        yield result
    if not any_result:
        yield dead_letter(spec, path, None, "empty_file", "the file holds no records")


def glob_root(pattern: str) -> str:
    """The directory part of a glob before its first wildcard, used to make ids path-independent."""
    cut = len(pattern)
    for ch in "*?[{":
        i = pattern.find(ch)
        if i != -1:
            cut = min(cut, i)
    prefix = pattern[:cut]
    slash = prefix.rfind("/")
    return prefix[: slash + 1] if slash != -1 else ""


def relative_path(path: str, pattern: str) -> str:
    root = glob_root(pattern)
    if root and path.startswith(root):
        return path[len(root):]
    # a literal path (no wildcard): keep the file name only, so moving the corpus keeps ids
    return path.rsplit("/", 1)[-1]
