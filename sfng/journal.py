"""Write-ahead journal and lock of an ingest, so that a rerun after kill -9 can finish its work.

The journal is a JSON-lines file under the store's ``.sfng/journal/``; every record is written
with one ``write`` before the step it announces, so after kill -9 the file says what was under
way (the ``begin`` record is also fsynced).  After a power cut records may be missing or the
last line torn (ignored): ingest does not depend on them for correctness, because the rerun's
plan compares every target with its source and repairs the manifest.  The lock is an ``flock`` on a file
under ``.sfng/locks/``: the kernel drops it when the process dies, so a killed ingest never
leaves a stale lock behind.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .errors import SfngError
from .fsutil import fsync_dir

STATE_DIR = ".sfng"


def state_dir(store_root, *parts) -> Path:
    p = Path(store_root, STATE_DIR, *parts)
    p.mkdir(parents=True, exist_ok=True)
    return p


class Lock:
    """An exclusive, non-blocking ``flock`` on ``path``; raises SfngError when already held."""

    def __init__(self, path, what: str):
        self.path, self.what, self.fd = Path(path), what, None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise SfngError(f"{self.what} is locked by another sfng process ({self.path}); "
                            f"wait for it to finish") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False


class Journal:
    """Append-only JSON-lines journal at ``path``."""

    def __init__(self, path):
        self.path = Path(path)
        self._fd = None

    def open(self, **header) -> "Journal":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        if new:
            fsync_dir(self.path.parent)
        self.record("begin", sync=True, pid=os.getpid(), **header)
        return self

    def record(self, op: str, *, sync: bool = False, **fields) -> None:
        """Append one record.  A ``write`` survives kill -9 as soon as it returns (the kernel holds
        it); ``sync`` also fsyncs, for records that must survive a power cut."""
        line = json.dumps({"op": op, "t": round(time.time(), 3), **fields}, default=str) + "\n"
        os.write(self._fd, line.encode("utf-8", errors="surrogateescape"))
        if sync:
            os.fsync(self._fd)

    def close(self, remove: bool = True) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if remove:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)

    @staticmethod
    def read(path) -> list[dict]:
        """The records of a journal; a torn or unreadable line is skipped."""
        out = []
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "op" in rec:
                out.append(rec)
        return out
