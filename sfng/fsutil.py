"""Crash-safe file writing: never overwrite, never leave a half-written file under its final name.

Every write in the store goes through here: data are written to a temporary name in the
destination folder (same file system, so the final ``rename`` is atomic), fsynced, checked,
then renamed.  A kill -9 at any point leaves either no file or a complete one under the
final name; stray temporaries carry the :data:`TMP_PREFIX` so that a rerun can clean them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

#: Prefix of every temporary file sfng writes; crawlers skip these names.
TMP_PREFIX = ".sfng-tmp-"
CHUNK = 4 * 1024 * 1024


def sha256_file(path, chunk=CHUNK) -> str:
    """Hex SHA-256 of a file's bytes."""
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


def _temp_in(folder: Path):
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    # mkstemp makes the file 0600; a store file must be readable like any file the user creates.
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, Path(name)


def atomic_write_bytes(path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises FileExistsError when ``path`` exists and ``overwrite`` is false.
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
        place_temp(tmp, path, overwrite=overwrite)
    fsync_dir(path.parent)
    return path


def atomic_write_text(path, text: str, *, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


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
                   chunk: int = CHUNK) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` safely, hashing in the same pass.

    The copy goes to a temporary file beside ``dst``, is fsynced, re-read to verify its
    SHA-256 against the one computed while reading ``src`` (and ``expected_sha256`` if given),
    then renamed into place.  Returns ``(sha256 hex, size in bytes)``.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; sfng never overwrites a file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(dst.parent)
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
        digest = h.hexdigest()
        if expected_sha256 and digest != expected_sha256:
            raise OSError(f"{src}: checksum {digest} differs from the expected {expected_sha256}")
        written = sha256_file(tmp)
        if written != digest:
            raise OSError(f"{dst}: the written copy does not match its source (disk error?)")
        place_temp(tmp, dst, overwrite=overwrite)
    fsync_dir(dst.parent)
    return digest, size
