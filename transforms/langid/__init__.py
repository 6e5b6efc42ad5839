"""Language identification with fastText lid.176 (``stages.langid``).

Files: ``stage`` (model loading once per worker, the prediction and the ``LangId`` transform). The model
file itself ships in ``transforms/models``.
"""
from pilewright.transforms.langid.stage import LangId, model_labels

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return LangId(config, per_source=context.per_source("langid"))


__all__ = ["build_stage", "LangId", "model_labels"]
