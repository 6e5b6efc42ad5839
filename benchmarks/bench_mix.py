"""Token-exact domain mixing on real finance and general text: target vs achieved, shortfall, prefix mix.

    python benchmarks/bench_mix.py [--params 1e6] [--short-params 3e6] [--beam-args "..."]

Run 1 sizes the corpus for ``--params`` (x 20 tokens, 51% finance / 49% general): finance is repeated,
general subsampled. Run 2 uses ``--short-params``, too many tokens for the finance files within 4 epochs, so
the shortfall is reported and the corpus shrinks to keep the shares (``on_shortfall: warn``); it reuses run 1's
tokenizer. Curation stages are off so the figures are about mixing alone.

For comparison, two common ways to hit a mix are simulated on the same curated documents (OUT/documents,
with their exact token counts): an independent per-document coin flip at the same sampling rates, and
budgets in bytes converted at a fixed 4 bytes per token. They are not peer tools run here; they show what
the token-exact draw buys. Needs ../shared/corpora.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
FINANCE = [
    "earnings_calls_rev_earnings21_22.jsonl.gz",
    "sec_filings_edgartools.jsonl.gz",
    "reuters21578_news.jsonl.gz",
    "financial_phrasebank.jsonl.gz",
    "fiqa_semeval2017_sentiment.jsonl.gz",
    "seeking_alpha_snippets.jsonl.gz",
]
GENERAL = ["wikipedia_en-00000.jsonl.gz"]
SHARES = {"finance": 0.51, "general": 0.49}
TOKENS_PER_SHARD = 500_000


def write_config(out: str, params: float, tokenizer: dict, seed: int) -> str:
    sources = [
        {"name": name.split(".")[0], "paths": [str(CORPORA / folder / name)], "format": "jsonl", "domain": folder}
        for folder, names in (("finance", FINANCE), ("general", GENERAL))
        for name in names
    ]
    cfg = {
        "run": {"output": out, "seed": seed},
        "sources": sources,
        "stages": {},
        "tokenizer": tokenizer,
        "shards": {"tokens_per_shard": TOKENS_PER_SHARD},
        "mix": {"model_params": params, "tokens_per_param": 20, "domains": SHARES, "max_epochs": 4,
                "on_shortfall": "warn"},
    }
    path = os.path.join(out + ".yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return path


def prefix_worst(out: Path, domain_of: dict[str, str]) -> tuple[int, float, int]:
    """(shards, worst |share - target| over every prefix of at least 10% of the shards, largest document)."""
    from pilewright.tokenizer.arrow_shards import iter_documents, shard_paths

    per_shard, largest = [], 0
    for p in shard_paths(out):
        c: Counter = Counter()
        for _doc_id, source, tokens in iter_documents([p]):
            c[domain_of[source]] += len(tokens)
            largest = max(largest, len(tokens))
        per_shard.append(c)
    worst, total = 0.0, Counter()
    for k, c in enumerate(per_shard, start=1):
        total.update(c)
        if k >= math.ceil(0.1 * len(per_shard)):
            n = sum(total.values())
            worst = max(worst, max(abs(total[d] / n - s) for d, s in SHARES.items()))
    return len(per_shard), worst, largest


def curated_documents(out: Path) -> list[tuple[str, str, str, int, int]]:
    """(id, source, domain, n_tokens, utf-8 bytes) of every curated document, before the mix."""
    import pyarrow.parquet as pq

    rows = []
    for f in sorted((out / "documents").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "source", "domain", "n_tokens", "text"])
        for r in t.to_pylist():
            rows.append((r["id"], r["source"], r["domain"], r["n_tokens"], len(r["text"].encode("utf-8"))))
    return rows


def coin_flip_mix(docs, mix: dict, seed: int) -> dict[str, int]:
    """Each document kept floor(rate) times plus once more with probability frac(rate), independently."""
    from pilewright.transforms.hashing import seeded_unit

    got: dict[str, int] = defaultdict(int)
    for doc_id, source, domain, n_tokens, _b in docs:
        rate = mix["sources"][source]["sampling_rate"]
        copies = int(rate) + (1 if seeded_unit(seed, "coin", doc_id) < rate - int(rate) else 0)
        got[domain] += copies * n_tokens
    return dict(got)


def byte_budget_mix(docs, target_tokens: int, seed: int, bytes_per_token: float = 4.0) -> dict[str, int]:
    """Budgets in bytes (target x 4 bytes/token x share), filled in seeded order, repeating whole passes."""
    from pilewright.transforms.hashing import stable_hash64

    got: dict[str, int] = defaultdict(int)
    by_domain = defaultdict(list)
    for d in docs:
        by_domain[d[2]].append(d)
    for domain, members in by_domain.items():
        members.sort(key=lambda d: stable_hash64(str(seed), d[0]))
        budget = target_tokens * SHARES[domain] * bytes_per_token
        used = 0
        for _epoch in range(4):
            for _id, _s, _d, n_tokens, n_bytes in members:
                if used >= budget:
                    break
                used += n_bytes
                got[domain] += n_tokens
    return dict(got)


def report(label: str, out: Path, seconds: float, seed: int) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    mix = manifest["mix"]
    domain_of = {s: v["domain"] for s, v in mix["sources"].items()}
    target, achieved = mix["target_tokens"], mix["achieved_tokens"]
    err = (achieved - target) / target if target else 0.0
    print(f"\n== {label}: {seconds:.0f}s, requested {mix['requested_target_tokens']:,} tokens")
    for s in mix["shortfall"]:
        print(f"   SHORTFALL {s['domain']}: missing {s['missing_tokens']:,} tokens ({s['message']})")
        print(f"   -> target shrunk to {target:,} tokens so every share holds (on_shortfall: warn)")
    print(f"   {'domain':<9} {'share':>6} {'available':>12} {'target':>12} {'achieved':>12} {'ach. share':>10} {'delta pp':>9}")
    worst_pp = 0.0
    for d, v in mix["domains"].items():
        pp = (v["achieved_share"] - v["share"]) * 100
        worst_pp = max(worst_pp, abs(pp))
        print(f"   {d:<9} {v['share']:>6.2f} {v['available_tokens']:>12,} {v['target_tokens']:>12,} "
              f"{v['achieved_tokens']:>12,} {v['achieved_share']:>10.4f} {pp:>+9.3f}")
    print(f"   {'total':<9} {'':>6} {sum(v['available_tokens'] for v in mix['domains'].values()):>12,} "
          f"{target:>12,} {achieved:>12,} {'':>10} {'':>9}   error {err * 100:+.4f}%")
    print(f"   {'source':<36} {'available':>11} {'rate':>7} {'epochs':>6} {'target':>11} {'achieved':>11}")
    for name, v in mix["sources"].items():
        print(f"   {name:<36} {v['available_tokens']:>11,} {v['sampling_rate']:>7.3f} {v['full_epochs']:>6} "
              f"{v['target_tokens']:>11,} {v['achieved_tokens']:>11,}")
    n_shards, prefix, largest = prefix_worst(out, domain_of)
    print(f"   shards: {n_shards}; worst domain-share deviation over prefixes of >= 10% of shards: {prefix * 100:.3f} pp")
    print(f"   (placement is by whole documents: the largest, {largest:,} tokens, is "
          f"{largest / (0.1 * achieved) * 100:.1f}% of a 10% prefix)")
    ok_total, ok_share, ok_prefix = abs(err) < 0.005, worst_pp < 0.2, prefix < 0.01
    print(f"   goals: total within 0.5% {'MET' if ok_total else 'NOT MET'} ({err * 100:+.4f}%); "
          f"shares within 0.2 pp {'MET' if ok_share else 'NOT MET'} ({worst_pp:.3f} pp); "
          f"10%-prefix within 1 pp {'MET' if ok_prefix else 'NOT MET'} ({prefix * 100:.3f} pp)")

    docs = curated_documents(out)
    print("   same curated documents, other ways to mix (simulated here, not peer tools):")
    for name, got in (("per-document coin flip at the same rates", coin_flip_mix(docs, mix, seed)),
                      ("byte budgets at 4 bytes/token", byte_budget_mix(docs, target, seed))):
        tot = sum(got.values())
        shares = ", ".join(f"{d} {got.get(d, 0) / tot:.4f} ({(got.get(d, 0) / tot - s) * 100:+.2f} pp)"
                           for d, s in SHARES.items())
        print(f"     {name:<42} total {tot:>12,} ({(tot - target) / target * 100:+.3f}%); {shares}")
    return {"error": err, "worst_pp": worst_pp, "prefix": prefix}


def run_one(out: str, params: float, tokenizer: dict, seed: int, beam_args: list[str]) -> float:
    from pilewright.pipeline.job.build import run_job
    from pilewright.pipeline.job.config import load_config

    t0 = time.perf_counter()
    run_job(load_config(write_config(out, params, tokenizer, seed)), beam_args, out)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", type=float, default=1e6, help="model size of run 1 (default: %(default)g)")
    ap.add_argument("--short-params", type=float, default=3e6,
                    help="model size of run 2, too large for the finance files (default: %(default)g)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab", type=int, default=16000)
    ap.add_argument("--out", default="", help="folder for the two outputs (default: a temp folder)")
    ap.add_argument("--beam-args", default="", help="Beam options for both runs")
    args = ap.parse_args()
    missing = [p for p in [CORPORA / "finance" / f for f in FINANCE] + [CORPORA / "general" / f for f in GENERAL]
               if not p.is_file()]
    if missing:
        sys.exit(f"corpus files not found (needs ../shared/corpora): {', '.join(map(str, missing))}")
    root = Path(args.out or tempfile.mkdtemp(prefix="bench_mix_"))
    root.mkdir(parents=True, exist_ok=True)
    beam_args = args.beam_args.split()
    print(f"finance: {', '.join(FINANCE)}\ngeneral: {', '.join(GENERAL)}\nbeam args: {beam_args or '(defaults)'}")

    out1 = str(root / "run1")
    train = {"train": {"vocab_size": args.vocab, "sample_docs": 4000, "max_sentences": 300_000}}
    s1 = run_one(out1, args.params, train, args.seed, beam_args)
    r1 = report(f"run 1: {args.params:g} params x 20", Path(out1), s1, args.seed)

    out2 = str(root / "run2")
    s2 = run_one(out2, args.short_params, {"model": str(Path(out1) / "tokenizer" / "tokenizer.model")}, args.seed, beam_args)
    r2 = report(f"run 2: {args.short_params:g} params x 20 (finance short)", Path(out2), s2, args.seed)

    print("\n== pilewright plan --params 7e9 --from-run run1")
    sys.stdout.flush()
    subprocess.run([sys.executable, "-m", "pilewright.pipeline.cli.main", "plan", "--params", "7e9", "--from-run", out1],
                   check=True)
    print(f"\noutputs kept in {root}")
    ok = all(r["error"] < 0.005 and r["worst_pp"] < 0.2 and r["prefix"] < 0.01 for r in (
        {**r1, "error": abs(r1["error"])}, {**r2, "error": abs(r2["error"])}))
    print("all goals MET" if ok else "some goals NOT MET (see above)")


if __name__ == "__main__":
    main()
