"""The benchmark corpus: a deterministic draw of real documents plus injected near-duplicates.

Both tools read exactly these files (gzip JSONL, fields ``id`` and ``text``). Every choice (which documents,
which get a copy, which edits) comes from blake2b of (seed, file, line) or a ``random.Random`` seeded from
it, so the same inputs, size and seed always give byte-identical files. Standard library only.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
import random
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

try:  # an order of magnitude faster than json on long lines; both give the same values
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - the benchmark also runs with a bare python3
    _loads = json.loads

CORPUS_FORMAT = "pwbench-corpus-v2"
# text bytes per output file: many small files, so neither tool's workers wait on one straggler file
# (with 8 MB parts datatrove's filter step ran 18 min on 2 cores at 0.77 cores busy)
PART_TEXT_BYTES = 2_000_000
# fraction of edited words in an injected copy; 0 gives an exact copy (plus boilerplate)
EDIT_RATES = (0.0, 0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)
# lines that web and wire copies of a document typically gain; the copy is still the same document
BOILERPLATE_TAILS = (
    "Share this story on Facebook, Twitter or LinkedIn. Copyright 2024 Example News Group. All rights "
    "reserved. Terms of Use | Privacy Policy | Cookie Settings | Contact Us.",
    "Sign up for our daily markets newsletter and get the top stories delivered to your inbox before the "
    "opening bell. You can unsubscribe at any time.",
    "This transcript was produced by an automated service and may contain errors. Please refer to the "
    "company's filings for authoritative information. Back to top.",
    "Related coverage: five things to watch this week, what analysts expect from earnings season, and "
    "how rates moved the market. Sponsored content. Comments are closed.",
)
BOILERPLATE_HEADS = (
    "Home > News > Business >",
    "Skip to main content. Menu. Search. Sign in. Subscribe.",
    "Advertisement. Story continues below.",
)
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class InputFile:
    path: str
    domain: str  # the name of the folder holding the file: general, finance, ...


def key64(seed: int, *parts: str) -> int:
    """Process-independent 64-bit key (built-in ``hash()`` is salted per process)."""
    h = hashlib.blake2b("\x1f".join((str(seed),) + parts).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "big")


def input_files(patterns: Iterable[str]) -> list[InputFile]:
    """Files matched by the globs (a folder means its ``*.jsonl[.gz]``), sorted, each once."""
    paths: set[str] = set()
    for pattern in patterns:
        if os.path.isdir(pattern):
            for ext in ("*.jsonl", "*.jsonl.gz"):
                paths.update(glob.glob(os.path.join(pattern, ext)))
        else:
            paths.update(glob.glob(pattern))
    return [InputFile(os.path.abspath(p), os.path.basename(os.path.dirname(os.path.abspath(p))))
            for p in sorted(paths)]


def _open_text(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def iter_records(path: str) -> Iterator[tuple[int, str]]:
    """(1-based line, text) of every record with a non-empty string ``text``; other lines are skipped."""
    with _open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = _loads(line)
            except ValueError:
                continue
            text = rec.get("text") if isinstance(rec, dict) else None
            if isinstance(text, str) and text.strip():
                yield line_no, text


def file_stem(path: str) -> str:
    name = os.path.basename(path)
    for ext in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(ext)
    return name


def file_labels(files: list[InputFile]) -> list[str]:
    """A short unique label per file for document ids: the file stem, qualified by its folder when two
    files share a stem."""
    stems = [file_stem(f.path) for f in files]
    labels = [s if stems.count(s) == 1 else f"{f.domain}.{s}" for s, f in zip(stems, files)]
    return [lab if labels.count(lab) == 1 else f"{lab}.{i}" for i, lab in enumerate(labels)]


def draw(files: list[InputFile], sample_bytes: int, seed: int) -> list[tuple[InputFile, str, int, str]]:
    """(file, file label, line, text) of the documents with the smallest key(seed, label, line), until
    ``sample_bytes`` of UTF-8 text.

    Two passes over the inputs: the first keeps only (key, size) per document, so memory holds the
    sample's text, not the whole corpus.
    """
    labels = file_labels(files)
    keyed: list[tuple[int, int, int, int]] = []  # (key, file index, line, text bytes)
    for fi, inp in enumerate(files):
        stem = labels[fi]
        for line_no, text in iter_records(inp.path):
            keyed.append((key64(seed, stem, str(line_no)), fi, line_no, len(text.encode("utf-8", "surrogatepass"))))
    keyed.sort()
    chosen: dict[int, set[int]] = {}
    total = 0
    for _key, fi, line_no, nbytes in keyed:
        if sample_bytes > 0 and total >= sample_bytes:
            break
        chosen.setdefault(fi, set()).add(line_no)
        total += nbytes
    out = []
    for fi in sorted(chosen):
        lines = chosen[fi]
        out.extend((files[fi], labels[fi], line_no, text)
                   for line_no, text in iter_records(files[fi].path) if line_no in lines)
    return out


def words_of(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def shingle_set(text: str, n: int = 5) -> set[str]:
    """Word n-grams after lower-casing and dropping punctuation: the ground truth's similarity space."""
    w = words_of(text)
    if len(w) < n:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingle_set(a, n), shingle_set(b, n)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def near_duplicate(text: str, rng: random.Random, vocab: list[str]) -> tuple[str, float, str]:
    """An edited copy of ``text``: (copy, edit rate, boilerplate added). Pure given the rng state."""
    words = text.split(" ")
    rate = rng.choice(EDIT_RATES)
    n_ops = 0 if rate == 0 else max(1, round(rate * len(words)))
    for _ in range(n_ops):
        if len(words) < 3:
            break
        i = rng.randrange(len(words) - 1)
        op = rng.random()
        if op < 0.35:
            words[i], words[i + 1] = words[i + 1], words[i]
        elif op < 0.6:
            del words[i]
        elif op < 0.85:
            words[i] = rng.choice(vocab)
        else:
            words.insert(i, rng.choice(vocab))
    copy = " ".join(words)
    added = []
    if rate == 0 or rng.random() < 0.5:
        copy = copy + "\n" + rng.choice(BOILERPLATE_TAILS)
        added.append("tail")
    if rng.random() < 0.25:
        copy = rng.choice(BOILERPLATE_HEADS) + "\n" + copy
        added.append("head")
    return copy, rate, "+".join(added) or "none"


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    text: str
    domain: str


