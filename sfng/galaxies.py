"""The store's galaxy table, ``tables/galaxies.ecsv``: one row per galaxy.

Columns (an ECSV file: plain text with a typed YAML header, readable by astropy and by eye):

===========  ======  =======================================================
name         str     NED preferred name, as the store's files are named
aliases      str     other names separated by ``;`` (``NGC 628;NGC 0628;M74``)
ra, dec      float   J2000 position in degrees (NaN unknown)
dist         float   adopted distance in Mpc (NaN unknown)
dist_src     str     where the distance comes from (a reference)
dist_method  str     how it was measured: TRGB, Cepheid, SBF, TF, group, hubble-flow, ...
dist_origin  str     who set it: ``hand`` (``galaxies set``/``import``: never overwritten) or
                     the ``galaxies fill`` source (``table``, ``ungc``, ``cf3``, ``hubble-flow``)
redshift     float   heliocentric redshift (from the NED cache; NaN unknown)
===========  ======  =======================================================

The index copies it into its GALAXIES HDU, so distances are queryable from the index alone
(use case 1: "galaxies within 15 Mpc").  ``sfng galaxies import FILE`` merges a CSV, FITS or
ECSV table into it; ``sfng galaxies set NAME --dist 9.9`` edits one row; ``sfng galaxies fill``
(:mod:`sfng.distances`) gives every galaxy of the store a distance that is not hand-set.

The last three columns came later: a table written before them reads as before (a distance it
holds counts as hand-set), and an older sfng reading a newer table ignores them.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SfngError
from .fsutil import atomic_write_text

TABLE = "tables/galaxies.ecsv"
COLUMNS = ("name", "aliases", "ra", "dec", "dist", "dist_src", "dist_method", "dist_origin", "redshift")
#: ``dist_origin`` of a value a person gave (``galaxies set``, ``galaxies import``): never replaced
#: by ``galaxies fill``.  Every other origin is a source ``galaxies fill`` used.
HAND = "hand"
#: Accepted column names when importing (case-insensitive), first match wins.
SYNONYMS = {
    "name": ("name", "ned_name", "galaxy", "object", "objname", "ned name"),
    "aliases": ("aliases", "alias", "other_names", "altnames"),
    "ra": ("ra", "ra_deg", "raj2000", "_raj2000"),
    "dec": ("dec", "dec_deg", "dej2000", "_dej2000", "decj2000"),
    "dist": ("dist", "dist_mpc", "distance", "d_mpc", "d"),
    "dist_src": ("dist_src", "dist_source", "dist_ref", "distance_ref", "ref_dist", "dist_method"),
    "dist_method": ("dist_method", "method"),
    "dist_origin": ("dist_origin",),
    "redshift": ("redshift",),
}
NAN = float("nan")


@dataclass
class Galaxy:
    """A galaxy: NED name, aliases, position (deg), distance (Mpc), its source, method and origin
    (``hand`` or the ``galaxies fill`` source; empty with a distance means hand-set), redshift."""

    name: str
    aliases: tuple = ()
    ra: float = NAN
    dec: float = NAN
    dist: float = NAN
    dist_src: str = ""
    dist_method: str = ""
    dist_origin: str = ""
    redshift: float = NAN

    def names(self) -> tuple:
        return (self.name, *self.aliases)

    @property
    def origin(self) -> str:
        """Who set the distance: ``hand``, a ``galaxies fill`` source, or '' (no distance)."""
        if _nan(self.dist):
            return ""
        return self.dist_origin or HAND

    @property
    def hand_set(self) -> bool:
        """A distance a person gave (``galaxies fill`` never replaces it)."""
        return self.origin == HAND

    def as_dict(self) -> dict:
        return {"name": self.name, "aliases": list(self.aliases), "ra": _none(self.ra),
                "dec": _none(self.dec), "dist": _none(self.dist), "dist_src": self.dist_src,
                "dist_method": self.dist_method, "dist_origin": self.origin,
                "redshift": _none(self.redshift)}


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
        Known values are kept unless ``new`` gives a value (NaN and '' mean "not given").  A
        distance ``new`` gives is hand-set unless ``new.dist_origin`` says otherwise; replacing
        a distance ``galaxies fill`` set drops that fill's source and method with it."""
        new = _settled(new)
        old = self.find(new.name) or next((self.find(a) for a in new.aliases if self.find(a)), None)
        if old is None:
            self.galaxies.append(new)
            self._reindex()
            return "added"
        if _nan(new.dist):
            dist, src = old.dist, new.dist_src or old.dist_src
            method = new.dist_method or old.dist_method
            # a person naming the source or method of a filled distance adopts it: hand-set now
            edited = bool(new.dist_src or new.dist_method) and new.dist_origin in ("", HAND)
            origin = HAND if edited and not _nan(old.dist) else old.dist_origin
        elif not old.hand_set:
            dist, src, method, origin = new.dist, new.dist_src, new.dist_method, new.dist_origin
        else:
            dist, src, origin = new.dist, new.dist_src or old.dist_src, new.dist_origin
            method = new.dist_method or ("" if new.dist_src else old.dist_method)
        merged = _settled(replace(
            old,
            aliases=tuple(dict.fromkeys([*old.aliases, *(a for a in (new.name, *new.aliases)
                                                          if name_key(a) != name_key(old.name))])),
            ra=old.ra if _nan(new.ra) else new.ra, dec=old.dec if _nan(new.dec) else new.dec,
            dist=dist, dist_src=src, dist_method=method, dist_origin=origin,
            redshift=old.redshift if _nan(new.redshift) else new.redshift))
        return self.replace(old, merged)

    def replace(self, old: Galaxy, new: Galaxy) -> str:
        """Put ``new`` in the place of ``old`` (a row of this table); updated/unchanged."""
        new = _settled(new)
        if new == old:
            return "unchanged"
        self.galaxies[self.galaxies.index(old)] = new
        self._reindex()
        return "updated"

    def __len__(self):
        return len(self.galaxies)

    def __iter__(self):
        return iter(self.galaxies)


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _settled(g: Galaxy) -> Galaxy:
    """``g`` with ``dist_origin`` stated: ``hand`` for a distance of unknown origin, '' for none."""
    origin = g.origin
    return g if origin == g.dist_origin else replace(g, dist_origin=origin)


