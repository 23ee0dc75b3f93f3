"""Jy/beam -> K and depth numbers against an independent hand calculation.

Hand formula (Rayleigh-Jeans, Gaussian beam), as radio astronomers write it:
    T[K] = 1.222e6 * S[Jy/beam] / (nu[GHz]^2 * bmaj["] * bmin["])
"""

import math

import numpy as np
import pytest

from sfng import units


def hand_k(s_jy, nu_ghz, bmaj, bmin):
    return 1.222e6 * s_jy / (nu_ghz ** 2 * bmaj * bmin)


# (S Jy/beam, nu GHz, bmaj", bmin") -- BIMA SONG CO(1-0), THINGS HI, HERACLES-like CO(2-1), PAWS
CASES = [(0.05, 115.2712018, 6.2, 5.4), (5.5e-4, 1.420405752, 6.0, 5.6),
         (0.02, 230.538, 13.4, 13.4), (0.01, 115.2712018, 1.16, 0.97), (1.0, 345.796, 0.5, 0.4)]


@pytest.mark.parametrize("s,nu,bmaj,bmin", CASES)
def test_jyb_to_k_matches_hand_formula(s, nu, bmaj, bmin):
    got = units.to_kelvin(s, "JY/BEAM", nu * 1e9, bmaj, bmin)
    assert got == pytest.approx(hand_k(s, nu, bmaj, bmin), rel=1e-3)


def test_bima_depth_at_1kms_by_hand():
    # BIMA SONG NGC 628: REPUNC 0.05 Jy/beam, 4.06 km/s channels, 6.2" x 5.4" beam
    rms_k = units.to_kelvin(0.05, "Jy/beam", 115.2712018e9, 6.2, 5.4)
    depth = units.depth_at(rms_k, 4.06, 1.0)
    assert depth == pytest.approx(hand_k(0.05, 115.2712018, 6.2, 5.4) * math.sqrt(4.06), rel=1e-3)
    assert depth == pytest.approx(0.2770, abs=2e-3)


def test_depth_scaling_any_channel():
    assert units.depth_at(0.4, 5.0, 1.0) == pytest.approx(0.4 * math.sqrt(5.0))
    assert units.depth_at(0.4, 5.0, 10.0) == pytest.approx(0.4 * math.sqrt(0.5))
    assert units.depth_at(0.4, 5.0, 5.0) == pytest.approx(0.4)
    assert math.isnan(units.depth_at(0.4, float("nan"), 1.0))
    assert math.isnan(units.depth_at(float("nan"), 5.0, 1.0))


@pytest.mark.parametrize("bunit,kind,scale", [
    ("K", "K", 1.0), ("Kelvin", "K", 1.0), ("mK", "K", 1e-3), ("K (Tmb)", "K", 1.0),
    ("JY/BEAM", "Jy/beam", 1.0), ("Jy/beam", "Jy/beam", 1.0), ("mJy/beam", "Jy/beam", 1e-3),
])
def test_brightness_kind(bunit, kind, scale):
    assert units.brightness_kind(bunit) == (kind, scale)


@pytest.mark.parametrize("bunit", ["MJy/sr", "erg/s/cm2/arcsec2", "JY/BEAM.KM/S", "", None])
def test_other_units_are_unknown_not_guessed(bunit):
    assert math.isnan(units.to_kelvin(1.0, bunit, 115e9, 5.0, 5.0))


def test_jy_beam_without_beam_or_frequency_is_unknown():
    assert math.isnan(units.to_kelvin(0.05, "JY/BEAM", None, 6.2, 5.4))
    assert math.isnan(units.to_kelvin(0.05, "JY/BEAM", 115e9, float("nan"), 5.4))
    assert units.to_kelvin(0.3, "K", None, None, None) == 0.3


def test_measure_rms_ignores_emission():
    rng = np.random.default_rng(1)
    cube = rng.normal(0.0, 0.07, size=(24, 40, 40))
    cube[8:16, 10:30, 10:30] += 2.0   # bright line emission in the middle channels
    assert units.measure_rms(cube) == pytest.approx(0.07, rel=0.05)
    assert math.isnan(units.measure_rms(np.zeros((5, 5))))


