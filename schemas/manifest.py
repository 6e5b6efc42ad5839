"""The model of OUT/manifest.json: ``pipeline.job.manifest`` dumps it, ``--verify`` and the audit read it.

Field order is the file's key order (the manifest is byte-identical for the same input, config and seed).
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

MANIFEST_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShardFile(_Model):
    """A file written beside a shard (e.g. Megatron's ``.bin`` / ``.idx``)."""

    path: str
    bytes: int
    sha256: str


class ShardEntry(_Model):
    path: str
    docs: int
    tokens: int
    bytes: int
    sha256: str
    files: Optional[list[ShardFile]] = None


class DocsTokens(_Model):
    docs: int
    tokens: int


class TokenizerEntry(_Model):
    path: str
    kind: str
    sha256: str
    vocab_size: int
    eos_id: Optional[int]
    bos_id: Optional[int]
    token_dtype: Literal["uint16", "uint32"]


class SourceProfile(_Model):
    """A source's curation profile (None: ``stages:`` as written) and its resolved per-source blocks."""

    profile: Optional[str]
    digest: str  # sha256 of the resolved blocks' canonical JSON: equal digests, equal decisions
    blocks: dict[str, Any]


class SourceProfiles(_Model):
    version: str
    sources: dict[str, SourceProfile]


class InputSource(_Model):
    files: int
    bytes: int
    sha256: str  # of its files' relative paths, sizes and content digests (``pipeline.job.fingerprint``)


class Inputs(_Model):
    """The input fingerprint: equal for the same input files wherever they are (``pilewright diff``)."""

    version: str
    sha256: str
    sources: dict[str, InputSource]


class Manifest(_Model):
    manifest_version: int
    total_tokens: int
    total_docs: int
    num_shards: int
    shards: list[ShardEntry]
    tokens_by_domain: dict[str, DocsTokens]
    tokens_by_source: dict[str, DocsTokens]
    tokenizer: TokenizerEntry
    seed: int
    config_sha256: str
    config: dict[str, Any]
    versions: dict[str, str]
    mix: Optional[dict[str, Any]] = None  # the mix stage's target vs achieved report, when mixing
    # each source's profile, when any source names one (``schemas/profiles.py``)
    source_profiles: Optional[SourceProfiles] = None
    # the input files' fingerprint (absent in manifests written before it existed)
    inputs: Optional[Inputs] = None

    def dump(self) -> dict:
        """The manifest document, with exactly the keys that were set (``mix`` only when mixing,
        ``source_profiles`` only when a source names a profile)."""
        return self.model_dump(mode="json", exclude_unset=True)
