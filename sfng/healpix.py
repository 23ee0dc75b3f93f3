"""HEALPix pixel numbers in the NESTED scheme (Gorski et al. 2005, ApJ 622, 759), by astropy-healpix.

The Multimodal-Universe MaNGA parent sample groups objects by ``healpix`` =
``ang2pix(16, ra, dec, lonlat=True, nest=True)``.  :func:`ang2pix_nest` and its inverse
:func:`pix2ang_nest` (pixel centres) are thin wrappers over ``astropy_healpix``, part of the
``hdf5`` extra (``pip install 'sfng[hdf5]'``).  Angles are in degrees.
"""

from __future__ import annotations

import numpy as np

from .errors import SfngError


def _check_nside(nside: int) -> int:
    # astropy_healpix only prints a warning and returns -1 for a nested nside that is not 2**k
    nside = int(nside)
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"nside must be a power of 2, got {nside}")
    return nside


def _healpix(nside: int):
    try:
        from astropy_healpix import HEALPix
    except ImportError as exc:
        raise SfngError("HEALPix pixel numbers need astropy-healpix: pip install 'sfng[hdf5]'") from exc
    return HEALPix(nside=_check_nside(nside), order="nested")


def ang2pix_nest(nside: int, ra, dec):
    """Nested HEALPix index of (ra, dec) in degrees (an int, or an int64 array for arrays)."""
    import astropy.units as u

    hp = _healpix(nside)
    pix = hp.lonlat_to_healpix(np.asarray(ra, dtype=float) * u.deg, np.asarray(dec, dtype=float) * u.deg)
    pix = np.asarray(pix, dtype=np.int64)
    return pix if pix.ndim else int(pix)


def pix2ang_nest(nside: int, pix):
    """(ra, dec) in degrees of the centres of nested pixels ``pix`` (floats, or arrays for arrays)."""
    import astropy.units as u

    hp = _healpix(nside)
    lon, lat = hp.healpix_to_lonlat(np.asarray(pix, dtype=np.int64))
    ra = np.asarray(lon.to_value(u.deg), dtype=float) % 360.0
    dec = np.asarray(lat.to_value(u.deg), dtype=float)
    if ra.ndim == 0:
        return float(ra), float(dec)
    return ra, dec
