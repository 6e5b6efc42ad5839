"""The output folder is pilewright's or nobody's: a marker file, refusals, and a lock for a run's length.

``claim_output(out_dir, overwrite)`` is called before a run deletes or writes anything under OUT. It
refuses (``OutputError``: one line, exit 2) the filesystem root always, and, unless ``overwrite``, the home
folder, the working folder itself, and a folder that holds files but no marker (``OUT/.pilewright``: it is
not a pilewright output, and a run would replace the user's ``documents/``, ``tokens/``, ...). It then
writes the marker and takes the lock ``OUT/.pilewright.lock``, which holds the run's pid, host and start
time; a second run on the same folder is refused with a line naming them.

The lock is an ``flock`` on that file, held by the open file for as long as the run lasts: the kernel
drops it when the process dies, however it dies, so a lock file left by a killed run is stale by
construction (it is not locked) and is taken over. Local folders only: a remote OUT (``gs://...``) has
no atomic create or lock, and listing it needs the workers' credentials, so it is not guarded.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from typing import Optional

from pilewright.schemas import layout
from pilewright.schemas.errors import UserError

MARKER_TEXT = (
    "This folder is the output of pilewright. A run with this output replaces what pilewright wrote here\n"
    "(tokens/, documents/, rejected/, dead_letter/, audit/, tokenizer/, manifest.json) and nothing else.\n"
)


class OutputError(UserError):
    """The output folder cannot be used (a file is in its place, no permission, not pilewright's, in use)."""


class OutputInUse(OutputError):
    """Another run holds the output folder's lock."""


@dataclass
class OutputClaim:
    """The lock on one output folder; ``release()`` (or leaving the ``with`` block) gives it up.

    ``stale``: what the lock file said when it was found unlocked (a run that was killed), else None.
    """

    out_dir: str
    lock_path: Optional[str] = None
    fd: Optional[int] = None
    stale: Optional[dict] = None

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            # removed while still locked, so no other run can lock this file and then see it vanish
            if self.lock_path and _same_file(self.fd, self.lock_path):
                os.unlink(self.lock_path)
        except OSError:
            pass
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "OutputClaim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def refusal(out_dir: str, overwrite: bool) -> Optional[str]:
    """Why ``out_dir`` may not be a run's output, or None. Reads only; changes nothing."""
    real = _real(out_dir)
    if os.path.dirname(real) == real:
        return f"output {out_dir}: the filesystem root cannot be an output folder; choose another --output"
    if overwrite:
        return None
    fix = "choose an empty or new folder with --output (or run.output), or pass --overwrite to use it anyway"
    if real == _real("~"):
        return f"output {out_dir}: this is the home folder; {fix}"
    if real == _real(os.getcwd()):
        return f"output {out_dir}: this is the working folder itself; {fix}"
    if os.path.isdir(real) and not os.path.exists(os.path.join(real, layout.MARKER)):
        try:
            entries = sorted(os.listdir(real))
        except OSError as e:
            return f"output {out_dir}: cannot be listed ({e.strerror}); choose another --output"
        if entries:
            shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
            return (f"output {out_dir}: the folder holds files ({shown}) and is not a pilewright output "
                    f"(no {layout.MARKER} marker); {fix}")
    return None


def _lock_info() -> dict:
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _read_info(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        info = json.loads(data.decode("utf-8")) if data.strip() else {}
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    pid = info.get("pid", "?")
    host = info.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"pid {pid}{where}, started {info.get('started', 'at an unknown time')}"


def _lock(out_dir: str, lock_path: str) -> OutputClaim:
    for _ in range(5):  # a run releasing the lock at this very moment removes the file: open it again
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_info(fd)
            os.close(fd)
            raise OutputInUse(
                f"output {out_dir} is in use by another pilewright run ({_describe(info)}); wait for it to end "
                f"or choose another --output"
            ) from None
        except OSError:
            os.close(fd)
            raise
        if not _same_file(fd, lock_path):
            os.close(fd)
            continue
        previous = _read_info(fd)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(_lock_info(), sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
        return OutputClaim(out_dir, lock_path, fd, stale=previous or None)
    raise OutputInUse(f"output {out_dir}: its lock file keeps changing; another run is starting or ending there")


def claim_output(out_dir: str, overwrite: bool = False) -> OutputClaim:
    """Checks ``out_dir`` may be written, marks it as pilewright's and locks it for this run.

    Raises ``OutputError`` (one line) when the folder is refused or cannot be created or written, and
    ``OutputInUse`` when another live run holds it. Nothing is written when it raises for a refusal.
    Remote folders (``scheme://``) are returned unclaimed.
    """
    if "://" in out_dir:
        return OutputClaim(out_dir)
    why = refusal(out_dir, overwrite)
    if why is not None:
        raise OutputError(why)
    try:
        os.makedirs(out_dir, exist_ok=True)
        marker = os.path.join(out_dir, layout.MARKER)
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as f:
                f.write(MARKER_TEXT)
        return _lock(out_dir, os.path.join(out_dir, layout.LOCK))
    except OutputError:
        raise
    except OSError as e:
        what = e.strerror or type(e).__name__
        raise OutputError(f"output {out_dir}: cannot be created or written ({what}); choose another --output "
                          f"(or run.output)") from None
