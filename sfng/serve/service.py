"""The data service without HTTP: queries to spectrum ids, ids to spectra (aligned, cut out),
tables in the wire formats, previews.  :mod:`sfng.serve.app` puts it behind Starlette.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import SfngError
from . import ids
from .data import Catalog, CubeCache, NotFound, Unreadable
from .resample import NOCOV, Grid, common_grid, resample
from .resample import is_log as is_log_grid
from .wire import FORMATS

#: Per-request limits; the store's ``sfng.yaml`` may override each under ``serve: limits:``.
DEFAULT_LIMITS = {
    "max_ids": 10000,          # ids one query returns or one getSpec takes
    "max_bytes": 512 * 2**20,  # bytes of one answer (before compression)
    "max_seconds": 60.0,       # work on one request
    "max_grid": 100000,        # pixels of an aligned grid
    "max_plots": 100,          # panels of one plotGrid page
}

#: Bytes of spectra one chunk of a streamed answer holds (records are made, sent, dropped).
CHUNK_BYTES = 4 << 20


class UsageError(SfngError):
    """A request the service cannot honour as asked (400)."""


class TooLarge(SfngError):
    """A request over one of the limits (413)."""


class TimeUp(SfngError):
    """A request that ran past ``max_seconds`` (503)."""


def limits_from_config(config: dict | None) -> dict:
    out = dict(DEFAULT_LIMITS)
    cfg = ((config or {}).get("serve") or {}).get("limits") or {}
    for k, v in cfg.items():
        if k in out:
            out[k] = type(out[k])(v)
    return out


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise TimeUp(f"the request ran past the limit of {self.seconds:g} s; ask for fewer spectra")


_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_CUT_RE = re.compile(rf"^\s*({_NUM})\s*(?:-|:|\.\.|,)\s*({_NUM})\s*$")


def parse_cutout(text) -> tuple[float, float]:
    """``'6500-7200'`` (also ``6500:7200``, ``6500..7200``, ``[6500, 7200]``) -> (lo, hi)."""
    if isinstance(text, (list, tuple)) and len(text) == 2:
        lo, hi = float(text[0]), float(text[1])
    else:
        m = _CUT_RE.match(str(text))
        if not m:
            raise UsageError(f"cutout {text!r}: write '<start>-<end>' in the spectral axis' units, e.g. '6500-7200'")
        lo, hi = float(m.group(1)), float(m.group(2))
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise UsageError(f"cutout {text!r}: the start must be below the end")
    return lo, hi


@dataclass
class Spectra:
    """Spectra in request order; ``grid`` when they share one (aligned or native)."""

    ids: list
    flux: list
    ivar: list
    mask: list
    wave: list
    wave_unit: str
    flux_unit: str
    grid: dict | None = None
    notes: list = field(default_factory=list)
    sources: list = field(default_factory=list)

    @property
    def common(self) -> bool:
        return all(len(w) == len(self.wave[0]) and np.array_equal(w, self.wave[0]) for w in self.wave)


@dataclass
class SpectraStream:
    """The spectra of a ``getSpec``, made chunk by chunk: :meth:`records` yields structured
    arrays of a few MiB (fields ``id``, ``npix``, ``wave`` unless ``with_wave`` is false,
    ``flux``, ``ivar``, ``mask``; each row ``n`` long, the tail past ``npix`` NaN / 0 / NOCOV),
    so an answer of any length is sent with bounded memory (:mod:`sfng.serve.wire`).
    ``common_wave`` is the grid the spectra share (aligned, or native and equal), else None."""

    ids: list
    wave_unit: str
    flux_unit: str
    n: int
    grid: dict | None
    common_wave: np.ndarray | None
    notes: list
    fill: object                      # fill(rec, start, stop, with_wave): rows start..stop into rec
    max_seconds: float | None = None  # of work (making chunks), not of sending them to a slow reader
    rows_per_chunk: int | None = None
    work_s: float = 0.0

    @property
    def id_width(self) -> int:
        return max((len(s) for s in self.ids), default=1)

    def dtype(self, with_wave: bool = True) -> np.dtype:
        n = self.n
        fields = [("id", f"<U{self.id_width}"), ("npix", "<i4")]
        if with_wave:
            fields.append(("wave", "<f8", (n,)))
        fields += [("flux", "<f4", (n,)), ("ivar", "<f4", (n,)), ("mask", "<i4", (n,))]
        return np.dtype(fields)

    def nbytes(self, with_wave: bool = True) -> int:
        return len(self.ids) * self.dtype(with_wave).itemsize

    def _rows(self, dt) -> int:
        return self.rows_per_chunk or max(1, CHUNK_BYTES // max(dt.itemsize, 1))

    def _chunk(self, a: int, with_wave: bool):
        dt = self.dtype(with_wave)
        b = min(a + self._rows(dt), len(self.ids))
        if self.max_seconds is not None and self.work_s > self.max_seconds:
            raise TimeUp(f"the request ran past the limit of {self.max_seconds:g} s of work; ask for fewer spectra")
        t0 = time.monotonic()
        rec = np.empty(b - a, dtype=dt)
        self.fill(rec, a, b, with_wave)
        self.work_s += time.monotonic() - t0
        return rec

    def prime(self, with_wave: bool) -> None:
        """Make the first chunk now, so that an error in it is the answer's status rather
        than a broken stream."""
        self._first = (with_wave, self._chunk(0, with_wave))

    def records(self, with_wave: bool = True):
        first = getattr(self, "_first", None)
        a = 0
        if first is not None and first[0] == with_wave:
            self._first = None
            yield first[1]
            a = len(first[1])
        while a < len(self.ids):
            rec = self._chunk(a, with_wave)
            a += len(rec)
            yield rec

    @classmethod
    def of(cls, sp: Spectra) -> SpectraStream:
        """A stream over spectra already made (previews, tests)."""
        n = max((len(w) for w in sp.wave), default=0)
        common = sp.wave[0] if sp.wave and sp.common and len(sp.wave[0]) == n else None

        def fill(rec, a, b, with_wave):
            _pack(rec, sp, a, b, with_wave)

        return cls(list(sp.ids), sp.wave_unit, sp.flux_unit, n, sp.grid, common, list(sp.notes), fill)


def _pack(rec, sp: Spectra, a: int, b: int, with_wave: bool) -> None:
    """Rows a..b of made spectra into ``rec`` (padded to its width)."""
    n = rec.dtype["flux"].shape[0] if rec.dtype["flux"].shape else 0
    rec["id"] = sp.ids[a:b]
    for j, i in enumerate(range(a, b)):
        k = len(sp.wave[i])
        rec["npix"][j] = k
        rec["flux"][j, :k] = sp.flux[i]
        rec["ivar"][j, :k] = sp.ivar[i]
        rec["mask"][j, :k] = sp.mask[i]
        if k < n:
            rec["flux"][j, k:] = np.nan
            rec["ivar"][j, k:] = 0.0
            rec["mask"][j, k:] = NOCOV
        if with_wave:
            rec["wave"][j, :k] = sp.wave[i]
            rec["wave"][j, k:] = np.nan


class Service:
    """A store (or a release) served read-only."""

    def __init__(self, root, index_path, *, cache_dir=None, config=None, name=None, kind="store"):
        self.root = Path(root).resolve()
        self.config = config or {}
        self.limits = limits_from_config(self.config)
        self.name = name or self.root.name
        self.kind = kind
        self.catalog = Catalog(self.root, index_path)
        cache_dir = Path(cache_dir) if cache_dir else self.root / ".sfng" / "cache" / "serve"
        self.cache = CubeCache(self.catalog, cache_dir)
        self.started = time.time()
        self._verified: dict = {}

    # -- describing ------------------------------------------------------------------------
    def alive(self) -> dict:
        return {"alive": True, "service": "sfng", "version": __version__, "name": self.name,
                "kind": self.kind, "limits": self.limits,
                "auth": "X-DL-AuthToken or Authorization: Bearer on every call but this one",
                "formats": list(FORMATS)}

    def contexts(self) -> dict:
        from ..query import summary  # noqa: F401 - keeps the query layer warm

        surveys = {}
        for e in self.catalog.entries.values():
            s = surveys.setdefault(e.survey, {"files": 0, "cubes": 0, "spectra_tables": 0, "galaxies": set(),
                                              "versions": {}})
            if e.version:
                v = s["versions"].setdefault(e.version, {"files": 0, "current": e.current})
                v["files"] += 1
            if not e.current:
                continue   # counted under its version only: the figures are the current data's
            s["files"] += 1
            s["cubes"] += int(e.is_cube)
            s["spectra_tables"] += int(e.is_spectra)
            if e.galaxy:
                s["galaxies"].add(e.galaxy)
        out = {k: {"files": v["files"], "cubes": v["cubes"], "spectra_tables": v["spectra_tables"],
                   "galaxies": len(v["galaxies"]), "versions": v["versions"]}
               for k, v in sorted(surveys.items())}
        releases = []
        rel = self.root / "release"
        if self.kind == "store" and rel.is_dir():
            releases = sorted(p.name for p in rel.iterdir() if p.is_dir() and not p.name.startswith("."))
        return {"default": self.name, "kind": self.kind, "surveys": out, "releases": releases}

    def catalogs(self) -> dict:
        from ..index.schema import FILES_COLUMNS

        cols = [{"name": c.name, "unit": c.unit, "description": c.description} for c in FILES_COLUMNS]
        return {"FILES": {"rows": len(self.catalog.entries), "columns": cols,
                          "constraint": "the selection language of `sfng find --where` over these columns"}}

    # -- querying --------------------------------------------------------------------------
    def query(self, *, region=None, ra=None, dec=None, size=None, constraint=None, limit=None,
              offset=0, aperture=None, all_spaxels=False, version=None) -> tuple[list, int]:
        """Spectrum ids (and how many matched before ``limit``/``offset``).

        With a region (a polygon, or a cone of radius ``size`` degrees about ``ra``/``dec``):
        every spaxel with data whose centre is inside it, of every cube whose footprint
        overlaps it, and every spectrum of a table of spectra whose position is inside it.
        With only a ``constraint``: the spaxel nearest each matching cube's centre
        (``all_spaxels``: every spaxel with data), and every spectrum of each matching table.
        ``aperture`` (arcsec): instead of spaxels, one aperture spectrum per cube, summed within
        that radius of ``ra``/``dec`` (tables have no apertures).
        ``version``: the data versions searched, as ``sfng find`` has them: the current version
        of each survey by default, ``"all"`` every version, else that one version.
        """
        from .. import footprint
        from ..query import select
        from ..select import Selection

        kw = {}
        poly = None
        if region is not None:
            text = _region_text(region)
            kw["polygon"] = text
        if ra is not None or dec is not None or size is not None:
            if ra is None or dec is None or size is None:
                raise UsageError("a cone needs ra, dec and size (degrees)")
            ra, dec, size = float(ra), float(dec), float(size)
            if not (math.isfinite(ra) and -90 <= dec <= 90 and 0 < size <= 90):
                raise UsageError("ra, dec, size: ra any, dec within -90..90, size within 0..90 degrees")
            ra %= 360.0
            kw["cone"] = (repr(ra), repr(dec), f"{size!r}deg")
        if constraint:
            kw["where"] = str(constraint)
        if not kw:
            raise UsageError("give a region, coord and size, ra/dec/size, or a constraint")
        kw.update(_version_words(version))
        sel = Selection.build(**kw)
        if region is not None:
            poly = sel.polygon_deg
        result = select(self.catalog.index, sel)
        rows = set(int(r) for r in result.rows)
        if poly is not None or ra is not None:
            # A table of spectra has no position in the index (its rows' positions are in its
            # data): the tables the rest of the selection keeps are searched row by row.
            rows |= self._unplaced_tables(constraint, version)
        out = []
        cap = self.limits["max_ids"]
        for r in sorted(rows):
            e = self.catalog.by_row.get(r)
            if e is None or not e.has_spectra:
                continue
            try:
                cube = self.cache.cube(e)
            except Unreadable:
                continue        # a cube in a format without a FITS form: no spectra to offer
            except NotFound:
                if e.is_cube:
                    raise
                continue        # a "spectra" table sfng cannot read spectra from (no flux column)
            if cube.kind == "table":
                if aperture is not None:
                    continue
                placed = np.isfinite(cube.pix_ra)      # a row without a position is in no region
                if poly is not None:
                    inside = placed & footprint.contains_point(poly[0], poly[1], cube.pix_ra, cube.pix_dec)
                elif ra is not None:
                    inside = placed & (footprint.separation(cube.pix_ra, cube.pix_dec, ra, dec) <= size)
                else:
                    inside = np.ones(cube.nx, bool)
                out.extend(ids.row_id(e.key, int(k)) for k in np.flatnonzero(inside & cube.good))
                continue
            if aperture is not None:
                if ra is None:
                    raise UsageError("aperture needs ra, dec (the aperture's centre)")
                d = footprint.separation(cube.pix_ra, cube.pix_dec, ra, dec)
                k = int(np.argmin(d))
                px = _pixel_arcsec(cube)
                rpx = max(0, int(round(float(aperture) / px)))
                if d[k] * 3600 <= max(float(aperture), px):
                    out.append(ids.aperture_id(e.key, k % cube.nx, k // cube.nx, rpx))
                continue
            if poly is not None:
                inside = footprint.contains_point(poly[0], poly[1], cube.pix_ra, cube.pix_dec)
            elif ra is not None:
                inside = footprint.separation(cube.pix_ra, cube.pix_dec, ra, dec) <= size
            elif all_spaxels:
                inside = np.ones(len(cube.good), bool)
            else:
                d = footprint.separation(cube.pix_ra, cube.pix_dec, e.ra, e.dec)
                inside = np.zeros(len(d), bool)
                inside[int(np.argmin(np.where(cube.good, d, np.inf)))] = bool(cube.good.any())
            for k in np.flatnonzero(inside & cube.good):
                out.append(ids.spectrum_id(e.key, int(k % cube.nx), int(k // cube.nx)))
        total = len(out)
        offset = max(0, int(offset or 0))
        if limit is not None:
            limit = int(limit)
            if not 0 <= limit <= cap:
                raise TooLarge(f"limit {limit}: at most {cap} ids per request")
            out = out[offset:offset + limit]
        else:
            out = out[offset:]
            if len(out) > cap:
                raise TooLarge(f"the query matches {len(out)} spectra, more than the limit of {cap} "
                               f"ids per request; narrow it, or page with limit= and offset=")
        return out, total

    def _unplaced_tables(self, constraint, version=None) -> set:
        """Index rows of the tables of spectra without an index position that ``constraint``
        (if any) and ``version`` keep."""
        from ..query import select
        from ..select import Selection

        rows = {e.row for e in self.catalog.entries.values() if e.is_spectra and not math.isfinite(e.ra)}
        if rows:
            kw = _version_words(version)
            if constraint:
                kw["where"] = str(constraint)
            rows &= set(int(r) for r in select(self.catalog.index, Selection.build(**kw)).rows)
        return rows

    # -- spectra ---------------------------------------------------------------------------
    def resolve(self, sid):
        """``(cube, x, y, r)`` for a spectrum id (a table's row k: ``x = k``, ``y = 0``);
        BadId / NotFound otherwise."""
        kind, key, *nums = ids.decode(sid)
        if kind == ids.FILE:
            raise ids.BadId("a file id is not a spectrum id; download it from /files/<id>")
        e = self.catalog.entry(key)
        cube = self.cache.cube(e)
        if (kind == ids.ROW) != (cube.kind == "table"):
            raise NotFound("no such spectrum in this store")
        if kind == ids.ROW:
            x, y, r = nums[0], 0, None
        else:
            x, y = nums[0], nums[1]
            r = nums[2] if kind == ids.APERTURE else None
        if not (0 <= x < cube.nx and 0 <= y < cube.ny):
            raise NotFound("no such spectrum in this store (outside the cube or table)")
        return cube, x, y, r

    def spectra(self, id_list, *, align=False, cutout=None, grid=None, deadline=None) -> Spectra:
        id_list = _id_list(id_list)
        if not id_list:
            raise UsageError("id_list is empty")
        if len(id_list) > self.limits["max_ids"]:
            raise TooLarge(f"{len(id_list)} ids: at most {self.limits['max_ids']} per request")
        deadline = deadline or Deadline(self.limits["max_seconds"])
        resolved = [self.resolve(s) for s in id_list]
        units = {c.wave_unit for c, *_ in resolved}
        if (align or cutout is not None) and len(units) > 1:
            raise UsageError(f"the spectra have different spectral units ({', '.join(sorted(units))}); "
                             f"align or cut out one kind at a time")
        est = sum(c.row_length(y * c.nx + x) for c, x, y, _ in resolved) * 20
        if est > self.limits["max_bytes"]:
            raise TooLarge(f"about {est} bytes of spectra, more than the limit of {self.limits['max_bytes']}")
        # group by cube: one fancy-indexing read per cube
        flux, ivar, mask, wave = [None] * len(id_list), [None] * len(id_list), [None] * len(id_list), [None] * len(id_list)
        groups: dict = {}
        for i, (c, x, y, r) in enumerate(resolved):
            groups.setdefault(id(c), (c, []))[1].append((i, x, y, r))
        for c, items in groups.values():
            deadline.check()
            plain = [(i, y * c.nx + x) for i, x, y, r in items if r is None]
            if plain:
                rows = np.array([k for _, k in plain])
                order = np.argsort(rows, kind="stable")
                f = np.asarray(c.flux[rows[order]])
                iv = np.asarray(c.ivar[rows[order]]) if c.ivar is not None else None
                mk = np.asarray(c.mask[rows[order]]) if c.mask is not None else None
                for j, o in enumerate(order):
                    i, k = plain[o]
                    m = c.row_length(k)
                    flux[i] = f[j][:m]
                    ivar[i] = iv[j][:m] if iv is not None else np.full(m, np.nan, np.float32)
                    mask[i] = mk[j][:m] if mk is not None else np.zeros(m, np.int32)
                    wave[i] = c.wave_row(k)
            for i, x, y, r in items:
                if r is None:
                    continue
                yy, xx = np.divmod(np.arange(c.nx * c.ny), c.nx)
                sel = np.flatnonzero(((xx - x) ** 2 + (yy - y) ** 2 <= r * r) & c.good)
                if not len(sel):
                    sel = np.array([y * c.nx + x])
                f = np.asarray(c.flux[sel], dtype=np.float64)
                flux[i] = np.nansum(f, axis=0).astype(np.float32)
                if c.ivar is not None:
                    iv = np.asarray(c.ivar[sel], dtype=np.float64)
                    with np.errstate(divide="ignore"):
                        var = np.where(iv > 0, 1.0 / np.where(iv > 0, iv, 1), np.inf).sum(axis=0)
                    ivar[i] = np.where(np.isfinite(var) & (var > 0), 1.0 / var, 0.0).astype(np.float32)
                else:
                    ivar[i] = np.full(f.shape[1], np.nan, np.float32)
                mask[i] = (np.bitwise_or.reduce(np.asarray(c.mask[sel]), axis=0) if c.mask is not None
                           else np.zeros(f.shape[1], np.int32))
                wave[i] = c.wave
        cubes = [c for c, *_ in resolved]
        out = Spectra(id_list, flux, ivar, mask, [np.asarray(w, dtype=np.float64) for w in wave],
                      cubes[0].wave_unit if len(units) == 1 else "mixed",
                      cubes[0].flux_unit if len({c.flux_unit for c in cubes}) == 1 else "mixed")
        out.sources = [_source(c, x, y, r) for c, x, y, r in resolved]
        lo_hi = parse_cutout(cutout) if cutout is not None else None
        if align or grid is not None:
            self._align(out, lo_hi, grid, deadline)
        elif lo_hi is not None:
            lo, hi = lo_hi
            for i, w in enumerate(out.wave):
                keep = (w >= lo) & (w <= hi)
                out.flux[i], out.ivar[i], out.mask[i], out.wave[i] = (out.flux[i][keep], out.ivar[i][keep],
                                                                      out.mask[i][keep], w[keep])
            out.notes.append("cutout: native pixels whose centres lie in the range (no resampling)")
        if out.common and out.grid is None and len(out.wave[0]):
            w = out.wave[0]
            out.grid = {"start": float(w[0]), "stop": float(w[-1]), "n": len(w), "unit": out.wave_unit,
                        "log": bool(cubes[0].meta.get("log")), "resampled": False}
        return out

    def _grid(self, grid, lo_hi, waves, unit: str) -> Grid:
        """The grid to align onto: the one asked for, or the common grid of ``waves``."""
        if grid is not None:
            try:
                g = Grid(float(grid["start"]), float(grid["stop"]), int(grid["n"]), bool(grid.get("log", False)),
                         unit)
            except (KeyError, TypeError, ValueError):
                raise UsageError("grid: give {\"start\": ..., \"stop\": ..., \"n\": ..., \"log\": false}") from None
            if not (g.n >= 1 and g.start < g.stop or g.n == 1) or (g.log and g.start <= 0):
                raise UsageError("grid: start < stop, n >= 1 (and start > 0 for a log grid)")
        else:
            waves = [w for w in waves if len(w)]
            if not waves:
                raise UsageError("align: the spectra have no pixels")
            lo, hi = lo_hi if lo_hi else (None, None)
            if lo_hi and lo is not None and lo <= 0 and all(is_log_grid(w) for w in waves):
                raise UsageError("cutout: a logarithmic grid needs a positive start")
            g = common_grid(waves, unit, lo, hi)
        if g.n > self.limits["max_grid"]:
            raise TooLarge(f"an aligned grid of {g.n} pixels, more than the limit of {self.limits['max_grid']}")
        return g

    @staticmethod
    def _grid_dict(g: Grid) -> dict:
        return dict(g.as_dict(), resampled=True, method="flux-conserving (overlap-weighted mean)", nocov_bit=NOCOV)

    def _align(self, out: Spectra, lo_hi, grid, deadline) -> None:
        g = self._grid(grid, lo_hi, out.wave, out.wave_unit)
        new = g.centres()
        # resample each group of spectra sharing an input grid in one call
        groups: dict = {}
        for i, w in enumerate(out.wave):
            groups.setdefault((len(w), w.tobytes()[:64], w.tobytes()[-64:]), []).append(i)
        for idx in groups.values():
            deadline.check()
            w = out.wave[idx[0]]
            if len(w) == 0:
                for i in idx:
                    out.flux[i] = np.full(g.n, np.nan, np.float32)
                    out.ivar[i] = np.zeros(g.n, np.float32)
                    out.mask[i] = np.full(g.n, NOCOV, np.int32)
                    out.wave[i] = new
                continue
            f, iv, mk = resample(w, np.stack([out.flux[i] for i in idx]),
                                 np.stack([np.nan_to_num(out.ivar[i], nan=0.0) for i in idx]),
                                 np.stack([out.mask[i] for i in idx]), new, new_log=g.log)
            for j, i in enumerate(idx):
                out.flux[i], out.ivar[i], out.mask[i], out.wave[i] = (f[j].astype(np.float32),
                                                                      iv[j].astype(np.float32), mk[j], new)
        out.grid = self._grid_dict(g)

    def spectra_stream(self, id_list, *, align=False, cutout=None, grid=None) -> SpectraStream:
        """What :meth:`spectra` gives, as a :class:`SpectraStream`: ids resolved and checked, the
        grid decided, the answer's size checked against ``max_bytes`` -- the spectra themselves
        are read chunk by chunk as the answer is sent.  Native spaxels are copied once, from
        the memory-mapped cache into the chunk; aligned, cut or aperture spectra are made by
        :meth:`spectra` a chunk at a time."""
        id_list = _id_list(id_list)
        if not id_list:
            raise UsageError("id_list is empty")
        if len(id_list) > self.limits["max_ids"]:
            raise TooLarge(f"{len(id_list)} ids: at most {self.limits['max_ids']} per request")
        limit = self.limits["max_seconds"]
        resolved = [self.resolve(s) for s in id_list]
        cubes = list({id(c): c for c, *_ in resolved}.values())
        rows_of: dict = {}
        for c, x, y, _ in resolved:
            rows_of.setdefault(id(c), set()).add(y * c.nx + x)
        axes = [w for c in cubes for w in c.distinct_waves(sorted(rows_of[id(c)]))]
        units = {c.wave_unit for c in cubes}
        if (align or cutout is not None) and len(units) > 1:
            raise UsageError(f"the spectra have different spectral units ({', '.join(sorted(units))}); "
                             f"align or cut out one kind at a time")
        wave_unit = cubes[0].wave_unit if len(units) == 1 else "mixed"
        flux_unit = cubes[0].flux_unit if len({c.flux_unit for c in cubes}) == 1 else "mixed"
        lo_hi = parse_cutout(cutout) if cutout is not None else None
        notes: list = []
        if align or grid is not None:
            g = self._grid(grid, lo_hi, axes, wave_unit)
            gdict = self._grid_dict(g)
            n, common, grid_out = g.n, g.centres(), gdict
            ask = {"start": g.start, "stop": g.stop, "n": g.n, "log": g.log}

            def fill(rec, a, b, with_wave):
                _pack(rec, self.spectra(id_list[a:b], grid=ask, deadline=Deadline(limit)), 0, b - a, with_wave)
        else:
            if lo_hi is not None:
                lo, hi = lo_hi
                ws = [w[(w >= lo) & (w <= hi)] for w in axes]
                notes.append("cutout: native pixels whose centres lie in the range (no resampling)")
            else:
                ws = axes
            n = max(len(w) for w in ws)
            same = all(len(w) == n and np.array_equal(w, ws[0]) for w in ws)
            common = ws[0] if same else None
            grid_out = None
            if same and n:
                grid_out = {"start": float(ws[0][0]), "stop": float(ws[0][-1]), "n": n, "unit": wave_unit,
                            "log": bool(cubes[0].meta.get("log")), "resampled": False}
            if lo_hi is not None or any(r is not None for *_, r in resolved) or not all(c.uniform for c in cubes):
                def fill(rec, a, b, with_wave):
                    _pack(rec, self.spectra(id_list[a:b], cutout=cutout, deadline=Deadline(limit)), 0, b - a,
                          with_wave)
            else:
                def fill(rec, a, b, with_wave):
                    _gather(rec, id_list, resolved, a, b, with_wave)
        st = SpectraStream(id_list, wave_unit, flux_unit, n, grid_out, common, notes, fill, limit)
        est = st.nbytes(with_wave=common is None)
        if est > self.limits["max_bytes"]:
            raise TooLarge(f"an answer of about {est} bytes, more than the limit of {self.limits['max_bytes']}")
        return st

    # -- encodings -------------------------------------------------------------------------
    @staticmethod
    def check_format(fmt) -> str:
        fmt = str(fmt).lower()
        fmt = {"numpy": "npy"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise UsageError(f"fmt {fmt!r}: one of {', '.join(FORMATS)} (never pickle)")
        return fmt

    def encode(self, sp: Spectra, fmt: str) -> tuple[bytes, str]:
        """The spectra as ``fmt`` bytes and their media type (all at once; ``getSpec`` streams)."""
        from . import wire

        fmt = self.check_format(fmt)
        pieces, media, _ = wire.encode(SpectraStream.of(sp), fmt)
        return b"".join(bytes(p) for p in pieces), media

    def list_span(self, id_list) -> list:
        out = []
        for sid in _id_list(id_list):
            c, x, y, r = self.resolve(sid)
            w = c.wave_row(y * c.nx + x)
            fin = w[np.isfinite(w)]
            out.append({"id": sid, "min": float(np.min(fin)) if fin.size else None,
                        "max": float(np.max(fin)) if fin.size else None, "npix": len(w),
                        "unit": c.wave_unit, "axis": c.meta.get("axis", ""), "galaxy": c.entry.galaxy,
                        "survey": c.entry.survey})
        return out

    # -- datasets (whole files: DataLink, SODA, previews) ---------------------------------
    def dataset(self, text):
        """The index entry of a dataset id: a file id (``/files``), or the ObsCore
        ``obs_publisher_did`` (``ivo://sfng/<store>?<path><locator>``); NotFound / BadId else."""
        if not isinstance(text, str) or not text.strip():
            raise ids.BadId("an ID is needed: a file id or an ivo://sfng/... publisher DID")
        text = text.strip()
        if text.startswith("ivo://"):
            auth, sep, rest = text[6:].partition("?")
            if not sep or not auth.lower().startswith("sfng") or not rest or len(rest) > 1024:
                raise NotFound(f"{text[:80]!r}: not a dataset of this service")
            return self.catalog.entry(ids.path_key(rest))   # looked up, never opened as a path
        kind, key, *_ = ids.decode(text)
        if kind != ids.FILE:
            raise ids.BadId("a spectrum id names no dataset: DataLink and SODA take a file id (/files) "
                            "or a publisher DID")
        return self.catalog.entry(key)

    def verified_path(self, e):
        """The file of ``e``, its bytes checked against the manifest's SHA-256 once per version
        (size, mtime, inode); :class:`~sfng.serve.data.Changed` when they differ."""
        import hashlib

        from .data import Changed

        path = self.catalog.file_path(e)
        st = path.stat()
        stamp = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
        if self._verified.get(stamp) == e.sha256:
            return path
        if st.st_size != e.size:
            raise Changed(f"{path.name} changed since the index was built; rebuild it")
        if e.sha256:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() != e.sha256:
                raise Changed(f"{path.name}: its bytes differ from the store's checksum; rebuild the index")
        if len(self._verified) > 4096:
            self._verified.clear()
        self._verified[stamp] = e.sha256
        return path

    def file_preview(self, e, size_px: int = 600) -> bytes:
        """A PNG of a dataset: an image as it is, a cube summed over its spectral axis."""
        import warnings

        from astropy.io import fits

        if not e.is_fits and not e.is_cube:       # a cube is read through its format's FITS form
            raise UsageError(f"{e.name}: previews are made of FITS images and cubes")
        if e.is_cube:
            c = self.cache.cube(e)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img = np.nanmean(np.asarray(c.flux), axis=1).reshape(c.ny, c.nx)
            what = f"mean over {c.flux.shape[1]} channels"
        elif e.is_spectra:
            c = self.cache.cube(e)
            img = np.asarray(c.flux[:2000], dtype=np.float32)
            what = f"{c.nx} spectra, one row each"
        else:
            path = self.verified_path(e)
            with fits.open(path, memmap=True) as h:
                k = e.hdu if 0 <= e.hdu < len(h) else 0
                hdu = h[k] if h[k].is_image and h[k].header.get("NAXIS", 0) >= 2 else next(
                    (x for x in h if x.is_image and x.header.get("NAXIS", 0) >= 2), None)
                if hdu is None:
                    raise UsageError(f"{e.name}: no image in the file")
                data = hdu.data
                while data.ndim > 2:
                    data = data[0]
                step = max(1, int(math.ceil(max(data.shape) / size_px)))
                img = np.array(data[::step, ::step], dtype=np.float32)
            what = "image"
        fig = _figure(5.5, 5.0)
        ax = fig.add_subplot(111)
        finite = img[np.isfinite(img)]
        vmin, vmax = np.percentile(finite, [1, 99.5]) if finite.size else (0, 1)
        ax.imshow(img, origin="lower", vmin=vmin, vmax=vmax, cmap="viridis", interpolation="nearest")
        ax.set_title(f"{e.galaxy or e.name} ({e.survey}): {what}", fontsize=8)
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
        return _png(fig)

    # -- pictures --------------------------------------------------------------------------
    def preview(self, sid, width=8.0, height=2.5) -> bytes:
        """A PNG of one spectrum (a spectrum id), or of a dataset (a file id)."""
        if isinstance(sid, str) and (sid.startswith("ivo://") or _is_file_id(sid)):
            return self.file_preview(self.dataset(sid))
        sp = self.spectra([sid])
        fig = _figure(width, height)
        ax = fig.add_subplot(111)
        _plot(ax, sp, 0)
        return _png(fig)

    def plot_grid(self, id_list, nx=3, ny=3, page=0, align=False) -> bytes:
        id_list = _id_list(id_list)
        nx, ny, page = int(nx), int(ny), int(page)
        if not (1 <= nx <= 20 and 1 <= ny <= 20) or nx * ny > self.limits["max_plots"]:
            raise UsageError(f"nx, ny: 1..20 each, at most {self.limits['max_plots']} panels")
        chunk = id_list[page * nx * ny:(page + 1) * nx * ny]
        if page < 0 or not chunk:
            raise UsageError(f"page {page}: the list has {math.ceil(len(id_list) / (nx * ny))} pages of {nx}x{ny}")
        sp = self.spectra(chunk, align=align)
        fig = _figure(3.0 * nx, 1.8 * ny)
        for i in range(len(chunk)):
            ax = fig.add_subplot(ny, nx, i + 1)
            _plot(ax, sp, i, small=True)
        fig.tight_layout()
        return _png(fig)

    def stacked(self, id_list, fmt="png", align=True, yflip=False) -> tuple[bytes, str, dict]:
        sp = self.spectra(id_list, align=True if (align or not self.spectra_share_grid(id_list)) else False)
        img = np.vstack([np.asarray(f, dtype=np.float32) for f in sp.flux])
        if yflip:
            img = img[::-1]
        if fmt in ("npy", "numpy"):
            buf = io.BytesIO()
            np.save(buf, img, allow_pickle=False)
            return buf.getvalue(), FORMATS["npy"], sp.grid or {}
        if fmt != "png":
            raise UsageError("fmt: png or npy")
        fig = _figure(8.0, max(2.0, min(12.0, 0.05 * len(img) + 1.5)))
        ax = fig.add_subplot(111)
        finite = img[np.isfinite(img)]
        vmin, vmax = (np.percentile(finite, [1, 99]) if finite.size else (0, 1))
        g = sp.grid or {}
        ax.imshow(img, aspect="auto", origin="upper" if yflip else "lower", vmin=vmin, vmax=vmax,
                  extent=(g.get("start", 0), g.get("stop", img.shape[1]), 0, len(img)), cmap="viridis")
        ax.set_xlabel(f"{sp.wave_unit}")
        ax.set_ylabel("spectrum")
        return _png(fig), "image/png", g

    def spectra_share_grid(self, id_list) -> bool:
        waves = [c.wave_row(y * c.nx + x) for c, x, y, _ in (self.resolve(s) for s in _id_list(id_list))]
        return all(len(w) == len(waves[0]) and np.array_equal(w, waves[0]) for w in waves)


def _gather(rec, id_list, resolved, a: int, b: int, with_wave: bool) -> None:
    """Native spaxels a..b into ``rec``: per cube, one read of its rows (in file order) from the
    memory-mapped cache, placed into the chunk's rows."""
    n = rec.dtype["flux"].shape[0] if rec.dtype["flux"].shape else 0
    rec["id"] = id_list[a:b]
    groups: dict = {}
    for j in range(b - a):
        c, x, y, _ = resolved[a + j]
        g = groups.get(id(c))
        if g is None:
            g = groups[id(c)] = (c, [], [])
        g[1].append(j)
        g[2].append(y * c.nx + x)
    flux, ivar, mask = rec["flux"], rec["ivar"], rec["mask"]
    wave = rec["wave"] if with_wave else None
    for c, pos, rows in groups.values():
        pos, rows = np.asarray(pos), np.asarray(rows)
        o = np.argsort(rows, kind="stable")
        pos, rows = pos[o], rows[o]
        k = c.flux.shape[1]
        rec["npix"][pos] = k
        if k == n:
            flux[pos] = c.flux[rows]
            ivar[pos] = c.ivar[rows] if c.ivar is not None else np.nan
            mask[pos] = c.mask[rows] if c.mask is not None else 0
            if wave is not None:
                wave[pos] = c.wave
            continue
        flux[pos, :k] = c.flux[rows]
        ivar[pos, :k] = c.ivar[rows] if c.ivar is not None else np.nan
        mask[pos, :k] = c.mask[rows] if c.mask is not None else 0
        flux[pos, k:], ivar[pos, k:], mask[pos, k:] = np.nan, 0.0, NOCOV
        if wave is not None:
            wave[pos, :k] = c.wave
            wave[pos, k:] = np.nan


def _source(c, x: int, y: int, r) -> dict:
    """Where a spectrum comes from: its file (id), galaxy and survey, and its spaxel (x, y) and
    aperture radius (spaxels), or its table row and label."""
    src = {"file_id": ids.file_id(c.entry.key), "galaxy": c.entry.galaxy, "survey": c.entry.survey}
    if c.kind == "table":
        src["row"] = x
        if c.labels:
            src["label"] = c.labels[x]
        ra, dec = float(c.pix_ra[x]), float(c.pix_dec[x])
        src.update(ra=ra if math.isfinite(ra) else None, dec=dec if math.isfinite(dec) else None)
        return src
    src.update(x=x, y=y, aperture=r)
    return src


def _is_file_id(text: str) -> bool:
    try:
        return ids.decode(text)[0] == ids.FILE
    except ids.BadId:
        return False


def _pixel_arcsec(cube) -> float:
    from .. import footprint

    if cube.nx > 1:
        return float(footprint.separation(cube.pix_ra[0], cube.pix_dec[0], cube.pix_ra[1], cube.pix_dec[1]) * 3600)
    return 1.0


def _id_list(id_list) -> list:
    if isinstance(id_list, str):
        id_list = [s for s in re.split(r"[\s,]+", id_list) if s]
    if not isinstance(id_list, (list, tuple)):
        raise UsageError("id_list: a list of ids")
    for s in id_list:
        if not isinstance(s, str):
            raise ids.BadId(f"not a spectrum id: {str(s)[:40]!r}")
    return list(id_list)


def _region_text(region) -> str:
    """A polygon as ``'ra,dec ra,dec ...'`` from a list of vertex pairs or that text itself."""
    if isinstance(region, str):
        s = region.strip()
        if s.startswith("["):
            try:
                region = json.loads(s)
            except ValueError:
                raise UsageError(f"region {s[:60]!r}: not JSON vertex pairs") from None
        else:
            return s
    try:
        pairs = [(float(a), float(b)) for a, b in region]
    except (TypeError, ValueError):
        raise UsageError("region: a list of [ra, dec] vertex pairs in degrees") from None
    if len(pairs) > 1000:
        raise UsageError("region: at most 1000 vertices")
    return " ".join(f"{a!r},{b!r}" for a, b in pairs)


def _figure(w, h):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=90)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _plot(ax, sp: Spectra, i: int, small=False) -> None:
    w, f, m = sp.wave[i], np.asarray(sp.flux[i], dtype=float), np.asarray(sp.mask[i])
    f = np.where((m & NOCOV) != 0, np.nan, f) if sp.grid and sp.grid.get("resampled") else f
    ax.plot(w, f, lw=0.7, color="k")
    src = sp.sources[i] if i < len(sp.sources) else {}
    where = f"row {src['row']}" if "row" in src else f"({src.get('x')},{src.get('y')})"
    title = f"{src.get('galaxy', '')} {src.get('label') or where}"
    ax.set_title(title, fontsize=7 if small else 9)
    if not small:
        ax.set_xlabel(sp.wave_unit)
        ax.set_ylabel(sp.flux_unit, fontsize=7)
    ax.tick_params(labelsize=6 if small else 8)


def _version_words(version) -> dict:
    """``Selection.build`` words for a query's ``version``: none (the current versions), ``all``
    (every version), or one version name (checked as a folder's version is)."""
    if version is None or str(version).strip() == "":
        return {}
    v = str(version).strip()
    if v.lower() == "all":
        return {"all_versions": True}
    from ..naming import check_version

    try:
        return {"versions": (check_version(v),)}
    except SfngError as exc:
        raise UsageError(f"version: {exc}") from None
