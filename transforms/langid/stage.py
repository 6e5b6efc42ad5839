"""Langid stage: fastText language identification, annotating ``lang`` and ``lang_score``; a second
detector (lingua) where fastText is unsure, as it is on short text (``stages.langid.second_detector``).

The default model is fastText's ``lid.176.ftz`` (176 languages, CC BY-SA 3.0, shipped in
``transforms/models`` with its licence), so nothing is downloaded at run time. ``stages.langid.model`` may
name any fastText language model (``lid.176.bin``, GlotLID, ...) on any filesystem Beam reads; it is copied
to a local file once per worker. Reasons: ``langid:not_in_languages`` (top language not kept),
``langid:low_score`` (kept language below ``min_score``).
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterable, Optional

import apache_beam as beam

from pilewright.schemas.audit import LANGID_LANGUAGES
from pilewright.schemas.errors import UserError
from pilewright.schemas.stages.quality import LangIdConfig
from pilewright.schemas.records import Document, RejectedDocument
from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, fasttext_line, fasttext_predict, load_fasttext, local_model_path
from pilewright.transforms.stage import PerSource, StageResult, count, dead_lettered, rejected_output

STAGE = "langid"
_LABEL_PREFIX = "__label__"


def predict_top(model, text: str) -> tuple[str, float]:
    """(label without ``__label__``, probability in [0, 1]) of the most likely label."""
    labels, probs = fasttext_predict(model, fasttext_line(text), 1)
    if not labels:
        return "unknown", 0.0
    label = labels[0]
    if label.startswith(_LABEL_PREFIX):
        label = label[len(_LABEL_PREFIX) :]
    return label, min(1.0, max(0.0, float(probs[0])))


def model_labels(cfg: LangIdConfig) -> Optional[frozenset[str]]:
    """The languages the configured model can name (without ``__label__``), or None for a remote model
    (read by the workers only). For checking ``languages`` before a run."""
    path = cfg.model or DEFAULT_LANGID_MODEL
    if "://" in path and not path.startswith("pkg://"):
        return None
    model = load_fasttext(local_model_path(path))
    return frozenset(l[len(_LABEL_PREFIX):] if l.startswith(_LABEL_PREFIX) else l for l in model.get_labels())


def langid_reason(lang: str, score: float, cfg: LangIdConfig) -> Optional[str]:
    """Why a document with this prediction is dropped, or None to keep it."""
    if cfg.languages and lang not in cfg.languages:
        return "not_in_languages"
    if score < cfg.min_score:
        return "low_score"
    return None


def _is_prose(words: list[str], min_words: int) -> bool:
    if len(words) < min_words:
        return False
    # a table row of figures has words, but few of them with a letter
    return sum(1 for w in words if any(c.isalpha() for c in w)) * 3 >= len(words) * 2


def prose_text(text: str, min_words: int) -> str:
    """The prose lines of ``text`` (``over: prose_lines``), or the whole text when it has none."""
    lines = [line for line in text.splitlines() if _is_prose(line.split(), min_words)]
    return "\n".join(lines) if lines else text


# lingua's ISO 639-1 codes that lid.176 names differently (Norwegian Bokmål is lid.176's "no")
LINGUA_TO_LID = {"nb": "no"}


class SecondDetectorMissing(UserError):
    """The configured second language detector is not installed."""


class LanguageCodeError(UserError):
    """A ``languages`` entry the language model cannot give."""


def check_languages(cfg: LangIdConfig, where: str) -> None:
    """Raises ``LanguageCodeError`` naming ``<where>.languages[i]`` for a code the model cannot give."""
    labels = model_labels(cfg)
    if labels is None:
        return
    for i, lang in enumerate(cfg.languages):
        if lang not in labels:
            near = sorted(l for l in labels if l[:2] == str(lang)[:2].lower())[:5]
            hint = f" (close: {', '.join(near)})" if near else ""
            raise LanguageCodeError(
                f"{where}.languages[{i}]: {lang!r} is not a language of the model{hint}; use its ISO "
                f"639 codes such as en, de, fr, zh"
            )


class SecondDetector:
    """lingua (``lingua-language-detector``) in low-accuracy mode over all its languages.

    Build once per worker: each language's model (shipped inside lingua's wheel) loads on first use, about
    170 MB for all 75. Low-accuracy mode reads character trigrams only: 0.3 ms a sentence against 2.3 ms in
    high-accuracy mode (and 1.1 GB), and on sentences where lid.176 is unsure it is as good (see
    ``benchmarks/bench_langid.py``). Deterministic.
    """

    def __init__(self):
        try:
            from lingua import LanguageDetectorBuilder
        except ImportError:
            raise SecondDetectorMissing(
                "stages.langid.second_detector: lingua is not installed; install lingua-language-detector "
                "(a pilewright dependency) or set second_detector: none"
            ) from None
        self._detector = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()

    def top(self, text: str) -> Optional[tuple[str, float]]:
        """(language as lid.176 names it, confidence in [0, 1]), or None when lingua names none."""
        values = self._detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0.0:
            return None
        code = values[0].language.iso_code_639_1.name.lower()
        return LINGUA_TO_LID.get(code, code), min(1.0, float(values[0].value))


def _head(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > 0 else max_chars]


def identify(model, text: str, cfg: LangIdConfig, second: Optional[SecondDetector] = None) -> tuple[str, float]:
    """(language, score) of a document as ``cfg`` reads it: lid.176's prediction, or, where its score is
    below ``cfg.second_below``, the second detector's when that is at least as confident (``second`` None:
    lid.176 only).

    A document lid.176 keeps (its language in a non-empty ``languages``, its score at least ``min_score``)
    is not re-read: on the English benchmark corpus three in four of the texts lid.176 is unsure of are
    such, and lingua, asked, relabelled about one in five of them (informal English as de, fr, nl, mi, ...),
    at +36% CPU; not asking costs 0.0004 of mean accuracy on lingua's test sentences. With
    ``languages: []`` (annotate every language) every unsure text is re-read."""
    if cfg.over == "prose_lines":
        text = prose_text(text, cfg.prose_min_words)
    lang, score = predict_top(model, text)
    if second is not None and cfg.second_detector != "none" and score < cfg.second_below:
        if cfg.languages and lang in cfg.languages and score >= cfg.min_score:
            return lang, score  # lid.176 keeps it: its keep decisions stand
        got = second.top(_head(text, cfg.second_max_chars))
        if got is not None and got[1] >= score:  # the more confident of the two
            lang, score = got
    return lang, score


class _LangIdFn(beam.DoFn):
    LANGUAGES = LANGID_LANGUAGES

    def __init__(self, configs: PerSource):
        super().__init__()
        self._configs = configs
        self._pick = None

    def setup(self) -> None:
        models: dict[str, object] = {}  # one load per model file, whatever number of profiles name it

        def make(cfg: LangIdConfig):
            path = cfg.model or DEFAULT_LANGID_MODEL
            if path not in models:
                models[path] = load_fasttext(local_model_path(path))
            second = None
            if cfg.second_detector == "lingua":
                if "lingua" not in models:
                    models["lingua"] = SecondDetector()
                second = models["lingua"]
            return cfg, models[path], second

        self._pick = self._configs.build(make)

    def process(self, doc: Document) -> Iterable:
        picked = self._pick(doc.source)
        if picked is None:  # a source whose profile turns the stage off
            count(STAGE, "kept")
            yield doc
            return
        cfg, model, second = picked
        lang, score = identify(model, doc.text, cfg, second)
        out = doc._replace(lang=lang, lang_score=score)
        reason = langid_reason(lang, score, cfg)
        yield beam.pvalue.TaggedOutput(self.LANGUAGES, lang)
        if reason is None:
            count(STAGE, "kept")
            yield out
        else:
            yield rejected_output(out, STAGE, reason)


def _histogram(pairs: Iterable[tuple[str, int]]) -> str:
    counts = Counter(dict(pairs))
    return json.dumps(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


class LangId(beam.PTransform):
    """Identifies each document's language with fastText and keeps the configured languages.

    Input: PCollection[Document]. Output: StageResult(main=Document with lang and lang_score,
    rejected=RejectedDocument "langid:not_in_languages" / "langid:low_score", errors=DeadLetter,
    stats=("languages", JSON {lang: documents}) over every classified document).
    Counters: langid/kept, langid/dropped:<reason>.
    Per source: ``per_source`` maps a source name to the config its profile resolves to (None or
    ``enabled: false``: its documents pass unannotated); other sources use ``cfg``.
    Determinism: fastText and lingua predictions are deterministic for a given model. Cost: element-wise,
    the model (~1 MB for lid.176.ftz) loaded once per worker, lingua's models (~170 MB) loaded on first
    use; lingua reads only the texts lid.176 is unsure of; one small global combine for the histogram.
    """

    def __init__(self, cfg: Optional[LangIdConfig] = LangIdConfig(), per_source: Optional[dict] = None):
        super().__init__()
        self._configs = PerSource(cfg, per_source)

    def expand(self, docs: beam.PCollection) -> StageResult:
        outs, errors = dead_lettered(docs, "Identify", _LangIdFn(self._configs), STAGE, main_type=Document,
                                     rejected=RejectedDocument)
        stats = (
            outs[_LangIdFn.LANGUAGES]
            | "PerLanguage" >> beam.combiners.Count.PerElement()
            | "AllLanguages" >> beam.combiners.ToList()
            | "Histogram" >> beam.Map(lambda pairs: (LANGID_LANGUAGES, _histogram(pairs)))
        )
        return StageResult(
            main=outs["kept"],
            rejected=outs["rejected"],
            errors=errors,
            stats=stats,
        )
