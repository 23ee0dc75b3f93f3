"""Verifying a release folder or tarball against its ``MANIFEST.sha256`` (:func:`verify`): never
following a link, never extracting a tarball."""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SfngError
from .checksums import parse_manifest
from .layout import (
    CHUNK,
    INDEX,
    MANIFEST,
    PARTIAL_SUFFIX,
    PROV_SUFFIX,
    RELEASE_TREES,
    SENTINEL,
    release_dir,
    text_value,
)


@dataclass
class VerifyReport:
    """Result of :func:`verify`; ``ok`` only when every checksum matches and nothing is odd."""

    target: str
    kind: str = "folder"        # folder or tarball
    n_files: int = 0
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unsafe: list = field(default_factory=list)    # "name: why"
    problems: list = field(default_factory=list)  # anything else (incomplete, bad manifest...)
    incomplete: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.unsafe or self.problems
                    or self.incomplete)

    def as_dict(self):
        return {"target": self.target, "kind": self.kind, "ok": self.ok, "n_files": self.n_files,
                "incomplete": self.incomplete, "missing": self.missing, "extra": self.extra,
                "changed": self.changed, "unsafe": self.unsafe, "problems": self.problems}


def resolve_target(store, target) -> tuple[str, Path]:
    """``("folder"|"tarball", path)`` for a release name or path."""
    p = Path(str(target))
    if store is not None and "/" not in str(target) and not p.exists():
        rdir = release_dir(store)
        for cand, kind in ((rdir / str(target), "folder"), (rdir / f".{target}{PARTIAL_SUFFIX}", "folder"),
                           (rdir / f"{target}.tar.gz", "tarball")):
            if os.path.lexists(cand):
                return kind, cand
        raise SfngError(f"no release {target!r} in {rdir} (see `sfng release list`)")
    if not os.path.lexists(p):
        raise SfngError(f"{p}: no such release folder or tarball")
    if p.is_symlink():
        raise SfngError(f"{p}: a symbolic link; give the release folder or tarball itself")
    return ("folder" if p.is_dir() else "tarball"), p


def verify(target, store=None, progress=None) -> VerifyReport:
    """Check a release folder or tarball against its ``MANIFEST.sha256``.
    ``progress(done, total, path)`` is called after each file of a folder is hashed (a tarball is
    one stream: no per-file progress).

    Reports missing, extra and changed files, unsafe entries (links, devices, ``..`` or absolute
    names) and an incomplete release.  Never follows a link; a tarball is read as a stream and
    hashed member by member, never extracted.
    """
    kind, path = resolve_target(store, target)
    if kind == "folder":
        return _verify_folder(path, progress)
    return _verify_tarball(path)


