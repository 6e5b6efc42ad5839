"""Shared fixtures: small corpora written on the fly, the shared corpora folder when present."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every machine (a test's own @settings add to this): a law that
# fails is found by widening max_examples locally, not by a red CI run on a draw no one can replay.
settings.register_profile("pilewright", derandomize=True)
settings.load_profile("pilewright")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE_DIR = REPO / "pipeline" / "sample"


def write_jsonl_gz(path: Path, records: list[dict]) -> Path:
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        for r in records:
            f.write((json.dumps(r) + "\n").encode())
    return path


@pytest.fixture
def shared_corpora() -> Path:
    corpora = SHARED / "corpora"
    if not corpora.is_dir():
        pytest.skip("../shared/corpora is not present (only the project's own machines have it)")
    return corpora


def sample_texts(limit: int = 30) -> list[dict]:
    """Real text from the embedded sample (wikipedia + earnings calls), for small test corpora."""
    out = []
    for name in ("wikipedia", "earnings_calls"):
        with gzip.open(SAMPLE_DIR / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= limit // 2:
                    break
                r = json.loads(line)
                out.append({"id": r["id"], "text": r["text"][:4000], "domain": "general" if name == "wikipedia" else "finance"})
    return out
