"""The reference the footprint tests compare with: astropy, computed without sfng.

``astropy.wcs.WCS(header).celestial.calc_footprint()`` (``all_pix2world``: SIP, DSS plate
solutions, TPV and the other distortions astropy applies), converted to ICRS through
``astropy.coordinates``.  The native frame comes from ``astropy.wcs.utils.wcs_to_celestial_frame``
except where that function does not follow the FITS standard, said here once:

* ``ELON/ELAT`` (ecliptic): astropy returns the *equatorial* ICRS/FK5 frame (wcslib fills in
  RADESYS for ecliptic axes too); the reference is ``BarycentricMeanEcliptic`` of EQUINOX
  (default J2000): the mean ecliptic and equinox, no aberration.
* ``SLON/SLAT``: astropy knows no WCS mapping; the reference is ``Supergalactic``.
* FK4 / FK4-NO-E with DATE-OBS or MJD-OBS: astropy leaves ``obstime`` at the equinox; the FITS
  standard (WCS Paper II, sec. 3.1) makes the date of observation the epoch, and the
  reference uses it.
"""

from __future__ import annotations

import warnings

import numpy as np

ARCSEC = 1 / 3600


def reference_frame(w):
    """The astropy frame of a celestial WCS (``w``: an astropy.wcs.WCS, 2 celestial axes)."""
    from astropy.coordinates import BarycentricMeanEcliptic, FK4, FK4NoETerms, Supergalactic
    from astropy.time import Time
    from astropy.wcs.utils import wcs_to_celestial_frame

    ct = w.wcs.ctype[w.wcs.lng][:4].upper()
    eq = w.wcs.equinox
    if ct == "ELON":
        eq = 2000.0 if not np.isfinite(eq) else eq
        return BarycentricMeanEcliptic(equinox=Time(eq, format="jyear" if eq >= 1984 else "byear"))
    if ct == "SLON":
        return Supergalactic()
    frame = wcs_to_celestial_frame(w)
    if isinstance(frame, (FK4, FK4NoETerms)) and np.isfinite(w.wcs.mjdobs):
        frame = type(frame)(equinox=frame.equinox, obstime=Time(w.wcs.mjdobs, format="mjd"))
    return frame


def astropy_icrs_footprint(header):
    """``(4, 2)`` corners (RA, Dec in ICRS, astropy's order) or None where astropy has none."""
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            cel = WCS(header).celestial
        except Exception:  # noqa: BLE001 - astropy cannot: nothing to compare
            return None
        if cel.naxis != 2:
            return None
        try:
            ref = cel.calc_footprint()
        except Exception:  # noqa: BLE001
            return None
        if ref is None or not np.all(np.isfinite(ref)):
            return None
        lon, lat = ref[:, cel.wcs.lng], ref[:, cel.wcs.lat]  # astropy keeps the header's order
        try:
            frame = reference_frame(cel)
        except ValueError:  # a frame astropy cannot name
            return None
        c = SkyCoord(lon, lat, unit="deg", frame=frame).icrs
    return np.column_stack([c.ra.deg, c.dec.deg])


def icrs_point(lon, lat, header):
    """One position of the header's frame, in ICRS, as the reference converts it."""
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        cel = WCS(header).celestial
        c = SkyCoord(lon, lat, unit="deg", frame=reference_frame(cel)).icrs
    return float(c.ra.deg), float(c.dec.deg)
