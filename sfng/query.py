"""Queries over ``SFNG-INDEX.fits``: load the index, apply a :class:`~sfng.select.Selection`,
galaxy sets (has/lacks), ``info`` on one galaxy, the galaxy x tracer ``summary``.

Everything works from the index file alone (a user who downloaded only ``SFNG-INDEX.fits``)
as well as inside a store.  The FILES table is memory-mapped in its on-disk layout
(:func:`sfng.index.io.open_records`), so a query reads only the bytes of the columns it tests
and only numpy is imported on the way; astropy is loaded only for output formats, unit
conversions and region tests that need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import SfngError
from .select import QUANTITIES, Range, Selection

#: Columns computed per row from the index (name -> unit): the galaxy's distance (GALAXIES
#: table), the physical resolution at that distance, and ``depth`` (= ``depth_k``).
VIRTUAL = {"dist": "Mpc", "res_pc": "pc", "depth": "K"}
#: Default columns of the text table.
DEFAULT_COLUMNS = ["galaxy", "tracer", "survey", "res", "depth_k", "dist", "path"]
#: Default columns when listing galaxies.
GALAXY_COLUMNS = ["galaxy", "dist", "n_files", "tracers"]
_ARCSEC_RAD = math.pi / 648000.0


# ---------------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------------

class Index:
    """An opened ``SFNG-INDEX.fits``.

    Attributes
    ----------
    path : Path
    files : numpy structured array
        FILES rows (memory-mapped on-disk records when the layout is this sfng's own).
    galaxies : numpy structured array
        GALAXIES rows.
    meta : dict
        ``schema_version``, ``sfng_version``, ``store``, ``built``, ``n_files``, ``n_galaxies``.
    store : sfng.store.Store or None
        The store the index belongs to (None for a downloaded index).
    """

    def __init__(self, path, files, galaxies, meta, store=None, units=None):
        self.path = Path(path)
        self.files = files
        self.galaxies = galaxies
        self.meta = meta
        self.store = store
        self.units = dict(units or {})
        self._gal_keys = None
        self._vocab = None
        self._dist = None
        from .index.schema import FILES_COLUMNS

        #: FITS logical columns (stored as the bytes 'T'/'F' in the on-disk records).
        self.logical = {c.name for c in FILES_COLUMNS if c.kind == "?"}

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path=None, store=None, allow_stale: bool = False) -> "Index":
        """Open the index at ``path`` (default: the store's ``SFNG-INDEX.fits``).

        Raises SfngError for a missing, corrupt, newer-schema or (inside a store) stale index.
        """
        from .index import io
        from .index.schema import FILES_COLUMNS, GALAXIES_HDU

        if path is None:
            if store is None:
                raise SfngError("no index: run inside a store, use --store PATH, or give --index "
                                "PATH to a downloaded SFNG-INDEX.fits")
            path = store.index_path
        path = Path(path)
        if not path.is_file():
            where = f" of the store {store.root}" if store is not None else ""
            raise SfngError(f"{path}: no index{where}; build it with `sfng index build`"
                            + ("" if store is not None else " (or check --index PATH)"))
        records = io.open_records(path)
        units = {c.name: c.unit for c in FILES_COLUMNS}
        if records is not None:
            meta, galaxies = _fast_meta_galaxies(path, GALAXIES_HDU)
            if meta is None:
                records = None
        if records is None:
            # Another layout (older schema), or a damaged file: the reader says which.
            files, gal, meta = io.read_index(path)
            units.update({n: str(files[n].unit or "") for n in files.colnames})
            records = files.as_array()
            galaxies = gal.as_array() if gal is not None else np.zeros(0, dtype=[("name", "S1")])
        idx = cls(path, records, galaxies, meta, store=store, units=units)
        if store is not None and not allow_stale:
            idx.check_fresh()
        return idx

    def check_fresh(self) -> None:
        """SfngError when a survey folder of the store changed after the index was written."""
        built = self.path.stat().st_mtime
        newer = []
        for tree in ("data", "derived"):
            base = self.store.root / tree
            if not base.is_dir():
                continue
            # bygalaxy/ holds links (rebuilt at will) and dot-folders hold sfng's own state.
            for d in [base, *(p for p in base.iterdir() if p.is_dir() and p.name != "bygalaxy"
                              and not p.name.startswith("."))]:
                if d.stat().st_mtime > built + 1e-3:
                    newer.append(self.store.relpath(d))
        if newer:
            shown = ", ".join(newer[:3]) + (" ..." if len(newer) > 3 else "")
            raise SfngError(f"{self.path}: the index is stale ({shown} changed after it was built); "
                            f"run `sfng index build`, or add --allow-stale to query it as it is")

    def __len__(self):
        return len(self.files)

    @property
    def columns(self) -> list[str]:
        return [n for n in self.files.dtype.names]

    def where_columns(self) -> dict:
        """Columns a --where expression may use: name -> unit (scalars only, plus VIRTUAL)."""
        out = {n: self.units.get(n, "") for n in self.files.dtype.names
               if not self.files.dtype[n].shape}
        out.update(VIRTUAL)
        return out

    # -- column access ----------------------------------------------------------------------
    def raw(self, name: str, rows=None):
        """Column values (bytes for text, bool for logicals), for ``rows`` (all when None)."""
        if name not in self.files.dtype.names:
            raise SfngError(f"the index has no column {name!r}")
        col = self.files[name]
        if rows is not None and not _every_row(rows, len(self.files)):
            col = col[rows]
        if name in self.logical and self.files.dtype[name].kind != "b":
            return np.asarray(col) == ord("T")   # FITS logical, as stored on disk
        return col

    def text(self, name: str, rows=None) -> np.ndarray:
        """A text column decoded to str (use on selected rows: it copies)."""
        col = np.asarray(self.raw(name, rows))
        if col.dtype.kind == "S":
            out = np.char.decode(col, "utf-8", "replace") if len(col) else col.astype("U1")
            return np.char.rstrip(out)
        return col.astype(str)

    def numbers(self, name: str, rows=None) -> np.ndarray:
        return np.asarray(self.raw(name, rows), dtype=float)

    def match_text(self, name: str, values, rows=None, fold=True) -> np.ndarray:
        """Mask: the text column equals one of ``values``.

        The column's bytes are compared as integers, in place in the memory map (a million
        rows in a few ms).  With ``fold`` the usual spellings (as given, upper, lower case) are
        tried, and only if none matches are the column's distinct values matched
        case-insensitively.
        """
        want = {v.strip().encode("utf-8") for v in values}
        if fold:
            want |= {w.upper() for w in want} | {w.lower() for w in want}
        m = self._equal_any(name, rows, want)
        if fold and not m.any():
            keys = {w.upper() for w in want}
            more = {v for v in self.distinct(name) if v.strip().upper() in keys} - want
            if more:
                m = self._equal_any(name, rows, more)
        return m

    def _equal_any(self, name, rows, want) -> np.ndarray:
        col = np.asarray(self.raw(name, rows))
        if col.dtype.kind == "U":            # an index read through astropy as str
            return np.isin(np.char.encode(col, "utf-8"), list(want))
        width = col.dtype.itemsize
        if len(col) and _padded(col):        # a writer that pads with blanks, not NULs
            want = set(want) | {w.ljust(width) for w in want if len(w) <= width}
        want = [w for w in want if len(w) <= width]
        if not want or not len(col):
            return np.zeros(len(col), dtype=bool)
        words = self._words(name, rows)
        if rows is None or _every_row(rows, len(self.files)):
            # Reading one word of every row walks the whole map (a TLB miss per row or two):
            # do it once, keep it contiguous, and compare every later value against the copy.
            cache = self.__dict__.setdefault("_first_words", {})
            if name not in cache:
                cache[name] = np.ascontiguousarray(words[0][0])
            words = [(cache[name], words[0][1], words[0][2]), *words[1:]]
        if len(want) > 8:
            return _isin_many(words, col, want)
        m = _equal_words(words, want[0].ljust(width, b"\0"))
        for w in want[1:]:
            m |= _equal_words(words, w.ljust(width, b"\0"))
        return m

    def _words(self, name: str, rows=None) -> list:
        """The bytes of a text column as integer views ``(array, start, size)`` covering its
        width (8, 4, 2, 1 bytes): on the memory map itself for every row, else on a copy."""
        width = self.files.dtype[name].itemsize
        if rows is None or _every_row(rows, len(self.files)):
            buf, off, stride, n = self.files, self.files.dtype.fields[name][1], self.files.dtype.itemsize, \
                len(self.files)
        else:
            buf = np.ascontiguousarray(self.files[name][rows])
            off, stride, n = 0, width, len(buf)
        out, j = [], 0
        while j < width:
            size = next(k for k in (8, 4, 2, 1) if k <= width - j)
            dtype = np.dtype("u1") if size == 1 else np.dtype(f"<u{size}")
            out.append((np.ndarray((n,), dtype=dtype, buffer=buf, offset=off + j, strides=(stride,)), j, size))
            j += size
        return out

    def distinct(self, name: str) -> set:
        """The distinct values (bytes) of a text column (cached)."""
        cache = self.__dict__.setdefault("_distinct", {})
        if name not in cache:
            col = np.asarray(self.raw(name))
            # A set of Python bytes is much faster than np.unique's sort on a million strings.
            cache[name] = set(col.tolist())
        return cache[name]

    # -- galaxies ---------------------------------------------------------------------------
    def galaxy_table(self) -> list[dict]:
        """GALAXIES rows as dicts of plain values (text decoded, NaN kept)."""
        if getattr(self, "_gal_rows", None) is None:
            g = self.galaxies
            names = g.dtype.names or ()
            cols = {}
            for n in names:
                vals = g[n].tolist()
                if g.dtype[n].kind == "S":
                    vals = [v.decode("utf-8", "replace").rstrip() for v in vals]
                elif g.dtype[n].kind == "U":
                    vals = [v.rstrip() for v in vals]
                elif g.dtype[n].kind == "f" and g.dtype[n].itemsize == 4:
                    vals = [float(str(v)) for v in g[n]]   # 3.3, not 3.299999952316284
                cols[n] = vals
            self._gal_rows = [dict(zip(names, vals)) for vals in zip(*cols.values())] if names else []
        return self._gal_rows

    def galaxy_keys(self) -> dict:
        """normalised name or alias -> the GALAXIES name."""
        if self._gal_keys is None:
            from .naming import normalise

            keys = {}
            for row in self.galaxy_table():
                name = row.get("name", "")
                if not name:
                    continue
                for n in [name, *str(row.get("aliases", "") or "").split(";")]:
                    if n.strip():
                        keys.setdefault(normalise(n.strip()), name)
            self._gal_keys = keys
        return self._gal_keys

    def galaxy_record(self, name: str) -> dict | None:
        for row in self.galaxy_table():
            if row.get("name") == name:
                return row
        return None

    def resolve_galaxy(self, name: str) -> str | None:
        """The index's name for galaxy ``name`` (any alias), or None.

        Order: the GALAXIES table (names and aliases), the galaxy names of FILES, then (in a
        store) the offline NED cache.
        """
        from .naming import normalise

        key = normalise(name)
        hit = self.galaxy_keys().get(key)
        if hit:
            return hit
        for g in self.file_galaxies():
            if normalise(g) == key:
                return g
        if self.store is not None:
            try:
                from .ned import Resolver

                rec = Resolver(self.store, offline=True).resolve(name)
            except (ImportError, SfngError):
                return None
            ned = normalise(rec.ned_name)
            hit = self.galaxy_keys().get(ned)
            if hit:
                return hit
            for g in self.file_galaxies():
                if normalise(g) == ned:
                    return g
        return None

    def file_galaxies(self) -> list[str]:
        return sorted(_strip(v) for v in self.distinct("galaxy") if _strip(v))

    def galaxy_suggestions(self, name: str, n: int = 3) -> list[str]:
        import difflib

        from .naming import normalise

        keys = self.galaxy_keys()
        close = difflib.get_close_matches(normalise(name), list(keys), n=n * 3, cutoff=0.6)
        out = []
        for k in close:
            if keys[k] not in out:
                out.append(keys[k])
        return out[:n]

    def galaxy_position(self, name: str):
        """(ra, dec) in degrees of a galaxy: GALAXIES table, else the NED cache; None if unknown."""
        canon = self.resolve_galaxy(name)
        rec = self.galaxy_record(canon) if canon else None
        if rec and _finite(rec.get("ra")) and _finite(rec.get("dec")):
            return float(rec["ra"]), float(rec["dec"])
        if self.store is not None:
            try:
                from .ned import Resolver

                r = Resolver(self.store, offline=True).resolve(name)
                if _finite(r.ra) and _finite(r.dec):
                    return float(r.ra), float(r.dec)
            except (ImportError, SfngError):
                pass
        return None

    def dist_of(self, rows) -> np.ndarray:
        """Adopted distance (Mpc) of each row's galaxy (NaN when unknown)."""
        gal = np.asarray(self.raw("galaxy", rows))
        if not len(gal) or "dist" not in (self.galaxies.dtype.names or ()):
            return np.full(len(gal), np.nan)
        if self._dist is None:
            # Each distance as the decimal it was written as (3.3, not single precision's
            # 3.29999995): '--dist >=3.3' keeps a galaxy at 3.3 Mpc, and JSON says 3.3.
            dist = self.galaxies["dist"]
            single = dist.dtype.kind == "f" and dist.dtype.itemsize == 4
            shortest = (lambda d: float(str(d))) if single else float
            self._dist = {_strip(n).encode("utf-8"): shortest(d)
                          for n, d in zip(self.galaxies["name"].tolist(), dist)}
        lookup = self._dist
        values = gal.tolist()
        if gal.dtype.kind == "U" or _padded(gal):
            values = [_strip(v).encode("utf-8") for v in values]
        return np.fromiter((lookup.get(v, np.nan) for v in values), dtype=float, count=len(values))

    # -- tracers ----------------------------------------------------------------------------
    def vocabulary(self):
        if self._vocab is None:
            from .tracers import for_store

            self._vocab = for_store(self.store)
        return self._vocab

    def canonical_tracer(self, name: str) -> str:
        """Canonical tracer for ``name``; SfngError with the nearest names when unknown.

        A name the vocabulary lacks but the index holds (a survey's own MAPTYPE) is accepted.
        """
        vocab = self.vocabulary()
        hit = vocab.get(name)
        if hit:
            return hit
        from .tracers import normalise as tnorm

        present = self.tracers_present()
        for t in present:
            if tnorm(t) == tnorm(name):
                return t
        import difflib

        near = vocab.suggestions(name)
        near += [t for t in difflib.get_close_matches(name.upper(), present, n=3, cutoff=0.5)
                 if t not in near]
        hint = f"; did you mean {' or '.join(near[:4])}?" if near else ""
        raise SfngError(f"unknown tracer {name!r}{hint} (tracers in this index: "
                        f"{', '.join(present) or 'none'})")

    def canonical_text(self, column: str, value: str) -> str:
        """A quoted --where value in the column's canonical spelling (tracer aliases)."""
        if column == "tracer":
            return self.vocabulary().get(value) or value
        return value

    def tracers_present(self) -> list[str]:
        return sorted(_strip(v) for v in self.distinct("tracer") if _strip(v))

    # -- values for expressions ---------------------------------------------------------------
    def values(self, name: str, rows, depth_chan_kms: float = 1.0):
        """(values, unit) of a real or virtual column for ``rows``."""
        if name == "dist":
            return self.dist_of(rows), "Mpc"
        if name == "res_pc":
            return self.numbers("res", rows) * self.dist_of(rows) * 1e6 * _ARCSEC_RAD, "pc"
        if name == "depth":
            return self.depth(rows, depth_chan_kms), "K"
        col = self.raw(name, rows)
        return np.asarray(col), self.units.get(name, "")

    def depth(self, rows, chan_kms: float = 1.0) -> np.ndarray:
        """rms in K in a channel of ``chan_kms`` km/s: ``rms_k * sqrt(chan_native / chan_kms)``."""
        from .units import depth_at_many

        if chan_kms == 1.0:
            return np.asarray(self.raw("depth_k", rows))   # its stored precision: see select.at_column_precision
        return depth_at_many(self.numbers("rms_k", rows), self.numbers("chan_kms", rows), chan_kms)


def _fast_meta_galaxies(path, galaxies_hdu):
    """(meta, galaxies) through fitsio (light) for an index in this sfng's layout."""
    try:
        import fitsio

        hdr = fitsio.read_header(str(path), 0)
        with fitsio.FITS(str(path)) as f:
            gal = f[galaxies_hdu].read(lower=True) if f[galaxies_hdu].get_nrows() else \
                np.zeros(0, dtype=f[galaxies_hdu].get_rec_dtype()[0])
    except Exception:  # noqa: BLE001 - let the full reader explain what is wrong
        return None, None
    if gal.dtype.names:
        gal.dtype.names = [n.lower() for n in gal.dtype.names]
    # Only what queries use; sfng.index.io.read_index gives the full set.
    meta = {"schema_version": int(hdr.get("SFNGSCHV", -1)), "store": hdr.get("STORE", "")}
    return meta, gal


def _plain(v):
    """A numpy value as plain Python for tables and JSON: NaN -> None, float32 -> its
    shortest decimal (6.2, not 6.199999809265137)."""
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v]
    if isinstance(v, np.floating):
        if not np.isfinite(v):
            return None
        return float(str(v)) if v.dtype.itemsize == 4 else float(v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _single(v) -> float:
    """A value read from a single-precision column as the decimal it was written as (6.2)."""
    return float(str(np.float32(v)))


def _every_row(rows, n: int) -> bool:
    """True when ``rows`` is 0..n-1 in order: the column itself serves, without a gathered
    copy of a million values out of the memory map."""
    rows = np.asarray(rows)
    return len(rows) == n and n > 0 and rows[0] == 0 and rows[-1] == n - 1 \
        and bool(np.all(rows[1:] > rows[:-1]))


def _equal_words(words: list, value: bytes) -> np.ndarray:
    """Rows whose bytes equal ``value`` (padded to the column width): the first word over all
    rows, the others only where the first matched.  A NUL ends a FITS string, so words past
    the value's terminating NUL are not compared."""
    end = len(value.rstrip(b"\0"))
    (first, j, size), rest = words[0], [w for w in words[1:] if w[1] <= end]
    m = first == int.from_bytes(value[j:j + size], "little")
    if rest:
        idx = np.flatnonzero(m)
        for view, j, size in rest:
            if not len(idx):
                break
            idx = idx[view[idx] == int.from_bytes(value[j:j + size], "little")]
        m = np.zeros(len(first), dtype=bool)
        m[idx] = True
    return m


def _row_hash(words: list) -> np.ndarray:
    """A 64-bit hash per row of a text column given as integer word views."""
    h = np.zeros(len(words[0][0]), dtype=np.uint64)
    p = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for view, _, _ in words:
            h = h * p ^ view.astype(np.uint64)
    return h


def _words_of(values: list, width: int) -> list:
    """Integer word views of a small list of byte strings (the values looked for)."""
    arr = np.array([v.ljust(width, b"\0") for v in values], dtype=f"S{width}")
    out, j = [], 0
    while j < width:
        size = next(k for k in (8, 4, 2, 1) if k <= width - j)
        dtype = np.dtype("u1") if size == 1 else np.dtype(f"<u{size}")
        out.append((np.ndarray((len(arr),), dtype=dtype, buffer=arr, offset=j, strides=(width,)), j, size))
        j += size
    return out


def _isin_many(words: list, col: np.ndarray, want: list) -> np.ndarray:
    """Rows whose value is one of many (a galaxy set): hash every row in numpy, keep rows
    whose hash is wanted, then confirm those exactly (a million rows in a few tens of ms,
    where a Python set look-up per row takes several hundred)."""
    width = col.dtype.itemsize
    targets = np.sort(_row_hash(_words_of(want, width)))
    h = _row_hash(words)
    pos = np.minimum(np.searchsorted(targets, h), len(targets) - 1)
    m = targets[pos] == h
    hit = np.flatnonzero(m)
    if len(hit):
        wanted = set(want)
        exact = np.fromiter((v in wanted for v in col[hit].tolist()), dtype=bool, count=len(hit))
        m[hit[~exact]] = False
    return m


def _strip(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace").strip()
    return str(v).strip()


def _padded(col) -> bool:
    """True when text values carry trailing blanks (a writer that pads with spaces)."""
    sample = col[: min(len(col), 64)]
    return any(bytes(v).endswith(b" ") for v in sample)


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def load_index(index_path=None, store=None, allow_stale=False) -> Index:
    """Open an index: ``index_path`` if given, else the store's (see :meth:`Index.open`)."""
    return Index.open(index_path, store=store, allow_stale=allow_stale)


# ---------------------------------------------------------------------------------------------
# Selecting
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    """The rows a selection picked.

    Attributes
    ----------
    index : Index
    rows : numpy int array
        FILES row numbers, in index order (or sorted by :meth:`sort`).
    galaxies : list of str or None
        For a galaxy-set query (--has/--lacks): the galaxies, sorted.
    notes : list of str
        Things the user should know (e.g. rows left out because a value is unknown).
    sorted : bool
        True once :meth:`sort` ordered the rows; :meth:`galaxy_rows` then lists the galaxies
        in the order of their first file (``--galaxies --sort dist``), else by name.
    """

    index: Index
    rows: np.ndarray
    selection: Selection
    galaxies: list | None = None
    notes: list = field(default_factory=list)
    sorted: bool = False

    def __getattribute__(self, name):
        # ``rows`` may be deferred (a callable): a galaxy-set answer printed as names never
        # needs the galaxies' files, and finding them costs a pass over the whole table.
        value = object.__getattribute__(self, name)
        if name == "rows" and callable(value):
            value = value()
            object.__setattr__(self, "rows", value)
        return value

    def __len__(self):
        return len(self.rows)

    def column(self, name: str):
        """Values of a real or virtual column for the selected rows (text decoded)."""
        if name in VIRTUAL:
            return self.index.values(name, self.rows, self.selection.depth_chan_kms
                                     if self.selection.depth_chan else 1.0)[0]
        if name == "tracers":
            raise SfngError("'tracers' is a column of the galaxy list (--galaxies)")
        kind = self.index.files.dtype[name].kind if name in self.index.files.dtype.names else None
        if kind is None:
            known = ", ".join(list(self.index.columns) + list(VIRTUAL))
            raise SfngError(f"unknown column {name!r}; known: {known}")
        if kind == "S" or kind == "U":
            return self.index.text(name, self.rows)
        return np.asarray(self.index.raw(name, self.rows))

    def paths(self) -> list[str]:
        return [str(p) for p in self.column("path")]

    def records(self, columns=None) -> list[dict]:
        columns = columns or DEFAULT_COLUMNS
        cols = {c: self.column(c) for c in columns}
        out = []
        for i in range(len(self.rows)):
            row = {}
            for c in columns:
                row[c] = _plain(cols[c][i])
            out.append(row)
        return out

    def sort(self, keys) -> "Result":
        """Sort rows by columns (``-name`` descending); unknown values last."""
        if not keys or not len(self.rows):
            return self
        order = np.arange(len(self.rows))
        for key in reversed(list(keys)):
            desc = key.startswith("-")
            name = key.lstrip("-+")
            vals = self.column(name)[order]
            if vals.dtype.kind in "fiub":
                v = vals.astype(float)
                nan = ~np.isfinite(v)
                v = np.where(nan, np.inf, -v if desc else v)
                o = np.argsort(v, kind="stable")
            else:
                o = np.argsort(vals, kind="stable")
                if desc:
                    o = o[::-1]
            order = order[o]
        self.rows = self.rows[order]
        self.sorted = True
        return self

    def galaxy_rows(self) -> list[dict]:
        """One row per galaxy of the result: name, distance, number of files, tracers."""
        gal = np.asarray(self.index.raw("galaxy", self.rows))
        tr = np.asarray(self.index.raw("tracer", self.rows))
        count: dict = {}
        tracers: dict = {}
        first_row: dict = {}
        if len(gal):
            # Group by a hash of the name in numpy: no Python loop over the rows.
            gh = _row_hash(self.index._words("galaxy", self.rows))
            ug, first, inv, n = np.unique(gh, return_index=True, return_inverse=True, return_counts=True)
            if not np.array_equal(gal, gal[first][inv.reshape(-1)]):
                # Two names with one hash (never seen; 2**-64 per pair): group exactly instead.
                codes = {v: i for i, v in enumerate(dict.fromkeys(gal.tolist()))}
                gh = np.fromiter((codes[v] for v in gal.tolist()), dtype=np.uint64, count=len(gal))
                ug, first, n = np.unique(gh, return_index=True, return_counts=True)
            name_of = {h: _strip(gal[i]) for h, i in zip(ug.tolist(), first.tolist())}
            count = {name_of[h]: k for h, k in zip(ug.tolist(), n.tolist())}
            first_row = {name_of[h]: i for h, i in zip(ug.tolist(), first.tolist())}
            for t in np.unique(tr).tolist():
                label = _strip(t)
                if label:
                    for h in np.unique(gh[tr == t]).tolist():
                        tracers.setdefault(name_of[h], set()).add(label)
        names = self.galaxies if self.galaxies is not None else sorted(n for n in count if n)
        if self.sorted:
            names = sorted(names, key=lambda g: first_row.get(g, len(gal)))
        dist = {r["name"]: r.get("dist") for r in self.index.galaxy_table()}
        out = []
        for n in names:
            d = dist.get(n)
            out.append({"galaxy": n, "dist": None if not _finite(d) else float(_plain(np.float32(d))),
                        "n_files": count.get(n, 0), "tracers": ",".join(sorted(tracers.get(n, ())))})
        return out

    def to_table(self, columns=None):
        """An astropy Table of the selected rows (units and descriptions attached)."""
        from astropy.table import Table

        columns = columns or DEFAULT_COLUMNS
        t = Table()
        for c in columns:
            vals = self.column(c)
            if vals.dtype.kind == "b" or c == "valid":
                vals = vals.astype(bool)
            t[c] = vals
            unit = VIRTUAL.get(c) or self.index.units.get(c)
            if unit:
                t[c].unit = unit
        return t


def select(index: Index, selection: Selection) -> Result:
    """Apply ``selection`` to ``index``; returns the matching rows (a :class:`Result`).

    Unknown values never pass a numeric test (a file whose depth is unknown is not "deeper
    than 1 K"); how many rows that left out is said in ``Result.notes``.
    """
    sel = selection
    n = len(index)
    notes: list[str] = []
    mask = np.ones(n, dtype=bool)
    dv = sel.depth_chan_kms if sel.depth_chan else 1.0

    # Cheap column tests first, on the whole table (memory-mapped: a few ms per column).
    if sel.tracers:
        canon = [index.canonical_tracer(t) for t in sel.tracers]
        mask &= index.match_text("tracer", canon, fold=False)   # the index holds canonical names
    # Rows whose value is unknown stay in until the end, so that the note counts only those
    # the other options would have kept (not every unknown row of the index).
    unknown: dict = {}
    for q, col in (("res", "res"), ("chan", "chan_kms")):
        r = getattr(sel, q)
        if r is not None:
            _range_filter(mask, index.raw(col), r, q, notes, unknown)
    if sel.depth is not None:
        _range_filter(mask, index.depth(None, dv), sel.depth, "depth", notes, unknown)
    for opt, col in (("surveys", "survey"), ("trees", "tree"), ("types", "product"),
                     ("bunits", "bunit")):
        vals = getattr(sel, opt)
        if vals:
            mask &= index.match_text(col, vals)
    if sel.valid is not None:
        v = np.asarray(index.raw("valid"), dtype=bool)
        mask &= v if sel.valid else ~v

    rows = np.flatnonzero(mask)
    narrowed = len(rows) < n or any((sel.galaxies, sel.dist, sel.res_pc, sel.near, sel.cone,
                                     sel.polygon, sel.where, unknown))

    # Galaxy-dependent tests on the survivors.
    if sel.galaxies:
        names = []
        for g in sel.galaxies:
            canon = index.resolve_galaxy(g)
            if canon is None:
                near = index.galaxy_suggestions(g)
                notes.append(f"no galaxy {g!r} in the index" +
                             (f" (did you mean {' or '.join(near)}?)" if near else ""))
            else:
                names.append(canon)
        rows = rows[index.match_text("galaxy", names, rows, fold=False)] if names else rows[:0]
        if names and not len(rows):
            # The hint is for galaxies no file is named for, not for ones whose files the
            # other options left out.
            unnamed = [g for g in names if not index.match_text("galaxy", [g], fold=False).any()]
            notes.extend(_covering_hint(index, unnamed))
    for q in ("dist", "res_pc"):
        r = getattr(sel, q)
        if r is not None and len(rows):
            keep = np.ones(len(rows), dtype=bool)
            _range_filter(keep, index.values(q, rows)[0], r, q, notes)
            rows = rows[keep]
    if (sel.near or sel.cone or sel.polygon) and len(rows):
        rows = rows[_region_mask(index, rows, sel, notes)]
    if sel.where and len(rows):
        expr = sel.where_expr()
        expr.check(index.where_columns())
        keep = expr.evaluate(lambda name: index.values(name, rows, dv), index.canonical_text)
        rows = rows[np.asarray(keep, dtype=bool)]
    for q, (unk, text) in unknown.items():
        left_out = unk[rows]
        if left_out.any():
            notes.append(_unknown_note(int(np.count_nonzero(left_out)), q, text))
            rows = rows[~left_out]

    galaxies = None
    if sel.is_galaxy_set:
        galaxies = galaxy_set(index, sel)
        if not galaxies:
            rows = rows[:0]
        elif narrowed:
            rows = rows[index.match_text("galaxy", galaxies, rows, fold=False)]
            present = {_strip(g) for g in set(np.asarray(index.raw("galaxy", rows)).tolist())}
            galaxies = [g for g in galaxies if g in present]
        else:
            # Every galaxy of the set has files (it was found through them): their rows are
            # looked up only if asked for.
            every = rows
            rows = lambda: every[index.match_text("galaxy", galaxies, every, fold=False)]  # noqa: E731
    return Result(index, rows, sel, galaxies, notes)


def covering_rows(index: Index, ra: float, dec: float) -> np.ndarray:
    """FILES rows whose footprint contains the point (ra, dec) in degrees."""
    from . import footprint

    if not len(index):
        return np.zeros(0, dtype=int)
    near = footprint.cap_prefilter(index.numbers("ra"), index.numbers("dec"),
                                   index.numbers("fov") / 120.0, ra, dec, 0.0)
    cand = np.flatnonzero(near)
    if not len(cand):
        return cand
    inside = footprint.contains_point_many(np.asarray(index.raw("foot_ra", cand), dtype=float),
                                           np.asarray(index.raw("foot_dec", cand), dtype=float),
                                           np.asarray(index.raw("foot_n", cand), dtype=int), ra, dec)
    return cand[inside]


def _covering_hint(index: Index, names) -> list[str]:
    """For galaxies no file is named after (the companion of a pair, a dwarf in a big field):
    say how many files cover their position, and how to ask for them."""
    out = []
    for name in names:
        pos = index.galaxy_position(name)
        k = len(covering_rows(index, *pos)) if pos is not None else 0
        if k:
            out.append(f"no file is named for {name}, but {k} file(s) cover its position: "
                       f"sfng find --near '{name}' --radius 0.1arcmin")
    return out


def _range_filter(mask, values, rng: Range, quantity: str, notes: list, deferred=None) -> None:
    """``mask &= rng`` on ``values``; unknown (NaN) values never pass.

    Without ``deferred`` they are left out now and counted in ``notes``; with it (a dict) they
    are kept in ``mask`` and ``deferred[quantity] = (unknown mask, option text)``, for the
    caller to leave out and count once every other test is done.
    """
    values = np.asarray(values)
    unknown = mask & ~np.isfinite(values)
    if deferred is not None and unknown.any():
        mask &= rng.mask(values) | unknown
        deferred[quantity] = (unknown, rng.text)
        return
    k = int(np.count_nonzero(unknown))
    mask &= rng.mask(values)
    if k:
        notes.append(_unknown_note(k, quantity, rng.text))


def _unknown_note(k: int, quantity: str, text: str) -> str:
    unit = QUANTITIES[quantity][0]
    return f"{k} row(s) with unknown {quantity} ({unit}) left out by --{quantity.replace('_', '-')} {text!r}"


def galaxy_set(index: Index, selection: Selection) -> list[str]:
    """Galaxies with at least one file for every --has term and none for any --lacks term.

    A term is ``TRACER [constraints]`` (``'CO10 res<15 depth<1K'``): the constraints apply to
    that tracer's files (column names as in --where; ``dist``, ``res_pc``, ``depth`` work).
    """
    has, lacks = selection.terms()
    known = index.where_columns()

    def galaxies_with(term) -> set:
        canon = index.canonical_tracer(term.tracer)
        rows = np.flatnonzero(index.match_text("tracer", [canon], fold=False))
        if term.where is not None and len(rows):
            term.where.check(known)
            rows = rows[np.asarray(term.where.evaluate(lambda name: index.values(name, rows),
                                                       index.canonical_text), dtype=bool)]
        if not len(rows):
            return set()
        return {_strip(g) for g in set(np.asarray(index.raw("galaxy", rows)).tolist())} - {""}

    if has:
        result = galaxies_with(has[0])
        for t in has[1:]:
            result &= galaxies_with(t)
    else:
        result = {g for g in index.file_galaxies()}
    for t in lacks:
        result -= galaxies_with(t)
    return sorted(result)


def _region_mask(index: Index, rows, sel: Selection, notes: list) -> np.ndarray:
    """Footprint overlaps the cone (--near/--cone) and/or the polygon (--polygon).

    A cheap bounding-cap test on the centre and field-size columns goes first; the exact
    spherical tests (:mod:`sfng.footprint`) run only on the rows it keeps.
    """
    from . import footprint

    keep = np.ones(len(rows), dtype=bool)
    regions = []
    if sel.near:
        pos = index.galaxy_position(sel.near)
        if pos is None:
            raise SfngError(f"--near {sel.near!r}: no position for this galaxy in the index's "
                            f"GALAXIES table (or the store's NED cache); use --cone RA DEC RADIUS")
        regions.append(("cone", (pos[0], pos[1], sel.radius_deg)))
    if sel.cone:
        regions.append(("cone", sel.cone_deg))
    if sel.polygon:
        regions.append(("polygon", sel.polygon_deg))
    ra = index.numbers("ra", rows)
    dec = index.numbers("dec", rows)
    half = index.numbers("fov", rows) / 2.0 / 60.0
    foot_n = np.asarray(index.raw("foot_n", rows), dtype=int)
    no_foot = int(np.count_nonzero(foot_n < 1))
    if no_foot:
        notes.append(f"{no_foot} row(s) without a footprint left out by the region test")
    for kind, spec in regions:
        qra, qdec, qrad = spec if kind == "cone" else footprint.cap(*spec)
        cand = np.flatnonzero(keep & footprint.cap_prefilter(ra, dec, half, qra, qdec, qrad)
                              & (foot_n >= 1))
        exact = np.zeros(len(rows), dtype=bool)
        if len(cand):
            fra = np.asarray(index.raw("foot_ra", rows[cand]), dtype=float)
            fdec = np.asarray(index.raw("foot_dec", rows[cand]), dtype=float)
            if kind == "cone":
                exact[cand] = footprint.cone_overlaps_many(fra, fdec, foot_n[cand], qra, qdec, qrad)
            else:
                exact[cand] = footprint.polygon_overlaps_many(fra, fdec, foot_n[cand], *spec)
        keep &= exact
    return keep


def find(selection: Selection, index_path=None, store=None, sort=None, allow_stale=False) -> Result:
    """``sfng find`` as a function: open the index and select."""
    idx = load_index(index_path, store, allow_stale=allow_stale)
    return select(idx, selection).sort(sort)


# ---------------------------------------------------------------------------------------------
# info and summary
# ---------------------------------------------------------------------------------------------

def info(index: Index, name: str) -> dict:
    """Everything the index holds on one galaxy.

    Returns a dict: ``galaxy`` (the index's name), ``aliases``, ``ra``/``dec`` (deg), ``dist``
    (Mpc), ``dist_src``, and ``files``: one dict per file, grouped by tracer order, with
    ``path, survey, tracer, product, res`` (arcsec), ``depth_k`` (K in 1 km/s), ``size``
    (bytes), ``covers`` (whether the footprint contains the galaxy's centre; None unknown) and
    ``offset`` (arcmin, file centre to galaxy centre); ``covering``: files named for other
    galaxies whose footprint contains this galaxy's centre (a pair's companion, a wide field).
    """
    canon = index.resolve_galaxy(name)
    if canon is None:
        near = index.galaxy_suggestions(name)
        raise SfngError(f"no galaxy {name!r} in the index {index.path}"
                        + (f"; did you mean {' or '.join(near)}?" if near else ""))
    rec = index.galaxy_record(canon) or {"name": canon}
    rows = np.flatnonzero(index.match_text("galaxy", [canon], fold=False))
    res = Result(index, rows, Selection())
    res.sort(["tracer", "res", "path"])
    files = res.records(["path", "survey", "tracer", "product", "res", "depth_k", "size", "ra", "dec"])
    pos = (rec.get("ra"), rec.get("dec"))
    covers = [None] * len(files)
    if _finite(pos[0]) and _finite(pos[1]) and len(res.rows):
        covers = _covers(index, res.rows, float(pos[0]), float(pos[1]))
    for f, c in zip(files, covers):
        f["covers"] = c
        f["offset"] = _sep_arcmin(f.pop("ra"), f.pop("dec"), pos[0], pos[1])
    aliases = [a for a in str(rec.get("aliases", "") or "").split(";") if a.strip()]
    covering = []
    if _finite(pos[0]) and _finite(pos[1]):
        others = covering_rows(index, float(pos[0]), float(pos[1]))
        others = np.setdiff1d(others, res.rows)
        covering = Result(index, others, Selection()).records(["path", "galaxy", "survey", "tracer", "res"])
    return {"galaxy": canon, "aliases": aliases, "covering": covering,
            "ra": rec.get("ra") if _finite(rec.get("ra")) else None,
            "dec": rec.get("dec") if _finite(rec.get("dec")) else None,
            "dist": float(rec["dist"]) if _finite(rec.get("dist")) else None,
            "dist_src": rec.get("dist_src") or None, "files": files}


def _covers(index: Index, rows, ra, dec) -> list:
    from . import footprint

    foot_n = np.asarray(index.raw("foot_n", rows), dtype=int)
    inside = footprint.contains_point_many(np.asarray(index.raw("foot_ra", rows), dtype=float),
                                           np.asarray(index.raw("foot_dec", rows), dtype=float),
                                           foot_n, ra, dec)
    return [bool(v) if k >= 3 else None for v, k in zip(inside, foot_n)]


def _sep_arcmin(ra1, dec1, ra2, dec2):
    if not all(_finite(x) for x in (ra1, dec1, ra2, dec2)):
        return None
    from .footprint import separation

    return float(separation(float(ra1), float(dec1), float(ra2), float(dec2))) * 60.0


@dataclass
class Summary:
    """The galaxy x tracer coverage matrix: best (smallest) resolution in arcsec per cell.

    ``res[i, j]`` is NaN when galaxy ``i`` has files of tracer ``j`` but none with a known
    resolution, and ``count[i, j]`` is 0 when it has none at all.
    """

    galaxies: list
    tracers: list
    res: np.ndarray
    count: np.ndarray

    def rows(self) -> list[dict]:
        out = []
        for i, g in enumerate(self.galaxies):
            row = {"galaxy": g}
            for j, t in enumerate(self.tracers):
                row[t] = None if self.count[i, j] == 0 else (
                    _single(self.res[i, j]) if np.isfinite(self.res[i, j]) else "?")
            out.append(row)
        return out

    def as_dict(self):
        return {"galaxies": self.galaxies, "tracers": self.tracers,
                "best_res_arcsec": [[None if not np.isfinite(v) else _single(v) for v in r] for r in self.res],
                "n_files": self.count.tolist()}

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["galaxy", *self.tracers])
        for row in self.rows():
            w.writerow([row["galaxy"], *("" if row[t] is None else
                                         (row[t] if isinstance(row[t], str) else f"{row[t]:.4g}")
                                         for t in self.tracers)])
        return buf.getvalue()

    def plot(self, path) -> Path:
        """A PNG heatmap (needs matplotlib: the ``plot`` extra)."""
        plt = _pyplot()
        fig_w = max(5.0, 1.0 + 0.6 * len(self.tracers))
        fig_h = max(3.0, 1.0 + 0.35 * len(self.galaxies))
        fig, ax = plt.subplots(figsize=(fig_w, fig_h))
        data = np.ma.masked_invalid(np.where(self.count > 0, self.res, np.nan))
        im = ax.imshow(data, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(self.tracers)), self.tracers, rotation=45, ha="right")
        ax.set_yticks(range(len(self.galaxies)), self.galaxies)
        for i in range(len(self.galaxies)):
            for j in range(len(self.tracers)):
                if self.count[i, j]:
                    v = self.res[i, j]
                    ax.text(j, i, f"{v:.3g}" if np.isfinite(v) else "?", ha="center", va="center",
                            fontsize=7, color="w")
        fig.colorbar(im, ax=ax, label="best resolution (arcsec)")
        ax.set_title("SFNG coverage: best resolution per galaxy and tracer")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def summary(index: Index, selection: Selection | None = None) -> Summary:
    """The coverage matrix of the files a selection picks (all files by default)."""
    res = select(index, selection or Selection())
    gal = res.column("galaxy")
    tr = res.column("tracer")
    r = np.asarray(res.column("res"), dtype=float)
    keep = (gal != "") & (tr != "")
    gal, tr, r = gal[keep], tr[keep], r[keep]
    galaxies = sorted(set(gal))
    tracers = sorted(set(tr))
    gi = {g: i for i, g in enumerate(galaxies)}
    ti = {t: j for j, t in enumerate(tracers)}
    best = np.full((len(galaxies), len(tracers)), np.nan)
    count = np.zeros((len(galaxies), len(tracers)), dtype=int)
    for g, t, v in zip(gal, tr, r):
        i, j = gi[g], ti[t]
        count[i, j] += 1
        if np.isfinite(v) and not (best[i, j] <= v):
            best[i, j] = v
    return Summary(galaxies, tracers, best, count)


