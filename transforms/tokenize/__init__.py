"""Tokenization into token arrays (the ``tokenizer:`` block): sentencepiece or a Hugging Face tokenizer.

Files: ``stage`` (``TrainTokenizer``, ``LoadTokenizer``, ``LoadHFTokenizer`` and ``Encode``). The encoding
logic itself lives in the top-level ``tokenizer`` package.
"""
from pilewright.transforms.tokenize.stage import TrainTokenizer, LoadTokenizer, LoadHFTokenizer, Encode

__all__ = ["TrainTokenizer", "LoadTokenizer", "LoadHFTokenizer", "Encode"]
