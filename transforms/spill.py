"""Spill files: bulk data (text, documents, token arrays) written once to a working folder under OUT, so
that only compact references (path, offset, length) cross shuffles and side inputs.

On the local runners every PCollection that crosses a shuffle or a side-input barrier is held in memory
until the next step runs; on a cluster it is paid for as shuffle bytes. A step that must wait for a
decision (dedup, the shard placement, the tokenizer sample) therefore spills its bulk input here and
passes references, and the step after the barrier reads the bytes back.

Layout: ``OUT/.work/<area>/<name>.bin``, one file per bundle (a retried bundle writes a new file and its
references are never emitted, so nothing is read twice). The name is random, or with ``by_content`` the
digest of the bundle's first record and the file's place in the bundle: a phase's files of unique records
(documents, their rejections) then sort the same way in every run, a bundle's files in the order written,
so the units cut from them are the same too. Each record is an 8-byte little-endian length
followed by the payload. The folder is removed when the run ends (``remove_work_dir``); its size peaks at
about the size of the curated text plus its token arrays (4 bytes a token). Works on any Beam filesystem.
"""
from __future__ import annotations

import hashlib
import json
import struct
import uuid
from typing import Iterator, Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pilewright.schemas.layout import SPILL
from pilewright.schemas.records import Document
_LEN = struct.Struct("<Q")
# a spill file is closed (and its path emitted) after this many records: what is keyed by file afterwards
# (``DecisionsByFile``) groups at most this many documents, whatever the bundle size
MAX_RECORDS_PER_FILE = 10_000


def work_dir(out_dir: str, area: str) -> str:
    return FileSystems.join(out_dir, *SPILL.split("/"), area)


class SpillWriter:
    """Appends records to one new file under ``folder``; ``write`` returns the record's (path, offset, length)
    of its payload. Opened lazily, so a bundle with nothing to spill creates no file."""

    def __init__(self, folder: str, by_content: bool = False):
        self._folder = folder
        self._by_content = by_content
        self._f = None
        self.path: Optional[str] = None
        self._pos = 0
        self._first: Optional[str] = None  # by_content: the digest of this writer's first record
        self._seq = 0

    @property
    def bytes_written(self) -> int:
        return self._pos

    def _new_path(self, first: bytes) -> str:
        if self._by_content:
            # the writer's first record, then the file's place among the writer's files: the files of one
            # bundle sort in the order written
            if self._first is None:
                self._first = hashlib.sha256(first).hexdigest()[:32]
            path = FileSystems.join(self._folder, f"{self._first}-{self._seq:06d}.bin")
            self._seq += 1
            # records of one folder are unique, so a name taken is a retried bundle's leftover or a
            # record spilled twice: a random name then, never an overwrite
            if not FileSystems.exists(path):
                return path
        return FileSystems.join(self._folder, uuid.uuid4().hex + ".bin")

    def write(self, payload: bytes) -> tuple[str, int, int]:
        if self._f is None:
            self.path = self._new_path(payload)
            # the local filesystem creates missing parent folders; object stores have none to create
            self._f = FileSystems.create(self.path, compression_type="uncompressed")
        try:
            self._f.write(_LEN.pack(len(payload)))
            self._f.write(payload)
        except OSError as e:
            raise OSError(f"cannot write the working folder {self._folder} (disk full?): {e}") from e
        offset = self._pos + _LEN.size
        self._pos = offset + len(payload)
        return self.path, offset, len(payload)

    def close(self) -> Optional[str]:
        """Closes the file; returns its path, or None if nothing was written."""
        if self._f is None:
            return None
        try:
            self._f.close()
        except OSError as e:
            raise OSError(f"cannot write the working folder {self._folder} (disk full?): {e}") from e
        path, self._f, self._pos = self.path, None, 0
        return path


def iter_payloads(path: str) -> Iterator[bytes]:
    """Every payload of one spill file, in the order written."""
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while True:
            head = f.read(_LEN.size)
            if len(head) < _LEN.size:
                return
            (n,) = _LEN.unpack(head)
            yield f.read(n)


class RangeReader:
    """Reads payloads by (path, offset, length), keeping the last few files open."""

    def __init__(self, max_open: int = 8):
        self._open: dict[str, object] = {}
        self._max = max_open

    def read(self, path: str, offset: int, length: int) -> bytes:
        f = self._open.get(path)
        if f is None:
            if len(self._open) >= self._max:
                old = next(iter(self._open))
                self._open.pop(old).close()
            f = self._open[path] = FileSystems.open(path, compression_type="uncompressed")
        f.seek(offset)
        data = f.read(length)
        if len(data) != length:
            raise OSError(f"spill file {path} is short at offset {offset}: the working folder was changed")
        return data

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()


