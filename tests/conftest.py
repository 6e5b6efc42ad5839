"""Shared fixtures: small corpora written on the fly, the shared corpora folder when present."""
from __future__ import annotations

import gzip
import json
import socket
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
def no_network(monkeypatch):
    """Any connection beyond this machine fails the test instead of reaching a cloud API."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("localhost", "127.0.0.1", "::1") and "/" not in host:
            raise AssertionError(f"network access during an offline test: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


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


def assert_conserved(result, n: int, label: str = "conservation") -> None:
    """Inside a TestPipeline: a stage's kept, rejected and dead-lettered records add up to its ``n`` inputs."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    total = ((result.main | f"{label}Kept" >> beam.combiners.Count.Globally(),
              result.rejected | f"{label}Rejected" >> beam.combiners.Count.Globally(),
              result.errors | f"{label}Errors" >> beam.combiners.Count.Globally())
             | f"{label}All" >> beam.Flatten() | f"{label}Sum" >> beam.CombineGlobally(sum))
    assert_that(total, equal_to([n]), label=label)
