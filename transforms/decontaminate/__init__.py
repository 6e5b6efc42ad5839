"""Decontamination against evaluation sets (``stages.decontaminate``).

Files: ``ngrams`` (word normalization and n-gram hashes), ``index`` (evaluation files -> compact hash
index), ``cut`` (GPT-3's span removal), ``stage`` (the DoFn, the audit combine and the ``Decontaminate``
transform).
"""
from pilewright.transforms.decontaminate.index import EvalIndex, EvalSetError
from pilewright.transforms.decontaminate.stage import Decontaminate, check_eval_sets

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return Decontaminate(config)


__all__ = ["build_stage", "Decontaminate", "EvalIndex", "EvalSetError", "check_eval_sets"]
