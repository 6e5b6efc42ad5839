"""Runs the extractor in a child process so that a page that never finishes can be killed.

``signal.alarm`` only works in a process's main thread, and Beam calls DoFns from worker threads; a thread
cannot be killed either. So each DoFn instance owns one long-lived child, sends it one page at a time over
pipes, and on a timeout kills it and starts a new one. The child is a plain ``python -m`` subprocess, not a
``multiprocessing`` one: ``spawn`` and ``forkserver`` re-import the parent's ``__main__`` (measured: a
script without a ``__main__`` guard then fails to start the child), and forking a multi-threaded Beam worker
can deadlock. The cost is one pipe round trip per page (bench_extract: ceiling vs stage rows).

Protocol, both directions: a status byte, an 8-byte big-endian length, then UTF-8 (``surrogatepass``).
"""
from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import time
from typing import Optional

_LEN = struct.Struct(">Q")
STARTUP_TIMEOUT_S = 120.0
_WARMUP_HTML = "<html><body><article><p>Warm-up page with a sentence of text in it.</p></article></body></html>"


class ExtractTimeout(Exception):
    pass


def _encode(status: bytes, text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return status + _LEN.pack(len(data)) + data


class IsolatedExtractor:
    """One child process running ``extract_text``; ``__call__`` raises ``ExtractTimeout`` past the limit."""

    def __init__(self, extractor: str, options: dict, timeout_s: float):
        self._extractor = extractor
        self._options = options
        self._timeout = timeout_s
        self._proc: Optional[subprocess.Popen] = None
        self.restarts = 0

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pilewright.transforms.extract.isolated",
             json.dumps({"extractor": self._extractor, "options": self._options})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        status, _ = self._read(time.monotonic() + STARTUP_TIMEOUT_S)
        if status != b"r":
            self.close()
            raise RuntimeError("the extractor process did not start")

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        chunks = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ExtractTimeout(f"no result after {self._timeout:g} s")
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("the extractor process exited")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _read(self, deadline: float) -> tuple[bytes, str]:
        head = self._read_exact(1 + _LEN.size, deadline)
        (n,) = _LEN.unpack(head[1:])
        return head[:1], self._read_exact(n, deadline).decode("utf-8", "surrogatepass")

    def __call__(self, html: str, url: Optional[str] = None) -> Optional[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        try:
            # header and page written apart: a large page goes to the pipe without being copied into
            # another bytes object first
            page = html.encode("utf-8", "surrogatepass")
            self._proc.stdin.write(_encode(b"q", json.dumps(url)) + b"h" + _LEN.pack(len(page)))
            self._proc.stdin.write(page)
            self._proc.stdin.flush()
            status, payload = self._read(time.monotonic() + self._timeout)
        except ExtractTimeout:
            self.close()
            self.restarts += 1
            raise
        except (EOFError, OSError) as e:
            # the child died on this page (e.g. a crash in C code): a new one serves the next page
            self.close()
            self.restarts += 1
            raise RuntimeError(f"extractor process died: {e!r}") from e
        if status == b"o":
            return payload
        if status == b"n":
            return None
        raise RuntimeError(payload)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(5)
            for f in (self._proc.stdin, self._proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        self._proc = None


def _serve() -> None:  # pragma: no cover - runs in the child
    from pilewright.transforms.extract.extractors import extract_text

    conf = json.loads(sys.argv[1])
    extractor, options = conf["extractor"], conf["options"]
    inp = sys.stdin.buffer
    # the protocol gets its own copy of stdout; anything a library prints goes to stderr instead
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def read_msg() -> Optional[str]:
        head = inp.read(1 + _LEN.size)
        if len(head) < 1 + _LEN.size:
            return None
        (n,) = _LEN.unpack(head[1:])
        return inp.read(n).decode("utf-8", "surrogatepass")

    # imports and first-call caches are paid before the first page's clock starts
    extract_text(_WARMUP_HTML, extractor, options)
    out.write(_encode(b"r", ""))
    out.flush()
    while True:
        url = read_msg()
        html = read_msg()
        if url is None or html is None:
            return
        try:
            text = extract_text(html, extractor, options, json.loads(url))
            msg = _encode(b"n", "") if text is None else _encode(b"o", text)
        except Exception as e:  # the page's failure, reported to the parent as a dead letter
            msg = _encode(b"e", f"{type(e).__name__}: {e!r}"[:1024])
        out.write(msg)
        out.flush()


if __name__ == "__main__":
    _serve()
