"""Language identification with fastText lid.176, and lingua where lid.176 is unsure (``stages.langid``).

Files: ``stage`` (model loading once per worker, the prediction, the second detector and the ``LangId``
transform). The lid.176 model file ships in ``transforms/models``; lingua's models ship in its wheel.
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.langid.explain import EXPLAIN
from pilewright.transforms.langid.sections import AUDIT_SECTIONS
from pilewright.transforms.langid.stage import LangId, check_languages, model_labels

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return LangId(config, per_source=context.per_source("langid"))


def check(config, context):
    """``languages`` must be labels the language model can give: a wrong code would otherwise show only
    after the run, as every document dropped."""
    if config is not None and config.enabled:
        check_languages(config, "stages.langid")
    for source, cfg in context.per_source("langid").items():
        if cfg is not None and cfg.enabled and cfg != config:
            check_languages(cfg, f"langid of source {source} (its profile)")


__all__ = ["EXPLAIN", "AUDIT_SECTIONS", "build_stage", "check", "check_languages", "LangId", "model_labels"]
