"""Hugging Face ``tokenizer.json`` tokenizers: locating, loading and encoding, EOS appended.

The file is read through Beam's filesystems (local, gs://, s3://, ...) and never fetched from a model hub:
continued pretraining must use exactly the base model's file, which the user downloads and pins.

Special tokens are never matched in the text itself (``encode_special_tokens``): a document holding the
literal string ``<|endoftext|>`` encodes it as ordinary bytes, and the only special ids in a row are the
EOS this module appends (and the BOS when configured). Python strings with lone surrogates cannot be passed
to the Rust library at all; ``encode`` raises ``UnencodableText`` for them so the stage dead-letters the
document with that reason instead of guessing a repair (normalize is the place for repairs).
"""
from __future__ import annotations

import hashlib
import re
from typing import NamedTuple, Optional, Sequence

import numpy as np

from pilewright.schemas.errors import UserError
from pilewright.tokenizer.spm import TokenizerInfo, ids_with_eos

TOKENIZER_FILE = "tokenizer.json"


class HFOptions(NamedTuple):
    """How a Hugging Face tokenizer wraps each document: the special tokens taken as EOS/BOS (None: the
    tokenizer's own, found by name) and whether every document starts with BOS."""

    eos_token: Optional[str] = None
    bos_token: Optional[str] = None
    add_bos: bool = False
# EOS candidates among a tokenizer's special added tokens, most specific first: GPT-2/NeoX/Qwen/OLMo,
# Llama 3 base, Llama 2/Mistral, Gemma. A chat model's end-of-turn token (<|eot_id|>) is deliberately
# absent: a base model's documents end with its end-of-text token.
EOS_CANDIDATES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|end|>")
BOS_CANDIDATES = ("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>")
# owner/name, as a model hub spells a repository; only consulted once the path is known not to exist
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TokenizerSourceError(UserError, ValueError):
    """The tokenizer file cannot be used as configured; the message says what to change (one line)."""


class UnencodableText(ValueError):
    """Text the tokenizer library cannot take (lone surrogates); the document becomes a dead letter."""


def looks_like_hub_name(path: str) -> bool:
    return "://" not in path and bool(_HUB_NAME.match(path))


def tokenizer_file_path(path: str, written: Optional[str] = None) -> str:
    """The ``tokenizer.json`` that ``path`` names: the file itself, or ``path/tokenizer.json``.

    ``written`` is the path as the user wrote it (before resolving it against the config's folder); it is
    what is checked for a hub name. Raises ``TokenizerSourceError`` when neither exists.
    """
    from apache_beam.io.filesystems import FileSystems

    inner = FileSystems.join(path.rstrip("/"), TOKENIZER_FILE)
    candidates = [inner] if path.endswith("/") else [path, inner]
    for candidate in candidates:
        try:
            matches = FileSystems.match([candidate], limits=[1])[0].metadata_list
        except Exception:  # an unreadable bucket or a missing folder reads as "not there"
            matches = []
        # a local folder matches its own name with size 0; only a real file counts
        if matches and not _is_local_dir(candidate):
            return candidate
    shown = written if written is not None else path
    if looks_like_hub_name(shown):
        raise TokenizerSourceError(
            f"tokenizer.hf: {shown!r} is not a file or folder here, and looks like a model hub name; pilewright "
            f"never downloads at run time: download the model's {TOKENIZER_FILE} first and give its path "
            f"(or the folder holding it)"
        )
    raise TokenizerSourceError(f"tokenizer.hf: no {TOKENIZER_FILE} at {shown!r} (give the file or the folder holding it)")


def _is_local_dir(path: str) -> bool:
    import os

    return "://" not in path and os.path.isdir(path)


