"""The Dedup stage in Beam: keep rule, reasons, dead letters, hot keys, scope, audit sections, order."""
from __future__ import annotations

import json
import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

import pilewright.transforms.dedup.stage as dedup_module
from pilewright.schemas.stages.dedup import DedupConfig
from pilewright.schemas.records import Document
from pilewright.transforms.dedup.stage import Dedup

_rng = random.Random(42)
VOCAB = [f"w{i}" for i in range(400)]


def words(n: int, rng: random.Random) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def variant(base: list[str], position: int, new_word: str) -> str:
    out = list(base)
    out[position] = new_word
    return " ".join(out)


def doc(doc_id: str, text: str, source: str = "web", score: float | None = None) -> Document:
    return Document(id=doc_id, text=text, source=source, domain="general",
                    quality=None if score is None else {"hq": score})


BASE = words(200, _rng)
TIE_BASE = words(150, _rng)
BAD_MARKER = "this document makes the signature step fail"

# keep rule: highest "hq" score, then the smallest id
SCENARIO = [
    doc("x1", "Breaking: markets rally, again! " * 20, score=0.2),
    doc("x2", "breaking markets rally again " * 20, score=0.9),
    doc("x3", "BREAKING -- markets rally again " * 20),
    doc("n1", " ".join(BASE)),
    doc("n2", variant(BASE, 50, "zebra")),
    doc("n2copy", variant(BASE, 50, "zebra").upper()),
    doc("n3", variant(BASE, 150, "yak")),
    doc("t_b", variant(TIE_BASE, 10, "tie"), score=0.5),
    doc("t_a", " ".join(TIE_BASE), score=0.5),
    doc("u", " ".join(words(120, _rng))),
    doc("short", "too short to sign"),
    doc("bad", BAD_MARKER),
]
KEPT = [("n1", "n1"), ("short", None), ("t_a", "t_a"), ("u", None), ("x2", "x2")]
REJECTED = [
    ("n2", "dedup:near:n1"), ("n2copy", "dedup:exact"), ("n3", "dedup:near:n1"), ("t_b", "dedup:near:t_a"),
    ("x1", "dedup:exact"), ("x3", "dedup:exact"),
]


def _failing_exact_key(real):
    def exact_key(text, opts, scope=""):
        if text == BAD_MARKER:
            raise ValueError("boom")
        return real(text, opts, scope)

    return exact_key


def _sections(stats, label):
    return stats | f"Json{label}" >> beam.MapTuple(lambda name, text: (name, json.loads(text)))


def test_keep_rule_reasons_dead_letters_audit_and_input_order(monkeypatch):
    monkeypatch.setattr(dedup_module, "exact_key", _failing_exact_key(dedup_module.exact_key))
    cfg = DedupConfig(keep_by="hq", max_rounds=2)
    reordered = list(reversed(SCENARIO))
    with TestPipeline() as p:
        for label, docs in (("fwd", SCENARIO), ("rev", reordered)):
            res = p | f"Create{label}" >> beam.Create(docs) | f"Dedup{label}" >> Dedup(cfg)
            assert_that(res.main | f"Kept{label}" >> beam.Map(lambda d: (d.id, d.dup_cluster)), equal_to(KEPT),
                        label=f"kept_{label}")
            assert_that(res.rejected | f"Rej{label}" >> beam.Map(lambda r: (r.id, r.reason)), equal_to(REJECTED),
                        label=f"rejected_{label}")
            assert_that(res.errors | f"Err{label}" >> beam.Map(lambda e: (e.doc_id, e.error_type, e.stage)),
                        equal_to([("bad", "ValueError", "dedup")]), label=f"errors_{label}")
            sections = _sections(res.stats, label)
            assert_that(
                sections | f"Clusters{label}" >> beam.Filter(
                    lambda kv: kv[0] in ("duplicates", "cluster_sizes", "removed_per_source", "largest_clusters")
                ),
                equal_to([
                    ("duplicates", {"n_clusters": 3, "docs_in_clusters": 9}),
                    ("cluster_sizes", {"edges": [2, 3, 4, 5], "counts": [1, 1, 1]}),
                    ("removed_per_source", {"web": {"exact": 3, "near": 3}}),
                    ("largest_clusters", [
                        {"kept_id": "n1", "size": 4, "sample_ids": ["n1", "n2", "n2copy", "n3"]},
                        {"kept_id": "x2", "size": 3, "sample_ids": ["x1", "x2", "x3"]},
                        {"kept_id": "t_a", "size": 2, "sample_ids": ["t_a", "t_b"]},
                    ]),
                ]),
                label=f"audit_{label}",
            )
            assert_that(
                sections | f"Names{label}" >> beam.Map(lambda kv: kv[0]),
                equal_to(["duplicates", "cluster_sizes", "largest_clusters", "removed_per_source", "groups",
                          "components"]),
                label=f"sections_{label}",
            )


def test_hot_keys_stay_bounded_and_scope_separates_sources():
    boilerplate = "Subscribe to our newsletter for the latest updates, we respect your privacy. " * 8
    family_base = words(120, random.Random(5))
    hot_docs = [doc(f"h{i:02d}", boilerplate) for i in range(40)]
    # 12 near-identical pages: more members than max_group share most band keys
    hot_docs += [doc(f"k{i:02d}", variant(family_base, 5 + 9 * i, f"edit{i}")) for i in range(12)]
    max_group = 8
    scoped = [doc("a", boilerplate, source="s1"), doc("b", boilerplate, source="s2"),
              doc("c", boilerplate, source="s2")]
    with TestPipeline() as p:
        docs = p | "Hot" >> beam.Create(hot_docs)
        with_exact = docs | "WithExact" >> Dedup(DedupConfig(max_group=max_group, max_rounds=2))
        lsh_only = docs | "LshOnly" >> Dedup(DedupConfig(max_group=max_group, max_rounds=2, exact=False))
        expected_kept = [("h00", "h00"), ("k00", "k00")]
        for label, res, reasons in (
            ("exact", with_exact, [("dedup:exact", 39), ("dedup:near:k00", 11)]),
            ("lsh", lsh_only, [("dedup:near:h00", 39), ("dedup:near:k00", 11)]),
        ):
            assert_that(res.main | f"Kept{label}" >> beam.Map(lambda d: (d.id, d.dup_cluster)),
                        equal_to(expected_kept), label=f"kept_{label}")
            assert_that(
                res.rejected
                | f"Reason{label}" >> beam.Map(lambda r: r.reason)
                | f"Count{label}" >> beam.combiners.Count.PerElement(),
                equal_to(reasons), label=f"reasons_{label}",
            )
            groups = (
                _sections(res.stats, label)
                | f"Groups{label}" >> beam.Filter(lambda kv: kv[0] == "groups")
                | f"Bounded{label}" >> beam.Map(
                    lambda kv: (kv[1]["largest_group_held"] <= max_group,
                                sum(v["keys_over_max_group"] for v in kv[1].values() if isinstance(v, dict)) > 0,
                                max(v["largest_key_members"] for v in kv[1].values() if isinstance(v, dict)) >= 12)
                )
            )
            assert_that(groups, equal_to([(True, True, True)]), label=f"bounded_{label}")

        per_source = (
            p | "Scoped" >> beam.Create(scoped)
            | "PerSource" >> Dedup(DedupConfig(scope="per_source", minhash=None))
        )
        assert_that(per_source.main | beam.Map(lambda d: d.id), equal_to(["a", "b"]), label="scope_kept")
        assert_that(per_source.rejected | "ScopedReasons" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([("c", "dedup:exact")]), label="scope_rejected")
