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


def _columns(path) -> dict:
    """The FILES table of the index at ``path`` as ``{column: numpy array}``: from its columnar
    companion when it has one (each column contiguous: a comparison reads only that column),
    else from the FITS table (memory-mapped where the reader can).  Text is bytes, logicals
    bool."""
    from .io import read_index

    table = _companion(path)
    if table is not None:
        from .schema import FILES_COLUMNS

        logical = {c.name for c in FILES_COLUMNS if c.kind == "?"}
        out = {}
        for name in table.dtype.names:
            a = table[name]
            out[name] = (np.asarray(a) == ord("T")) if name in logical and a.dtype.kind != "b" else a
        return out
    try:
        files, _, _ = read_index(path, galaxies=False)
    except FileNotFoundError as exc:
        raise SfngError(f"{path}: no index here") from exc
    return {c: np.asarray(files[c]) for c in files.colnames}


def _companion(path):
    """The columnar companion of the index at ``path`` (:mod:`.columns`), or None."""
    from .columns import open_table
    from .io import primary_cards

    from .schema import SCHEMA_VERSION

    try:
        prim = primary_cards(path)
        if prim.get("SFNGSCHV") != str(SCHEMA_VERSION):
            return None    # an older index: read through its frozen schema (read_index), never raw
        return open_table(path, prim.get("SFNGBID"), int(prim.get("NFILES", -1)))
    except (OSError, ValueError, TypeError):
        return None


def _text(a: np.ndarray) -> np.ndarray:
    """A text column as ``str`` values without trailing NULs or blanks (FITS padding)."""
    if a.dtype.kind == "S":
        a = np.char.decode(a, "utf-8", "surrogateescape")
    return np.char.rstrip(a.astype(str), "\x00 ")


def _bytes_list(cols: dict, name: str, n: int) -> list:
    """A text column as a list of ``bytes`` without padding (b"" for a column the index lacks)."""
    if name not in cols:
        return [b""] * n
    a = cols[name]
    if a.dtype.kind == "U":
        return [v.rstrip("\x00 ").encode("utf-8", "surrogateescape") for v in a.tolist()]
    return [v.rstrip(b"\x00 ") for v in a.tolist()]


