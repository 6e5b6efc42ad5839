"""The evaluation sets read from their files and held as one compact n-gram index.

The index is three numpy arrays (sorted 64-bit n-gram hashes, the item each belongs to, and each item's set)
plus the item ids: about 12 bytes per distinct (n-gram, item), e.g. ~15 MB for all of MMLU. It is built once
per worker (``DoFn.setup``) from the files the config names; nothing is fetched.
"""
from __future__ import annotations

import json
import os
from typing import Iterable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from pilewright.schemas.errors import UserError
from pilewright.schemas.stages.decontaminate import DecontaminateConfig, EvalSetConfig
from pilewright.transforms.decontaminate.ngrams import is_number, ngram_hashes, norm_words, word_hashes


# at most 2^26 filter bits (64 MB of bools) whatever the index size
_MAX_FILTER_BITS = 26


class EvalSetError(UserError, ValueError):
    """An evaluation set file the user must fix (missing, empty, unreadable, or lacking a field)."""


class SetSummary(NamedTuple):
    name: str
    items: int  # records read
    indexed: int  # items protected (n-grams, or whole text when short)
    unprotected: int  # items not protected: fewer than min_words words, or numbers in every n-gram


class Match(NamedTuple):
    start: int  # first word of the matching window in the document
    length: int  # words in the window
    items: tuple[int, ...]  # item numbers whose n-gram (or whole short text) it is


def expand_paths(paths: Sequence[str], set_name: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    files: list[str] = []
    for pattern in paths:
        try:
            found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        except Exception as e:  # the filesystem's own error (bad scheme, no access) said in one line
            raise EvalSetError(f"evaluation set {set_name!r}: cannot list {pattern!r}: {e}") from None
        if not found:
            raise EvalSetError(f"evaluation set {set_name!r}: no file matches {pattern!r}")
        files.extend(found)
    return files


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_value_text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_value_text(v) for v in value.values())
    if hasattr(value, "tolist"):  # numpy arrays from Parquet list columns
        return _value_text(value.tolist())
    return str(value)


