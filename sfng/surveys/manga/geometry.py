"""MaNGA geometry: TAN deprojection, bundle hexagons, image corners and the WAVE-LOG spectral axis.

Angles in degrees unless a name says arcsec; wavelengths in Angstrom; velocities in km/s.
"""

from __future__ import annotations

import math

from .facts import C_KMS


def tan_to_sky(ra0: float, dec0: float, xi, eta):
    """Gnomonic (TAN) deprojection: standard coordinates ``xi`` (east), ``eta`` (north) in degrees
    about (ra0, dec0) -> (ra, dec) in degrees (numpy arrays)."""
    import numpy as np

    x = np.radians(np.asarray(xi, dtype=float))
    y = np.radians(np.asarray(eta, dtype=float))
    d0 = math.radians(dec0)
    denom = math.cos(d0) - y * math.sin(d0)
    ra = (ra0 + np.degrees(np.arctan2(x, denom))) % 360.0
    dec = np.degrees(np.arctan2(y * math.cos(d0) + math.sin(d0), np.hypot(x, denom)))
    return ra, dec


def hexagon(ra: float, dec: float, diameter_arcsec: float):
    """Vertices (ra[6], dec[6]) of a MaNGA bundle hexagon centred on (ra, dec).

    The fibre rows of a bundle run east-west, so two vertices lie due east and due west of the
    centre, ``diameter/2`` away; the others at 60 degree steps.  Counter-clockwise on the sky
    as seen from inside (east, north-east, north-west, west, ...).
    """
    import numpy as np

    r = diameter_arcsec / 2.0 / 3600.0
    ang = np.radians(np.arange(6) * 60.0)
    return tan_to_sky(ra, dec, r * np.cos(ang), r * np.sin(ang))


def wcs_corners(h) -> tuple | None:
    """(ra[4], dec[4]) of the outer pixel corners of a 2-D TAN image header (CD or PC+CDELT)."""
    import numpy as np

    try:
        nx, ny = int(h["NAXIS1"]), int(h["NAXIS2"])
        crpix1, crpix2 = float(h["CRPIX1"]), float(h["CRPIX2"])
        ra0, dec0 = float(h["CRVAL1"]), float(h["CRVAL2"])
    except (KeyError, TypeError, ValueError):
        return None
    if not str(h.get("CTYPE1", "")).endswith("TAN") or not str(h.get("CTYPE2", "")).endswith("TAN"):
        return None
    cd = cd_matrix(h)
    px = np.array([0.5, nx + 0.5, nx + 0.5, 0.5]) - crpix1
    py = np.array([0.5, 0.5, ny + 0.5, ny + 0.5]) - crpix2
    xi = cd[0][0] * px + cd[0][1] * py
    eta = cd[1][0] * px + cd[1][1] * py
    # For RA---TAN/DEC--TAN with the default LONPOLE the intermediate (x, y) are the standard
    # coordinates (xi east, eta north), whatever the signs of the matrix.
    return tan_to_sky(ra0, dec0, xi, eta)


def cd_matrix(h):
    if "CD1_1" in h or "CD2_2" in h:
        return [[float(h.get("CD1_1", 0.0)), float(h.get("CD1_2", 0.0))],
                [float(h.get("CD2_1", 0.0)), float(h.get("CD2_2", 0.0))]]
    c1, c2 = float(h.get("CDELT1", 1.0)), float(h.get("CDELT2", 1.0))
    return [[c1 * float(h.get("PC1_1", 1.0)), c1 * float(h.get("PC1_2", 0.0))],
            [c2 * float(h.get("PC2_1", 0.0)), c2 * float(h.get("PC2_2", 1.0))]]


def wave_log_axis(h) -> dict:
    """The WAVE-LOG spectral axis of a DRP cube header (FITS paper III, ``-LOG`` algorithm).

    ``lambda(p) = CRVAL3 * exp(CD3_3 / CRVAL3 * (p - CRPIX3))`` for pixel ``p`` (1-based), so the
    constant velocity step is ``c * CD3_3 / CRVAL3``.  Returns ``spec_min``/``spec_max`` (Angstrom,
    centres of the first and last channel), ``spec_unit``, ``chan_kms``, ``cdelt3``.  A linear
    ``WAVE`` axis (LINCUBE) is read the linear way.
    """
    out = {"spec_type": "", "spec_min": math.nan, "spec_max": math.nan, "spec_unit": "",
           "chan_kms": math.nan, "cdelt3": math.nan, "crval3": math.nan}
    ctype = str(h.get("CTYPE3", "")).strip().upper()
    if not ctype.startswith("WAVE"):
        return out
    try:
        n = int(h["NAXIS3"])
        crval = float(h["CRVAL3"])
        crpix = float(h.get("CRPIX3", 1.0))
        step = float(h["CD3_3"]) if "CD3_3" in h else float(h["CDELT3"])
    except (KeyError, TypeError, ValueError):
        return out
    unit = str(h.get("CUNIT3", "")).strip() or "Angstrom"
    scale = _to_angstrom(unit)
    if ctype == "WAVE-LOG":
        lo = crval * math.exp(step / crval * (1 - crpix))
        hi = crval * math.exp(step / crval * (n - crpix))
        kms = C_KMS * step / crval
    else:
        lo = crval + step * (1 - crpix)
        hi = crval + step * (n - crpix)
        mid = 0.5 * (lo + hi)
        kms = C_KMS * abs(step) / mid if mid else math.nan
    out.update(spec_type=ctype, spec_min=min(lo, hi) * scale, spec_max=max(lo, hi) * scale,
               spec_unit="Angstrom", chan_kms=abs(kms), cdelt3=step, crval3=crval)
    return out


def _to_angstrom(unit: str) -> float:
    u = unit.strip().lower()
    return {"angstrom": 1.0, "ang": 1.0, "a": 1.0, "nm": 10.0, "um": 1e4, "m": 1e10}.get(u, 1.0)

