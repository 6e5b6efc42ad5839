"""datatrove's side of bench_decontam.py: runs in datatrove's own virtualenv, never imports pilewright.

Usage: python decontam_datatrove.py ITEMS.jsonl DOCS.jsonl OUT.json [N]

ITEMS holds {"set", "id", "text"} per evaluation item; the index is built with datatrove's own
``NGramsDecontIndexer.compute_hashes`` (its ``run`` also loads lighteval tasks from the hub, which this
machine cannot reach) and written as its ``<task>.index.hashes`` files, then ``NGramsDecontFilter``
(n-grams of ``N`` words, default 13, its default text normalization) judges every document. Writes the
flagged ids with their task, and the CPU/wall seconds of the index build and of the scan.
"""
import json
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
from datatrove.pipeline.filters.base_filter import get_filter_result


def main() -> None:
    items_path, docs_path, out_path = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 13
    with open(items_path, encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    cfg = NGramsDecontConfig(n_grams=n, find_query_ngrams=False, find_overlap_ngrams=False)
    index_dir = tempfile.mkdtemp(prefix="dt-decont-")
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    # lighteval is only needed by run() (hub tasks); compute_hashes does not use it
    NGramsDecontIndexer._requires_dependencies = []
    indexer = NGramsDecontIndexer(output_folder=index_dir, config=cfg)
    hashes = defaultdict(set)
    for it in items:
        hashes[it["set"]].update(indexer.compute_hashes(it["text"]))
    for task, task_hashes in hashes.items():
        arr = np.array(sorted(task_hashes), dtype=cfg.hash_config.np_descr)
        with indexer.output_folder.open(f"{task}.index.hashes", mode="wb") as f:
            arr.tofile(f)
    index_cpu, index_wall = time.process_time() - t_cpu, time.perf_counter() - t_wall

    flt = NGramsDecontFilter(index_folder=index_dir, config=cfg)
    flt.load_index_hashes()
    flagged = {}
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        kept, _reason = get_filter_result(flt.filter(doc))
        if not kept:
            flagged[d["id"]] = doc.metadata.get("contaminated_task")
    scan_cpu, scan_wall = time.process_time() - t_cpu, time.perf_counter() - t_wall
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"flagged": flagged, "index_cpu": index_cpu, "index_wall": index_wall,
                   "scan_cpu": scan_cpu, "scan_wall": scan_wall, "docs": len(docs)}, f)


if __name__ == "__main__":
    main()
