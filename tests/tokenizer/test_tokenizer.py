"""Tokenizer: lossless round trip (a property), EOS, dtype choice, training errors, the shard reader."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilewright.schemas.arrow import token_dtype
from pilewright.tokenizer.spm import Encoder, model_info
from pilewright.tokenizer.arrow_shards import ShardRow, iter_documents, iter_sequences, open_shard, shard_bytes, shard_metadata
from pilewright.tokenizer.spm_train import TokenizerTrainingError, train_bpe

from conftest import sample_texts


@pytest.fixture(scope="module")
def model() -> bytes:
    return train_bpe([r["text"] for r in sample_texts(20)], vocab_size=1000)


@pytest.fixture(scope="module")
def encoder(model) -> Encoder:
    return Encoder(model)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_decode_inverts_encode_for_any_text(encoder, text):
    ids = encoder.encode(text)
    assert ids[-1] == encoder.eos_id
    assert encoder.decode(ids[:-1]) == text


@pytest.mark.parametrize(
    "text",
    ["  leading spaces", "tabs\tand\n\nblank lines\r\n", "meta\u2581space \u2581\u2581", "digits 1234567", "😀 €"],
)
def test_round_trip_edge_cases(encoder, text):
    assert encoder.decode(encoder.encode(text)[:-1]) == text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
                | st.sampled_from(["meta\u2581space", "\u2581", ""]), max_size=12),
       st.sampled_from([1, 2, 3]))
def test_a_batch_on_threads_encodes_each_text_as_encode_does(encoder, texts, threads):
    got = encoder.encode_batch(texts, num_threads=threads)
    assert len(got) == len(texts)
    for text, ids in zip(texts, got):
        assert ids.dtype == np.uint32 and ids.tolist() == encoder.encode(text).tolist()


def test_digits_are_split(encoder):
    pieces = [encoder.sp.id_to_piece(int(i)) for i in encoder.encode("2024")[:-1]]
    assert all(len(p.strip("\u2581")) <= 1 for p in pieces)


def test_training_is_deterministic_and_info_is_reported(model):
    again = train_bpe([r["text"] for r in sample_texts(20)], vocab_size=1000)
    assert again == model
    info = model_info(model)
    assert info.vocab_size == 1000 and info.eos_id == 1 and len(info.sha256) == 64


def test_training_on_nothing_says_what_to_do():
    with pytest.raises(TokenizerTrainingError, match="filtered out"):
        train_bpe(["", "   \n"], vocab_size=500)


def test_too_large_vocab_names_the_key():
    with pytest.raises(TokenizerTrainingError, match="tokenizer.train.vocab_size"):
        train_bpe(["a tiny corpus"], vocab_size=50000)


def test_token_dtype_follows_vocab_size():
    assert token_dtype(32000) == pa.uint16()
    assert token_dtype(65536) == pa.uint16()
    assert token_dtype(65537) == pa.uint32()


def test_shard_round_trip_and_sequences(tmp_path, encoder):
    texts = ["first document", "second one, longer than the first", "third"]
    rows = [ShardRow(f"s/{i}", "s", "general", encoder.encode(t).astype("<u4").tobytes()) for i, t in enumerate(texts)]
    data = shard_bytes(rows, encoder.vocab_size, "abc", encoder.eos_id)
    assert data == shard_bytes(rows, encoder.vocab_size, "abc", encoder.eos_id)
    path = tmp_path / "part-00000-of-00001.arrow"
    path.write_bytes(data)
    table = open_shard(path)
    assert table.schema.field("tokens").type == pa.list_(pa.uint16())
    assert shard_metadata(path)["tokenizer_sha256"] == "abc"
    docs = list(iter_documents([path]))
    assert [d[0] for d in docs] == ["s/0", "s/1", "s/2"]
    assert [encoder.decode(t[:-1]) for _i, _s, t in docs] == texts
    total = sum(len(t) for _i, _s, t in docs)
    seqs = list(iter_sequences([path], seq_len=4))
    assert all(len(s) == 4 for s in seqs) and len(seqs) == total // 4
    flat = np.concatenate([t for _i, _s, t in docs])
    assert np.array_equal(np.concatenate(seqs), flat[: len(seqs) * 4])


def _write_shards(tmp_path, doc_lengths: list[list[int]], dtype_vocab: int = 1000) -> list:
    paths = []
    n = 0
    for s, lengths in enumerate(doc_lengths):
        rows = []
        for length in lengths:
            tokens = (np.arange(n, n + length) % (dtype_vocab - 1)).astype("<u4")
            n += length
            rows.append(ShardRow(f"d{n}", "s", "general", tokens.tobytes()))
        path = tmp_path / f"part-{s:05d}.arrow"
        path.write_bytes(shard_bytes(rows, dtype_vocab, "x", 0))
        paths.append(path)
    return paths


@settings(max_examples=40, deadline=None)
@given(
    doc_lengths=st.lists(st.lists(st.integers(1, 30), max_size=8), min_size=1, max_size=4),
    seq_len=st.integers(1, 25),
    cut=st.integers(0, 60),
    drop_last=st.booleans(),
)
def test_resumed_sequences_continue_exactly(tmp_path_factory, doc_lengths, seq_len, cut, drop_last):
    from pilewright.tokenizer.arrow_shards import Position

    paths = _write_shards(tmp_path_factory.mktemp("seq"), doc_lengths)
    full = list(iter_sequences(paths, seq_len, drop_last=drop_last, with_position=True))
    flat = np.concatenate([t for _i, _s, t in iter_documents(paths)] or [np.empty(0, np.uint16)])
    # packing: the sequences are the concatenated tokens, cut every seq_len
    assert np.array_equal(np.concatenate([s for s, _p in full] or [np.empty(0, np.uint16)]),
                          flat if not drop_last else flat[: len(flat) // seq_len * seq_len])
    cut = min(cut, len(full))
    start = Position.from_dict(full[cut - 1][1].to_dict()) if cut else None
    resumed = list(iter_sequences(paths, seq_len, drop_last=drop_last, start=start))
    assert len(resumed) == len(full) - cut
    assert all(np.array_equal(a, b) for a, (b, _p) in zip(resumed, full[cut:]))