def build_documents(
    drawn: list[tuple[InputFile, str, int, str]], dup_frac: float, seed: int
) -> tuple[list[CorpusDoc], list[dict]]:
    """Drawn documents plus injected copies, in a seeded order; and one truth row per copy."""
    docs = [CorpusDoc(f"{label}:{line_no}", text, f.domain) for f, label, line_no, text in drawn]
    vocab = sorted({w for d in docs[:3000] for w in d.text.split(" ")[:300] if w.isalpha() and len(w) > 2})
    vocab = vocab or ["market"]
    by_key = sorted(docs, key=lambda d: key64(seed, "copy", d.id))
    originals = sorted(by_key[: round(dup_frac * len(docs))], key=lambda d: d.id)
    copies, truth = [], []
    for orig in originals:
        rng = random.Random(key64(seed, "edit", orig.id))
        text, rate, added = near_duplicate(orig.text, rng, vocab)
        copy = CorpusDoc(orig.id + "~dup", text, orig.domain)
        copies.append(copy)
        truth.append({"copy_id": copy.id, "orig_id": orig.id, "edit_rate": rate, "boilerplate": added,
                      "jaccard5": round(jaccard(orig.text, text), 4)})
    everything = sorted(docs + copies, key=lambda d: key64(seed, "order", d.id))
    return everything, truth


