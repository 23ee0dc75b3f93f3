"""Reproducible, safe tarballs: write one from a folder, and read one without extracting it.

Writing: members sorted by name, one fixed modification time, uid/gid 0 with empty owner
names, modes normalised (0755 folders, 0644 files), only regular files and folders, gzip
with ``mtime=0`` and no file name in its header.  The same folder therefore always gives a
byte-identical tarball (the property a published checksum needs).

Reading: :func:`iter_members` walks a tarball as a stream and hands back each regular file's
SHA-256 computed from the stream; nothing is ever written to disk, so a crafted tarball
(symbolic link, ``../`` or absolute member, device) cannot place a file anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import SfngError

DIR_MODE = 0o755
FILE_MODE = 0o644
CHUNK = 4 * 1024 * 1024


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` (a ``/``-separated relative path) is not a safe member name, or None.

    Safe: relative, no empty, ``.`` or ``..`` component, no backslash, NUL or control
    character, no component starting with ``-``.
    """
    if not name:
        return "empty name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name"
    parts = name.rstrip("/").split("/")
    for part in parts:
        if part in ("", "."):
            return "empty or '.' path component"
        if part == "..":
            return "'..' path component (would escape the folder)"
        if part.startswith("-"):
            return f"component {part!r} starts with '-'"
        if any(unicodedata.category(c) == "Cc" for c in part):
            return "control character in name"
    return None


def write_tarball(folder, out, arcname: str, mtime: int = 0, compresslevel: int = 6,
                  exclude=()) -> str:
    """Write ``folder`` as a gzipped tarball ``out`` whose members sit under ``arcname/``.

    Refuses (SfngError) a symbolic link, device, socket or fifo anywhere in ``folder`` and any
    unsafe name.  ``out`` is written in place (callers write to a temporary name and rename).
    ``mtime`` is the modification time (s since 1970) given to every member; top-level names in
    ``exclude`` are left out.
    Returns the SHA-256 (hex) of the tarball's bytes.
    """
    folder = Path(folder)
    why = unsafe_reason(arcname)
    if why or "/" in arcname:
        raise SfngError(f"{arcname!r}: not a safe top-level name for a tarball ({why or 'contains /'})")
    entries = []  # (member name, absolute path, is_dir)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in exclude]
            filenames = [f for f in filenames if f not in exclude]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            member = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                entries.append((member, path, True))
            elif stat.S_ISREG(st.st_mode):
                entries.append((member, path, False))
            else:
                raise SfngError(f"{path}: not a regular file or folder (symbolic link, device, fifo "
                                f"or socket); a release tarball holds only files and folders")
            why = unsafe_reason(member)
            if why:
                raise SfngError(f"{path}: unsafe name for a tarball member: {why}")
    entries.sort(key=lambda e: e[0].encode("utf-8"))

    h = hashlib.sha256()

    class _Hashing:
        """File wrapper hashing what is written (the tarball's checksum in the same pass)."""

        def __init__(self, f):
            self.f = f

        def write(self, b):
            h.update(b)
            return self.f.write(b)

        def flush(self):
            self.f.flush()

    with open(out, "wb") as raw:
        sink = _Hashing(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0,
                           compresslevel=compresslevel) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_info(arcname + "/", 0, mtime, True))
                for member, path, is_dir in entries:
                    name = f"{arcname}/{member}"
                    if is_dir:
                        tar.addfile(_info(name + "/", 0, mtime, True))
                        continue
                    with open(path, "rb") as f:
                        size = os.fstat(f.fileno()).st_size
                        tar.addfile(_info(name, size, mtime, False), f)
        raw.flush()
        os.fsync(raw.fileno())
    return h.hexdigest()


def _info(name: str, size: int, mtime: int, is_dir: bool) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name.rstrip("/") if is_dir else name)
    ti.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    ti.size = 0 if is_dir else size
    ti.mode = DIR_MODE if is_dir else FILE_MODE
    ti.mtime = int(mtime)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


@dataclass
class Member:
    """One tarball member as seen by :func:`iter_members`.

    Attributes
    ----------
    name : str
        Member name as stored.
    kind : str
        ``"file"``, ``"dir"``, ``"symlink"``, ``"hardlink"``, ``"device"``, ``"fifo"`` or ``"other"``.
    size : int
        Bytes (files only).
    sha256 : str or None
        Hex SHA-256 of a regular file's content, computed from the stream.
    unsafe : str or None
        Why the name is unsafe, or None.
    data : bytes or None
        The content, kept only for members named in ``keep`` (small text files such as the manifest).
    """

    name: str
    kind: str
    size: int = 0
    sha256: str | None = None
    unsafe: str | None = None
    data: bytes | None = None


def _kind(ti: tarfile.TarInfo) -> str:
    if ti.isreg():
        return "file"
    if ti.isdir():
        return "dir"
    if ti.issym():
        return "symlink"
    if ti.islnk():
        return "hardlink"
    if ti.ischr() or ti.isblk():
        return "device"
    if ti.isfifo():
        return "fifo"
    return "other"


def iter_members(path, keep=(), keep_limit: int = 64 * 1024 * 1024):
    """Yield a :class:`Member` for every member of the tarball at ``path``, without extracting.

    Regular files are hashed straight from the (decompressed) stream.  Members whose name is in
    ``keep`` (and whose size is at most ``keep_limit`` bytes) also carry their bytes.  Raises
    SfngError when the file is not a readable tarball.
    """
    try:
        tar = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SfngError(f"{path}: not a readable tarball: {exc}") from exc
    try:
        with tar:
            for ti in tar:
                kind = _kind(ti)
                m = Member(name=ti.name, kind=kind, size=ti.size if kind == "file" else 0,
                           unsafe=unsafe_reason(ti.name))
                if kind == "file":
                    f = tar.extractfile(ti)
                    h = hashlib.sha256()
                    buf = [] if (ti.name in keep and ti.size <= keep_limit) else None
                    while block := f.read(CHUNK):
                        h.update(block)
                        if buf is not None:
                            buf.append(block)
                    m.sha256 = h.hexdigest()
                    if buf is not None:
                        m.data = b"".join(buf)
                yield m
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise SfngError(f"{path}: damaged or truncated tarball: {exc}") from exc

