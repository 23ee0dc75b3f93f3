"""The store's galaxy table, ``tables/galaxies.ecsv``: one row per galaxy.

Columns (an ECSV file: plain text with a typed YAML header, readable by astropy and by eye):

========  ======  ==========================================================
name      str     NED preferred name, as the store's files are named
aliases   str     other names separated by ``;`` (``NGC 628;NGC 0628;M74``)
ra, dec   float   J2000 position in degrees (NaN unknown)
dist      float   adopted distance in Mpc (NaN unknown)
dist_src  str     where the distance comes from (a reference)
========  ======  ==========================================================

The index copies it into its GALAXIES HDU, so distances are queryable from the index alone
(use case 1: "galaxies within 15 Mpc").  ``sfng galaxies import FILE`` merges a CSV, FITS or
ECSV table into it; ``sfng galaxies set NAME --dist 9.9`` edits one row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SfngError
from .fsutil import atomic_write_text

TABLE = "tables/galaxies.ecsv"
COLUMNS = ("name", "aliases", "ra", "dec", "dist", "dist_src")
#: Accepted column names when importing (case-insensitive), first match wins.
SYNONYMS = {
    "name": ("name", "ned_name", "galaxy", "object", "objname", "ned name"),
    "aliases": ("aliases", "alias", "other_names", "altnames"),
    "ra": ("ra", "ra_deg", "raj2000", "_raj2000"),
    "dec": ("dec", "dec_deg", "dej2000", "_dej2000", "decj2000"),
    "dist": ("dist", "dist_mpc", "distance", "d_mpc", "d"),
    "dist_src": ("dist_src", "dist_source", "dist_ref", "distance_ref", "ref_dist", "dist_method"),
}
NAN = float("nan")


@dataclass
class Galaxy:
    """A galaxy: NED name, aliases, position (deg), distance (Mpc) and its source."""

    name: str
    aliases: tuple = ()
    ra: float = NAN
    dec: float = NAN
    dist: float = NAN
    dist_src: str = ""

    def names(self) -> tuple:
        return (self.name, *self.aliases)

    def as_dict(self) -> dict:
        return {"name": self.name, "aliases": list(self.aliases), "ra": _none(self.ra),
                "dec": _none(self.dec), "dist": _none(self.dist), "dist_src": self.dist_src}


def _none(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def name_key(name: str) -> str:
    """Look-up key of a galaxy name: 'NGC 0628', 'ngc628', 'NGC_628' -> 'NGC 628' (sfng.naming.normalise)."""
    from .naming import normalise

    return normalise(name)


@dataclass
class GalaxyTable:
    """The galaxy table in memory, with look-up by any name."""

    galaxies: list = field(default_factory=list)

    def __post_init__(self):
        self._reindex()

    def _reindex(self):
        self._by = {}
        for g in self.galaxies:
            for n in g.names():
                self._by.setdefault(name_key(n), g)

    def find(self, name) -> Galaxy | None:
        """The galaxy called ``name`` (NED name or any alias), or None."""
        return self._by.get(name_key(name)) if name else None

    def canonical(self, name) -> str | None:
        g = self.find(name)
        return g.name if g else None

    def upsert(self, new: Galaxy) -> str:
        """Add ``new`` or merge it into the galaxy it names; returns added/updated/unchanged.
        Known values are kept unless ``new`` gives a value (NaN and '' mean "not given")."""
        old = self.find(new.name) or next((self.find(a) for a in new.aliases if self.find(a)), None)
        if old is None:
            self.galaxies.append(new)
            self._reindex()
            return "added"
        merged = replace(
            old,
            aliases=tuple(dict.fromkeys([*old.aliases, *(a for a in (new.name, *new.aliases)
                                                          if name_key(a) != name_key(old.name))])),
            ra=old.ra if _nan(new.ra) else new.ra, dec=old.dec if _nan(new.dec) else new.dec,
            dist=old.dist if _nan(new.dist) else new.dist, dist_src=new.dist_src or old.dist_src)
        if merged == old:
            return "unchanged"
        self.galaxies[self.galaxies.index(old)] = merged
        self._reindex()
        return "updated"

    def __len__(self):
        return len(self.galaxies)

    def __iter__(self):
        return iter(self.galaxies)


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def table_path(store) -> Path:
    return Path(store.root) / TABLE


def read_galaxies(store=None, path=None) -> GalaxyTable:
    """The store's galaxy table (empty when the file does not exist yet)."""
    path = Path(path) if path is not None else table_path(store)
    if not path.is_file():
        return GalaxyTable([])
    return GalaxyTable(_rows(_read_any(path), path))


