"""Distances for every galaxy of a store: ``sfng galaxies fill``.

Outside the demo the galaxy table (``tables/galaxies.ecsv``, copied into the index's GALAXIES
HDU) starts empty, so nothing answers ``--dist '<15'`` until distances are typed in.
:func:`fill_galaxies` gives each galaxy of the store a position, a redshift and a distance with
its source and method, from the first of these that has one (docs/galaxies.md, "Filling
distances"):

1. a **hand-set** distance (``galaxies set``, ``galaxies import``): always kept, never replaced;
2. the **shipped table** ``sfng/data/distances.csv``: redshift-independent distances of the
   THINGS, HERACLES, KINGFISH and PHANGS galaxies as adopted in the literature, each row citing
   its bibcode and method (origin ``table``);
3. with ``online=True``: the **Updated Nearby Galaxy Catalog** (Karachentsev et al. 2013,
   VizieR ``J/AJ/145/101``; origin ``ungc``) and then **Cosmicflows-3** (Tully et al. 2016,
   VizieR ``J/AJ/152/50``; origin ``cf3``), asked through ``astroquery.vizier`` by position;
4. a **Hubble-flow** distance ``cz / H0`` from the NED redshift in the store's name cache, H0
   stated in the source text (origin and method ``hubble-flow``).  No redshift: unknown.

A distance ``galaxies fill`` set before is replaced only by a better-ranked source or by a new
value of the same source (a new shipped table, another H0): an offline run never replaces a
catalogue distance with a Hubble-flow one.

"Galaxies of the store" are the galaxy table's rows, the galaxies the store's files were stored
under (their NED names, in the ``MANIFEST.sha256`` of every ``data/`` and ``derived/`` folder,
pair companions included) and those of the last index (its GALAXIES HDU), or only those the
caller names; positions and redshifts come from the NED name cache (asked from NED only with
``online=True``).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SfngError
from .galaxies import (
    HAND,
    Galaxy,
    read_galaxies,
    table_lock,
    table_path,
    write_galaxies,
)
from .naming import normalise

#: The shipped table (one row per galaxy; '#' lines are its header: the sources it was read from).
SHIPPED = Path(__file__).resolve().parent / "data" / "distances.csv"
SHIPPED_COLUMNS = ("name", "aliases", "dist_mpc", "e_dist_dex", "method", "ref", "compiled_in", "note")
DEFAULT_H0 = 70.0
C_KMS = 299792.458
NAN = float("nan")
#: Position match radius for the catalogues (arcsec): a galaxy's catalogue position and NED's
#: differ by a few arcsec; a second galaxy that close is a pair, resolved by name or refused.
MATCH_RADIUS = 60.0

#: ``dist_origin`` values of ``galaxies fill``, best first (a hand-set distance outranks them all).
TABLE, UNGC, CF3, HUBBLE = "table", "ungc", "cf3", "hubble-flow"
RANK = {TABLE: 1, UNGC: 2, CF3: 3, HUBBLE: 4}


@dataclass(frozen=True)
class Catalogue:
    """A VizieR catalogue of redshift-independent distances."""

    origin: str
    vizier: str
    bibcode: str
    label: str  # short: dist_src leads with method, label and bibcode (the index keeps 64 chars)
    dist_column: str = "Dist"


CATALOGUES = (
    Catalogue(UNGC, "J/AJ/145/101/catalog", "2013AJ....145..101K", "UNGC"),
    Catalogue(CF3, "J/AJ/152/50/table3", "2016AJ....152...50T", "CF3"),
)

#: UNGC ``f_Dist`` codes (its Table 1 note) -> method; ``h``/``h#`` (Hubble flow at H0 = 73) and
#: ``txt`` (texture) are not redshift-independent distances and are not used.
UNGC_METHODS = {"TRGB": "TRGB", "Cep": "Cepheid", "SBF": "SBF", "SN": "SN", "mem": "group",
                "TF": "TF", "FP": "FP", "BTF": "baryonic TF", "BS": "brightest stars",
                "CMD": "CMD", "HB": "HB", "RR": "RR Lyrae", "PNLF": "PNLF", "geom": "geometric"}


# ---------------------------------------------------------------------------------------------
# The shipped table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShippedDistance:
    """One row of :data:`SHIPPED`."""

    name: str
    aliases: tuple
    dist: float
    e_dist_dex: float
    method: str
    ref: str
    compiled_in: str
    note: str = ""

    def source_text(self) -> str:
        """``dist_src``: method and bibcodes first (the index keeps 64 characters of it)."""
        via = "" if self.compiled_in == self.ref else f" via {self.compiled_in}"
        return f"{self.method} {self.ref}{via} (sfng table)"


def read_shipped(path=None) -> list[ShippedDistance]:
    """The rows of the shipped distance table (or of ``path``, a file in its format)."""
    path = Path(path) if path is not None else SHIPPED
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SfngError(f"{path}: cannot read the distance table: {exc}") from exc
    reader = csv.DictReader(line for line in lines if line.strip() and not line.startswith("#"))
    missing = [c for c in SHIPPED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SfngError(f"{path}: not a distance table: missing column(s) {', '.join(missing)}")
    out = []
    for i, row in enumerate(reader, start=1):
        try:
            dist = float(row["dist_mpc"])
            err = float(row["e_dist_dex"]) if (row["e_dist_dex"] or "").strip() else NAN
        except ValueError as exc:
            raise SfngError(f"{path}: row {i} ({row.get('name')}): {exc}") from exc
        if not (math.isfinite(dist) and dist > 0) or not row["ref"].strip() or not row["method"].strip():
            raise SfngError(f"{path}: row {i} ({row.get('name')}): needs a positive distance, "
                            f"a reference and a method")
        out.append(ShippedDistance(row["name"].strip(),
                                   tuple(a.strip() for a in (row["aliases"] or "").split(";") if a.strip()),
                                   dist, err, row["method"].strip(), row["ref"].strip(),
                                   row["compiled_in"].strip(), (row["note"] or "").strip()))
    return out


def shipped_index(rows) -> dict:
    """Normalised name/alias -> :class:`ShippedDistance`."""
    by = {}
    for r in rows:
        for n in (r.name, *r.aliases):
            by.setdefault(normalise(n), r)
    return by


# ---------------------------------------------------------------------------------------------
# The galaxies of a store
# ---------------------------------------------------------------------------------------------

def store_galaxies(store, table=None) -> list[str]:
    """Names of the store's galaxies: the galaxy table's, the NED names the files of ``data/``
    and ``derived/`` were stored under (their manifests, pair companions too), and those of the
    last index's GALAXIES HDU (galaxies it found by OBJECT in files ingest did not rename)."""
    from .manifest import MANIFEST_NAME, read_manifest

    names = [g.name for g in (table if table is not None else read_galaxies(store))]
    root = Path(store.root)
    for tree in ("data", "derived"):
        base = root / tree
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                             and not (Path(folder) == base and d == "bygalaxy"))
            if MANIFEST_NAME not in files:
                continue
            for entry in read_manifest(folder).values():
                if not (Path(folder) / entry.name).exists():
                    continue  # listed, since removed
                names.extend(n for n in (entry.galaxy, *entry.companions) if n)
    names.extend(_indexed_galaxies(store))
    seen, out = set(), []
    for n in names:
        if normalise(n) not in seen:
            seen.add(normalise(n))
            out.append(n)
    return out


