"""Runs shared by the explain and diff tests (no tests here), each made once per session.

- ``families_run()``: a crafted corpus where every stage family that drops documents drops at least one
  (extract, url_filter, normalize, langid, quality, decontaminate, dedup, span_dedup, pii, and a dead letter).
- ``threshold_runs()``: the embedded sample's general and finance text with the rule sets and langid, pii
  and a classifier, run as configured (``base``), with one threshold changed (``one``), with a threshold of
  every recomputable rule of langid and quality changed (``every``, see ``EVERY``), and with pii dropping
  documents (``pii``).
"""
from __future__ import annotations

import atexit
import functools
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from conftest import REPO, SAMPLE_DIR, sample_texts

_ROOT = Path(tempfile.mkdtemp(prefix="pilewright-explain-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)

GERMAN = ("Die Stadt liegt am Ufer des Flusses und hat eine lange Geschichte. Im Mittelalter war sie ein wichtiger "
          "Handelsplatz, und viele Kaufleute kamen aus fernen Ländern, um hier ihre Waren zu verkaufen. Heute leben "
          "in der Stadt ungefähr zwanzigtausend Menschen, die meisten arbeiten in kleinen Betrieben oder in der "
          "Verwaltung. Die alte Kirche in der Mitte der Stadt wurde im vierzehnten Jahrhundert gebaut und ist bis "
          "heute das bekannteste Gebäude der ganzen Region.")
EVAL_ITEM = ("which planet in the solar system has the largest number of confirmed moons orbiting around it "
             "according to recent astronomical surveys")
EMAILS = " ".join(f"Contact desk{i}@bank-example.com for details." for i in range(6))
LID = str(REPO / "transforms" / "models" / "lid.176.ftz")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _warc(path: Path) -> None:
    from warc_records import gz_members, http, record

    body = "<html><body><p>" + " ".join(sample_texts(16)[-1]["text"].split()[:200]) + "</p></body></html>"
    pages = [
        record("response", "https://news.example.org/a", http(body.encode()), n=1),
        record("response", "https://news.example.org/empty", http(b"<html><body><script>x()</script></body></html>"), n=2),
    ]
    path.write_bytes(gz_members(pages))


def _run(config: dict, name: str):
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    folder = _ROOT / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_job(load_config(str(path)), [], str(folder / "out"))
    return Path(result.out_dir)


@functools.lru_cache(maxsize=None)
def families_run() -> Path:
    from pilewright.transforms.span_dedup.stage import order_key

    inputs = _ROOT / "families-input"
    inputs.mkdir(parents=True, exist_ok=True)
    texts = [t["text"] for t in sample_texts(16)]
    good = [t for t in texts if t.count("\n") >= 6 and len(t.split()) > 300][:6]
    rows = [{"id": f"good{i}", "text": t, "url": f"https://good.example.org/{i}"} for i, t in enumerate(good)]
    lines = [line for line in good[0].split("\n") if len(line) >= 40]
    seed = 1234
    # span_dedup: the first lines of good0 in a document that loses them to good0 (later in the seeded order)
    loser = next(f"span{i}" for i in range(100) if order_key(seed, f"web/span{i}") > order_key(seed, "web/good0"))
    rows += [
        {"id": "blocked", "text": good[1], "url": "https://spam.example.net/page"},
        {"id": "controls", "text": "\x07\x07\x07", "url": "https://good.example.org/c"},
        {"id": "german", "text": GERMAN, "url": "https://good.example.org/de"},
        {"id": "short", "text": "A short note of a few words only.", "url": "https://good.example.org/s"},
        {"id": "contaminated", "text": good[2] + "\n" + EVAL_ITEM.capitalize() + "?", "url": "https://good.example.org/e"},
        {"id": "copy", "text": good[3], "url": "https://good.example.org/copy"},
        {"id": loser, "text": "\n".join(lines[:4]), "url": "https://good.example.org/span"},
        {"id": "emails", "text": good[4] + "\n" + EMAILS, "url": "https://good.example.org/m"},
    ]
    _write_jsonl(inputs / "web.jsonl", rows)
    with open(inputs / "web.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "broken", "text": \n')  # a dead letter
    _write_jsonl(inputs / "eval.jsonl", [{"id": "q1", "question": EVAL_ITEM}])
    (inputs / "block.txt").write_text("spam.example.net\n")
    _warc(inputs / "cc.warc.gz")
    config = {
        "run": {"seed": seed},
        "sources": [
            {"name": "web", "paths": [str(inputs / "web.jsonl")], "format": "jsonl", "url_field": "url"},
            {"name": "cc", "paths": [str(inputs / "cc.warc.gz")], "format": "warc"},
        ],
        "stages": {
            "extract": {},
            "url_filter": {"block_domains": [str(inputs / "block.txt")]},
            "normalize": {},
            "langid": {"languages": ["en"]},
            "quality": {"rules": ["gopher_repetition", "gopher_quality"]},
            "decontaminate": {"sets": [{"name": "quiz", "paths": [str(inputs / "eval.jsonl")], "fields": ["question"],
                                        "id_field": "id"}]},
            "dedup": {},
            "span_dedup": {"min_doc_words": 20},
            "pii": {"drop_document_over": 3},
        },
        "tokenizer": {"train": {"vocab_size": 600}},
    }
    return _run(config, "families")


BASE_QUALITY = {
    "rules": ["gopher_repetition", "gopher_quality", "c4", "fineweb", "junk"],
    "classifiers": [{"model": LID, "label": "en", "min_score": 0.5}],
}
# one threshold of every recomputable rule, some loosened and some tightened
EVERY = [
    "quality.gopher_quality.min_doc_words=150",
    "quality.gopher_quality.min_alpha_words_ratio=0.6",
    "quality.gopher_repetition.top_n_grams={2: 0.2, 3: 0.25, 4: 0.16}",
    "quality.gopher_repetition.dup_line_frac=0.2",
    "quality.c4.min_num_sentences=8",
    "quality.fineweb.char_duplicates_ratio=0.05",
    "quality.junk.max_exclaim_ratio=0.02",
    "quality.classifiers.0.min_score=0.9",
    "langid.min_score=0.9",
]
# pii decides last: a document a looser rule lets through never reached it, so its own rerun
PII = ["pii.drop_document_over=0"]
ONE = "quality.gopher_quality.min_doc_words=150"


def _threshold_config() -> dict:
    return {
        "run": {"seed": 7},
        "sources": [
            {"name": "wikipedia", "paths": [str(SAMPLE_DIR / "wikipedia.jsonl.gz")], "format": "jsonl"},
            {"name": "earnings_calls", "paths": [str(SAMPLE_DIR / "earnings_calls.jsonl.gz")], "format": "jsonl",
             "domain": "finance"},
            {"name": "sec_filings", "paths": [str(SAMPLE_DIR / "sec_filings.jsonl.gz")], "format": "jsonl",
             "domain": "finance"},
        ],
        "stages": {"normalize": {}, "langid": {"languages": ["en"], "min_score": 0.65}, "quality": BASE_QUALITY,
                   "pii": {}},
        "tokenizer": {"train": {"vocab_size": 2000}},
    }


def with_assignments(config: dict, assignments: list[str]) -> dict:
    """``config`` with KEY=VALUE assignments applied as a user would edit the file (keys under ``stages``)."""
    config = json.loads(json.dumps(config))
    for text in assignments:
        key, value = text.split("=", 1)
        node = config["stages"]
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(value)
    return config


@functools.lru_cache(maxsize=None)
def threshold_runs() -> dict[str, Path]:
    base = _threshold_config()
    return {
        "base": _run(base, "base"),
        "one": _run(with_assignments(base, [ONE]), "one"),
        "every": _run(with_assignments(base, EVERY), "every"),
        "pii": _run(with_assignments(base, PII), "pii"),
    }
