"""Tokenize stage: train (once per run) or load a sentencepiece model, or load a Hugging Face
tokenizer.json, then encode every document. ``Tokenize`` makes that choice from the ``tokenizer:`` block."""
from __future__ import annotations

import tempfile
import typing

from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pilewright.schemas.config import TokenizerConfig, TokenizerTrainConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument, TokenizedDocument
from pilewright.tokenizer.spm import Encoder, model_info
from pilewright.tokenizer.hf import TOKENIZER_FILE, HFEncoder, HFOptions, hf_info, read_tokenizer_json
from pilewright.tokenizer.spm_train import train_bpe
from pilewright.transforms.hashing import stable_hash64
from pilewright.transforms.spill import RangeReader, SpillDocumentsFn, SpillWriter, iter_documents
from pilewright.transforms.stage import DEAD, batch_with_fallback, count, dead_lettered, distribution

STAGE = "tokenize"
# documents sampled for training are pre-filtered by hash to about this multiple of sample_docs, so the
# Top-K combine never holds much more than the sample itself
_OVERSAMPLE = 1.5
# documents per call into the library when encoding on several threads (``Encode(threads=...)``): enough
# for every thread to have work, few enough that a batch's texts and arrays stay a few MB
ENCODE_BATCH = 256


def _sample_threshold(n_docs: int, sample_docs: int) -> int:
    if n_docs <= sample_docs:
        return 1 << 63
    return min(1 << 63, int((1 << 63) * _OVERSAMPLE * sample_docs / n_docs))


def _within_bytes(sample: list[tuple[int, str, int]], max_bytes: int) -> dict[str, int]:
    """{id: key} of the sample's documents in (key, id) order until the next would pass ``max_bytes``."""
    chosen, total = {}, 0
    for key, doc_id, n_bytes in sorted(sample):
        if chosen and total + n_bytes > max_bytes:
            break
        chosen[doc_id] = key
        total += n_bytes
    return chosen


class _SpillSampleFn(beam.DoFn):
    """Document in the sample -> (key, id, path, offset, length): its text written once to the working
    folder, so only the reference travels to the one worker that trains."""

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder
        self._writer: Optional[SpillWriter] = None

    def start_bundle(self):
        self._writer = SpillWriter(self._folder)

    def process(self, doc: Document, chosen: dict):
        key = chosen.get(doc.id)
        if key is not None:
            path, offset, length = self._writer.write(doc.text.encode("utf-8", "surrogatepass"))
            yield key, doc.id, path, offset, length

    def finish_bundle(self):
        self._writer.close()


def _sample_texts(refs: list[tuple]) -> Iterable[str]:
    # sorted by (key, id): the sample and its order depend on the seed and ids only
    reader = RangeReader()
    try:
        for _key, _id, path, offset, length in sorted(refs):
            yield reader.read(path, offset, length).decode("utf-8", "surrogatepass")
    finally:
        reader.close()


def _train(refs: list[tuple], cfg: TokenizerTrainConfig) -> bytes:
    return train_bpe(_sample_texts(refs), cfg.vocab_size, cfg.max_sentences, cfg.character_coverage)


