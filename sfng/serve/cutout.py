"""SODA cutouts of FITS images and cubes, without HTTP (:mod:`sfng.serve.vo` serves them).

A cutout is a sub-array of the science HDU, real FITS: the pixels of a sky region (``CIRCLE``,
``POLYGON`` or ``POS=RANGE``, degrees, ICRS) and/or the channels of a ``BAND`` (vacuum
wavelengths in metres, SODA's unit, whatever the cube's spectral axis is).

- **Spatial**: the bounding box, in pixels, of every pixel whose centre lies inside the region,
  and of the pixel holding the region's centre (a region smaller than a pixel still gets that
  pixel).  Positions go through the file's own WCS with astropy (its frame: FK5, galactic ...),
  so a region across RA = 0 or near a pole is cut as it lies on the sky.
- **Spectral**: every channel whose extent (its centre +- half a channel, by the WCS of the
  spectral axis: linear, ``-LOG``, ``-F2W`` ...) overlaps the band.  Frequencies, radio /
  optical / relativistic velocities (at the header's rest frequency) and redshifts are turned
  into wavelengths first.  An image without a spectral axis is not cut in ``BAND``; its band
  (the rest frequency) only decides whether it overlaps at all.
- Degenerate axes (Stokes) are kept whole.

The output keeps the file's layout: its primary header (with the cut data when the science is
the primary HDU), the science HDU cut, and every companion HDU cut alike -- one of the same
shape (MaNGA's IVAR, MASK, LSF), a 2-D image of the sky axes (GIMG, GPSF), a 1-D array of the
spectral axis (WAVE, SPECRES).  Tables and HDUs of other shapes are left out (named in a
HISTORY card).  Headers are the originals with ``CRPIXj`` (and alternate ``CRPIXja``) moved by
the cut's offset -- exactly what slicing does to any FITS WCS -- plus ``ORIGFILE``, ``ORIGSHA``,
``ORIGSEC`` (the IRAF-style section taken, 1-based) and the request, and fresh ``CHECKSUM`` /
``DATASUM``.  No overlap: :class:`NoOverlap` (HTTP 204).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import SfngError

C_M_S = 299792458.0
_NUM = re.compile(r"^[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$", re.I)
#: At most this many pixels of a bounding box are tested one by one against the region; a
#: larger box is taken as it is (the region's projected outline bounds it).
MAX_TESTED_PIXELS = 4_000_000


class CutoutUsage(SfngError):
    """Parameters a cutout cannot be made from (SODA ``UsageError``, 400)."""


class NoOverlap(SfngError):
    """The region or band does not overlap the data (HTTP 204)."""


class CutoutTooLarge(SfngError):
    """A cutout over the service's byte limit (413)."""

    http_status = 413


def _numbers(text, name: str) -> list[float]:
    parts = str(text).replace(",", " ").split()
    if not parts or not all(_NUM.match(p) for p in parts):
        raise CutoutUsage(f"{name}={str(text)[:80]!r}: expected numbers separated by spaces")
    out = [float(p) for p in parts]
    if any(math.isnan(v) for v in out):
        raise CutoutUsage(f"{name}: NaN is not a coordinate")
    return out


