"""The curation stages in flow order, built from the config.

A stage is in the flow when its block exists in ``stages`` and is enabled. Order is DESIGN.md's:
normalize -> langid -> quality -> dedup -> pii. Each entry is ``(name, PTransform)`` where the transform
maps ``PCollection[Document]`` to a ``StageResult``.
"""
from __future__ import annotations

import apache_beam as beam

from pilewright.schemas.config import RunConfig


def curation_stages(cfg: RunConfig) -> list[tuple[str, beam.PTransform]]:
    stages: list[tuple[str, beam.PTransform]] = []
    # stages register here in flow order: normalize, langid, quality, dedup, pii
    return stages