def _plain(value):
    # annotations may be any Mapping (a read-only view after a shuffle); JSON needs a dict
    return dict(value) if isinstance(value, Mapping) else value


def dumps(obj: Sequence) -> bytes:
    """A record's fields (str, int, float, None, str-keyed mappings: every Document field) as JSON.

    JSON, not pickle: the working folder is a file store others can write to, and reading it back must
    never run code. Floats round-trip exactly (repr), NaN and -0.0 included; key order is kept."""
    # ASCII escapes: a lone surrogate (which UTF-8 cannot encode) comes back as itself
    return json.dumps([_plain(v) for v in obj], separators=(",", ":")).encode("ascii")


def loads(data: bytes) -> list:
    return json.loads(data.decode("ascii"))


def remove_work_dir(out_dir: str) -> None:
    """Deletes OUT/.work/spill (the job's spill files); quiet when it does not exist."""
    path = FileSystems.join(out_dir, *SPILL.split("/"))
    try:
        if FileSystems.exists(path):
            FileSystems.delete([path])
    except Exception:  # an object store has no folder to delete once its files are gone
        pass


class SpillDocumentsFn(beam.DoFn):
    """Document (or (key, Document)) -> nothing per element; at the end of each bundle, the path of the
    spill file holding the bundle's documents in order. A stage that must wait for a decision spills its
    documents this way, fused with the step that produced them, and reads them back with
    ``iter_documents`` after the barrier: one small record per bundle crosses it instead of the text.

    ``refs``: also emit, tagged ``REFS``, (key or document id, spill file path) per document, so that
    per-document decisions can be joined to the files by key (``DecisionsByFile``).
    ``max_bytes``: a file is also closed once it holds this many bytes, so a later phase can cut its units
    from a big bundle's output; ``by_content``: files named by their first record (``SpillWriter``)."""

    REFS = "refs"

    def __init__(self, folder: str, keyed: bool = False, refs: bool = False, max_bytes: Optional[int] = None,
                 by_content: bool = False):
        super().__init__()
        self._folder = folder
        self._keyed = keyed
        self._refs = refs
        self._max_bytes = max_bytes
        self._by_content = by_content
        self._writer: Optional[SpillWriter] = None

    def start_bundle(self):
        self._writer = SpillWriter(self._folder, by_content=self._by_content)
        self._n = 0

    def process(self, item):
        doc = item[1] if self._keyed else item
        path, _offset, _length = self._writer.write(dumps(tuple(doc)))
        if self._refs:
            yield beam.pvalue.TaggedOutput(self.REFS, (item[0] if self._keyed else doc.id, path))
        self._n += 1
        if self._n >= MAX_RECORDS_PER_FILE or (self._max_bytes and self._writer.bytes_written >= self._max_bytes):
            self._n = 0
            yield self._writer.close()

    def finish_bundle(self):
        path = self._writer.close()
        if path is not None:
            yield WindowedValue(path, MIN_TIMESTAMP, [GlobalWindow()])


def _to_file(item):
    doc_id, joined = item
    paths, values = list(joined["ref"]), list(joined["dec"])
    if paths and values:
        yield paths[0], (doc_id, values[0])


def _file_decisions(item):
    path, joined = item
    if list(joined["file"]):
        yield path, [tuple(v) for v in joined["dec"]]


class DecisionsByFile(beam.PTransform):
    """(id, decision) -> (spill file path, [(id, decision), ...]) for every spill file, [] for a file none
    of whose documents has a decision.

    A join by key, not a side input: on a cluster every worker holds a side input whole, and the decisions
    of a deduplicated web crawl cover a large share of its documents. Two compact shuffles: one (id, path)
    reference per document with the decisions, then each file's decisions with the file. A group holds one
    id's reference and decision, or one file's decisions (at most a bundle's documents).
    """

    def __init__(self, files: beam.PCollection, refs: beam.PCollection):
        super().__init__()
        self._files = files
        self._refs = refs

    def expand(self, decisions):
        by_file = (
            {"ref": self._refs, "dec": decisions}
            | "ById" >> beam.CoGroupByKey()
            | "ToFile" >> beam.FlatMap(_to_file)
        )
        return (
            {"file": self._files | "FileKeys" >> beam.Map(lambda path: (path, None)), "dec": by_file}
            | "ByFile" >> beam.CoGroupByKey()
            | "PerFile" >> beam.FlatMap(_file_decisions)
        )


def iter_documents(path: str) -> Iterator[Document]:
    """The documents of one spill file written by ``SpillDocumentsFn``, in order."""
    for payload in iter_payloads(path):
        yield Document(*loads(payload))
