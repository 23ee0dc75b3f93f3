"""Per-folder manifest of landed files: ``MANIFEST.sha256``, checkable with ``sha256sum -c``.

Every folder ingest lands files in (``data/<SURVEY>/``, ``derived/<SURVEY>/``,
``uncalibrated/<SURVEY>/``, ``docs/<SURVEY>/``, ``tables/<SURVEY>/``) holds one::

    # sfng manifest: SHA-256 of the files landed in this folder; check with `sha256sum -c MANIFEST.sha256`
    #sfng {"size": 1234, "landed": "2026-11-23T18:30:00Z"}
    9f86d08...  MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS

Hash lines are exactly what ``sha256sum`` writes (hex digest, two spaces, file name relative to
the folder; names holding ``\\`` or a newline use its ``\\``-escaped form), so
``cd data/THINGS && sha256sum -c MANIFEST.sha256`` verifies the folder.  GNU ``sha256sum``
skips lines starting with ``#``; sfng uses them to record, for the hash line that follows,
the size in bytes, when it landed, the ``galaxy`` (NED name) it was stored under and, for files
of galaxy pairs, the ``companions`` (NED names) that ``sfng links bygalaxy`` links it for too.  Survey READMEs are not listed: people edit them.

Readers: :func:`read_manifest` (the index reads ``sha256`` and ``size`` from it).  Writers:
:func:`append` (one ``write`` + fsync per batch; ingest holds the survey lock) and
:func:`rewrite` (atomic replacement, used to repair after a crash).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .fsutil import atomic_write_bytes, fault_point, fsync_dir

MANIFEST_NAME = "MANIFEST.sha256"
HEADER = ("# sfng manifest: SHA-256 of the files landed in this folder; "
          "check with `sha256sum -c MANIFEST.sha256`\n")
_META = "#sfng "
_HASH_LINE = re.compile(r"^(\\?)([0-9a-f]{64}) [ *](.+)$")


@dataclass(frozen=True)
class Entry:
    """One landed file.

    Attributes
    ----------
    name : str
        File name, relative to the manifest's folder.
    sha256 : str
        Hex SHA-256 of its bytes.
    size : int or None
        Size in bytes (None when the line came without sfng's comment, e.g. written by hand).
    landed : str or None
        ISO 8601 UTC time it landed.
    companions : tuple of str
        NED names of the other galaxies of a pair the file also shows.
    galaxy : str or None
        NED name the file was stored under (None when ingest did not rename it).
    """

    name: str
    sha256: str
    size: int | None = None
    landed: str | None = None
    companions: tuple = field(default_factory=tuple)
    galaxy: str | None = None

    def as_dict(self):
        return {"name": self.name, "sha256": self.sha256, "size": self.size, "landed": self.landed,
                "galaxy": self.galaxy, "companions": list(self.companions)}


def manifest_path(folder) -> Path:
    return Path(folder) / MANIFEST_NAME


def _escape(name: str) -> tuple[str, str]:
    """``(prefix, name)`` as GNU sha256sum writes them."""
    if "\\" in name or "\n" in name or "\r" in name:
        return "\\", name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "", name


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c == "\\" and i + 1 < len(name):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(name[i + 1], name[i + 1]))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def format_entry(entry: Entry) -> str:
    """The two manifest lines of ``entry`` (metadata comment, then the sha256sum line)."""
    meta = {"size": entry.size, "landed": entry.landed}
    if entry.galaxy:
        meta["galaxy"] = entry.galaxy
    if entry.companions:
        meta["companions"] = list(entry.companions)
    prefix, name = _escape(entry.name)
    return f"{_META}{json.dumps(meta, separators=(', ', ': '))}\n{prefix}{entry.sha256}  {name}\n"


def parse(text: str) -> tuple[dict, list[str]]:
    """``({name: Entry}, problems)`` of manifest text; a later line for a name wins."""
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    meta: dict = {}
    lines = text.split("\n")  # not splitlines: \x0c is a name character
    if lines[-1]:  # no newline at the end: a write torn by a power cut
        problems.append(f"line {len(lines)}: incomplete last line (ignored)")
    lines.pop()
    for n, line in enumerate(lines, start=1):
        if line.startswith(_META):
            try:
                meta = json.loads(line[len(_META):])
                if not isinstance(meta, dict):
                    raise ValueError("not a mapping")
            except ValueError:
                problems.append(f"line {n}: unreadable sfng metadata comment")
                meta = {}
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = _HASH_LINE.match(line)
        if not m:
            problems.append(f"line {n}: not a sha256sum line: {line[:80]!r}")
            meta = {}
            continue
        name = _unescape(m.group(3)) if m.group(1) else m.group(3)
        size = meta.get("size")
        entries[name] = Entry(name=name, sha256=m.group(2),
                              size=size if isinstance(size, int) else None,
                              landed=meta.get("landed"),
                              companions=tuple(meta.get("companions") or ()),
                              galaxy=meta.get("galaxy") if isinstance(meta.get("galaxy"), str) else None)
        meta = {}
    return entries, problems


def read_manifest(folder) -> dict:
    """``{file name: Entry}`` of the manifest in ``folder`` (empty when there is none).

    Malformed lines (a crash cannot make one, but hands can) are skipped; use :func:`parse` to
    see them.
    """
    path = manifest_path(folder)
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return {}
    return parse(text)[0]


def append(folder, entries, *, sync: bool = True) -> None:
    """Append ``entries`` to the folder's manifest in one write, then fsync (unless ``sync`` is
    false: the caller fsyncs later with :func:`sync_manifest`).

    The caller holds the survey lock; a write of a few lines to a local file is not torn by
    kill -9, and a torn tail after a power cut is skipped by the reader.
    """
    entries = list(entries)
    if not entries:
        return
    path = manifest_path(folder)
    new = not path.exists()
    if not new and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:  # a write cut by a power failure: drop the partial line before appending
            rewrite(folder, parse(path.read_text(encoding="utf-8", errors="surrogateescape"))[0])
    data = (HEADER if new else "") + "".join(format_entry(e) for e in entries)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data.encode("utf-8", errors="surrogateescape"))
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if new and sync:
        fsync_dir(path.parent)
    fault_point(f"manifest {Path(folder).name}: appended")


def sync_manifest(folder) -> None:
    """fsync the folder's manifest and the folder (after unsynced :func:`append` calls)."""
    path = manifest_path(folder)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def rewrite(folder, entries: dict) -> None:
    """Replace the folder's manifest atomically with ``entries`` (sorted by name): a temporary name
    in the folder, fsync, rename (``sfng.fsutil``), so a kill leaves the old or the new one."""
    text = HEADER + "".join(format_entry(entries[k]) for k in sorted(entries))
    # as append() writes: a file name that is not UTF-8 keeps its bytes (surrogate escapes)
    atomic_write_bytes(manifest_path(folder), text.encode("utf-8", errors="surrogateescape"),
                       overwrite=True)


