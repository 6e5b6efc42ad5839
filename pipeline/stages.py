"""The curation stages in flow order, built from the config.

A stage is in the flow when its block exists in ``stages`` and is enabled. Order is DESIGN.md's:
extract -> url_filter -> normalize -> langid -> quality -> decontaminate -> dedup -> span_dedup -> pii. Each
entry is ``(name, PTransform)`` where the transform maps ``PCollection[Document]`` to a ``StageResult``.
"""
from __future__ import annotations

import apache_beam as beam

from pilewright.schemas.config import RunConfig


def curation_stages(cfg: RunConfig) -> list[tuple[str, beam.PTransform]]:
    stages: list[tuple[str, beam.PTransform]] = []
    # stages register here in flow order: extract, url_filter, normalize, langid, quality,
    # decontaminate, dedup, span_dedup, pii
    extract = cfg.stages.extract
    if extract is not None and extract.enabled:  # right after ingest: the rest of the flow sees main text
        from pilewright.transforms.extract import Extract

        stages.append(("extract", Extract(extract)))
    url_filter = cfg.stages.url_filter
    if url_filter is not None and url_filter.enabled:
        from pilewright.transforms.url_filter import UrlFilter

        stages.append(("url_filter", UrlFilter(url_filter)))
    normalize = cfg.stages.normalize
    if normalize is not None and normalize.enabled:
        from pilewright.transforms.normalize import Normalize

        stages.append(("normalize", Normalize(normalize)))
    langid = cfg.stages.langid
    if langid is not None and langid.enabled:
        from pilewright.transforms.langid import LangId

        stages.append(("langid", LangId(langid)))
    quality = cfg.stages.quality
    if quality is not None and quality.enabled:
        from pilewright.transforms.quality import QualityFilter

        stages.append(("quality", QualityFilter(quality)))
    decontaminate = cfg.stages.decontaminate
    if decontaminate is not None and decontaminate.enabled:
        from pilewright.transforms.decontaminate import Decontaminate

        stages.append(("decontaminate", Decontaminate(decontaminate)))
    dedup = cfg.stages.dedup
    if dedup is not None and dedup.enabled:  # after quality, before pii
        from pilewright.transforms.dedup import Dedup

        stages.append(("dedup", Dedup(dedup, seed=cfg.run.seed)))
    span_dedup = cfg.stages.span_dedup
    if span_dedup is not None and span_dedup.enabled:  # after whole duplicates are gone
        from pilewright.transforms.span_dedup import SpanDedup

        stages.append(("span_dedup", SpanDedup(span_dedup, seed=cfg.run.seed)))
    pii = cfg.stages.pii
    if pii is not None and pii.enabled:  # last: redacts what the earlier stages kept
        from pilewright.transforms.pii import RedactPII

        stages.append(("pii", RedactPII(pii)))
    return stages