def _indexed_galaxies(store) -> list[str]:
    """The galaxies of the store's last index (its GALAXIES HDU, ``name``: docs/index-schema.md),
    which also knows galaxies found by OBJECT in files ingest did not rename; [] without one."""
    path = Path(store.index_path)
    if not path.is_file():
        return []
    try:
        from astropy.io import fits

        with fits.open(path, memmap=True) as hdul:
            names = hdul["GALAXIES"].data["name"]
            return [n.decode() if isinstance(n, bytes) else str(n) for n in names if str(n).strip()]
    except Exception:  # noqa: BLE001 - an unreadable index only means fewer names
        return []


# ---------------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A distance one source offers for a galaxy."""

    origin: str
    dist: float
    method: str
    src: str


@dataclass
class _Looked:
    """What phase one learnt about a galaxy (no table involved)."""

    name: str
    ned_name: str = ""
    ra: float = NAN
    dec: float = NAN
    redshift: float = NAN
    keys: set = field(default_factory=set)
    aliases: tuple = ()  # other names the NED cache has for it (a new row gets them)
    candidates: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def hubble_flow(redshift: float, h0: float = DEFAULT_H0) -> Candidate | None:
    """``cz / H0`` for a positive redshift, flagged as such; None without one."""
    if redshift is None or not math.isfinite(redshift) or redshift <= 0:
        return None
    cz = C_KMS * redshift
    caveat = "; below ~1000 km/s peculiar velocities dominate" if cz < 1000 else ""
    return Candidate(HUBBLE, round(cz / h0, 3), HUBBLE,
                     f"hubble-flow, H0 = {h0:g} km/s/Mpc: z = {redshift:g} (NED), cz = {cz:.0f} "
                     f"km/s, D = cz/H0; not redshift-independent{caveat}")


