"""``pilewright audit OUT --verify``: re-check a run's outputs against its manifest and audit.

Recomputes every shard's sha256, byte size, document and token counts; checks every document ends with the
tokenizer's EOS, every token id is below the vocabulary size, and the shard metadata names the manifest's
tokenizer; checks the manifest's totals add up; and checks the audit's funnel: for every stage and source
``in == kept + rejected + dead letters``, each stage's input is the previous stage's output, and the rows of
OUT/rejected, OUT/dead_letter and OUT/documents match the audit's counts; and no two curated documents (nor
two shard rows, when the mix did not repeat documents) share an id; and every file under tokens/ is one the
manifest lists.

Megatron files listed beside a shard (``files`` in its manifest entry) are checked too: sha256 and size,
a readable index, and the same documents with the same tokens in the same order as the Arrow shard, with
one provenance line per document naming the same doc_id.

Shards are streamed (memory-mapped locally, one record batch at a time), so verifying costs one read of
the shards, not their size in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from pilewright.pipeline.audit.reading import AUDIT_PATH, MANIFEST_PATH, out_path, read_json, schema_problem
from pilewright.pipeline.audit.sections import family_manifest_problems, section_problems
from pilewright.pipeline.audit.views import token_stage
from pilewright.schemas.audit import Audit
from pilewright.schemas.manifest import Manifest

HASH_CHUNK = 8 << 20
MAX_PROBLEMS = 50


@dataclass
class VerifyResult:
    problems: list[str] = field(default_factory=list)
    shards: int = 0
    documents: int = 0
    tokens: int = 0
    stages: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> str:
        return (f"{self.shards:,} shards, {self.documents:,} documents, {self.tokens:,} tokens, "
                f"{self.stages} audited stages")

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _is_local(path: str) -> bool:
    return "://" not in path


def file_sha256(path: str) -> tuple[str, int]:
    """(sha256 hex, size) of a file through Beam's filesystems, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while True:
            chunk = f.read(HASH_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _open_ipc(path: str) -> pa.ipc.RecordBatchFileReader:
    if _is_local(path):
        return pa.ipc.open_file(pa.memory_map(path, "r"))
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return pa.ipc.open_file(pa.py_buffer(f.read()))


def check_token_rows(reader: pa.ipc.RecordBatchFileReader, vocab_size: int, eos_id: int, name: str,
                       result: VerifyResult) -> tuple[int, int]:
    """(documents, tokens) of one shard, adding a problem for an empty row, a missing EOS or an id >= vocab."""
    docs = tokens = 0
    for i in range(reader.num_record_batches):
        batch = reader.get_batch(i)
        col = batch.column(batch.schema.get_field_index("tokens"))
        ids = batch.column(batch.schema.get_field_index("doc_id"))
        if col.null_count:
            result.add(f"{name}: {col.null_count} rows have no token list")
        lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
        values = col.flatten().to_numpy(zero_copy_only=False)
        docs += len(batch)
        tokens += int(values.shape[0])
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            result.add(f"{name}: document {ids[int(empty[0])].as_py()!r} has no tokens (not even EOS)")
            continue
        ends = np.cumsum(lengths) - 1
        bad_eos = np.flatnonzero(values[ends] != eos_id)
        if bad_eos.size:
            row = int(bad_eos[0])
            result.add(f"{name}: document {ids[row].as_py()!r} does not end with EOS (id {eos_id}); "
                       f"last token is {int(values[ends[row]])}")
        if values.size and int(values.max()) >= vocab_size:
            at = int(np.flatnonzero(values >= vocab_size)[0])
            row = int(np.searchsorted(ends, at))
            result.add(f"{name}: document {ids[row].as_py()!r} has token id {int(values[at])} >= vocabulary "
                       f"size {vocab_size}")
    return docs, tokens


def verify_manifest_totals(manifest: dict, result: VerifyResult) -> None:
    shards = manifest.get("shards", [])
    if manifest.get("num_shards") != len(shards):
        result.add(f"manifest.json: num_shards is {manifest.get('num_shards')} but {len(shards)} shards are listed")
    for key, field_name in (("total_tokens", "tokens"), ("total_docs", "docs")):
        listed = sum(int(s.get(field_name, 0)) for s in shards)
        if manifest.get(key) != listed:
            result.add(f"manifest.json: {key} is {manifest.get(key)} but the shards list sums to {listed}")
    for section in ("tokens_by_source", "tokens_by_domain"):
        part = manifest.get(section)
        if isinstance(part, dict) and part:
            total = sum(int(v.get("tokens", 0)) for v in part.values())
            if total != manifest.get("total_tokens"):
                result.add(f"manifest.json: {section} sums to {total} tokens, total_tokens is "
                           f"{manifest.get('total_tokens')}")


def verify_shards(out_dir: str, manifest: dict, result: VerifyResult) -> None:
    tok = manifest.get("tokenizer", {})
    vocab, eos, tok_sha = tok.get("vocab_size"), tok.get("eos_id"), tok.get("sha256")
    model = out_path(out_dir, tok.get("path", "tokenizer/tokenizer.model"))
    if tok_sha and FileSystems.exists(model):
        got, _ = file_sha256(model)
        if got != tok_sha:
            result.add(f"{tok.get('path')}: sha256 {got[:12]}... differs from the manifest's {tok_sha[:12]}...")
    for entry in manifest.get("shards", []):
        rel = entry["path"]
        path = out_path(out_dir, rel)
        if not FileSystems.exists(path):
            result.add(f"{rel}: listed in manifest.json but missing")
            continue
        sha, size = file_sha256(path)
        if size != entry.get("bytes", size):
            result.add(f"{rel}: {size:,} bytes on disk, manifest says {entry['bytes']:,}")
        if sha != entry.get("sha256"):
            result.add(f"{rel}: sha256 {sha[:12]}... does not match the manifest's {str(entry.get('sha256'))[:12]}...")
        try:
            reader = _open_ipc(path)
        except (pa.ArrowInvalid, OSError) as e:
            result.add(f"{rel}: not a readable Arrow IPC file ({e})")
            continue
        meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
        if tok_sha and meta.get("tokenizer_sha256") != tok_sha:
            result.add(f"{rel}: written with tokenizer {meta.get('tokenizer_sha256', '?')[:12]}..., manifest names "
                       f"{tok_sha[:12]}...")
        file_vocab = int(meta.get("vocab_size", vocab or 0))
        file_eos = int(meta.get("eos_id", eos if eos is not None else -1))
        if vocab is not None and file_vocab != vocab:
            result.add(f"{rel}: vocab_size {file_vocab} in the shard, {vocab} in the manifest")
        docs, tokens = check_token_rows(reader, vocab or file_vocab, eos if eos is not None else file_eos, rel,
                                        result)
        if docs != entry.get("docs"):
            result.add(f"{rel}: holds {docs:,} documents, manifest says {entry.get('docs'):,}")
        if tokens != entry.get("tokens"):
            result.add(f"{rel}: holds {tokens:,} tokens, manifest says {entry.get('tokens'):,}")
        if entry.get("files"):
            verify_megatron(out_dir, entry, reader, result)
        result.shards += 1
        result.documents += docs
        result.tokens += tokens


def _files_under(out_dir: str, folder: str) -> list[str]:
    """Every file under ``out_dir/folder`` as a ``/``-separated path relative to ``out_dir``, sorted
    (locally at any depth; on a remote filesystem one level, as far as its glob goes)."""
    root = out_path(out_dir, folder)
    if _is_local(out_dir):
        found = []
        for here, _dirs, files in os.walk(root):
            for name in files:
                found.append(os.path.relpath(os.path.join(here, name), out_dir).replace(os.sep, "/"))
        return sorted(found)
    base = out_dir.rstrip("/") + "/"
    return sorted(p[len(base):] for p in _output_files(out_dir, f"{folder}/*") if p.startswith(base))


def verify_no_unlisted_shards(out_dir: str, manifest: dict, result: VerifyResult) -> None:
    """Every file under tokens/ is a shard (or a Megatron file of one) the manifest lists: a shard left by
    another run would otherwise be read by a loader that globs the folder."""
    listed = set()
    for entry in manifest.get("shards", []):
        listed.add(entry.get("path"))
        listed.update(f.get("path") for f in entry.get("files") or [])
    unlisted = [rel for rel in _files_under(out_dir, "tokens") if rel not in listed]
    if unlisted:
        more = f" and {len(unlisted) - 1} more" if len(unlisted) > 1 else ""
        result.add(f"{unlisted[0]}{more}: under tokens/ but not listed in manifest.json (left by another run? "
                   f"a loader reading the folder would read it too)")


def _read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read()


def verify_megatron(out_dir: str, entry: dict, arrow: pa.ipc.RecordBatchFileReader, result: VerifyResult) -> None:
    """The shard's Megatron .bin/.idx and provenance sidecar hold exactly the Arrow shard's rows."""
    from pilewright.tokenizer.megatron import MegatronFormatError, iter_megatron_documents, read_provenance

    by_suffix: dict[str, str] = {}
    for f in entry["files"]:
        rel = f["path"]
        path = out_path(out_dir, rel)
        if not FileSystems.exists(path):
            result.add(f"{rel}: listed in manifest.json but missing")
            continue
        sha, size = file_sha256(path)
        if size != f.get("bytes") or sha != f.get("sha256"):
            result.add(f"{rel}: {size:,} bytes, sha256 {sha[:12]}...; the manifest says {f.get('bytes')} bytes, "
                       f"{str(f.get('sha256'))[:12]}...")
        for suffix in (".provenance.jsonl", ".bin", ".idx"):
            if rel.endswith(suffix):
                by_suffix[suffix] = path
                break
    if set(by_suffix) != {".bin", ".idx", ".provenance.jsonl"}:
        return
    name = entry["path"].rsplit(".", 1)[0]
    bin_path = by_suffix[".bin"]
    bin_data = np.memmap(bin_path, mode="r") if _is_local(bin_path) and os.path.getsize(bin_path) else _read_bytes(bin_path)
    try:
        docs = iter_megatron_documents(bin_data, _read_bytes(by_suffix[".idx"]))
        prov = read_provenance(_read_bytes(by_suffix[".provenance.jsonl"]))
        row = 0
        for i in range(arrow.num_record_batches):
            batch = arrow.get_batch(i)
            col = batch.column(batch.schema.get_field_index("tokens"))
            ids = batch.column(batch.schema.get_field_index("doc_id")).to_pylist()
            offsets = col.offsets.to_numpy()
            values = col.values.to_numpy(zero_copy_only=False)
            for j, doc_id in enumerate(ids):
                got = next(docs, None)
                if got is None:
                    result.add(f"{name}.bin: ends after {row:,} documents; the Arrow shard has more")
                    return
                if not np.array_equal(got, values[offsets[j]:offsets[j + 1]]):
                    result.add(f"{name}.bin: document {row} ({doc_id!r}) differs from the Arrow shard's row")
                    return
                if row >= len(prov) or prov[row].get("doc_id") != doc_id:
                    result.add(f"{name}.provenance.jsonl: line {row + 1} does not name {doc_id!r}")
                    return
                row += 1
        if next(docs, None) is not None or len(prov) != row:
            result.add(f"{name}: Megatron files hold more documents than the Arrow shard's {row:,}")
    except MegatronFormatError as e:
        result.add(f"{name}.idx: not a readable Megatron index ({e})")


def verify_funnel(audit: dict, result: VerifyResult) -> None:
    """in == kept + rejected + errors for every stage and source, and every stage's input is what the stage
    before it kept (recomputed from the numbers, not taken from the audit's own ``conserved`` flags)."""
    stages = audit.get("stages", [])
    result.stages = len(stages)
    prev: Optional[dict] = None
    for st in stages:
        name = st["name"]
        for src, e in sorted(st.get("by_source", {}).items()):
            got = int(e["kept"]) + int(e["rejected"]) + int(e["errors"])
            if int(e["in"]) != got:
                result.add(f"audit: stage {name}, source {src}: {e['in']:,} in but kept + rejected + dead letters "
                           f"= {e['kept']:,} + {e['rejected']:,} + {e['errors']:,} = {got:,}")
            if prev is not None:
                before = int(prev.get("by_source", {}).get(src, {}).get("kept", 0))
                if before != int(e["in"]):
                    result.add(f"audit: stage {name}, source {src}: {e['in']:,} in but stage {prev['name']} "
                               f"kept {before:,}")
            if sum(int(n) for n in e.get("reasons", {}).values()) != int(e["rejected"]):
                result.add(f"audit: stage {name}, source {src}: rejection reasons do not add up to {e['rejected']:,}")
        for k in ("in", "kept", "rejected", "errors"):
            total = sum(int(e[k]) for e in st.get("by_source", {}).values())
            if total != int(st[k]):
                result.add(f"audit: stage {name}: {k} is {st[k]:,} but its sources sum to {total:,}")
        prev = st


def _output_files(out_dir: str, pattern: str) -> list[str]:
    """The files of one side output, sorted; empty when there are none or the folder cannot be listed."""
    try:
        return sorted(m.path for m in FileSystems.match([out_path(out_dir, pattern)])[0].metadata_list)
    except Exception:
        return []


def read_parquet_columns(path: str, columns: list[str]) -> pa.Table:
    """Columns of one Parquet file, read synchronously on this thread, with nothing left on Arrow's threads.

    ``pq.read_table`` over a Python file object scans through Arrow's thread pools, and the last references
    to the Python file (and to Python buffers) may be released on one of those threads after the process
    began to exit: the thread cannot take the GIL, the interpreter unwinds it inside a noexcept destructor,
    and std::terminate aborts the process (SIGABRT, exit 134, "terminate called without an active
    exception"; `audit --verify` once in 22 runs under load, found with core dumps). Here a local file is
    opened by Arrow itself, a remote one through Beam, and either is read without threads and closed.
    """
    import pyarrow.parquet as pq

    if _is_local(path):
        pf = pq.ParquetFile(path)
        try:
            return pf.read(columns=columns, use_threads=False)
        finally:
            pf.close()
    with FileSystems.open(path, compression_type="uncompressed") as f:
        pf = pq.ParquetFile(f)
        try:
            return pf.read(columns=columns, use_threads=False)
        finally:
            pf.close()


def _column_counts(out_dir: str, folder: str, column: str) -> Optional[Counter]:
    paths = _output_files(out_dir, f"{folder}/*.parquet")
    if not paths:
        return None
    counts: Counter = Counter()
    for path in paths:
        table = read_parquet_columns(path, [column])
        counts.update(table.column(column).to_pylist())
    return counts


def _dead_letter_counts(out_dir: str) -> Optional[Counter]:
    paths = _output_files(out_dir, "dead_letter/*.jsonl")
    if not paths:
        return None
    counts: Counter = Counter()
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            for line in f:
                if line.strip():
                    counts[json.loads(line).get("stage", "")] += 1
    return counts


def verify_side_outputs(out_dir: str, audit: dict, manifest: dict, result: VerifyResult) -> None:
    """The files beside the shards hold exactly what the audit counted."""
    stages = audit.get("stages", [])
    names = {st["name"] for st in stages}
    for folder, counted, key, what in (
        ("rejected", _column_counts(out_dir, "rejected", "stage"), "rejected", "rejected documents"),
        ("dead_letter", _dead_letter_counts(out_dir), "errors", "dead letters"),
    ):
        expected = sum(int(st[key]) for st in stages)
        on_disk = sum(counted.values()) if counted is not None else 0
        if on_disk != expected:
            result.add(f"{folder}/: {on_disk:,} {what} on disk, the audit counted {expected:,}")
        elif counted and set(counted) <= names:
            for st in stages:
                if counted.get(st["name"], 0) != int(st[key]):
                    result.add(f"{folder}/: {counted.get(st['name'], 0):,} {what} of stage {st['name']} on disk, "
                               f"the audit counted {st[key]:,}")
    encoder = token_stage(audit)
    if encoder is None:
        return
    docs = _column_counts(out_dir, "documents", "source")
    on_disk = sum(docs.values()) if docs is not None else 0
    if on_disk != int(encoder["kept"]):
        result.add(f"documents/: {on_disk:,} curated documents on disk, the tokenizer encoded {encoder['kept']:,}")
    if manifest and encoder is stages[-1]:
        # nothing after the tokenizer redrew the documents: the shards hold exactly what it encoded
        if int(manifest.get("total_docs", -1)) != int(encoder["kept"]):
            result.add(f"manifest.json: total_docs is {manifest.get('total_docs'):,} but the tokenizer encoded "
                       f"{encoder['kept']:,} documents")
        if int(manifest.get("total_tokens", -1)) != int(encoder.get("kept_tokens", -1)):
            result.add(f"manifest.json: total_tokens is {manifest.get('total_tokens'):,} but the tokenizer produced "
                       f"{encoder.get('kept_tokens', 0):,}")
    # a stage after the tokenizer (it redraws the documents) checks the manifest's totals against its own block
    for problem in family_manifest_problems(manifest):
        result.add(problem)


def _id_hashes(ids) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest(), "big")
                     for i in ids], dtype=np.uint64)


