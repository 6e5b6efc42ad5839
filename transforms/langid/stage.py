"""Langid stage: fastText language identification, annotating ``lang`` and ``lang_score``.

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
from pilewright.schemas.stages.quality import LangIdConfig
from pilewright.schemas.records import DeadLetter, Document, RejectedDocument
from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, fasttext_line, fasttext_predict, load_fasttext, local_model_path
from pilewright.transforms.stage import PerSource, StageResult, count, rejected_output, to_dead_letter

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


def identify(model, text: str, cfg: LangIdConfig) -> tuple[str, float]:
    """(language, score) of a document as ``cfg`` reads it."""
    if cfg.over == "prose_lines":
        text = prose_text(text, cfg.prose_min_words)
    return predict_top(model, text)


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
            return cfg, models[path]

        self._pick = self._configs.build(make)

    def process(self, doc: Document) -> Iterable:
        picked = self._pick(doc.source)
        if picked is None:  # a source whose profile turns the stage off
            count(STAGE, "kept")
            yield doc
            return
        cfg, model = picked
        lang, score = identify(model, doc.text, cfg)
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
    Determinism: fastText prediction is deterministic for a given model. Cost: element-wise, the model
    (~1 MB for lid.176.ftz) loaded once per worker; one small global combine for the histogram.
    """

    def __init__(self, cfg: Optional[LangIdConfig] = LangIdConfig(), per_source: Optional[dict] = None):
        super().__init__()
        self._configs = PerSource(cfg, per_source)

    def expand(self, docs: beam.PCollection) -> StageResult:
        outs = docs | "Identify" >> beam.ParDo(_LangIdFn(self._configs)).with_exception_handling(
            main_tag="kept", dead_letter_tag="errors"
        )
        errors = outs["errors"] | "DeadLetters" >> beam.Map(to_dead_letter, stage=STAGE).with_output_types(
            DeadLetter
        )
        stats = (
            outs[_LangIdFn.LANGUAGES]
            | "PerLanguage" >> beam.combiners.Count.PerElement()
            | "AllLanguages" >> beam.combiners.ToList()
            | "Histogram" >> beam.Map(lambda pairs: (LANGID_LANGUAGES, _histogram(pairs)))
        )
        return StageResult(
            main=outs["kept"] | "TypeKept" >> beam.Map(lambda d: d).with_output_types(Document),
            rejected=outs["rejected"] | "TypeRejected" >> beam.Map(lambda r: r).with_output_types(RejectedDocument),
            errors=errors,
            stats=stats,
        )