class VizierSource:
    """Asks the catalogues through ``astroquery.vizier`` (only with ``online=True``)."""

    def __init__(self, vizier=None, radius_arcsec: float = MATCH_RADIUS, timeout: float = 30.0):
        self._vizier = vizier
        self.radius = float(radius_arcsec)
        self.timeout = timeout
        self.down: dict = {}  # catalogue origin -> why it was not asked any more

    def vizier(self):
        if self._vizier is None:
            from astroquery.vizier import Vizier

            self._vizier = Vizier(columns=["*", "+_r"], row_limit=50, timeout=self.timeout)
        return self._vizier

    def candidate(self, cat: Catalogue, looked: _Looked) -> tuple[Candidate | None, str]:
        """(candidate or None, what happened)."""
        if cat.origin in self.down:
            return None, f"{cat.origin}: not asked ({self.down[cat.origin]})"
        try:
            table = self._query(cat, looked)
        except Exception as exc:  # noqa: BLE001 - any failure of the service: say it, go on
            why = f"VizieR failed: {type(exc).__name__}: {exc}"
            self.down[cat.origin] = why
            return None, f"{cat.origin}: {why}"
        if table is None or len(table) == 0:
            return None, f"{cat.origin}: no entry within {self.radius:g}\""
        row, why = _choose(table, looked.keys, self.radius)
        if row is None:
            return None, f"{cat.origin}: {why}"
        dist = _cell_float(row, cat.dist_column)
        if not (math.isfinite(dist) and dist > 0):
            return None, f"{cat.origin}: entry {_row_name(row)!r} has no distance"
        if cat.origin == UNGC:
            code = _cell_str(row, "f_Dist")
            method = UNGC_METHODS.get(code)
            if method is None:
                return None, (f"{cat.origin}: {_row_name(row)!r} has only a {code or 'unflagged'} "
                              f"distance (not redshift-independent)")
        else:
            method = "CF3 mean"
        src = f"{method}: {cat.label} {cat.bibcode} (VizieR {cat.vizier}, entry {_row_name(row)!r})"
        return Candidate(cat.origin, round(dist, 3), method, src), f"{cat.origin}: {dist:g} Mpc"

    def _query(self, cat: Catalogue, looked: _Looked):
        import astropy.units as u

        v = self.vizier()
        radius = self.radius * u.arcsec
        if math.isfinite(looked.ra) and math.isfinite(looked.dec):
            from astropy.coordinates import SkyCoord

            coord = SkyCoord(looked.ra, looked.dec, unit="deg", frame="icrs")
            got = v.query_region(coord, radius=radius, catalog=cat.vizier, cache=False)
        else:
            got = v.query_object(looked.ned_name or looked.name, radius=radius, catalog=cat.vizier,
                                 cache=False)
        if got is None or len(got) == 0:
            return None
        keys = list(got.keys()) if hasattr(got, "keys") else []
        return got[cat.vizier] if cat.vizier in keys else got[0]


_NAME_COLUMNS = ("Name", "NEDname", "SimbadName", "MainName", "Galaxy", "PGC")


def _row_name(row) -> str:
    for c in _NAME_COLUMNS:
        v = _cell_str(row, c)
        if v:
            return f"PGC {v}" if c == "PGC" else v
    return "?"


