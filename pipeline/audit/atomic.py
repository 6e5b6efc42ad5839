"""Writing a run's small files (manifest, audit, run facts, report) so no truncated one is ever left.

The bytes go to a temporary name beside the file and are renamed over it once complete: a full disk, a
killed process or a lost permission leaves the previous file (or none) and at most the temporary one, which
is removed when the write fails. Used by the job (``pipeline.job``) and the audit, so it lives in the lower
of the two layers.
"""
from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems


_sync = os.fsync  # the disk-full test replaces it


def temporary_name(path: str) -> str:
    """``dir/.name.tmp``: hidden, beside the file (same filesystem, so the rename is atomic locally)."""
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}.tmp" if head else f".{name}.tmp"


def write_atomic(path: str, data: bytes) -> str:
    """Writes ``data`` to ``path`` through a temporary name and a rename; returns ``path``."""
    tmp = temporary_name(path)
    try:
        if "://" not in path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                _sync(f.fileno())
            os.replace(tmp, path)
        else:
            with FileSystems.create(tmp) as f:
                f.write(data)
            if FileSystems.exists(path):
                FileSystems.delete([path])
            FileSystems.rename([tmp], [path])
    except BaseException:
        try:
            if "://" not in path:
                if os.path.exists(tmp):
                    os.remove(tmp)
            elif FileSystems.exists(tmp):
                FileSystems.delete([tmp])
        except Exception:  # cleaning up must never hide the error that caused it
            pass
        raise
    return path
