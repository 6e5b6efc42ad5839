"""Units of a phased run: the input files cut into batches, and how many run at once.

A unit is a contiguous run of the input files in a fixed order (sources in config order, then path), cut
where its bytes would pass the unit size. Which unit a file lands in never changes a document's fate: the
curate phase is per document, and everything decided across documents happens later over all units. So
the outputs are the same for every unit size and every number of units run at once; only memory and
speed change.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.config import RunConfig

MB = 1 << 20
# A unit process's peak memory is about this much on top of its fixed cost (models, Beam), per MB of
# compressed input (measured with benchmarks/bench_scale.py: JSONL.gz of general and finance text)
UNIT_FIXED_MB = 700
UNIT_MB_PER_INPUT_MB = 12.0
# no unit is bigger than this many MB of input, whatever the budget: a killed run loses at most one
# unit's work per process, and the units of a small corpus still spread over the cores
MAX_UNIT_MB = 256
# no unit is bigger than this many MB of input by default: a bigger corpus is more units, not bigger
# ones, so a unit process's memory stays what it is on a small corpus (each unit costs about a CPU-second
# of its own: its pipeline's graph; models and the evaluation index are loaded once per process)
TARGET_UNIT_MB = 8.0
# a later per-document phase is cut from the documents an earlier one wrote (uncompressed JSON, about the
# text's size), not from compressed input: its units hold this many bytes of those per byte of a curate
# unit's input, about the same text per unit (JSONL.gz of prose is about a third of its text), so it runs
# no more pipelines than the curate phase did
SPILL_BYTES_PER_INPUT_BYTE = 3
# at least this many units per process when the input allows, so processes finish close together
UNITS_PER_PROCESS = 2
# but no unit smaller than this (MB of input) unless that leaves a process without one: a unit pipeline
# costs about a CPU-second on its own (its graph, its models' setup), whatever its size
MIN_UNIT_MB = 4.0


@dataclass(frozen=True)
class InputFile:
    source: str
    pattern: str
    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Unit:
    index: int
    files: tuple[InputFile, ...]
    # every file the sources' patterns match, expanded where the unit runs (a remote runner's one unit:
    # the job graph never lists the files, and the launcher never lists a bucket)
    whole: bool = False

    @property
    def name(self) -> str:
        return f"u{self.index:05d}"

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def read_list(self) -> Optional[list[tuple[str, str, str]]]:
        """(source, pattern, path) of every file, as the source stage reads them (``RunContext.inputs``; None: all)."""
        return None if self.whole else [(f.source, f.pattern, f.path) for f in self.files]

    def fingerprint(self, config_sha256: str) -> str:
        """Config and the unit's files (path, size, mtime): a finished unit is reused only when both match."""
        files = [[f.source, f.pattern, f.path, f.size, f.mtime] for f in self.files]
        return hashlib.sha256((config_sha256 + json.dumps(files)).encode()).hexdigest()


def list_inputs(cfg: RunConfig) -> list[InputFile]:
    """Every input file once (a file two patterns of one source match is read once, under the first)."""
    out, seen = [], set()
    for src in cfg.sources:
        for pattern in src.paths:
            metas = sorted(FileSystems.match([pattern])[0].metadata_list, key=lambda m: m.path)
            for meta in metas:
                if (src.name, meta.path) in seen:
                    continue
                seen.add((src.name, meta.path))
                out.append(InputFile(src.name, pattern, meta.path, int(meta.size_in_bytes),
                                     float(getattr(meta, "last_updated_in_seconds", 0.0) or 0.0)))
    return out


def cut_units(files: Sequence[InputFile], unit_bytes: int) -> list[Unit]:
    """Consecutive files, a new unit when the next file would pass ``unit_bytes`` (a bigger file is a
    unit of its own)."""
    units: list[list[InputFile]] = []
    size = 0
    for f in files:
        if units and size + f.size <= unit_bytes:
            units[-1].append(f)
            size += f.size
        else:
            units.append([f])
            size = f.size
    return [Unit(i, tuple(group)) for i, group in enumerate(units)]


def cut_even(files: Sequence[InputFile], unit_bytes: int, processes: int, min_split_bytes: int = 0) -> list[Unit]:
    """``cut_units``, then, while the number of units is not a multiple of ``processes``, the last unit of
    more than one file and at least ``min_split_bytes`` split in two (by bytes). Why: units run
    ``processes`` at a time, and with 9 units of the same size on 2 processes the last runs alone while the
    other core idles (about 15 s of 180 at 8x of bench_scale); one more, smaller unit costs about a
    CPU-second, and a small corpus stays one unit (no process to start)."""
    groups = [list(u.files) for u in cut_units(files, unit_bytes)]
    while processes > 1 and len(groups) % processes:
        splittable = [i for i, g in enumerate(groups)
                      if len(g) > 1 and sum(f.size for f in g) >= min_split_bytes]
        if not splittable:
            break
        i = splittable[-1]
        group = groups[i]
        half, head, cut = sum(f.size for f in group) / 2, group[0].size, 1
        while cut < len(group) - 1 and head + group[cut].size <= half:
            head += group[cut].size
            cut += 1
        groups[i:i + 1] = [group[:cut], group[cut:]]
    return [Unit(i, tuple(g)) for i, g in enumerate(groups)]


def machine_memory_mb() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MB)
    except (ValueError, OSError, AttributeError):
        return 8192


@dataclass(frozen=True)
class Plan:
    processes: int
    unit_bytes: int
    units: tuple[Unit, ...]


def plan_units(files: Sequence[InputFile], cores: int, workers: Optional[int] = None,
               memory_mb: Optional[int] = None, unit_mb: Optional[float] = None) -> Plan:
    """How many unit processes run at once and how big a unit is.

    ``workers``: processes wanted (default ``cores``); ``memory_mb``: the RAM budget for all of them
    (default: half the machine's memory); ``unit_mb``: a fixed unit size in MB of input (default:
    ``TARGET_UNIT_MB``, smaller when the budget asks for it or to give each process
    ``UNITS_PER_PROCESS`` units, never under ``MIN_UNIT_MB`` unless that leaves a process without one).
    """
    budget = memory_mb if memory_mb is not None else machine_memory_mb() // 2
    p = max(1, workers if workers is not None else cores)
    # fewer processes when the fixed cost alone would pass the budget
    while p > 1 and p * (UNIT_FIXED_MB + UNIT_MB_PER_INPUT_MB) > budget:
        p -= 1
    total = sum(f.size for f in files)
    if unit_mb is not None:
        unit_bytes = int(unit_mb * MB)
    else:
        by_budget = (budget / p - UNIT_FIXED_MB) / UNIT_MB_PER_INPUT_MB
        by_budget = max(1.0, min(float(MAX_UNIT_MB), TARGET_UNIT_MB, by_budget))
        spread = total / (p * UNITS_PER_PROCESS) / MB if p > 1 else by_budget
        floor = min(MIN_UNIT_MB, total / p / MB) if p > 1 else 1.0
        unit_bytes = int(max(1.0, floor, min(by_budget, spread)) * MB)
    # a size the user fixed is cut as asked; the default one into a multiple of P units of at most that size
    units = cut_units(files, max(1, unit_bytes)) if unit_mb is not None else cut_even(files, max(1, unit_bytes), p,
                                                                                           int(MIN_UNIT_MB * MB))
    return Plan(min(p, max(1, len(units))), unit_bytes, tuple(units))
