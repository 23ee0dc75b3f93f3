"""Synthetic images and cubes for the derive tests, landed in a store through ingest."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

FWHM = 2 * math.sqrt(2 * math.log(2))


def gaussian2d(ny, nx, fwhm_pix_maj, fwhm_pix_min=None, pa_deg=0.0, cy=None, cx=None):
    """A unit-peak elliptical Gaussian; PA east of north with east = -x (north = +y)."""
    fwhm_pix_min = fwhm_pix_maj if fwhm_pix_min is None else fwhm_pix_min
    cy = (ny - 1) / 2 if cy is None else cy
    cx = (nx - 1) / 2 if cx is None else cx
    y, x = np.mgrid[0:ny, 0:nx]
    dx, dy = x - cx, y - cy
    t = math.radians(pa_deg)
    # major axis along PA: direction (east, north) = (sin t, cos t) -> pixels (-sin t, cos t)
    u = -dx * math.sin(t) + dy * math.cos(t)
    v = dx * math.cos(t) + dy * math.sin(t)
    sa, sb = fwhm_pix_maj / FWHM, fwhm_pix_min / FWHM
    return np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2))


def header(ny, nx, pix_arcsec=1.0, bmaj=5.0, bmin=None, bpa=0.0, bunit="Jy/beam", obj="NGC 628",
           nchan=None, restfrq=1.1527e11, dv_ms=2000.0, v0_ms=-50000.0):
    from astropy.io import fits

    h = fits.Header()
    h["OBJECT"] = obj
    h["BUNIT"] = bunit
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRVAL1"], h["CRVAL2"] = 24.174, 15.784
    h["CRPIX1"], h["CRPIX2"] = (nx + 1) / 2, (ny + 1) / 2
    h["CDELT1"], h["CDELT2"] = -pix_arcsec / 3600, pix_arcsec / 3600
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["EQUINOX"] = 2000.0
    h["RADESYS"] = "FK5"
    h["BMAJ"], h["BMIN"], h["BPA"] = bmaj / 3600, (bmin or bmaj) / 3600, bpa
    h["TELESCOP"] = "TEST"
    if nchan:
        h["CTYPE3"], h["CRVAL3"], h["CDELT3"], h["CRPIX3"], h["CUNIT3"] = "VRAD", v0_ms, dv_ms, 1.0, "m/s"
        h["SPECSYS"] = "LSRK"
    h["RESTFRQ"] = restfrq
    return h


def write(path: Path, data, hdr):
    from astropy.io import fits

    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32), hdr).writeto(path)
    return path


def land(store, src_dir: Path, survey="TEST"):
    """Ingest ``src_dir`` into ``data/<survey>/`` and build the index."""
    from sfng.index.build import build_index
    from sfng.ingest import execute, plan_ingest

    plan = plan_ingest(store, src_dir, survey=survey, tree="data")
    rep = execute(plan)
    assert rep.ok, [o.as_dict() for o in rep.outcomes if not o.ok]
    build_index(store)
    return rep
