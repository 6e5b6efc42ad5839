"""sentencepiece BPE training, set up to be lossless for pretraining text.

Identity normalization, no dummy prefix, whitespace kept and byte fallback make ``decode(encode(t)) == t``
for any text (``encode`` in ``tokenizer.encode`` also handles the one character sentencepiece cannot
round-trip, U+2581). Training is single-threaded and reads the sample in a fixed order so the same
sample always gives the same model bytes.

The sample lines are streamed to a local file (``write_training_file``) and sentencepiece is fed from that
file line by line (``train_bpe_file``): Python never holds the sample, only sentencepiece's own copy of
the lines. It is fed through ``sentence_iterator`` rather than ``input=``: sentencepiece records ``input``
(the file's name) in the model, and a temporary name would make the same sample give different bytes.
"""
from __future__ import annotations

import io
import os
import tempfile
from typing import Iterable, Iterator, Optional

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


def write_training_file(texts: Iterable[str], path: str, max_sentences: int) -> int:
    """Writes the sample's training lines to ``path``, one a line; returns how many were written."""
    n = 0
    with open(path, "wb") as f:
        for line in training_sentences(texts, max_sentences):
            # a lone surrogate cannot be UTF-8; sentencepiece gets U+FFFD in its place, not a crash
            f.write(line.encode("utf-8", "replace"))
            f.write(b"\n")
            n += 1
    return n


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    max_sentences: int = 2_000_000,
    character_coverage: float = 0.9999,
    tmp_dir: Optional[str] = None,
) -> bytes:
    """Train a BPE model on ``texts`` (documents, in a deterministic order) and return the model bytes.

    ``texts`` is consumed as a stream: its lines go to a temporary file in ``tmp_dir`` (the system's
    temporary folder by default), removed afterwards.
    """
    fd, path = tempfile.mkstemp(prefix="pilewright-spm-", suffix=".txt", dir=tmp_dir)
    os.close(fd)
    try:
        n = write_training_file(texts, path, max_sentences)
        return train_bpe_file(path, n, vocab_size, character_coverage)
    finally:
        os.remove(path)


def _file_lines(path: str) -> Iterator[str]:
    # binary reads split on "\n" only: text mode would also split on "\r" and U+2028 inside a line
    with open(path, "rb") as f:
        for raw in f:
            yield raw[:-1].decode("utf-8") if raw.endswith(b"\n") else raw.decode("utf-8")


def train_bpe_file(path: str, n_sentences: int, vocab_size: int, character_coverage: float = 0.9999) -> bytes:
    """Train on a file of ``n_sentences`` lines written by ``write_training_file``; returns the model bytes."""
    if not n_sentences:
        raise TokenizerTrainingError("no text to train the tokenizer on: every document was filtered out")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_file_lines(path),
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
            # every line of the file, in file order: the file already holds at most max_sentences lines
            input_sentence_size=0,
            shuffle_input_sentence=False,
            num_threads=1,
            minloglevel=2,
        )
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size" in msg or "vocab_size" in msg:
            raise TokenizerTrainingError(
                f"tokenizer.train.vocab_size={vocab_size} is too large for the {n_sentences} sample lines: "
                f"lower tokenizer.train.vocab_size or add text ({msg.strip()})"
            ) from e
        raise TokenizerTrainingError(f"sentencepiece training failed: {msg.strip()}") from e
    return model.getvalue()
