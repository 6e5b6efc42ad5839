"""OUT/signals: one row per curated or dropped document, its fate and the values the stages computed.

Fed by what the job already has: the kept documents after tokenizing (their annotations, ``n_tokens``) and
every curation stage's rejected records after redaction (the mix's cuts stay in OUT/rejected: one row per id) (``transforms.stage.reject`` recorded the dropped document's
signals and the stage's evidence). Rows are compact (ids, numbers by name, short evidence), so the table
costs one Parquet write of small rows; ``run.signals: false`` turns it off. ``pilewright explain`` and
``pilewright diff`` read it (``pipeline.audit.signals``).
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout
from pilewright.schemas.arrow import SIGNALS_SCHEMA
from pilewright.schemas.records import SignalRow
from pilewright.transforms.signals import AFTER_CURATION, kept_row, rejected_row


def signal_parquet_row(row: SignalRow) -> dict:
    out = row._asdict()
    for name in ("signals", "notes"):  # Arrow map columns take (key, value) pairs
        value = out[name]
        out[name] = sorted(dict(value).items()) if value is not None else None
    return out


class WriteSignals(beam.PTransform):
    """(kept Document, RejectedDocument) -> OUT/signals/part-*.parquet (``schemas.arrow.SIGNALS_SCHEMA``).

    Input: a pair of PCollections: the curated documents (annotated, tokenized) and every rejected record
    (already redacted). Deterministic rows; their order inside a file follows the pipeline (readers key by
    id). Cost: element-wise, no shuffle; one small row per document.
    """

    def __init__(self, out_dir: str):
        super().__init__()
        self._prefix = FileSystems.join(out_dir, layout.SIGNALS, "part")

    def expand(self, pcolls):
        kept, rejected = pcolls
        # one step per input before the sink: every step costs the runner a call per element
        return (
            (
                kept | "KeptRows" >> beam.Map(lambda doc: signal_parquet_row(kept_row(doc))),
                rejected | "RejectedRows" >> beam.FlatMap(_rejected_rows),
            )
            | "AllRows" >> beam.Flatten()
            | "Parquet" >> beam.io.WriteToParquet(self._prefix, SIGNALS_SCHEMA, file_name_suffix=".parquet")
        )


def _rejected_rows(rec) -> list[dict]:
    """The row of a curation stage's drop; none for the mix's cuts (sampling, kept in OUT/rejected)."""
    return [] if rec.stage in AFTER_CURATION else [signal_parquet_row(rejected_row(rec))]
