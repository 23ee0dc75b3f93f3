"""HEALPix pixel numbers in the NESTED scheme (Gorski et al. 2005, ApJ 622, 759).

The Multimodal-Universe MaNGA parent sample groups objects by ``healpix`` =
``ang2pix(16, ra, dec, lonlat=True, nest=True)``.  :func:`ang2pix_nest` uses
``astropy_healpix`` when it is installed and otherwise the same algorithm as the HEALPix C++
library (``healpix_base.cc``, ``loc2pix`` for the nested scheme), vectorised with numpy.
:func:`pix2ang_nest` (pixel centres) exists for the round-trip tests.  Angles are in degrees.
"""

from __future__ import annotations

import numpy as np


def _spread_bits(v):
    """Interleave zeros between the bits of ``v`` (x -> bits at even positions)."""
    v = np.asarray(v, dtype=np.int64)
    out = np.zeros_like(v)
    for bit in range(30):
        out |= ((v >> bit) & 1) << (2 * bit)
    return out


def _compress_bits(v):
    v = np.asarray(v, dtype=np.int64)
    out = np.zeros_like(v)
    for bit in range(30):
        out |= ((v >> (2 * bit)) & 1) << bit
    return out


def _check_nside(nside: int) -> int:
    nside = int(nside)
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"nside must be a power of 2, got {nside}")
    return nside


def ang2pix_nest_own(nside: int, ra, dec):
    """Nested pixel index of (ra, dec) in degrees; the library's own implementation."""
    nside = _check_nside(nside)
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    z = np.sin(np.radians(dec))
    za = np.abs(z)
    tt = np.mod(np.radians(ra), 2 * np.pi) / (np.pi / 2)  # in [0, 4)
    tt = np.where(tt >= 4.0, 0.0, tt)

    # equatorial region
    temp1 = nside * (0.5 + tt)
    temp2 = nside * z * 0.75
    jp = np.floor(temp1 - temp2).astype(np.int64)
    jm = np.floor(temp1 + temp2).astype(np.int64)
    ifp = jp // nside
    ifm = jm // nside
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1

    # polar caps
    ntt = np.minimum(3, np.floor(tt).astype(np.int64))
    tp = tt - ntt
    tmp = nside * np.sqrt(3 * (1 - za))
    jp_p = np.minimum(np.floor(tp * tmp).astype(np.int64), nside - 1)
    jm_p = np.minimum(np.floor((1 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_p = np.where(north, ntt, ntt + 8)
    ix_p = np.where(north, nside - jm_p - 1, jp_p)
    iy_p = np.where(north, nside - jp_p - 1, jm_p)

    eq = za <= 2.0 / 3.0
    face = np.where(eq, face_eq, face_p)
    ix = np.where(eq, ix_eq, ix_p)
    iy = np.where(eq, iy_eq, iy_p)
    pix = face * nside * nside + _spread_bits(ix) + (_spread_bits(iy) << 1)
    return pix if pix.ndim else int(pix)


# Face layout of the HEALPix base pixels (healpix_base.cc jrll / jpll).
_JRLL = np.array([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
_JPLL = np.array([1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7])


def pix2ang_nest(nside: int, pix):
    """(ra, dec) in degrees of the centres of nested pixels ``pix``."""
    nside = _check_nside(nside)
    pix = np.asarray(pix, dtype=np.int64)
    npface = nside * nside
    face = pix // npface
    ipf = pix & (npface - 1)
    ix = _compress_bits(ipf)
    iy = _compress_bits(ipf >> 1)
    jr = _JRLL[face] * nside - ix - iy - 1
    nl4 = 4 * nside
    z = np.empty(pix.shape, dtype=float)
    nr = np.empty(pix.shape, dtype=np.int64)
    kshift = np.empty(pix.shape, dtype=np.int64)
    north = jr < nside
    south = jr > 3 * nside
    eq = ~(north | south)
    nr[north] = jr[north]
    z[north] = 1 - nr[north] ** 2 / (3.0 * npface)
    kshift[north] = 0
    nr[south] = nl4 - jr[south]
    z[south] = nr[south] ** 2 / (3.0 * npface) - 1
    kshift[south] = 0
    nr[eq] = nside
    z[eq] = (2 * nside - jr[eq]) * 2.0 / (3 * nside)
    kshift[eq] = (jr[eq] - nside) & 1
    jp = (_JPLL[face] * nr + ix - iy + 1 + kshift) // 2
    jp = np.where(jp > nl4, jp - nl4, jp)
    jp = np.where(jp < 1, jp + nl4, jp)
    phi = (jp - (kshift + 1) * 0.5) * (np.pi / 2 / nr)
    ra = np.degrees(phi) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    if ra.ndim == 0:
        return float(ra), float(dec)
    return ra, dec


def ang2pix_nest(nside: int, ra, dec):
    """Nested HEALPix index of (ra, dec) in degrees: astropy_healpix if present, else own."""
    try:
        from astropy_healpix import HEALPix  # optional
    except ImportError:
        return ang2pix_nest_own(nside, ra, dec)
    import astropy.units as u

    hp = HEALPix(nside=_check_nside(nside), order="nested")
    pix = hp.lonlat_to_healpix(np.asarray(ra, dtype=float) * u.deg, np.asarray(dec, dtype=float) * u.deg)
    pix = np.asarray(pix, dtype=np.int64)
    return pix if pix.ndim else int(pix)
