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


def _turned(text: str, rng) -> list[str]:
    """``text`` turned, stretched and sheared a few ways (its sky axes' own PC or CD terms, or
    a CD matrix written in place of CDELT), at new pointings; one variant is singular."""
    h = fits.Header.fromstring(text)
    lat_first = str(h.get("CTYPE1", "")).upper().startswith(("DEC", "GLAT", "ELAT", "SLAT"))
    stems = [s for s in ("CD", "PC") if any(k.startswith(f"{s}1_") or k.startswith(f"{s}2_") for k in h)]
    out = []
    for k in range(6):
        g = h.copy()
        t, f = math.radians(rng.uniform(-180, 180)), rng.uniform(0.5, 2.0)
        shear = rng.uniform(-0.2, 0.2)
        m = [[f * math.cos(t), -math.sin(t) + shear], [math.sin(t), math.cos(t)]]
        if k == 5:
            m = [[1.0, 2.0], [0.5, 1.0]]   # singular: wcslib refuses it either way
        if stems:
            s = stems[0]
            for i in (1, 2):
                for j in (1, 2):
                    g[f"{s}{i}_{j}"] = m[i - 1][j - 1] * (abs(float(h.get(f"CDELT{i}", 1) or 1))
                                                          if s == "CD" and f"CDELT{i}" in h else 1.0)
        else:
            d1, d2 = float(h.get("CDELT1", 1e-3) or 1e-3), float(h.get("CDELT2", 1e-3) or 1e-3)
            for i, d in ((1, d1), (2, d2)):
                for j in (1, 2):
                    g[f"CD{i}_{j}"] = d * m[i - 1][j - 1]
        lon, lat = rng.uniform(0, 360), rng.uniform(-89, 89)
        g["CRVAL1"], g["CRVAL2"] = (lat, lon) if lat_first else (lon, lat)
        out.append(g.tostring())
    return out


@pytest.mark.parametrize("seed", range(2))
def test_turned_grids_give_the_outline_of_a_parse_per_file(seed):
    """Mosaics turned each their own way (the sky axes' PC or CD values) share one parse: each
    outline equals a parse of its own header, for every real header of the corpus."""
    rng = random.Random(seed)
    shared_any = 0
    for name, text in _sky_headers():
        variants = _turned(text, rng)
        fp._GRIDS.clear()
        shared = [_outline(t, fresh=False) for t in variants]
        shared_any += len(fp._GRIDS) < len(variants)
        fresh = [_outline(t, fresh=True) for t in variants]
        assert shared == fresh, name
    assert shared_any > 10   # the shared path was taken, not only parses afresh


def test_a_turned_grid_is_parsed_once(monkeypatch):
    """50 TAN images of one grid, each turned its own way at its own place: one wcslib parse,
    and every outline on astropy's calc_footprint."""
    calls = []
    real = fp._celestial_from_entries
    monkeypatch.setattr(fp, "_celestial_from_entries", lambda *a, **k: calls.append(1) or real(*a, **k))
    from astropy.wcs import WCS

    from _grids import one_grid

    def cd(i, j):
        def value(n):
            t = math.radians(random.Random(n).uniform(-40, 40))
            return 5e-4 * ((-math.cos(t), math.sin(t)), (math.sin(t), math.cos(t)))[i - 1][j - 1]
        return value

    fp._GRIDS.clear()
    for h in one_grid(50, 512, 5e-4, seed=2, **{f"CD{i}_{j}": cd(i, j) for i in (1, 2) for j in (1, 2)}):
        del h["CDELT1"], h["CDELT2"]
        got = fp.outline(h)
        corners = WCS(h).calc_footprint()
        sep = fp.separation(np.asarray(got.ra), np.asarray(got.dec), corners[:, 0], corners[:, 1])
        assert sep.max() * 3600 < 1e-6
    assert len(calls) == 1


@pytest.mark.parametrize("block, expected", [
    ([(("CD", 1, "1"), None, -1e-3), (("CD", 2, "2"), None, 1e-3)], ("CD", ((-1e-3, 0.0), (0.0, 1e-3)))),
    ([(("PC", 1, "2"), None, 0.5)], ("PC", ((1.0, 0.5), (0.0, 1.0)))),
    ([(("CD", 1, "1"), None, 1e-3)], None),                                       # CD2_2 = 0: singular
    ([(("PC", 1, "1"), None, 1.0), (("CD", 2, "2"), None, 1.0)], None),           # two families
    ([(("CD", 1, "1"), "CD1_1   =                  1_0", None), (("CD", 2, "2"), None, 1.0)], None),
    ([(("CD", 1, "1"), None, float("nan")), (("CD", 2, "2"), None, 1.0)], None),
    ([(("CD", 1, "1"), None, 1e-3), (("CD", 2, "2"), None, 1e-3),
      (("CD00", 1, "1"), None, 2e-3)], None),                                     # CD1_1 and CD001001
    ([], None),
])
def test_sky_matrix_shares_only_what_wcslib_sets_up_alike(block, expected):
    assert fp.sky_matrix(block, (1, 2)) == expected
