#!/usr/bin/env python3
"""pilewright against datatrove on the same documents, stage by stage and end to end, in one command.

    python benchmarks/run.py [--corpus GLOB ...] [--sample-mb 50] [--only ingest,quality,...]

Draws ``--sample-mb`` MB of real text deterministically (default: ../shared/corpora/general and finance),
injects 20% near-duplicates with known ground truth, then runs each stage with both tools, one after the
other on the same files, and measures wall time, CPU and peak memory of each tool's whole process tree the
same way. Prints one table (docs/s, MB/s, peak RSS, wall, ratio pilewright/peer, % of the raw-read
ceiling) and the output quality beside it (filter agreement, dedup precision/recall, token counts), and
writes benchmarks/results/<date>-<git sha>.json with a top-level ``end_to_end_ratio``.

Absolute figures depend on the machine and its load; the ratios, measured in the same run on the same
input, are the figures to compare.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_common_corpus as corpus  # noqa: E402
import bench_common_eval as evaluate  # noqa: E402
from bench_common_measure import Measurement, measure  # noqa: E402

STAGES = ("ingest", "quality", "dedup", "tokenize", "end_to_end")
GOAL_E2E_RATIO = 3.0
QUALITY_RULES = ["gopher_repetition", "gopher_quality", "c4", "fineweb"]
MINHASH = {"ngram": 5, "bands": 14, "rows": 8}  # datatrove's MinhashConfig defaults
VOCAB = 32000
PEER_PACKAGES = ["datatrove[processing,io]", "spacy", "orjson", "xxhash"]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "true"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- tools

def pilewright_python() -> str:
    """The python of pilewright's virtualenv: this one if it imports pilewright, else the repo's .venv."""
    try:
        import pilewright  # noqa: F401

        return sys.executable
    except ImportError:
        venv = os.path.join(REPO, ".venv", "bin", "python")
        if os.path.exists(venv):
            return venv
    sys.exit("benchmarks/run.py: pilewright is not installed here; run `make install` first (creates .venv)")


def ensure_datatrove(peers_home: str) -> str:
    """datatrove's own virtualenv (created from the package registry when missing). Returns its python."""
    venv = os.path.join(peers_home, "dt-venv")
    py = os.path.join(venv, "bin", "python")
    probe = [py, "-c", "import datatrove, tokenizers, spacy"]
    if os.path.exists(py) and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    log(f"creating datatrove's virtualenv in {venv} (once; a few minutes)")
    os.makedirs(peers_home, exist_ok=True)
    if not os.path.exists(py):
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    subprocess.run(probe, check=True)
    return py


