"""fastText models shared by the stages that use them (langid, quality classifiers): the shipped model files,
loading from any filesystem, and prediction that survives text fastText cannot take."""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from typing import Optional

from pilewright.schemas.stages.quality import SHIPPED_FASTTEXT_MODELS

LABEL_PREFIX = "__label__"
OTHER_LABEL = "other"
# fastText's lid.176.ftz (CC BY-SA 3.0, see models/ATTRIBUTION.md), shipped as package data; the config
# schema names the shipped models so the launcher leaves those names alone (they are not paths)
SHIPPED_MODELS = SHIPPED_FASTTEXT_MODELS
DEFAULT_LANGID_MODEL = SHIPPED_MODELS[0]


def local_model_path(model: str, workdir: Optional[str] = None) -> str:
    """A local file for a model: a shipped model by name, a local path, or a copy of a remote file."""
    if model in SHIPPED_MODELS:
        return str(resources.files("pilewright.transforms") / "models" / model)
    if os.path.exists(model):
        return model
    from apache_beam.io.filesystems import FileSystems

    workdir = workdir or tempfile.mkdtemp(prefix="pilewright-model-")
    local = os.path.join(workdir, os.path.basename(model.rstrip("/")) or "model.bin")
    with FileSystems.open(model, compression_type="uncompressed") as src, open(local, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return local


def load_fasttext(path: str):
    """A fastText model (``_FastText`` directly: ``fasttext.load_model`` prints a warning to stderr)."""
    from fasttext.FastText import _FastText

    return _FastText(model_path=path)


def fasttext_predict(model, line: str, k: int):
    """``model.predict`` that survives text fastText cannot take (lone surrogates are replaced)."""
    try:
        return model.predict(line, k=k)
    except (TypeError, UnicodeError):
        return model.predict(line.encode("utf-8", "replace").decode("utf-8"), k=k)


def fasttext_line(text: str) -> str:
    """fastText predicts on one line: line breaks become spaces."""
    return text.replace("\r", " ").replace("\n", " ")
