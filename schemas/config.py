"""Config models: the YAML file validated into typed, frozen models.

The top-level keys (``run``, ``sources``, ``stages``, ``mix``, ``tokenizer``, ``shards``) and the field
names below are public interface. Pydantic does the validation so a bad value is reported with its full key
path; ``pipeline.config`` turns those reports into one line a user can act on.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator, model_serializer, model_validator

from pilewright.schemas.stages.base import Frozen  # lives there so stage config modules avoid an import cycle
from pilewright.schemas.stages.decontaminate import DecontaminateConfig
from pilewright.schemas.stages.dedup import DedupConfig
from pilewright.schemas.stages.extract import ExtractConfig
from pilewright.schemas.stages.mix import MixConfig
from pilewright.schemas.stages.pii import PIIConfig
from pilewright.schemas.stages.url_filter import UrlFilterConfig
from pilewright.schemas.stages.quality import LangIdConfig, NormalizeConfig, QualityConfig
from pilewright.schemas.stages.span_dedup import SpanDedupConfig
from pilewright.schemas.paths import DataPath, StageBlocks
from pilewright.schemas.profiles import PER_SOURCE_STAGES, SHIPPED_PROFILES, check_profile, resolve_source_stages

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _empty_blocks(data: object, fields) -> object:
    """A block written with nothing under it (``dedup:``, YAML null) is the block with its defaults, as
    ``dedup: {}`` is: an empty block never turns a stage off silently (``enabled: false`` does that)."""
    if not isinstance(data, dict):
        return data
    return {k: ({} if v is None and k in fields else v) for k, v in data.items()}


class RunSection(Frozen):
    output: str = "out/pilewright"
    seed: int = 1234
    # OUT/signals: every document's decision and the values the stages computed (`pilewright explain`)
    signals: bool = True
    # How the run uses this machine, never what it writes: left out of the manifest and the config hash
    # (``exclude``), since any value gives byte-identical outputs (pipeline.job.units).
    # unit processes at once (default: the cores, or --direct_num_workers), lowered to fit memory_mb
    workers: Optional[int] = Field(default=None, ge=1, exclude=True)
    # RAM budget in MB for the unit processes together (default: half the machine's memory)
    memory_mb: Optional[int] = Field(default=None, ge=256, exclude=True)
    # MB of input files per unit (default: from memory_mb, at most 256, and at least 3 units a process)
    unit_mb: Optional[float] = Field(default=None, gt=0, exclude=True)


class SourceConfig(Frozen):
    name: str
    paths: list[Annotated[str, DataPath("glob")]] = Field(min_length=1)
    # warc: HTML of `response` records (run `extract` to get main text); wet: `conversion` records
    format: Literal["jsonl", "parquet", "text", "warc", "wet"]
    domain: str = "general"
    text_field: str = "text"
    # None: ids are derived from source name, file and record offset
    id_field: Optional[str] = "id"
    url_field: Optional[str] = None
    weight: float = Field(default=1.0, gt=0)
    # curation profile (``profiles:`` or a shipped one: web, filings, transcripts, newswire): its stage
    # blocks override ``stages:`` for this source's documents; None uses ``stages:`` as it is
    profile: Optional[str] = None
    # jsonl and text: the files' text encoding, a Python codec name (cp1252, latin-1, shift_jis, ...) or
    # `auto` (detected per file by charset-normalizer); bytes it cannot decode become U+FFFD (policy.invalid_text)
    encoding: str = "utf-8"
    # the share of a file's characters repair may replace before the run fails naming the file; None: the
    # policy's max_repaired_share
    max_repaired_share: Optional[float] = Field(default=None, ge=0, le=1)

    @model_serializer(mode="wrap")
    def _omit_no_profile(self, handler):
        # a source without a profile dumps as before profiles existed: the manifest's config stays byte-identical
        # (and so does one that leaves encoding and max_repaired_share at their defaults)
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("profile", None), ("encoding", "utf-8"), ("max_repaired_share", None)):
                if key in data and data[key] == default:
                    data.pop(key)
        return data

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        if v == "auto":
            return v
        import codecs

        try:
            info = codecs.lookup(v)
        except LookupError:
            raise ValueError("not a text encoding Python knows; use e.g. utf-8, cp1252, latin-1, or auto") from None
        if "\n".encode(info.name) != b"\n":
            raise ValueError("records are lines: use an encoding that writes a newline as one byte (not UTF-16/32)")
        return v

    @field_validator("name", "domain")
    @classmethod
    def _simple_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-' or '.', starting with a letter or digit")
        return v


class PolicyConfig(Frozen):
    """What the run does with input it cannot take as is, and when a finished run counts as failed.

    The limits are checked after the audit is written: a breach exits with status 1 and one line naming
    the source and its biggest reason, so the audit shows why.
    """

    # two records of one run with the same document id: `suffix` makes every member of the group unique
    # as `<id>#<file relative to its glob>:<record number in the file>` (and warns); `error` stops the run
    duplicate_ids: Literal["suffix", "error"] = "suffix"
    # invalid UTF-8 bytes and lone surrogate escapes in a record: `repair` replaces each with U+FFFD and
    # counts it in the audit; `dead_letter` sends the whole record to OUT/dead_letter
    invalid_text: Literal["repair", "dead_letter"] = "repair"
    # dead letters (every stage) over the records a source read; above this share the run fails
    max_dead_letter_share: float = Field(default=0.1, ge=0, le=1)
    # the same over every source together
    max_dead_letter_share_total: float = Field(default=0.05, ge=0, le=1)
    # a source that yields fewer documents than this at ingest fails the run (0 turns the check off)
    min_source_documents: int = Field(default=1, ge=0)
    # a run that writes no token at all fails unless this is true
    allow_empty_output: bool = False
    # the share of a jsonl/text file's characters that may be repaired to U+FFFD (invalid in the source's
    # `encoding`); above it the run fails naming the file, as a wrong `encoding:` is the likely cause
    max_repaired_share: float = Field(default=0.01, ge=0, le=1)


class StagesConfig(Frozen):
    """One block per curation stage; a stage absent here is not in the flow."""

    extract: Optional[ExtractConfig] = None
    url_filter: Optional[UrlFilterConfig] = None
    normalize: Optional[NormalizeConfig] = None
    langid: Optional[LangIdConfig] = None
    quality: Optional[QualityConfig] = None
    decontaminate: Optional[DecontaminateConfig] = None
    dedup: Optional[DedupConfig] = None
    span_dedup: Optional[SpanDedupConfig] = None
    pii: Optional[PIIConfig] = None

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: object) -> object:
        return _empty_blocks(data, cls.model_fields)


SAMPLE_BYTES_DEFAULT = 512 << 20


class TokenizerTrainConfig(Frozen):
    vocab_size: int = Field(default=32000, ge=300, le=1 << 20)
    # documents in the deterministic training sample (lowest blake2b(seed, id) first)
    sample_docs: int = Field(default=200_000, ge=1)
    # sentences (lines) fed to sentencepiece at most; bounds training memory and time
    max_sentences: int = Field(default=2_000_000, ge=1)
    character_coverage: float = Field(default=0.9999, gt=0, le=1)
    # bytes of text in the sample at most (documents in sample order until the next would pass it); bounds
    # the training file and sentencepiece's memory whatever the documents' sizes
    sample_bytes: int = Field(default=SAMPLE_BYTES_DEFAULT, ge=1)
    version: str = "spm_bpe_v1"

    @model_serializer(mode="wrap")
    def _omit_default_bound(self, handler):
        # the config as written goes into the manifest and its hash: a config that leaves the bound at its
        # default records what it recorded before the key existed, so its outputs stay byte-identical
        data = handler(self)
        if isinstance(data, dict) and data.get("sample_bytes") == SAMPLE_BYTES_DEFAULT:
            data.pop("sample_bytes")
        return data


class TokenizerConfig(Frozen):
    """Exactly one of ``train`` (train on the curated documents), ``model`` (an existing sentencepiece
    file) or ``hf`` (a Hugging Face tokenizer.json, or the folder holding one: the base model's own)."""

    train: Optional[TokenizerTrainConfig] = None
    model: Optional[Annotated[str, DataPath("file")]] = None
    hf: Optional[Annotated[str, DataPath("file_or_folder")]] = None
    # hf only: start every document with BOS; the special tokens used for EOS/BOS when the tokenizer's
    # own cannot be recognised (None: found among its special tokens)
    bos: bool = False
    eos_token: Optional[str] = None
    bos_token: Optional[str] = None

    @model_validator(mode="after")
    def _one_of(self) -> "TokenizerConfig":
        if sum(x is not None for x in (self.train, self.model, self.hf)) != 1:
            raise ValueError(
                "give exactly one of `train: {...}`, `model: path/to/tokenizer.model` or `hf: path/to/tokenizer.json`"
            )
        if self.hf is None and (self.bos or self.eos_token is not None or self.bos_token is not None):
            raise ValueError("`bos`, `eos_token` and `bos_token` apply to `hf:` tokenizers only")
        return self


class ShardsConfig(Frozen):
    """Exactly one of ``tokens_per_shard`` or ``num_shards``; ``format: both`` adds Megatron .bin/.idx."""

    tokens_per_shard: Optional[int] = Field(default=None, gt=0)
    num_shards: Optional[int] = Field(default=None, gt=0)
    # the Arrow shard is always written: it carries each row's provenance and is what `audit --verify`
    # and iter_sequences read; `both` writes the same documents in the same order as Megatron files beside it
    format: Literal["arrow", "both"] = "arrow"

    @field_validator("format", mode="before")
    @classmethod
    def _megatron_alone(cls, v: object) -> object:
        if v == "megatron":
            raise ValueError("Arrow shards are always written (they hold each document's provenance); use "
                             "`format: both` to write Megatron .bin/.idx beside them")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> "ShardsConfig":
        if self.tokens_per_shard is not None and self.num_shards is not None:
            raise ValueError("give either `tokens_per_shard` or `num_shards`, not both")
        if self.tokens_per_shard is None and self.num_shards is None:
            object.__setattr__(self, "tokens_per_shard", 100_000_000)
        return self


class RunConfig(Frozen):
    run: RunSection = RunSection()
    sources: list[SourceConfig] = Field(min_length=1)
    stages: StagesConfig = StagesConfig()
    tokenizer: TokenizerConfig = TokenizerConfig(train=TokenizerTrainConfig())
    shards: ShardsConfig = ShardsConfig()
    mix: Optional[MixConfig] = None
    policy: PolicyConfig = PolicyConfig()
    # name -> partial blocks of the per-source stages (normalize, langid, quality), optionally
    # `extends: <profile>`; checked by `_profiles` below, resolved by `source_stages`
    profiles: dict[str, Optional[Annotated[dict[str, Any], StageBlocks(PER_SOURCE_STAGES)]]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: object) -> object:
        blocks = {k: f for k, f in cls.model_fields.items() if k not in ("sources", "profiles")}
        return _empty_blocks(data, blocks)

    @model_serializer(mode="wrap")
    def _omit_unset_blocks(self, handler):
        # the config (and its hash) is recorded in the manifest: a file that sets neither `policy` nor
        # `profiles` keeps the manifest bytes it had before those blocks existed
        data = handler(self)
        if isinstance(data, dict):
            if self.policy == PolicyConfig():
                data.pop("policy", None)
            if not data.get("profiles"):
                data.pop("profiles", None)
        return data

    @model_validator(mode="after")
    def _profiles(self) -> "RunConfig":
        for name, body in self.profiles.items():
            if not _NAME_RE.match(name):
                raise ValueError(f"profiles.{name}: use letters, digits, '_', '-' or '.' in a profile name")
            check_profile(name, body, self.profiles)
        for i, s in enumerate(self.sources):
            if s.profile is not None and s.profile not in self.profiles and s.profile not in SHIPPED_PROFILES:
                known = ", ".join(sorted(set(SHIPPED_PROFILES) | set(self.profiles)))
                raise ValueError(f"sources.{i}.profile: unknown profile {s.profile!r} (source {s.name!r}); known profiles: {known}")
        self.source_stages()  # resolves every source's blocks once, so a bad merge is a load-time error
        return self

    def source_stages(self) -> dict[str, dict[str, Any]]:
        """source name -> {stage -> resolved config or None} for every source that names a profile."""
        return {
            s.name: resolve_source_stages(s.profile, self.stages, self.profiles)
            for s in self.sources
            if s.profile is not None
        }

    @model_validator(mode="after")
    def _unique_sources(self) -> "RunConfig":
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"sources: the name {s.name!r} is used twice; source names must be unique")
            seen.add(s.name)
        return self

    @model_validator(mode="after")
    def _mix_covers_domains(self) -> "RunConfig":
        if self.mix is None or not self.mix.enabled:
            return self
        for s in self.sources:
            if s.domain not in self.mix.domains:
                raise ValueError(f"mix.domains: no share for domain {s.domain!r} (source {s.name!r}); add `{s.domain}: <share>`")
        used = {s.domain for s in self.sources}
        for d in self.mix.domains:
            if d not in used:
                raise ValueError(f"mix.domains.{d}: no source has domain {d!r}; remove it or add a source with `domain: {d}`")
        return self

    @property
    def domains(self) -> list[str]:
        return sorted({s.domain for s in self.sources})
