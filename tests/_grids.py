"""Headers of one TAN grid pointing at many places (what the shared-parse tests feed)."""

from __future__ import annotations

import random

from astropy.io import fits


def one_grid(n: int, size: int, cdelt: float, seed: int, max_lat: float = 85.0, **extra):
    """``n`` astropy Headers of a ``size`` x ``size`` TAN grid of ``cdelt`` degrees per pixel,
    ICRS, each at a random CRVAL (|Dec| < ``max_lat``); ``extra(i)`` callables add per-file cards."""
    base = fits.Header()
    base.update(NAXIS=2, NAXIS1=size, NAXIS2=size, CTYPE1="RA---TAN", CTYPE2="DEC--TAN",
                CRPIX1=(size + 1) / 2, CRPIX2=(size + 1) / 2, CDELT1=-cdelt, CDELT2=cdelt, RADESYS="ICRS")
    rng = random.Random(seed)
    for i in range(n):
        h = base.copy()
        h.update(CRVAL1=rng.uniform(0, 360), CRVAL2=rng.uniform(-max_lat, max_lat))
        h.update({k: f(i) for k, f in extra.items()})
        yield h
