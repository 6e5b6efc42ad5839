"""Pure readers for web archives: the bytes of one WARC or WET file -> Documents, skips and dead letters.

Framing (where one record ends and the next begins) is done here on a zlib stream, and each framed record
is handed to FastWARC (``WarcRecord.from_bytes``) for its WARC and HTTP headers and for undoing the HTTP
transfer and content encodings. Both FastWARC's and warcio's iterators, measured on a truncated ``.warc.gz``
and on a record with a wrong ``Content-Length``, return the partial record as if it were whole and then stop
(or raise) without saying what was lost; framing here turns the first into ``truncated_file`` and the second
into ``bad_content_length`` for that one record, then finds the next ``WARC/1.x`` line and carries on.

Formats: ``warc`` keeps ``response`` records whose payload is HTML (the text is the decoded HTML; the
``extract`` stage turns it into main text); ``wet`` keeps ``conversion`` records (text as is). Every other
record is a :class:`Skip` with a reason, so that kept + rejected + dead + skipped == records in the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

from pilewright.schemas.records import HTML_CONTENT_TYPES, Document
from pilewright.transforms.ingest.read import (
    Rejection,
    Skip,
    SourceSpec,
    TruncatedInput,
    compression_of,
    dead_letter,
    decompressed_chunks,
)

# A record larger than this is not held in memory: its bytes are streamed past and it is dead-lettered.
# Common Crawl truncates payloads at 1 MiB, so this only catches archives from other crawlers.
MAX_RECORD_BYTES = 64 << 20
MAX_HEADER_BYTES = 1 << 16
HTML_TYPES = HTML_CONTENT_TYPES
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_RECORD_START_RE = re.compile(rb"(?:^|\n)WARC/1\.[01]\r?\n")


@dataclass(frozen=True)
class _Framed:
    offset: int  # byte offset of the record in the decompressed stream
    data: Optional[bytes]  # the whole record (WARC header + block); None when framing failed
    error_type: Optional[str] = None
    error: str = ""
    payload: bytes = b""


class _Stream:
    """A forward-only window over decompressed chunks; remembers a truncation instead of raising it."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self.buf = bytearray()
        self.start = 0  # index in buf of the next unread byte
        self.base = 0  # stream offset of buf[0]
        self.eof = False
        self.truncated: Optional[TruncatedInput] = None

    def available(self) -> int:
        return len(self.buf) - self.start

    def fill(self, n: int) -> bool:
        """Makes at least ``n`` unread bytes available if the stream has them."""
        while self.available() < n and not self.eof:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.eof = True
                break
            except TruncatedInput as e:
                self.eof = True
                self.truncated = e
                break
            if self.start > (1 << 20) and self.start > len(self.buf) // 2:
                # compact rarely: deleting the consumed prefix on every record would copy the buffer each time
                del self.buf[: self.start]
                self.base += self.start
                self.start = 0
            self.buf += chunk
        return self.available() >= n

    def offset(self) -> int:
        return self.base + self.start

    def find(self, needle: bytes, limit: int) -> int:
        """Index (relative to the unread start) of ``needle`` within ``limit`` bytes, reading more as needed."""
        searched = 0
        while True:
            end = min(self.available(), limit)
            i = self.buf.find(needle, self.start + max(0, searched - len(needle)), self.start + end)
            if i != -1:
                return i - self.start
            searched = end
            if end >= limit or not self.fill(self.available() + 1):
                return -1

    def take(self, n: int) -> bytes:
        out = bytes(self.buf[self.start : self.start + n])
        self.start += n
        return out

    def skip(self, n: int) -> int:
        """Discards up to ``n`` bytes without holding them; returns how many were discarded."""
        done = 0
        while done < n:
            if not self.available() and not self.fill(1):
                break
            step = min(n - done, self.available())
            self.start += step
            done += step
        return done

    def resync(self) -> None:
        """Moves to the next line that starts a WARC record (or to the end)."""
        while True:
            m = _RECORD_START_RE.search(self.buf, self.start + 1)
            if m:
                self.start = m.start() + (1 if self.buf[m.start()] == 0x0A else 0)
                return
            # keep a short tail in case the marker straddles two chunks
            keep = min(self.available(), 16)
            self.start = len(self.buf) - keep
            if not self.fill(keep + 1):
                self.start = len(self.buf)
                return


