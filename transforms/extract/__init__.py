"""Main-text extraction for web documents (stage ``extract``).

Files: ``extractors`` (trafilatura / Resiliparse as pure functions), ``isolated`` (a killable child
process for the per-page time limit), ``stage`` (the DoFn and the stage transform).
"""
from pilewright.transforms.extract.stage import Extract

__all__ = ["Extract"]
