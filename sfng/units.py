"""Brightness units, noise in K and depth at a channel width.

* Jy/beam -> K: astropy.units' ``brightness_temperature`` equivalency with a Gaussian beam of
  solid angle ``pi / (4 ln 2) * bmaj * bmin`` at the rest frequency (Rayleigh-Jeans).
* Depth at channel width ``dv``: ``sigma(dv) = sigma_native * sqrt(dv_native / dv)`` (noise
  averages down as the square root of the number of channels combined).
* Measured noise (``--measure-depth``): the median absolute deviation of emission-free pixels,
  found by iterative clipping, scaled to a Gaussian sigma.

Unknown inputs give NaN, never a guess.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

NAN = float("nan")
MAD_TO_SIGMA = 1.482602218505602   # 1 / Phi^-1(3/4)

# Upper-cased BUNIT spellings.  FITS files write units in capitals, so 'MK' and 'MJY/BEAM'
# mean milli (mega-Kelvin and mega-Jansky per beam are never used for these maps).
_KELVIN = {"K": 1.0, "KELVIN": 1.0, "MK": 1e-3, "MKELVIN": 1e-3}
_JYBEAM = {"JY/BEAM": 1.0, "JY/B": 1.0, "JYBEAM-1": 1.0, "JY/BM": 1.0, "JYBEAM": 1.0,
           "MJY/BEAM": 1e-3, "MJY/B": 1e-3, "UJY/BEAM": 1e-6}


def brightness_kind(bunit) -> tuple[str, float]:
    """What a BUNIT measures: ``("K", factor to K)``, ``("Jy/beam", factor to Jy/beam)``, or
    ``("", nan)`` for anything else ('K (Tmb)' -> K; 'mK' -> ("K", 1e-3))."""
    if not bunit:
        return "", NAN
    s = str(bunit).strip()
    s = re.sub(r"\s*\(.*\)$", "", s)            # 'K (Tmb)' -> 'K'
    up = s.replace(" ", "").replace(".", "").upper()
    if up in _KELVIN:
        return "K", _KELVIN[up]
    if up in _JYBEAM:
        return "Jy/beam", _JYBEAM[up]
    return "", NAN


@lru_cache(maxsize=4096)
def jyb_to_k(freq_hz: float, bmaj_arcsec: float, bmin_arcsec: float) -> float:
    """Kelvin per Jy/beam at ``freq_hz`` for a Gaussian beam (FWHM in arcsec); NaN if unknown."""
    if not all(_pos(x) for x in (freq_hz, bmaj_arcsec, bmin_arcsec)):
        return NAN
    import astropy.units as u

    from .beam import Beam

    omega = Beam(bmaj_arcsec, bmin_arcsec, NAN, "").area_arcsec2 * u.arcsec ** 2
    t = (1 * u.Jy / omega).to(u.K, equivalencies=u.brightness_temperature(freq_hz * u.Hz))
    return float(t.value)


def to_kelvin(value, bunit, freq_hz=None, bmaj_arcsec=None, bmin_arcsec=None) -> float:
    """``value`` in ``bunit`` expressed in K (NaN when the unit or the beam/frequency needed
    for Jy/beam is unknown)."""
    if not _num(value):
        return NAN
    kind, scale = brightness_kind(bunit)
    if kind == "K":
        return float(value) * scale
    if kind == "Jy/beam":
        return float(value) * scale * jyb_to_k(float(freq_hz or NAN), float(bmaj_arcsec or NAN),
                                               float(bmin_arcsec or NAN))
    return NAN


def depth_at(sigma_native, chan_native_kms, chan_kms=1.0) -> float:
    """rms in a channel of width ``chan_kms`` given the rms ``sigma_native`` in a channel of
    ``chan_native_kms`` (km/s): ``sigma_native * sqrt(chan_native_kms / chan_kms)``."""
    return float(depth_at_many(sigma_native, chan_native_kms, chan_kms))


def depth_at_many(sigma_native, chan_native_kms, chan_kms=1.0):
    """:func:`depth_at` over arrays (numpy broadcasting): NaN wherever the rms is not finite
    or a channel width is not a positive number."""
    import numpy as np

    sigma = np.asarray(sigma_native, dtype=float)
    native = np.asarray(chan_native_kms, dtype=float)
    chan = np.asarray(chan_kms, dtype=float)
    ok = np.isfinite(sigma) & np.isfinite(native) & (native > 0) & np.isfinite(chan) & (chan > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, sigma * np.sqrt(np.abs(native) / chan), np.nan)


def measure_rms(data, max_samples: int = 2_000_000, clip: float = 3.0, iterations: int = 8) -> float:
    """Robust rms of the emission-free pixels of ``data`` (any shape), in its units.

    The MAD of all finite pixels, then repeatedly of the pixels within ``clip`` sigma of the
    median, which drops the emission; scaled by 1.4826 to a Gaussian sigma.  Large arrays are
    subsampled with a regular stride (``max_samples``).
    """
    import numpy as np

    a = np.asarray(data).ravel()
    if a.size > max_samples:
        a = a[:: int(math.ceil(a.size / max_samples))]
    a = a[np.isfinite(a)].astype(np.float64)
    a = a[a != 0.0]   # blanked-as-zero pixels outside the mapped area are not noise
    if a.size < 10:
        return NAN
    sigma = NAN
    for _ in range(iterations):
        med = np.median(a)
        new = MAD_TO_SIGMA * np.median(np.abs(a - med))
        if new == 0 or not np.isfinite(new):
            return NAN
        keep = np.abs(a - med) <= clip * new
        if math.isclose(new, sigma, rel_tol=1e-4) or keep.sum() < 10:
            sigma = new
            break
        sigma = new
        a = a[keep]
    return float(sigma)


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pos(x) -> bool:
    return _num(x) and x > 0
