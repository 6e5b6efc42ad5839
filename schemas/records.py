"""Records that flow between stages.

Every type is a ``typing.NamedTuple`` registered with Beam's ``RowCoder``: element data is encoded by
schema, never pickled, and a field that may legitimately be missing is ``Optional``. RowCoder enforces the
schema *outside* a DoFn's dead-letter wrapper, so raw input becomes a ``Document`` only inside ingest's
dead-lettered parse step, after its types are checked.
"""
from __future__ import annotations

import typing
from typing import Mapping, Optional

import apache_beam as beam


# Document.content_type values whose text is HTML: what ingest (format warc) keeps and `extract` works on
HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+html"})


class Document(typing.NamedTuple):
    """One curated text and the annotations the stages add to it.

    ``id`` is unique across the run: ``<source>/<id from the data>`` or, when the source has no id field,
    ``<source>/<file relative to its glob root>:<line or row>``. Annotations are ``None`` until the stage
    that owns them ran.
    """

    id: str
    text: str
    source: str
    domain: str
    url: Optional[str] = None
    lang: Optional[str] = None
    lang_score: Optional[float] = None
    # quality signals and classifier scores, by name (e.g. "gopher_quality:stop_words_ratio")
    quality: Optional[Mapping[str, float]] = None
    dup_cluster: Optional[str] = None
    # PII entity type -> number redacted; never the values
    pii_counts: Optional[Mapping[str, int]] = None
    n_tokens: Optional[int] = None
    # web sources (formats warc/wet): the WARC-Date of the capture (ISO 8601) and the payload's media type
    # without parameters ("text/html"); None for other formats. `extract` works on HTML types only.
    crawl_date: Optional[str] = None
    content_type: Optional[str] = None


class RejectedDocument(typing.NamedTuple):
    """A document a stage dropped by policy. ``reason`` is ``<rule>[:<detail>]``, e.g. ``c4:lorem_ipsum``."""

    id: str
    source: str
    domain: str
    stage: str
    reason: str
    # first characters of the text, for a person judging the rule in the audit (redacted when PII is on)
    snippet: str
    n_chars: int
    # what the stages computed for it up to the drop (``transforms.signals``): numbers by name
    # ("gopher_quality:word_count", "langid:score", "pii:EMAIL_ADDRESS") and short evidence text by name
    # ("langid:lang", "dedup:kept", "decontaminate:ngram"; redacted when PII is on); None: not recorded
    signals: Optional[Mapping[str, float]] = None
    notes: Optional[Mapping[str, str]] = None


# how much of a failed record a dead letter keeps: every producer cuts here, and the pii stage relies on it
# to know a field was cut (a cut value must not escape redaction because its tail is missing)
ERROR_CHARS = 1024
PAYLOAD_PREFIX_CHARS = 256


def payload_prefix(text: str) -> str:
    """A dead letter's ``payload_prefix`` from the start of ``text``: its first ``PAYLOAD_PREFIX_CHARS``
    characters, anything UTF-8 cannot carry (lone surrogates) as backslash escapes, so the record of a bad
    document survives the coders and files it goes through instead of crashing the job."""
    return text[:PAYLOAD_PREFIX_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


class DeadLetter(typing.NamedTuple):
    """A record that could not be read or processed, with where it came from and why."""

    stage: str
    source: str
    path: Optional[str]
    offset: Optional[int]  # line number (jsonl), row (parquet), 0 (text); None when not applicable
    doc_id: Optional[str]
    error_type: str  # e.g. "invalid_json", "invalid_utf8", "truncated_file", or an exception class name
    error: str  # cut at ERROR_CHARS
    payload_prefix: str  # first PAYLOAD_PREFIX_CHARS characters of the raw record, for forensics; never the full text
    # a file that could not be read or stopped early: the records it held that were lost (counted where the
    # file says, else estimated from the bytes left at the rate of the records before the damage; at least
    # 1) and those bytes (the file's size, or its bytes after the damage); None for one bad record (1, unknown)
    lost_records: Optional[int] = None
    lost_bytes: Optional[int] = None


class TokenizedDocument(typing.NamedTuple):
    """A document after encoding. ``tokens`` is little-endian uint32, EOS last.

    ``epoch`` is 0 unless the mix stage repeats the document; (id, epoch) is unique.
    Inside a job the tokens are written once to the working folder and ``tokens`` is empty: ``ref_path`` and
    ``ref_offset`` locate the ``4 * n_tokens`` bytes (``transforms.spill``), so shuffles carry no arrays.
    """

    id: str
    source: str
    domain: str
    tokens: bytes
    n_tokens: int
    epoch: int = 0
    ref_path: str = ""
    ref_offset: int = 0


class ShardInfo(typing.NamedTuple):
    """What the shard writer reports for one written shard (goes into the manifest)."""

    index: int
    path: str
    n_docs: int
    n_tokens: int
    sha256: str
    n_bytes: int
    # JSON list of the shard's other files ({"suffix", "path", "sha256", "bytes"}): the Megatron .bin/.idx
    # and provenance sidecar when configured; "[]" otherwise
    extra_files: str = "[]"


class SignalRow(typing.NamedTuple):
    """One row of OUT/signals: a document's final curation decision and the values the stages computed.

    ``fate`` is ``kept`` (it left the last curation stage) or ``rejected`` (``stage`` and ``reason`` say
    where and why; the mix's cut is ``rejected`` at stage ``mix``). No text beyond ``notes``' short evidence.
    """

    id: str
    source: str
    domain: str
    fate: str
    stage: str
    reason: str
    n_chars: int
    n_tokens: Optional[int]
    signals: Optional[Mapping[str, float]]
    notes: Optional[Mapping[str, str]]


RECORD_TYPES = (Document, RejectedDocument, DeadLetter, TokenizedDocument, ShardInfo, SignalRow)

for _t in RECORD_TYPES:
    beam.coders.registry.register_coder(_t, beam.coders.RowCoder)
