"""Progress while a run runs: the channel workers write, the view the monitor computes, the terminal line."""
from __future__ import annotations

import io
import json
import os

import pytest

from pilewright.pipeline.audit import progress as pg
from pilewright.pipeline.cli.terminal import TerminalProgress, progress_display
from pilewright.pipeline.audit.progress import ProgressView, RateTracker, Snapshot, StageProgress, progress_line, progress_view

ORDER = ["ingest", "quality", "tokenize"]


def _rates(history: dict[str, list[tuple[float, int]]]) -> RateTracker:
    r = RateTracker(window=100.0)
    for t in sorted({t for h in history.values() for t, _ in h}):
        r.observe(t, {k: n for k, h in history.items() for tt, n in h if tt == t})
    return r


def test_first_stage_has_no_total_and_no_eta():
    rates = _rates({"ingest": [(0, 0), (10, 1000)]})
    view = progress_view(ORDER, Snapshot({"ingest": 1000}, {}), rates, 10.0)
    ingest = view.stages[0]
    assert ingest.total is None and ingest.eta is None and ingest.rate == pytest.approx(100.0)
    assert view.phase == "running ingest" and view.running == ("ingest",)


def test_a_stage_after_a_finished_one_gets_its_total_and_an_eta():
    rates = _rates({"tokenize": [(0, 0), (10, 200)]})
    snap = Snapshot({"ingest": 1000, "quality": 1000, "tokenize": 200}, {"ingest": (1000, 990), "quality": (990, 800)})
    view = progress_view(ORDER, snap, rates, 30.0)
    tok = view.stages[2]
    assert tok.total == 800 and tok.rate == pytest.approx(20.0) and tok.eta == pytest.approx(30.0)
    assert view.stages[0].done and view.stages[0].processed == 1000
    assert "ETA 0:30" in progress_line(view) and "quality \u2713990" in progress_line(view)


def test_phases_between_stages():
    still = _rates({})
    snap = Snapshot({"ingest": 10, "quality": 10}, {"ingest": (10, 10), "quality": (10, 9)})
    assert progress_view(ORDER, snap, still, 5.0).phase == "training or loading the tokenizer"
    snap = Snapshot({}, {"ingest": (10, 10), "quality": (10, 9), "tokenize": (9, 9)})
    assert progress_view(ORDER, snap, still, 5.0).phase == "writing shards"
    assert progress_view(ORDER, Snapshot({}, {}), still, 1.0).phase == "starting"
    assert progress_view(ORDER, snap, still, 9.0, finished=True).phase == "finished"
    mixed = ["ingest", "tokenize", "mix"]
    snap = Snapshot({"ingest": 5, "tokenize": 5}, {"ingest": (5, 5), "tokenize": (5, 5)})
    assert progress_view(mixed, snap, still, 5.0).phase == "preparing mix"


def test_workers_report_through_files_the_monitor_sums(tmp_path):
    channel = str(tmp_path)
    # two "processes": two reporters writing their own files
    a, b = pg._Reporter(channel), pg._Reporter(channel)
    for _ in range(5):
        a.add("ingest")
    b.add("ingest", 7)
    b.done("quality", 12, 10)
    a.flush(force=True)
    b.flush(force=True)
    snap = pg.read_channel(channel)
    assert snap.counts == {"ingest": 12} and snap.done == {"quality": (12, 10)}
    assert len([f for f in os.listdir(channel) if f.endswith(".json")]) == 2
    # a torn or foreign file is skipped, never fatal
    (tmp_path / "w-junk.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("x")
    assert pg.read_channel(channel).counts == {"ingest": 12}


def test_a_worker_that_cannot_see_the_folder_reports_nothing(tmp_path):
    rep = pg._Reporter(str(tmp_path / "absent"))
    rep.add("ingest")
    rep.done("ingest", 1, 1)
    assert not rep.enabled and not (tmp_path / "absent").exists()


def test_watch_renders_and_cleans_up():
    seen: list[ProgressView] = []
    watch = pg.ProgressWatch(seen.append, interval=0.01)
    watch.start(ORDER)
    pg.reporter(watch.dir).add("ingest", 3)
    pg.reporter(watch.dir).flush(force=True)
    folder = watch.dir
    watch.close()
    assert seen and seen[-1].finished and seen[-1].stages[0].processed == 3
    assert not os.path.exists(folder)


def _view(phase: str, finished: bool = False) -> ProgressView:
    st = (StageProgress("ingest", 10, None, False, 2.0, None),)
    return ProgressView(3.0, phase, st, ("ingest",), 0, finished)


def test_terminal_redraws_one_line_and_clears_it():
    out = io.StringIO()
    show = TerminalProgress(out, tty=True)
    show(_view("running ingest"))
    show(_view("running ingest"))
    show(_view("finished", finished=True))
    text = out.getvalue()
    assert "\n" not in text and text.count("\r") == 4 and text.endswith("\r")
    assert "[0:03] running ingest | ingest 10 2/s" in text


def test_a_log_gets_a_line_per_phase_not_per_poll():
    out = io.StringIO()
    show = TerminalProgress(out, tty=False)
    for _ in range(5):
        show(_view("running ingest"))
    show(_view("finished", finished=True))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("pilewright: [0:03] running ingest")


def test_remote_runners_get_no_progress_display():
    assert progress_display(["--runner=DataflowRunner", "--project=p"]) is None
    assert progress_display(["--runner", "apache_beam.runners.dataflow.DataflowRunner"]) is None
    assert progress_display([]) is not None
    assert progress_display(["--runner=DirectRunner", "--direct_running_mode=multi_processing"]) is not None


def test_channel_files_are_json_with_cumulative_counts(tmp_path):
    rep = pg._Reporter(str(tmp_path))
    rep.add("ingest", 2)
    rep.flush(force=True)
    (path,) = [p for p in tmp_path.iterdir() if p.suffix == ".json"]
    assert json.loads(path.read_text()) == {"counts": {"ingest": 2}, "done": {}}


def test_a_failed_job_leaves_its_last_state_on_its_own_line():
    out = io.StringIO()
    seen: list[ProgressView] = []
    watch = pg.ProgressWatch(lambda v: (seen.append(v), TerminalProgress(out, tty=True)(v)))
    watch.start(ORDER)
    watch.close(finished=False)
    assert seen[-1].failed and not seen[-1].finished
    assert out.getvalue().endswith("stopped: the job failed\n")
