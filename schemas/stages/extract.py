"""Config of the ``extract`` stage: HTML of web documents -> main text."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from pilewright.schemas.stages.base import Frozen


class TrafilaturaOptions(Frozen):
    """Passed to ``trafilatura.extract`` as is (names are trafilatura's)."""

    include_tables: bool = True
    include_comments: bool = False
    include_links: bool = False
    include_images: bool = False
    favor_precision: bool = False
    favor_recall: bool = False
    # trafilatura's own fallbacks (readability, jusText) on pages where its first pass finds little
    no_fallback: bool = False
    deduplicate: bool = False


class ResiliparseOptions(Frozen):
    """Passed to ``resiliparse.extract.html2text.extract_plain_text`` as is (names are Resiliparse's)."""

    main_content: bool = True
    preserve_formatting: bool = True  # keeps table rows and list items on their own lines
    list_bullets: bool = True
    alt_texts: bool = False
    links: bool = False
    form_fields: bool = False
    noscript: bool = False
    comments: bool = False


class ExtractConfig(Frozen):
    """Which extractor turns HTML into text, its options, and the limits that keep one page from stalling a job.

    Only documents whose ``content_type`` is HTML (sources of format ``warc``) are extracted; every other
    document passes through untouched.
    """

    enabled: bool = True
    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"
    trafilatura: TrafilaturaOptions = TrafilaturaOptions()
    resiliparse: ResiliparseOptions = ResiliparseOptions()
    # a page whose extraction takes longer is killed and dead-lettered (`extract:timeout`); 0 = no limit,
    # and then the extractor runs in the worker thread itself
    timeout_s: float = Field(default=10.0, ge=0)
    # HTML longer than this (characters) is dead-lettered (`extract:too_large`) before extraction
    max_html_chars: int = Field(default=5_000_000, gt=0)
    # extracted text shorter than this (after stripping) is rejected as `extract:empty`
    min_chars: int = Field(default=1, ge=1)
    version: str = "extract_v1"
