"""Hugging Face tokenizer.json: loading (file, folder, hub name refused), EOS/BOS, special tokens in text,
lossless round trip on the whole embedded sample, dtype by vocabulary size."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tokenizers")

from pilewright.schemas.arrow import token_dtype  # noqa: E402
from pilewright.tokenizer.hf import (  # noqa: E402
    HFEncoder,
    TokenizerSourceError,
    UnencodableText,
    hf_info,
    read_tokenizer_json,
)

from conftest import SAMPLE_DIR, sample_texts  # noqa: E402
from hf_tokenizers import big_vocab_byte_tokenizer, train_byte_bpe  # noqa: E402


def all_sample_texts() -> list[str]:
    out = []
    for path in sorted(SAMPLE_DIR.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            out += [json.loads(line)["text"] for line in f if line.strip()]
    return out


@pytest.fixture(scope="module")
def tok_json() -> bytes:
    return train_byte_bpe([r["text"] for r in sample_texts(20)], vocab_size=800)


@pytest.fixture(scope="module")
def encoder(tok_json) -> HFEncoder:
    return HFEncoder(tok_json)


HARD = [
    "emoji 😀👍🏽 and ZWJ 👨‍👩‍👧",
    "CJK 中文字符 日本語 한국어",
    "control \x00\x01\x07\x1b[0m\x7f\x85 and\ttabs\r\n\n",
    "  leading and trailing spaces  ",
    "meta\u2581space and \u0120 G-dot, the byte-level space stand-in",
    "",
]


def test_round_trip_on_every_sample_document_and_hard_cases(encoder):
    texts = all_sample_texts() + HARD
    assert len(texts) > 100
    encoded = encoder.encode_batch(texts)
    for text, ids in zip(texts, encoded):
        assert ids[-1] == encoder.eos_id
        assert encoder.eos_id not in ids[:-1]
        assert encoder.decode(ids[:-1]) == text
    # batch and single encodes agree
    assert all(np.array_equal(encoder.encode(t), ids) for t, ids in zip(texts[:10], encoded[:10]))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_round_trip_any_text(encoder, text):
    ids = encoder.encode(text)
    assert encoder.decode(ids[:-1]) == text


def test_literal_special_token_in_text_stays_plain_text(encoder):
    text = "end of one story<|endoftext|>start of <|begin_of_text|> another"
    ids = encoder.encode(text)
    assert ids[-1] == encoder.eos_id
    # the special ids appear nowhere but at the end, and the literal text comes back
    assert encoder.eos_id not in ids[:-1]
    assert encoder.tok.token_to_id("<|begin_of_text|>") not in ids
    assert encoder.decode(ids[:-1]) == text
    # what the library would have done without the guard: the special id, taken from the text
    from tokenizers import Tokenizer

    naive = Tokenizer.from_str(encoder.tok.to_str())
    assert encoder.eos_id in naive.encode(text, add_special_tokens=False).ids


def test_lone_surrogate_is_a_named_error(encoder):
    with pytest.raises(UnencodableText, match="lone_surrogate: U\\+D800 at character 4"):
        encoder.encode("bad \ud800 text")
    with pytest.raises(UnencodableText):
        encoder.encode_batch(["fine", "x\udfff"])


def test_eos_and_bos_found_or_named(tok_json):
    info = hf_info(tok_json)
    assert info.kind == "hf" and info.file == "tokenizer.json" and info.bos_id is None
    assert info.eos_id == 0  # the first special token trained in
    enc = HFEncoder(tok_json, add_bos=True)
    ids = enc.encode("hi")
    assert ids[0] == enc.bos_id == 1 and ids[-1] == enc.eos_id
    assert enc.decode(ids[1:-1]) == "hi"
    named = HFEncoder(tok_json, eos_token="<|begin_of_text|>")
    assert named.encode("x")[-1] == 1
    with pytest.raises(TokenizerSourceError, match="eos_token: '<nope>' is not in"):
        hf_info(tok_json, eos_token="<nope>")


def test_no_eos_special_token_asks_for_one():
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(pre_tokenizers.ByteLevel.alphabet())}, merges=[]))
    with pytest.raises(TokenizerSourceError, match="name it, e.g. `eos_token"):
        hf_info(tok.to_str().encode())


def test_read_file_folder_and_refuse_hub_name(tmp_path, tok_json, monkeypatch):
    (tmp_path / "tokenizer.json").write_bytes(tok_json)
    assert read_tokenizer_json(str(tmp_path / "tokenizer.json")) == tok_json
    assert read_tokenizer_json(str(tmp_path)) == tok_json
    assert read_tokenizer_json(str(tmp_path) + "/") == tok_json
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TokenizerSourceError, match="looks like a model hub name.*download"):
        read_tokenizer_json(str(tmp_path / "meta-llama/Llama-3-8B"), written="meta-llama/Llama-3-8B")
    with pytest.raises(TokenizerSourceError, match="no tokenizer.json at"):
        read_tokenizer_json(str(tmp_path / "missing" / "x.json"))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(TokenizerSourceError, match="not a Hugging Face tokenizer.json"):
        hf_info((tmp_path / "bad.json").read_bytes())


def test_dtype_follows_vocab_size(tok_json):
    small = hf_info(tok_json)
    assert token_dtype(small.vocab_size) == pa.uint16()
    big_json = big_vocab_byte_tokenizer(70_000)
    big = HFEncoder(big_json)
    assert big.vocab_size == 70_000 and token_dtype(big.vocab_size) == pa.uint32()
    ids = big.encode("uint32 ids 😀")
    assert int(ids[:-1].min()) > 65_535
    assert big.decode(ids[:-1]) == "uint32 ids 😀"


@pytest.mark.parametrize(
    "tokenizer,expected",
    [
        ({"hf": "t.json", "model": "t.model"}, "exactly one of `train"),
        ({"model": "t.model", "bos": True}, "apply to `hf:` tokenizers only"),
    ],
)
def test_config_keys_are_exclusive(tokenizer, expected):
    from pilewright.pipeline.job.config import ConfigError, parse_config

    base = {"sources": [{"name": "a", "paths": ["x.jsonl"], "format": "jsonl"}]}
    with pytest.raises(ConfigError, match=expected.replace("`", ".")):
        parse_config({**base, "tokenizer": tokenizer})
    with pytest.raises(ConfigError, match="use .format: both."):
        parse_config({**base, "shards": {"format": "megatron"}})
    assert parse_config({**base, "tokenizer": {"hf": "x"}, "shards": {"format": "both"}}).shards.format == "both"


def test_cli_refuses_a_hub_name_in_one_line(tmp_path, capsys):
    from pilewright.pipeline.cli.main import main

    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "x"}\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources: [{name: a, paths: ['d.jsonl'], format: jsonl}]\ntokenizer: {hf: meta-llama/Llama-3-8B}\n")
    code = main(["run", "--config", str(cfg), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "'meta-llama/Llama-3-8B'" in err and "download the model's tokenizer.json first" in err


def test_stage_dofn_raises_a_dead_letter_reason_for_lone_surrogates(tok_json):
    """Beam's coders cannot carry a lone surrogate between stages, so ingest refuses such records; a DoFn
    handed one directly raises, and with_exception_handling turns that into this dead letter."""
    from pilewright.schemas.records import Document
    from pilewright.transforms.stage import to_dead_letter
    from pilewright.tokenizer.hf import HFOptions
    from pilewright.transforms.tokenize.stage import _EncodeFn

    fn = _EncodeFn(HFOptions())
    ok = list(fn.process(Document(id="s/1", text="fine <|endoftext|>", source="s", domain="general"), tok_json))
    assert ok[0].n_tokens == len(np.frombuffer(ok[0].tokens, "<u4")) and ok[0].tokens[-4:] == b"\x00\x00\x00\x00"
    bad = Document(id="s/2", text="x\ud83d", source="s", domain="general")
    with pytest.raises(UnencodableText) as info:
        list(fn.process(bad, tok_json))
    letter = to_dead_letter((bad, (type(info.value), repr(info.value), None)), stage="tokenize")
    assert letter.error_type == "UnencodableText" and "lone_surrogate: U+D83D at character 1" in letter.error