def _choose(table, keys: set, radius_arcsec: float):
    """The row for the galaxy: the one row within the radius, or the one whose name is the
    galaxy's, or the nearest when the next is more than twice as far; else (None, why)."""
    rows = list(table)
    seps = [_separation_arcsec(table, r) for r in rows]
    near = sorted(((s, i) for i, s in enumerate(seps) if not (math.isfinite(s) and s > radius_arcsec)),
                  key=lambda t: (not math.isfinite(t[0]), t[0]))
    if not near:
        return None, f"no entry within {radius_arcsec:g}\""
    named = [i for _, i in near if any(normalise(_cell_str(rows[i], c)) in keys
                                        for c in _NAME_COLUMNS if c != "PGC" and _cell_str(rows[i], c))]
    if named:
        return rows[named[0]], ""
    if len(near) == 1:
        return rows[near[0][1]], ""
    (s0, i0), (s1, _) = near[0], near[1]
    if math.isfinite(s0) and math.isfinite(s1) and s1 > 2.0 * max(s0, 1.0):
        return rows[i0], ""
    return None, (f"{len(near)} entries within {radius_arcsec:g}\" and none named like the galaxy "
                  f"(sfng does not guess)")


def _separation_arcsec(table, row) -> float:
    if "_r" not in table.colnames:
        return NAN
    v = _cell_float(row, "_r")
    unit = getattr(table["_r"], "unit", None)
    if not math.isfinite(v):
        return NAN
    try:
        import astropy.units as u

        return float((v * (unit or u.arcmin)).to(u.arcsec).value)
    except Exception:  # noqa: BLE001 - a unit that is not an angle: VizieR's default, arcmin
        return v * 60.0


def _cell_str(row, col) -> str:
    import numpy as np

    try:
        v = row[col]
    except (KeyError, IndexError, ValueError):
        return ""
    if v is None or v is np.ma.masked:
        return ""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v).strip()


def _cell_float(row, col) -> float:
    import numpy as np

    try:
        v = row[col]
    except (KeyError, IndexError, ValueError):
        return NAN
    if v is None or v is np.ma.masked:
        return NAN
    try:
        return float(v)
    except (TypeError, ValueError):
        return NAN


# ---------------------------------------------------------------------------------------------
# fill
# ---------------------------------------------------------------------------------------------

@dataclass
class Filled:
    """What ``galaxies fill`` did (or would do) for one galaxy.

    ``action``: ``filled`` (it had no distance), ``replaced`` (a distance fill set before, now
    a better or newer one), ``kept`` (hand-set: never touched), ``unchanged`` or ``unknown`` (no
    source has one).  ``row``: the table row ``added``/``updated``/``unchanged``.
    """

    name: str
    action: str
    row: str
    dist: float = NAN
    dist_src: str = ""
    dist_method: str = ""
    dist_origin: str = ""
    ra: float = NAN
    dec: float = NAN
    redshift: float = NAN
    old_dist: float = NAN
    old_src: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        def num(x):
            return None if isinstance(x, float) and math.isnan(x) else x

        return {"name": self.name, "action": self.action, "row": self.row, "dist": num(self.dist),
                "dist_src": self.dist_src, "dist_method": self.dist_method,
                "dist_origin": self.dist_origin, "ra": num(self.ra), "dec": num(self.dec),
                "redshift": num(self.redshift), "old_dist": num(self.old_dist),
                "old_src": self.old_src, "message": self.message}


@dataclass
class FillReport:
    galaxies: list = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    online: bool = False
    h0: float = DEFAULT_H0
    notes: list = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for g in self.galaxies if g.action == action)

    @property
    def changed(self) -> list:
        return [g for g in self.galaxies if g.row != "unchanged"]

    def summary(self) -> str:
        parts = [f"{self.count(a)} {a}" for a in ("filled", "replaced", "kept", "unchanged", "unknown")
                 if self.count(a)]
        head = f"{len(self.galaxies)} galaxies: " + (", ".join(parts) or "nothing to do")
        if self.dry_run:
            return head + " (dry run: nothing written)"
        return head + ("" if self.written else " (table unchanged)")

    def as_dict(self) -> dict:
        return {"galaxies": [g.as_dict() for g in self.galaxies], "written": self.written,
                "dry_run": self.dry_run, "online": self.online, "h0": self.h0, "notes": self.notes,
                "counts": {a: self.count(a) for a in ("filled", "replaced", "kept", "unchanged", "unknown")}}


