"""Which store files a release may take: the security rules (:func:`store_file`) and the file
lists that name them (:func:`read_file_list`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import SfngError
from ..fsutil import TMP_PREFIX
from ..tarball import unsafe_reason
from .layout import RELEASE_TREES


def store_file(store, given) -> tuple[str, Path]:
    """Check one requested file and return ``(path relative to the store, real path)``.

    ``given`` is relative to the store root or absolute.  Refused with SfngError: a ``..``
    component, a path outside the store (also through a symbolic link), a file outside
    ``data/`` and ``derived/``, hidden or temporary names, anything but a regular file, a
    missing file, an unsafe name.
    """
    text = str(given).strip()
    if not text:
        raise SfngError("empty file name in the selection")
    if "\x00" in text:
        raise SfngError(f"{text!r}: NUL character in a file name")
    p = Path(text)
    if ".." in p.parts:
        raise SfngError(f"{text}: a path with '..' is never released; give the path relative to the store")
    root = store.root
    full = p if p.is_absolute() else root / p
    try:
        full.relative_to(root)
    except ValueError:
        raise SfngError(f"{text}: not inside the store {root}") from None
    if not os.path.lexists(full):
        raise SfngError(f"{text}: no such file in the store")
    real = Path(os.path.realpath(full))
    try:
        rel = real.relative_to(root).as_posix()
    except ValueError:
        raise SfngError(f"{text}: a symbolic link pointing outside the store (to {real}); releases "
                        f"never follow links out of the store") from None
    parts = rel.split("/")
    if parts[0] not in RELEASE_TREES or len(parts) < 3:
        raise SfngError(f"{text}: only files under data/<SURVEY>/ or derived/<...>/ are released "
                        f"(this is {rel})")
    if any(part.startswith(".") or part.startswith(TMP_PREFIX) for part in parts):
        raise SfngError(f"{text}: hidden or temporary file names are never released ({rel})")
    why = unsafe_reason(rel)
    if why:
        raise SfngError(f"{text}: unsafe name for a release: {why}")
    st = os.lstat(real)
    if not stat.S_ISREG(st.st_mode):
        raise SfngError(f"{text}: not a regular file (device, fifo or socket); not released")
    return rel, real


#: Largest --from-file list read (bytes): a million store paths; more (or /dev/zero) is refused.
MAX_FILE_LIST_BYTES = 64 << 20


def read_file_list(path) -> list[str]:
    """Paths listed one per line in ``path`` (``-`` for stdin); blank lines and ``#`` comments skipped.

    Reads at most :data:`MAX_FILE_LIST_BYTES` (+1) bytes, in blocks: a bigger list, a NUL byte
    (a binary file, ``/dev/zero``) or text that is not UTF-8 is refused with SfngError."""
    import sys

    name = "standard input" if str(path) == "-" else str(path)
    chunks, size = [], 0
    try:
        f = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
        try:
            while block := f.read(min(1 << 20, MAX_FILE_LIST_BYTES + 1 - size)):
                nul = block.find(b"\0")
                if nul >= 0:
                    raise SfngError(f"{name}: not a file list (a NUL byte at offset {size + nul}); "
                                    f"give one store path per line")
                chunks.append(block)
                size += len(block)
                if size > MAX_FILE_LIST_BYTES:
                    raise SfngError(f"{name}: the file list is larger than {MAX_FILE_LIST_BYTES} "
                                    f"bytes; split the release, or select with find options")
        finally:
            if f is not sys.stdin.buffer:
                f.close()
        text = b"".join(chunks).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SfngError(f"{name}: cannot read the file list: {exc}") from exc
    return [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
