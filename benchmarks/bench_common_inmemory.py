"""An in-process source for profiling stages on the DirectRunner's in_memory mode.

``beam.Create(docs)`` embeds every element in the pipeline (pickled, compressed, copied into the runner's
graph and decoded back), which on 20 MB of text costs more CPU than most stages; a profile measured that way
mostly measures ``Create``. Here the documents stay in this module's registry and a small ``Create`` of
chunk numbers reads them by reference: the in_memory runner runs the pipeline in this process, and this
module is importable, so Beam pickles ``_chunk`` by name, never the documents.
"""
from __future__ import annotations

from typing import Any, Sequence

import apache_beam as beam

_REGISTRY: dict[str, list[list[Any]]] = {}


def put(key: str, items: Sequence[Any], chunk: int = 200) -> int:
    """Registers ``items`` under ``key`` in chunks of ``chunk``; returns the number of chunks."""
    chunks = [list(items[i:i + chunk]) for i in range(0, len(items), chunk)]
    _REGISTRY[key] = chunks
    return len(chunks)


def _chunk(i: int, key: str) -> list:
    return _REGISTRY[key][i]


class InMemorySource(beam.PTransform):
    """PBegin -> the registered items of ``key``, typed ``element_type`` (so RowCoder, not pickle, encodes
    them wherever they cross a step boundary)."""

    def __init__(self, key: str, element_type: Any = None):
        super().__init__()
        self._key = key
        self._type = element_type

    def expand(self, pbegin):
        items = beam.FlatMap(_chunk, key=self._key)
        if self._type is not None:
            items = items.with_output_types(self._type)
        return (pbegin
                | "Chunks" >> beam.Create(list(range(len(_REGISTRY[self._key]))), reshuffle=False)
                | "Items" >> items)
