"""``pkg://<package>/<path>``: read-only Beam filesystem over data files shipped inside a Python package.

The embedded sample travels to remote workers inside the pilewright wheel, at a site-packages path the
launching machine cannot know. A source path ``pkg://pilewright.pipeline.sample/wikipedia.jsonl.gz`` is
resolved on the worker that reads it, through ``importlib.resources``. Beam finds a filesystem by its
scheme among the ``FileSystem`` subclasses imported in the process, and the Dataflow runner passes every
imported one to its workers as a ``--beam_plugins`` import, so importing this module at launch is enough.
"""
from __future__ import annotations

import os
import posixpath
from importlib import resources
from typing import BinaryIO, Iterator

from apache_beam.io.filesystem import BeamIOError, CompressionTypes, FileMetadata, FileSystem
from apache_beam.io.localfilesystem import LocalFileSystem

SCHEME = "pkg"
PREFIX = f"{SCHEME}://"


def package_url(package: str, relative: str) -> str:
    return f"{PREFIX}{package}/{relative.lstrip('/')}"


def split_url(url: str) -> tuple[str, str]:
    """``pkg://a.b/c/d`` -> (``a.b``, ``c/d``)."""
    if not url.startswith(PREFIX):
        raise ValueError(f"not a {PREFIX} path: {url!r}")
    package, _, relative = url[len(PREFIX):].partition("/")
    if not package:
        raise ValueError(f"{url!r}: no package name after {PREFIX}")
    return package, relative


def package_root(package: str) -> str:
    """The on-disk folder of an installed package (wheels install as plain folders)."""
    try:
        root = resources.files(package)
    except ModuleNotFoundError as e:
        raise BeamIOError(f"package {package!r} is not installed here", {package: e}) from e
    return str(root)


class PackageFileSystem(FileSystem):
    """Reads files under an installed package as ``pkg://<package>/<path>``; writing is refused.

    Every read is delegated to Beam's local filesystem on the translated path.
    """

    def __init__(self, pipeline_options):
        super().__init__(pipeline_options)
        self._disk = LocalFileSystem(pipeline_options)

    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def _local(self, url: str) -> str:
        package, relative = split_url(url)
        root = package_root(package)
        return posixpath.join(root, relative) if relative else root

    def _to_url(self, local_path: str, like: str) -> str:
        package, _ = split_url(like)
        relative = posixpath.relpath(local_path, package_root(package))
        return package_url(package, "" if relative == "." else relative)

    def join(self, basepath: str, *paths: str) -> str:
        return posixpath.join(basepath, *paths)

    def split(self, path: str) -> tuple[str, str]:
        head, tail = posixpath.split(path.rstrip("/"))
        return head, tail

    def _url_dirname(self, url_or_path: str) -> str:
        return posixpath.dirname(url_or_path)

    def has_dirs(self) -> bool:
        return True

    def _list(self, dir_or_prefix: str) -> Iterator[FileMetadata]:
        root = self._local(dir_or_prefix)
        if not os.path.exists(root):
            return
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                local = os.path.join(dirpath, name)
                yield FileMetadata(self._to_url(local, dir_or_prefix), os.path.getsize(local), os.path.getmtime(local))

    def open(self, path: str, mime_type: str = "application/octet-stream",
             compression_type: str = CompressionTypes.AUTO) -> BinaryIO:
        # compression is decided from the pkg:// name, which ends like the local one
        return self._disk.open(self._local(path), mime_type, FileSystem._get_compression_type(path, compression_type))

    def exists(self, path: str) -> bool:
        try:
            return self._disk.exists(self._local(path))
        except BeamIOError:
            return False

    def size(self, path: str) -> int:
        return self._disk.size(self._local(path))

    def last_updated(self, path: str) -> float:
        return self._disk.last_updated(self._local(path))

    def checksum(self, path: str) -> str:
        return self._disk.checksum(self._local(path))

    def metadata(self, path: str) -> FileMetadata:
        meta = self._disk.metadata(self._local(path))
        return FileMetadata(path, meta.size_in_bytes, meta.last_updated_in_seconds)

    def report_lineage(self, path, lineage) -> None:
        return None

    def _read_only(self, *paths) -> None:
        raise BeamIOError(f"{PREFIX} paths are package data and read-only", {str(paths): None})

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        self._read_only(path)

    def mkdirs(self, path):
        self._read_only(path)

    def copy(self, source_file_names, destination_file_names):
        self._read_only(*destination_file_names)

    def rename(self, source_file_names, destination_file_names):
        self._read_only(*source_file_names)

    def delete(self, paths):
        self._read_only(*paths)