def fill_galaxies(store, names=(), *, online: bool = False, h0: float = DEFAULT_H0,
                  dry_run: bool = False, from_cache: bool = False, resolver=None, vizier=None,
                  shipped=None) -> FillReport:
    """Give every galaxy of ``store`` (and each of ``names``) a position, a redshift and a
    distance that is not hand-set, and write the galaxy table (atomically, under its lock).

    Parameters
    ----------
    names : iterable of str
        Only these galaxies (any name the NED cache or the table knows); default every galaxy
        of the store (:func:`store_galaxies`).
    online : bool
        Ask the UNGC and Cosmicflows-3 through VizieR, and NED for galaxies not in the cache.
    h0 : float
        Hubble constant (km/s/Mpc) for Hubble-flow distances; stated in their source text.
    from_cache : bool
        Also every galaxy (NED type G...) of the NED name cache.
    resolver, vizier, shipped
        A :class:`sfng.ned.Resolver`, an ``astroquery.vizier.Vizier`` and a shipped-table path,
        for tests and callers with their own.
    """
    if not (isinstance(h0, (int, float)) and math.isfinite(h0) and h0 > 0):
        raise SfngError(f"--h0 must be a positive number of km/s/Mpc, not {h0}")
    from .ned import Resolver

    rep = FillReport(dry_run=dry_run, online=online, h0=float(h0))
    resolver = resolver or Resolver(store, offline=not online)
    by_ned = _cache_names(resolver)
    table = read_galaxies(store)
    wanted = list(names) or store_galaxies(store, table)
    if from_cache:
        wanted += [r.ned_name for r in resolver.entries() if (r.ned_type or "G").startswith("G")]
    shipped_by = shipped_index(read_shipped(shipped))
    source = VizierSource(vizier) if online else None

    looked, seen = [], set()
    for name in wanted:
        try:
            lk = _look(name, table, resolver, by_ned, online, rep)
        except SfngError as exc:  # one galaxy's trouble is that galaxy's message
            rep.galaxies.append(Filled(name=name, action="unknown", row="unchanged", message=str(exc)))
            continue
        if lk is None or normalise(lk.name) in seen:
            continue
        seen.add(normalise(lk.name))
        hit = next((shipped_by[k] for k in sorted(lk.keys) if k in shipped_by), None)
        if hit is not None:
            lk.candidates.append(Candidate(TABLE, hit.dist, hit.method, hit.source_text()))
        if source is not None:
            for cat in CATALOGUES:
                cand, what = source.candidate(cat, lk)
                lk.notes.append(what)
                if cand is not None:
                    lk.candidates.append(cand)
        cand = hubble_flow(lk.redshift, h0)
        if cand is not None:
            lk.candidates.append(cand)
        looked.append(lk)
    if source is not None:
        rep.notes.extend(f"{o}: {why}" for o, why in source.down.items())

    with contextlib.nullcontext() if dry_run else table_lock(store):
        table = read_galaxies(store)  # again: a `galaxies set` meanwhile is kept
        for lk in looked:
            rep.galaxies.append(_apply(table, lk))
        if not dry_run and (rep.changed or (looked and not table_path(store).exists())):
            write_galaxies(table, store)
            rep.written = True
    return rep


def _cache_names(resolver) -> dict:
    """Normalised NED name -> every name the cache holds for it (inputs and the NED name)."""
    out: dict = {}
    try:
        entries = resolver.entries()
    except SfngError:
        return out
    for r in entries:
        out.setdefault(normalise(r.ned_name), {}).update({r.ned_name: None, r.input: None})
    return out


