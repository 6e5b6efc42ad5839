"""Unicode and whitespace normalization (``stages.normalize``).

Files: ``stage`` (the pure normalization functions and the ``Normalize`` transform), ``filings`` (EDGAR's
machinery removed and forms and data told from prose: the filings options).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.normalize.explain import EXPLAIN
from pilewright.transforms.normalize.stage import Normalize

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return Normalize(config, per_source=context.per_source("normalize"))


__all__ = ["EXPLAIN", "build_stage", "Normalize"]
