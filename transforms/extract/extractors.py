"""The extractors behind the ``extract`` stage, as pure functions: HTML text -> main text (or None)."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.stages.extract import ExtractConfig
from pilewright.schemas.records import HTML_CONTENT_TYPES

HTML_TYPES = HTML_CONTENT_TYPES


def is_html(content_type: Optional[str]) -> bool:
    return (content_type or "").lower() in HTML_TYPES


def extract_text(html: str, extractor: str, options: dict, url: Optional[str] = None) -> Optional[str]:
    """Main text of one page with the named extractor, or None when it finds none.

    Tables come out one row per line (trafilatura: ``| a | b |``; Resiliparse: cells separated by tabs).
    """
    if extractor == "trafilatura":
        import trafilatura

        return trafilatura.extract(html, url=url, output_format="txt", **options)
    if extractor == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, **options)
    raise ValueError(f"unknown extractor {extractor!r}")


def extractor_call(cfg: ExtractConfig) -> tuple[str, dict]:
    """(extractor name, its keyword options) from the config: what crosses into the extraction process."""
    options = getattr(cfg, cfg.extractor).model_dump()
    return cfg.extractor, options
