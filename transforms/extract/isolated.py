"""Runs the extractor in a child process so that a page that never finishes can be killed.

``signal.alarm`` only works in a process's main thread, and Beam calls DoFns from worker threads; a thread
cannot be killed either. So each DoFn instance owns one long-lived child (``spawn`` start: forking a
multi-threaded Beam worker can deadlock), sends it one page at a time over a pipe, and on a timeout kills
it and starts a new one. The overhead is one pipe round trip per page (measured in bench_extract).
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Optional

from pilewright.transforms.extract.extractors import extract_text


class ExtractTimeout(Exception):
    pass


_WARMUP_HTML = "<html><body><article><p>Warm-up page with a sentence of text in it.</p></article></body></html>"
STARTUP_TIMEOUT_S = 120.0


def _serve(conn, extractor: str, options: dict) -> None:  # pragma: no cover - runs in the child
    # imports and first-call caches are paid before the first page's clock starts
    extract_text(_WARMUP_HTML, extractor, options)
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        extractor, options, html, url = msg
        try:
            conn.send(("ok", extract_text(html, extractor, options, url)))
        except Exception as e:  # the page's failure, reported to the parent as a dead letter
            conn.send(("error", type(e).__name__, repr(e)[:1024]))


class IsolatedExtractor:
    """One child process running ``extract_text``; ``__call__`` raises ``ExtractTimeout`` past the limit."""

    def __init__(self, extractor: str, options: dict, timeout_s: float):
        self._extractor = extractor
        self._options = options
        self._timeout = timeout_s
        self._proc: Optional[mp.Process] = None
        self._conn = None
        self.restarts = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self._extractor, self._options), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(STARTUP_TIMEOUT_S) or parent.recv() != ("ready",):
            self.close()
            raise RuntimeError("the extractor process did not start")

    def __call__(self, html: str, url: Optional[str] = None) -> Optional[str]:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        try:
            self._conn.send((self._extractor, self._options, html, url))
            ready = self._conn.poll(self._timeout)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError, BrokenPipeError) as e:
            # the child died on this page (e.g. a crash in C code): restart it for the next one
            self.close()
            self.restarts += 1
            raise RuntimeError(f"extractor process died: {e!r}") from e
        if reply is None:
            self.close()
            self.restarts += 1
            raise ExtractTimeout(f"no result after {self._timeout:g} s")
        if reply[0] == "ok":
            return reply[1]
        raise RuntimeError(f"{reply[1]}: {reply[2]}")

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = None
        self._conn = None