def tool_version(py: str, dist: str) -> Optional[str]:
    r = subprocess.run([py, "-c", f"from importlib.metadata import version; print(version('{dist}'))"],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


def git(*args: str) -> str:
    r = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


# ---------------------------------------------------------------------------------------------- rows

@dataclass
class Step:
    """One measured command; a row of a tool is one or more steps run one after the other."""

    name: str
    cmd: list[str]
    env: dict = field(default_factory=dict)
    after: Optional[Callable[[], None]] = None  # reads the step's outputs, not measured


@dataclass
class ToolRun:
    steps: list[dict] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    max_single_rss_mb: float = 0.0
    ok: bool = True
    reused: list[str] = field(default_factory=list)

    def add(self, name: str, m: Measurement) -> None:
        self.steps.append({"step": name, **{k: v for k, v in m.as_dict().items() if k != "extra"}})
        self.wall_s = round(self.wall_s + m.wall_s, 2)
        self.cpu_s = round(self.cpu_s + (m.cpu_s or 0.0), 2)
        self.peak_rss_mb = max(self.peak_rss_mb, m.peak_rss_mb or 0.0)
        self.peak_pss_mb = max(self.peak_pss_mb, m.peak_pss_mb or 0.0)
        self.max_single_rss_mb = max(self.max_single_rss_mb, m.max_single_rss_mb or 0.0)
        self.ok = self.ok and m.rc == 0

    def as_dict(self, docs: int, text_bytes: int) -> dict:
        d = {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "peak_rss_mb": self.peak_rss_mb,
             "peak_pss_mb": self.peak_pss_mb, "max_single_rss_mb": self.max_single_rss_mb, "ok": self.ok,
             "docs": docs, "text_mb": round(text_bytes / 1e6, 2), "steps": self.steps}
        if self.reused:
            d["reused_steps"] = self.reused
        if self.ok and self.wall_s > 0:
            d["docs_per_s"] = round(docs / self.wall_s, 1)
            d["mb_per_s"] = round(text_bytes / 1e6 / self.wall_s, 3)
        return d


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.a = args
        self.work = os.path.abspath(args.work)
        self.pw_py = pilewright_python()
        pw_bin = os.path.join(os.path.dirname(self.pw_py), "pilewright")
        self.pw_cli = [pw_bin] if os.path.exists(pw_bin) else [self.pw_py, "-m", "pilewright.pipeline.cli.main"]
        self.dt_py = ensure_datatrove(os.path.abspath(args.peers_home)) if not args.no_peer else None
        self.measured: dict[tuple[str, str], Measurement] = {}

    # -- running ------------------------------------------------------------------------------------
    def run_steps(self, tool: str, row: str, steps: list[Step]) -> ToolRun:
        run = ToolRun()
        logs = os.path.join(self.work, "logs")
        os.makedirs(logs, exist_ok=True)
        for step in steps:
            key = (tool, step.name)
            if key in self.measured:  # the same command on the same input already ran in this invocation
                run.add(step.name, self.measured[key])
                run.reused.append(step.name)
                continue
            log(f"{tool:<10} {row:<10} {step.name}")
            env = dict(os.environ, **OFFLINE_ENV, **step.env)
            m = measure(step.cmd, log_path=os.path.join(logs, f"{tool}-{step.name}.log"), env=env,
                        cwd=self.work, timeout=self.a.step_timeout)
            log(f"{'':<21} -> rc={m.rc} wall={m.wall_s}s cpu={m.cpu_s}s rss={m.peak_rss_mb}MB "
                f"load={fmt(m.load_before)}->{fmt(m.load_after)}")
            self.measured[key] = m
            run.add(step.name, m)
            if m.rc != 0:
                log(f"{tool} {step.name} FAILED (rc={m.rc}); see {m.log}")
                break
            if step.after:
                step.after()
        return run

    # -- pilewright ---------------------------------------------------------------------------------
    def pw_schema(self) -> dict:
        r = subprocess.run([self.pw_py, os.path.join(HERE, "bench_common_pilewright.py"), "schema"],
                           capture_output=True, text=True, check=True)
        return json.loads(r.stdout)

    def pw_config(self, name: str, stages: dict, corpus_dir: str) -> str:
        """A pilewright config over the corpus (one source per domain). JSON is valid YAML."""
        meta = corpus.load_meta(corpus_dir)
        sources = [{"name": dom, "paths": [os.path.join(corpus_dir, "docs", f"{dom}-part-*.jsonl.gz")],
                    "format": "jsonl", "domain": dom, "id_field": "id"} for dom in sorted(meta["parts"])]
        cfg = {"run": {"output": os.path.join(self.work, "pw", name), "seed": 1234}, "sources": sources,
               "stages": stages, "tokenizer": {"train": {"vocab_size": VOCAB, "sample_docs": 10_000_000}},
               "shards": {"tokens_per_shard": 100_000_000}}
        path = os.path.join(self.work, "pw", f"{name}.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path

    def pw_beam_args(self) -> list[str]:
        if self.a.pw_mode == "multi_processing":
            return ["--direct_running_mode=multi_processing", f"--direct_num_workers={self.a.workers}"]
        return ["--direct_running_mode=in_memory"]

    def pw_collect(self, out: str) -> Callable[[], None]:
        def after() -> None:
            subprocess.run([self.pw_py, os.path.join(HERE, "bench_common_pilewright.py"), "collect",
                            "--output", out, "--ids", os.path.join(out, "kept_ids.txt"),
                            "--summary", os.path.join(out, "bench_summary.json")], check=True)
        return after

    def pw_stage_steps(self, name: str, stages: dict, corpus_dir: str, full: bool) -> tuple[list[Step], str]:
        cfg = self.pw_config(name, stages, corpus_dir)
        out = os.path.join(self.work, "pw", name)
        if full:  # the real command a user runs
            cmd = [*self.pw_cli, "run", "--config", cfg, "--output", out, "--quiet", *self.pw_beam_args()]
        else:
            cmd = [self.pw_py, os.path.join(HERE, "bench_common_pilewright.py"), "stage", "--config", cfg,
                   "--output", out, *self.pw_beam_args()]
        return [Step(f"pw:{name}", cmd, after=self.pw_collect(out))], out

    # -- datatrove ----------------------------------------------------------------------------------
    def dt_step(self, step: str, inp: str, work: str, collect: bool = False, tasks: Optional[int] = None) -> Step:
        cmd = [self.dt_py, os.path.join(HERE, "peers_datatrove.py"), step, "--input", inp, "--work", work,
               "--tasks", str(tasks or self.a.dt_tasks), "--workers", str(self.a.workers), "--vocab", str(VOCAB)]
        after = None
        if collect:
            def after() -> None:
                subprocess.run([self.dt_py, os.path.join(HERE, "peers_datatrove.py"), "collect", "--of", step,
                                "--work", work], check=True, env=dict(os.environ, **OFFLINE_ENV))
        return Step(f"dt:{os.path.basename(work)}:{step}:{os.path.basename(inp.rstrip('/'))}", cmd, after=after)

    def dt_minhash(self, inp: str, work: str) -> list[Step]:
        return [self.dt_step("minhash_sig", inp, work), self.dt_step("minhash_buckets", inp, work),
                self.dt_step("minhash_cluster", inp, work), self.dt_step("minhash_filter", inp, work, collect=True)]

    def dt_tokenize(self, inp: str, work: str) -> list[Step]:
        return [self.dt_step("train_tok", inp, work), self.dt_step("tokenize", inp, work, collect=True)]


def read_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def read_ids(path: str) -> Optional[list[str]]:
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------- report

def fmt(x, nd=1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def table(results: dict) -> str:
    # the machine's limit: the faster of the one-process and --workers-process reads
    ceil = max((c.get("mb_per_s") or 0 for c in results["ceilings"].values()), default=0) or None
    lines = [
        "| stage | tool | wall s | docs/s | MB/s | % of read ceiling | CPU s | peak RSS MB | peak PSS MB "
        "| throughput pilewright/datatrove | CPU-s pilewright/datatrove | peak RSS pilewright/datatrove |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in results["ceilings"].items():
        lines.append(f"| raw read ceiling ({c['what']}) | python | {fmt(c['wall_s'], 2)} | {fmt(c.get('docs_per_s'))} | "
                     f"{fmt(c.get('mb_per_s'), 2)} | 100 | {fmt(c.get('cpu_s'))} | {fmt(c.get('peak_rss_mb'))} | "
                     f"{fmt(c.get('peak_pss_mb'))} | | | |")
    for stage, row in results["stages"].items():
        if row.get("status") != "measured":
            lines.append(f"| {stage} | - | {row.get('status')} | | | | | | | | | |")
            continue
        for tool in ("pilewright", "datatrove"):
            t = row.get(tool)
            if not t:
                continue
            pct = 100 * t["mb_per_s"] / ceil if ceil and t.get("mb_per_s") else None
            ratio = cpu = rss = ""
            if tool == "pilewright":
                ratio = f"**{fmt(row.get('throughput_ratio'), 2)}x**" if row.get("throughput_ratio") else "-"
                cpu = f"{fmt(row.get('cpu_ratio'), 2)}x" if row.get("cpu_ratio") else "-"
                rss = f"{fmt(row.get('rss_ratio'), 2)}x" if row.get("rss_ratio") else "-"
            wall = fmt(t["wall_s"], 1) + ("" if t["ok"] else " (failed)")
            lines.append(f"| {stage} | {tool} | {wall} | {fmt(t.get('docs_per_s'))} | {fmt(t.get('mb_per_s'), 2)} | "
                         f"{fmt(pct, 1)} | {fmt(t['cpu_s'])} | {fmt(t['peak_rss_mb'])} | {fmt(t['peak_pss_mb'])} | "
                         f"{ratio} | {cpu} | {rss} |")
    return "\n".join(lines)


def quality_lines(results: dict) -> list[str]:
    q = results["quality"]
    out = []
    fa = q.get("filter_agreement")
    if fa:
        out.append(f"quality filters on {fmt(fa['docs'])} docs: pilewright kept {fmt(fa['kept_a'])}, datatrove kept "
                   f"{fmt(fa['kept_b'])}; same decision on {fmt(100 * (fa['agreement'] or 0), 1)}% "
                   f"(kappa {fmt(fa['kappa'], 3)}); kept only by pilewright {fmt(fa['only_a_kept'])}, only by "
                   f"datatrove {fmt(fa['only_b_kept'])}")
    for tool, d in (q.get("dedup") or {}).items():
        rb = " ".join(f"{k}:{fmt(v['recall'], 2)}" for k, v in d["recall_by_jaccard"].items())
        out.append(f"dedup {tool}: removed {fmt(d['removed'])} of {fmt(d['docs_in'])}; precision "
                   f"{fmt(d['precision'], 3)} ({fmt(d['precision_natural_ok'], 3)} counting natural near-copies as "
                   f"right), recall {fmt(d['recall'], 3)} of {fmt(d['groups'])} injected pairs [{rb}]")
    for row, toks in (q.get("tokens") or {}).items():
        parts = [f"{tool} {fmt(t.get('tokens'))} tokens / {fmt(t.get('docs'))} docs (vocab {fmt(t.get('vocab_size'))})"
                 for tool, t in toks.items()]
        out.append(f"tokens after {row}: " + "; ".join(parts))
    return out


def previous_ratios(results_dir: str, current: dict) -> list[tuple[str, float]]:
    """End-to-end ratios of earlier runs with the same sample settings, oldest first (for the rerun spread).

    Runs of the same commit come last, so the spread is taken against the same code when there is one.
    """
    out = []
    if not os.path.isdir(results_dir):
        return out
    key = (current["corpus"]["sample_mb"], tuple(current["corpus"]["patterns_rel"]), tuple(current["stages_compared"]))
    for name in os.listdir(results_dir):
        if not name.endswith(".json"):
            continue
        r = read_json(os.path.join(results_dir, name))
        c = r.get("corpus", {})
        if (c.get("sample_mb"), tuple(c.get("patterns_rel", ())), tuple(r.get("stages_compared", ()))) == key \
                and r.get("end_to_end_ratio"):
            same_code = r.get("git_sha") == current.get("git_sha")
            out.append((same_code, r.get("date", ""), name, r["end_to_end_ratio"]))
    return [(name, ratio) for _same, _date, name, ratio in sorted(out)]


def results_path(results_dir: str, sha: str) -> str:
    os.makedirs(results_dir, exist_ok=True)
    base = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}-{sha or 'nogit'}"
    path, n = os.path.join(results_dir, base + ".json"), 2
    while os.path.exists(path):  # a rerun on the same day and commit keeps both
        path, n = os.path.join(results_dir, f"{base}-{n}.json"), n + 1
    return path


def rel(path: str) -> str:
    return os.path.relpath(path, REPO)


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", metavar="GLOB",
                    help="input JSONL(.gz) glob or folder (repeatable); default ../shared/corpora/{general,finance}")
    ap.add_argument("--sample-mb", type=float, default=50.0, help="MB of text drawn from the inputs (0 = all)")
    ap.add_argument("--dup-frac", type=float, default=0.2, help="fraction of drawn docs given an injected near-copy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=",".join(STAGES), help=f"comma list among {','.join(STAGES)}")
    ap.add_argument("--workers", type=int, default=2, help="worker processes for each tool")
    ap.add_argument("--dt-tasks", type=int, default=0, help="datatrove tasks (default: one per corpus file)")
    # in_memory: measured once each on the default sample's end-to-end row (2 cores), in_memory took 132 s
    # and 1.4 GB, multi_processing with 2 workers 145 s and 3.1 GB (its workers used under one core)
    ap.add_argument("--pw-mode", choices=("in_memory", "multi_processing"), default="in_memory",
                    help="pilewright's DirectRunner mode (multi_processing uses --workers processes)")
    ap.add_argument("--work", default=os.environ.get("PILEWRIGHT_BENCH_HOME", "/tmp/pilewright-bench"),
                    help="scratch folder for the corpus and both tools' outputs")
    ap.add_argument("--peers-home", default=os.environ.get("PEERS_HOME", "/tmp/pilewright-peers"),
                    help="where datatrove's virtualenv lives (created when missing)")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--no-save", action="store_true", help="do not write a results file")
    ap.add_argument("--no-peer", action="store_true", help="pilewright only (no ratios)")
    ap.add_argument("--step-timeout", type=float, default=1800.0, help="seconds before a step is killed")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    started = time.monotonic()
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(STAGES))
    if unknown:
        sys.exit(f"benchmarks/run.py: unknown stage(s) in --only: {', '.join(unknown)}")
    patterns = a.corpus or corpus.default_patterns(REPO)
    os.makedirs(a.work, exist_ok=True)
    b = Bench(a)

    cdir = corpus.prepare(patterns, a.sample_mb, a.dup_frac, a.seed, a.work, log=log)
    meta = corpus.load_meta(cdir)
    docs_dir = os.path.join(cdir, "docs")
    n_files = sum(len(v) for v in meta["parts"].values())
    a.dt_tasks = a.dt_tasks or n_files
    log(f"corpus {cdir}: {meta['docs']:,} docs ({meta['injected_copies']:,} injected near-copies), "
        f"{meta['text_bytes'] / 1e6:.1f} MB text in {n_files} files")
    texts = corpus.read_corpus_texts(cdir)
    truth = corpus.read_truth(cdir)
    N, B = meta["docs"], meta["text_bytes"]

    schema = b.pw_schema()
    built = schema["built"]

    def stage_block(name: str) -> dict:
        """The stage's block set to make datatrove's decisions, for the keys this checkout has."""
        block = {"enabled": True}
        defaults = built.get(name, {})
        if name == "quality":
            if "rules" in defaults:
                block["rules"] = QUALITY_RULES
            if "filter_no_terminal_punct" in (defaults.get("c4") or {}):
                block["c4"] = {"filter_no_terminal_punct": False}  # as datatrove's step above (FineWeb's setting)
        if name == "dedup":
            if isinstance(defaults.get("minhash"), dict):
                block["minhash"] = {k: v for k, v in MINHASH.items() if k in defaults["minhash"]}
            if "exact" in defaults:
                block["exact"] = False  # datatrove's MinHash pipeline has no separate exact pass
        return block

    results: dict = {
        "end_to_end_ratio": None,
        "end_to_end_rss_ratio": None,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())},
        "versions": {"python": sys.version.split()[0], "pilewright": tool_version(b.pw_py, "pilewright"),
                     "apache-beam": tool_version(b.pw_py, "apache-beam"),
                     "datatrove": tool_version(b.dt_py, "datatrove") if b.dt_py else None,
                     "tokenizers(datatrove)": tool_version(b.dt_py, "tokenizers") if b.dt_py else None},
        "settings": {"pilewright_beam_args": b.pw_beam_args(), "workers": a.workers, "datatrove_tasks": a.dt_tasks,
                     "quality_rules": QUALITY_RULES, "minhash": MINHASH, "vocab_size": VOCAB},
        "corpus": {"docs": N, "text_mb": round(B / 1e6, 2), "file_mb": round(meta["file_bytes"] / 1e6, 2),
                   "injected_copies": meta["injected_copies"], "files": n_files, "sample_mb": a.sample_mb,
                   "seed": a.seed, "dup_frac": a.dup_frac, "domains": meta["domains"],
                   "patterns_rel": [os.path.relpath(p, REPO) for p in patterns]},
        "stages_built": sorted(built), "stages_compared": [], "ceilings": {}, "stages": {}, "quality": {},
    }

    results["settings"]["pilewright_stage_blocks"] = {s: stage_block(s) for s in ("quality", "dedup") if s in built}

    # ceilings: the same gzip + json read, on one process and on --workers processes
    for procs in sorted({1, a.workers}):
        out_json = os.path.join(a.work, f"ceiling_{procs}.json")
        cmd = [b.pw_py, os.path.join(HERE, "bench_common_ceiling.py"), cdir, "--procs", str(procs)]
        m = measure(cmd, log_path=out_json)
        c = read_json(out_json)
        rec = {"what": f"gzip+json, {procs} proc", **{k: v for k, v in m.as_dict().items() if k not in ("cmd", "extra", "log")}}
        if m.rc == 0 and m.wall_s > 0:
            rec["docs_per_s"] = round(c["docs"] / m.wall_s, 1)
            rec["mb_per_s"] = round(c["text_bytes"] / 1e6 / m.wall_s, 2)
        results["ceilings"][f"read_{procs}proc"] = rec
        log(f"ceiling {procs} proc: {rec.get('mb_per_s')} MB/s")

    quality_built, dedup_built = "quality" in built, "dedup" in built
    dtw = lambda name: os.path.join(a.work, "dt", name)  # noqa: E731

    def run_row(stage: str, pw_steps: list[Step], dt_steps: list[Step]) -> dict:
        pw = b.run_steps("pilewright", stage, pw_steps)
        row = {"status": "measured", "pilewright": pw.as_dict(N, B)}
        if b.dt_py:
            peer = b.run_steps("datatrove", stage, dt_steps)
            row["datatrove"] = peer.as_dict(N, B)
            if pw.ok and peer.ok:
                row["throughput_ratio"] = evaluate.throughput_ratio(pw.wall_s, peer.wall_s)
                row["rss_ratio"] = round(pw.peak_rss_mb / peer.peak_rss_mb, 3) if peer.peak_rss_mb else None
                row["pss_ratio"] = round(pw.peak_pss_mb / peer.peak_pss_mb, 3) if peer.peak_pss_mb else None
                row["cpu_ratio"] = round(pw.cpu_s / peer.cpu_s, 3) if peer.cpu_s else None
        return row

    not_built = "not built (no `{}` block in this checkout's StagesConfig)"
    for stage in STAGES:
        if stage not in only:
            continue
        if stage == "ingest":
            steps, out = b.pw_stage_steps("ingest", {}, cdir, full=False)
            row = run_row(stage, steps, [b.dt_step("ingest", docs_dir, dtw("ingest"), collect=True)])
        elif stage == "quality":
            if not quality_built:
                results["stages"][stage] = {"status": not_built.format("quality")}
                continue
            steps, out = b.pw_stage_steps("quality", {"quality": stage_block("quality")}, cdir, full=False)
            row = run_row(stage, steps, [b.dt_step("filter", docs_dir, dtw("quality"), collect=True)])
            pw_kept = read_ids(os.path.join(out, "kept_ids.txt"))
            dt_kept = read_ids(os.path.join(dtw("quality"), "kept_filter.txt"))
            if pw_kept is not None and dt_kept is not None:
                results["quality"]["filter_agreement"] = evaluate.filter_agreement(texts, pw_kept, dt_kept)
            row["pilewright_reasons"] = read_json(os.path.join(out, "bench_summary.json")).get("reasons")
            row["datatrove_reasons"] = read_json(os.path.join(dtw("quality"), "summary_filter.json")).get("reasons")
        elif stage == "dedup":
            if not dedup_built:
                results["stages"][stage] = {"status": not_built.format("dedup")}
                continue
            steps, out = b.pw_stage_steps("dedup", {"dedup": stage_block("dedup")}, cdir, full=False)
            row = run_row(stage, steps, b.dt_minhash(docs_dir, dtw("dedup")))
            kept = {"pilewright": read_ids(os.path.join(out, "kept_ids.txt")),
                    "datatrove": read_ids(os.path.join(dtw("dedup"), "kept_minhash_filter.txt"))}
            removed_outside = set()
            members = {t["orig_id"] for t in truth} | {t["copy_id"] for t in truth}
            for ids in kept.values():
                if ids is not None:
                    removed_outside |= (set(texts) - set(ids)) - members
            log(f"checking {len(removed_outside)} removed non-injected docs for natural near-copies")
            natural = evaluate.natural_near_duplicates(removed_outside, texts)
            results["quality"]["dedup"] = {tool: evaluate.dedup_scores(ids, texts, truth, natural)
                                           for tool, ids in kept.items() if ids is not None}
        elif stage == "tokenize":
            steps, out = b.pw_stage_steps("tokenize", {}, cdir, full=True)
            row = run_row(stage, steps, b.dt_tokenize(docs_dir, dtw("tokenize")))
            results["quality"].setdefault("tokens", {})["tokenize"] = _tokens(out, dtw("tokenize"), N, N)
        else:  # end_to_end: every built stage that datatrove also runs, then tokenization
            compared = [s for s, ok in (("quality", quality_built), ("dedup", dedup_built)) if ok]
            results["stages_compared"] = compared
            steps, out = b.pw_stage_steps("end_to_end", {s: stage_block(s) for s in compared}, cdir, full=True)
            dt_steps: list[Step] = []
            src = docs_dir
            if quality_built:
                # the same command on the same input as the quality row: measured once, counted in both
                dt_steps.append(b.dt_step("filter", docs_dir, dtw("quality"), collect=True))
                src = os.path.join(dtw("quality"), "filter_out")
            if dedup_built:
                # without a filter step the input is the dedup row's: the same commands, measured once
                mh_work = dtw("e2e") if quality_built else dtw("dedup")
                dt_steps += b.dt_minhash(src, mh_work)
                src = os.path.join(mh_work, "dedup_out")
            dt_steps += b.dt_tokenize(src, dtw("e2e"))
            row = run_row(stage, steps, dt_steps)
            row["stages"] = compared + ["tokenize"]
            pw_sum = read_json(os.path.join(out, "bench_summary.json"))
            dt_docs = N
            if dedup_built:
                dt_docs = read_json(os.path.join(mh_work, "summary_minhash_filter.json")).get("docs_out")
            elif quality_built:
                dt_docs = read_json(os.path.join(dtw("quality"), "summary_filter.json")).get("docs_out")
            results["quality"].setdefault("tokens", {})["end_to_end"] = _tokens(
                out, dtw("e2e"), pw_sum.get("token_docs"), dt_docs)
            if row.get("throughput_ratio"):
                results["end_to_end_ratio"] = row["throughput_ratio"]
                results["end_to_end_rss_ratio"] = row.get("rss_ratio")
        results["stages"][stage] = row

    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    e2e = results["end_to_end_ratio"]
    rss = results["end_to_end_rss_ratio"]
    results["goals"] = {
        "end_to_end_throughput_ge_3x": None if e2e is None else e2e >= GOAL_E2E_RATIO,
        "end_to_end_peak_rss_not_higher": None if rss is None else rss <= 1.0,
        "under_30_minutes": results["total_seconds"] < 1800,
    }
    prev = previous_ratios(a.results_dir, results)
    if prev and e2e:
        results["rerun_spread"] = {"previous": dict(prev),
                                   "spread_with_latest": evaluate.spread([prev[-1][1], e2e])}

    print()
    print(f"pilewright vs datatrove {results['versions']['datatrove']} on {N:,} docs / {B / 1e6:.1f} MB "
          f"({meta['injected_copies']:,} injected near-copies), {os.cpu_count()} cores, "
          f"pilewright {' '.join(b.pw_beam_args())}; load {results['machine']['loadavg_at_start'][0]:.1f}"
          f"->{results['machine']['loadavg_at_end'][0]:.1f}")
    print()
    print(table(results))
    print()
    for line in quality_lines(results):
        print("- " + line)
    print()
    if e2e is not None:
        print(f"end_to_end_ratio = {e2e:.2f} (goal >= {GOAL_E2E_RATIO:.0f}: "
              f"{'met' if e2e >= GOAL_E2E_RATIO else 'NOT met'}); peak RSS ratio = {fmt(rss, 2)} "
              f"(goal <= 1: {'met' if rss is not None and rss <= 1 else 'NOT met'})")
    if results.get("rerun_spread"):
        print(f"previous end_to_end_ratio with these settings: {prev[-1][1]} ({prev[-1][0]}); "
              f"spread {100 * (results['rerun_spread']['spread_with_latest'] or 0):.1f}%")
    print(f"total {results['total_seconds'] / 60:.1f} min")
    if not a.no_save:
        path = results_path(a.results_dir, results["git_sha"])
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        print(f"results: {rel(path)}")
    return 0


def _tokens(pw_out: str, dt_work: str, pw_docs, dt_docs) -> dict:
    pw = read_json(os.path.join(pw_out, "bench_summary.json"))
    dt_sum = read_json(os.path.join(dt_work, "summary_tokenize.json"))
    return {"pilewright": {"tokens": pw.get("tokens"), "docs": pw.get("token_docs", pw_docs),
                           "vocab_size": pw.get("vocab_size")},
            "datatrove": {"tokens": dt_sum.get("tokens"), "docs": dt_docs, "vocab_size": dt_sum.get("vocab_size")}}


if __name__ == "__main__":
    sys.exit(main())