def stage(folder, entries: dict) -> Path:
    """Write what :func:`rewrite` would write to a temporary in the folder (fsynced); put it in
    place with :func:`commit`.  A writer stages the manifest before it replaces a file, so that a
    full disk stops it before anything changed (a rename needs no room)."""
    from .fsutil import _temp_in, removing_on_error

    text = HEADER + "".join(format_entry(entries[k]) for k in sorted(entries))
    fd, tmp = _temp_in(Path(folder))
    with removing_on_error(tmp):
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8", errors="surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
    fault_point(f"manifest {Path(folder).name}: staged")
    return tmp


def commit(folder, staged: Path) -> None:
    """Replace the folder's manifest with the one :func:`stage` wrote (atomic rename)."""
    os.replace(staged, manifest_path(folder))
    fsync_dir(folder)
    fault_point(f"manifest {Path(folder).name}: committed")


def set_bytes(folder, name: str, sha256: str, size: int) -> bool:
    """Record new bytes for ``name`` (landing time, galaxy and companions kept), rewriting the
    manifest only when it says otherwise; False when the manifest does not list ``name``."""
    from dataclasses import replace

    entries = read_manifest(folder)
    old = entries.get(name)
    if old is None:
        return False
    if old.sha256 != sha256 or old.size != size:
        entries[name] = replace(old, sha256=sha256, size=size)
        rewrite(folder, entries)
    return True


def verify(folder) -> list[tuple[str, str]]:
    """``[(name, problem)]`` for entries whose file is missing or differs (re-hashes every file)."""
    from .fsutil import sha256_file

    out = []
    folder = Path(folder)
    for name, e in read_manifest(folder).items():
        p = folder / name
        if not p.is_file():
            out.append((name, "missing"))
        elif e.size is not None and p.stat().st_size != e.size:
            out.append((name, f"size {p.stat().st_size} differs from the recorded {e.size}"))
        elif sha256_file(p) != e.sha256:
            out.append((name, "SHA-256 differs from the recorded one"))
    return out
