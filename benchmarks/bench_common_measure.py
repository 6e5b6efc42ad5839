"""Timing one command and the memory and CPU of its whole process tree, the same way for every tool.

Peak memory is sampled from /proc every ``interval`` seconds over the command and all its descendants
(Beam's SDK workers and datatrove's pool workers are child processes, so a single-process
``ru_maxrss`` would miss most of either). Two sums are kept: RSS (what ``top`` shows; pages shared between
forked workers count once per process) and PSS (shared pages split between the processes sharing them).
Where /proc is missing (macOS), ``ru_maxrss`` of the largest child is the fallback. Standard library only.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

_HAS_PROC = os.path.isdir("/proc/self")
_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Measurement:
    cmd: list[str]
    rc: int
    wall_s: float
    cpu_s: Optional[float]  # user+system of the whole tree
    peak_rss_mb: Optional[float]  # largest sampled sum of RSS over the tree
    peak_pss_mb: Optional[float]  # largest sampled sum of PSS over the tree
    max_single_rss_mb: Optional[float]  # largest VmHWM of one process in the tree
    load_before: Optional[float]
    load_after: Optional[float]
    samples: int = 0
    log: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _loadavg() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def process_tree(root: int) -> list[int]:
    """``root`` and every descendant alive now."""
    kids = _children()
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(kids.get(pid, ()))
    return out


def _proc_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) bytes of one process; zeros if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def _proc_cpu_hwm(pid: int) -> tuple[int, int]:
    """(user+system clock ticks, VmHWM bytes) of one process."""
    ticks = hwm = 0
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                    break
    except (OSError, IndexError, ValueError):
        pass
    return ticks, hwm


def measure(cmd: Sequence[str], log_path: Optional[str] = None, env: Optional[dict] = None,
            cwd: Optional[str] = None, interval: float = 0.2, timeout: Optional[float] = None) -> Measurement:
    """Runs ``cmd`` to completion (stdout+stderr to ``log_path``) and returns what it cost."""
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    load0 = _loadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    peak_rss = peak_pss = 0
    ticks: dict[int, int] = {}
    hwm: dict[int, int] = {}
    samples = 0
    try:
        while True:
            if _HAS_PROC:
                rss_sum = pss_sum = 0
                for pid in process_tree(proc.pid):
                    rss, pss = _proc_memory(pid)
                    rss_sum += rss
                    pss_sum += pss
                    t, h = _proc_cpu_hwm(pid)
                    # a pid is counted at its latest reading: CPU ticks and VmHWM only grow
                    ticks[pid] = max(ticks.get(pid, 0), t)
                    hwm[pid] = max(hwm.get(pid, 0), h)
                peak_rss, peak_pss = max(peak_rss, rss_sum), max(peak_pss, pss_sum)
                samples += 1
            try:
                proc.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                if timeout is not None and time.monotonic() - t0 > timeout:
                    proc.kill()
                    proc.wait()
                    break
    finally:
        if log_path:
            log.close()
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # reaped children's CPU is exact from rusage; the samples catch workers a pool never reaped
    cpu_rusage = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cpu_sampled = sum(ticks.values()) / _CLK if ticks else 0.0
    mb = 1 / 2**20
    rss_scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss is KiB on Linux, bytes on macOS
    return Measurement(
        cmd=list(cmd), rc=proc.returncode, wall_s=round(wall, 2),
        cpu_s=round(max(cpu_rusage, cpu_sampled), 2),
        peak_rss_mb=round(peak_rss * mb, 1) if _HAS_PROC else round(ru1.ru_maxrss * rss_scale * mb, 1),
        peak_pss_mb=round(peak_pss * mb, 1) if _HAS_PROC else None,
        max_single_rss_mb=round(max(hwm.values(), default=0) * mb, 1) if _HAS_PROC else None,
        load_before=load0, load_after=_loadavg(), samples=samples, log=log_path or "",
    )