def _walk(folder: Path):
    """(regular files {rel: path}, unsafe ["rel: why"]) without following links."""
    files, unsafe = {}, []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(folder).as_posix()
        for name in sorted(dirnames + filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(base / name)
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISREG(st.st_mode):
                files[rel] = base / name
            else:
                what = "symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                unsafe.append(f"{rel}: {what} (not followed)")
    return files, unsafe


def _check_entries(rep: VerifyReport, manifest_text: str, where: str, present: dict, digest,
                   progress=None) -> dict:
    """Check a release's manifest against what the release holds; returns its entries.

    ``present`` maps each release-relative path found to something ``digest`` turns into its
    SHA-256 (a folder's file, hashed now; a tar member's hash, taken while reading the tarball).
    Missing, changed and extra paths go into ``rep``.
    """
    entries, probs = parse_manifest(manifest_text, where)
    rep.problems += probs
    rep.n_files = len(entries)
    for k, (rel, want) in enumerate(sorted(entries.items()), start=1):
        if rel not in present:
            rep.missing.append(rel)
        elif digest(present[rel]) != want:
            rep.changed.append(rel)
        if progress is not None:
            progress(k, len(entries), rel)
    rep.extra = sorted(r for r in present if r not in entries and r != MANIFEST)
    return entries


def _verify_folder(folder: Path, progress=None) -> VerifyReport:
    rep = VerifyReport(target=str(folder), kind="folder")
    if folder.name.endswith(PARTIAL_SUFFIX) or os.path.lexists(folder / SENTINEL):
        rep.incomplete = True
        rep.problems.append(f"{folder}: an incomplete release (its bundle was interrupted); rerun the "
                            f"same `sfng release bundle` to finish it, or `sfng release clean`")
        return rep
    files, rep.unsafe = _walk(folder)
    if MANIFEST not in files:
        rep.problems.append(f"{folder}: no {MANIFEST}; not a release (or a damaged one)")
        return rep
    entries = _check_entries(rep, files[MANIFEST].read_text(encoding="utf-8", errors="replace"),
                             f"{folder.name}/{MANIFEST}", files, _hash_nofollow, progress)
    if INDEX in files and INDEX in entries and not rep.changed:
        rep.problems += _index_coverage(files[INDEX], entries)
    return rep


def _hash_nofollow(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        while block := f.read(4 * CHUNK):
            h.update(block)
    return h.hexdigest()


def _index_coverage(index_path: Path, entries: dict) -> list[str]:
    """The release index must describe exactly the released data files (READMEs and the
    provenance records its rows name in ``prov`` are documents, not data)."""
    from ..index.io import read_index

    try:
        files, _, _ = read_index(index_path, columns=["path", "prov"], galaxies=False)
    except SfngError as exc:
        return [str(exc)]
    in_index = {text_value(p) for p in files["path"]}
    # a record is a .prov.json a row names, never a file the index describes as data
    records = {posixpath.normpath(text_value(p)) for p in files["prov"] if text_value(p)}
    records = {p for p in records if p.endswith(PROV_SUFFIX)} - in_index
    data = {p for p in entries if p.split("/")[0] in RELEASE_TREES and not p.endswith("_README.txt")
            and p not in records}
    out = []
    for p in sorted(in_index - data):
        out.append(f"{INDEX} lists {p}, which is not in the release")
    for p in sorted(data - in_index):
        out.append(f"{INDEX} does not describe {p}")
    return out


def _verify_tarball(path: Path) -> VerifyReport:
    import tempfile

    from ..tarball import iter_members

    rep = VerifyReport(target=str(path), kind="tarball")
    side = path.with_name(path.name + ".sha256")
    if side.is_file() and not side.is_symlink():
        want = side.read_text(encoding="utf-8", errors="replace").split()[:1]
        got = _hash_nofollow(path)
        if not want or want[0].lower() != got:
            rep.problems.append(f"{path.name}: checksum {got} differs from {side.name}")
    top = None
    hashes, seen = {}, set()
    manifest_bytes = index_bytes = None
    try:
        members = iter_members(path, keep=KeepManifestAndIndex())
        for m in members:
            if m.unsafe:
                rep.unsafe.append(f"{m.name}: {m.unsafe}")
                continue
            if m.kind not in ("file", "dir"):
                rep.unsafe.append(f"{m.name}: {m.kind} member (a release holds only files and folders)")
                continue
            first, _, rest = m.name.rstrip("/").partition("/")
            top = top or first
            if first != top:
                rep.unsafe.append(f"{m.name}: outside the release folder {top}/")
                continue
            if m.name in seen:
                rep.unsafe.append(f"{m.name}: member given twice")
                continue
            seen.add(m.name)
            if m.kind == "file":
                if not rest:
                    rep.unsafe.append(f"{m.name}: a file at the top level (a release is one folder)")
                    continue
                hashes[rest] = m.sha256
                if rest == MANIFEST:
                    manifest_bytes = m.data
                elif rest == INDEX:
                    index_bytes = m.data
                elif rest == SENTINEL:
                    rep.incomplete = True
    except SfngError as exc:
        rep.problems.append(str(exc))
        return rep
    if manifest_bytes is None:
        rep.problems.append(f"{path.name}: no {MANIFEST} in the tarball; not a release")
        return rep
    entries = _check_entries(rep, manifest_bytes.decode("utf-8", "replace"), f"{top}/{MANIFEST}",
                             hashes, lambda sha256: sha256)
    if index_bytes is not None and INDEX in entries and INDEX not in rep.changed:
        with tempfile.TemporaryDirectory(prefix="sfng-verify-") as tmp:
            ip = Path(tmp) / INDEX
            ip.write_bytes(index_bytes)
            rep.problems += _index_coverage(ip, entries)
    return rep


class KeepManifestAndIndex:
    """``keep`` for :func:`sfng.tarball.iter_members`: the manifest and index of whatever the top folder is."""

    def __contains__(self, name):
        rest = name.partition("/")[2]
        return rest in (MANIFEST, INDEX)