@dataclass(frozen=True)
class Region:
    """A sky region in ICRS degrees: ``circle`` (ra, dec, r), ``polygon`` (ra1, dec1, ...) or
    ``range`` (ra1, ra2, dec1, dec2; the RA range may wrap through 0)."""

    kind: str
    values: tuple

    def text(self) -> str:
        return f"{self.kind.upper()} " + " ".join(f"{v:.10g}" for v in self.values)

    def centre(self) -> tuple[float, float]:
        v = self.values
        if self.kind == "circle":
            return v[0], v[1]
        if self.kind == "range":
            ra1, ra2, d1, d2 = v
            span = (ra2 - ra1) % 360.0 if ra2 != ra1 + 360 else 360.0
            return (ra1 + span / 2) % 360.0, (d1 + d2) / 2
        from .. import footprint

        p = footprint.xyz(np.asarray(v[0::2]), np.asarray(v[1::2])).sum(axis=0)
        ra, dec = footprint.radec(p / np.linalg.norm(p))
        return float(ra), float(dec)

    def boundary(self, k: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Points on the region's edge (and its centre), to bound it in pixels."""
        from .. import footprint

        v = self.values
        if self.kind == "circle":
            ra0, d0, r = (math.radians(x) for x in v)
            pa = np.linspace(0, 2 * np.pi, k, endpoint=False)
            dec = np.arcsin(np.sin(d0) * np.cos(r) + np.cos(d0) * np.sin(r) * np.cos(pa))
            ra = ra0 + np.arctan2(np.sin(pa) * np.sin(r) * np.cos(d0), np.cos(r) - np.sin(d0) * np.sin(dec))
            ra, dec = np.degrees(ra) % 360.0, np.degrees(dec)
        elif self.kind == "range":
            ra1, ra2, d1, d2 = v
            span = 360.0 if ra2 - ra1 >= 360 else (ra2 - ra1) % 360.0
            t = np.linspace(0, 1, k)
            ras = ra1 + span * t
            ra = np.concatenate([ras, ras, np.full(k, ra1), np.full(k, ra1 + span)]) % 360.0
            dec = np.concatenate([np.full(k, d1), np.full(k, d2), d1 + (d2 - d1) * t, d1 + (d2 - d1) * t])
        else:
            p = footprint.xyz(np.asarray(v[0::2]), np.asarray(v[1::2]))
            q = np.roll(p, -1, axis=0)
            t = np.linspace(0, 1, max(2, k // 4), endpoint=False)[None, :, None]
            pts = (p[:, None, :] * (1 - t) + q[:, None, :] * t).reshape(-1, 3)
            ra, dec = footprint.radec(pts / np.linalg.norm(pts, axis=1, keepdims=True))
        c = self.centre()
        return np.append(ra, c[0]), np.append(dec, c[1])

    def contains(self, ra, dec) -> np.ndarray:
        from .. import footprint

        v = self.values
        if self.kind == "circle":
            return footprint.separation(ra, dec, v[0], v[1]) <= v[2]
        if self.kind == "range":
            ra1, ra2, d1, d2 = v
            span = 360.0 if ra2 - ra1 >= 360 else (ra2 - ra1) % 360.0
            return ((np.asarray(ra) - ra1) % 360.0 <= span) & (np.asarray(dec) >= d1) & (np.asarray(dec) <= d2)
        return np.asarray(footprint.contains_point(np.asarray(v[0::2]), np.asarray(v[1::2]), ra, dec))

    @property
    def covers_a_pole(self) -> bool:
        v = self.values
        if self.kind == "circle":
            return abs(v[1]) + v[2] >= 90.0
        if self.kind == "range":
            return v[3] >= 90.0 or v[2] <= -90.0
        return bool(self.contains(0.0, 90.0) or self.contains(0.0, -90.0))


def parse_circle(text) -> Region:
    v = _numbers(text, "CIRCLE")
    if len(v) != 3:
        raise CutoutUsage("CIRCLE: three numbers, 'ra dec radius' in degrees")
    ra, dec, r = v
    if not (math.isfinite(ra) and -90 <= dec <= 90 and 0 < r <= 180):
        raise CutoutUsage("CIRCLE: dec within -90..90, a radius within 0..180 degrees")
    return Region("circle", (ra % 360.0, dec, r))


def parse_polygon(text) -> Region:
    from .. import footprint

    v = _numbers(text, "POLYGON")
    if len(v) < 6 or len(v) % 2:
        raise CutoutUsage("POLYGON: at least three 'ra dec' vertex pairs in degrees")
    if len(v) > 2000:
        raise CutoutUsage("POLYGON: at most 1000 vertices")
    if not all(math.isfinite(x) for x in v) or not all(-90 <= d <= 90 for d in v[1::2]):
        raise CutoutUsage("POLYGON: finite vertices, dec within -90..90")
    reg = Region("polygon", tuple(x % 360.0 if i % 2 == 0 else x for i, x in enumerate(v)))
    try:
        footprint.contains_point(np.asarray(reg.values[0::2]), np.asarray(reg.values[1::2]), 0.0, 0.0)
    except SfngError as exc:
        raise CutoutUsage(f"POLYGON: {exc}") from None
    return reg


def parse_pos(text) -> Region:
    """SODA's ``POS``: ``CIRCLE ra dec r``, ``RANGE ra1 ra2 dec1 dec2`` or ``POLYGON ...``."""
    s = str(text).strip()
    shape, _, rest = s.partition(" ")
    shape = shape.upper()
    if shape == "CIRCLE":
        return parse_circle(rest)
    if shape == "POLYGON":
        return parse_polygon(rest)
    if shape == "RANGE":
        v = _numbers(rest, "POS=RANGE")
        if len(v) != 4:
            raise CutoutUsage("POS=RANGE: four numbers, 'ra1 ra2 dec1 dec2' in degrees")
        ra1, ra2, d1, d2 = v
        ra1 = 0.0 if ra1 == -math.inf else ra1
        ra2 = 360.0 if ra2 == math.inf else ra2
        d1, d2 = max(d1, -90.0), min(d2, 90.0)
        if not (math.isfinite(ra1) and math.isfinite(ra2)) or d1 > d2 or ra1 > ra2:
            raise CutoutUsage("POS=RANGE: ra1 <= ra2 and dec1 <= dec2")
        if ra2 - ra1 < 360:
            ra1, ra2 = ra1 % 360.0, ra1 % 360.0 + (ra2 - ra1)
        return Region("range", (ra1, ra2, d1, d2))
    raise CutoutUsage(f"POS={s[:60]!r}: CIRCLE, RANGE or POLYGON")


def parse_band(text) -> tuple[float, float]:
    """``BAND=lo hi``: vacuum wavelengths in metres (DALI interval; -Inf / +Inf open ends)."""
    v = _numbers(text, "BAND")
    if len(v) != 2:
        raise CutoutUsage("BAND: two numbers, 'lo hi' wavelengths in metres")
    lo, hi = v
    if lo > hi:
        raise CutoutUsage("BAND: lo must not exceed hi")
    if hi <= 0:
        raise CutoutUsage("BAND: wavelengths in metres are positive")
    return lo, hi


# ---------------------------------------------------------------------------------------------

def _wcs(header):
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return WCS(header)
        except Exception:  # noqa: BLE001 - a singular matrix on a degenerate axis (PdBI's CDELT4 = 0)
            h = header.copy()
            for j in range(1, int(header.get("NAXIS", 0)) + 1):
                if h.get(f"CDELT{j}", 1.0) == 0:
                    h[f"CDELT{j}"] = 1.0
            return WCS(h)


def _spectral_to_metres(values, ctype: str, unit: str, restfrq: float, restwav: float) -> np.ndarray | None:
    """Wavelengths (m) of spectral world values, or None when the axis cannot be converted."""
    import astropy.units as u

    v = np.asarray(values, dtype=float)
    kind = ctype[:4].upper()
    try:
        q = v * u.Unit(unit or {"FREQ": "Hz", "WAVE": "m", "AWAV": "m", "VRAD": "m/s", "VOPT": "m/s",
                                 "VELO": "m/s", "ZOPT": "", "BETA": ""}.get(kind, ""))
    except ValueError:
        return None
    f0 = restfrq if restfrq and restfrq > 0 else (C_M_S / restwav if restwav and restwav > 0 else 0.0)
    try:
        if kind in ("WAVE", "AWAV", "FREQ", "ENER", "WAVN"):
            return q.to_value(u.m, equivalencies=u.spectral())
        if not f0:
            return None
        rest = f0 * u.Hz
        if kind == "VRAD":
            return q.to(u.Hz, equivalencies=u.doppler_radio(rest)).to_value(u.m, equivalencies=u.spectral())
        if kind == "VOPT":
            return q.to(u.m, equivalencies=u.doppler_optical(rest)).to_value(u.m)
        if kind == "ZOPT":
            return (C_M_S / f0) * (1.0 + v)
        if kind == "VELO":
            return q.to(u.m, equivalencies=u.doppler_relativistic(rest)).to_value(u.m)
        if kind == "BETA":
            return (q.value * C_M_S * u.m / u.s).to(u.m, equivalencies=u.doppler_relativistic(rest)).to_value(u.m)
    except (u.UnitConversionError, ValueError):
        return None
    return None


@dataclass
class Plan:
    """What a cutout takes: per numpy axis of the science HDU, ``(start, stop)``."""

    ranges: list
    spatial_axes: tuple | None      # numpy axes (lat, lon order as they lie) of the sky
    spectral_axis: int | None       # numpy axis of the spectrum
    notes: list


def plan(header, shape, region: Region | None, band, *, restfrq: float = math.nan,
         dataset_band=None) -> Plan:
    """The pixel ranges of a cutout of an HDU of ``shape`` (numpy order) and ``header``;
    :class:`NoOverlap` when nothing is left.  ``dataset_band`` (m): the band of data without
    a spectral axis (an image), from elsewhere (the index)."""
    w = _wcs(header)
    ndim = len(shape)
    ranges = [(0, n) for n in shape]
    notes = []
    lng, lat, spec = w.wcs.lng, w.wcs.lat, w.wcs.spec
    sky = None
    if lng >= 0 and lat >= 0:
        sky = (ndim - 1 - lat, ndim - 1 - lng)
    if region is not None:
        if sky is None:
            raise CutoutUsage("this dataset has no celestial axes: give BAND only")
        ranges = _spatial(w, shape, sky, region, ranges)
    spec_np = ndim - 1 - spec if spec >= 0 else None
    if band is not None:
        lo, hi = band
        rf = float(w.wcs.restfrq or 0.0) or (restfrq if restfrq and math.isfinite(restfrq) else 0.0)
        if spec_np is None:
            if dataset_band is None and rf > 0:
                dataset_band = (C_M_S / rf, C_M_S / rf)
            if dataset_band is not None:
                if dataset_band[1] < lo or dataset_band[0] > hi:
                    raise NoOverlap("the band does not include the dataset's wavelength")
            else:
                notes.append("BAND not applied: no spectral axis, no known wavelength")
        else:
            n = shape[spec_np]
            sub = w.sub([spec + 1])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                edges = sub.all_pix2world(np.arange(n + 1, dtype=float) - 0.5, 0)[0]
            lam = _spectral_to_metres(edges, str(sub.wcs.ctype[0]), str(sub.wcs.cunit[0]), rf,
                                      float(w.wcs.restwav or 0.0))
            if lam is None or not np.all(np.isfinite(lam)):
                raise CutoutUsage(f"BAND: the spectral axis ({w.wcs.ctype[spec]}) cannot be turned into "
                                  f"wavelengths (no rest frequency?)")
            a, b = np.minimum(lam[:-1], lam[1:]), np.maximum(lam[:-1], lam[1:])
            keep = np.flatnonzero((b >= lo) & (a <= hi))
            if not len(keep):
                raise NoOverlap("the band does not overlap the spectral axis")
            ranges[spec_np] = (int(keep[0]), int(keep[-1]) + 1)
    return Plan(ranges, sky, spec_np, notes)


def _spatial(w, shape, sky, region: Region, ranges):
    from astropy.coordinates import SkyCoord

    cel = w.celestial
    ay, ax = sky                               # numpy axes of latitude and longitude
    ny, nx = shape[ay], shape[ax]
    # the region's outline in pixels (points behind the projection are NaN: dropped)
    bra, bdec = region.boundary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        px, py = cel.world_to_pixel(SkyCoord(bra, bdec, unit="deg", frame="icrs"))
    px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
    cx, cy = px[-1], py[-1]                    # the region's centre
    ok = np.isfinite(px) & np.isfinite(py)
    if region.covers_a_pole or not ok[:-1].all():
        x0, x1, y0, y1 = 0, nx - 1, 0, ny - 1  # the outline leaves the projection: test every pixel
    else:
        x0 = max(0, int(math.floor(px[ok].min() + 0.5)))
        x1 = min(nx - 1, int(math.ceil(px[ok].max() - 0.5)))
        y0 = max(0, int(math.floor(py[ok].min() + 0.5)))
        y1 = min(ny - 1, int(math.ceil(py[ok].max() - 0.5)))
    xs, ys = [], []
    if np.isfinite(cx) and np.isfinite(cy) and -0.5 <= cx < nx - 0.5 and -0.5 <= cy < ny - 0.5:
        xs.append(int(math.floor(cx + 0.5)))
        ys.append(int(math.floor(cy + 0.5)))
    if x0 <= x1 and y0 <= y1:
        area = (x1 - x0 + 1) * (y1 - y0 + 1)
        if area <= MAX_TESTED_PIXELS:
            yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = cel.pixel_to_world(xx.ravel().astype(float), yy.ravel().astype(float)).icrs
            ra, dec = np.asarray(c.ra.deg), np.asarray(c.dec.deg)
            fin = np.isfinite(ra) & np.isfinite(dec)
            inside = np.zeros(len(ra), bool)
            inside[fin] = region.contains(ra[fin], dec[fin])
            if inside.any():
                xs += [int(xx.ravel()[inside].min()), int(xx.ravel()[inside].max())]
                ys += [int(yy.ravel()[inside].min()), int(yy.ravel()[inside].max())]
        else:
            xs += [x0, x1]
            ys += [y0, y1]
    if not xs:
        raise NoOverlap("the region does not overlap the data")
    out = list(ranges)
    out[ax] = (min(xs), max(xs) + 1)
    out[ay] = (min(ys), max(ys) + 1)
    return out


# ---------------------------------------------------------------------------------------------

def _shift_header(hdr, starts_fits: dict) -> None:
    """Move ``CRPIXj`` (and ``CRPIXja``) by the cut's offset along FITS axis j."""
    for j, start in starts_fits.items():
        if not start:
            continue
        for alt in [""] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]:
            k = f"CRPIX{j}{alt}"
            if k in hdr:
                hdr[k] = float(hdr[k]) - start
        if f"LTV{j}" in hdr:   # IRAF's physical-to-image offset follows the same move
            hdr[f"LTV{j}"] = float(hdr[f"LTV{j}"]) - start


def _section(ranges) -> str:
    """IRAF-style section, FITS axis order, 1-based inclusive: ``[x0:x1,y0:y1,z0:z1]``."""
    return "[" + ",".join(f"{a + 1}:{b}" for a, b in reversed(ranges)) + "]"


def make_cutout(hdul, science: int, region: Region | None, band, *, name: str = "", sha256: str = "",
                restfrq: float = math.nan, dataset_band=None, max_bytes: int | None = None,
                request_text: str = "") -> bytes:
    """The cutout (FITS bytes) of HDU ``science`` of ``hdul`` (an open :class:`HDUList`)."""
    from astropy.io import fits

    sci = hdul[science]
    if not sci.is_image or not sci.header.get("NAXIS", 0) or sci.data is None:
        raise CutoutUsage(f"HDU {science} holds no image or cube")
    shape = tuple(sci.data.shape)
    p = plan(sci.header, shape, region, band, restfrq=restfrq, dataset_band=dataset_band)
    sl = tuple(slice(a, b) for a, b in p.ranges)
    sky_shape = tuple(shape[a] for a in sorted(p.spatial_axes)) if p.spatial_axes else None
    jobs, left_out = [], []
    for i, h in enumerate(hdul):
        if i == science:
            jobs.append((i, sl))
            continue
        if not h.is_image or not h.header.get("NAXIS", 0):
            if i == 0:
                jobs.append((0, None))   # the primary header, no data
            else:
                left_out.append(h.name or str(i))
            continue
        hs = tuple(h.shape)
        if hs == shape:
            jobs.append((i, sl))
        elif sky_shape and len(shape) > 2 and hs == sky_shape:
            jobs.append((i, tuple(sl[a] for a in sorted(p.spatial_axes))))
        elif p.spectral_axis is not None and hs == (shape[p.spectral_axis],):
            jobs.append((i, (sl[p.spectral_axis],)))
        elif i == 0:
            jobs.append((0, None))
        else:
            left_out.append(h.name or str(i))
    size = 0
    for i, s in jobs:
        if s is not None:
            h = hdul[i]
            n = int(np.prod([x.stop - x.start for x in s]))
            size += n * abs(int(h.header.get("BITPIX", 32))) // 8
    if max_bytes is not None and size > max_bytes:
        raise CutoutTooLarge(f"a cutout of {size} bytes, more than the limit of {max_bytes}; ask for a smaller region")
    out = []
    for i, s in jobs:
        h = hdul[i]
        hdr = h.header.copy()
        for k in ("CHECKSUM", "DATASUM"):
            hdr.remove(k, ignore_missing=True, remove_all=True)
        data = None
        if s is not None:
            data = np.ascontiguousarray(h.data[s])     # physical values: astropy applied BSCALE/BZERO
            for k in ("BSCALE", "BZERO"):
                hdr.remove(k, ignore_missing=True)
            _shift_header(hdr, {len(s) - k: s[k].start for k in range(len(s))})
        else:
            for j in range(int(hdr.get("NAXIS", 0)), 0, -1):
                hdr.remove(f"NAXIS{j}", ignore_missing=True)
            hdr["NAXIS"] = 0
        if i == science:
            hdr["ORIGFILE"] = (name[-68:], "cut out of this file")
            if sha256:
                hdr["ORIGSHA"] = (sha256, "SHA-256 of the file cut")
            hdr["ORIGSEC"] = (_section(p.ranges), "section taken (FITS axes, 1-based)")
            if request_text:
                hdr["SODAREQ"] = (request_text[:68], "SODA request")
            hdr.add_history(f"sfng serve SODA cutout of HDU {science} of {name}"[:72])
            for n in p.notes:
                hdr.add_history(n[:72])
            if left_out:
                hdr.add_history(("left out: " + ", ".join(left_out))[:72])
        # the first job is always HDU 0 (the loop above starts there)
        out.append(fits.PrimaryHDU(data=data, header=_as_primary(hdr)) if not out
                   else fits.ImageHDU(data=data, header=_as_extension(hdr)))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits.HDUList(out).writeto(buf, checksum=True, output_verify="silentfix")
    return buf.getvalue()


def _as_primary(hdr):
    hdr = hdr.copy()
    if "XTENSION" in hdr:
        hdr.remove("XTENSION")
        hdr.insert(0, ("SIMPLE", True))
    for k in ("PCOUNT", "GCOUNT"):
        hdr.remove(k, ignore_missing=True)
    return hdr


def _as_extension(hdr):
    hdr = hdr.copy()
    if "SIMPLE" in hdr:
        hdr.remove("SIMPLE")
    for k in ("EXTEND",):
        hdr.remove(k, ignore_missing=True)
    return hdr
