"""Decontamination against evaluation sets (``stages.decontaminate``).

Files: ``ngrams`` (word normalization and n-gram hashes), ``index`` (evaluation files -> compact hash
index), ``cut`` (GPT-3's span removal), ``stage`` (the DoFn, the audit combine and the ``Decontaminate``
transform).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.decontaminate.explain import EXPLAIN
from pilewright.transforms.decontaminate.index import EvalIndex, EvalSetError
from pilewright.transforms.decontaminate.stage import SECTION, Decontaminate, check_eval_sets, merge_sections


def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return Decontaminate(config, carry_found=context.per_unit)


def merge_stats(section, payloads):
    """The stage's audit section from its units' (``RunContext.per_unit``): distinct items found over
    every unit, the units' own item lists dropped."""
    return merge_sections(list(payloads)) if section == SECTION else None


def check(config, context):
    """Every local evaluation file is read once before the run: a missing, empty or field-less file stops
    the run before it starts (remote ones are read by the workers, which report the same error)."""
    if any("://" in p for s in config.sets for p in s.paths):
        return
    try:
        check_eval_sets(config)
    except EvalSetError as e:
        raise EvalSetError(f"stages.decontaminate: {e}") from None


__all__ = ["EXPLAIN", "build_stage", "check", "merge_stats", "Decontaminate", "EvalIndex", "EvalSetError", "check_eval_sets"]
