"""The scanner: pre-screen, windows, chunks, one batched analyzer pass, thresholds, redaction.

No Beam here: the stage's DoFns build one ``PiiScanner`` per worker in ``setup`` and the benchmark uses
it directly.
"""
from __future__ import annotations

import typing
from typing import Optional, Sequence

from pilewright.schemas.stages.pii import PIIConfig
from pilewright.transforms.pii.actions import Finding, derive_key, drop_cut_tail, entity_counts, redact, resolve
from pilewright.transforms.pii.chunks import text_chunks
from pilewright.transforms.pii.embedded import LEFT_KEY, LEFT_TYPE
from pilewright.transforms.pii.prescreen import Prescreen, windows
from pilewright.transforms.pii.recognizers import LANGUAGE, AnalyzerBundle, build_analyzer

# Raw records (dead-letter payloads) are JSON text: "\n" there is a backslash and an "n", which would glue
# the word before a line break to the number after it. Same-length stand-ins keep offsets unchanged.
_JSON_ESCAPES = (("\\n", "  "), ("\\r", "  "), ("\\t", "  "), ('\\"', ' "'))

# share of a text covered by candidate windows above which the whole text is analyzed in one pass
DENSE_FRACTION = 0.4


class Scan(typing.NamedTuple):
    findings: list[Finding]  # resolved: sorted, non-overlapping
    analyzed_chars: int  # characters handed to the analyzer (0: the pre-screen found no candidate)
    # value-shaped strings deliberately not redacted (message ids, suffix-less domains): entity ->
    # reason -> count; none of them overlaps a finding
    left: dict[str, dict[str, int]] = {}


class Redaction(typing.NamedTuple):
    text: str
    counts: dict[str, int]  # entity type -> regions redacted
    analyzed_chars: int
    left: dict[str, dict[str, int]] = {}  # as Scan.left


def sort_results(results, offset: int, thresholds: dict[str, float], found: list[Finding],
                 left: set[tuple[int, int, str, str]]) -> None:
    """Presidio results of a chunk starting at ``offset``: left strings (by reason) into ``left`` (a set:
    overlapping chunks see the same string twice), results at their threshold into ``found``."""
    for r in results:
        reason = (r.recognition_metadata or {}).get(LEFT_KEY)
        if reason is not None:
            entity = r.entity_type[len(LEFT_TYPE):] if r.entity_type.startswith(LEFT_TYPE) else r.entity_type
            left.add((offset + r.start, offset + r.end, entity, reason))
        elif r.score >= thresholds.get(r.entity_type, 1.1):
            found.append(Finding(offset + r.start, offset + r.end, r.entity_type, r.score))


def outside_message_ids(found: list[Finding], left: set[tuple[int, int, str, str]]) -> list[Finding]:
    """Drops non-address findings inside a left message id: its digits are part of the id."""
    ids = [(a, b) for a, b, _e, reason in left if reason == "message_id"]
    if not ids:
        return found
    return [x for x in found if x.entity == "EMAIL_ADDRESS" or not any(a <= x.start and x.end <= b for a, b in ids)]


def left_counts(left: set[tuple[int, int, str, str]], findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """Entity -> reason -> number of distinct left strings that no finding overlaps (sorted)."""
    out: dict[str, dict[str, int]] = {}
    for a, b, entity, reason in sorted(left):
        if any(f.start < b and a < f.end for f in findings):
            continue  # another recognizer redacted it (or part of it): it was not left
        per = out.setdefault(entity, {})
        per[reason] = per.get(reason, 0) + 1
    return {e: dict(sorted(r.items())) for e, r in sorted(out.items())}


class PiiScanner:
    """Finds and redacts the configured entities. Build once per worker: it loads the analyzer."""

    def __init__(self, cfg: PIIConfig, bundle: Optional[AnalyzerBundle] = None):
        self.cfg = cfg
        self.bundle = bundle or build_analyzer(cfg)
        self._analyzer = self.bundle.analyzer
        self._entities = list(self.bundle.entities)
        self._prescreen = Prescreen(self._entities)
        self._thresholds = {e: cfg.threshold(e) for e in self._entities}
        self._key = derive_key(cfg.hash_key.get_secret_value()) if cfg.hash_key is not None else None

    def regions(self, text: str) -> list[tuple[int, int]]:
        """Parts of ``text`` the analyzer must see: all of it with NER on, else windows around candidates.

        When the windows cover most of the text anyway (e-mail headers), the whole text is one region:
        fewer, longer analyzer calls cost less than many short ones over the same characters.
        """
        if self.bundle.uses_ner:
            return [(0, len(text))] if text else []
        candidates = self._prescreen.candidates(text)
        if not candidates:
            return []
        whole = [(0, len(text))]
        # each candidate's window spans at least 2 x context_chars: skip building windows that would
        # cover most of the text anyway
        if len(candidates) * 2 * self.cfg.context_chars >= DENSE_FRACTION * len(text):
            return whole
        found = windows(text, candidates, self.cfg.context_chars)
        return whole if sum(b - a for a, b in found) >= DENSE_FRACTION * len(text) else found

    def scan(self, texts: Sequence[str]) -> list[Scan]:
        """One batched analyzer pass over the chunks of all ``texts``."""
        jobs: list[tuple[int, int, str]] = []
        for i, text in enumerate(texts):
            for a, b in text_chunks(text, self.regions(text), self.cfg.chunk_chars, self.cfg.chunk_overlap):
                jobs.append((i, a, text[a:b]))
        found: list[list[Finding]] = [[] for _ in texts]
        left: list[set[tuple[int, int, str, str]]] = [set() for _ in texts]
        analyzed = [0] * len(texts)
        if jobs:
            artifacts = self._analyzer.nlp_engine.process_batch(
                [chunk for _, _, chunk in jobs], LANGUAGE, batch_size=self.cfg.batch_size
            )
            for (i, offset, chunk), (_text, nlp_artifacts) in zip(jobs, artifacts):
                analyzed[i] += len(chunk)
                results = self._analyzer.analyze(chunk, LANGUAGE, entities=self._entities,
                                                 nlp_artifacts=nlp_artifacts)
                sort_results(results, offset, self._thresholds, found[i], left[i])
        out = []
        for f, kept, n in zip(found, left, analyzed):
            findings = resolve(outside_message_ids(f, kept))
            out.append(Scan(findings, n, left_counts(kept, findings)))
        return out

    def redact_scanned(self, text: str, scan: Scan) -> Redaction:
        cfg = self.cfg
        red = redact(text, scan.findings, cfg.action, key=self._key, hash_chars=cfg.hash_chars,
                     mask_char=cfg.mask_char)
        return Redaction(red, entity_counts(scan.findings), scan.analyzed_chars, scan.left)

    def redact_many(self, texts: Sequence[str]) -> list[Redaction]:
        return [self.redact_scanned(t, s) for t, s in zip(texts, self.scan(texts))]

    def redact_text(self, text: str) -> Redaction:
        return self.redact_many([text])[0]

    def redact_fragment(self, text: str, *, cut: bool, raw: bool = False) -> str:
        """Redacts a stored fragment (a snippet, a raw-record prefix, an error message).

        ``cut``: the fragment was truncated, so a value at its end may be partial and unrecognizable: the
        cut tail is dropped. ``raw``: the fragment is JSON text, whose escapes are neutralized for scanning.
        """
        probe = text
        if raw:
            for escape, stand_in in _JSON_ESCAPES:
                probe = probe.replace(escape, stand_in)
        scan = self.scan([probe])[0]
        out = self.redact_scanned(text, scan).text
        return drop_cut_tail(out) if cut else out
