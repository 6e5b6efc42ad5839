"""PII redaction with Presidio (``stages.pii``), and the hook that redacts every other stage's side outputs.

Files: ``stage`` (the ``RedactPII`` stage and ``RedactRecords`` for rejected records and dead letters),
``prescreen`` (a cheap test for text that cannot hold PII), ``chunks`` (windows Presidio can analyze),
``recognizers`` (the pattern recognizers and their context rules), ``embedded`` (PII inside URLs,
headers, bounce addresses), ``scan`` (finding and sorting results into found / deliberately left),
``actions`` (replace, mask or hash a found value).
``sections`` declares how its audit sections read (``AUDIT_SECTIONS``: each one's kind).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.pii.explain import EXPLAIN
from pilewright.transforms.pii.sections import AUDIT_SECTIONS, AUDIT_VIEWS, CURATED_PARTS
from pilewright.transforms.pii.stage import RedactPII, RedactRecords

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    return RedactPII(config)


def side_output_hook(config):
    """Redacts every stage's rejected records and dead letters: a value planted in a document dropped
    before this stage must reach no output either."""
    return RedactRecords(config)


def merge_stats(section, payloads):
    """The stage's audit section from several units' (the job's per-document phases): ``recognizers``
    describes the configuration, the same in every unit; the other sections are tallies (None: summed)."""
    return payloads[0] if section == "recognizers" else None


__all__ = ["EXPLAIN", "AUDIT_SECTIONS", "AUDIT_VIEWS", "CURATED_PARTS", "build_stage", "side_output_hook", "merge_stats", "RedactPII", "RedactRecords"]
