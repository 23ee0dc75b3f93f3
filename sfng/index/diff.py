"""``sfng index diff``: the products added, removed and changed between two indexes.

A product is keyed by ``(tree, survey, name, locator)``, ``name`` its path inside the survey
folder without the folder's version (``data/THINGS@v2/sub/x.fits`` -> ``sub/x.fits``), so that
one file of two data versions is one product (docs/versions.md).  By default each side is its
*current* versions (what ``sfng find`` answers); ``all_versions`` keys by version too.  A product
changed when a value other than its place (``path``, ``version``, ``current``, ``mtime``)
differs; the changes say ``old -> new`` for each column, and the version is always reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError

#: Columns that say where a product is, not what it is: never a change on their own.
PLACE_COLUMNS = ("path", "version", "current", "mtime")


@dataclass
class IndexDiff:
    old: str
    new: str
    all_versions: bool = False
    added: list = field(default_factory=list)     # [{tree, survey, name, locator, version, path}]
    removed: list = field(default_factory=list)
    changed: list = field(default_factory=list)   # [... + old_path, new_path, changes {col: [o, n]}]

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "all_versions": self.all_versions,
                "counts": {"added": len(self.added), "removed": len(self.removed),
                           "changed": len(self.changed)},
                "added": self.added, "removed": self.removed, "changed": self.changed}

    def lines(self) -> list[str]:
        out = [f"{self.old} -> {self.new}: {len(self.added)} added, {len(self.removed)} removed, "
               f"{len(self.changed)} changed"]
        for e in self.added:
            out.append(f"  + {e['path']}{e['locator']}")
        for e in self.removed:
            out.append(f"  - {e['path']}{e['locator']}")
        for e in self.changed:
            out.append(f"  ~ {e['old_path']}{e['locator']} -> {e['new_path']}{e['locator']}")
            for col, (o, n) in e["changes"].items():
                out.append(f"      {col}: {_show(o)} -> {_show(n)}")
        return out


def _show(v) -> str:
    return "''" if v == "" else "null" if v is None else str(v)


def _plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape").rstrip("\x00 ")
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        return _plain(v)
    if isinstance(v, str):
        return v.rstrip("\x00 ")
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _split_path(path: str) -> tuple[str, str, str, str]:
    """``(tree, survey, version, name)`` of a store path."""
    from ..naming import split_survey_folder

    parts = path.split("/")
    if len(parts) < 3:
        return (parts[0] if parts else ""), "", "", "/".join(parts[1:])
    try:
        survey, version = split_survey_folder(parts[1])
    except SfngError:
        survey, version = parts[1], ""
    return parts[0], survey, version, "/".join(parts[2:])


def _unversioned(path: str) -> str:
    """A store path with its survey folder's version dropped (for companion paths)."""
    if not path:
        return path
    tree, survey, _version, name = _split_path(path)
    return f"{tree}/{survey}/{name}" if survey else path


def _rows(path) -> tuple[list, dict]:
    from .io import read_index

    try:
        files, _, _ = read_index(path, galaxies=False)
    except FileNotFoundError as exc:
        raise SfngError(f"{path}: no index here") from exc
    names = list(files.colnames)
    out = []
    for row in files:
        out.append({c: _plain(row[c]) for c in names})
    return out, set(names)


def _key(row: dict, all_versions: bool) -> tuple:
    tree, survey, version, name = _split_path(row["path"])
    version = row.get("version", version) or version
    return (tree, row.get("survey") or survey, name, row.get("locator", "")) + \
        ((version,) if all_versions else ())


def _entry(key: tuple, row: dict) -> dict:
    return {"tree": key[0], "survey": key[1], "name": key[2], "locator": key[3],
            "version": row.get("version", ""), "path": row["path"]}


def _keyed(rows: list, all_versions: bool) -> dict:
    out: dict = {}
    for r in rows:
        if not all_versions and r.get("current") is False:
            continue
        out[_key(r, all_versions)] = r
    return out


def _same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def diff_indexes(old, new, *, all_versions: bool = False, old_name=None, new_name=None) -> IndexDiff:
    """Compare the index files ``old`` and ``new`` (see the module's doc)."""
    old_rows, old_cols = _rows(old)
    new_rows, new_cols = _rows(new)
    a, b = _keyed(old_rows, all_versions), _keyed(new_rows, all_versions)
    rep = IndexDiff(str(old_name or old), str(new_name or new), all_versions)
    common = [c for c in new_rows[0] if c in old_cols] if new_rows else sorted(old_cols & new_cols)
    for key in sorted(b.keys() - a.keys()):
        rep.added.append(_entry(key, b[key]))
    for key in sorted(a.keys() - b.keys()):
        rep.removed.append(_entry(key, a[key]))
    for key in sorted(a.keys() & b.keys()):
        ra, rb = a[key], b[key]
        changes = {}
        for c in common:
            if c in PLACE_COLUMNS:
                continue
            va, vb = ra.get(c), rb.get(c)
            if c == "noise_path":
                va, vb = _unversioned(va or ""), _unversioned(vb or "")
            if not _same(va, vb):
                changes[c] = [ra.get(c), rb.get(c)]
        if changes:
            if ra.get("version", "") != rb.get("version", ""):
                changes = {"version": [ra.get("version", ""), rb.get("version", "")], **changes}
            e = _entry(key, rb)
            e.update(old_path=ra["path"], new_path=rb["path"], changes=changes)
            e.pop("path")
            rep.changed.append(e)
    return rep


def diff_with_tree(store, old, *, all_versions: bool = False, jobs: int = 1) -> IndexDiff:
    """Compare the index file ``old`` with the store's tree as it is now: the tree is indexed
    into a temporary file (:func:`sfng.index.build.build_index` with ``out=``; the store's index
    is not touched) and compared."""
    import tempfile

    from .build import build_index

    with tempfile.TemporaryDirectory(prefix="sfng-diff-") as tmp:
        out = Path(tmp) / "SFNG-INDEX.fits"
        build_index(store, out=out, jobs=jobs)
        return diff_indexes(old, out, all_versions=all_versions, new_name=f"{store.root} (the tree now)")
