"""The opened index: :class:`Index` over ``SFNG-INDEX.fits`` and :func:`load_index`.

The FILES table is memory-mapped in its on-disk layout (:func:`sfng.index.io.open_records`), so a
query reads only the bytes of the columns it tests; text columns are matched in place
(:mod:`sfng.query.textmatch`).  Galaxy names resolve through the GALAXIES table, the file names
and, in a store, the offline NED cache; tracer names through the tracer vocabulary.
"""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import numpy as np

from ..errors import SfngError
from .textmatch import equal_words, every_row, isin_many, padded
from .values import finite, strip_text

#: Columns computed per row from the index (name -> unit): the galaxy's distance (GALAXIES
#: table), the physical resolution at that distance, and ``depth`` (= ``depth_k``).
VIRTUAL = {"dist": "Mpc", "res_pc": "pc", "depth": "K"}
#: What the virtual columns are (``sfng find --columns help``, and the outputs' descriptions).
VIRTUAL_DESCRIPTIONS = {"dist": "the galaxy's adopted distance (GALAXIES table)",
                        "res_pc": "physical resolution: res at the galaxy's distance",
                        "depth": "rms in K in a 1 km/s channel (= depth_k; --depth-chan for another width)"}
_ARCSEC_RAD = math.pi / 648000.0


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
        from ..index.schema import FILES_COLUMNS

        #: FITS logical columns (stored as the bytes 'T'/'F' in the on-disk records).
        self.logical = {c.name for c in FILES_COLUMNS if c.kind == "?"}

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path=None, store=None, allow_stale: bool = False) -> "Index":
        """Open the index at ``path`` (default: the store's ``SFNG-INDEX.fits``).

        Raises SfngError for a missing, corrupt, newer-schema or (inside a store) stale index.
        """
        from ..index import io
        from ..index.schema import FILES_COLUMNS, GALAXIES_HDU

        if path is None:
            if store is None:
                raise SfngError("no index: run inside a store, use --store PATH, or give --index "
                                "PATH to a downloaded SFNG-INDEX.fits")
            path = store.index_path
        path = Path(path)
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # Path.is_file() says False; say why
                raise SfngError(f"{path}: cannot open the index: {exc.strerror} "
                                f"(a symbolic link loop)") from None
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
            else:
                # The columnar companion of this very build, when it is there: a column is
                # then contiguous, and a query touches only the columns it tests.
                from ..index.columns import open_table

                table = open_table(path, meta.get("build_id"), len(records))
                if table is not None:
                    records = table
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

    def changed_files(self, rows, limit: int = 1000) -> tuple[int, int]:
        """``(checked, changed)``: of the files of the first ``limit`` ``rows``, how many no longer
        have the size and modification time the index recorded (edited in place, or gone).

        A cheap check (one ``stat`` per file, at most ``limit``) on the rows a query returns;
        ``(0, 0)`` for an index used without its store, or one without ``size``/``mtime``."""
        names = self.files.dtype.names
        if self.store is None or not {"path", "size", "mtime"} <= set(names):
            return 0, 0
        rows = np.asarray(rows)[:limit]
        if not len(rows):
            return 0, 0
        paths = self.text("path", rows)
        sizes = np.asarray(self.raw("size", rows)).astype(np.int64)
        mtimes = np.asarray(self.raw("mtime", rows), dtype=float)
        root = self.store.root
        seen, changed = set(), 0
        for p, size, mtime in zip(paths.tolist(), sizes.tolist(), mtimes.tolist()):
            if p in seen or not p:
                continue
            seen.add(p)
            try:
                st = os.stat(root / p)
            except OSError:  # gone (or unreadable): the row no longer describes it
                changed += 1
                continue
            if st.st_size != size or not abs(st.st_mtime - mtime) <= 1e-6:  # mtime is stored whole
                changed += 1
        return len(seen), changed

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
        if rows is not None and not every_row(rows, len(self.files)):
            col = col[rows]
        if name in self.logical and self.files.dtype[name].kind != "b":
            return np.asarray(col) == ord("T")   # FITS logical, as stored on disk
        return col

    def text(self, name: str, rows=None) -> np.ndarray:
        """A text column decoded to str (use on selected rows: it copies)."""
        col = np.asarray(self.raw(name, rows))
        if col.dtype.kind == "S":
            # UTF-8; a file name that is not UTF-8 keeps its bytes as surrogate escapes (PEP 383)
            out = np.char.decode(col, "utf-8", "surrogateescape") if len(col) else col.astype("U1")
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
        want = {v.strip().encode("utf-8", "surrogateescape") for v in values}
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
        got = self.codes(name)
        if got is not None:   # a dictionary-coded column: compare small integers
            values, codes = got
            ks = np.flatnonzero(np.isin(values, [w for w in want if len(w) <= values.dtype.itemsize]))
            codes = codes if rows is None or every_row(rows, len(self.files)) else codes[rows]
            if len(ks) == 1:
                return codes == ks[0]
            return np.isin(codes, ks)
        col = np.asarray(self.raw(name, rows))
        if col.dtype.kind == "U":            # an index read through astropy as str
            return np.isin(np.char.encode(col, "utf-8"), list(want))
        width = col.dtype.itemsize
        if len(col) and padded(col):        # a writer that pads with blanks, not NULs
            want = set(want) | {w.ljust(width) for w in want if len(w) <= width}
        want = [w for w in want if len(w) <= width]
        if not want or not len(col):
            return np.zeros(len(col), dtype=bool)
        words = self.byte_words(name, rows)
        if rows is None or every_row(rows, len(self.files)):
            # Reading one word of every row walks the whole map (a TLB miss per row or two):
            # do it once, keep it contiguous, and compare every later value against the copy.
            cache = self.__dict__.setdefault("_first_words", {})
            if name not in cache and isinstance(self.files, np.ndarray):
                cache[name] = np.ascontiguousarray(words[0][0])
            if name in cache:
                words = [(cache[name], words[0][1], words[0][2]), *words[1:]]
        if len(want) > 8:
            return isin_many(words, col, want)
        m = equal_words(words, want[0].ljust(width, b"\0"))
        for w in want[1:]:
            m |= equal_words(words, w.ljust(width, b"\0"))
        return m

    def byte_words(self, name: str, rows=None) -> list:
        """The bytes of a text column as integer views ``(array, start, size)`` covering its
        width (8, 4, 2, 1 bytes): on the memory map itself for every row, else on a copy."""
        width = self.files.dtype[name].itemsize
        every = rows is None or every_row(rows, len(self.files))
        if every and isinstance(self.files, np.ndarray):   # the rows of the memory map, strided
            buf, off, stride, n = self.files, self.files.dtype.fields[name][1], self.files.dtype.itemsize, \
                len(self.files)
        elif every:                               # a companion's column: already contiguous
            buf = self.files[name]
            off, stride, n = 0, width, len(buf)
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

    def codes(self, name: str):
        """``(values, codes)`` of a text column (``values[codes]`` is the column), when the
        index's columnar companion stores it that way, else None."""
        get = getattr(self.files, "codes", None)
        return get(name) if get is not None else None

    def distinct_in(self, name: str, rows) -> set:
        """The distinct values (bytes) of a text column over ``rows``."""
        got = self.codes(name)
        if got is not None:
            values, codes = got
            seen = np.zeros(len(values), dtype=bool)
            seen[codes[rows]] = True
            return set(values[seen].tolist())
        return set(np.asarray(self.raw(name, rows)).tolist())

    def distinct(self, name: str) -> set:
        """The distinct values (bytes) of a text column (cached)."""
        cache = self.__dict__.setdefault("_distinct", {})
        if name not in cache:
            got = self.codes(name)
            # A set of Python bytes is much faster than np.unique's sort on a million strings.
            cache[name] = set((got[0] if got is not None else np.asarray(self.raw(name))).tolist())
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
                    vals = [v.decode("utf-8", "surrogateescape").rstrip() for v in vals]
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
            from ..naming import normalise

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
        from ..naming import normalise

        key = normalise(name)
        hit = self.galaxy_keys().get(key)
        if hit:
            return hit
        for g in self.file_galaxies():
            if normalise(g) == key:
                return g
        if self.store is not None:
            try:
                from ..ned import Resolver

                rec = Resolver(self.store, offline=True).resolve(name)
            except SfngError:
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
        return sorted(strip_text(v) for v in self.distinct("galaxy") if strip_text(v))

    def galaxy_suggestions(self, name: str, n: int = 3) -> list[str]:
        import difflib

        from ..naming import normalise

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
        if rec and finite(rec.get("ra")) and finite(rec.get("dec")):
            return float(rec["ra"]), float(rec["dec"])
        if self.store is not None:
            try:
                from ..ned import Resolver

                r = Resolver(self.store, offline=True).resolve(name)
                if finite(r.ra) and finite(r.dec):
                    return float(r.ra), float(r.dec)
            except SfngError:
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
            self._dist = {strip_text(n).encode("utf-8", "surrogateescape"): shortest(d)
                          for n, d in zip(self.galaxies["name"].tolist(), dist)}
        lookup = self._dist
        values = gal.tolist()
        if gal.dtype.kind == "U" or padded(gal):
            values = [strip_text(v).encode("utf-8", "surrogateescape") for v in values]
        return np.fromiter((lookup.get(v, np.nan) for v in values), dtype=float, count=len(values))

    # -- tracers ----------------------------------------------------------------------------
    def vocabulary(self):
        if self._vocab is None:
            from ..tracers import for_store

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
        from ..tracers import normalise as tnorm

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
        return sorted(strip_text(v) for v in self.distinct("tracer") if strip_text(v))

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
        from ..units import depth_at_many

        if chan_kms == 1.0:
            return np.asarray(self.raw("depth_k", rows))   # its stored precision: see select.at_column_precision
        return depth_at_many(self.numbers("rms_k", rows), self.numbers("chan_kms", rows), chan_kms)


