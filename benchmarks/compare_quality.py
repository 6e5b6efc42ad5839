"""Same decisions as datatrove's quality filters, how much faster: pilewright's rule sets vs datatrove's.

Runs datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and FineWebQualityFilter (in
datatrove's own virtualenv, created when missing) and pilewright's ``gopher_repetition``,
``gopher_quality``, ``c4`` and ``fineweb`` rule sets on the same 20,000+ documents from ../shared/corpora
(general, finance and email mixed), then prints per family the agreement of keep/drop decisions, the
disagreeing ids, and docs/s, MB/s and the speed ratio.

    .venv/bin/python benchmarks/compare_quality.py [--scale 1.0] [--work DIR]

Both sides run single-process over the same in-memory documents; speed is reported on CPU seconds (robust
on a shared machine) and wall seconds. datatrove is timed twice: every filter on every document (what the
agreement needs, and what pilewright does: it computes all signals of all four families for every
document) and as its usual chained pipeline, which stops at the first filter that drops a document.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PEERS_HOME = Path(os.environ.get("PEERS_HOME", "/tmp/pilewright-peers"))

# (file under corpora/, documents taken from its start): 21,000+ documents, about 33 MB of text
SAMPLE = [
    ("general/wikipedia_en-00000.jsonl.gz", 400),
    ("general/imdb_reviews.jsonl.gz", 4000),
    ("general/nltk_misc_english.jsonl.gz", 3000),
    ("general/sotu_addresses.jsonl.gz", 40),
    ("general/bbc_news.jsonl.gz", 1000),
    ("general/brown_corpus.jsonl.gz", 100),
    ("general/moby_dick_chapters.jsonl.gz", 138),
    ("finance/earnings_calls_la83la.jsonl.gz", 40),
    ("finance/earnings_calls_rev_earnings21_22.jsonl.gz", 10),
    ("finance/sec_filings_edgartools.jsonl.gz", 6),
    ("finance/reuters21578_news.jsonl.gz", 2781),
    ("finance/financial_phrasebank.jsonl.gz", 4885),
    ("finance/fiqa_semeval2017_sentiment.jsonl.gz", 1817),
    ("finance/seeking_alpha_snippets.jsonl.gz", 631),
    ("email/spamassassin_emails.jsonl.gz", 1200),
]
FAMILIES = ("gopher_repetition", "gopher_quality", "c4", "fineweb")

# datatrove's reason names -> pilewright's (per family)
DT_REASONS = {
    "gopher_quality": {
        "gopher_short_doc": "too_few_words",
        "gopher_long_doc": "too_many_words",
        "gopher_below_avg_threshold": "short_words",
        "gopher_above_avg_threshold": "long_words",
        "gopher_too_many_hashes": "hash_ratio",
        "gopher_too_many_ellipsis": "ellipsis_ratio",
        "gopher_too_many_bullets": "bullet_lines",
        "gopher_too_many_end_ellipsis": "ellipsis_lines",
        "gopher_below_alpha_threshold": "alpha_words",
        "gopher_enough_stop_words": "stop_words",
    },
    "gopher_repetition": {
        **{f"top_{n}_gram": f"top_{n}_gram" for n in (2, 3, 4)},
        **{f"duplicated_{n}_n_grams": f"dup_{n}_gram" for n in range(5, 11)},
    },
}


def dt_python() -> Path:
    """datatrove's interpreter; creates its virtualenv (the peers' setup script, or pip) when missing."""
    py = PEERS_HOME / "dt-venv" / "bin" / "python"
    if py.exists():
        return py
    setup = SHARED / "bench" / "peers" / "setup.sh"
    if setup.exists():
        subprocess.run(["bash", str(setup)], check=True)
    else:
        subprocess.run([sys.executable, "-m", "venv", str(py.parents[1])], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "datatrove[processing]", "spacy"], check=True)
    return py


def load_sample(corpora: Path, scale: float) -> list[dict]:
    docs, seen = [], set()
    for rel, n in SAMPLE:
        path = corpora / rel
        if not path.exists():
            print(f"  (missing, skipped: {rel})")
            continue
        take = max(1, int(n * scale))
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if take == 0:
                    break
                rec = json.loads(line)
                text = rec.get("text")
                if not isinstance(text, str):
                    continue
                doc_id = f"{rel.split('/')[1].split('.')[0]}/{rec.get('id', len(docs))}"
                if doc_id in seen:
                    continue
                seen.add(doc_id)
                docs.append({"id": doc_id, "text": text})
                take -= 1
    return docs


def run_pilewright(docs: list[dict]):
    from pilewright.schemas.stages.quality import QualityConfig
    from pilewright.transforms.quality.stage import MAX_BATCH
    from pilewright.transforms.quality.rules import RuleScorer

    scorer = RuleScorer(QualityConfig(rules=list(FAMILIES)))  # loads spaCy outside the timing
    texts = [d["text"] for d in docs]
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    scores = []
    for i in range(0, len(texts), MAX_BATCH):  # batches as the quality stage forms them
        scores.extend(scorer.score_batch(texts[i : i + MAX_BATCH]))
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    decisions = {f: {} for f in FAMILIES}
    c4_text = {}
    for d, score in zip(docs, scores):
        for f in FAMILIES:
            decisions[f][d["id"]] = score.reasons[f]
        if score.reasons["c4"] is None:
            c4_text[d["id"]] = hashlib.sha1(score.text.encode("utf-8", "surrogatepass")).hexdigest()
    return decisions, c4_text, wall, cpu


def rate(n_docs: int, mb: float, seconds: float) -> str:
    return f"{n_docs / seconds:10.0f} docs/s {mb / seconds:8.3f} MB/s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", type=Path, default=SHARED / "corpora")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every file's document count")
    ap.add_argument("--work", type=Path, default=None, help="keep the sample and results here")
    ap.add_argument("--show", type=int, default=20, help="disagreeing ids printed per family")
    args = ap.parse_args()
    if not args.corpora.exists():
        print(f"corpora not found at {args.corpora}; nothing to compare")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="pilewright-quality-"))
    work.mkdir(parents=True, exist_ok=True)

    docs = load_sample(args.corpora, args.scale)
    mb = sum(len(d["text"].encode("utf-8", "surrogatepass")) for d in docs) / 1e6
    sample = work / "docs.jsonl"
    with open(sample, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"documents: {len(docs)}  text: {mb:.1f} MB  ({sample})")

    # pilewright runs before and after datatrove (a fresh scorer each time) so a change in machine load
    # during the long datatrove run shows up, and the two runs must decide identically
    print("pilewright: scoring the documents ...", flush=True)
    pw, pw_c4_text, wall_1, cpu_1 = run_pilewright(docs)
    print("datatrove: running its four filters in its own virtualenv ...", flush=True)
    dt_out = work / "datatrove.json"
    script = Path(__file__).with_name("compare_quality_datatrove.py")
    subprocess.run([str(dt_python()), str(script), str(sample), str(dt_out)], check=True)
    dt = json.loads(dt_out.read_text())
    print("pilewright: scoring the same documents again ...", flush=True)
    pw_again, _, wall_2, cpu_2 = run_pilewright(docs)
    pw_wall, pw_cpu = (wall_1 + wall_2) / 2, (cpu_1 + cpu_2) / 2

    print("\nagreement of keep/drop decisions, per family")
    report = {"documents": len(docs), "mb": mb, "families": {}}
    all_ok = True
    for fam in FAMILIES:
        mapping = DT_REASONS.get(fam, {})
        agree = same_reason = both_dropped = 0
        differ = []
        for d in docs:
            kept_dt, reason_dt = dt["decisions"][fam][d["id"]]
            reason_pw = pw[fam][d["id"]]
            if kept_dt == (reason_pw is None):
                agree += 1
                if not kept_dt:
                    both_dropped += 1
                    same_reason += mapping.get(reason_dt, reason_dt) == reason_pw
            else:
                differ.append((d["id"], reason_dt if not kept_dt else "kept", reason_pw or "kept"))
        frac = agree / len(docs)
        all_ok &= frac >= 0.995
        print(
            f"  {fam:18s} {frac:8.4%}  ({agree}/{len(docs)}; drop reasons equal on "
            f"{same_reason}/{both_dropped} documents both dropped)"
        )
        for doc_id, a, b in differ[: args.show]:
            print(f"      differs: {doc_id}  datatrove={a}  pilewright={b}")
        report["families"][fam] = {"agreement": frac, "disagreeing": differ}
    common = set(dt["c4_text_sha1"]) & set(pw_c4_text)
    same_text = sum(dt["c4_text_sha1"][i] == pw_c4_text[i] for i in common)
    print(f"  c4 cleaned text identical on {same_text}/{len(common)} documents both kept")

    ind, chained = dt["independent"], dt["chained"]
    print("\nspeed (single process, same documents)")
    print(f"  datatrove, every filter on every doc  cpu: {rate(len(docs), mb, ind['cpu_s'])}   "
          f"wall: {rate(len(docs), mb, ind['wall_s'])}")
    print(f"  datatrove, chained (stop at 1st drop) cpu: {rate(len(docs), mb, chained['cpu_s'])}   "
          f"wall: {rate(len(docs), mb, chained['wall_s'])}")
    print(f"  pilewright, all signals of all four   cpu: {rate(len(docs), mb, pw_cpu)}   "
          f"wall: {rate(len(docs), mb, pw_wall)}   (mean of 2 runs: cpu {cpu_1:.1f}s, {cpu_2:.1f}s)")
    print(f"  ratio vs every-filter datatrove: cpu {ind['cpu_s'] / pw_cpu:6.1f}x   wall {ind['wall_s'] / pw_wall:6.1f}x")
    print(f"  ratio vs chained datatrove:      cpu {chained['cpu_s'] / pw_cpu:6.1f}x   "
          f"wall {chained['wall_s'] / pw_wall:6.1f}x")
    per = ind["cpu_s_per_family"]
    print("  datatrove cpu seconds per family: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
    report["speed"] = {"datatrove": dt["independent"], "datatrove_chained": chained,
                       "pilewright": {"cpu_s": [cpu_1, cpu_2], "wall_s": [wall_1, wall_2]}}
    (work / "report.json").write_text(json.dumps(report, indent=1))
    print(f"  pilewright's two runs decided identically: {'yes' if pw == pw_again else 'NO'}")
    print(f"\nfull report: {work / 'report.json'}")
    print("goal >= 99.5% agreement per family: " + ("met" if all_ok else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