def _keys(cols: dict, all_versions: bool) -> dict:
    """``{product key: row}``: each key ``tree, survey, name, locator[, version]`` joined by the
    byte 0x1f (below every printable character, so that keys sort as the tuples of their parts
    would; bytes cache their hash, tuples do not); the current versions only unless
    ``all_versions``; of rows sharing a key, the last.  One pass in Python over plain lists:
    hashing a million keys costs less than sorting a million long strings."""
    n = len(cols["path"])
    paths = _bytes_list(cols, "path", n)
    surveys = _bytes_list(cols, "survey", n)
    locators = _bytes_list(cols, "locator", n)
    versions = _bytes_list(cols, "version", n) if all_versions else None
    current = np.asarray(cols["current"]).astype(bool).tolist() if ("current" in cols and not all_versions) \
        else None
    folders: dict = {}             # a store has few survey folders: each is split once
    out: dict = {}
    for i, p in enumerate(paths):
        if current is not None and not current[i]:
            continue
        parts = p.split(b"/", 2)
        if len(parts) < 3:
            tree, folder, name = parts[0], b"", b"/".join(parts[1:])
        else:
            tree, folder, name = parts
        f = folders.get(folder)
        if f is None:
            sv, v = _split_folder(folder.decode("utf-8", "surrogateescape"))
            f = folders[folder] = (sv.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
        key = b"\x1f".join((tree, surveys[i] or f[0], name, locators[i]))
        if all_versions:
            key += b"\x1f" + (versions[i] or f[1])
        out[key] = i
    return out


def _split_folder(folder: str) -> tuple[str, str]:
    from ..naming import split_survey_folder

    try:
        return split_survey_folder(folder) if folder else ("", "")
    except SfngError:
        return folder, ""


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row: do the values of one column differ (NaN equals NaN; text compared without its
    padding; an array column compared cell by cell, a narrower layout padded with its fill)."""
    if a.dtype.kind in "SU" or b.dtype.kind in "SU":
        if a.dtype.kind == b.dtype.kind:
            # numpy compares fixed-width text without its trailing NULs, over any two widths:
            # only the rows that differ so are looked at again without blank padding
            d = a != b
            k = np.flatnonzero(d)
            if len(k):
                d[k] = _text(a[k]) != _text(b[k])
            return d
        return _text(a) != _text(b)
    if a.ndim > 1 or b.ndim > 1:
        a, b = _padded(a, b)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        x, y = a.astype(np.float64), b.astype(np.float64)
        d = ~((x == y) | (np.isnan(x) & np.isnan(y)))
    else:
        d = a != b
    return d.reshape(len(d), -1).any(axis=1) if d.ndim > 1 else d


def _padded(a: np.ndarray, b: np.ndarray):
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    k = max(a.shape[1], b.shape[1])
    fill = np.nan if "f" in (a.dtype.kind, b.dtype.kind) else -1
    out = []
    for x in (a, b):
        if x.shape[1] < k:
            y = np.full((len(x), k), fill, dtype=np.float64 if fill is np.nan else x.dtype)
            y[:, :x.shape[1]] = x
            x = y
        out.append(x)
    return out


def _value(cols: dict, c: str, i: int):
    return _plain(cols[c][i]) if c in cols else None


def _entry_of(key: bytes, cols: dict, i: int) -> dict:
    tree, survey, name, locator = (k.decode("utf-8", "surrogateescape") for k in key.split(b"\x1f")[:4])
    return {"tree": tree, "survey": survey, "name": name, "locator": locator,
            "version": _value(cols, "version", i) or "", "path": _value(cols, "path", i)}


def diff_indexes(old, new, *, all_versions: bool = False, old_name=None, new_name=None) -> IndexDiff:
    """Compare the index files ``old`` and ``new`` (see the module's doc).

    The products of both sides are matched by key once; then each column is compared for all
    matched rows at a time (numpy, whole arrays); Python touches only the rows that differ."""
    A, B = _columns(old), _columns(new)
    ka, kb = _keys(A, all_versions), _keys(B, all_versions)
    rep = IndexDiff(str(old_name or old), str(new_name or new), all_versions)
    common = [c for c in B if c in A]
    for key in sorted(kb.keys() - ka.keys()):
        rep.added.append(_entry_of(key, B, kb[key]))
    for key in sorted(ka.keys() - kb.keys()):
        rep.removed.append(_entry_of(key, A, ka[key]))
    keys = list(ka.keys() & kb.keys())      # in no order: only the changed are sorted, below
    ia = np.fromiter(map(ka.__getitem__, keys), dtype=np.int64, count=len(keys))
    ib = np.fromiter(map(kb.__getitem__, keys), dtype=np.int64, count=len(keys))
    changed: dict[int, list] = {}
    for c in common:
        if c in PLACE_COLUMNS or not len(keys):
            continue
        d = _differs(A[c][ia], B[c][ib])
        for j in np.flatnonzero(d).tolist():
            va, vb = _plain(A[c][ia[j]]), _plain(B[c][ib[j]])
            if c == "noise_path" and _unversioned(va or "") == _unversioned(vb or ""):
                continue   # the same companion, in its own version's folder
            changed.setdefault(j, []).append((c, [va, vb]))
    for j in sorted(changed, key=lambda j: keys[j]):
        i, k = int(ia[j]), int(ib[j])
        changes = dict(changed[j])
        va, vb = _value(A, "version", i) or "", _value(B, "version", k) or ""
        if va != vb:
            changes = {"version": [va, vb], **changes}
        e = _entry_of(keys[j], B, k)
        e.update(old_path=_value(A, "path", i), new_path=_value(B, "path", k), changes=changes)
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