def write_parts(docs: list[CorpusDoc], out_dir: str) -> dict[str, list[str]]:
    """gzip JSONL parts of about PART_TEXT_BYTES each, per domain. Returns {domain: [file names]}."""
    os.makedirs(out_dir, exist_ok=True)
    by_domain: dict[str, list[CorpusDoc]] = {}
    for d in docs:
        by_domain.setdefault(d.domain, []).append(d)
    written: dict[str, list[str]] = {}
    for domain in sorted(by_domain):
        group = by_domain[domain]
        total = sum(len(d.text.encode("utf-8", "surrogatepass")) for d in group)
        n_parts = max(1, round(total / PART_TEXT_BYTES))
        names = []
        for k in range(n_parts):
            name = f"{domain}-part-{k:04d}.jsonl.gz"
            # mtime=0: identical inputs give byte-identical files
            with open(os.path.join(out_dir, name), "wb") as raw, gzip.GzipFile(
                fileobj=raw, mode="wb", compresslevel=6, mtime=0
            ) as f:
                for d in group[k::n_parts]:
                    f.write((json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n")
                            .encode("utf-8", "surrogatepass"))
            names.append(name)
        written[domain] = names
    return written


def corpus_key(files: list[InputFile], sample_mb: float, dup_frac: float, seed: int) -> str:
    """Names the prepared corpus; inputs are identified by path, size and mtime."""
    ident = [CORPUS_FORMAT, sample_mb, dup_frac, seed]
    for f in files:
        st = os.stat(f.path)
        ident.append([f.path, st.st_size, int(st.st_mtime)])
    return hashlib.blake2b(json.dumps(ident).encode(), digest_size=6).hexdigest()


def prepare(patterns: list[str], sample_mb: float, dup_frac: float, seed: int, cache_dir: str,
            log=None) -> str:
    """Prepares (or reuses) the corpus folder and returns its path; it holds docs/, truth.jsonl, meta.json."""
    files = input_files(patterns)
    if not files:
        raise FileNotFoundError(f"no input file matches {patterns}")
    out = os.path.join(cache_dir, f"corpus-{corpus_key(files, sample_mb, dup_frac, seed)}")
    if os.path.exists(os.path.join(out, "meta.json")):
        return out
    if log:
        log(f"drawing {sample_mb} MB from {len(files)} files (seed {seed})")
    drawn = draw(files, int(sample_mb * 1e6), seed)
    docs, truth = build_documents(drawn, dup_frac, seed)
    tmp = out + ".tmp"
    if os.path.exists(tmp):
        import shutil

        shutil.rmtree(tmp)
    parts = write_parts(docs, os.path.join(tmp, "docs"))
    with open(os.path.join(tmp, "truth.jsonl"), "w") as f:
        for row in truth:
            f.write(json.dumps(row) + "\n")
    per_domain = {dom: {"docs": sum(1 for d in docs if d.domain == dom),
                        "text_bytes": sum(len(d.text.encode("utf-8", "surrogatepass")) for d in docs if d.domain == dom)}
                  for dom in sorted(parts)}
    per_input: dict[str, int] = {}
    for f, _label, _line, _text in drawn:
        per_input[os.path.basename(f.path)] = per_input.get(os.path.basename(f.path), 0) + 1
    meta = {
        "format": CORPUS_FORMAT, "patterns": list(patterns), "seed": seed, "sample_mb": sample_mb,
        "dup_frac": dup_frac, "drawn_docs": len(drawn), "injected_copies": len(truth),
        "docs": len(docs), "text_bytes": sum(v["text_bytes"] for v in per_domain.values()),
        "file_bytes": sum(os.path.getsize(os.path.join(tmp, "docs", n)) for ns in parts.values() for n in ns),
        "domains": per_domain, "parts": parts, "drawn_per_input": dict(sorted(per_input.items())),
    }
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, out)
    return out


def load_meta(corpus_dir: str) -> dict:
    with open(os.path.join(corpus_dir, "meta.json")) as f:
        return json.load(f)


def read_corpus_texts(corpus_dir: str) -> dict[str, str]:
    """id -> text of every document in the prepared corpus (for the quality evaluations)."""
    out: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(corpus_dir, "docs", "*.jsonl.gz"))):
        with gzip.open(path, "rb") as f:
            for line in f:
                rec = _loads(line)
                out[rec["id"]] = rec["text"]
    return out


def read_truth(corpus_dir: str) -> list[dict]:
    with open(os.path.join(corpus_dir, "truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def default_patterns(repo_root: str) -> list[str]:
    shared = os.path.join(os.path.dirname(repo_root), "shared", "corpora")
    return [os.path.join(shared, "general", "*.jsonl.gz"), os.path.join(shared, "finance", "*.jsonl.gz")]
