"""Getting a job ready for remote workers: the wheel they install, and paths they can actually read.

A remote worker (Dataflow, or a Flink/Spark cluster's SDK harness) has pilewright only if the job ships
it (``--extra_package dist/pilewright-*.whl``), and sees none of the launching machine's files. Paths to
data inside the pilewright package itself (the embedded sample) are rewritten to ``pkg://`` paths that
each worker resolves in its own installed copy; any other local path, in any path field of the config, is
refused on Dataflow before launch.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from typing import Iterable, Optional, Sequence

from pilewright.pipeline.job import package_fs
from pilewright.pipeline.job.config import ConfigError, LoadedConfig
from pilewright.pipeline.job.options import _flag_value, runner_kind
from pilewright.schemas.paths import PathValue, is_remote, map_data_paths

# deepest first, so a sample file maps to the sample package rather than to pilewright.pipeline
PACKAGES = (
    "pilewright.pipeline.sample",
    "pilewright.pipeline",
    "pilewright.transforms",
    "pilewright.tokenizer",
    "pilewright.schemas",
)
# source folder -> package, as in pyproject.toml's package-dir
SOURCE_DIRS = {"pipeline/sample": "pilewright.pipeline.sample", "pipeline": "pilewright.pipeline",
               "transforms": "pilewright.transforms", "tokenizer": "pilewright.tokenizer",
               "schemas": "pilewright.schemas"}
# data files a wheel must carry besides the modules (what workers read from the package)
# folders whose every file is data a worker reads
DATA_FOLDERS = ("transforms/models", "pipeline/audit/templates")
DATA_SUFFIXES = (".yaml", ".jsonl.gz", ".ftz", ".bin", ".html", ".j2", ".css")
PORTABLE_KINDS = ("portable", "flink", "spark")


def runs_remotely(beam_args: Sequence[str]) -> bool:
    """Whether the job's workers may run on other machines than this one."""
    kind = runner_kind(_flag_value(beam_args, "runner") or "DirectRunner")
    if kind == "dataflow":
        return True
    if kind in PORTABLE_KINDS:
        return (_flag_value(beam_args, "environment_type") or "DOCKER").upper() != "LOOPBACK"
    return False


def _package_of(path: str) -> Optional[tuple[str, str]]:
    """(package, path inside it) when ``path`` lies inside an installed pilewright package."""
    real = os.path.realpath(path)
    for package in PACKAGES:
        root = os.path.realpath(str(resources.files(package)))
        if real == root or real.startswith(root + os.sep):
            return package, os.path.relpath(real, root).replace(os.sep, "/")
    return None


DEFAULT_REMOTE_FIX = "copy it to the cloud (e.g. `gcloud storage cp`) and give its gs:// path"


def for_remote_workers(loaded: LoadedConfig, strict: bool = True) -> LoadedConfig:
    """The config with package-data paths as ``pkg://`` paths; other local paths refused when ``strict``.

    Every path field of every enabled stage and curation profile is seen (``schemas.paths``: the fields
    typed ``DataPath``), so a path the workers read can never reach them as this machine's path. A field
    read only as a local path (``DataPath.urls`` false, as a spaCy model folder) is refused even inside the
    package. Only the resolved config changes: the manifest records the config as written, so the manifest
    and document ids are the same wherever the job runs.
    """
    refused: list[PathValue] = []

    def rewrite(pv: PathValue) -> str:
        if is_remote(pv.value):
            return pv.value
        inside = _package_of(pv.value) if pv.mark.urls else None
        if inside is not None:
            return package_fs.package_url(*inside)
        if strict:
            refused.append(pv)
        return pv.value

    resolved = map_data_paths(loaded.resolved, rewrite, skip_disabled=True)
    if refused:
        first = refused[0]
        more = f" [+{len(refused) - 1} more: {', '.join(pv.where for pv in refused[1:])}]" if len(refused) > 1 else ""
        raise ConfigError(
            f"{first.where}: {first.value!r} is on this machine, which remote workers cannot read; "
            f"{first.mark.remote_fix or DEFAULT_REMOTE_FIX}{more}"
        )
    return LoadedConfig(written=loaded.written, resolved=resolved, path=loaded.path)


def check_remote_output(out_dir: str) -> None:
    if "://" not in out_dir:
        raise ConfigError(
            f"output: {out_dir!r} is on this machine, which Dataflow workers cannot write; "
            "pass --output gs://BUCKET/PATH"
        )


def prepare_for_runner(loaded: LoadedConfig, beam_args: Sequence[str], out_dir: str) -> LoadedConfig:
    """What ``run_job`` calls: unchanged for local runners; for remote ones, paths workers can read."""
    if not runs_remotely(beam_args):
        return loaded
    dataflow = runner_kind(_flag_value(beam_args, "runner") or "") == "dataflow"
    if dataflow:
        check_remote_output(out_dir)
    return for_remote_workers(loaded, strict=dataflow)


def build_wheel(dist_dir: str, source_dir: str) -> str:
    """Builds the pilewright wheel from a source checkout into ``dist_dir``; returns its path.

    Offline (``--no-isolation``): uses this environment's setuptools (>= 77, for the SPDX licence field)
    instead of downloading one. The build runs on a copy of the sources, so nothing is written into the
    checkout (setuptools would leave build/ and *.egg-info there).
    """
    os.makedirs(dist_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pilewright-wheel-") as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        for name in os.listdir(source_dir):
            path = os.path.join(source_dir, name)
            if name in ("pyproject.toml", "README.md") or name.startswith(("LICENSE", "LICENCE", "NOTICE")):
                shutil.copy2(path, src)
        for top in sorted({folder.split("/")[0] for folder in SOURCE_DIRS}):
            shutil.copytree(os.path.join(source_dir, top), os.path.join(src, top),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist_dir, src]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError("building the wheel failed: " + " | ".join(tail))
    wheels = sorted(glob.glob(os.path.join(dist_dir, "pilewright-*.whl")))
    if not wheels:
        raise RuntimeError(f"no pilewright wheel in {dist_dir}")
    return wheels[-1]


def expected_wheel_files(source_dir: str) -> list[str]:
    """Every module and data file of the source tree, as its path inside the wheel.

    Walks every subpackage and data folder: each folder ``a/b`` is package ``pilewright.a.b``, so a
    subpackage left out of pyproject.toml's package list shows up here as missing files.
    """
    out = []
    for top in sorted({folder.split("/")[0] for folder in SOURCE_DIRS}):
        for folder, subs, names in os.walk(os.path.join(source_dir, top)):
            subs[:] = sorted(s for s in subs if s != "__pycache__")
            rel = os.path.relpath(folder, source_dir).replace(os.sep, "/")
            for name in sorted(names):
                if (name.endswith(".py") or name.endswith(DATA_SUFFIXES) or (rel == "pipeline/sample" and name.endswith(".md"))
                        or rel in DATA_FOLDERS):
                    out.append(f"pilewright/{rel}/{name}")
    return out


def missing_from_wheel(wheel_names: Iterable[str], source_dir: str) -> list[str]:
    """Source files a wheel built from ``source_dir`` lacks (a packaging mistake workers would hit)."""
    names = set(wheel_names)
    return [f for f in expected_wheel_files(source_dir) if f not in names]
