"""Progress of a running job: which stage is running, documents processed, an ETA where the total is known.

Beam's local runners execute the whole job inside ``p.run()`` (and ``multi_processing`` in worker
subprocesses), and their counters are only readable at the end. So the job reports through a side channel
instead: a temporary folder on the launching machine where every worker process keeps one small JSON file
of cumulative counts, rewritten atomically at most every ``FLUSH_SECONDS`` and at the end of every bundle.
A monitor thread in the launching process sums the files and renders a line.

The channel is write-only for the job (it never reads it back), so outputs cannot depend on it; a worker
that cannot see the folder (a remote runner) reports nothing. Counts are approximate while running (a
retried bundle counts twice); the audit's exact numbers come from the data.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import apache_beam as beam

from pilewright.transforms.stage import sum_pairs

FLUSH_SECONDS = 0.25
POLL_SECONDS = 0.5
RATE_WINDOW_SECONDS = 15.0
SHARDS_KEY = "shards"
_FILE_PREFIX = "w-"

# ---- worker side --------------------------------------------------------------------------------------


class _Reporter:
    """Cumulative counts of one worker process for one channel folder, flushed to its own file."""

    def __init__(self, channel_dir: str):
        self._dir = channel_dir
        self.enabled = os.path.isdir(channel_dir)
        # pid alone can be reused by a later worker; the random part only names a file, never data
        self._path = os.path.join(channel_dir, f"{_FILE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
        self._counts: dict[str, int] = {}
        self._done: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._last_flush = 0.0
        self._dirty = False

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n
            self._dirty = True
            now = time.monotonic()
            if now - self._last_flush >= FLUSH_SECONDS:
                self._flush_locked(now)

    def done(self, key: str, total: int, kept: int) -> None:
        with self._lock:
            self._done[key] = [total, kept]
            self._dirty = True
            self._flush_locked(time.monotonic())

    def flush(self, force: bool = False) -> None:
        """Writes the counts if they changed, at most every FLUSH_SECONDS unless ``force``: a job of many
        small bundles must not turn progress into file churn (a stage's final count arrives with its
        "done" report anyway)."""
        with self._lock:
            now = time.monotonic()
            if self._dirty and (force or now - self._last_flush >= FLUSH_SECONDS):
                self._flush_locked(now)

    def _flush_locked(self, now: float) -> None:
        self._last_flush = now
        self._dirty = False
        if not self.enabled:
            return
        tmp = self._path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"counts": self._counts, "done": self._done}, f)
            os.replace(tmp, self._path)
        except OSError:
            # the launching process removed the folder (job over) or the disk is full: progress is optional
            self.enabled = False


_REPORTERS: dict[str, _Reporter] = {}
_REPORTERS_LOCK = threading.Lock()


def reporter(channel_dir: str) -> _Reporter:
    with _REPORTERS_LOCK:
        rep = _REPORTERS.get(channel_dir)
        if rep is None:
            rep = _REPORTERS[channel_dir] = _Reporter(channel_dir)
        return rep


class CountingMapFn(beam.DoFn):
    """``beam.Map(fn, **kwargs)`` that also counts its elements under ``key`` on the progress channel."""

    def __init__(self, fn: Callable, channel_dir: str, key: str, **kwargs: Any):
        super().__init__()
        self._fn = fn
        self._dir = channel_dir
        self._key = key
        self._kwargs = kwargs
        self._rep: Optional[_Reporter] = None

    def setup(self) -> None:
        self._rep = reporter(self._dir)

    def process(self, element) -> Iterator:
        out = self._fn(element, **self._kwargs)
        self._rep.add(self._key)
        yield out

    def finish_bundle(self) -> None:
        self._rep.flush()

    def teardown(self) -> None:
        if self._rep is not None:
            self._rep.flush(force=True)


class ReportDoneFn(beam.DoFn):
    """(docs, kept) of a finished stage -> reports the stage as done; emits nothing."""

    def __init__(self, channel_dir: str, key: str):
        super().__init__()
        self._dir = channel_dir
        self._key = key

    def process(self, totals) -> Iterator:
        docs, kept = totals
        reporter(self._dir).done(self._key, int(docs), int(kept))
        return iter(())



class ReportStageDone(beam.PTransform):
    """Rows of a stage's combined audit counts -> reports the stage done with (docs, kept); emits nothing.

    The combine fires only when every output of the stage is counted, so "done" is exact, not a guess.
    Counters: none. Determinism: writes only to the progress channel, never to an output.
    Cost: a global combine over the stage's few audit rows.
    """

    def __init__(self, channel_dir: str, key: str, docs_and_kept: Callable[[Any], tuple[int, int]]):
        super().__init__()
        self._dir = channel_dir
        self._key = key
        self._docs_and_kept = docs_and_kept

    def expand(self, rows):
        return (
            rows
            | "DocsKept" >> beam.Map(self._docs_and_kept)
            | "Total" >> beam.CombineGlobally(sum_pairs)
            | "Report" >> beam.ParDo(ReportDoneFn(self._dir, self._key))
        )


class CountFn(beam.DoFn):
    """Counts elements under ``key``; emits nothing (a tap beside the real flow)."""

    def __init__(self, channel_dir: str, key: str):
        super().__init__()
        self._dir = channel_dir
        self._key = key

    def process(self, _element) -> Iterator:
        reporter(self._dir).add(self._key)
        return iter(())

    def finish_bundle(self) -> None:
        # taps sit on small collections (written shards): every bundle's count matters, and they are few
        reporter(self._dir).flush(force=True)

    def teardown(self) -> None:
        reporter(self._dir).flush(force=True)


# ---- launching side -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Summed channel files: processed documents per stage, and (total, kept) of the stages that finished."""

    counts: dict[str, int]
    done: dict[str, tuple[int, int]]


