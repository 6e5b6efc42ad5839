"""Minimal reproduction: Beam's DaskRunner reports success while outputs are missing or wrong.

The same 8-line pipeline (two independent sinks: a global sum, and the elements themselves) runs on the
DirectRunner and on the DaskRunner; the script reads the written files back and compares them with
what the data must give. It is why ``pilewright run --runner=DaskRunner`` is refused.

    python benchmarks/dask_repro.py                  # needs dask + distributed importable
    python benchmarks/dask_repro.py --ensure-venv    # first makes benchmarks/work/dask-venv (project
                                                     # packages + dask/distributed) and re-runs in it

Exit status 0 when the DaskRunner is wrong (the refusal is still justified), 1 when it was right on every
check (then the refusal in pipeline/job/options.py should be revisited), 2 when it could not run.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

N = 1000
EXPECTED_SUM = N * (N - 1) // 2
# Beam knows the Dask runner only by its full name
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
VENV = Path(__file__).resolve().parent / "work" / "dask-venv"


def build(p, out_dir: str) -> None:
    import apache_beam as beam

    nums = p | "Numbers" >> beam.Create(list(range(N)))
    # two independent branches, as in every real job (shards + audit + side outputs)
    (nums | "Sum" >> beam.CombineGlobally(sum)
          | "SumText" >> beam.Map(str)
          | "WriteSum" >> beam.io.WriteToText(os.path.join(out_dir, "sum"), shard_name_template=""))
    (nums | "ItemText" >> beam.Map(str)
          | "WriteItems" >> beam.io.WriteToText(os.path.join(out_dir, "items")))


def observe(out_dir: str) -> dict:
    """What the files hold: the global sum line(s) and the element lines of every items shard."""
    sum_lines: list[str] = []
    if os.path.exists(os.path.join(out_dir, "sum")):
        with open(os.path.join(out_dir, "sum")) as f:
            sum_lines = [line.strip() for line in f if line.strip()]
    items: list[str] = []
    shards = sorted(glob.glob(os.path.join(out_dir, "items-*")))
    for path in shards:
        with open(path) as f:
            items += [line.strip() for line in f if line.strip()]
    return {"sum_lines": sum_lines, "item_lines": len(items), "distinct_items": len(set(items)),
            "item_shards": len(shards), "empty_shards": sum(os.path.getsize(s) == 0 for s in shards)}


def problems(seen: dict) -> list[str]:
    out = []
    if seen["sum_lines"] != [str(EXPECTED_SUM)]:
        out.append(f"global sum: expected one line {EXPECTED_SUM}, got {seen['sum_lines'][:3]!r}")
    if seen["item_lines"] != N:
        out.append(f"items: expected {N} lines, got {seen['item_lines']}")
    if seen["distinct_items"] != N:
        out.append(f"items: expected {N} distinct values, got {seen['distinct_items']}")
    if seen["empty_shards"]:
        out.append(f"items: {seen['empty_shards']} of {seen['item_shards']} shard files are empty")
    return out


def run(runner: str, extra: list[str]) -> tuple[str, dict]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    out_dir = tempfile.mkdtemp(prefix="dask-repro-")
    p = beam.Pipeline(options=PipelineOptions([f"--runner={runner}", *extra]))
    build(p, out_dir)
    state = p.run().wait_until_finish()
    return str(state), observe(out_dir)


def ensure_venv() -> Path:
    """A throwaway venv that sees this interpreter's packages (Beam, ...) plus dask and distributed."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        site = subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
        # the project's own packages stay where they are; only dask lands in the throwaway venv
        Path(site, "parent-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "dask>=2024.4.2", "distributed>=2024.4.2"])
    return python


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ensure-venv", action="store_true", help="create benchmarks/work/dask-venv and re-run in it")
    args = ap.parse_args()
    if args.ensure_venv:
        return subprocess.call([str(ensure_venv()), __file__])
    try:
        import apache_beam
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as e:
        print(f"cannot run: {e}; use --ensure-venv", file=sys.stderr)
        return 2
    print(f"apache-beam {apache_beam.__version__}, dask {dask.__version__}, distributed {distributed.__version__}")
    wrong = False
    for runner, extra in (("DirectRunner", ["--direct_running_mode=in_memory"]), (DASK_RUNNER, [])):
        state, seen = run(runner, extra)
        found = problems(seen)
        verdict = "correct" if not found else "WRONG: " + "; ".join(found)
        print(f"{runner.rsplit('.', 1)[-1]:<13} state={state} {seen} -> {verdict}")
        if runner == DASK_RUNNER and found:
            wrong = True
    print("DaskRunner gives wrong results: pilewright refuses it" if wrong else
          "DaskRunner was correct here: revisit the refusal in pipeline/job/options.py")
    return 0 if wrong else 1


if __name__ == "__main__":
    sys.exit(main())
