"""The ``extract`` stage: web documents' HTML -> main text, with a time and size limit per page."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import apache_beam as beam

from pilewright.schemas.stages.extract import ExtractConfig
from pilewright.schemas.records import DeadLetter, Document
from pilewright.transforms.stage import (
    DEAD,
    ERROR_CHARS,
    StageResult,
    count,
    dead_lettered,
    distribution,
    document_dead_letter,
    rejected_output,
    typed_stage_result,
)
from pilewright.transforms.extract.extractors import extract_text, extractor_call, is_html
from pilewright.transforms.extract.isolated import ExtractTimeout, IsolatedExtractor

STAGE = "extract"


def _dead(doc: Document, error_type: str, error: str) -> DeadLetter:
    return document_dead_letter(doc, STAGE, error_type, error[:ERROR_CHARS])


def decide(doc: Document, text: Optional[str], min_chars: int) -> tuple[Document, Optional[str]]:
    """(document with its main text, rejection reason or None). Pure."""
    if text is None or len(text.strip()) < min_chars:
        return doc, "empty"
    return doc._replace(text=text), None


class _ExtractFn(beam.DoFn):
    def __init__(self, cfg: ExtractConfig):
        super().__init__()
        self._cfg = cfg
        self._run: Any = None

    def setup(self) -> None:
        extractor, options = extractor_call(self._cfg)
        if self._cfg.timeout_s > 0:
            self._run = IsolatedExtractor(extractor, options, self._cfg.timeout_s)
        else:
            self._run = lambda html, url=None: extract_text(html, extractor, options, url)

    def teardown(self) -> None:
        if isinstance(self._run, IsolatedExtractor):
            self._run.close()

    def process(self, doc: Document) -> Iterable:
        if not is_html(doc.content_type):
            # jsonl/parquet/text/wet documents are text already
            count(STAGE, "passed", "not_html")
            yield doc
            return
        if len(doc.text) > self._cfg.max_html_chars:
            count(STAGE, "errors", "too_large")
            yield beam.pvalue.TaggedOutput(
                DEAD, _dead(doc, "extract:too_large", f"{len(doc.text)} chars > max_html_chars {self._cfg.max_html_chars}")
            )
            return
        try:
            text = self._run(doc.text, doc.url)
        except ExtractTimeout as e:
            count(STAGE, "errors", "timeout")
            yield beam.pvalue.TaggedOutput(DEAD, _dead(doc, "extract:timeout", str(e)))
            return
        out, reason = decide(doc, text, self._cfg.min_chars)
        if reason is None:
            distribution(STAGE, "kept_chars_per_html_kchar", 1000 * len(out.text) // max(1, len(doc.text)))
            count(STAGE, "kept")
            yield out
        else:
            yield rejected_output(doc, STAGE, reason)


class Extract(beam.PTransform):
    """Document -> StageResult(Document with main text, RejectedDocument ``extract:empty``, DeadLetter).

    Only documents whose ``content_type`` is HTML are extracted; the rest pass through untouched.
    Counters: ``extract/kept``, ``extract/passed:not_html``, ``extract/dropped:empty``,
    ``extract/errors:timeout|too_large`` (dead letters typed ``extract:timeout``, ``extract:too_large``).
    Determinism: the extractors are deterministic functions of the HTML (and URL).
    Cost: one child process per DoFn instance when ``timeout_s > 0``; no shuffle.
    """

    def __init__(self, cfg: ExtractConfig, ctx: Any = None):
        super().__init__()
        self._cfg = cfg

    def expand(self, docs: beam.PCollection) -> StageResult:
        # the DoFn's own dead letters (timeout, size) and unforeseen exceptions are two streams, merged
        result, errors = dead_lettered(docs, "Extract", _ExtractFn(self._cfg), STAGE, **{DEAD: DeadLetter})
        return typed_stage_result(result["kept"], result["rejected"], errors)

