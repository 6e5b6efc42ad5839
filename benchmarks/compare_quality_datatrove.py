"""datatrove's side of compare_quality.py: runs in datatrove's own virtualenv, never imports pilewright.

Usage: python compare_quality_datatrove.py DOCS.jsonl OUT.json

Every document goes through each of datatrove's four quality filters independently (a fresh copy per
filter, as C4QualityFilter rewrites the text), so each family's decision is its own. Writes per document
and family [kept, reason] (plus C4's cleaned-text hash), and the CPU and wall seconds per family and in
total. A second timing pass runs the filters as one chained pipeline (stop at the first drop), the way a
datatrove job runs them.
"""
import hashlib
import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.filters.base_filter import get_filter_result


def main() -> None:
    docs_path, out_path = sys.argv[1], sys.argv[2]
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    filters = {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }
    decisions = {name: {} for name in filters}
    c4_text = {}
    cpu = {name: 0.0 for name in filters}
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    for d in docs:
        for name, flt in filters.items():
            doc = Document(text=d["text"], id=d["id"])
            t0 = time.process_time()
            try:
                kept, reason = get_filter_result(flt.filter(doc))
            except Exception as e:  # a crash is a decision we report, not a failed benchmark
                kept, reason = False, f"error:{type(e).__name__}"
            cpu[name] += time.process_time() - t0
            decisions[name][d["id"]] = [bool(kept), reason]
            if name == "c4" and kept:
                c4_text[d["id"]] = hashlib.sha1(doc.text.encode("utf-8", "surrogatepass")).hexdigest()
    wall, total_cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu

    # chained: datatrove's usual pipeline order, each filter sees the previous one's output and a drop stops
    chain = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    t_wall2, t_cpu2 = time.perf_counter(), time.process_time()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        for flt in chain:
            try:
                kept, _ = get_filter_result(flt.filter(doc))
            except Exception:
                kept = False
            if not kept:
                break
    chained = {"wall_s": time.perf_counter() - t_wall2, "cpu_s": time.process_time() - t_cpu2}

    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "decisions": decisions,
                "c4_text_sha1": c4_text,
                "independent": {"wall_s": wall, "cpu_s": total_cpu, "cpu_s_per_family": cpu},
                "chained": chained,
            },
            f,
        )


if __name__ == "__main__":
    main()
