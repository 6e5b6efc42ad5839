"""Config of the ``pii`` stage (``stages.pii`` in the YAML file).

```yaml
pii:
  enabled: true
  entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN, CRYPTO]  # + PERSON, LOCATION
  action: replace              # replace -> <EMAIL_ADDRESS> | mask -> ***** | hash -> <EMAIL_ADDRESS:3f2a9c01b7d4>
  hash_key: "a long secret"    # needed by `hash`; keyed BLAKE2b, shown as ********** in the manifest
  drop_document_over: 50       # more entities than this: the document is rejected (pii:too_many_entities)
  thresholds: {PHONE_NUMBER: 0.4}
  phone_regions: [US, GB, IE, FR, CH, NL, AU, IN, JP]
  ner_model: auto              # spaCy model for PERSON/LOCATION if installed; never downloaded
```

Score thresholds, per entity (a finding is redacted when its Presidio score is at or above the threshold):

| entity | default | why |
| --- | --- | --- |
| EMAIL_ADDRESS | 0.5 | Presidio's pattern scores 0.5 and drops candidates whose domain has no public suffix; |
| | | addresses in URLs, encodings and bounce addresses score 1.0; message ids with no user part are left |
| PHONE_NUMBER | 0.4 | numbers python-phonenumbers validates in an enabled region score exactly 0.4 (Presidio's |
| | | fixed score): a higher threshold would let every one of them through. Phone-shaped digit groups |
| | | not valid in an enabled region score 0.1, and 0.45 with a phone word near them |
| CREDIT_CARD | 0.5 | only numbers that pass the Luhn checksum score above 0 (they score 1.0) |
| IBAN_CODE | 0.5 | only codes with valid ISO 13616 check digits and country format score above 0 (1.0) |
| IP_ADDRESS | 0.5 | IPv4/IPv6 patterns score 0.6 after ``ipaddress`` validation; a bare ``::`` (0.1) is not redacted |
| US_SSN | 0.4 | ``ddd-dd-dddd`` scores 0.5; bare 9-digit runs (0.05) need "ssn"/"social security" nearby (0.4); |
| | | Presidio rejects never-issued forms (area 000/666, group 00, serial 0000) and published samples |
| CRYPTO | 0.5 | Bitcoin addresses score 1.0 after base58check/bech32 validation; ``0x`` + 40 hex (Ethereum) 0.5 |
| PERSON, LOCATION | 0.5 | spaCy NER scores 0.85; only used when a spaCy model is installed |
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, SecretStr, field_validator, model_validator

from pilewright.schemas.paths import DataPath
from pilewright.schemas.stages.base import Frozen

# entities found by pattern recognizers (always available, fully offline)
PATTERN_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "CRYPTO",
)
# entities that need spaCy NER: found only when a spaCy model is installed (an optional extra)
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")
SUPPORTED_ENTITIES: tuple[str, ...] = PATTERN_ENTITIES + NER_ENTITIES

DEFAULT_THRESHOLDS: dict[str, float] = {
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.4,
    "CREDIT_CARD": 0.5,
    "IBAN_CODE": 0.5,
    "IP_ADDRESS": 0.5,
    "US_SSN": 0.4,
    "CRYPTO": 0.5,
    "PERSON": 0.5,
    "LOCATION": 0.5,
}

# Regions whose national phone formats python-phonenumbers matches and validates (a number written with
# +country code is validated whatever the region). Chosen for US-centred finance text plus general
# English: the North American plan (US; Canada shares it, and a Canadian number matched under US is
# validated as Canadian, so CA would only repeat the US pass), the UK and Ireland, France, Switzerland,
# the Netherlands, Australia, India and Japan. Germany, Singapore and Hong Kong are left out on purpose:
# their variable-length or 8-digit plans make street numbers, card numbers and SSNs "valid" phone numbers
# (measured on the presidio synth set). Numbers from any region are still caught when a phone word is
# near them (ContextPhoneRecognizer), and each extra region is one more matcher pass per digit run.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "IE", "FR", "CH", "NL", "AU", "IN", "JP")


class PIIConfig(Frozen):
    """``stages.pii``: which entities to find, what to do with them, and how to scan."""

    enabled: bool = True
    # v2: addresses in URLs, encodings and bounce addresses; message ids left (and counted); phones
    # glued to letters; dotted or many-group numbers only when grouped as their region writes them
    version: str = "pii_v2"
    entities: tuple[str, ...] = PATTERN_ENTITIES
    # replace: "<EMAIL_ADDRESS>"; mask: every character of the value becomes `mask_char`;
    # hash: "<EMAIL_ADDRESS:3f2a...>", a keyed BLAKE2b MAC of the normalized value (same value, same tag)
    action: Literal["replace", "mask", "hash"] = "replace"
    mask_char: str = Field(default="*", min_length=1, max_length=1)
    # secret key of the `hash` action; shown as "**********" in the manifest and logs
    hash_key: Optional[SecretStr] = None
    hash_chars: int = Field(default=12, ge=8, le=64)
    # a document with more than this many entities is dropped (reason `pii:too_many_entities`)
    drop_document_over: Optional[int] = Field(default=None, ge=0)
    # per-entity score thresholds, overriding DEFAULT_THRESHOLDS
    thresholds: dict[str, float] = Field(default_factory=dict)
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    # spaCy model for PERSON/LOCATION: "auto" = the largest installed of en_core_web_{lg,md,sm,trf}; an
    # installed package name; a model folder (a path with a "/", relative to the config file: ./models/ner);
    # or null to never use NER. Nothing is ever downloaded.
    ner_model: Optional[Annotated[str, DataPath(
        "folder", names=("auto",), bare_names=True, urls=False,
        remote_fix="install the spaCy model as a package where the workers run (their container image) and "
                   "give the package's name")]] = "auto"
    # long texts are scanned in chunks of this many characters overlapping by `chunk_overlap`, so an
    # entity up to `chunk_overlap` characters long is always whole in one chunk
    chunk_chars: int = Field(default=4096, ge=512, le=100_000)
    chunk_overlap: int = Field(default=256, ge=64)
    # characters kept on each side of a pre-screen candidate (room for Presidio's context words)
    context_chars: int = Field(default=96, ge=32, le=1000)
    # documents handed to the analyzer together (spaCy's nlp.pipe batches them when NER is on)
    batch_size: int = Field(default=64, ge=1, le=10_000)

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [e for e in v if e not in SUPPORTED_ENTITIES]
        if unknown:
            raise ValueError(f"unknown entity {unknown[0]!r}; supported: {', '.join(SUPPORTED_ENTITIES)}")
        if not v:
            raise ValueError("list at least one entity, or set `enabled: false`")
        return tuple(dict.fromkeys(v))

    @field_validator("thresholds")
    @classmethod
    def _threshold_range(cls, v: dict[str, float]) -> dict[str, float]:
        for entity, score in v.items():
            if entity not in SUPPORTED_ENTITIES:
                raise ValueError(f"unknown entity {entity!r}; supported: {', '.join(SUPPORTED_ENTITIES)}")
            if not 0.0 < score <= 1.0:
                raise ValueError(f"threshold of {entity} must be in (0, 1], got {score}")
        return dict(sorted(v.items()))

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import phonenumbers

        bad = [r for r in v if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"unknown phone region {bad[0]!r}; use ISO 3166 codes such as US, GB, DE")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _consistent(self) -> "PIIConfig":
        if self.action == "hash" and (self.hash_key is None or not self.hash_key.get_secret_value()):
            raise ValueError("action `hash` needs `hash_key` (a secret; without it a hash is a dictionary lookup)")
        if self.chunk_overlap * 2 > self.chunk_chars:
            raise ValueError("chunk_overlap must be at most half of chunk_chars")
        return self

    def threshold(self, entity: str) -> float:
        return self.thresholds.get(entity, DEFAULT_THRESHOLDS[entity])