def table_path(store) -> Path:
    return Path(store.root) / TABLE


@contextlib.contextmanager
def table_lock(store=None, path=None):
    """Hold the galaxy table for a read-merge-write (``galaxies set``, ``import`` and ``fill`` at
    once never lose each other's rows; readers need no lock: the file is replaced atomically).
    The store's one lock (:class:`sfng.journal.Lock`), waiting up to ``journal.TABLE_WAIT`` seconds
    for another writer to finish; temporaries of killed writers in the table's folder are removed."""
    from .fsutil import fault_point, remove_stale_temporaries
    from .journal import TABLE_WAIT, Lock, state_dir

    path = Path(path) if path is not None else table_path(store)
    if store is not None:
        lock = state_dir(store.root, "locks") / "galaxies.lock"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.parent / f".{path.name}.lock"
    with Lock(lock, f"the galaxy table {path.name}", wait=TABLE_WAIT):
        if path.parent.is_dir():
            remove_stale_temporaries(path.parent)
        fault_point("galaxies: locked")
        yield


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
    t = Table(rows=[(g.name, ";".join(g.aliases), g.ra, g.dec, g.dist, g.dist_src, g.dist_method,
                     g.origin, g.redshift) for g in gals],
              names=COLUMNS, dtype=(str, str, float, float, float, str, str, str, float))
    t["ra"].unit, t["dec"].unit, t["dist"].unit = "deg", "deg", "Mpc"
    t["name"].description = "NED preferred name"
    t["aliases"].description = "other names, ';'-separated"
    t["dist_src"].description = "source of the distance"
    t["dist_method"].description = "how the distance was measured (TRGB, Cepheid, TF, hubble-flow, ...)"
    t["dist_origin"].description = "hand (set by a person, kept) or the `galaxies fill` source"
    t["redshift"].description = "heliocentric redshift (NED)"
    t.meta["comments"] = [("sfng galaxy table: edit with `sfng galaxies set` / `sfng galaxies import`; "
                           "`sfng galaxies fill` adds distances that are not hand-set")]
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
        dist = _float(row, cols["dist"], path, i)
        origin = _text(row[cols["dist_origin"]]) if cols["dist_origin"] else ""
        out.append(Galaxy(name=name, aliases=aliases,
                          ra=_float(row, cols["ra"], path, i), dec=_float(row, cols["dec"], path, i),
                          dist=dist,
                          dist_src=_text(row[cols["dist_src"]]) if cols["dist_src"] else "",
                          dist_method=_text(row[cols["dist_method"]]) if cols["dist_method"] else "",
                          dist_origin=(origin or HAND) if not _nan(dist) else "",
                          redshift=_float(row, cols["redshift"], path, i)))
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
    with contextlib.nullcontext() if dry_run else table_lock(store):
        table = read_galaxies(store)
        rep = ImportReport(source=source)
        for g in galaxies:
            getattr(rep, table.upsert(g)).append(g.name)
        if not dry_run and (rep.added or rep.updated or not table_path(store).exists()):
            write_galaxies(table, store)
            rep.written = True
    return rep


def set_galaxy(store, name: str, *, dist=None, dist_src=None, ra=None, dec=None, aliases=(),
               dist_method=None, dry_run: bool = False) -> tuple[Galaxy, str]:
    """Create or change one galaxy; returns (the galaxy as it now is, added/updated/unchanged).
    A distance given here is hand-set: ``galaxies fill`` never replaces it."""
    for what, v in (("--dist", dist), ("--ra", ra), ("--dec", dec)):
        if v is not None and not math.isfinite(v):
            raise SfngError(f"{what} must be a finite number, not {v}")
    if dist is not None and dist <= 0:
        raise SfngError(f"--dist must be a positive distance in Mpc, not {dist}")
    if dec is not None and not -90 <= dec <= 90:
        raise SfngError(f"--dec must be within -90..90 degrees, not {dec}")
    g = Galaxy(name=name.strip(), aliases=tuple(aliases),
               ra=NAN if ra is None else float(ra) % 360.0, dec=NAN if dec is None else float(dec),
               dist=NAN if dist is None else float(dist), dist_src=dist_src or "",
               dist_method=dist_method or "", dist_origin=HAND if dist is not None else "")
    if not g.name:
        raise SfngError("a galaxy needs a name")
    with contextlib.nullcontext() if dry_run else table_lock(store):
        table = read_galaxies(store)
        what = table.upsert(g)
        if what != "unchanged" and not dry_run:
            write_galaxies(table, store)
    return table.find(g.name), what
