"""The tokenize stage's Hugging Face path on a runner: every document's tokens are the encoder's, written to
the working folder, with nothing lost."""
from __future__ import annotations

import pytest

pytest.importorskip("tokenizers")

import apache_beam as beam  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

from pilewright.schemas.records import Document  # noqa: E402
from pilewright.tokenizer.hf import HFEncoder, HFOptions  # noqa: E402
from pilewright.transforms.tokenize import stage as tokenize  # noqa: E402

from conftest import sample_texts  # noqa: E402
from hf_tokenizers import train_byte_bpe  # noqa: E402

HF = HFOptions()


@pytest.fixture(scope="module")
def tok_json() -> bytes:
    return train_byte_bpe([r["text"] for r in sample_texts(20)], vocab_size=800)


def _docs(n: int) -> list[Document]:
    texts = [r["text"] for r in sample_texts(n)]
    return [Document(id=f"s/{i}", text=t, source="s", domain="general") for i, t in enumerate(texts)]


@pytest.mark.parametrize("threads", [1, 2])
def test_hf_stage_in_beam_matches_the_encoder_and_loses_nothing(tok_json, tmp_path, threads):
    docs = _docs(40)
    enc = HFEncoder(tok_json, **HF._asdict())
    want = sorted((d.id, len(enc.encode(d.text))) for d in docs)
    arrays = {d.id: enc.encode(d.text).astype("<u4").tobytes() for d in docs}
    with TestPipeline() as p:
        model = p | "Model" >> beam.Create([tok_json])
        result = p | beam.Create(docs) | tokenize.Encode(model, HF, str(tmp_path / "tokens"), threads)
        assert_that(result.main | "N" >> beam.Map(lambda t: (t.id, t.n_tokens)), equal_to(want), label="tokens")
        assert_that(result.annotated | "A" >> beam.Map(lambda d: (d.id, d.n_tokens)), equal_to(want), label="docs")
        assert_that(result.errors, equal_to([]), label="errors")
        # the arrays went to the working folder: the records carry references to the encoder's bytes, read
        # after a barrier (as the job reads them), once the writing bundle has closed its file
        refs = result.main | "Barrier" >> beam.Reshuffle() | "Refs" >> beam.Map(_read_back)
        assert_that(refs, equal_to(sorted(arrays.items())), label="refs")


def _read_back(t):
    from pilewright.transforms.spill import RangeReader

    assert t.tokens == b"" and t.ref_path
    reader = RangeReader()
    try:
        return t.id, reader.read(t.ref_path, t.ref_offset, 4 * t.n_tokens)
    finally:
        reader.close()


def test_tokenize_stage_takes_its_tokenizer_from_its_block(tok_json, tmp_path):
    """The tokenize family builds its stage from the ``tokenizer:`` block: an ``hf`` file is loaded, copied
    to OUT/tokenizer and described by ``info``; the documents come out encoded by it."""
    from pilewright.schemas.config import TokenizerConfig
    from pilewright.transforms import tokenize as family
    from pilewright.transforms.flow import RunContext

    (tmp_path / "tokenizer.json").write_bytes(tok_json)
    docs = _docs(12)
    enc = HFEncoder(tok_json)
    want = sorted((d.id, len(enc.encode(d.text))) for d in docs)
    context = RunContext(seed=0, out_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"))
    stage = family.build_stage(TokenizerConfig(hf=str(tmp_path / "tokenizer.json")), context)
    with TestPipeline() as p:
        result = p | beam.Create(docs) | stage
        assert_that(result.main | "N" >> beam.Map(lambda t: (t.id, t.n_tokens)), equal_to(want), label="tokens")
        assert_that(result.annotated | "A" >> beam.Map(lambda d: (d.id, d.n_tokens)), equal_to(want), label="docs")
        assert_that(result.info | "I" >> beam.Map(lambda i: (i.kind, i.file, i.eos_id)),
                    equal_to([("hf", "tokenizer.json", enc.eos_id)]), label="info")
    assert (tmp_path / "out" / "tokenizer" / "tokenizer.json").read_bytes() == tok_json


@pytest.mark.parametrize("threads", [1, 2])
def test_a_document_the_tokenizer_cannot_take_is_a_dead_letter_and_the_rest_go_on(tok_json, tmp_path, threads):
    docs = _docs(6)
    bad = Document(id="s/bad", text="lone surrogate", source="s", domain="general")
    with TestPipeline() as p:
        model = p | "Model" >> beam.Create([tok_json])
        # the lone surrogate is put in after Create (its coder could not carry one); the encoder refuses it
        result = (p | beam.Create(docs + [bad])
                  | "Surrogate" >> beam.Map(lambda d: d._replace(text="lone \ud800 surrogate") if d.id == "s/bad" else d)
                  | tokenize.Encode(model, HF, str(tmp_path / "tokens"), threads))
        assert_that(result.main | "Ids" >> beam.Map(lambda t: t.id), equal_to([d.id for d in docs]), label="kept")
        assert_that(result.errors | "Why" >> beam.Map(lambda e: (e.stage, e.doc_id, e.error_type)),
                    equal_to([("tokenize", "s/bad", "UnencodableText")]), label="dead")


def test_sentencepiece_on_threads_gives_each_document_its_own_tokens(tmp_path):
    """The final phase's batched encoding (``threads`` > 1): every document gets the arrays ``encode``
    gives it alone, U+2581 included, and the stage is built that way from ``RunContext.threads``."""
    from pilewright.schemas.config import TokenizerConfig
    from pilewright.tokenizer.spm import Encoder
    from pilewright.tokenizer.spm_train import train_bpe
    from pilewright.transforms import tokenize as family
    from pilewright.transforms.flow import RunContext

    model = train_bpe([r["text"] for r in sample_texts(20)], vocab_size=1000)
    (tmp_path / "tok.model").write_bytes(model)
    docs = _docs(300) + [Document(id="s/meta", text="meta\u2581space \u2581", source="s", domain="general")]
    enc = Encoder(model)
    arrays = sorted((d.id, enc.encode(d.text).astype("<u4").tobytes()) for d in docs)
    context = RunContext(seed=0, out_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"), threads=2)
    stage = family.build_stage(TokenizerConfig(model=str(tmp_path / "tok.model")), context)
    with TestPipeline() as p:
        result = p | beam.Create(docs) | stage
        refs = result.main | "Barrier" >> beam.Reshuffle() | "Refs" >> beam.Map(_read_back)
        assert_that(refs, equal_to(arrays), label="refs")
        assert_that(result.errors, equal_to([]), label="errors")
    assert any(label.endswith("Encode/Batch") for label in _labels(p))


def _labels(p) -> list[str]:
    found = []

    class Visit(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            found.append(node.full_label)

        def visit_transform(self, node):
            found.append(node.full_label)

    p.visit(Visit())
    return found
