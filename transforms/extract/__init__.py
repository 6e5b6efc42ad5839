"""Main-text extraction for web documents (stage ``extract``).

Files: ``extractors`` (trafilatura / Resiliparse as pure functions), ``isolated`` (a killable child
process for the per-page time limit), ``stage`` (the DoFn and the stage transform).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from __future__ import annotations


def __getattr__(name: str):
    # lazy, so the extractor child (`python -m ...extract.isolated`) does not import Beam
    if name == "Extract":
        from pilewright.transforms.extract.stage import Extract

        return Extract
    if name == "EXPLAIN":
        from pilewright.transforms.extract.explain import EXPLAIN

        return EXPLAIN
    raise AttributeError(name)


def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    from pilewright.transforms.extract.stage import Extract

    return Extract(config)


__all__ = ["EXPLAIN", "build_stage", "Extract"]