def _first_duplicate(chunks: list[np.ndarray], all_ids) -> Optional[str]:
    """The first id that occurs twice, found by 64-bit hashes (8 bytes an id in memory, not the ids)."""
    if not chunks:
        return None
    hashes = np.sort(np.concatenate(chunks))
    same = np.flatnonzero(hashes[1:] == hashes[:-1])
    if not same.size:
        return None
    suspects = set(hashes[same].tolist())
    seen: set = set()
    for i in all_ids():  # a second pass over the ids of suspect hashes only: a hash collision is not a duplicate
        if int.from_bytes(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest(), "big") in suspects:
            if i in seen:
                return i
            seen.add(i)
    return None


def verify_unique_ids(out_dir: str, audit: dict, manifest: dict, result: VerifyResult) -> None:
    """Every curated document has its own id, and so has every shard row unless a stage after the tokenizer
    redrew the documents (the mix repeats them: its copies share their document's id; ``(doc_id, epoch)`` is
    what is unique there)."""

    def document_ids():
        for path in _output_files(out_dir, "documents/*.parquet"):
            yield from read_parquet_columns(path, ["id"]).column("id").to_pylist()

    chunks = [_id_hashes(document_ids())]
    dup = _first_duplicate(chunks, document_ids)
    if dup is not None:
        result.add(f"documents/: the id {dup!r} is held by more than one document")
    stages = audit.get("stages", [])
    if not manifest.get("shards") or not stages or token_stage(audit) is not stages[-1]:
        return

    def row_ids():
        for entry in manifest["shards"]:
            path = out_path(out_dir, entry["path"])
            if FileSystems.exists(path):
                reader = _open_ipc(path)
                for i in range(reader.num_record_batches):
                    yield from reader.get_batch(i).column("doc_id").to_pylist()

    dup = _first_duplicate([_id_hashes(row_ids())], row_ids)
    if dup is not None:
        result.add(f"tokens/: the doc_id {dup!r} is in more than one shard row")