def frame_records(chunks: Iterator[bytes]) -> Iterator[_Framed]:
    """Splits a decompressed WARC stream into whole records, reporting each framing failure once."""
    s = _Stream(chunks)
    while True:
        # records are separated by CRLF CRLF; tolerate stray blank lines
        while s.fill(1) and s.buf[s.start] in (0x0D, 0x0A):
            s.start += 1
        if not s.available():
            break
        offset = s.offset()
        head_end = s.find(b"\r\n\r\n", MAX_HEADER_BYTES)
        head = bytes(s.buf[s.start : s.start + head_end]) if head_end != -1 else bytes(s.buf[s.start : s.start + 256])
        if head_end == -1 or not head.startswith(b"WARC/1."):
            if s.truncated is not None and head_end == -1 and head.startswith(b"WARC/"):
                yield _Framed(offset, None, "truncated_file", str(s.truncated), head)
                break
            if head_end == -1 and s.eof and head.startswith(b"WARC/"):
                yield _Framed(offset, None, "truncated_record", "the file ends inside a WARC header", head)
                break
            yield _Framed(offset, None, "invalid_record_header", "no WARC/1.x record starts here", head)
            s.resync()
            continue
        length = _content_length(head)
        if length is None:
            yield _Framed(offset, None, "invalid_record_header", "the WARC header has no valid Content-Length", head)
            s.resync()
            continue
        total = head_end + 4 + length
        if length > MAX_RECORD_BYTES:
            got = s.skip(total)
            yield _Framed(offset, None, "record_too_large", f"Content-Length {length} > {MAX_RECORD_BYTES}", head)
            if got < total:
                break
            continue
        if not s.fill(total + 4):
            if s.available() < total:
                kind = "truncated_file" if s.truncated is not None else "truncated_record"
                why = str(s.truncated) if s.truncated is not None else "the file ends inside a WARC record"
                yield _Framed(offset, None, kind, why, head)
                break
        trailer = bytes(s.buf[s.start + total : s.start + total + 4])
        # the block must be followed by CRLF CRLF (a file's last record may end at EOF with a lone CRLF)
        if trailer == b"\r\n\r\n" or (s.eof and s.available() - total <= 4 and trailer.strip(b"\r\n") == b""):
            yield _Framed(offset, s.take(total))
            continue
        yield _Framed(
            offset, None, "bad_content_length",
            f"Content-Length {length} does not end the record (next bytes {trailer!r})", head,
        )
        s.resync()
    if s.truncated is not None and not s.available():
        # the stream was cut exactly between records: nothing is partial, but the file is incomplete
        yield _Framed(s.offset(), None, "truncated_file", str(s.truncated))


def _content_length(head: bytes) -> Optional[int]:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                n = int(value.strip())
            except ValueError:
                return None
            return n if n >= 0 else None
    return None


def _valid_codec(name: Optional[str]) -> Optional[str]:
    import codecs

    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_html(body: bytes, http_charset: Optional[str]) -> tuple[Optional[str], str]:
    """(text, how) with the charset from the HTTP header, then the meta tag, then detection.

    A declared charset that does not decode the bytes strictly is not trusted (servers often lie); the
    next step is tried. ``text`` is None when nothing decodes the page.
    """
    for how, name in (("http", http_charset), ("meta", _meta_charset(body))):
        codec = _valid_codec(name)
        if codec:
            try:
                return body.decode(codec), f"{how}:{codec}"
            except (UnicodeDecodeError, LookupError):
                pass
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(body)
    best = matches.best()
    if best is None:
        return None, "undetected"
    # Latin texts often tie between cp1250/cp1252/cp1257; WHATWG's default for an undeclared page is
    # windows-1252, so it wins a tie (measured: French cp1252 text was read as cp1250 without this)
    for m in matches:
        if m.encoding == "cp1252" and (m.chaos, m.coherence) == (best.chaos, best.coherence):
            best = m
            break
    return str(best), f"detected:{best.encoding}"


def _meta_charset(body: bytes) -> Optional[str]:
    m = _META_CHARSET_RE.search(body, 0, 4096)
    return m.group(1).decode("ascii", "ignore") if m else None


