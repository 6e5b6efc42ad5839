"""The raw-read ceiling: plain ``gzip`` + ``json`` over the corpus files, nothing else.

    python bench_common_ceiling.py CORPUS_DIR [--procs N]

With N > 1 the files are split over N processes (as the tools split them over their workers). Prints
``{"docs": ..., "text_bytes": ...}``. No stage of any tool that reads these files can beat this rate on the
same cores, so each stage's MB/s divided by it says how close to the machine's limit the stage runs.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
from multiprocessing import Pool


def read_file(path: str) -> tuple[int, int]:
    docs = nbytes = 0
    with gzip.open(path, "rb") as f:
        for line in f:
            rec = json.loads(line)
            docs += 1
            nbytes += len(rec["text"].encode("utf-8", "surrogatepass"))
    return docs, nbytes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--procs", type=int, default=1)
    a = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(a.corpus, "docs", "*.jsonl.gz")))
    if a.procs > 1:
        with Pool(a.procs) as pool:
            parts = pool.map(read_file, files, chunksize=1)
    else:
        parts = [read_file(f) for f in files]
    print(json.dumps({"docs": sum(p[0] for p in parts), "text_bytes": sum(p[1] for p in parts)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
