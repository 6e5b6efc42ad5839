"""Language identification with fastText lid.176, and lingua where lid.176 is unsure (``stages.langid``).

Files: ``stage`` (model loading once per worker, the prediction, the second detector and the ``LangId``
transform). The lid.176 model file ships in ``transforms/models``; lingua's models ship in its wheel.
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
"""
from pilewright.transforms.langid.sections import AUDIT_SECTIONS
from pilewright.transforms.langid.stage import LangId, model_labels

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return LangId(config, per_source=context.per_source("langid"))


__all__ = ["AUDIT_SECTIONS", "build_stage", "LangId", "model_labels"]
