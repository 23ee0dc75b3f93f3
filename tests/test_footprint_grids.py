"""Outlines of files that share a grid (:func:`sfng.footprint._grid_key`): wcslib's parse of
the first file, re-pointed by CRVAL for the others, gives the outline of a parse per file."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sfng import footprint as fp
from sfng.validate import reader

CORPUS = Path(__file__).parent / "data" / "corpus"


def _sky_headers():
    out = []
    for p in sorted(CORPUS.rglob("*.hdr")):
        for h in reader.open_file(p).hdus:
            if h.xtension in (None, "IMAGE") and h.text and "CTYPE2" in h.text and "CRVAL2" in h.text:
                out.append((p.name, h.text))
    return out


def _repointed(text: str, lon: float, lat: float) -> str:
    h = fits.Header.fromstring(text)
    lat_first = str(h.get("CTYPE1", "")).upper().startswith(("DEC", "GLAT", "ELAT", "SLAT"))
    h["CRVAL1"], h["CRVAL2"] = (lat, lon) if lat_first else (lon, lat)
    return h.tostring()


def _outline(text: str, fresh: bool):
    if fresh:
        fp._GRIDS.clear()
    fp._outline.cache_clear()
    try:
        got = fp.outline(text)
    except fp.FootprintError as exc:
        return ("error", str(exc))
    if got is None:
        return None
    return (got.kind, got.frame, got.method, got.partial, np.round(got.ra, 10).tolist(),
            np.round(got.dec, 10).tolist(), round(got.centre[0], 10), round(got.centre[1], 10),
            round(got.radius, 10) if math.isfinite(got.radius) else None)


@pytest.mark.parametrize("seed", range(3))
def test_shared_grids_give_the_outline_of_a_parse_per_file(seed):
    rng = random.Random(seed)
    headers = _sky_headers()
    assert len(headers) > 20
    for name, text in headers:
        points = [(rng.uniform(0, 360), rng.uniform(-89.99, 89.99)) for _ in range(4)]
        points += [(0.0, 89.99999), (359.9999, -89.99999), (12.0, 90.0), (12.0, -90.0)]
        variants = [_repointed(text, lon, lat) for lon, lat in points]
        fp._GRIDS.clear()
        shared = [_outline(t, fresh=False) for t in variants]
        fresh = [_outline(t, fresh=True) for t in variants]
        assert shared == fresh, name


def test_a_grid_is_parsed_once(monkeypatch):
    """50 TAN images of one grid at 50 places: one wcslib parse, then the CRVAL is set."""
    calls = []
    real = fp._celestial_from_entries
    monkeypatch.setattr(fp, "_celestial_from_entries", lambda *a, **k: calls.append(1) or real(*a, **k))
    from astropy.wcs import WCS

    from _grids import one_grid

    fp._GRIDS.clear()
    for h in one_grid(50, 512, 5e-4, seed=1):
        got = fp.outline(h)
        corners = WCS(h).calc_footprint()
        sep = fp.separation(np.asarray(got.ra), np.asarray(got.dec), corners[:, 0], corners[:, 1])
        assert sep.max() * 3600 < 1e-6
    assert len(calls) == 1


def test_non_zenithal_and_polar_grids_are_parsed_afresh():
    base = fits.Header()
    base.update(NAXIS=2, NAXIS1=64, NAXIS2=64, CTYPE1="RA---CAR", CTYPE2="DEC--CAR", CRPIX1=32.5,
                CRPIX2=32.5, CDELT1=-1e-2, CDELT2=1e-2, CRVAL1=10.0, CRVAL2=20.0)
    assert fp._grid_key(fp._split_entries(fp._wcs_entries(base))[0], {1: "RA---CAR", 2: "DEC--CAR"}, [0, 1]) is None
    base["CTYPE1"], base["CTYPE2"] = "RA---TAN", "DEC--TAN"
    assert fp._grid_key(fp._split_entries(fp._wcs_entries(base))[0], {1: "RA---TAN", 2: "DEC--TAN"}, [0, 1]) is not None
    base["CRVAL2"] = 90.0
    assert fp._grid_key(fp._split_entries(fp._wcs_entries(base))[0], {1: "RA---TAN", 2: "DEC--TAN"}, [0, 1]) is None


def _tan(crval2, **cards):
    h = fits.Header()
    h.update(NAXIS=2, NAXIS1=64, NAXIS2=64, CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=32.5,
             CRPIX2=32.5, CDELT1=-1e-3, CDELT2=1e-3, CRVAL1=10.0, CRVAL2=crval2, **cards)
    return h


@pytest.mark.parametrize("cards", [{"PV1_1": 1.0, "PV1_2": 0.0},          # SCAMP TPV-as-TAN, 1st order
                                   {"PV1_1": 0.0, "PV1_2": 10.0, "LONPOLE": 90.0}])
def test_a_fiducial_point_off_the_pole_is_not_shared(cards):
    """PV1_1/PV1_2 (phi0, theta0) move the fiducial point: the second file must get its own
    outline (it was dropped as 'Ill-conditioned' when shared; found by a review)."""
    from sfng.header import effective_header
    from sfng.index.describe import _footprint

    def row(h):
        return _footprint(effective_header(list(h.items()), {}))

    for lat2 in (-60.0, 40.0):
        fp._GRIDS.clear()
        fp._outline.cache_clear()
        shared = [row(_tan(60.0, **cards)), row(_tan(lat2, **cards))]
        fresh = []
        for lat in (60.0, lat2):
            fp._GRIDS.clear()
            fp._outline.cache_clear()
            fresh.append(row(_tan(lat, **cards)))
        assert repr(shared) == repr(fresh)


def test_repeated_ctype_and_odd_crval_text_are_parsed_afresh():
    cards = [c.ljust(80) for c in ("NAXIS   =                    2", "NAXIS1  =                   64",
                                   "NAXIS2  =                   64", "CTYPE1  = 'RA---TAN'",
                                   "CTYPE2  = 'DEC--TAN'", "CTYPE1  = 'RA---CAR'", "CTYPE2  = 'DEC--CAR'",
                                   "CRPIX1  =                 32.5", "CRPIX2  =                 32.5",
                                   "CDELT1  =               -0.001", "CDELT2  =                0.001",
                                   "CRVAL1  =                 10.0")]
    for lat in ("0.0", "30.0", "-45.0", "1_0"):
        text = "".join(cards) + f"CRVAL2  = {lat:>20}".ljust(80)
        assert _outline(text, fresh=False) == _outline(text, fresh=True)
