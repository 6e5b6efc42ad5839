"""The mix stage in Beam and end to end: token-exact totals and shares, prefix mix, determinism, shortfalls."""
from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config
from pilewright.schemas.config import SourceConfig
from pilewright.schemas.stages.mix import MixConfig
from pilewright.schemas.records import TokenizedDocument
from pilewright.tokenizer.arrow_shards import iter_documents, shard_paths
from pilewright.tokenizer.spm_train import train_bpe
from pilewright.transforms.mix.stage import MixDomains
from pilewright.transforms.mix.plan import MixShortfallError

from conftest import write_jsonl_gz

SHARES = {"finance": 0.51, "general": 0.49}
TARGET = 150_000


def _words(rng: random.Random, vocab: list[str], n: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(n))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Finance too small for its share (repeated ~1.7x), general too large (subsampled), and a tokenizer."""
    root = tmp_path_factory.mktemp("mixcorpus")
    rng = random.Random(20240601)
    fin_vocab = ["revenue", "margin", "guidance", "quarter", "EBITDA", "dividend", "shares", "growth", "capex", "yield"]
    gen_vocab = ["river", "history", "music", "city", "garden", "novel", "mountain", "science", "winter", "game"]
    files = {
        "calls": [{"id": f"c{i}", "text": _words(rng, fin_vocab, rng.randint(10, 40))} for i in range(350)],
        "filings": [{"id": f"f{i}", "text": _words(rng, fin_vocab, rng.randint(30, 80))} for i in range(60)],
        "wiki": [{"id": f"w{i}", "text": _words(rng, gen_vocab, rng.randint(10, 40))} for i in range(1500)],
    }
    for name, records in files.items():
        write_jsonl_gz(root / f"{name}.jsonl.gz", records)
    # trained once here: the runs below load it instead of training their own
    texts = [r["text"] for records in files.values() for r in records[:100]]
    (root / "tok.model").write_bytes(train_bpe(texts, 300))
    return root


def _config(corpus: Path, seed: int, mix: dict, name: str) -> str:
    cfg = {
        "run": {"seed": seed},
        "sources": [
            {"name": "calls", "paths": [str(corpus / "calls.jsonl.gz")], "format": "jsonl", "domain": "finance"},
            {"name": "filings", "paths": [str(corpus / "filings.jsonl.gz")], "format": "jsonl", "domain": "finance"},
            {"name": "wiki", "paths": [str(corpus / "wiki.jsonl.gz")], "format": "jsonl", "domain": "general"},
        ],
        "tokenizer": {"model": str(corpus / "tok.model")},
        "shards": {"tokens_per_shard": 5_000},
        "mix": mix,
    }
    path = corpus / f"{name}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return str(path)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Two runs of one config and seed (in_memory: no worker processes to start, half the time here)."""
    mix = {"target_tokens": TARGET, "domains": SHARES}
    out = {}
    for label, seed in (("a", 1), ("b", 1)):
        path = _config(corpus, seed, mix, f"mix_{label}")
        out[label] = run_job(load_config(path), ["--direct_running_mode=in_memory"], str(tmp_path_factory.mktemp(f"run_{label}") / "out"))
    return out


def _rows(out_dir):
    return [(doc_id, source, len(tokens)) for doc_id, source, tokens in iter_documents(shard_paths(Path(out_dir)))]


DOMAIN = {"calls": "finance", "filings": "finance", "wiki": "general"}


def test_totals_hit_the_target_and_every_share(runs):
    m = runs["a"].manifest
    mix = m["mix"]
    assert mix["target_tokens"] == TARGET and not mix["shortfall"]
    assert abs(mix["achieved_tokens"] - TARGET) / TARGET < 0.005
    assert m["total_tokens"] == mix["achieved_tokens"] == sum(t for _i, _s, t in _rows(runs["a"].out_dir))
    for d, share in SHARES.items():
        assert abs(mix["domains"][d]["achieved_tokens"] / mix["achieved_tokens"] - share) < 0.002
        assert m["tokens_by_domain"][d]["tokens"] == mix["domains"][d]["achieved_tokens"]
    # finance is repeated, general subsampled; the number of shards follows from the target
    assert mix["sources"]["calls"]["full_epochs"] == 1 and mix["sources"]["wiki"]["full_epochs"] == 0
    assert m["num_shards"] == math.ceil(mix["achieved_tokens"] / 5_000)


def test_every_prefix_of_ten_percent_of_the_shards_has_the_target_mix(runs):
    out = Path(runs["a"].out_dir)
    paths = shard_paths(out)
    assert len(paths) >= 20
    per_shard = []
    for p in paths:
        c = Counter()
        for _doc_id, source, tokens in iter_documents([p]):
            c[DOMAIN[source]] += len(tokens)
        per_shard.append(c)
    worst = 0.0
    for k in range(math.ceil(0.1 * len(paths)), len(paths) + 1):
        total = Counter()
        for c in per_shard[:k]:
            total.update(c)
        n = sum(total.values())
        for d, share in SHARES.items():
            worst = max(worst, abs(total[d] / n - share))
    assert worst < 0.01, worst


