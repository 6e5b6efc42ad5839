"""Output quality beside speed: dedup precision/recall against the injected truth, filter agreement.

Pure functions over id sets and texts; standard library only.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Optional

from bench_common_corpus import shingle_set, words_of

JACCARD_BINS = ((0.9, "J>=0.9"), (0.8, "0.8-0.9"), (0.7, "0.7-0.8"), (0.5, "0.5-0.7"), (0.0, "<0.5"))
# a removed document that is not an injected copy still counts as a right removal when the real data
# already held a near-copy of it at this 5-gram Jaccard or above (imdb and bbc ship exact duplicates)
NATURAL_JACCARD = 0.7
# the natural-duplicate check compares at most this many removed documents with the whole corpus
NATURAL_CHECK_LIMIT = 2000


def jaccard_bin(j: float) -> str:
    for lo, name in JACCARD_BINS:
        if j >= lo:
            return name
    return JACCARD_BINS[-1][1]


def natural_near_duplicates(candidates: Iterable[str], texts: Mapping[str, str],
                            threshold: float = NATURAL_JACCARD) -> dict[str, tuple[float, str]]:
    """For each candidate id, its best 5-gram Jaccard to any other document and that document's id.

    One pass over the corpus with an inverted index of the candidates' shingles only, so the cost is one
    shingling of the corpus, not a comparison of all pairs. Only matches >= ``threshold`` are returned.
    """
    cands = sorted(set(candidates))[:NATURAL_CHECK_LIMIT]
    if not cands:
        return {}
    shingles = {c: shingle_set(texts[c]) for c in cands}
    index: dict[str, list[str]] = {}
    for c, sh in shingles.items():
        for g in sh:
            index.setdefault(g, []).append(c)
    best: dict[str, tuple[float, str]] = {}
    for other in sorted(texts):
        so = shingle_set(texts[other])
        hits: dict[str, int] = {}
        for g in so:
            for c in index.get(g, ()):
                if c != other:
                    hits[c] = hits.get(c, 0) + 1
        for c, inter in hits.items():
            j = inter / (len(shingles[c]) + len(so) - inter)
            if j > best.get(c, (0.0, ""))[0]:
                best[c] = (j, other)
    return {c: (round(j, 4), o) for c, (j, o) in best.items() if j >= threshold}


def dedup_scores(kept_ids: Iterable[str], texts: Mapping[str, str], truth: list[dict],
                 natural: Optional[Mapping[str, tuple[float, str]]] = None) -> dict:
    """Precision and recall of the removals against the injected {original, copy} groups.

    A group is found when at least one member is removed (exactly one should be). True positives are the
    found groups; false positives are every other removal: a document outside any group, or the second
    member of a group. ``natural`` (from ``natural_near_duplicates``) marks outside removals that have a
    near-copy in the real data; precision is given with and without counting those as errors.
    """
    kept = set(kept_ids)
    all_ids = set(texts)
    removed = all_ids - kept
    members = {}
    for t in truth:
        members[t["orig_id"]] = t["copy_id"]
        members[t["copy_id"]] = t["copy_id"]
    bins = {name: [0, 0] for _lo, name in JACCARD_BINS}
    tp = both = 0
    for t in truth:
        n = (t["orig_id"] in removed) + (t["copy_id"] in removed)
        bins[jaccard_bin(t["jaccard5"])][0] += 1
        if n:
            tp += 1
            bins[jaccard_bin(t["jaccard5"])][1] += 1
        if n == 2:
            both += 1
    outside = sorted(d for d in removed if d not in members)
    natural = natural or {}
    n_natural = sum(1 for d in outside if d in natural)
    short = sum(1 for d in outside if len(words_of(texts[d])) < 5)
    fp = len(outside) + both
    out = {
        "docs_in": len(all_ids), "docs_kept": len(kept & all_ids), "removed": len(removed),
        "unknown_kept_ids": len(kept - all_ids), "groups": len(truth), "tp": tp, "fp": fp,
        "fp_both_members": both, "fp_outside_groups": len(outside), "fp_outside_natural_dup": n_natural,
        "fp_outside_short_lt5_words": short,
        "precision": _ratio(tp, len(removed)),
        "precision_natural_ok": _ratio(tp + n_natural, len(removed)),
        "recall": _ratio(tp, len(truth)),
        "recall_by_jaccard": {name: {"groups": g, "found": f, "recall": _ratio(f, g)} for name, (g, f) in bins.items()},
        "fp_examples": [{"id": d, "words": len(words_of(texts[d])), "natural": natural.get(d)} for d in outside[:8]],
    }
    return out


def filter_agreement(all_ids: Iterable[str], kept_a: Iterable[str], kept_b: Iterable[str]) -> dict:
    """How often two filters make the same keep/drop decision on the same documents, and Cohen's kappa."""
    ids = set(all_ids)
    a, b = set(kept_a) & ids, set(kept_b) & ids
    n = len(ids)
    both_kept = len(a & b)
    both_dropped = n - len(a | b)
    out = {"docs": n, "kept_a": len(a), "kept_b": len(b), "both_kept": both_kept, "both_dropped": both_dropped,
           "only_a_kept": len(a - b), "only_b_kept": len(b - a),
           "agreement": _ratio(both_kept + both_dropped, n), "kappa": None}
    if n:
        po = (both_kept + both_dropped) / n
        pe = (len(a) / n) * (len(b) / n) + (1 - len(a) / n) * (1 - len(b) / n)
        out["kappa"] = round((po - pe) / (1 - pe), 4) if pe < 1 else 1.0
    return out


def _ratio(num: float, den: float) -> Optional[float]:
    return round(num / den, 4) if den else None


def throughput_ratio(pw_wall: Optional[float], peer_wall: Optional[float]) -> Optional[float]:
    """pilewright's throughput over the peer's on the same input: the inverse ratio of wall times."""
    if not pw_wall or not peer_wall or pw_wall <= 0 or peer_wall <= 0:
        return None
    return round(peer_wall / pw_wall, 3)


def spread(values: Iterable[float]) -> Optional[float]:
    """(max - min) / min of repeated figures: 0.15 means the reruns are within 15% of each other."""
    v = [x for x in values if x is not None and not math.isnan(x)]
    if len(v) < 2 or min(v) <= 0:
        return None
    return round((max(v) - min(v)) / min(v), 4)
