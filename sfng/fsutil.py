"""Crash-safe file writing: never overwrite, never leave a half-written file under its final name.

Every write in the store goes through here: data are written to a temporary name in the
destination folder (same file system, so the final ``rename`` is atomic), fsynced, checked,
then renamed.  A kill -9 at any point leaves either no file or a complete one under the
final name; stray temporaries carry the :data:`TMP_PREFIX` so that a rerun can clean them.

Temporary names are ``.sfng-tmp-<pid>-<random><suffix>``: the writer's process id says whose
it is, so that :func:`remove_stale_temporaries` removes only those of dead processes (or, for a
caller holding the folder's lock, every one).  Landed content is made read-only
(:func:`make_read_only`, ``chmod a-w`` as git-annex does): nothing edits a store file in place,
a writer makes a new file and renames it.  :func:`os_error_message` words the OS errors a writer
meets (permission denied, read-only file system, full disk, file-size limit) for people, and
:func:`fault_point` is the test-only kill hook of the fault-injection suite (``tests/test_faults.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from pathlib import Path

# hashlib and uuid are imported where used: `sfng find` (which imports this module through
# sfng.store) needs neither, and they cost it ~6 ms of its ~0.2 s start.

#: Prefix of every temporary file sfng writes; crawlers skip these names.
TMP_PREFIX = ".sfng-tmp-"
CHUNK = 4 * 1024 * 1024


def sha256_file(path, chunk=CHUNK) -> str:
    """Hex SHA-256 of a file's bytes."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path) -> None:
    """Flush a folder's entry table so that a rename in it survives a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would race with other threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


_UMASK = _umask()


def temp_path(folder, suffix: str = "") -> Path:
    """A new temporary name in ``folder``: ``.sfng-tmp-<pid>-<random><suffix>`` (not created)."""
    import uuid

    return Path(folder) / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def _temp_in(folder: Path):
    """Create a new temporary file in ``folder``; ``(fd, path)``.  Mode 0666 less the umask (a
    store file must be readable like any file the user creates, not mkstemp's 0600)."""
    for _ in range(100):
        tmp = temp_path(folder)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: cannot find a free temporary name")


def temp_owner(name: str) -> int | None:
    """The process id in a temporary file's name: ``.sfng-tmp-<pid>-...`` (or, the index build's,
    ``.sfng-tmp-index-<name>-<pid>``); None for a name that carries none."""
    if not name.startswith(TMP_PREFIX):
        return None
    rest = name[len(TMP_PREFIX):]
    head = rest.split("-", 1)[0]
    if head.isdigit() and len(head) < 10:
        return int(head)
    tail = rest.rsplit("-", 1)[-1]
    if rest.startswith("index-") and tail.isdigit() and len(tail) < 10:
        return int(tail)
    return None


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running (on this machine)?"""
    return _alive(pid)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


#: A temporary whose name carries no process id is stale after this many seconds.
STALE_AFTER = 3600.0


def is_stale_temporary(path, *, now: float | None = None) -> bool:
    """Is ``path`` a temporary file no live sfng process is writing?  Its process is dead, or
    (a name without a process id) it has not changed for :data:`STALE_AFTER` seconds."""
    path = Path(path)
    if not path.name.startswith(TMP_PREFIX):
        return False
    pid = temp_owner(path.name)
    if pid is not None:
        return pid != os.getpid() and not _alive(pid)
    try:
        age = (now or time.time()) - os.lstat(path).st_mtime
    except OSError:
        return False
    return age > STALE_AFTER


def remove_stale_temporaries(folder, *, owned: bool = False) -> list[Path]:
    """Remove the temporaries left in ``folder`` by killed writers; returns those removed.

    ``owned``: the caller holds the lock of every writer of this folder, so every temporary in it
    is left over (except this process's own).  Otherwise only :func:`is_stale_temporary` ones go.
    """
    folder = Path(folder)
    out = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TMP_PREFIX)]
    except OSError:
        return out
    me = os.getpid()
    for name in sorted(names):
        p = folder / name
        if owned:
            if temp_owner(name) == me:
                continue
        elif not is_stale_temporary(p):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                continue
            p.unlink()
            out.append(p)
        except FileNotFoundError:
            continue
        except OSError:
            continue
    return out


def make_read_only(path) -> None:
    """``chmod a-w`` a landed file (never a link, never the folder)."""
    st = os.lstat(path)
    import stat as _stat

    if _stat.S_ISREG(st.st_mode) and st.st_mode & 0o222:
        os.chmod(path, _stat.S_IMODE(st.st_mode) & ~0o222)


def _fchmod_read_only(fd: int) -> None:
    import stat as _stat

    mode = _stat.S_IMODE(os.fstat(fd).st_mode)
    os.fchmod(fd, mode & ~0o222)


def is_writable_mode(mode: int) -> bool:
    return bool(mode & 0o222)


# -- errors for people -----------------------------------------------------------------------

#: The errno values of "cannot write here": each becomes one clear message, never a traceback.
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                          errno.EFBIG})


def os_error_message(exc: OSError, path=None) -> str:
    """One line for people about an OS error while writing ``path`` (default: the error's file)."""
    where = path if path is not None else (exc.filename or "")
    where = f"{where}: " if where else ""
    e = exc.errno
    if e == errno.EROFS:
        return (f"{where}read-only file system; nothing was written (remount the store read-write, "
                f"or work on a writable copy)")
    if e in (errno.EACCES, errno.EPERM):
        return f"{where}permission denied; nothing was written (check who owns it and its mode)"
    if e == errno.ENOSPC:
        return f"{where}no space left on the device; nothing was written under its name (free space and rerun)"
    if e == errno.EDQUOT:
        return f"{where}disk quota exceeded; nothing was written under its name (rerun when there is room)"
    if e == errno.EFBIG:
        return (f"{where}file too large for the file system or the file-size limit (ulimit -f); "
                f"nothing was written under its name")
    return f"{where}{exc.strerror or exc}"


# -- the test-only fault hook ----------------------------------------------------------------

#: Environment variables of the fault-injection suite (tests only; never set them otherwise):
#: ``SFNG_FAULT_KILL_AT=N`` makes the process SIGKILL itself at its N-th fault point (every journal
#: record and every step of the writers here), ``SFNG_FAULT_LOG=FILE`` appends ``N<TAB>step`` per
#: point (how many points a command has), ``SFNG_FAULT_DELAY=SECONDS`` sleeps at each (widens races).
FAULT_ENV = ("SFNG_FAULT_KILL_AT", "SFNG_FAULT_LOG", "SFNG_FAULT_DELAY")
_FAULT = {"pid": None, "n": 0}
_FAULT_GUARD = threading.Lock()


def fault_point(step: str) -> None:
    """A step of a writer: does nothing unless a ``SFNG_FAULT_*`` variable is set (tests)."""
    env = os.environ
    if not ("SFNG_FAULT_KILL_AT" in env or "SFNG_FAULT_LOG" in env or "SFNG_FAULT_DELAY" in env):
        return
    with _FAULT_GUARD:
        if _FAULT["pid"] != os.getpid():  # a forked child counts afresh
            _FAULT["pid"], _FAULT["n"] = os.getpid(), 0
        _FAULT["n"] += 1
        n = _FAULT["n"]
        log = env.get("SFNG_FAULT_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{n}\t{step}\n")
        delay = env.get("SFNG_FAULT_DELAY")
        if delay:
            time.sleep(float(delay))
        at = env.get("SFNG_FAULT_KILL_AT")
        if at and at.strip().isdigit() and n == int(at):
            import signal

            os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path, data: bytes, *, overwrite: bool = False, read_only: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises FileExistsError when ``path`` exists and ``overwrite`` is false.  ``read_only``: the
    file lands without write permission.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; sfng never overwrites a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(path.parent)
    with removing_on_error(tmp):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            if read_only:
                _fchmod_read_only(f.fileno())
        fault_point(f"write {path.name}: temporary written")
        place_temp(tmp, path, overwrite=overwrite)
    fsync_dir(path.parent)
    fault_point(f"write {path.name}: renamed")
    return path


def atomic_write_text(path, text: str, *, overwrite: bool = False, read_only: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite, read_only=read_only)


@contextlib.contextmanager
def removing_on_error(tmp: Path):
    """Remove the temporary file ``tmp`` if the block fails (also on Ctrl-C), then re-raise."""
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def place_temp(tmp: Path, path: Path, *, overwrite: bool = False) -> None:
    """Rename the finished temporary file ``tmp`` to ``path``: atomically replacing it with
    ``overwrite``, else failing with FileExistsError if ``path`` exists (even if it appeared
    meanwhile).  The caller fsyncs the folder."""
    if overwrite:
        os.replace(tmp, path)
    else:
        _link_no_clobber(tmp, path)


def _link_no_clobber(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` atomically, failing if ``path`` appeared meanwhile."""
    try:
        os.link(tmp, path)  # fails with FileExistsError instead of clobbering
    except (OSError, NotImplementedError) as exc:
        if isinstance(exc, FileExistsError):
            raise
        if path.exists():
            raise FileExistsError(f"{path} exists; sfng never overwrites a file") from exc
        os.rename(tmp, path)
        return
    tmp.unlink()


def copy_with_hash(src, dst, *, expected_sha256: str | None = None, overwrite: bool = False,
                   chunk: int = CHUNK, read_only: bool = False) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` safely, hashing in the same pass.

    The copy goes to a temporary file beside ``dst``, is fsynced, re-read to verify its
    SHA-256 against the one computed while reading ``src`` (and ``expected_sha256`` if given),
    then renamed into place (``read_only``: without write permission).  Returns
    ``(sha256 hex, size in bytes)``.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; sfng never overwrites a file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(dst.parent)
    import hashlib

    h = hashlib.sha256()
    size = 0
    with removing_on_error(tmp):
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while block := fin.read(chunk):
                h.update(block)
                fout.write(block)
                size += len(block)
            fout.flush()
            os.fsync(fout.fileno())
            if read_only:
                _fchmod_read_only(fout.fileno())
        digest = h.hexdigest()
        if expected_sha256 and digest != expected_sha256:
            raise OSError(f"{src}: checksum {digest} differs from the expected {expected_sha256}")
        written = sha256_file(tmp)
        if written != digest:
            raise OSError(f"{dst}: the written copy does not match its source (disk error?)")
        fault_point(f"copy {dst.name}: temporary written and verified")
        place_temp(tmp, dst, overwrite=overwrite)
    fsync_dir(dst.parent)
    fault_point(f"copy {dst.name}: renamed")
    return digest, size
