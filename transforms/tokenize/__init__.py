"""Tokenization into token arrays (the ``tokenizer:`` block): sentencepiece or a Hugging Face tokenizer.

Files: ``stage`` (``Tokenize``, the stage: it picks the tokenizer from the block; ``TrainTokenizer``,
``LoadTokenizer``, ``LoadHFTokenizer`` and ``Encode``, its parts). The encoding logic itself lives in the
top-level ``tokenizer`` package.
"""
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout
from pilewright.schemas.config import TokenizerConfig
from pilewright.transforms.tokenize.stage import (
    ENCODED_DOCS,
    ENCODED_TOKENS,
    TOKENIZER_STEPS,
    Encode,
    Encoded,
    LoadHFTokenizer,
    LoadTokenizer,
    Tokenize,
    TokenizeResult,
    TrainTokenizer,
    per_document,
)


def build_stage(config: TokenizerConfig, context) -> Tokenize:
    """The stage of the spine (``transforms.flow.TOKENIZE``) for the ``tokenizer:`` block; the model is
    copied to OUT/tokenizer."""
    model_dir = FileSystems.join(context.out_dir, layout.TOKENIZER) if context.out_dir is not None else None
    return Tokenize(config, context.seed, model_dir, context.work_dir, threads=context.threads)


def build_unit_stage(config: TokenizerConfig, context) -> Tokenize:
    """The stage for one unit of a phased job's last per-document phase (when ``per_document``): token
    arrays and a copy of the tokenizer under the context's working folder, which the final phase reads."""
    return Tokenize(config, context.seed, FileSystems.join(context.work_dir, layout.TOKENIZER), context.work_dir)


def build_encoded(config: TokenizerConfig, context) -> Encoded:
    """The stage in the final phase of a job whose units encoded: the tokenizer copied to OUT/tokenizer and
    its info; the documents and token references pass through."""
    model_dir = FileSystems.join(context.out_dir, layout.TOKENIZER) if context.out_dir is not None else None
    return Encoded(config, model_dir)


# steps of the stage whose worker time is reported on a line of their own (``pipeline.job.stage_timing``)
COST_LINES = {step: "train_tokenizer" for step in TOKENIZER_STEPS}
# what the progress line says while the stage prepares (before its first document): the tokenizer is
# trained on the curated documents, or loaded
PREPARING = "training or loading the tokenizer"

__all__ = ["build_stage", "build_unit_stage", "build_encoded", "per_document", "Encoded", "ENCODED_DOCS",
           "ENCODED_TOKENS", "COST_LINES", "PREPARING", "Tokenize", "TokenizeResult", "TrainTokenizer", "LoadTokenizer",
           "LoadHFTokenizer", "Encode"]
