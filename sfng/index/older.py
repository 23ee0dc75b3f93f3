"""Older indexes, read through their frozen schema (:mod:`sfng.index.frozen`).

:func:`upgrade` reads an index of an older schema version, column by column as its frozen schema
declares them, into this version's on-disk records: every old value kept (a text value that would
not fit its new width, or a number its new type cannot hold exactly, is refused: a migration is
lossless), columns the old version did not have unknown (:func:`sfng.index.schema.null_row`:
NaN, ``''``, ``-1``; ``galaxy_src = ''`` means "unknown how").  :func:`sfng.index.io.read_index`
uses it to read an older index (with a note saying so); :func:`migrate_index` (``sfng index
migrate``) writes the result as a current index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError
from . import frozen
from .layout import disk_dtype, fill_value
from .schema import DEFAULTS, FILES_COLUMNS, GALAXIES_COLUMNS, SCHEMA_VERSION


@dataclass
class MigrateReport:
    source: str
    out: str
    from_version: int
    to_version: int
    rows: int = 0
    galaxies: int = 0
    added: list = field(default_factory=list)      # columns new since from_version (unknown)
    dropped: list = field(default_factory=list)    # columns the current schema no longer has
    renamed: dict = field(default_factory=dict)    # {new: old}
    written: bool = False

    def lines(self) -> list[str]:
        if not self.written:
            return [f"{self.source}: already index schema version {self.to_version}; nothing to do"]
        out = [f"{self.out}: index schema version {self.from_version} -> {self.to_version}, "
               f"{self.rows} FILES rows, {self.galaxies} GALAXIES rows"]
        if self.added:
            out.append(f"  new columns (unknown in the old index): {', '.join(self.added)}")
        if self.renamed:
            out.append("  renamed: " + ", ".join(f"{o} -> {n}" for n, o in self.renamed.items()))
        if self.dropped:
            out.append(f"  columns no longer in the schema: {', '.join(self.dropped)}")
        return out

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def source_name(name: str, from_version: int) -> str:
    """The name the current column ``name`` had in schema ``from_version`` (renames followed)."""
    for v in range(SCHEMA_VERSION, from_version, -1):
        name = frozen.load(v).renamed.get(name, name)
    return name


#: Logical columns an older index lacks whose value there is true, not unknown: before data
#: versions (docs/versions.md) every row was its survey's current version.
ADDED_TRUE = {k for k, v in DEFAULTS.items() if v is True}


def _fill(columns, n: int, old_cols: dict, from_version: int, what: str):
    """Records of ``columns`` (this version's disk layout) from ``old_cols`` {old name: array}."""
    out = np.zeros(n, dtype=disk_dtype(columns))
    added = []
    for c in columns:
        src = source_name(c.name, from_version)
        if src not in old_cols:
            added.append(c.name)
            if c.kind == "U":
                continue                              # zeros: b'' (unknown)
            if c.kind == "?":
                out[c.name] = ord("T") if c.name in ADDED_TRUE else ord("F")
            else:
                out[c.name] = c.null
            continue
        old = np.asarray(old_cols[src])
        if c.kind == "U":
            vals = old if old.dtype.kind == "S" else np.char.encode(old.astype(str), "utf-8")
            vals = np.char.rstrip(vals, b" ")
            if n and int(np.char.str_len(vals).max()) > c.width:
                bad = int(np.argmax(np.char.str_len(vals) > c.width))
                raise SfngError(f"{what} row {bad}: {c.name} value {vals[bad]!r} does not fit the "
                                f"current width ({c.width} bytes); cannot migrate losslessly")
            out[c.name] = vals
        elif c.kind == "?":
            out[c.name] = np.where(old.astype(bool), ord("T"), ord("F"))
        elif c.shape and old.ndim == 2 and old.shape[1] < c.shape[0]:
            # a narrower array (an index stores only the cells its rows use): pad unknown
            out[c.name][:, :old.shape[1]] = old
            out[c.name][:, old.shape[1]:] = fill_value(c)
        else:
            new = old.astype(c.dtype)
            if not np.array_equal(new.astype(old.dtype), old, equal_nan=old.dtype.kind == "f"):
                raise SfngError(f"{what}: column {c.name} ({old.dtype}) does not fit {c.dtype} "
                                f"exactly; cannot migrate losslessly")
            out[c.name] = new
    return out, added


def upgrade(path, version: int):
    """``(files records, galaxy records, report)``: the index at ``path`` (an older schema
    version) in this version's on-disk layout, read through its frozen schema.

    Raises SfngError when the version is unknown or the file does not match its frozen schema."""
    from astropy.io import fits

    path = Path(path)
    schema = frozen.load(version)        # SfngError for a version with no frozen schema
    rep = MigrateReport(str(path), "", version, SCHEMA_VERSION)
    with fits.open(path, memmap=False) as hdul:
        tables = {}
        for ext, cols in (("FILES", schema.files), ("GALAXIES", schema.galaxies)):
            try:
                data = hdul[ext].data
            except KeyError:
                raise SfngError(f"{path}: no {ext} table; not an sfng index of schema version "
                                f"{version}") from None
            have = {n.lower(): n for n in (data.columns.names if data is not None else [])}
            missing = [c.name for c in cols if c.name not in have]
            if missing:
                raise SfngError(f"{path}: {ext} lacks column(s) {', '.join(missing)} of schema "
                                f"version {version}; the index is damaged or not sfng's")
            n = len(data) if data is not None else 0
            tables[ext] = (n, {c.name: np.asarray(data.field(have[c.name])) if n else
                               np.zeros(0, dtype="S1" if c.kind == "U" else c.dtype)
                               for c in cols})
    n, old = tables["FILES"]
    files, rep.added = _fill(FILES_COLUMNS, n, old, version, f"{path} FILES")
    gn, gold = tables["GALAXIES"]
    gals, _ = _fill(GALAXIES_COLUMNS, gn, gold, version, f"{path} GALAXIES")
    current = {c.name for c in FILES_COLUMNS}
    rep.renamed = {c.name: source_name(c.name, version) for c in FILES_COLUMNS
                   if source_name(c.name, version) != c.name}
    used = {source_name(c, version) for c in current}
    rep.dropped = [c.name for c in schema.files if c.name not in used]
    rep.rows, rep.galaxies = n, gn
    return files, gals, rep


def note(path, rep: MigrateReport) -> str:
    """The note a reader gives for an older index read through its frozen schema."""
    unknown = f"; {', '.join(rep.added)} unknown" if rep.added else ""
    return (f"{path}: index schema version {rep.from_version} read through its frozen schema "
            f"(this sfng writes {SCHEMA_VERSION}{unknown}); `sfng index migrate` rewrites it, "
            f"`sfng index build --full` re-describes every file")