def _look(name, table, resolver, by_ned, online, rep) -> _Looked | None:
    """Phase one for ``name``: its NED answer (cache, else NED when online) and match keys."""
    g = table.find(name)
    hit = None
    for n in (name, *(g.names() if g else ())):
        hit = resolver.lookup(n)
        if hit:
            break
    ned_name = (hit or {}).get("ned_name") or ""
    if hit is None and online:
        try:
            rec = resolver.resolve(name)
            hit = {"ned_name": rec.ned_name, "ra": rec.ra, "dec": rec.dec, "redshift": rec.redshift}
            ned_name = rec.ned_name
        except SfngError as exc:
            rep.notes.append(f"{name}: NED: {exc}")
    # the table's own name wins (the store's files are named by it); else NED's
    lk = _Looked(name=g.name if g else (ned_name or name.strip()), ned_name=ned_name)
    if not lk.name:
        return None
    lk.ra, lk.dec = _num(g.ra) if g else NAN, _num(g.dec) if g else NAN
    if hit:
        if not math.isfinite(lk.ra) or not math.isfinite(lk.dec):
            lk.ra, lk.dec = _num(hit.get("ra")), _num(hit.get("dec"))
        lk.redshift = _num(hit.get("redshift"))
    if g is not None and math.isfinite(g.redshift) and not math.isfinite(lk.redshift):
        lk.redshift = g.redshift
    names = [n for n in (name, lk.name, ned_name, *(g.names() if g else ())) if n]
    for n in list(names):
        names.extend(by_ned.get(normalise(n), ()))
    lk.keys = {normalise(n) for n in names} - {""}
    aliases = {}
    for n in names:
        if normalise(n) != normalise(lk.name):
            aliases.setdefault(normalise(n), n.strip())
    lk.aliases = tuple(aliases.values())
    if hit is None:
        lk.notes.append("not in the NED name cache: no position or redshift"
                        + ("" if online else " (--online asks NED)"))
    return lk


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return NAN
    return v


def _apply(table, lk: _Looked) -> Filled:
    """Phase two, under the table lock: decide and change the row of ``lk``."""
    g = table.find(lk.name) or next((table.find(k) for k in sorted(lk.keys) if table.find(k)), None)
    base = g or Galaxy(name=lk.name, aliases=lk.aliases)
    new = base
    if not (math.isfinite(new.ra) and math.isfinite(new.dec)) and math.isfinite(lk.ra) \
            and math.isfinite(lk.dec):
        new = replace(new, ra=lk.ra % 360.0, dec=lk.dec)
    if not math.isfinite(new.redshift) and math.isfinite(lk.redshift):
        new = replace(new, redshift=lk.redshift)
    best = min(lk.candidates, key=lambda c: RANK[c.origin], default=None)
    tried = "; ".join(lk.notes)
    if base.hand_set:
        action = "kept"
        msg = f"hand-set {base.dist:g} Mpc kept ({base.dist_src or 'no source given'})"
    elif best is None:
        if math.isfinite(base.dist):
            action, msg = "unchanged", f"{base.dist:g} Mpc ({base.dist_origin}) kept: no source now"
        else:
            action = "unknown"
            msg = ("no distance: not in the shipped table"
                   + ("" if any(n.startswith(("ungc", "cf3")) for n in lk.notes) else
                      " (--online asks the UNGC and Cosmicflows-3)")
                   + (", and no NED redshift" if not math.isfinite(lk.redshift) else
                      ", and NED redshift z <= 0: no Hubble-flow distance"))
    else:
        old_rank = RANK.get(base.dist_origin, 99) if math.isfinite(base.dist) else 99
        if old_rank < RANK[best.origin]:
            action = "unchanged"
            msg = f"{base.dist:g} Mpc ({base.dist_origin}) kept: better than {best.origin} now"
        else:
            new = replace(new, dist=best.dist, dist_src=best.src, dist_method=best.method,
                          dist_origin=best.origin)
            same = (math.isfinite(base.dist) and base.dist == best.dist
                    and base.dist_src == best.src and base.dist_origin == best.origin)
            action = "unchanged" if same else ("replaced" if math.isfinite(base.dist) else "filled")
            msg = f"{best.dist:g} Mpc, {best.src}"
    if tried:
        msg += f" [{tried}]"
    if g is None:
        # a galaxy nothing is known about gets no empty row (the index lists it from its files)
        row = "unchanged" if new == base else ("added" if table.upsert(new) == "added" else "updated")
    else:
        row = table.replace(g, new)
    now = table.find(new.name) or new
    return Filled(name=now.name, action=action, row=row, dist=now.dist, dist_src=now.dist_src,
                  dist_method=now.dist_method, dist_origin=now.origin, ra=now.ra, dec=now.dec,
                  redshift=now.redshift, old_dist=base.dist, old_src=base.dist_src, message=msg)


__all__ = [
    "CATALOGUES",
    "DEFAULT_H0",
    "HAND",
    "SHIPPED",
    "FillReport",
    "Filled",
    "fill_galaxies",
    "hubble_flow",
    "read_shipped",
    "store_galaxies",
]
