"""``sfng get``: copy (or hard-link) selected files out of the store, verified.

Files land under the destination with the store's layout (``data/<SURVEY>/<file>``), each
survey folder with its ``<SURVEY>_README.txt`` and a ``MANIFEST.sha256`` of what was fetched
(``sha256sum -c`` checks the download).  Every file's SHA-256 is checked against the survey's
manifest (``data/<SURVEY>/MANIFEST.sha256``, written by ingest), else against the index's
``sha256`` column.  A rerun resumes: a file already present with the right checksum is
skipped, a different file under the same name is reported and never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import SfngError


@dataclass
class GetReport:
    """What ``get`` did: lists of ``(store-relative path, detail)``."""

    dest: Path
    copied: list = field(default_factory=list)       # (path, bytes)
    linked: list = field(default_factory=list)       # (path, bytes)
    present: list = field(default_factory=list)      # (path, why): skipped, already there and verified
    failed: list = field(default_factory=list)       # (path, reason): an error
    readmes: list = field(default_factory=list)      # (path, what happened)
    planned: list = field(default_factory=list)      # dry run: (path, action)
    unverified: list = field(default_factory=list)   # paths with no checksum to verify against
    warnings: list = field(default_factory=list)     # (path, message): fetched, but worth a look

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.copied + self.linked)

    def summary(self) -> str:
        if self.planned:
            return f"would fetch {len(self.planned)} file(s); nothing changed (dry run)"
        parts = [f"{len(self.copied)} copied", f"{len(self.linked)} linked",
                 f"{len(self.present)} already there"]
        if self.failed:
            parts.append(f"{len(self.failed)} FAILED")
        return ", ".join(parts) + f" ({human_size(self.bytes)})"

    def as_dict(self):
        return {"dest": str(self.dest), "ok": self.ok, "bytes": self.bytes,
                "copied": [p for p, _ in self.copied], "linked": [p for p, _ in self.linked],
                "present": [p for p, _ in self.present],
                "failed": [{"path": p, "reason": r} for p, r in self.failed],
                "readmes": [{"path": p, "action": a} for p, a in self.readmes],
                "unverified": self.unverified,
                "warnings": [{"path": p, "message": m} for p, m in self.warnings],
                "planned": [{"path": p, "action": a} for p, a in self.planned]}


def human_size(n) -> str:
    """Bytes for people: ``469.4 kB`` (decimal units); ``-`` when unknown (None or negative)."""
    try:
        n = int(n)
    except (TypeError, ValueError):
        return "-"
    if n < 0:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return "-"


def _safe_rel(path: str) -> PurePosixPath:
    """A store-relative path that cannot leave the destination (no '..', not absolute)."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or p.parts[0] not in ("data", "derived"):
        raise SfngError(f"refusing index path {path!r}: it must lie under data/ or derived/")
    return p


