"""C4 bad words: the same decisions as datatrove's ``C4BadWordsFilter`` on the same documents and lists.

Documents: Wikipedia, IMDb reviews, BBC news, SpamAssassin emails and Reuters news from ../shared/corpora.
Each gets a language: most ``en``; a quarter ``zh`` (so the list is matched inside words, as for Chinese,
Japanese and Thai); some ``xx`` (a language without a list: kept by both). Lists: ``--list en=PATH`` (for
instance a local copy of LDNOOBW's English file) or, when none is given, a list the benchmark writes from the
corpus itself (words of several frequencies, two-word phrases, entries with regex metacharacters, and an
allowlisted entry), used for both ``en`` and ``zh``. datatrove gets the same files (its downloader is
replaced by a lookup; nothing is fetched).

    nice -n 10 .venv/bin/python benchmarks/bench_badwords.py [--list en=PATH] [--per-source 2000]
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ../shared/corpora from the repo root; CORPORA overrides it (e.g. when running from a git worktree)
CORPORA = Path(os.environ.get("CORPORA", REPO.parent / "shared" / "corpora"))
PEERS_HOME = Path(os.environ.get("PEERS_HOME", "/tmp/pilewright-peers"))
SOURCES = ["general/wikipedia_en-00002.jsonl.gz", "general/imdb_reviews.jsonl.gz", "general/bbc_news.jsonl.gz",
           "email/spamassassin_emails.jsonl.gz", "finance/reuters21578_news.jsonl.gz"]


def read_jsonl(path: Path, limit: int) -> list[dict]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


def synthetic_list(docs: list[dict], rng: random.Random) -> list[str]:
    """Entries that hit some documents and not others, and that test escaping and the allowlist."""
    freq = collections.Counter()
    for d in docs:
        freq.update(set(d["text"].lower().split()))
    alpha = [w for w, c in freq.items() if w.isalpha() and len(w) >= 4]
    by_df = sorted(alpha, key=lambda w: (freq[w], w))
    # document frequencies from rare to about 2% of the documents
    band = [w for w in by_df if 2 <= freq[w] <= max(3, len(docs) // 50)]
    words = rng.sample(band, min(60, len(band)))
    phrases = []
    for d in rng.sample(docs, 20):
        toks = [t for t in d["text"].lower().split() if t.isalpha()]
        if len(toks) > 10:
            i = rng.randrange(len(toks) - 1)
            phrases.append(f"{toks[i]} {toks[i + 1]}")
    special = ["c++", "a.m.", "$$$", "(c)", "f*ck", "s.o.b.", "sm", "2g1c"]
    return sorted(set(words + phrases + special))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="append", default=[], help="LANG=PATH of a list file (repeatable)")
    ap.add_argument("--per-source", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    if not CORPORA.exists():
        print(f"corpora not found under {CORPORA}; nothing to do")
        return 0
    from pilewright.schemas.stages.quality import BadWordsConfig
    from pilewright.transforms.quality.c4 import BadWords

    rng = random.Random(args.seed)
    docs = []
    for src in SOURCES:
        for i, d in enumerate(read_jsonl(CORPORA / src, args.per_source)):
            r = rng.random()
            lang = "zh" if r < 0.25 else "xx" if r < 0.30 else "en"
            docs.append({"id": f"{src}:{i}", "text": d["text"], "lang": lang})
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        lists = dict(x.split("=", 1) for x in args.list)
        if not lists:
            entries = synthetic_list(docs, rng)
            (work / "list.txt").write_text("".join(e + "\n" for e in entries), encoding="utf-8")
            lists = {"en": str(work / "list.txt"), "zh": str(work / "list.txt")}
            print(f"list: {len(entries)} entries written by the benchmark (no LDNOOBW file given), used for en and zh")
        else:
            print(f"lists: {lists}")
        (work / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
        (work / "lists.json").write_text(json.dumps(lists), encoding="utf-8")
        bw = BadWords(BadWordsConfig(lists=lists))
        for lang in lists:  # read and compile the lists (and import Beam's filesystems) before timing
            bw.found("", lang)
        t0 = time.process_time()
        ours = {d["id"]: bw.found(d["text"], d["lang"]) is not True for d in docs}
        our_cpu = time.process_time() - t0
        py = PEERS_HOME / "dt-venv" / "bin" / "python"
        if not py.exists():
            print("datatrove: not run (no virtualenv)")
            return 0
        subprocess.run([str(py), str(REPO / "benchmarks" / "badwords_datatrove.py"), str(work / "docs.jsonl"),
                        str(work / "lists.json"), str(work / "dt.json")], check=True)
        dt = json.loads((work / "dt.json").read_text())
    agree = sum(ours[i] == dt["kept"][i] for i in ours)
    differ = [i for i in ours if ours[i] != dt["kept"][i]]
    dropped = sum(not k for k in ours.values())
    by_lang = collections.Counter((d["lang"], ours[d["id"]]) for d in docs)
    print(f"documents: {len(docs)} ({sum(len(d['text']) for d in docs) / 1e6:.1f} MB); dropped by pilewright: {dropped}; "
          f"by language (lang, kept): {sorted(by_lang.items())}")
    print(f"agreement with datatrove C4BadWordsFilter: {agree}/{len(docs)} ({100 * agree / len(docs):.2f}%); "
          f"differing ids: {differ[:10]}")
    print(f"CPU-s: pilewright {our_cpu:.2f}, datatrove {dt['cpu']:.2f}")
    print(f"goal 100% agreement: {'met' if not differ else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