def read_channel(channel_dir: str) -> Snapshot:
    counts: dict[str, int] = {}
    done: dict[str, tuple[int, int]] = {}
    try:
        names = sorted(os.listdir(channel_dir))
    except OSError:
        return Snapshot(counts, done)
    for name in names:
        if not (name.startswith(_FILE_PREFIX) and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(channel_dir, name), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        for key, n in doc.get("counts", {}).items():
            counts[key] = counts.get(key, 0) + int(n)
        for key, (total, kept) in doc.get("done", {}).items():
            done[key] = (int(total), int(kept))
    return Snapshot(counts, done)


@dataclass(frozen=True)
class StageProgress:
    name: str
    processed: int
    total: Optional[int]  # documents entering the stage, once the stage before it finished
    done: bool
    rate: Optional[float]  # documents per second over the last RATE_WINDOW_SECONDS
    eta: Optional[float]  # seconds


@dataclass(frozen=True)
class ProgressView:
    elapsed: float
    phase: str  # what the job is doing, in words
    stages: tuple[StageProgress, ...]
    running: tuple[str, ...]
    shards_written: int
    finished: bool = False
    failed: bool = False


@dataclass
class RateTracker:
    """Documents per second per stage over a sliding window of (time, count) observations."""

    window: float = RATE_WINDOW_SECONDS
    _history: dict[str, deque] = field(default_factory=dict)

    def observe(self, now: float, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            hist = self._history.setdefault(key, deque())
            hist.append((now, n))
            while len(hist) > 2 and now - hist[0][0] > self.window:
                hist.popleft()

    def rate(self, key: str) -> Optional[float]:
        hist = self._history.get(key)
        if not hist or len(hist) < 2:
            return None
        (t0, n0), (t1, n1) = hist[0], hist[-1]
        if t1 - t0 <= 0 or n1 <= n0:
            return None
        return (n1 - n0) / (t1 - t0)

    def moved(self, key: str) -> bool:
        """True when the count changed within the window: the stage is running."""
        hist = self._history.get(key)
        return bool(hist) and len(hist) >= 2 and hist[-1][1] > hist[0][1]


def progress_view(
    stage_order: Sequence[str], snap: Snapshot, rates: RateTracker, elapsed: float, finished: bool = False
) -> ProgressView:
    """Pure: what to show, from the summed counts and recent rates.

    A stage's total is known once the stage before it finished (its kept count is this stage's input);
    the first stage reads files of unknown document count, so it never has an ETA.
    """
    stages = []
    for i, name in enumerate(stage_order):
        done = snap.done.get(name)
        processed = done[0] if done else snap.counts.get(name, 0)
        prev_done = snap.done.get(stage_order[i - 1]) if i > 0 else None
        total = done[0] if done else (prev_done[1] if prev_done else None)
        rate = None if done else rates.rate(name)
        eta = None
        if total is not None and rate and not done and processed <= total:
            eta = (total - processed) / rate
        stages.append(StageProgress(name, processed, total, done is not None, rate, eta))
    running = tuple(s.name for s in stages if not s.done and rates.moved(s.name))
    shards = snap.counts.get(SHARDS_KEY, 0)
    pending = next((i for i, s in enumerate(stages) if not s.done), None)
    if finished:
        phase = "finished"
    elif not any(s.processed for s in stages):
        phase = "starting"
    elif running:
        phase = "running " + ", ".join(running)
    elif pending is None:
        phase = "writing shards"
    elif stages[pending].processed == 0 and all(s.done for s in stages[:pending]):
        # everything before it is done and it has not started: a global step between them runs, e.g.
        # the tokenizer being trained on the curated documents, or the mix being planned (a family says
        # what its step is with ``PREPARING``)
        phase = preparing(stages[pending].name)
    else:
        phase = "working on " + ", ".join(s.name for s in stages if not s.done and s.processed)
    return ProgressView(elapsed, phase, tuple(stages), running, shards, finished)


def preparing(stage: str) -> str:
    """What a stage does before its first document: its family's ``PREPARING``, else ``preparing <stage>``."""
    from pilewright.transforms.flow import spec_named

    spec = spec_named(stage)
    said = getattr(spec.family(), "PREPARING", None) if spec is not None else None
    return said or f"preparing {stage}"


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _num(n: float) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.0f}M"
    if n >= 100_000:
        return f"{n / 1e3:.0f}k"
    return f"{int(n):,}"


def progress_line(view: ProgressView, width: int = 120) -> str:
    """One line: elapsed, phase, then each stage that started (done ones with a check mark)."""
    parts = []
    for s in view.stages:
        if s.done:
            parts.append(f"{s.name} \u2713{_num(s.processed)}")
        elif s.processed or s.name in view.running:
            text = f"{s.name} {_num(s.processed)}"
            if s.total is not None:
                text += f"/{_num(s.total)}"
            if s.rate:
                text += f" {_num(s.rate)}/s"
            if s.eta is not None:
                text += f" ETA {_clock(s.eta)}"
            parts.append(text)
    if view.shards_written:
        parts.append(f"shards {view.shards_written}")
    line = f"[{_clock(view.elapsed)}] {view.phase}" + (" | " + " \u00b7 ".join(parts) if parts else "")
    return line if len(line) <= width else line[: max(0, width - 1)] + "\u2026"


class ProgressWatch:
    """Owns the channel folder and the monitor thread for one run.

    ``render(view)`` is called from the monitor thread every ``interval`` seconds and once more with
    ``finished=True`` when the run ends; it must not raise (a failing renderer only stops the display).
    """

    def __init__(self, render: Callable[[ProgressView], None], interval: float = POLL_SECONDS):
        self.dir = tempfile.mkdtemp(prefix="pilewright-progress-")
        self._render = render
        self._interval = interval
        self._order: list[str] = []
        self._rates = RateTracker()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = time.monotonic()
        self.last_view: Optional[ProgressView] = None
        self.views_seen = 0

    def start(self, stage_order: Sequence[str]) -> None:
        self._order = list(stage_order)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="pilewright-progress", daemon=True)
        self._thread.start()

    def set_order(self, stage_order: Sequence[str]) -> None:
        """The stages to show, once more are known (a phased run learns its later stages' names late)."""
        self._order = list(stage_order)

    def poll(self, finished: bool = False) -> ProgressView:
        now = time.monotonic()
        snap = read_channel(self.dir)
        self._rates.observe(now, snap.counts)
        view = progress_view(self._order, snap, self._rates, now - self._started, finished)
        self.last_view = view
        self.views_seen += 1
        return view

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._render(self.poll())
            except Exception:  # the display must never take the job down
                return

    def close(self, finished: bool = True) -> None:
        """Stops the monitor and renders the last view: ``finished``, or stopped because the job failed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            view = self.poll(finished=finished)
            if not finished:
                view = dataclasses.replace(view, phase="stopped: the job failed", failed=True)
            self._render(view)
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
