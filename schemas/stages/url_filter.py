"""Config of the ``url_filter`` stage: block and allow lists of domains and URL substrings, given as files."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pilewright.schemas.paths import DataPath

from pilewright.schemas.stages.base import Frozen

# a list file: one domain or URL substring a line
ListFile = Annotated[str, DataPath("file")]


class UrlFilterConfig(Frozen):
    """Each field lists files (any filesystem Beam reads: local, gs://, s3://...), one entry a line,
    ``#`` starts a comment. Domains match the URL's host or any parent of it down to its registered
    domain (``example.co.uk`` also blocks ``news.example.co.uk``); substrings match the lowercased URL.

    Block lists win over allow lists. When any allow list is given, a URL must match one of them or it is
    rejected as ``url:not_allowed``. Documents without a URL pass.
    """

    enabled: bool = True
    block_domains: list[ListFile] = Field(default_factory=list)
    block_substrings: list[ListFile] = Field(default_factory=list)
    allow_domains: list[ListFile] = Field(default_factory=list)
    allow_substrings: list[ListFile] = Field(default_factory=list)
    version: str = "url_filter_v1"