C_KMS = 299792.458
HEADERS = [
    # THINGS-like: FREQ axis in Hz, Jy/beam, beam in BMAJ/BMIN (deg)
    ({"CTYPE3": "FREQ", "CUNIT3": "Hz", "CRVAL3": 1.4175e9, "CDELT3": -24414.0625, "CRPIX3": 1,
      "RESTFRQ": 1.420405752e9, "BUNIT": "JY/BEAM", "BMAJ": 6.0 / 3600, "BMIN": 5.6 / 3600,
      "BPA": 30.0, "REPUNC": 5.5e-4},
     5.5e-4, 1.420405752, 6.0, 5.6, C_KMS * 24414.0625 / 1.420405752e9),
    # BIMA SONG-like: VELO-LSR in m/s
    ({"CTYPE3": "VELO-LSR", "CUNIT3": "m/s", "CRVAL3": 657e3, "CDELT3": 4060.0, "CRPIX3": 15,
      "RESTFRQ": 115.2712018e9, "BUNIT": "JY/BEAM", "BMAJ": 6.2 / 3600, "BMIN": 5.4 / 3600,
      "BPA": 12.0, "REPUNC": 0.05},
     0.05, 115.2712018, 6.2, 5.4, 4.06),
    # HERACLES-like: VRAD in km/s, already in K
    ({"CTYPE3": "VRAD", "CUNIT3": "km/s", "CRVAL3": 700.0, "CDELT3": 2.6, "CRPIX3": 1,
      "RESTFRQ": 230.538e9, "BUNIT": "K", "BMAJ": 13.4 / 3600, "BMIN": 13.4 / 3600, "BPA": 0.0,
      "REPUNC": 0.022},
     None, 230.538, 13.4, 13.4, 2.6),
    # AIPS: FELO-HEL in m/s, RESTFREQ spelling, mJy/beam, the beam only in a HISTORY card
    ({"CTYPE3": "FELO-HEL", "CRVAL3": 133e3, "CDELT3": 5152.0, "CRPIX3": 1,
      "RESTFREQ": 1.420405752e9, "BUNIT": "mJy/beam", "REPUNC": 0.6,
      "_HISTORY": "AIPS   CLEAN BMAJ=  2.4444E-03 BMIN=  2.1389E-03 BPA=  25.30"},
     0.6e-3, 1.420405752, 2.4444e-3 * 3600, 2.1389e-3 * 3600, 5.152),
]


@pytest.mark.parametrize("hdr,s_jy,nu_ghz,bmaj,bmin,dv", HEADERS)
def test_index_depth_columns_match_hand_calculation(tmp_path, hdr, s_jy, nu_ghz, bmaj, bmin, dv):
    from astropy.io import fits

    from sfng.fitsheader import read_headers
    from sfng.index import describe as D

    hdr = dict(hdr)
    history = hdr.pop("_HISTORY", None)
    h = fits.PrimaryHDU(np.zeros((8, 6, 6), "f4")).header
    h.update({"CTYPE1": "RA---SIN", "CRVAL1": 24.17, "CDELT1": -2e-3, "CRPIX1": 3,
              "CTYPE2": "DEC--SIN", "CRVAL2": 15.78, "CDELT2": 2e-3, "CRPIX2": 3, **hdr})
    if history:
        h.add_history(history)
    p = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((8, 6, 6), "f4"), h).writeto(p)
    base = D.null_row()
    base.update(flag=0, role="product", noise_path="")
    row = D.describe_blocks(D.Context(root=str(tmp_path), relpath="cube.fits", validate=False),
                            read_headers(p), base)
    rms_k = hdr["REPUNC"] if s_jy is None else hand_k(s_jy, nu_ghz, bmaj, bmin)
    assert row["chan_kms"] == pytest.approx(dv, rel=1e-4)
    assert row["bmaj"] == pytest.approx(bmaj, rel=1e-4) and row["res"] == pytest.approx(bmaj, rel=1e-4)
    assert row["rms_k"] == pytest.approx(rms_k, rel=2e-3)
    assert row["depth_k"] == pytest.approx(rms_k * math.sqrt(dv), rel=2e-3)
    # depth at any other channel width from the two native columns
    assert units.depth_at(row["rms_k"], row["chan_kms"], 10.0) == pytest.approx(rms_k * math.sqrt(dv / 10), rel=2e-3)
