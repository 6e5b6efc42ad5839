"""`pilewright run --resume`: what a resume after a kill costs against a whole run, on the embedded sample.

    python benchmarks/bench_resume.py [--config FILE]

Runs, each a fresh `pilewright run` process on the same config (default: the embedded sample):
1. a plain run (the peer);
2. an uninterrupted `--resume` run, for its phase times (OUT/audit/run.json ``phases``);
3. a `--resume` run SIGKILLed as soon as every curate unit is marked complete (its unit.json), then
   `--resume` again: the resumed run's wall time, the units it reused, and whether the outputs are
   byte-identical to 1 and 2.
Prints seconds and ratios; the machine is shared, so compare ratios within one run of this script.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUTS = ("manifest.json", "tokens", "tokenizer", "documents", "rejected", "dead_letter")


def digests(out: Path) -> dict[str, str]:
    got = {}
    for name in OUTPUTS:
        paths = [out / name] if (out / name).is_file() else sorted((out / name).iterdir())
        for p in paths:
            got[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return got


def cmd(config, out: Path, *extra: str) -> list[str]:
    base = [sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--output", str(out), "--quiet", *extra]
    return base + (["--config", config] if config else [])


def timed(config, out: Path, *extra: str) -> float:
    t = time.monotonic()
    subprocess.run(cmd(config, out, *extra), check=True, cwd=REPO)
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = timed(args.config, tmp / "plain")
        full = timed(args.config, tmp / "full", "--resume")
        phases = json.loads((tmp / "full" / "audit" / "run.json").read_text())["phases"]
        curate_units = phases["curate_units"]
        killed = tmp / "killed"
        proc = subprocess.Popen(cmd(args.config, killed, "--resume"), cwd=REPO, start_new_session=True)
        while proc.poll() is None and len(list((killed / ".work" / "curate").glob("u*/unit.json"))) < curate_units:
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        resumed_wall = timed(args.config, killed, "--resume")
        run = json.loads((killed / "audit" / "run.json").read_text())
        same = digests(killed) == digests(tmp / "full")
        same_plain = digests(tmp / "plain") == digests(tmp / "full")
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in phases["phase_seconds"].items())
    print(f"plain run (peer)            : {plain:7.1f} s wall (process)")
    print(f"--resume, uninterrupted     : {full:7.1f} s wall (process); {seconds}; {full / plain:.2f}x the plain run")
    print(f"--resume after SIGKILL      : {resumed_wall:7.1f} s wall (process); reused units: "
          f"{run['resume']['reused_units']} of {run['phases']['units']}; {resumed_wall / full:.2f}x the "
          f"uninterrupted --resume run")
    print(f"outputs byte-identical to the uninterrupted --resume run: {same}; to the plain run: {same_plain}")


if __name__ == "__main__":
    main()
