"""sentencepiece BPE training, loading and encoding; the token-shard reader for training code."""
