"""WARC records built byte by byte, for the tests that read crawls (ingest) and the runs explain reads back."""
from __future__ import annotations

import gzip
import uuid


def record(rtype: str, uri: str, block: bytes, ctype: str = "application/http; msgtype=response",
           clen: int | None = None, n: int = 0) -> bytes:
    rid = uuid.UUID(int=n)
    head = (
        f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Date: 2024-05-18T01:58:{n % 60:02d}Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{rid}>\r\nWARC-Target-URI: {uri}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(block) if clen is None else clen}\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def http(body: bytes, ctype: str = "text/html; charset=utf-8", status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def gz_members(records: list[bytes]) -> bytes:
    # one gzip member per record, as crawlers write them
    return b"".join(gzip.compress(r, mtime=0) for r in records)
