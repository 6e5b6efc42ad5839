"""Decontamination: are planted evaluation items found, are clean documents left alone, how fast vs datatrove.

Builds a corpus from Wikipedia (../shared/corpora/general): UNPLANTED documents left as they are, and, in
other Wikipedia documents, items of MMLU, GSM8K, TruthfulQA and HumanEval (../shared/corpora/benchmarks)
planted in the middle in three forms:
- verbatim: the item's text as is;
- light: upper- or lower-cased, spaces doubled and lines broken, commas dropped, '?' made '.', and its
  first number changed (+1);
- beyond: a filler word inserted after every 6 normalized words, so no 13 consecutive words of the item
  survive (nor a short item's whole text): these must NOT be found.
Then pilewright's ``decontaminate`` logic (drop, n=13, the stage's ``decide``) and datatrove's
``NGramsDecontFilter`` (n=13, in datatrove's virtualenv) judge the same documents against the same four
sets (field ``text`` of every item). Speed is CPU seconds of one process over in-memory documents.

    nice -n 10 .venv/bin/python benchmarks/bench_decontam.py [--per-kind 60] [--unplanted 1000]

Goals: >= 99% of verbatim and light plants found; 0 unplanted documents flagged; scan throughput >= 5x
datatrove's.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ../shared/corpora from the repo root; CORPORA overrides it (e.g. when running from a git worktree)
CORPORA = Path(os.environ.get("CORPORA", REPO.parent / "shared" / "corpora"))
PEERS_HOME = Path(os.environ.get("PEERS_HOME", "/tmp/pilewright-peers"))
SETS = [("mmlu", "mmlu.jsonl.gz"), ("gsm8k", "gsm8k.jsonl.gz"), ("truthfulqa", "truthfulqa.jsonl.gz"),
        ("humaneval", "humaneval.jsonl.gz")]
FILLERS = ["indeed", "reportedly", "notably", "apparently", "arguably", "meanwhile"]


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if limit is not None and len(out) >= limit:
                break
    return out


def light_edit(text: str, rng: random.Random) -> str:
    text = text.upper() if rng.random() < 0.5 else text.lower()
    text = text.replace(",", "").replace("?", ".")
    text = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=1)
    words = text.split(" ")
    return "".join(w + ("  " if rng.random() < 0.2 else "\n" if rng.random() < 0.05 else " ") for w in words).strip()


def beyond_reach(text: str, rng: random.Random, every: int = 6) -> str:
    from pilewright.transforms.decontaminate.ngrams import norm_word_spans

    _words, starts, _ends = norm_word_spans(text)
    out, at = [], 0
    for k in range(every, len(starts), every):
        out.append(text[at : starts[k]])
        out.append(rng.choice(FILLERS) + " ")
        at = starts[k]
    out.append(text[at:])
    return "".join(out)


def plant(base: str, item_text: str) -> str:
    lines = base.split("\n")
    mid = len(lines) // 2
    return "\n".join(lines[:mid] + [item_text] + lines[mid:])


def build(args):
    from pilewright.schemas.stages.decontaminate import DecontaminateConfig
    from pilewright.transforms.decontaminate import EvalIndex

    rng = random.Random(args.seed)
    wiki_a = read_jsonl(CORPORA / "general" / "wikipedia_en-00000.jsonl.gz", args.unplanted)
    wiki_b = read_jsonl(CORPORA / "general" / "wikipedia_en-00001.jsonl.gz")
    cfg = DecontaminateConfig(
        n=13, action="drop",
        sets=[{"name": name, "paths": [str(CORPORA / "benchmarks" / fn)], "fields": ["text"], "id_field": "id"}
              for name, fn in SETS])
    protected_ids = set(EvalIndex.build(cfg).item_ids)
    items, plants, docs = [], [], []
    short = {}
    b = 0
    for name, fn in SETS:
        recs = read_jsonl(CORPORA / "benchmarks" / fn)
        items += [{"set": name, "id": r["id"], "text": r["text"]} for r in recs]
        protected = [r for r in recs if r["id"] in protected_ids]
        short[name] = len(recs) - len(protected)
        chosen = rng.sample(protected, min(args.per_kind * 3, len(protected)))
        for k, r in enumerate(chosen):
            kind = ("verbatim", "light", "beyond")[k % 3]
            text = r["text"] if kind == "verbatim" else light_edit(r["text"], rng) if kind == "light" else beyond_reach(r["text"], rng)
            base = wiki_b[b % len(wiki_b)]
            b += 1
            doc_id = f"plant-{kind}-{name}-{k}"
            plants.append({"id": doc_id, "set": name, "item": r["id"], "kind": kind})
            docs.append({"id": doc_id, "text": plant(base["text"], text)})
    docs += [{"id": d["id"], "text": d["text"]} for d in wiki_a]
    return cfg, items, plants, docs, short


def run_pilewright(cfg, docs):
    from pilewright.schemas.records import Document
    from pilewright.transforms.decontaminate import EvalIndex
    from pilewright.transforms.decontaminate.stage import decide

    c0, w0 = time.process_time(), time.perf_counter()
    ix = EvalIndex.build(cfg)
    index_cpu, index_wall = time.process_time() - c0, time.perf_counter() - w0
    records = [Document(id=d["id"], text=d["text"], source="wiki", domain="general") for d in docs]
    flagged = {}
    c0, w0 = time.process_time(), time.perf_counter()
    for doc in records:
        _kept, reason, found, _cuts = decide(doc, ix, cfg)
        if reason is not None:
            flagged[doc.id] = found
    scan_cpu, scan_wall = time.process_time() - c0, time.perf_counter() - w0
    # what matched in flagged unplanted documents, for a person to judge (after the timing)
    from pilewright.transforms.decontaminate.ngrams import norm_words

    evidence = {}
    for doc in records:
        if doc.id in flagged and not doc.id.startswith("plant-"):
            words = norm_words(doc.text)
            m = ix.matches(words)[0]
            evidence[doc.id] = (ix.item_ids[m.items[0]], " ".join(words[m.start : m.start + m.length]))
    return {"flagged": flagged, "evidence": evidence, "index_cpu": index_cpu, "index_wall": index_wall, "scan_cpu": scan_cpu,
            "scan_wall": scan_wall, "index_hashes": len(ix)}


def run_datatrove(items, docs, work: Path):
    py = PEERS_HOME / "dt-venv" / "bin" / "python"
    if not py.exists():
        return None
    (work / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    (work / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    subprocess.run([str(py), str(REPO / "benchmarks" / "decontam_datatrove.py"), str(work / "items.jsonl"),
                    str(work / "docs.jsonl"), str(work / "dt.json"), "13"], check=True)
    return json.loads((work / "dt.json").read_text())


def score(name, res, plants, docs, is_found):
    by_kind = {}
    for p in plants:
        hit = is_found(res["flagged"].get(p["id"]), p)
        k = by_kind.setdefault(p["kind"], [0, 0])
        k[0] += hit
        k[1] += 1
    unplanted = [d["id"] for d in docs if not d["id"].startswith("plant-")]
    false = [i for i in unplanted if i in res["flagged"]]
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    print(f"\n{name}:")
    for kind in ("verbatim", "light", "beyond"):
        hit, n = by_kind.get(kind, [0, 0])
        print(f"  {kind:9s} plants found: {hit}/{n} ({100 * hit / max(n, 1):.1f}%)")
    print(f"  unplanted Wikipedia documents flagged: {len(false)}/{len(unplanted)} {false[:8]}")
    for doc_id, (item, words) in sorted(res.get("evidence", {}).items()):
        print(f"    {doc_id}: {item}: '{words}'")
    print(f"  index: {res['index_cpu']:.2f} CPU-s; scan: {res['scan_cpu']:.2f} CPU-s ({res['scan_wall']:.2f} s wall), "
          f"{mb / max(res['scan_cpu'], 1e-9):.2f} MB/CPU-s, {len(docs) / max(res['scan_cpu'], 1e-9):.0f} docs/CPU-s")
    return by_kind, false


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-kind", type=int, default=60, help="plants per kind per evaluation set")
    ap.add_argument("--unplanted", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    if not (CORPORA / "benchmarks").exists():
        print(f"corpora not found under {CORPORA}; nothing to do")
        return 0
    cfg, items, plants, docs, short = build(args)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    print(f"corpus: {len(docs)} documents, {mb:.1f} MB ({len(plants)} planted, {len(docs) - len(plants)} unplanted)")
    print(f"evaluation items: {len(items)}; not protected (< {cfg.min_words} words, or numbers in every n-gram): {short}")
    pw = run_pilewright(cfg, docs)
    pw_kind, pw_false = score("pilewright decontaminate (n=13, numbers masked)", pw, plants, docs,
                              lambda found, p: bool(found) and p["item"] in found.get(p["set"], ()))
    with tempfile.TemporaryDirectory() as work:
        dt = run_datatrove(items, docs, Path(work))
    if dt is None:
        print("\ndatatrove: not run (no virtualenv at", PEERS_HOME / "dt-venv", ")")
    else:
        score("datatrove NGramsDecontFilter (n=13, default TextNormConfig)", dt, plants, docs,
              lambda task, p: task == p["set"])
    found = sum(pw_kind[k][0] for k in ("verbatim", "light"))
    total = sum(pw_kind[k][1] for k in ("verbatim", "light"))
    recall = found / max(total, 1)
    print("\ngoals:")
    print(f"  verbatim+light found >= 99%: {100 * recall:.2f}% -> {'met' if recall >= 0.99 else 'NOT met'}")
    print(f"  beyond-reach plants found (must be 0): {pw_kind['beyond'][0]}")
    print(f"  unplanted flagged == 0: {len(pw_false)} -> {'met' if not pw_false else 'NOT met'}")
    if dt is not None:
        ratio = dt["scan_cpu"] / max(pw["scan_cpu"], 1e-9)
        ratio_all = (dt["scan_cpu"] + dt["index_cpu"]) / max(pw["scan_cpu"] + pw["index_cpu"], 1e-9)
        print(f"  scan throughput >= 5x datatrove: {ratio:.1f}x -> {'met' if ratio >= 5 else 'NOT met'} "
              f"(index build + scan: {ratio_all:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
