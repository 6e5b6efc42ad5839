"""``pilewright run --resume``: what a killed run left that the next one may reuse.

A run is a sequence of phases (``pipeline.job.phases``); the curate phase is cut into units of input files,
and each unit ends by writing ``OUT/.work/curate/<unit>/unit.json`` (to a temporary name, renamed) holding
its fingerprint: the config hash plus the path, size and mtime of each of its files. ``--resume`` keeps
``OUT/.work`` and reuses every unit whose ``unit.json`` matches, so a run killed after 90 of 100 units
reruns 10 of them, then the corpus phase. A run without ``--resume`` starts by removing ``OUT/.work``; any
run removes it when it ends. A unit's outputs do not depend on which other units ran with it, so a
resumed run writes the same bytes as an uninterrupted one.
"""
from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout


def work_dir(out_dir: str) -> str:
    return FileSystems.join(out_dir, layout.WORK)


def remove_work(out_dir: str) -> None:
    path = work_dir(out_dir)
    if FileSystems.exists(path):
        FileSystems.delete([path])
