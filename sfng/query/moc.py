"""Coverage maps (IVOA MOC, through mocpy) from the index footprints.

A row's MOC is its footprint polygon (``foot_ra``/``foot_dec``, great-circle edges) at a chosen
HEALPix order, every cell the polygon touches; a wide footprint (flag 256: all-sky, more than a
hemisphere, around a pole) is its cap of radius fov/2 about ra/dec, the whole sky for
fov = 21600 arcmin.  A row without a footprint has no MOC.  Unions per survey or per tracer
(:func:`selection_moc` with ``by``) and the test ``sfng find --moc FILE`` (:func:`moc_mask`) build on
it.  Needs mocpy (``pip install 'sfng[moc]'``).

Space-frequency MOCs (IVOA MOC 2.0 SF-MOC, mocpy's ``SFMOC``; :func:`selection_sfmoc`) pair each
row's sky MOC with its frequency range: the row's band in vacuum wavelength by ObsCore's rules
(:func:`sfng.obscore.em_range`: the spectral axis through its unit and rest frequency, else the
rest frequency, else the tracer's band, else its rest wavelength times 1 + z), as frequencies
c / lambda.  A line cube covers its channels' range; a moment map or continuum image its
tracer's line or band.  Rows whose band nobody knows are left out and counted.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SfngError

#: Default HEALPix order of exported MOCs (order 10: cells of 3.4 arcmin).
DEFAULT_ORDER = 10
MAX_ORDER = 29
#: Default frequency order of space-frequency MOCs: cells of 1.9e-6 to 3.8e-6 in relative
#: frequency (0.6 to 1.1 km/s), finer than a line cube's channels.
DEFAULT_FREQUENCY_ORDER = 25
MAX_FREQUENCY_ORDER = 51


def _mocpy():
    try:
        import mocpy
    except ImportError:
        raise SfngError("MOCs need mocpy: pip install 'sfng[moc]'") from None
    return mocpy


def footprint_moc(foot_ra, foot_dec, n, ra, dec, fov, flag, order: int = DEFAULT_ORDER):
    """The MOC of one index row (None when it has no footprint)."""
    import astropy.units as u
    from astropy.coordinates import Angle, Longitude, Latitude

    from ..index.schema import FLAG_WIDE

    MOC = _mocpy().MOC
    n = int(n)
    if n >= 3 and not (int(flag) & FLAG_WIDE):
        lon = np.asarray(foot_ra[:n], dtype=float)
        lat = np.asarray(foot_dec[:n], dtype=float)
        if np.isfinite(lon).all() and np.isfinite(lat).all():
            return MOC.from_polygon(Longitude(lon * u.deg), Latitude(lat * u.deg), max_depth=order)
    if int(flag) & FLAG_WIDE and math.isfinite(ra) and math.isfinite(dec):
        radius = float(fov) / 120.0 if math.isfinite(fov) else 180.0
        if radius >= 180.0:
            return MOC.from_str(f"0/0-11 {order}/")
        return MOC.from_cone(Longitude(ra * u.deg), Latitude(dec * u.deg), radius=Angle(radius * u.deg),
                             max_depth=order)
    return None


def row_mocs(index, rows, order: int = DEFAULT_ORDER) -> list:
    """The MOC of each of ``rows`` (None for a row without a footprint)."""
    rows = np.asarray(rows)
    fra = np.asarray(index.raw("foot_ra", rows), dtype=float)
    fdec = np.asarray(index.raw("foot_dec", rows), dtype=float)
    n = np.asarray(index.raw("foot_n", rows), dtype=int)
    ra, dec = index.numbers("ra", rows), index.numbers("dec", rows)
    fov = index.numbers("fov", rows)
    flag = np.asarray(index.raw("flag", rows), dtype=int)
    return [footprint_moc(fra[i], fdec[i], n[i], ra[i], dec[i], fov[i], flag[i], order)
            for i in range(len(rows))]


def _union(mocs):
    mocs = [m for m in mocs if m is not None]
    if not mocs:
        return None
    out = mocs[0]
    if len(mocs) > 1:
        out = out.union(*mocs[1:])
    return out


def selection_moc(result, order: int = DEFAULT_ORDER, by: str | None = None):
    """The union of the MOCs of ``result``'s rows; with ``by`` (``survey`` or ``tracer``)
    ``{value: MOC}``, one union per value ('' unknown).  Rows without a footprint are left out."""
    if not 0 <= order <= MAX_ORDER:
        raise SfngError(f"--order {order}: a HEALPix order is 0..{MAX_ORDER}")
    mocs = row_mocs(result.index, result.rows, order)
    if by is None:
        return _union(mocs)
    keys = result.index.text(by, result.rows)
    groups: dict = {}
    for k, m in zip(keys.tolist(), mocs):
        groups.setdefault(k, []).append(m)
    return {k: u for k, u in ((k, _union(v)) for k, v in sorted(groups.items())) if u is not None}


def selection_sfmoc(result, order: int = DEFAULT_ORDER, frequency_order: int = DEFAULT_FREQUENCY_ORDER):
    """``(sfmoc, used, no_band)``: the space-frequency MOC of ``result``'s rows (None when no
    row has both a footprint and a band), how many rows it holds, and how many footprints were
    left out for want of a known band."""
    import astropy.units as u
    from astropy.constants import c

    from ..obscore import em_range

    if not 0 <= order <= MAX_ORDER:
        raise SfngError(f"--order {order}: a HEALPix order is 0..{MAX_ORDER}")
    if not 0 <= frequency_order <= MAX_FREQUENCY_ORDER:
        raise SfngError(f"--frequency-order {frequency_order}: a frequency order is 0..{MAX_FREQUENCY_ORDER}")
    mocs = row_mocs(result.index, result.rows, order)
    lo, hi = em_range(result)
    keep = [i for i, m in enumerate(mocs)
            if m is not None and np.isfinite(lo[i]) and np.isfinite(hi[i]) and 0 < lo[i] <= hi[i]]
    no_band = sum(m is not None for m in mocs) - len(keep)
    if not keep:
        return None, 0, no_band
    c_ms = c.to_value(u.m / u.s)
    f_min = c_ms / np.asarray([hi[i] for i in keep]) * u.Hz
    f_max = c_ms / np.asarray([lo[i] for i in keep]) * u.Hz
    sf = _mocpy().SFMOC.from_spatial_coverages(f_min, f_max, [mocs[i] for i in keep],
                                               max_order_frequency=frequency_order)
    return sf, len(keep), no_band


def read_moc(path):
    """A MOC FITS file (or ASCII/JSON MOC) as a mocpy MOC; SfngError when it cannot be read."""
    MOC = _mocpy().MOC
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise SfngError(f"--moc {path}: no such file")
    try:
        if p.suffix.lower() in (".json",):
            return MOC.load(str(p), format="json")
        if p.suffix.lower() in (".txt", ".moc", ".ascii"):
            return MOC.load(str(p), format="ascii")
        return MOC.load(str(p), format="fits")
    except Exception as exc:  # noqa: BLE001 - any reader failure: not a MOC
        raise SfngError(f"--moc {path}: not a MOC file mocpy reads ({type(exc).__name__}: {exc})") from None


def moc_mask(index, rows, moc) -> np.ndarray:
    """Mask over ``rows``: the row's footprint MOC (at the MOC's own order) overlaps ``moc``."""
    order = int(moc.max_order)
    keep = np.zeros(len(rows), dtype=bool)
    for i, m in enumerate(row_mocs(index, rows, order)):
        if m is not None and not m.intersection(moc).empty():
            keep[i] = True
    return keep


def write_moc(moc, path, *, overwrite: bool = False):
    """Write ``moc`` (a MOC or an SFMOC) as MOC FITS (IVOA MOC 2.0, read by Aladin, TOPCAT,
    mocpy) atomically."""
    from pathlib import Path

    from ..fsutil import atomic_write_bytes, temp_path

    path = Path(path)
    if path.exists() and not overwrite:
        raise SfngError(f"{path} exists; give another -o/--output, or --replace")
    tmp = temp_path(path.parent, ".fits")
    try:
        moc.save(str(tmp), format="fits", overwrite=True)
        data = tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_bytes(path, data, overwrite=overwrite)
    return path