def test_documents_repeat_by_whole_epochs_plus_a_partial_draw(runs):
    mix = runs["a"].manifest["mix"]
    seen = Counter(doc_id for doc_id, _s, _t in _rows(runs["a"].out_dir))
    for doc_id, n in seen.items():
        source = doc_id.split("/", 1)[0]
        e = mix["sources"][source]["full_epochs"]
        assert n in (e, e + 1), (doc_id, n, e)
    assert sum(seen.values()) == runs["a"].manifest["total_docs"] == sum(s["copies"] for s in mix["sources"].values())
    audit = {s["name"]: s for s in runs["a"].audit["stages"]}
    assert audit["mix"]["conserved"] and audit["mix"]["kept"] == len(seen)
    assert audit["mix"]["reasons"] == {"subsampled": audit["mix"]["rejected"]} and audit["mix"]["rejected"] > 0
    assert audit["mix"]["stats"]["mix"]["achieved_tokens"] == mix["achieved_tokens"]


def test_same_seed_gives_identical_shards_and_manifest(runs):
    a, b = (Path(runs[k].out_dir) for k in "ab")
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    for pa, pb in zip(shard_paths(a), shard_paths(b), strict=True):
        assert pa.read_bytes() == pb.read_bytes()


# --- the transform alone, on hand-made token counts (no tokenizer) ---

def _tdocs(source: str, domain: str, sizes: list[int]) -> list[TokenizedDocument]:
    return [TokenizedDocument(f"{source}/{i}", source, domain, b"", n) for i, n in enumerate(sizes)]


SRC = [SourceConfig(name="calls", paths=["x"], format="jsonl", domain="finance"),
       SourceConfig(name="wiki", paths=["x"], format="jsonl", domain="general")]


def test_mix_transform_conserves_documents_and_reports_a_shortfall():
    docs = _tdocs("calls", "finance", [100] * 10) + _tdocs("wiki", "general", [50] * 200)
    cfg = MixConfig(target_tokens=10_000, domains={"finance": 0.5, "general": 0.5}, max_epochs=4)
    with TestPipeline() as p:
        res = p | beam.Create(docs) | MixDomains(cfg, SRC, seed=3)
        # finance: 1,000 tokens, at most 4,000 of its 5,000; the target shrinks to 8,000 to keep 50/50
        report = res.stats | beam.Map(lambda kv: json.loads(kv[1]))
        assert_that(
            report | beam.Map(lambda r: (r["target_tokens"], r["achieved_tokens"], r["shortfall"][0]["domain"],
                                         r["shortfall"][0]["missing_tokens"], r["domains"]["finance"]["copies"])),
            equal_to([(8000, 8000, "finance", 1000, 40)]), label="report",
        )
        n_in = p | "N" >> beam.Create([len(docs)])
        kept = res.main | "CountKept" >> beam.combiners.Count.Globally()
        rejected = res.rejected | "CountRejected" >> beam.combiners.Count.Globally()
        assert_that(
            n_in | beam.Map(lambda n, k, r: n == k + r, k=beam.pvalue.AsSingleton(kept), r=beam.pvalue.AsSingleton(rejected)),
            equal_to([True]), label="conserved",
        )


def test_mix_transform_fails_on_shortfall_when_configured():
    docs = _tdocs("calls", "finance", [100] * 10) + _tdocs("wiki", "general", [50] * 200)
    cfg = MixConfig(target_tokens=10_000, domains={"finance": 0.5, "general": 0.5}, on_shortfall="error")
    with pytest.raises(Exception, match=r"domain 'finance' is short by 1,000 tokens") as err:
        with TestPipeline() as p:
            _ = p | beam.Create(docs) | MixDomains(cfg, SRC, seed=3)
    assert "MixShortfallError" in repr(err.value) or isinstance(err.value, MixShortfallError)


def test_another_seed_draws_another_sample_with_the_same_totals():
    import numpy as np

    rng = np.random.default_rng(5)
    docs = (_tdocs("calls", "finance", [int(x) for x in rng.integers(20, 200, 300)])
            + _tdocs("wiki", "general", [int(x) for x in rng.integers(20, 200, 1500)]))
    cfg = MixConfig(target_tokens=60_000, domains=SHARES)
    with TestPipeline() as p:
        samples = []
        for seed in (1, 2):
            mix = p | f"Docs{seed}" >> beam.Create(docs) | f"Mix{seed}" >> MixDomains(cfg, SRC, seed=seed)
            samples.append(mix.mixed | f"Pairs{seed}" >> beam.Map(lambda d: (d.id, d.epoch)) | f"List{seed}" >> beam.combiners.ToList())
            assert_that(
                mix.report | f"Totals{seed}" >> beam.Map(lambda kv: json.loads(kv[1])) | f"Check{seed}" >> beam.Map(
                    lambda r: abs(r["achieved_tokens"] - 60_000) <= 300
                    and all(abs(v["achieved_share"] - SHARES[d]) < 0.002 for d, v in r["domains"].items())),
                equal_to([True]), label=f"totals{seed}",
            )
        differ = samples[0] | beam.Map(lambda a, b: sorted(a) != sorted(b) and len(set(a)) == len(a), b=beam.pvalue.AsSingleton(samples[1]))
        assert_that(differ, equal_to([True]), label="differ")
