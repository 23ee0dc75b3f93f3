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
from .data import Catalog, CubeCache, NotFound
from .resample import NOCOV, Grid, common_grid, resample

#: Per-request limits; the store's ``sfng.yaml`` may override each under ``serve: limits:``.
DEFAULT_LIMITS = {
    "max_ids": 10000,          # ids one query returns or one getSpec takes
    "max_bytes": 512 * 2**20,  # bytes of one answer (before compression)
    "max_seconds": 60.0,       # work on one request
    "max_grid": 100000,        # pixels of an aligned grid
    "max_plots": 100,          # panels of one plotGrid page
}

FORMATS = {"npy": "application/x-npy", "fits": "application/fits",
           "votable": "application/x-votable+xml", "ecsv": "text/x-ecsv"}


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
            s = surveys.setdefault(e.survey, {"files": 0, "cubes": 0, "galaxies": set()})
            s["files"] += 1
            s["cubes"] += int(e.is_cube)
            if e.galaxy:
                s["galaxies"].add(e.galaxy)
        out = {k: {"files": v["files"], "cubes": v["cubes"], "galaxies": len(v["galaxies"])}
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
              offset=0, aperture=None, all_spaxels=False) -> tuple[list, int]:
        """Spectrum ids (and how many matched before ``limit``/``offset``).

        With a region (a polygon, or a cone of radius ``size`` degrees about ``ra``/``dec``):
        every spaxel with data whose centre is inside it, of every cube whose footprint
        overlaps it.  With only a ``constraint``: the spaxel nearest each matching cube's
        centre (``all_spaxels``: every spaxel with data).  ``aperture`` (arcsec): instead of
        spaxels, one aperture spectrum per cube, summed within that radius of ``ra``/``dec``.
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
        sel = Selection.build(**kw)
        if region is not None:
            poly = sel.polygon_deg
        result = select(self.catalog.index, sel)
        rows = sorted(int(r) for r in result.rows)
        out = []
        cap = self.limits["max_ids"]
        for r in rows:
            e = self.catalog.by_row.get(r)
            if e is None or not e.is_cube:
                continue
            cube = self.cache.cube(e)
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

    # -- spectra ---------------------------------------------------------------------------
    def resolve(self, sid):
        """``(cube, x, y, r)`` for a spectrum id; BadId / NotFound otherwise."""
        kind, key, *nums = ids.decode(sid)
        if kind == ids.FILE:
            raise ids.BadId("a file id is not a spectrum id; download it from /files/<id>")
        e = self.catalog.entry(key)
        cube = self.cache.cube(e)
        x, y = nums[0], nums[1]
        r = nums[2] if kind == ids.APERTURE else None
        if not (0 <= x < cube.nx and 0 <= y < cube.ny):
            raise NotFound("no such spectrum in this store (outside the cube)")
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
        est = sum(c.flux.shape[1] for c, *_ in resolved) * 20
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
                    i = plain[o][0]
                    flux[i] = f[j]
                    ivar[i] = iv[j] if iv is not None else np.full(f.shape[1], np.nan, np.float32)
                    mask[i] = mk[j] if mk is not None else np.zeros(f.shape[1], np.int32)
                    wave[i] = c.wave
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
        out.sources = [{"file_id": ids.file_id(c.entry.key), "galaxy": c.entry.galaxy,
                        "survey": c.entry.survey, "x": x, "y": y, "aperture": r}
                       for c, x, y, r in resolved]
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

    def _align(self, out: Spectra, lo_hi, grid, deadline) -> None:
        if grid is not None:
            try:
                g = Grid(float(grid["start"]), float(grid["stop"]), int(grid["n"]), bool(grid.get("log", False)),
                         out.wave_unit)
            except (KeyError, TypeError, ValueError):
                raise UsageError("grid: give {\"start\": ..., \"stop\": ..., \"n\": ..., \"log\": false}") from None
            if not (g.n >= 1 and g.start < g.stop or g.n == 1) or (g.log and g.start <= 0):
                raise UsageError("grid: start < stop, n >= 1 (and start > 0 for a log grid)")
        else:
            waves = [w for w in out.wave if len(w)]
            lo, hi = lo_hi if lo_hi else (None, None)
            g = common_grid(waves, out.wave_unit, lo, hi)
            if lo_hi and g.log and lo is not None and lo <= 0:
                raise UsageError("cutout: a logarithmic grid needs a positive start")
        if g.n > self.limits["max_grid"]:
            raise TooLarge(f"an aligned grid of {g.n} pixels, more than the limit of {self.limits['max_grid']}")
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
        out.grid = dict(g.as_dict(), resampled=True, method="flux-conserving (overlap-weighted mean)",
                        nocov_bit=NOCOV)

    # -- encodings -------------------------------------------------------------------------
    def encode(self, sp: Spectra, fmt: str) -> tuple[bytes, str]:
        """The spectra as ``fmt`` bytes and their media type."""
        if fmt == "numpy":
            fmt = "npy"
        if fmt not in FORMATS:
            raise UsageError(f"fmt {fmt!r}: one of {', '.join(FORMATS)} (never pickle)")
        n = max((len(w) for w in sp.wave), default=0)
        npix = np.array([len(w) for w in sp.wave], dtype=np.int32)

        def packed(arrs, fill, dtype):
            a = np.full((len(arrs), n), fill, dtype=dtype)
            for i, v in enumerate(arrs):
                a[i, :len(v)] = v
            return a

        flux = packed(sp.flux, np.nan, np.float32)
        ivar = packed(sp.ivar, 0.0, np.float32)
        mask = packed(sp.mask, NOCOV, np.int32)
        wave = packed(sp.wave, np.nan, np.float64)
        idw = max((len(s) for s in sp.ids), default=1)
        if fmt == "npy":
            dt = np.dtype([("id", f"U{idw}"), ("npix", "<i4"), ("wave", "<f8", (n,)),
                           ("flux", "<f4", (n,)), ("ivar", "<f4", (n,)), ("mask", "<i4", (n,))])
            rec = np.zeros(len(sp.ids), dtype=dt)
            rec["id"], rec["npix"], rec["wave"], rec["flux"], rec["ivar"], rec["mask"] = sp.ids, npix, wave, flux, ivar, mask
            buf = io.BytesIO()
            np.save(buf, rec, allow_pickle=False)
            return buf.getvalue(), FORMATS[fmt]
        from astropy.table import Table

        t = Table()
        t["id"] = np.array(sp.ids)
        t["npix"] = npix
        t["wave"] = wave
        t["flux"] = flux
        t["ivar"] = ivar
        t["mask"] = mask
        t["wave"].unit = sp.wave_unit if sp.wave_unit != "mixed" else None
        if sp.flux_unit and sp.flux_unit != "mixed":
            t["flux"].unit = _astropy_unit(sp.flux_unit)
            try:
                t["ivar"].unit = t["flux"].unit ** -2 if t["flux"].unit is not None else None
            except ValueError:   # a unit astropy does not know (MaNGA's '/spaxel')
                t.meta["ivar_unit"] = f"({sp.flux_unit})**-2"
        t.meta["SFNGVER"] = __version__
        t.meta["WAVEUNIT"] = sp.wave_unit
        t.meta["FLUXUNIT"] = sp.flux_unit
        if sp.grid and fmt == "ecsv":
            t.meta["grid"] = sp.grid
        buf = io.BytesIO()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._write_table(t, sp, fmt, buf)
        return buf.getvalue(), FORMATS[fmt]

    @staticmethod
    def _write_table(t, sp, fmt, buf) -> None:
        if fmt == "fits":
            from astropy.io import fits

            hdu = fits.table_to_hdu(t)
            if sp.grid:
                for k, v in (("GRIDSTA", sp.grid["start"]), ("GRIDSTO", sp.grid["stop"]), ("GRIDN", sp.grid["n"]),
                             ("GRIDLOG", sp.grid["log"]), ("RESAMPLD", sp.grid.get("resampled", False))):
                    hdu.header[k] = v
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buf)
        elif fmt == "votable":
            t.write(buf, format="votable")
        else:
            s = io.StringIO()
            t.write(s, format="ascii.ecsv")
            buf.write(s.getvalue().encode())

    def list_span(self, id_list) -> list:
        out = []
        for sid in _id_list(id_list):
            c, x, y, r = self.resolve(sid)
            w = c.wave
            out.append({"id": sid, "min": float(np.min(w)), "max": float(np.max(w)), "npix": len(w),
                        "unit": c.wave_unit, "axis": c.meta.get("axis", ""), "galaxy": c.entry.galaxy,
                        "survey": c.entry.survey})
        return out

    # -- pictures --------------------------------------------------------------------------
    def preview(self, sid, width=8.0, height=2.5) -> bytes:
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
        waves = [self.resolve(s)[0].wave for s in _id_list(id_list)]
        return all(len(w) == len(waves[0]) and np.array_equal(w, waves[0]) for w in waves)


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


def _astropy_unit(text: str):
    import astropy.units as u

    try:
        return u.Unit(text.replace("^", "").replace("Angstrom", "Angstrom"), format="fits", parse_strict="silent")
    except Exception:  # noqa: BLE001 - astropy raises several types for unit strings
        try:
            return u.Unit(text, parse_strict="silent")
        except Exception:  # noqa: BLE001
            return None


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
    title = f"{src.get('galaxy', '')} ({src.get('x')},{src.get('y')})"
    ax.set_title(title, fontsize=7 if small else 9)
    if not small:
        ax.set_xlabel(sp.wave_unit)
        ax.set_ylabel(sp.flux_unit, fontsize=7)
    ax.tick_params(labelsize=6 if small else 8)
