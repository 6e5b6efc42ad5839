"""Config of the ``url_filter`` stage: block and allow lists of domains and URL substrings, given as files."""
from __future__ import annotations

from pydantic import Field

from pilewright.schemas.stages.base import Frozen


class UrlFilterConfig(Frozen):
    """Each field lists files (any filesystem Beam reads: local, gs://, s3://...), one entry a line,
    ``#`` starts a comment. Domains match the URL's host or any parent of it down to its registered
    domain (``example.co.uk`` also blocks ``news.example.co.uk``); substrings match the lowercased URL.

    Block lists win over allow lists. When any allow list is given, a URL must match one of them or it is
    rejected as ``url:not_allowed``. Documents without a URL pass.
    """

    enabled: bool = True
    block_domains: list[str] = Field(default_factory=list)
    block_substrings: list[str] = Field(default_factory=list)
    allow_domains: list[str] = Field(default_factory=list)
    allow_substrings: list[str] = Field(default_factory=list)
    version: str = "url_filter_v1"
