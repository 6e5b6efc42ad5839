"""datatrove's side of bench_badwords.py: runs in datatrove's own virtualenv, never imports pilewright.

Usage: python badwords_datatrove.py DOCS.jsonl LISTS.json OUT.json

LISTS maps a language to a local list file; datatrove's downloader is replaced by a lookup in it (nothing is
fetched). Every document (with ``language`` in its metadata) goes through ``C4BadWordsFilter`` with its
defaults (keep_fraction 0) and ``fail_on_missing_language=False``. Writes {id: kept} and the CPU seconds.
"""
import json
import sys
import time

import datatrove.pipeline.filters.c4_filters as c4_filters
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import get_filter_result


def main() -> None:
    docs_path, lists_path, out_path = sys.argv[1:4]
    with open(lists_path, encoding="utf-8") as f:
        lists = json.load(f)
    # the URL ends in "/<lang>" (or the pinned English file's "/en")
    c4_filters.cached_asset_path_or_download = lambda url, **kw: lists[url.rstrip("/").rsplit("/", 1)[1]]
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    flt = c4_filters.C4BadWordsFilter(fail_on_missing_language=False)
    kept = {}
    t0 = time.process_time()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"], metadata={"language": d["lang"]})
        kept[d["id"]] = bool(get_filter_result(flt.filter(doc))[0])
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"kept": kept, "cpu": time.process_time() - t0}, f)


if __name__ == "__main__":
    main()
