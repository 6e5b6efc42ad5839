"""The ``url_filter`` stage: block and allow lists read once per worker, one decision per document."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.records import Document
from pilewright.schemas.stages.url_filter import UrlFilterConfig
from pilewright.transforms.stage import AnnotateAndFilter, StageResult, count, rejected_output
from pilewright.transforms.url_filter.lists import UrlLists, build_lists, parse_list, url_reason

STAGE = "url_filter"


def read_lists(cfg: UrlFilterConfig) -> UrlLists:
    """Reads every list file named in the config (through Beam's filesystems: local, gs://, ...)."""

    def entries(paths: list[str], domains: bool) -> list[str]:
        out: list[str] = []
        for path in paths:
            with FileSystems.open(path) as f:
                out.extend(parse_list(f.read().decode("utf-8"), domains))
        return out

    return build_lists(
        entries(cfg.block_domains, True), entries(cfg.block_substrings, False),
        entries(cfg.allow_domains, True), entries(cfg.allow_substrings, False),
    )


class _UrlFilterFn(beam.DoFn):
    def __init__(self, cfg: UrlFilterConfig):
        super().__init__()
        self._cfg = cfg
        self._lists: Optional[UrlLists] = None

    def setup(self) -> None:
        self._lists = read_lists(self._cfg)

    def process(self, doc: Document) -> Iterable:
        reason = url_reason(doc.url, self._lists)
        if reason is None:
            count(STAGE, "kept")
            yield doc
        else:
            yield rejected_output(doc, STAGE, reason, notes={"url_filter:url": doc.url or ""})


class UrlFilter(beam.PTransform):
    """Document -> StageResult(Document, RejectedDocument ``url:blocked_domain|blocked_substring|not_allowed``,
    DeadLetter).

    Counters: ``url_filter/kept``, ``url_filter/dropped:url:<reason>``. Deterministic; no shuffle.
    Cost: the lists are held once per worker (a set of domains, a tuple of substrings).
    """

    def __init__(self, cfg: UrlFilterConfig, ctx: Any = None):
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: beam.PCollection) -> StageResult:
        return docs | "UrlFilter" >> AnnotateAndFilter(STAGE, _UrlFilterFn(self._cfg))