def verify_run(out_dir: str) -> VerifyResult:
    """Every check, in order: manifest totals, shards, audit funnel, side outputs. Never raises for a bad
    run; every problem found is in ``problems`` (the first one first)."""
    result = VerifyResult()
    manifest_path = out_path(out_dir, MANIFEST_PATH)
    audit_path = out_path(out_dir, AUDIT_PATH)
    manifest: dict = {}
    if not FileSystems.exists(manifest_path):
        result.add(f"{MANIFEST_PATH}: missing (the run did not finish, or {out_dir} is not a run's output)")
    else:
        try:
            manifest = read_json(manifest_path)
        except ValueError as e:
            result.add(f"{MANIFEST_PATH}: not valid JSON ({e})")
    if manifest:
        problem = schema_problem(Manifest, manifest)
        if problem is not None:
            result.add(f"{MANIFEST_PATH}: does not match the manifest schema: {problem}")
        verify_manifest_totals(manifest, result)
        verify_shards(out_dir, manifest, result)
        verify_no_unlisted_shards(out_dir, manifest, result)
    if not FileSystems.exists(audit_path):
        result.add(f"{AUDIT_PATH}: missing")
        return result
    try:
        audit = read_json(audit_path)
    except ValueError as e:
        result.add(f"{AUDIT_PATH}: not valid JSON ({e})")
        return result
    problem = schema_problem(Audit, audit)
    if problem is not None:
        result.add(f"{AUDIT_PATH}: does not match the audit schema: {problem}")
    verify_funnel(audit, result)
    for problem in section_problems(audit):
        result.add(problem)
    verify_side_outputs(out_dir, audit, manifest, result)
    verify_unique_ids(out_dir, audit, manifest, result)
    return result
