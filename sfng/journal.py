"""Write-ahead journals and the one lock of sfng's writers, so that a rerun after kill -9 finishes
the job and two processes never write one table or tree at once.

The protocol every writer follows: plan (nothing written), take the lock, finish what a killed
run left (its journal), journal the intent, write under a temporary name in the target folder,
fsync, verify, no-clobber rename (``sfng.fsutil``), journal what landed, rewrite the manifest under
the same protocol, journal done (the journal is removed).  A rerun after a kill at any point reads
the journal, finishes or rolls back each step it announces, and removes the temporaries it owns.

A journal is a JSON-lines file under the store's ``.sfng/journal/``; every record is written
with one ``write`` before the step it announces, so after kill -9 the file says what was under
way (the ``begin`` record is also fsynced).  After a power cut records may be missing or the
last line torn (ignored): recovery checks every file it finishes against the hashes recorded.

:class:`Lock` is an ``flock`` on a file under ``.sfng/locks/``: the kernel drops it when the process
dies, so a killed writer never leaves a stale lock behind.  Non-blocking by default (a second
ingest of a survey fails at once, saying so); with ``wait=SECONDS`` it waits that long for the
other writer to finish (small read-modify-write tables such as ``tables/galaxies.ecsv``).

Test-only hook (``tests/test_faults.py``, ``make faults``): with ``SFNG_FAULT_KILL_AT=N`` in the
environment a process SIGKILLs itself at its N-th fault point; every journal record is one, and so
is every step of the writers of ``sfng.fsutil`` (see :func:`sfng.fsutil.fault_point`, also
``SFNG_FAULT_LOG`` and ``SFNG_FAULT_DELAY``).  Never set these outside tests.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .errors import SfngError
from .fsutil import WRITE_ERRNOS, fault_point, fsync_dir, os_error_message

__all__ = ["STATE_DIR", "Journal", "Lock", "fault_point", "journals", "state_dir"]

STATE_DIR = ".sfng"
#: How long a table writer (``galaxies set``) waits for another one by default, in seconds.
TABLE_WAIT = 60.0


def state_dir(store_root, *parts) -> Path:
    """``<store>/.sfng/<parts>``, created if needed (SfngError when the store is not writable)."""
    p = Path(store_root, STATE_DIR, *parts)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise SfngError(f"the store {store_root} cannot be written: "
                            f"{os_error_message(exc, p)}") from None
        raise
    return p


def journals(store_root) -> list[Path]:
    """The journals left in the store (each one a writer that did not finish)."""
    d = Path(store_root, STATE_DIR, "journal")
    try:
        return sorted(p for p in d.iterdir() if p.suffix == ".jsonl")
    except OSError:
        return []


#: Descriptors of the locks this process holds: a forked child (a worker of ``index build -j``)
#: closes its copies at once, so that a killed writer's orphaned workers never keep its lock.
_HELD: set = set()


def _forget_locks_in_child() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)  # not LOCK_UN: that would release the parent's lock too
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


class Lock:
    """An exclusive ``flock`` on ``path``: non-blocking (raises SfngError when already held), or
    waiting up to ``wait`` seconds for the holder to finish.  Not inherited by forked children."""

    def __init__(self, path, what: str, *, wait: float = 0.0):
        self.path, self.what, self.wait, self.fd = Path(path), what, float(wait or 0.0), None

    def __enter__(self):
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS:
                raise SfngError(f"{self.what}: cannot take its lock: {os_error_message(exc, self.path)}") from None
            raise
        deadline = time.monotonic() + self.wait
        pause = 0.005
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    os.close(self.fd)
                    self.fd = None
                    waited = f" (waited {self.wait:g} s)" if self.wait else ""
                    raise SfngError(f"{self.what} is locked by another sfng process{holder} "
                                    f"({self.path}){waited}; wait for it to finish") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        _HELD.add(self.fd)
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is a courtesy for people; the flock is the lock
        return self

    def _holder(self) -> str:
        try:
            pid = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""

    def held_elsewhere(self) -> bool:
        """Is the lock held by another process right now?  (Takes and drops it when free; reads
        only, so that it also answers on a read-only store.)"""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False  # never taken (or unreadable): nobody holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
        return False

    def __exit__(self, *exc):
        if self.fd is not None:
            _HELD.discard(self.fd)
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
        fault_point(f"journal {self.path.stem}: {op}")

    def done(self) -> None:
        """Journal done: the job finished, the journal is removed (nothing left to recover)."""
        self.record("done")
        self.close(remove=True)

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