def _record_id(rid: Optional[str]) -> Optional[str]:
    if not rid:
        return None
    rid = rid.strip().strip("<>")
    return rid[len("urn:uuid:"):] if rid.startswith("urn:uuid:") else rid


def _parse_http(data: bytes):
    """(record, payload) with HTTP encodings undone, or an error message.

    Crawlers often store a body already de-chunked or decompressed while keeping the original
    ``Transfer-Encoding``/``Content-Encoding`` headers (warcio falls back the same way), so a failed decode
    is retried with fewer decodings before the record is called invalid.
    """
    from fastwarc.warc import WarcRecord

    error = ""
    for mode in ("all", "content", "none"):
        rec = WarcRecord.from_bytes(data)
        try:
            rec.parse_http(auto_decode=mode)
            if not rec.is_http or rec.http_headers is None:
                return rec, b""
            if (rec.http_content_type or "").lower() not in HTML_TYPES:
                return rec, b""  # skipped by type: its payload is never read
            return rec, rec.reader.read()
        except (OSError, ValueError) as e:
            error = error or str(e)
    return error


def _read_archive(raw: BinaryIO, path: str, spec: SourceSpec, wet: bool) -> Iterator[object]:
    from fastwarc.warc import WarcRecord, WarcRecordType

    wanted = WarcRecordType.conversion if wet else WarcRecordType.response
    for framed in frame_records(decompressed_chunks(raw, compression_of(path))):
        if framed.data is None:
            yield dead_letter(spec, path, framed.offset, framed.error_type or "invalid_record", framed.error, framed.payload)
            continue
        try:
            rec = WarcRecord.from_bytes(framed.data)
        except OSError as e:
            yield dead_letter(spec, path, framed.offset, "invalid_record", str(e), framed.data)
            continue
        if rec.record_type != wanted:
            yield Skip(f"record_type:{str(rec.record_type).rsplit('.', 1)[-1]}")
            continue
        url = rec.headers.get("WARC-Target-URI")
        rid = _record_id(rec.record_id)
        if not rid:
            yield dead_letter(spec, path, framed.offset, "missing_record_id", "no WARC-Record-ID", framed.data)
            continue
        date = rec.headers.get("WARC-Date")
        if wet:
            body = rec.reader.read()
            content_type = (rec.headers.get("Content-Type") or "text/plain").split(";")[0].strip().lower()
            try:
                text = body.decode("utf-8")  # WET text is UTF-8 by definition
            except UnicodeDecodeError as e:
                yield dead_letter(spec, path, framed.offset, "invalid_utf8", str(e), body)
                continue
        else:
            parsed = _parse_http(framed.data)
            if isinstance(parsed, str):
                yield dead_letter(spec, path, framed.offset, "invalid_http", parsed, framed.data)
                continue
            rec, body = parsed
            if not rec.is_http or rec.http_headers is None:
                yield Skip("not_http")
                continue
            status = rec.http_headers.status_code
            if status is not None and not (200 <= status < 300):
                yield Skip(f"http_status:{status // 100}xx")
                continue
            content_type = (rec.http_content_type or "").lower()
            if content_type not in HTML_TYPES:
                yield Skip(f"content_type:{content_type or 'none'}")
                continue
            text, _how = decode_html(body, rec.http_charset)
            if text is None:
                yield dead_letter(spec, path, framed.offset, "undecodable", "no charset decodes the page", body)
                continue
        if "\x00" in text:
            # a stray NUL in a real page is dropped; many of them mean a binary payload under a text type
            if text.count("\x00") * 100 > len(text):
                yield dead_letter(spec, path, framed.offset, "binary_payload", "over 1% of the payload is NUL", text)
                continue
            text = text.replace("\x00", "")
        doc = Document(
            id=f"{spec.name}/{rid}",
            text=text,
            source=spec.name,
            domain=spec.domain,
            url=url,
            crawl_date=date,
            content_type=content_type,
        )
        yield doc if text.strip() else Rejection(doc, "empty_text")


def read_warc(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[object]:
    """``response`` records with an HTML payload; the document text is the decoded HTML."""
    return _read_archive(raw, path, spec, wet=False)


def read_wet(raw: BinaryIO, path: str, rel_path: str, spec: SourceSpec) -> Iterator[object]:
    """``conversion`` records (Common Crawl's extracted text), text as is."""
    return _read_archive(raw, path, spec, wet=True)