def read_tokenizer_json(path: str, written: Optional[str] = None) -> bytes:
    """The bytes of the ``tokenizer.json`` that ``path`` names, through Beam's filesystems."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(tokenizer_file_path(path, written), compression_type="uncompressed") as f:
        return f.read()


def _load(json_bytes: bytes):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_str(json_bytes.decode("utf-8"))
    except Exception as e:
        raise TokenizerSourceError(f"tokenizer.hf: not a Hugging Face {TOKENIZER_FILE} ({str(e)[:200]})") from None
    # the text is data: a special token's spelling inside a document is plain text, never its id
    tok.encode_special_tokens = True
    return tok


def _special_id(tok, configured: Optional[str], candidates: Sequence[str], what: str, required: bool) -> Optional[int]:
    if configured is not None:
        token_id = tok.token_to_id(configured)
        if token_id is None:
            raise TokenizerSourceError(f"tokenizer.{what}_token: {configured!r} is not in the tokenizer's vocabulary")
        return token_id
    special = {t.content: i for i, t in tok.get_added_tokens_decoder().items() if t.special}
    for name in candidates:
        if name in special:
            return special[name]
    if required:
        names = ", ".join(sorted(special)) or "none"
        raise TokenizerSourceError(
            f"tokenizer.{what}_token: cannot tell which token is {what.upper()} (special tokens: {names}); "
            f"name it, e.g. `{what}_token: \"{candidates[0]}\"`"
        )
    return None


def hf_info(json_bytes: bytes, eos_token: Optional[str] = None, bos_token: Optional[str] = None,
            add_bos: bool = False, _tok=None) -> TokenizerInfo:
    """sha256 of the file, vocabulary size (added tokens included), and the EOS/BOS ids it will use."""
    tok = _tok if _tok is not None else _load(json_bytes)
    eos = _special_id(tok, eos_token, EOS_CANDIDATES, "eos", required=True)
    bos = _special_id(tok, bos_token, BOS_CANDIDATES, "bos", required=add_bos)
    return TokenizerInfo(
        sha256=hashlib.sha256(json_bytes).hexdigest(),
        # ids past the count are possible when a file leaves holes; every id must fit the dtype
        vocab_size=max(tok.get_vocab_size(with_added_tokens=True), max(tok.get_vocab(True).values(), default=-1) + 1),
        eos_id=int(eos),
        bos_id=int(bos) if bos is not None and add_bos else None,
        kind="hf",
        file=TOKENIZER_FILE,
    )


def check_encodable(text: str) -> None:
    """Raises ``UnencodableText`` naming the first lone surrogate's offset."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UnencodableText(
            f"lone_surrogate: U+{ord(text[e.start]):04X} at character {e.start} cannot be tokenized"
        ) from None


class HFEncoder:
    """One loaded tokenizer. Build once per worker; ``encode``/``encode_batch`` are pure given the file."""

    def __init__(self, json_bytes: bytes, eos_token: Optional[str] = None, bos_token: Optional[str] = None,
                 add_bos: bool = False):
        self.tok = _load(json_bytes)
        self.info = hf_info(json_bytes, eos_token, bos_token, add_bos, _tok=self.tok)
        self.eos_id = self.info.eos_id
        self.bos_id = self.info.bos_id
        self.vocab_size = self.info.vocab_size
        # encode_batch_fast skips character offsets we never use (tokenizers >= 0.21)
        self._batch = getattr(self.tok, "encode_batch_fast", self.tok.encode_batch)

    def _wrap(self, ids: Sequence[int]) -> np.ndarray:
        return ids_with_eos(ids, self.eos_id, self.bos_id)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (uint32): [BOS] + ids of ``text`` + EOS. The model's post-processor is not applied."""
        check_encodable(text)
        # the batch call without offsets is ~25% faster per core than `encode`, even for one text
        return self._wrap(self._batch([text], add_special_tokens=False)[0].ids)

    def encode_batch(self, texts: Sequence[str], num_threads: int = 1) -> list[np.ndarray]:
        """``encode`` of each text, in one call into the library, which spreads a batch over its own thread
        pool (``num_threads`` is not the library's to take). Raises ``UnencodableText`` as ``encode``."""
        for t in texts:
            check_encodable(t)
        return [self._wrap(e.ids) for e in self._batch(list(texts), add_special_tokens=False)]

    def decode(self, ids) -> str:
        """The text of ``ids`` (pass them without BOS/EOS); special ids are kept, so nothing is hidden."""
        return self.tok.decode([int(i) for i in ids], skip_special_tokens=False)
