"""Loading a sentencepiece model and encoding text losslessly, EOS appended."""
from __future__ import annotations

import array
import hashlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import sentencepiece as spm

# sentencepiece writes spaces as U+2581 internally and decodes that character back to a space, so text
# holding it cannot round-trip; such text is split there and the character emitted as its UTF-8 bytes.
_META_SPACE = "\u2581"
# the array type code of 4-byte unsigned integers on this platform
_U32 = "I" if array.array("I").itemsize == 4 else "L"


def ids_with_eos(ids: list[int], eos_id: int, bos_id: Optional[int] = None) -> np.ndarray:
    """``[bos_id] + ids + [eos_id]`` as uint32. The libraries hand back Python lists; ``array`` converts
    one in about 40% of the time numpy takes to fill an array from it, and numpy then views its buffer."""
    out = array.array(_U32) if bos_id is None else array.array(_U32, (bos_id,))
    out.extend(ids)  # OverflowError for an id outside uint32, as numpy's assignment raised
    out.append(eos_id)
    return np.frombuffer(out, dtype=np.uint32)


@dataclass(frozen=True)
class TokenizerInfo:
    sha256: str
    vocab_size: int
    eos_id: int
    # the id every row starts with, or None; sentencepiece runs never add one
    bos_id: Optional[int] = None
    kind: str = "sentencepiece"  # or "hf"
    file: str = "tokenizer.model"  # its name under OUT/tokenizer/


def model_info(model_bytes: bytes) -> TokenizerInfo:
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    return TokenizerInfo(hashlib.sha256(model_bytes).hexdigest(), sp.vocab_size(), sp.eos_id())


class Encoder:
    """One loaded model. Build once per worker; ``encode`` is pure given the model."""

    def __init__(self, model_bytes: bytes):
        self.sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        self.eos_id = self.sp.eos_id()
        if self.eos_id < 0:
            raise ValueError("the tokenizer model has no EOS piece; train it with eos_id >= 0")
        self.vocab_size = self.sp.vocab_size()
        byte_ids = [self.sp.piece_to_id(f"<0x{b:02X}>") for b in _META_SPACE.encode("utf-8")]
        unk = self.sp.unk_id()
        self._meta_space_ids = byte_ids if unk not in byte_ids else None

    def encode(self, text: str) -> np.ndarray:
        """Token ids (uint32) of ``text`` followed by EOS."""
        if _META_SPACE in text and self._meta_space_ids is not None:
            ids: list[int] = []
            for i, part in enumerate(text.split(_META_SPACE)):
                if i:
                    ids.extend(self._meta_space_ids)
                if part:
                    ids.extend(self.sp.encode(part))
        else:
            ids = self.sp.encode(text)
        return ids_with_eos(ids, self.eos_id)

    def encode_batch(self, texts: Sequence[str], num_threads: int = 1) -> list[np.ndarray]:
        """``encode`` of each text; the texts without U+2581 in one call into the library, which spreads
        them over ``num_threads`` threads (it releases the GIL)."""
        plain = [i for i, t in enumerate(texts) if _META_SPACE not in t or self._meta_space_ids is None]
        out: list = [None] * len(texts)
        if plain:
            for i, ids in zip(plain, self.sp.encode([texts[i] for i in plain], num_threads=num_threads)):
                out[i] = ids_with_eos(ids, self.eos_id)
        for i, t in enumerate(texts):
            if out[i] is None:
                out[i] = self.encode(t)
        return out

    def decode(self, ids) -> str:
        """Inverse of ``encode`` minus the EOS: ``decode(encode(t)[:-1]) == t``."""
        return self.sp.decode([int(i) for i in ids])
