"""Decontamination against evaluation sets (``stages.decontaminate``).

Files: ``ngrams`` (word normalization and n-gram hashes), ``index`` (evaluation files -> compact hash
index), ``cut`` (GPT-3's span removal), ``stage`` (the DoFn, the audit combine and the ``Decontaminate``
transform).
"""
from pilewright.transforms.decontaminate.index import EvalIndex, EvalSetError
from pilewright.transforms.decontaminate.stage import Decontaminate, check_eval_sets

__all__ = ["Decontaminate", "EvalIndex", "EvalSetError", "check_eval_sets"]
