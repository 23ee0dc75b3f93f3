"""NED name resolution: astroquery behind a shared cache, manual overrides and an offline mode.

The store keeps every answer NED gave in ``tables/ned_names.csv`` (configurable as
``ned.cache`` in ``sfng.yaml``), a plain CSV a person can read and edit::

    input,ned_name,ra,dec,ned_type,redshift,asked,source
    NGC 628,MESSIER 074,24.173946,15.783662,G,0.002192,2026-11-23T18:40:00+00:00,ned

``ra`` and ``dec`` are J2000 degrees, ``redshift`` is NED's heliocentric redshift (empty when
unknown), ``asked`` is when NED was asked (UTC, ISO 8601), ``source`` where the row came from
(``ned``, ``ned-position``, ``demo``, ``import``).  Manual corrections live in
``tables/ned_overrides.csv`` and win over NED and the cache.

Look-ups go: override -> cache -> NED.  Keys are :func:`sfng.naming.normalise`\\ d, so ``NGC 628``,
``NGC0628`` and ``ngc 628`` share one entry, and ``M74`` finds the entry whose NED name is
``MESSIER 074``.  Offline (``offline=True``, ``SFNG_OFFLINE=1`` or ``ned: {offline: true}`` in
``sfng.yaml``) the network is never touched and a cache miss raises :class:`Unavailable`.
Time-outs, connection errors and NED's transient ``Error`` answers are retried with back-off;
"No object found" is not.  A failed answer is never cached.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import SfngError
from .naming import normalise

#: Columns of the cache table, in order.
CACHE_COLUMNS = ["input", "ned_name", "ra", "dec", "ned_type", "redshift", "asked", "source"]
#: Columns of the overrides table; ``ra``, ``dec``, ``ned_type`` may be left empty.
OVERRIDE_COLUMNS = ["input", "ned_name", "ra", "dec", "ned_type", "note", "added"]
#: NED object types that count as a galaxy for :meth:`Resolver.by_position`.
GALAXY_TYPES = ("G",)
#: by_position refuses to choose when the second-nearest galaxy is closer than this many times
#: the distance of the nearest.
AMBIGUITY_RATIO = 2.0
#: Seconds before the first retry; doubled each time, at most :data:`MAX_BACKOFF`.
BACKOFF = 1.0
MAX_BACKOFF = 30.0

_NOT_FOUND = re.compile(r"no object(?:s)? (?:was |were )?found|not (?:currently )?recogni[sz]ed|"
                        r"there is no object|object not found|unknown object", re.I)
_TRUE = {"1", "true", "yes", "on"}


class NotFound(SfngError):
    """NED has no object of that name (its definite answer, not a failure)."""


class Unavailable(SfngError):
    """No answer could be had: offline cache miss, NED unreachable or failing."""


class Ambiguous(SfngError):
    """More than one galaxy fits and sfng does not guess."""


@dataclass(frozen=True)
class NameRecord:
    """One resolved name.

    Attributes
    ----------
    input : str
        The name as asked.
    ned_name : str
        NED's preferred name (or the override's).
    ra, dec : float
        J2000 position in degrees (NaN when unknown).
    ned_type : str or None
        NED's object type (``G``, ``GPair``, ...), None when unknown.
    redshift : float
        Heliocentric redshift (NaN when unknown).
    asked : str
        When NED was asked (or the override added), UTC ISO 8601.
    source : str
        ``ned`` (asked now), ``cache``, ``override``, ``ned-position`` (found by position).
    """

    input: str
    ned_name: str
    ra: float = math.nan
    dec: float = math.nan
    ned_type: str | None = None
    redshift: float = math.nan
    asked: str = ""
    source: str = "ned"

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("ra", "dec", "redshift"):
            if isinstance(d[k], float) and math.isnan(d[k]):
                d[k] = None
        return d


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# The plain-text tables
# ---------------------------------------------------------------------------------------------

def _float(text) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _fmt(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))


def read_table(path, columns) -> list[dict]:
    """Rows of a sfng CSV table (empty list when the file does not exist).

    Raises SfngError naming the file when its header lacks a required column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may add a BOM
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise SfngError(f"{path}: cannot read the table: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    try:
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise SfngError(f"{path}: not a sfng names table: missing column(s) {', '.join(missing)} "
                            f"(expected header: {','.join(columns)})")
        rows = []
        for row in reader:
            row = {c: (row.get(c) or "").strip() for c in columns}
            if row["input"] and row["ned_name"]:
                rows.append(row)
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (128 kB): a damaged table
        raise SfngError(f"{path}, line {reader.line_num + 1}: cannot read the table ({exc}; fields are "
                        f"at most {csv.field_size_limit()} characters); fix or remove that row") from None
    return rows


def render_table(columns, rows) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in sorted(rows, key=lambda r: (normalise(r["ned_name"]), normalise(r["input"]))):
        w.writerow(row)
    return buf.getvalue()


@contextlib.contextmanager
def _locked(path: Path):
    """Serialise read-merge-write of ``path`` between processes (readers need no lock: the
    file is replaced atomically).  The store's one lock, waiting for another writer to finish."""
    from .fsutil import WRITE_ERRNOS, os_error_message
    from .journal import TABLE_WAIT, Lock

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise SfngError(f"cannot write {path.name}: {os_error_message(exc)}") from None
        raise
    with Lock(path.parent / f".{path.name}.lock", f"the name table {path.name}", wait=TABLE_WAIT):
        from .fsutil import remove_stale_temporaries

        remove_stale_temporaries(path.parent)  # killed writers' (their process is gone)
        yield


def update_table(path, columns, changes: dict, remove=()) -> list[dict]:
    """Merge ``changes`` (normalised key -> row) into the table at ``path`` and remove the keys
    in ``remove``, atomically; returns the new rows.  Rows written meanwhile by another process
    are kept."""
    from .fsutil import atomic_write_text

    path = Path(path)
    with _locked(path):
        current = {normalise(r["input"]): r for r in read_table(path, columns)}
        for key in remove:
            current.pop(key, None)
        current.update(changes)
        rows = list(current.values())
        atomic_write_text(path, render_table(columns, rows), overwrite=True)
    return rows


# ---------------------------------------------------------------------------------------------
# Talking to NED
# ---------------------------------------------------------------------------------------------

class _Response:
    """What astroquery's parser needs from a response: its bytes."""

    def __init__(self, content: bytes):
        self.content = content
        self.text = content.decode("utf-8", "replace")
        self.status_code = 200

    def raise_for_status(self):
        return None


def astroquery_transport(url: str, params: dict, timeout: float) -> bytes:
    """Send one NED request through astroquery's own HTTP layer, bypassing its cache (which
    would keep failed answers)."""
    from astroquery.ipac.ned import Ned

    response = Ned._request("GET", url=url, params=params, timeout=timeout, cache=False)
    response.raise_for_status()
    return response.content


def _transient_errors() -> tuple:
    from xml.parsers.expat import ExpatError

    import requests  # astroquery's HTTP layer, installed with it
    from astroquery.exceptions import RemoteServiceError, TableParseError

    return (OSError, ExpatError, RemoteServiceError, TableParseError, requests.RequestException)


def _column(table, *names):
    for n in names:
        if n in table.colnames:
            return table[n]
    return None


def _cell_str(col, i) -> str | None:
    import numpy as np

    if col is None:
        return None
    v = col[i]
    if v is None or np.ma.is_masked(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    v = str(v).strip()
    return v or None


def _cell_float(col, i) -> float:
    import numpy as np

    if col is None:
        return math.nan
    v = col[i]
    if np.ma.is_masked(v):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def rows_from_table(table) -> list[dict]:
    """NED's main table as plain rows: ned_name, ra, dec (deg), ned_type, redshift.

    Accepts both column spellings NED has used: ``RA``/``DEC`` (current) and ``RA(deg)``/
    ``DEC(deg)`` (older responses).
    """
    name = _column(table, "Object Name")
    if name is None:
        raise SfngError(f"NED answered without an 'Object Name' column (columns: "
                        f"{', '.join(table.colnames)}); astroquery or NED changed")
    ra = _column(table, "RA", "RA(deg)")
    dec = _column(table, "DEC", "DEC(deg)", "Dec")
    typ = _column(table, "Type")
    z = _column(table, "Redshift")
    out = []
    for i in range(len(table)):
        n = _cell_str(name, i)
        if n:
            out.append({"ned_name": n, "ra": _cell_float(ra, i), "dec": _cell_float(dec, i),
                        "ned_type": _cell_str(typ, i), "redshift": _cell_float(z, i)})
    return out


# ---------------------------------------------------------------------------------------------
# The resolver
# ---------------------------------------------------------------------------------------------

class Resolver:
    """Resolve galaxy names to NED preferred names, through overrides, the cache and NED.

    Parameters
    ----------
    store : sfng.store.Store, optional
        Supplies the cache and overrides paths and the ``ned`` configuration.  Without a store
        and without ``cache_path`` the cache lives in memory only.
    cache_path, overrides_path : path, optional
        Override the store's ``tables/ned_names.csv`` and ``tables/ned_overrides.csv``.
    offline : bool, optional
        Never touch the network.  Also on when ``$SFNG_OFFLINE`` is 1/true or the store config
        says ``ned.offline: true`` (an explicit False does not override those).
    transport : callable, optional
        ``transport(url, params, timeout) -> bytes`` sends one NED request; tests pass one that
        serves recorded responses.  Default: astroquery's HTTP layer without its cache.
    retries : int, optional
        Extra attempts after a transient failure (default: store config ``ned.retries``, 3).
    timeout : float, optional
        Seconds per request (default: store config ``ned.timeout``, 30).
    backoff : float
        Seconds before the first retry; doubled each time.
    sleep : callable
        ``sleep(seconds)``; tests pass a recorder.
    """

    def __init__(self, store=None, cache_path=None, offline=None, overrides_path=None,
                 transport=None, *, retries=None, timeout=None, backoff=BACKOFF, sleep=time.sleep,
                 env=None):
        cfg = dict((store.config.get("ned") or {}) if store is not None else {})
        env = os.environ if env is None else env
        self.store = store
        self.cache_path = Path(cache_path) if cache_path else (
            store.table_path("ned.cache") if store is not None else None)
        self.overrides_path = Path(overrides_path) if overrides_path else (
            store.table_path("ned.overrides") if store is not None else None)
        self.offline = bool(offline) or str(env.get("SFNG_OFFLINE", "")).strip().lower() in _TRUE \
            or bool(cfg.get("offline", False))
        self.retries = int(cfg.get("retries", 3) if retries is None else retries)
        self.timeout = float(cfg.get("timeout", 30) if timeout is None else timeout)
        self.backoff = float(backoff)
        self.sleep = sleep
        self.transport = transport or astroquery_transport
        self.warnings: list[str] = []
        self.queries = 0  # requests sent to NED (tests and reports)
        self._lock = threading.RLock()
        self._memory: dict[str, dict] = {}
        self._cache_sig = None
        self._cache_rows: dict[str, dict] = {}
        self._by_ned: dict[str, dict] = {}
        self._over_sig = None
        self._overrides: dict[str, dict] = {}
        self._pending: dict[str, dict] = {}
        self._batch = 0
        self._down: str | None = None

    # -- tables ---------------------------------------------------------------------------
    @staticmethod
    def _sig(path):
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _cache(self) -> dict[str, dict]:
        """Normalised input -> row, re-read when the file changed (another process wrote)."""
        if self.cache_path is not None:
            sig = self._sig(self.cache_path)
            if sig != self._cache_sig:
                rows = read_table(self.cache_path, CACHE_COLUMNS)
                self._cache_rows = {normalise(r["input"]): r for r in rows}
                self._cache_sig = sig
        rows = {**self._cache_rows, **self._memory, **self._pending}
        self._by_ned = {}
        for r in rows.values():
            self._by_ned.setdefault(normalise(r["ned_name"]), r)
        return rows

    def overrides(self) -> dict[str, dict]:
        """Normalised input -> override row."""
        if self.overrides_path is None:
            return self._overrides
        sig = self._sig(self.overrides_path)
        if sig != self._over_sig:
            rows = read_table(self.overrides_path, OVERRIDE_COLUMNS)
            self._overrides = {normalise(r["input"]): r for r in rows}
            self._over_sig = sig
        return self._overrides

    def entries(self) -> list[NameRecord]:
        """Every cached answer, as stored (``source`` is the row's own)."""
        with self._lock:
            rows = self._cache().values()
            return [self._record(r, r["input"], r["source"] or "cache") for r in
                    sorted(rows, key=lambda r: (normalise(r["ned_name"]), normalise(r["input"])))]

    def lookup(self, name: str) -> dict | None:
        """The cache row for ``name`` (by its own key, else as a NED name), or None."""
        key = normalise(name)
        with self._lock:
            rows = self._cache()
            return rows.get(key) or self._by_ned.get(key)

    def _remember(self, row: dict) -> None:
        key = normalise(row["input"])
        if self.cache_path is None:
            self._memory[key] = row
            return
        self._pending[key] = row
        if not self._batch:
            self.flush()

    def remember(self, name: str, ned_name: str, ra: float = math.nan, dec: float = math.nan,
                 source: str = "ned") -> None:
        """Keep ``name`` -> ``ned_name`` (position in deg) in the name cache, as found by
        ``source`` (e.g. a format's own rule: ``manga-fallback``).  Unchanged rows are not
        rewritten."""
        row = self.lookup(name)
        if row is not None and row.get("ned_name") == ned_name and row.get("source") == source:
            return
        self._remember({"input": name, "ned_name": ned_name, "ra": _fmt(ra), "dec": _fmt(dec),
                        "ned_type": "", "redshift": "", "asked": now_iso(), "source": source})

    def flush(self) -> None:
        """Write pending answers to the cache file (atomically, merged with other writers')."""
        with self._lock:
            if not self._pending or self.cache_path is None:
                return
            pending, self._pending = self._pending, {}
            try:
                rows = update_table(self.cache_path, CACHE_COLUMNS, pending)
            except OSError as exc:
                self._memory.update(pending)
                self.warnings.append(f"{self.cache_path}: cannot write the NED cache ({exc}); "
                                     f"{len(pending)} answer(s) kept for this run only")
                return
            self._cache_rows = {normalise(r["input"]): r for r in rows}
            self._cache_sig = self._sig(self.cache_path)

    def import_cache(self, src, source: str | None = None) -> int:
        """Add the rows of another cache file (e.g. the demo's shipped cache) whose input is not
        cached yet; returns how many were added.  Existing answers are kept."""
        rows = read_table(src, CACHE_COLUMNS)
        with self._lock:
            have = self._cache()
            new = {}
            for r in rows:
                key = normalise(r["input"])
                if key not in have and key not in new:
                    new[key] = dict(r, source=source or r["source"] or "import")
            if not new:
                return 0
            self._pending.update(new)
            if self.cache_path is None:
                self._memory.update(self._pending)
                self._pending = {}
            else:
                self.flush()
            return len(new)

    # -- overrides ------------------------------------------------------------------------
    def set_override(self, input_name: str, ned_name: str, *, ra=None, dec=None, ned_type=None,
                     note: str = "", dry_run: bool = False) -> tuple[dict | None, dict]:
        """Record that ``input_name`` is ``ned_name`` whatever NED says; returns (old, new)."""
        if not input_name.strip() or not ned_name.strip():
            raise SfngError("an override needs a non-empty input name and NED name")
        if (ra is None) != (dec is None):
            raise SfngError("give both --ra and --dec, or neither")
        if ra is not None and not (0.0 <= float(ra) < 360.0 and -90.0 <= float(dec) <= 90.0):
            raise SfngError(f"position out of range: RA {ra} must be in [0, 360) deg and Dec "
                            f"{dec} in [-90, 90] deg")
        key = normalise(input_name)
        old = self.overrides().get(key)
        row = {"input": input_name.strip(), "ned_name": " ".join(ned_name.split()),
               "ra": _fmt(ra), "dec": _fmt(dec), "ned_type": ned_type or "", "note": note or "",
               "added": now_iso()}
        if not dry_run:
            self._write_overrides({key: row})
        return old, row

    def remove_override(self, input_name: str, *, dry_run: bool = False) -> dict:
        key = normalise(input_name)
        old = self.overrides().get(key)
        if old is None:
            raise SfngError(f"no override for {input_name!r}"
                            + (f" in {self.overrides_path}" if self.overrides_path else ""))
        if not dry_run:
            self._write_overrides({}, remove=[key])
        return old

    def _write_overrides(self, changes, remove=()):
        if self.overrides_path is None:
            for k in remove:
                self._overrides.pop(k, None)
            self._overrides.update(changes)
            return
        rows = update_table(self.overrides_path, OVERRIDE_COLUMNS, changes, remove)
        self._overrides = {normalise(r["input"]): r for r in rows}
        self._over_sig = self._sig(self.overrides_path)

    # -- records --------------------------------------------------------------------------
    @staticmethod
    def _record(row: dict, input_name: str, source: str) -> NameRecord:
        return NameRecord(input=input_name, ned_name=row["ned_name"], ra=_float(row.get("ra")),
                          dec=_float(row.get("dec")), ned_type=row.get("ned_type") or None,
                          redshift=_float(row.get("redshift")), asked=row.get("asked", ""),
                          source=source)

    @staticmethod
    def _row(input_name: str, hit: dict, source: str) -> dict:
        return {"input": input_name, "ned_name": hit["ned_name"], "ra": _fmt(hit["ra"]),
                "dec": _fmt(hit["dec"]), "ned_type": hit["ned_type"] or "",
                "redshift": _fmt(hit["redshift"]), "asked": now_iso(), "source": source}

    def _from_override(self, ov: dict, input_name: str) -> NameRecord:
        """An override's answer; a position it lacks comes from the cache or NED if at hand."""
        ra, dec, typ, z = _float(ov["ra"]), _float(ov["dec"]), ov["ned_type"] or None, math.nan
        if math.isnan(ra) or math.isnan(dec):
            known = self.lookup(ov["ned_name"])
            if known is None and not self.offline and not self._down:
                try:
                    hit = self._ask_name(ov["ned_name"])
                    self._remember(self._row(ov["ned_name"], hit, "ned"))
                    known = self._row(ov["ned_name"], hit, "ned")
                except (NotFound, Unavailable) as exc:
                    self.warnings.append(f"override {ov['input']!r} -> {ov['ned_name']!r}: no "
                                         f"position from NED ({exc}); position left unknown")
            if known is not None:
                ra, dec = _float(known["ra"]), _float(known["dec"])
                typ = typ or known["ned_type"] or None
                z = _float(known["redshift"])
        return NameRecord(input=input_name, ned_name=ov["ned_name"], ra=ra, dec=dec, ned_type=typ,
                          redshift=z, asked=ov["added"], source="override")

    # -- resolving ------------------------------------------------------------------------
    def resolve(self, name: str, *, refresh: bool = False) -> NameRecord:
        """NED's preferred name and basic data for ``name``.

        Order: override (by the input, then by the NED name found), cache, NED.  ``refresh``
        asks NED again even when the name is cached (the answer replaces the cached one).
        Raises :class:`NotFound` when NED has no such object, :class:`Unavailable` offline on a
        cache miss or when NED cannot be reached.
        """
        if not isinstance(name, str) or not name.strip():
            raise SfngError(f"invalid name {name!r}: a galaxy name cannot be empty")
        name = " ".join(name.split())
        key = normalise(name)
        with self._lock:
            ov = self.overrides()
            if key in ov:
                return self._from_override(ov[key], name)
            row = None if refresh else self.lookup(name)
            if row is not None:
                rec = self._record(row, name, "cache")
            else:
                if self.offline:
                    where = self.cache_path or "the in-memory cache"
                    raise Unavailable(
                        f"{name!r} is not in the NED cache ({where}) and sfng is offline "
                        f"(--offline, SFNG_OFFLINE=1 or ned.offline in sfng.yaml); resolve it once "
                        f"online with `sfng names resolve '{name}'`, or set it by hand with "
                        f"`sfng names override '{name}' 'NED NAME'`")
                hit = self._ask_name(name)
                row = self._row(name, hit, "ned")
                self._remember(row)
                rec = self._record(row, name, "ned")
            nkey = normalise(rec.ned_name)
            if nkey in ov and nkey != key:
                return self._from_override(ov[nkey], name)
            return rec

    def resolve_many(self, names, progress=None, *, refresh: bool = False,
                     on_error: str = "collect") -> dict:
        """Resolve several names; returns ``{name: NameRecord or the SfngError raised}``.

        ``progress(i, n, name, result)`` is called after each name (1-based ``i``).  The cache
        file is written once at the end (and on interruption).  Once NED proved unreachable,
        the remaining names are answered from the cache only, without waiting on NED again.
        ``on_error="raise"`` re-raises the first failure instead of collecting it.
        """
        names = list(dict.fromkeys(names))
        out: dict = {}
        with self.batch():
            for i, name in enumerate(names, 1):
                try:
                    result = self.resolve(name, refresh=refresh)
                except SfngError as exc:
                    if on_error == "raise":
                        raise
                    result = exc
                out[name] = result
                if progress is not None:
                    progress(i, len(names), name, result)
        return out

    @contextlib.contextmanager
    def batch(self):
        """Within this block, cache writes wait until the end (one rewrite of the file, also on
        an exception or Ctrl-C), and once NED proved unreachable it is not asked again."""
        with self._lock:
            if not self._batch:
                self._down = None
            self._batch += 1
        try:
            yield self
        finally:
            with self._lock:
                self._batch -= 1
                if not self._batch:
                    self._down = None
                    self.flush()

    def by_position(self, ra: float, dec: float, radius_arcsec: float = 30.0) -> NameRecord | None:
        """The galaxy NED lists nearest to (``ra``, ``dec``) (J2000 deg) within
        ``radius_arcsec``, or None when there is none.

        Only NED types in :data:`GALAXY_TYPES` count.  Raises :class:`Ambiguous` when a second
        galaxy lies within :data:`AMBIGUITY_RATIO` times the nearest one's distance, and
        :class:`Unavailable` offline or when NED cannot be reached.
        """
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        if not (0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0) or not radius_arcsec > 0:
            raise SfngError(f"invalid position search RA={ra} Dec={dec} radius={radius_arcsec} "
                            f"arcsec: RA in [0, 360) deg, Dec in [-90, 90] deg, radius > 0")
        where = f"RA {ra:.5f} Dec {dec:+.5f} deg"
        if self.offline:
            raise Unavailable(f"a position search near {where} needs NED and sfng is offline; "
                              f"set OBJECT in the file or name it after the galaxy")
        centre = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        try:
            rows = self._ask(lambda ned: ned.query_region(centre, radius=radius_arcsec * u.arcsec),
                             f"objects near {where}")
        except NotFound:
            return None
        gals = [r for r in rows if r["ned_type"] in GALAXY_TYPES
                and not (math.isnan(r["ra"]) or math.isnan(r["dec"]))]
        if not gals:
            return None
        seps = SkyCoord([g["ra"] for g in gals] * u.deg, [g["dec"] for g in gals] * u.deg,
                        frame="icrs").separation(centre).to_value(u.arcsec)
        ranked = sorted(zip(seps, range(len(gals))))
        ranked = [(s, i) for s, i in ranked if s <= radius_arcsec]
        if not ranked:
            return None
        if len(ranked) > 1 and ranked[1][0] < AMBIGUITY_RATIO * max(ranked[0][0], 1.0):
            listing = ", ".join(f"{gals[i]['ned_name']} at {s:.1f} arcsec" for s, i in ranked[:4])
            raise Ambiguous(f"several galaxies near {where} ({listing}); sfng does not guess: "
                            f"set OBJECT in the file or add an override")
        hit = gals[ranked[0][1]]
        row = self._row(hit["ned_name"], hit, "ned-position")
        with self._lock:
            if self.lookup(hit["ned_name"]) is None:
                self._remember(row)
        return self._record(row, where, "ned-position")

    # -- network --------------------------------------------------------------------------
    def _ned(self):
        from astroquery.ipac.ned.core import NedClass

        ned = NedClass()

        def _request(method, url, params=None, timeout=None, **kwargs):
            self.queries += 1
            self._last_content = b""
            content = self.transport(url, dict(params or {}), self.timeout)
            self._last_content = content
            return _Response(content)

        ned._request = _request
        return ned

    def _ask_name(self, name: str) -> dict:
        rows = self._ask(lambda ned: ned.query_object(name), repr(name))
        if not rows:
            raise NotFound(f"NED has no object named {name!r}")
        return rows[0]

    def _ask(self, query, what: str) -> list[dict]:
        """Run ``query(ned)`` with retries; NED's rows, or NotFound / Unavailable."""
        from astroquery.exceptions import RemoteServiceError

        if self._down:
            raise Unavailable(f"NED not asked for {what}: it was unreachable earlier in this run "
                              f"({self._down}); nothing was cached for it")
        transient = _transient_errors()
        attempts = self.retries + 1
        last = None
        for attempt in range(attempts):
            try:
                table = query(self._ned())
                return rows_from_table(table)
            except RemoteServiceError as exc:
                msg = _ned_message(exc)
                if _NOT_FOUND.search(msg):
                    raise NotFound(f"NED has no object {what}: {msg}") from None
                last = f"NED error: {msg}"
            except transient as exc:
                # astroquery only looks for the Error PARAM in second place; look everywhere
                msg = _error_param(getattr(self, "_last_content", b""))
                if msg and _NOT_FOUND.search(msg):
                    raise NotFound(f"NED has no object {what}: {msg}") from None
                last = f"NED error: {msg}" if msg else f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            if attempt + 1 < attempts:
                self.sleep(min(self.backoff * 2 ** attempt, MAX_BACKOFF))
        if self._batch:
            self._down = last
        raise Unavailable(f"NED did not answer for {what} after {attempts} attempt(s) ({last}); "
                          f"nothing was cached. Try again later, or work offline from the cache "
                          f"and overrides")


_ERROR_PARAM = re.compile(rb"<PARAM\b[^>]*\bname=\"Error\"[^>]*\bvalue=\"([^\"]*)\"", re.I)


def _error_param(content) -> str | None:
    """The message of an ``Error`` PARAM anywhere in a NED answer, or None."""
    m = _ERROR_PARAM.search(content or b"")
    return " ".join(m.group(1).decode("utf-8", "replace").split()) if m else None


def _ned_message(exc) -> str:
    text = str(exc)
    m = re.search(r"ERROR:\s*(.*)", text, re.S)
    return " ".join((m.group(1) if m else text).split())