def write_galaxies(table: GalaxyTable, store=None, path=None) -> Path:
    """Write the table as ECSV, atomically (temp file, fsync, rename)."""
    import io

    from astropy.table import Table

    path = Path(path) if path is not None else table_path(store)
    gals = sorted(table.galaxies, key=lambda g: name_key(g.name))
    t = Table(rows=[(g.name, ";".join(g.aliases), g.ra, g.dec, g.dist, g.dist_src) for g in gals],
              names=COLUMNS, dtype=(str, str, float, float, float, str))
    t["ra"].unit, t["dec"].unit, t["dist"].unit = "deg", "deg", "Mpc"
    t["name"].description = "NED preferred name"
    t["aliases"].description = "other names, ';'-separated"
    t["dist_src"].description = "source of the distance"
    t.meta["comments"] = ["sfng galaxy table: edit with `sfng galaxies set` / `sfng galaxies import`"]
    buf = io.StringIO()
    t.write(buf, format="ascii.ecsv")
    atomic_write_text(path, buf.getvalue(), overwrite=True)
    return path


def _read_any(path: Path):
    from astropy.table import Table

    name = path.name.lower()
    fmt = ("ascii.ecsv" if name.endswith(".ecsv") else "ascii.csv" if name.endswith((".csv", ".txt"))
           else "fits" if name.endswith((".fits", ".fit", ".fits.gz", ".fts")) else None)
    if fmt is None:
        raise SfngError(f"{path}: unknown table format; give a .csv, .ecsv or .fits file")
    try:
        return Table.read(path, format=fmt)
    except FileNotFoundError as exc:
        raise SfngError(f"{path}: no such file") from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise SfngError(f"{path}: cannot read as {fmt}: {exc}") from exc


def _rows(t, path) -> list[Galaxy]:
    lower = {c.lower(): c for c in t.colnames}
    cols = {}
    for key, names in SYNONYMS.items():
        cols[key] = next((lower[n] for n in names if n in lower), None)
    if cols["name"] is None:
        raise SfngError(f"{path}: no galaxy name column (expected one of {', '.join(SYNONYMS['name'])}); "
                        f"columns are {', '.join(t.colnames)}")
    out = []
    for i, row in enumerate(t, start=1):
        name = _text(row[cols["name"]])
        if not name:
            raise SfngError(f"{path}: row {i} has no galaxy name")
        aliases = tuple(a.strip() for a in re.split(r"[;|]", _text(row[cols["aliases"]]))
                        if a.strip()) if cols["aliases"] else ()
        out.append(Galaxy(name=name, aliases=aliases,
                          ra=_float(row, cols["ra"], path, i), dec=_float(row, cols["dec"], path, i),
                          dist=_float(row, cols["dist"], path, i),
                          dist_src=_text(row[cols["dist_src"]]) if cols["dist_src"] else ""))
    return out


def _text(v) -> str:
    import numpy as np

    if v is None or v is np.ma.masked:
        return ""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v).strip()


def _float(row, col, path, i) -> float:
    import numpy as np

    if col is None:
        return NAN
    v = row[col]
    if v is np.ma.masked or v is None or (isinstance(v, str) and not v.strip()):
        return NAN
    try:
        return float(v)
    except (TypeError, ValueError) as exc:
        raise SfngError(f"{path}: row {i}, column {col}: {str(v)!r} is not a number") from exc


@dataclass
class ImportReport:
    source: str
    added: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    written: bool = False

    def as_dict(self):
        return {"source": self.source, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "written": self.written}


def import_galaxies(store, source, dry_run: bool = False) -> ImportReport:
    """Merge the galaxies of a CSV/FITS/ECSV table into the store's galaxy table."""
    source = Path(source)
    if not source.is_file():
        raise SfngError(f"{source}: no such file")
    new = _rows(_read_any(source), source)
    return merge_galaxies(store, new, str(source), dry_run=dry_run)


def merge_galaxies(store, galaxies, source: str = "", dry_run: bool = False) -> ImportReport:
    table = read_galaxies(store)
    rep = ImportReport(source=source)
    for g in galaxies:
        getattr(rep, table.upsert(g)).append(g.name)
    if not dry_run and (rep.added or rep.updated or not table_path(store).exists()):
        write_galaxies(table, store)
        rep.written = True
    return rep


def set_galaxy(store, name: str, *, dist=None, dist_src=None, ra=None, dec=None, aliases=(),
               dry_run: bool = False) -> tuple[Galaxy, str]:
    """Create or change one galaxy; returns (the galaxy as it now is, added/updated/unchanged)."""
    for what, v in (("--dist", dist), ("--ra", ra), ("--dec", dec)):
        if v is not None and not math.isfinite(v):
            raise SfngError(f"{what} must be a finite number, not {v}")
    if dist is not None and dist <= 0:
        raise SfngError(f"--dist must be a positive distance in Mpc, not {dist}")
    if dec is not None and not -90 <= dec <= 90:
        raise SfngError(f"--dec must be within -90..90 degrees, not {dec}")
    table = read_galaxies(store)
    g = Galaxy(name=name.strip(), aliases=tuple(aliases),
               ra=NAN if ra is None else float(ra) % 360.0, dec=NAN if dec is None else float(dec),
               dist=NAN if dist is None else float(dist), dist_src=dist_src or "")
    if not g.name:
        raise SfngError("a galaxy needs a name")
    what = table.upsert(g)
    if what != "unchanged" and not dry_run:
        write_galaxies(table, store)
    return table.find(g.name), what
