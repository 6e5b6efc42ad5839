"""Log lines Beam prints that say nothing about the user's run, dropped at the root logger.

Kept free of Beam imports: the CLI installs the filter before anything imports Beam, because one of the
lines is logged while Beam's GCP modules are imported (``logging.warning`` at import time).
"""
from __future__ import annotations

import logging

# apache-beam 2.78 warns once per stage that a composite's named result (``StageResult``) is not a
# PCollection type hint; Beam's GCP modules warn when the optional [gcp] extra is not installed
NOISE = ("This output type hint will be ignored and not used for type-checking purposes",
         "apitools not found, and bigquery client libraries are not available")


class BeamNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(n in msg for n in NOISE)


def quiet_beam_noise() -> None:
    """Installs ``BeamNoiseFilter`` on the root logger (idempotent): for the CLI and unit processes."""
    root = logging.getLogger()
    if not any(isinstance(f, BeamNoiseFilter) for f in root.filters):
        root.addFilter(BeamNoiseFilter())
