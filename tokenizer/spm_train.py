"""sentencepiece BPE training, set up to be lossless for pretraining text.

Identity normalization, no dummy prefix, whitespace kept and byte fallback make ``decode(encode(t)) == t``
for any text (``encode`` in ``tokenizer.encode`` also handles the one character sentencepiece cannot
round-trip, U+2581). Training is single-threaded and reads the sample in a fixed order so the same
sample always gives the same model bytes.
"""
from __future__ import annotations

import io
from typing import Iterable, Iterator

import sentencepiece as spm

from pilewright.schemas.errors import UserError

UNK_ID = 0
EOS_ID = 1
# sentencepiece skips longer lines in training; long lines are cut rather than lost
MAX_SENTENCE_BYTES = 8192


class TokenizerTrainingError(UserError, ValueError):
    """Training could not produce a model; the message says what to change in the config."""


def training_sentences(texts: Iterable[str], max_sentences: int) -> Iterator[str]:
    """Lines of the sample documents, non-blank, each cut to what sentencepiece accepts."""
    n = 0
    for text in texts:
        for line in text.split("\n"):
            if not line.strip():
                continue
            encoded = line.encode("utf-8", "surrogatepass")
            if len(encoded) > MAX_SENTENCE_BYTES:
                line = encoded[:MAX_SENTENCE_BYTES].decode("utf-8", "ignore")
            yield line
            n += 1
            if n >= max_sentences:
                return


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    max_sentences: int = 2_000_000,
    character_coverage: float = 0.9999,
) -> bytes:
    """Train a BPE model on ``texts`` (documents, in a deterministic order) and return the model bytes."""
    sentences = list(training_sentences(texts, max_sentences))
    if not sentences:
        raise TokenizerTrainingError("no text to train the tokenizer on: every document was filtered out")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type="bpe",
            vocab_size=vocab_size,
            normalization_rule_name="identity",
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            split_digits=True,
            byte_fallback=True,
            character_coverage=character_coverage,
            unk_id=UNK_ID,
            eos_id=EOS_ID,
            bos_id=-1,
            pad_id=-1,
            max_sentence_length=MAX_SENTENCE_BYTES,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            num_threads=1,
            minloglevel=2,
        )
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size" in msg or "vocab_size" in msg:
            raise TokenizerTrainingError(
                f"tokenizer.train.vocab_size={vocab_size} is too large for the {len(sentences)} sample lines: "
                f"lower tokenizer.train.vocab_size or add text ({msg.strip()})"
            ) from e
        raise TokenizerTrainingError(f"sentencepiece training failed: {msg.strip()}") from e
    return model.getvalue()
