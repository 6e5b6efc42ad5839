"""How the url_filter stage's decision reads in ``pilewright explain`` (``EXPLAIN``): the URL it judged."""
from __future__ import annotations

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain
from pilewright.transforms.url_filter.stage import STAGE

URL = f"{STAGE}:url"


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    notes = dict(row.notes or {})
    return [Check(STAGE, URL, notes[URL], "", None, dropped, row.reason)] if URL in notes else []


EXPLAIN = Explain(checks=checks)
