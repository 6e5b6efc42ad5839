"""Quality filtering: Gopher, C4 and FineWeb rule sets and fastText classifiers (``stages.quality``).

Files, in the order one decision follows them: ``stage`` (the ``QualityFilter`` transform and its DoFn) -> ``rules``
(runs the configured rule sets on one document, first failing rule wins) -> one rule set module:
``gopher``, ``c4``, ``fineweb`` -> the measures they share: ``text`` (lines, paragraphs, characters),
``spacy_words`` (spaCy's English word and sentence units, ported for speed: what the rule sets count),
``ngrams`` (repetition measures). ``classifier`` holds the fastText classifiers (quality or domain
scores) and their training.
``sections`` declares how it reads in the audit (``AUDIT_VIEWS``: its signals over a sample).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.quality.explain import EXPLAIN
from pilewright.transforms.quality.sections import AUDIT_VIEWS, CURATED_PARTS
from pilewright.transforms.quality.stage import QualityFilter

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return QualityFilter(config, per_source=context.per_source("quality"))


__all__ = ["EXPLAIN", "AUDIT_VIEWS", "CURATED_PARTS", "build_stage", "QualityFilter"]
