"""``data/bygalaxy/<GALAXY>/``: the store seen by galaxy, as relative links into the survey trees.

The specification: "It would also be easy to create ``./data/bygalaxy/`` which contains a series
of galaxy names and each galaxy directory contains links to the data in the by-survey tree."
Every file of ``data/<SURVEY>/`` and ``derived/<SURVEY>/`` whose galaxy is known gets a relative
symbolic link ``data/bygalaxy/<NED_NAME>/<file name>`` -> ``../../<SURVEY>/<file name>`` (or
``../../../derived/<SURVEY>/<file name>``), so the tree stays valid when the store is moved or
mounted elsewhere.  A file's galaxy is the index's (``known``: the index's rows of files
unchanged since it was built, :func:`sfng.index.io.galaxies_by_path`), else found by the same
rules, offline (:func:`sfng.identity.identify`: the file name's NED prefix, the manifest's
record, the format's identifier or OBJECT looked up in the store's NED cache ...); a file
whose galaxy stays unknown is reported, not linked.  Files of galaxy pairs are also linked in their companions' folders: the
companions recorded by ingest in the folder's ``MANIFEST.sha256`` and those declared in
``tables/pairs.csv``.  When two surveys hold the same file name for one galaxy, both links are
prefixed ``<tree>_<SURVEY>_``.

:func:`build_bygalaxy` is idempotent: a rerun adds missing links, repoints changed ones,
removes stale ones (and galaxy folders left empty), and never touches anything in
``bygalaxy/`` that is not a symbolic link.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest as mf
from .fsutil import TMP_PREFIX

BYGALAXY = "bygalaxy"
LINKED_TREES = ("data", "derived")


@dataclass
class LinksReport:
    """What :func:`build_bygalaxy` did (or would do with ``dry_run``); paths relative to
    ``data/bygalaxy``."""

    root: Path
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    kept: int = 0
    galaxies: int = 0
    unnamed: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        s = (f"data/{BYGALAXY}/: {self.galaxies} galaxies; {len(self.created)} link(s) {verb}, "
             f"{len(self.updated)} updated, {len(self.removed)} stale removed, {self.kept} unchanged")
        if self.unnamed:
            s += f"; {len(self.unnamed)} file(s) whose galaxy is unknown not linked"
        if self.problems:
            s += f"; {len(self.problems)} problem(s)"
        return s

    def as_dict(self):
        return {"root": str(self.root), "dry_run": self.dry_run, "galaxies": self.galaxies,
                "created": self.created, "updated": self.updated, "removed": self.removed,
                "kept": self.kept, "unnamed": self.unnamed, "problems": self.problems, "ok": self.ok}


def _skip_name(name: str) -> bool:
    return (name.startswith(".") or name.startswith(TMP_PREFIX) or name == mf.MANIFEST_NAME
            or name.endswith("_README.txt") or name.endswith(".validation.json"))


def _galaxies_of(names, path: Path, rel: str, entry, known, readme_meta) -> list[str]:
    """The galaxies a store file is filed under: the index's (``known``, when it has the file
    as it is now), else :func:`sfng.identity.identify` (reading the file's header only when its
    name and manifest entry do not say)."""
    from .identity import identify, read_file_identity

    if known is not None:
        got = known.get(rel)
        if got is not None:
            try:
                st = path.stat()
            except OSError:
                st = None
            if st is not None and (st.st_size, st.st_mtime) == tuple(got[:2]):
                return list(got[2])
    galaxy, _ = identify(names, path.name, manifest=entry.galaxy if entry is not None else None,
                         read=lambda: read_file_identity(path, readme_meta()))
    return [galaxy] if galaxy else []


def _readme_meta(store, tree: str, survey: str, cache: dict) -> dict:
    key = (tree, survey)
    if key not in cache:
        from .errors import SfngError
        from .readme import read_readme

        p = store.tree(tree) / survey / f"{survey}_README.txt"
        try:
            cache[key] = dict(read_readme(p).metadata) if p.is_file() else {}
        except (SfngError, OSError):
            cache[key] = {}
    return cache[key]


def desired_links(store, known=None) -> tuple[dict, list, list]:
    """``({link path relative to bygalaxy: link target}, unnamed files, problems)``.

    ``known``: ``{store-relative path: (size, mtime, [galaxy, ...])}`` from the index, used for
    files unchanged since (see the module documentation)."""
    from . import naming
    from .identity import Names
    from .pairs import read_pairs

    pairs = read_pairs(store)
    store_names = Names.of_store(store)
    readmes: dict = {}
    root = Path(store.root)
    by_dir = root / "data" / BYGALAXY
    wanted: dict[tuple[str, str], list] = {}  # (galaxy dir, file name) -> [(tree, survey, target)]
    unnamed, problems = [], []
    for tree in LINKED_TREES:
        for survey in store.surveys(tree):
            folder = store.tree(tree) / survey
            entries = mf.read_manifest(folder)
            try:
                names = sorted(os.listdir(folder))
            except OSError as exc:
                problems.append(f"{tree}/{survey}: cannot list ({exc.strerror})")
                continue
            for name in names:
                path = folder / name
                if _skip_name(name) or not path.is_file():
                    continue
                entry = entries.get(name)
                rel = f"{tree}/{survey}/{name}"
                try:
                    galaxies = _galaxies_of(store_names, path, rel, entry, known,
                                            lambda t=tree, s=survey: _readme_meta(store, t, s, readmes))
                except Exception as exc:  # noqa: BLE001 - one odd file must not stop the links
                    problems.append(f"{rel}: galaxy not determined ({exc})")
                    continue
                if not galaxies:
                    unnamed.append(rel)
                    continue
                members = list(galaxies)
                for galaxy in galaxies:
                    for comp in [*(entry.companions if entry else ()), *pairs.get(galaxy, [])]:
                        if comp not in members:
                            members.append(comp)
                for g in members:
                    try:
                        gdir = naming.encode_galaxy(g)
                    except Exception as exc:  # noqa: BLE001 - an unusable companion name
                        problems.append(f"{tree}/{survey}/{name}: companion {g!r}: {exc}")
                        continue
                    target = os.path.relpath(path, by_dir / gdir)
                    wanted.setdefault((gdir, name), []).append((tree, survey, target))
    links: dict[str, str] = {}
    for (gdir, name), targets in wanted.items():
        if len(targets) == 1:
            links[f"{gdir}/{name}"] = targets[0][2]
        else:
            for tree, survey, target in targets:
                links[f"{gdir}/{tree}_{survey}_{name}"] = target
    return links, unnamed, problems


def _symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` through a temporary link and a rename (replaces a link)."""
    from .fsutil import fault_point

    tmp = link.parent / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    os.symlink(target, tmp)
    try:
        fault_point(f"links: {link.name}: temporary link made")
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_bygalaxy(store, dry_run: bool = False, known=None) -> LinksReport:
    """Create or update ``data/bygalaxy/``; see the module documentation (``known``: the
    index's galaxies by path, :func:`sfng.index.io.galaxies_by_path`)."""
    from .journal import Lock, state_dir

    base = Path(store.root) / "data" / BYGALAXY
    report = LinksReport(root=base, dry_run=dry_run)
    with Lock(state_dir(store.root, "locks") / "links.lock", "data/bygalaxy"):
        links, report.unnamed, report.problems = desired_links(store, known)
        report.galaxies = len({k.split("/", 1)[0] for k in links})
        existing: dict[str, str | None] = {}  # rel -> link target (None: not a link)
        if base.is_dir():
            for gdir in sorted(base.iterdir()):
                if not gdir.is_dir() or gdir.is_symlink():
                    if not gdir.name.startswith("."):
                        report.problems.append(f"{gdir.name}: not a galaxy folder; left alone")
                    continue
                for entry in sorted(gdir.iterdir()):
                    rel = f"{gdir.name}/{entry.name}"
                    if entry.name.startswith(TMP_PREFIX) and entry.is_symlink():
                        if not dry_run:
                            entry.unlink()  # left by a killed run
                        continue
                    existing[rel] = os.readlink(entry) if entry.is_symlink() else None
        for rel, target in sorted(links.items()):
            have = existing.get(rel, "")
            if have is None:
                report.problems.append(f"{rel}: a file that is not a link is in the way; left alone")
                continue
            if have == target:
                report.kept += 1
                continue
            (report.updated if have else report.created).append(rel)
            if not dry_run:
                link = base / rel
                link.parent.mkdir(parents=True, exist_ok=True)
                _symlink_atomic(target, link)
        for rel, have in sorted(existing.items()):
            if have is not None and rel not in links:
                report.removed.append(rel)
                if not dry_run:
                    (base / rel).unlink(missing_ok=True)
        if not dry_run and base.is_dir():
            for gdir in base.iterdir():
                if gdir.is_dir() and not gdir.is_symlink():
                    try:
                        gdir.rmdir()  # only succeeds when empty
                    except OSError:
                        pass
    return report