def get_files(result, store, dest, *, link: bool = False, dry_run: bool = False,
              progress=None) -> GetReport:
    """Fetch the files of a query ``result`` (:class:`sfng.query.Result`) from ``store`` to ``dest``.

    Parameters
    ----------
    link : bool
        Hard-link instead of copying (same file system only; falls back to a verified copy).
    dry_run : bool
        Only plan: ``report.planned`` lists what would be fetched.
    progress : callable, optional
        ``progress(done, total, path)`` after each file.
    """
    from . import manifest
    from .fsutil import TMP_PREFIX, copy_with_hash, sha256_file

    dest = Path(dest).absolute()
    for tree in ("data", "derived"):
        if _inside(dest, store.root / tree):
            raise SfngError(f"{dest} is inside the store's {tree}/ tree; choose a folder outside it")
    if dest.exists() and not dest.is_dir():
        raise SfngError(f"{dest} exists and is not a folder")
    report = GetReport(dest)
    paths = list(dict.fromkeys(result.paths()))           # one file may hold several rows
    index_sha = dict(zip(result.column("path"), result.column("sha256")))
    manifests: dict = {}
    unsafe: dict = {}   # folder -> why nothing may be written there (a link in the way), or None
    fetched_by_folder: dict = {}
    total = len(paths)
    for n, path in enumerate(paths, start=1):
        try:
            rel = _safe_rel(path)
        except SfngError as exc:
            report.failed.append((path, str(exc)))
            continue
        folder = rel.parent
        src = store.root / rel
        if folder not in manifests:
            manifests[folder] = manifest.read_manifest(store.root / folder)
        entry = manifests[folder].get(rel.name)
        expected = entry.sha256 if entry else (str(index_sha.get(path) or "").strip() or None)
        if entry and index_sha.get(path) and index_sha[path] != entry.sha256:
            report.warnings.append((path, "the index's SHA-256 differs from the manifest's (stale "
                                          "index?); verified against the manifest"))
        target = dest / rel
        if folder not in unsafe:
            unsafe[folder] = _link_in_the_way(dest, folder)
        if unsafe[folder]:
            report.failed.append((path, unsafe[folder]))
            continue
        if not src.is_file():
            report.failed.append((path, f"missing in the store ({src})"))
            continue
        if not _inside(src, store.root):
            report.failed.append((path, f"{src} is a link to {src.resolve()}, outside the store; "
                                        f"not fetched"))
            continue
        if expected is None:
            report.unverified.append(path)
        if dry_run:
            action = "present?" if target.exists() else ("link" if link else "copy")
            report.planned.append((path, action))
            continue
        if n == 1 or folder not in fetched_by_folder:
            _clean_temporaries(target.parent, TMP_PREFIX)
        if target.exists():
            have = sha256_file(target)
            want = expected or sha256_file(src)
            if have == want:
                report.present.append((path, "already there, checksum ok"))
                fetched_by_folder.setdefault(folder, {})[rel.name] = (have, target.stat().st_size)
            else:
                report.failed.append((path, f"{target} exists with other content; not overwritten "
                                            f"(move it away and rerun)"))
            continue
        try:
            if link and _try_link(src, target, expected):
                size = target.stat().st_size
                digest = expected or sha256_file(target)
                report.linked.append((path, size))
            else:
                digest, size = copy_with_hash(src, target, expected_sha256=expected)
                report.copied.append((path, size))
            fetched_by_folder.setdefault(folder, {})[rel.name] = (digest, size)
        except FileExistsError:
            report.failed.append((path, f"{target} appeared meanwhile; not overwritten"))
        except OSError as exc:
            report.failed.append((path, f"not fetched: {exc}"))
        if progress:
            progress(n, total, path)
    if not dry_run:
        for folder, got in fetched_by_folder.items():
            _copy_readme(store, folder, dest, report)
            _write_manifest(dest / folder, got)
    else:
        for folder in {PurePosixPath(p).parent for p, _ in report.planned}:
            report.readmes.append((str(folder / f"{folder.name}_README.txt"), "would copy"))
    return report


def _link_in_the_way(dest: Path, folder: PurePosixPath) -> str | None:
    """Why files may not be written into ``dest/folder``: a component below ``dest`` that is a
    symbolic link (it would lead the files, README and manifest out of ``dest``) or not a folder."""
    here = dest
    for part in folder.parts:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            return None  # created by get itself, as a folder
        except OSError as exc:
            return f"{here}: {exc.strerror or exc}; not fetched"
        import stat

        if stat.S_ISLNK(st.st_mode):
            return (f"{here} is a symbolic link (to {os.readlink(here)}); sfng does not write through "
                    f"links out of {dest}: not fetched (remove the link, or choose another -o/--output)")
        if not stat.S_ISDIR(st.st_mode):
            return f"{here} exists and is not a folder; not fetched"
    return None


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
        return True
    except ValueError:
        return False


def _try_link(src: Path, target: Path, expected: str | None) -> bool:
    """Hard-link ``src`` to ``target`` after verifying it; False when linking is impossible."""
    from .fsutil import sha256_file

    if expected and sha256_file(src) != expected:
        raise OSError(f"{src}: checksum differs from the manifest's {expected}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _clean_temporaries(folder: Path, prefix: str) -> None:
    """Remove sfng temporaries left in ``folder`` by an interrupted earlier get."""
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(prefix) and p.is_file():
                p.unlink(missing_ok=True)


def _copy_readme(store, folder: PurePosixPath, dest: Path, report: GetReport) -> None:
    from .fsutil import copy_with_hash, sha256_file

    name = f"{folder.name}_README.txt"
    src = store.root / folder / name
    target = dest / folder / name
    rel = str(folder / name)
    if not src.is_file():
        report.readmes.append((rel, "the survey has no README in the store"))
        return
    if target.exists():
        if sha256_file(target) == sha256_file(src):
            report.readmes.append((rel, "already there"))
        else:
            report.readmes.append((rel, "differs from the store's; kept the one in the destination"))
        return
    copy_with_hash(src, target)
    report.readmes.append((rel, "copied"))


def _write_manifest(folder: Path, got: dict) -> None:
    """Merge the fetched files into ``folder``'s MANIFEST.sha256 (atomic rewrite)."""
    from . import manifest

    entries = dict(manifest.read_manifest(folder))
    for name, (digest, size) in got.items():
        entries[name] = manifest.Entry(name=name, sha256=digest, size=size)
    manifest.rewrite(folder, entries)