def plot_footprints(index: Index, name: str, out, selection: Selection | None = None) -> Path:
    """PNG of the footprints of all files on galaxy ``name`` around its position.

    Offsets are drawn in a gnomonic (tangent-plane) projection centred on the galaxy, in
    arcmin, east to the left as on the sky.
    """
    plt = _pyplot()
    canon = index.resolve_galaxy(name)
    if canon is None:
        raise SfngError(f"no galaxy {name!r} in the index {index.path}")
    sel = selection or Selection()
    sel = Selection.build(**{**sel.__dict__, "galaxies": (canon,)})
    res = select(index, sel)
    pos = index.galaxy_position(canon)
    ras = np.asarray(index.raw("foot_ra", res.rows), dtype=float)
    decs = np.asarray(index.raw("foot_dec", res.rows), dtype=float)
    ns = np.asarray(index.raw("foot_n", res.rows), dtype=int)
    if pos is None:
        good = ns >= 3
        if not good.any():
            raise SfngError(f"{canon}: neither a position nor any footprint to draw")
        pos = (float(np.nanmean(ras[good])), float(np.nanmean(decs[good])))
    tracers = res.column("tracer")
    surveys = res.column("survey")
    fig, ax = plt.subplots(figsize=(6.5, 6))
    colours = {}
    for ra, dec, k, t, s in zip(ras, decs, ns, tracers, surveys):
        if k < 3:
            continue
        x, y = _gnomonic(ra[:k], dec[:k], *pos)
        label = f"{s} {t}".strip()
        c = colours.setdefault(label, f"C{len(colours) % 10}")
        ax.fill(np.r_[x, x[0]], np.r_[y, y[0]], alpha=0.15, color=c)
        ax.plot(np.r_[x, x[0]], np.r_[y, y[0]], color=c, label=label if label not in ax.get_legend_handles_labels()[1] else None)
    ax.plot([0], [0], "k+", ms=14, mew=2, label=canon)
    ax.invert_xaxis()
    ax.set_aspect("equal")
    ax.set_xlabel("east offset (arcmin)")
    ax.set_ylabel("north offset (arcmin)")
    ax.set_title(f"{canon}: footprints of {int(np.count_nonzero(ns >= 3))} file(s)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _gnomonic(ra, dec, ra0, dec0):
    """Tangent-plane offsets (arcmin) of (ra, dec) around (ra0, dec0); all in degrees."""
    a, d = np.radians(ra), np.radians(dec)
    a0, d0 = math.radians(ra0), math.radians(dec0)
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    x = np.cos(d) * np.sin(a - a0) / cosc
    y = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc
    return np.degrees(x) * 60.0, np.degrees(y) * 60.0


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SfngError("plotting needs matplotlib, an optional extra: pip install 'sfng[plot]'") from exc
    return plt


# ---------------------------------------------------------------------------------------------
# The demo step: the specification's three use cases on the demo store
# ---------------------------------------------------------------------------------------------

#: The three use cases as selections (also shown in docs/queries.md).
USE_CASES = {
    1: ("CO(1-0) maps better than 15 arcsec, galaxies within 15 Mpc, 1 K rms in 1 km/s",
        dict(tracers=("CO10",), res="<15", dist="<15", depth="<=1K")),
    2: ("galaxies with CO(1-0) and MIPS 24 micron but no H-alpha",
        dict(has=("CO10", "MIPS24"), lacks=("HALPHA",))),
    3: ("all the data on IC 342", dict(galaxies=("IC 342",))),
}


def use_case(n: int) -> Selection:
    return Selection.build(**USE_CASES[n][1])


def demo_step(tree, say) -> None:
    """Run the specification's three use cases on the demo store and print the answers."""
    from .store import Store

    store = Store.open(tree.store_dir)
    if not store.index_path.is_file():
        say("find: no index in the demo store (the index step is not in this build); skipped")
        return
    idx = load_index(store=store)
    for n in (1, 2, 3):
        title, _ = USE_CASES[n]
        sel = use_case(n)
        res = select(idx, sel)
        say(f"find: use case {n}, {title}:")
        say(f"      $ {sel.to_command()}")
        if sel.is_galaxy_set:
            say(f"      -> {len(res.galaxies)} galaxies: {', '.join(res.galaxies) or '(none)'}")
        else:
            for rec in res.records(["galaxy", "survey", "res", "depth_k", "path"]):
                extra = f"res {rec['res']:.3g}\"" if _finite(rec["res"]) else "res ?"
                extra += f", depth {rec['depth_k']:.3g} K" if _finite(rec["depth_k"]) else ""
                say(f"      {rec['path']}  ({extra})")
            say(f"      -> {len(res)} file(s)")
    # Use case 3 ends with a download.
    from .get import get_files

    res = select(idx, use_case(3))
    out = tree.root / "ic342-download"
    report = get_files(res, store, out)
    say(f"get: {report.summary()} into {out}")
