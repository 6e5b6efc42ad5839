"""Small Hugging Face tokenizers the tests build themselves (nothing is downloaded)."""
from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIALS = ["<|endoftext|>", "<|begin_of_text|>"]


def train_byte_bpe(texts: Iterable[str], vocab_size: int = 1000) -> bytes:
    """A GPT-2 style byte-level BPE tokenizer.json trained on ``texts``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts), trainer)
    return tok.to_str().encode("utf-8")


def big_vocab_byte_tokenizer(vocab_size: int = 70_000) -> bytes:
    """A byte-level tokenizer whose 256 byte tokens sit at the END of a ``vocab_size`` vocabulary, so real
    text encodes to ids above 65,535 (uint32 shards) without training a large model."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    filler = vocab_size - len(alphabet) - len(SPECIALS)
    vocab = {f"<unused_{i}>": i for i in range(filler)}
    vocab.update({ch: filler + i for i, ch in enumerate(alphabet)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    return tok.to_str().encode("utf-8")
