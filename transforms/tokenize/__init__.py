"""Tokenization into token arrays (the ``tokenizer:`` block): sentencepiece or a Hugging Face tokenizer.

Files: ``stage`` (``Tokenize``, the stage: it picks the tokenizer from the block; ``TrainTokenizer``,
``LoadTokenizer``, ``LoadHFTokenizer`` and ``Encode``, its parts). The encoding logic itself lives in the
top-level ``tokenizer`` package.
"""
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas import layout
from pilewright.schemas.config import TokenizerConfig
from pilewright.transforms.tokenize.stage import (
    TOKENIZER_STEPS,
    Encode,
    LoadHFTokenizer,
    LoadTokenizer,
    Tokenize,
    TokenizeResult,
    TrainTokenizer,
)


def build_stage(config: TokenizerConfig, context) -> Tokenize:
    """The stage of the spine (``transforms.flow.TOKENIZE``) for the ``tokenizer:`` block; the model is
    copied to OUT/tokenizer."""
    model_dir = FileSystems.join(context.out_dir, layout.TOKENIZER) if context.out_dir is not None else None
    return Tokenize(config, context.seed, model_dir, context.work_dir)


# steps of the stage whose worker time is reported on a line of their own (``pipeline.job.stage_timing``)
COST_LINES = {step: "train_tokenizer" for step in TOKENIZER_STEPS}

__all__ = ["build_stage", "COST_LINES", "Tokenize", "TokenizeResult", "TrainTokenizer", "LoadTokenizer",
           "LoadHFTokenizer", "Encode"]
