"""Decontamination against evaluation sets (``stages.decontaminate``).

Files: ``ngrams`` (word normalization and n-gram hashes), ``index`` (evaluation files -> compact hash
index), ``cut`` (GPT-3's span removal), ``stage`` (the DoFn, the audit combine and the ``Decontaminate``
transform).
"""
from pilewright.transforms.decontaminate.index import EvalIndex, EvalSetError
from pilewright.transforms.decontaminate.stage import SECTION, Decontaminate, check_eval_sets, merge_sections


def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return Decontaminate(config, carry_found=context.per_unit)


def merge_stats(section, payloads):
    """The stage's audit section from its units' (``RunContext.per_unit``): distinct items found over
    every unit, the units' own item lists dropped."""
    return merge_sections(list(payloads)) if section == SECTION else None


__all__ = ["build_stage", "merge_stats", "Decontaminate", "EvalIndex", "EvalSetError", "check_eval_sets"]
