"""What a run did, read back after it: the one import point of the commands and the job.

The work is split by job: ``reading`` (the run's files, checked against their models), ``sections`` (each
stage's own audit sections, by the kind its family declares), ``views`` (the ``Summary`` model and how it
is built) and ``text`` (the terminal lines). ``load_summary(out_dir, source=None)`` gives the ``Summary``;
``render_text`` prints it; ``Summary.model_dump()`` is ``pilewright audit OUT --json``.
"""
from __future__ import annotations

from pilewright.pipeline.audit.reading import (
    AUDIT_PATH,
    MANIFEST_PATH,
    REPORT_PATH,
    SideOutputs,
    SummaryError,
    load_run_files,
    out_path,
    read_json,
    schema_problem,
    side_output_counts,
)
from pilewright.pipeline.audit.sections import Histogram, SectionView, as_histogram, build_sections
from pilewright.pipeline.audit.text import render_text
from pilewright.pipeline.audit.views import Summary, build_summary, load_summary, token_stage

__all__ = [
    "AUDIT_PATH", "MANIFEST_PATH", "REPORT_PATH", "Histogram", "SectionView", "SideOutputs", "Summary",
    "SummaryError", "as_histogram", "build_sections", "build_summary", "load_run_files", "load_summary", "out_path",
    "read_json", "render_text", "schema_problem", "side_output_counts", "token_stage",
]