def _fast_meta_galaxies(path, galaxies_hdu):
    """(meta, galaxies) of an index in this sfng's layout, read directly (GALAXIES as disk
    records: text as its stored UTF-8 bytes); (None, None) for any other file."""
    from ..index import io

    gal = io.open_galaxy_records(path)
    if gal is None:
        return None, None
    try:
        hdr = io.primary_cards(path)
    except (OSError, ValueError):  # let the full reader explain what is wrong
        return None, None
    # Only what queries use; sfng.index.io.read_index gives the full set.
    try:
        version = int(hdr.get("SFNGSCHV", -1))
    except ValueError:
        return None, None
    return {"schema_version": version, "store": hdr.get("STORE", ""),
            "build_id": hdr.get("SFNGBID", "")}, gal


def load_index(index_path=None, store=None, allow_stale=False) -> Index:
    """Open an index: ``index_path`` if given, else the store's (see :meth:`Index.open`).

    With neither, the store is discovered as the CLI does (the nearest folder upwards from the
    current one holding ``sfng.yaml``, else ``$SFNG_STORE``); a ``store`` may be a path.
    """
    from ..errors import NotAStoreError
    from ..store import Store

    if store is not None and not isinstance(store, Store):
        store = Store.discover(store)
    if index_path is None and store is None:
        try:
            store = Store.discover()
        except NotAStoreError:
            pass  # Index.open says what to do
    return Index.open(index_path, store=store, allow_stale=allow_stale)