def _jsonl_records(path: str) -> Iterator[dict]:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        for i, raw in enumerate(iter(f.readline, b""), 1):  # compressed handles do not iterate
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvalSetError(f"{path}: line {i} is not valid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise EvalSetError(f"{path}: line {i} is not a JSON object")
            yield rec


def _parquet_records(path: str, wanted: Sequence[str]) -> Iterator[dict]:
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        try:
            pf = pq.ParquetFile(f)
        except Exception as e:
            raise EvalSetError(f"{path}: not a readable Parquet file ({e})") from None
        names = set(pf.schema_arrow.names)
        for field in wanted:
            if field not in names:
                raise EvalSetError(
                    f"{path}: no field {field!r} (the file has: {', '.join(sorted(names))}); "
                    "fix `fields`/`id_field` of this evaluation set"
                )
        for batch in pf.iter_batches(columns=list(dict.fromkeys(wanted))):
            yield from batch.to_pylist()


def read_items(es: EvalSetConfig) -> Iterator[tuple[str, str, str]]:
    """(file, item id, text of the item's fields) for every record of the set's files, in file order.

    Raises ``EvalSetError`` naming the file and the field when a record lacks one, and when a file holds
    no record: an empty evaluation file is almost always a failed download, and protecting nothing
    silently is the one outcome a user cannot notice.
    """
    wanted = list(es.fields) + ([es.id_field] if es.id_field else [])
    for path in expand_paths(es.paths, es.name):
        fmt = es.format or ("parquet" if path.endswith(".parquet") else "jsonl")
        records = _parquet_records(path, wanted) if fmt == "parquet" else _jsonl_records(path)
        base = os.path.basename(path)
        n = 0
        for n, rec in enumerate(records, 1):
            for field in wanted:
                if field not in rec:
                    raise EvalSetError(
                        f"{path}: record {n} has no field {field!r} (it has: {', '.join(sorted(rec))}); "
                        "fix `fields`/`id_field` of this evaluation set"
                    )
            item_id = str(rec[es.id_field]) if es.id_field else f"{base}:{n}"
            yield path, item_id, "\n".join(_value_text(rec[f]) for f in es.fields)
        if n == 0:
            raise EvalSetError(
                f"evaluation set {es.name!r}: {path} holds no records (an empty or failed download?); "
                "fill it or remove it from `paths`"
            )


class EvalIndex:
    """N-gram hashes of every item of every set; ``matches(words)`` finds them in a document."""

    def __init__(self, n: int, mask_numbers: bool, hashes: np.ndarray, owners: np.ndarray,
                 item_set: np.ndarray, item_ids: list[str], set_names: list[str],
                 short_lengths: Sequence[int], summaries: list[SetSummary]):
        self.n = n
        self.mask_numbers = mask_numbers
        self.hashes = hashes
        self.owners = owners
        self.item_set = item_set
        self.item_ids = item_ids
        self.set_names = set_names
        self.short_lengths = tuple(short_lengths)
        self.summaries = summaries
        # a bitmap of the hashes' top bits rejects almost every window of a clean document before the
        # binary search (searchsorted over ~1M hashes costs ~20 cache misses a window)
        bits = max(16, min(_MAX_FILTER_BITS, int(len(hashes)).bit_length() + 4))
        self._shift = np.uint64(64 - bits)
        self._filter = np.zeros(1 << bits, dtype=bool)
        self._filter[(hashes >> self._shift).astype(np.intp)] = True

    @classmethod
    def build(cls, cfg: DecontaminateConfig,
              items: Optional[Iterable[tuple[int, str, str]]] = None) -> "EvalIndex":
        """From the config's files, or from ``items`` ((set number, item id, text)) when given."""
        mask = cfg.numbers == "mask"
        if items is None:
            items = ((k, item_id, text) for k, es in enumerate(cfg.sets) for _p, item_id, text in read_items(es))
        parts: list[np.ndarray] = []
        owner_parts: list[np.ndarray] = []
        item_set: list[int] = []
        item_ids: list[str] = []
        short: set[int] = set()
        counts = [[0, 0, 0] for _ in cfg.sets]  # items, indexed, too short
        for k, item_id, text in items:
            counts[k][0] += 1
            words = norm_words(text, mask)
            if len(words) < cfg.min_words:
                counts[k][2] += 1
                continue
            length = min(len(words), cfg.n)
            h = ngram_hashes(word_hashes(words), length)
            numbers = np.concatenate(([0], np.cumsum([is_number(w) for w in words])))
            h = np.unique(h[(numbers[length:] - numbers[:-length]) <= cfg.max_number_share * length])
            if not len(h):
                counts[k][2] += 1
                continue
            if length < cfg.n:
                short.add(length)
            idx = len(item_ids)
            item_ids.append(item_id)
            item_set.append(k)
            parts.append(h)
            owner_parts.append(np.full(len(h), idx, dtype=np.uint32))
            counts[k][1] += 1
        hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        owners = np.concatenate(owner_parts) if owner_parts else np.empty(0, dtype=np.uint32)
        order = np.lexsort((owners, hashes))
        summaries = [SetSummary(es.name, c[0], c[1], c[2]) for es, c in zip(cfg.sets, counts)]
        return cls(cfg.n, mask, hashes[order], owners[order], np.asarray(item_set, dtype=np.uint16),
                   item_ids, [es.name for es in cfg.sets], sorted(short), summaries)

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, words: Sequence[str]) -> list[Match]:
        """Every window of the document's normalized ``words`` that is an item's n-gram (or whole short item)."""
        if not len(self.hashes) or not words:
            return []
        wh = word_hashes(words)
        out: list[Match] = []
        for length in (self.n, *self.short_lengths):
            grams = ngram_hashes(wh, length)
            if not len(grams):
                continue
            candidates = np.flatnonzero(self._filter[(grams >> self._shift).astype(np.intp)])
            if not len(candidates):
                continue
            sub = grams[candidates]
            pos = np.searchsorted(self.hashes, sub)
            hit = self.hashes[np.minimum(pos, len(self.hashes) - 1)] == sub
            for j in np.flatnonzero(hit).tolist():
                p = int(pos[j])
                q = int(np.searchsorted(self.hashes, sub[j], side="right"))
                out.append(Match(int(candidates[j]), length, tuple(int(o) for o in self.owners[p:q])))
        return out

    def set_of(self, item: int) -> str:
        return self.set_names[int(self.item_set[item])]