def _write_model(model: bytes, model_dir: str) -> bytes:
    """Writes tokenizer.model and tokenizer.vocab (piece, score) beside the shards."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model)
    vocab = "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i)}\n" for i in range(sp.vocab_size()))
    for name, data in (("tokenizer.model", model), ("tokenizer.vocab", vocab.encode("utf-8"))):
        with FileSystems.create(FileSystems.join(model_dir, name)) as f:
            f.write(data)
    return model


class TrainTokenizer(beam.PTransform):
    """Document -> one element: sentencepiece model bytes, also written to ``model_dir``.

    The sample is the ``sample_docs`` documents with the smallest blake2b(seed, id), cut where their text
    would pass ``sample_bytes``: deterministic and independent of input order. Training runs once per run,
    on one worker (inherent to sentencepiece), fed from a local file of the sample's lines.
    Cost: one global count, a Top-K combine over about 1.5 x sample_docs (key, id, bytes) records, the
    sample's text written once to ``work_dir`` and one reference per sampled document to the trainer.
    """

    def __init__(self, cfg: TokenizerTrainConfig, seed: int, model_dir: str, work_dir: str):
        super().__init__()
        self._cfg = cfg
        self._seed = seed
        self._model_dir = model_dir
        self._work_dir = work_dir

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        cfg, seed = self._cfg, self._seed
        n_docs = docs | "CountDocs" >> beam.combiners.Count.Globally()
        sample = (
            docs
            # 63-bit keys: Beam's integer coder is signed 64-bit
            | "Key" >> beam.Map(
                lambda d: (stable_hash64(str(seed), d.id) >> 1, d.id, len(d.text.encode("utf-8", "surrogatepass")))
            )
            | "PreFilter" >> beam.Filter(
                lambda kt, n: kt[0] < _sample_threshold(n, cfg.sample_docs), n=beam.pvalue.AsSingleton(n_docs)
            )
            | "Sample" >> beam.combiners.Top.Smallest(cfg.sample_docs)
            | "WithinBytes" >> beam.Map(_within_bytes, cfg.sample_bytes)
        )
        refs = docs | "SpillSample" >> beam.ParDo(
            _SpillSampleFn(self._work_dir), chosen=beam.pvalue.AsSingleton(sample)
        )
        return (
            refs
            | "AllRefs" >> beam.combiners.ToList()
            | "Train" >> beam.Map(_train, cfg)
            | "WriteModel" >> beam.Map(_write_model, self._model_dir)
        )


def _read_model(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read()


class LoadTokenizer(beam.PTransform):
    """PBegin -> one element: the bytes of an existing model, copied into ``model_dir``."""

    def __init__(self, path: str, model_dir: str):
        super().__init__()
        self._path = path
        self._model_dir = model_dir

    def expand(self, pbegin) -> beam.PCollection:
        return (
            pbegin
            | "ModelPath" >> beam.Create([self._path])
            | "Read" >> beam.Map(_read_model)
            | "WriteModel" >> beam.Map(_write_model, self._model_dir)
        )


def _write_hf(data: bytes, model_dir: str) -> bytes:
    with FileSystems.create(FileSystems.join(model_dir, TOKENIZER_FILE)) as f:
        f.write(data)
    return data


class LoadHFTokenizer(beam.PTransform):
    """PBegin -> one element: the bytes of a Hugging Face tokenizer.json (a file, or the folder holding
    one, on any Beam filesystem), copied into ``model_dir``. Never downloads from a model hub."""

    def __init__(self, path: str, model_dir: str):
        super().__init__()
        self._path = path
        self._model_dir = model_dir

    def expand(self, pbegin) -> beam.PCollection:
        return (
            pbegin
            | "TokenizerPath" >> beam.Create([self._path])
            | "Read" >> beam.Map(read_tokenizer_json)
            | "WriteTokenizer" >> beam.Map(_write_hf, self._model_dir)
        )


class _EncodeFn(beam.DoFn):
    """Thin shell over ``Encoder`` / ``HFEncoder``; the model is built once per worker from the side input.

    ``hf``: None for sentencepiece, else how the Hugging Face tokenizer wraps a document. A document
    the tokenizer cannot take (lone surrogates) raises ``UnencodableText`` and becomes a dead letter.
    """

    def __init__(self, hf: Optional[HFOptions] = None):
        super().__init__()
        self._hf = hf
        self._encoder = None

    def _encoder_for(self, model: bytes):
        # side inputs are not available in setup(); the model is built on first use and kept
        if self._encoder is None:
            hf = self._hf
            self._encoder = (Encoder(model) if hf is None else
                             HFEncoder(model, eos_token=hf.eos_token, bos_token=hf.bos_token, add_bos=hf.add_bos))
        return self._encoder

    def process(self, doc: Document, model: bytes) -> Iterable:
        yield from self._emit(doc, self._encoder_for(model).encode(doc.text))

    @staticmethod
    def _emit(doc: Document, tokens) -> Iterable:
        n = int(tokens.shape[0])
        yield TokenizedDocument(
            id=doc.id, source=doc.source, domain=doc.domain, tokens=tokens.astype("<u4", copy=False).tobytes(), n_tokens=n
        )
        yield beam.pvalue.TaggedOutput("annotated", doc._replace(n_tokens=n))
        distribution(STAGE, "doc_tokens", n)
        count(STAGE, "kept")


class _EncodeBatchFn(_EncodeFn):
    """``_EncodeFn`` over batches: each batch goes to the library in one call, on ``threads`` threads (the
    local final phase runs alone on the machine, so its encoding can use every core). A batch that fails
    is encoded document by document, so only the document at fault becomes a dead letter."""

    def __init__(self, hf: Optional[HFOptions], threads: int):
        super().__init__(hf)
        self._threads = threads

    def process(self, batch: list[Document], model: bytes) -> Iterable:
        encoder = self._encoder_for(model)
        yield from batch_with_fallback(
            batch, lambda docs: encoder.encode_batch([d.text for d in docs], num_threads=self._threads),
            lambda d: encoder.encode(d.text), self._emit, STAGE)


class _SpillTokensFn(beam.DoFn):
    """TokenizedDocument -> the same with its tokens written once to the working folder and replaced by
    a reference (fused with the encoder: the arrays never sit in a shuffle or a runner's buffer)."""

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder
        self._writer: Optional[SpillWriter] = None

    def start_bundle(self):
        self._writer = SpillWriter(self._folder)

    def process(self, doc: TokenizedDocument):
        path, offset, _length = self._writer.write(doc.tokens)
        yield doc._replace(tokens=b"", ref_path=path, ref_offset=offset)

    def finish_bundle(self):
        self._writer.close()


class EncodeResult(typing.NamedTuple):
    """``StageResult``'s fields, plus ``annotated``: the Documents with ``n_tokens`` set, for OUT/documents."""

    main: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    stats: Optional[beam.PCollection]
    annotated: beam.PCollection


class TokenizeResult(typing.NamedTuple):
    """``EncodeResult``'s fields, plus ``info``: one ``TokenizerInfo`` (kind, vocabulary, EOS/BOS ids, file)
    that the shards and the manifest record."""

    main: beam.PCollection
    rejected: beam.PCollection
    errors: beam.PCollection
    stats: Optional[beam.PCollection]
    annotated: beam.PCollection
    info: beam.PCollection


class Encode(beam.PTransform):
    """Document -> EncodeResult(main=TokenizedDocument, rejected=empty, errors=DeadLetter, annotated=Document).

    Counters: ``tokenize/kept``, distribution ``tokenize/doc_tokens``. Deterministic; no shuffle.
    ``threads`` > 1: documents go to the library in batches of ``ENCODE_BATCH`` and a sentencepiece model
    encodes each batch on that many threads (a Hugging Face tokenizer on its own thread pool); the arrays
    are the same whatever the threads. With ``work_dir`` (a job's ``OUT/.work/tokens``) the token arrays are written there once and the
    TokenizedDocuments carry references (``ref_path``, ``ref_offset``) instead of the arrays.
    """

    def __init__(self, model: beam.PCollection, hf: Optional[HFOptions] = None, work_dir: Optional[str] = None,
                 threads: int = 1):
        super().__init__()
        self._model = model
        self._hf = hf
        self._work_dir = work_dir
        self._threads = threads

    def expand(self, docs: beam.PCollection) -> EncodeResult:
        fn: beam.DoFn = _EncodeFn(self._hf)
        if self._threads > 1:
            # batches only to hand the library several texts at once for its threads
            docs = docs | "Batch" >> beam.BatchElements(min_batch_size=ENCODE_BATCH, max_batch_size=ENCODE_BATCH)
            fn = _EncodeBatchFn(self._hf, self._threads)
        outs, errors = dead_lettered(docs, "Encode", fn, STAGE, main_tag="tokens",
                                     main_type=TokenizedDocument,
                                     side_inputs={"model": beam.pvalue.AsSingleton(self._model)}, annotated=Document,
                                     **{DEAD: DeadLetter})
        rejected = docs.pipeline | "NoRejections" >> beam.Create([]).with_output_types(RejectedDocument)
        tokens = outs["tokens"]
        if self._work_dir is not None:
            tokens = tokens | "SpillTokens" >> beam.ParDo(_SpillTokensFn(self._work_dir)).with_output_types(
                TokenizedDocument)
        return EncodeResult(main=tokens, rejected=rejected, errors=errors, stats=None, annotated=outs["annotated"])


def hf_options(cfg: TokenizerConfig) -> Optional[HFOptions]:
    """How the configured Hugging Face tokenizer wraps a document; None for a sentencepiece model."""
    if cfg.hf is None:
        return None
    return HFOptions(eos_token=cfg.eos_token, bos_token=cfg.bos_token, add_bos=cfg.bos)


# the steps whose worker time is the tokenizer's own (loading or training it), not encoding's: the
# timing's ``train_tokenizer`` line, which ``pilewright plan`` counts as a fixed cost
TOKENIZER_STEPS = ("LoadTokenizer", "TrainTokenizer", "TokenizerInfo", "SpillCurated")


class Tokenize(beam.PTransform):
    """Document -> TokenizeResult(main=TokenizedDocument, rejected=empty, errors=DeadLetter,
    annotated=Document with ``n_tokens``, info=TokenizerInfo), from the ``tokenizer:`` block.

    The block picks the tokenizer: ``hf`` loads a Hugging Face tokenizer.json, ``model`` an existing
    sentencepiece model, ``train`` trains one on these documents (``TrainTokenizer``); either way the
    file is copied to ``model_dir`` (OUT/tokenizer) beside the shards.
    Counters: ``tokenize/kept``, distribution ``tokenize/doc_tokens``.
    Determinism: a trained model depends on (seed, ids, texts) only; encoding is a pure function of the model.
    Cost: with ``train``, every document waits on disk under ``work_dir`` for the model (one reference per
    bundle crosses the barrier); otherwise element-wise, no shuffle. Token arrays go to ``work_dir``/tokens.
    """

    def __init__(self, cfg: TokenizerConfig, seed: int, model_dir: Optional[str] = None,
                 work_dir: Optional[str] = None, threads: int = 1):
        super().__init__()
        self._cfg = cfg
        self._seed = seed
        self._threads = threads
        # outside a job (tests, benchmarks) the model and the spill files go to a temporary folder
        self._model_dir = model_dir if model_dir is not None else tempfile.mkdtemp(prefix="pilewright-tokenizer-")
        self._work_dir = work_dir if work_dir is not None else tempfile.mkdtemp(prefix="pilewright-tokenize-")

    def expand(self, docs: beam.PCollection) -> TokenizeResult:
        cfg, work = self._cfg, self._work_dir
        hf = hf_options(cfg)
        if per_document(cfg):
            model, info = _load_tokenizer(cfg, self._model_dir, docs.pipeline)
        else:
            model = docs | "TrainTokenizer" >> TrainTokenizer(
                cfg.train, self._seed, self._model_dir, FileSystems.join(work, "tokenizer"))
            # the encoder waits for the model, which waits for every document: the documents wait on
            # disk (one reference per bundle crosses the barrier), not in a runner's buffers
            docs = (
                docs
                | "SpillCurated" >> beam.ParDo(SpillDocumentsFn(FileSystems.join(work, "curated")))
                | "ReadCurated" >> beam.FlatMap(iter_documents).with_output_types(Document)
            )
            info = model | "TokenizerInfo" >> beam.Map(model_info)
        encoded = docs | "Encode" >> Encode(model, hf, FileSystems.join(work, "tokens"), self._threads)
        return TokenizeResult(main=encoded.main, rejected=encoded.rejected, errors=encoded.errors,
                              stats=encoded.stats, annotated=encoded.annotated, info=info)


def per_document(cfg: TokenizerConfig) -> bool:
    """Whether each document can be encoded on its own: a given tokenizer (``hf`` or ``model``), not one
    trained on a sample of every document. A phased job then encodes in its per-document units."""
    return cfg.train is None


def _load_tokenizer(cfg: TokenizerConfig, model_dir: str, pbegin) -> tuple[beam.PCollection, beam.PCollection]:
    """(the given tokenizer's bytes, its TokenizerInfo), the file copied into ``model_dir``."""
    hf = hf_options(cfg)
    if hf is not None:
        model = pbegin | "LoadTokenizer" >> LoadHFTokenizer(cfg.hf, model_dir)
        return model, model | "TokenizerInfo" >> beam.Map(
            lambda data: hf_info(data, eos_token=hf.eos_token, bos_token=hf.bos_token, add_bos=hf.add_bos))
    model = pbegin | "LoadTokenizer" >> LoadTokenizer(cfg.model, model_dir)
    return model, model | "TokenizerInfo" >> beam.Map(model_info)


ENCODED_DOCS = "docs"
ENCODED_TOKENS = "tokens"


class Encoded(beam.PTransform):
    """{``docs``: Document with ``n_tokens``, ``tokens``: TokenizedDocument (by reference)} that units of a
    phased job encoded (``per_document``) -> TokenizeResult with those, nothing rejected, and the
    tokenizer's info; the tokenizer is copied to ``model_dir`` (OUT/tokenizer) as ``Tokenize`` does.
    Cost: the tokenizer file read once; the documents and token references pass through."""

    def __init__(self, cfg: TokenizerConfig, model_dir: Optional[str] = None):
        super().__init__()
        self._cfg = cfg
        self._model_dir = model_dir if model_dir is not None else tempfile.mkdtemp(prefix="pilewright-tokenizer-")

    def expand(self, inputs: dict) -> TokenizeResult:
        docs, tokens = inputs[ENCODED_DOCS], inputs[ENCODED_TOKENS]
        _model, info = _load_tokenizer(self._cfg, self._model_dir, docs.pipeline)
        empty = docs.pipeline | "NoRejected" >> beam.Create([]).with_output_types(RejectedDocument)
        no_errors = docs.pipeline | "NoErrors" >> beam.Create([]).with_output_types(DeadLetter)
        return TokenizeResult(main=tokens, rejected=empty, errors=no_errors, stats=None, annotated=docs, info=info)

