"""The releases of a store: :func:`list_releases`, :func:`diff` between two, :func:`clean` of an
interrupted one."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import SfngError
from .checksums import compare_manifests, parse_manifest, read_manifest
from .documents import read_record
from .layout import (
    MANIFEST,
    PARTIAL_SUFFIX,
    SENTINEL,
    ReleaseLock,
    check_name,
    journal_path,
    partial_dir,
    release_dir,
)
from .tarballs import remove_tmp_tar
from .verification import KeepManifestAndIndex, resolve_target


@dataclass
class ReleaseInfo:
    name: str
    path: Path
    complete: bool
    created: str = ""
    version: int = 1
    parent: str | None = None
    n_files: int = 0
    bytes: int = 0
    tarball: str | None = None
    command: str = ""

    def as_dict(self):
        return {"name": self.name, "path": str(self.path), "complete": self.complete,
                "created": self.created, "version": self.version, "parent": self.parent,
                "n_files": self.n_files, "bytes": self.bytes, "tarball": self.tarball,
                "command": self.command}


def list_releases(store) -> list[ReleaseInfo]:
    """Every release under ``release/``, complete ones and interrupted (``.NAME.partial``) ones."""
    rdir = release_dir(store)
    out = []
    if not rdir.is_dir():
        return out
    for p in sorted(rdir.iterdir()):
        if not p.is_dir() or p.is_symlink():
            continue
        if p.name.startswith("."):
            if p.name.endswith(PARTIAL_SUFFIX):
                out.append(ReleaseInfo(name=p.name[1:-len(PARTIAL_SUFFIX)], path=p, complete=False))
            continue
        rec = read_record(p)
        tar = rdir / f"{p.name}.tar.gz"
        out.append(ReleaseInfo(name=p.name, path=p, complete=True, created=rec.get("created", ""),
                               version=rec.get("version", 1), parent=rec.get("parent"),
                               n_files=rec.get("n_files", 0), bytes=rec.get("bytes", 0),
                               tarball=tar.name if tar.is_file() else None, command=rec.get("command", "")))
    return out


def clean(store, name: str, dry_run: bool = False) -> Path | None:
    """Remove the incomplete release ``release/.NAME.partial`` (never a complete release)."""
    check_name(name)
    part = partial_dir(store, name)
    if not os.path.lexists(part):
        if (release_dir(store) / name).is_dir():
            raise SfngError(f"release/{name} is complete; releases are immutable and `clean` only removes "
                            f"incomplete ones")
        return None
    if not dry_run:
        with ReleaseLock(release_dir(store)):
            if part.is_dir() and not part.is_symlink():
                shutil.rmtree(part)
            else:
                os.unlink(part)
            remove_tmp_tar(release_dir(store), name)
            journal_path(store, name).unlink(missing_ok=True)
    return part


def _manifest_of(store, target) -> dict:
    kind, path = resolve_target(store, target)
    if kind == "folder":
        if path.name.endswith(PARTIAL_SUFFIX) or os.path.lexists(path / SENTINEL):
            raise SfngError(f"{path}: an incomplete release; finish it first")
        return read_manifest(path / MANIFEST)
    from ..tarball import iter_members

    for m in iter_members(path, keep=KeepManifestAndIndex()):
        if m.kind == "file" and m.name.partition("/")[2] == MANIFEST and not m.unsafe:
            return parse_manifest(m.data.decode("utf-8", "replace"))[0]
    raise SfngError(f"{path}: no {MANIFEST} in the tarball")


def diff(store, a, b) -> dict:
    """Files added, removed and changed from release ``a`` to release ``b`` (names or paths),
    read from their manifests."""
    out = compare_manifests(_manifest_of(store, a), _manifest_of(store, b))
    out.update({"from": str(a), "to": str(b)})
    return out
