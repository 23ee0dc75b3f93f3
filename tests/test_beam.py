"""Beam from a header: BMAJ/BMIN/BPA (deg) -> arcsec, README provenance, AIPS HISTORY cards."""

import math

from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.beam import AIPS_HISTORY, HEADER, README, aips_history_beam, beam_from_header, looks_like_arcsec
from sfng.header import effective_header


def test_header_beam_in_arcsec():
    b = beam_from_header({"BMAJ": 6.0 / 3600, "BMIN": 5.6 / 3600, "BPA": 30.0})
    assert b.source == HEADER and b.ok
    assert math.isclose(b.major, 6.0) and math.isclose(b.minor, 5.6) and b.pa == 30.0
    assert math.isclose(b.area_arcsec2, math.pi / (4 * math.log(2)) * 6.0 * 5.6)


def test_no_beam_is_none_and_missing_parts_are_nan():
    assert beam_from_header({"BUNIT": "K"}) is None
    b = beam_from_header({"BMAJ": 15.0 / 3600})
    assert math.isclose(b.major, 15.0) and math.isnan(b.minor) and math.isnan(b.pa) and b.ok


def test_readme_beam_is_marked_readme():
    eff = effective_header({"NAXIS": 2}, {"BMAJ": 3.7222e-3, "BMIN": 3.7222e-3, "BPA": 0.0})
    b = beam_from_header(eff)
    assert b.source == README and math.isclose(b.major, 13.4, rel_tol=1e-4)


def test_aips_history_card():
    h = fits.Header()
    h["NAXIS"] = 0
    h.add_history("AIPS   IMNAME='NGC2403' IMCLASS='NA_CUBE'")
    h.add_history("AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")
    b = beam_from_header(h)
    assert b.source == AIPS_HISTORY
    assert math.isclose(b.major, 1.6489e-3 * 3600) and math.isclose(b.minor, 1.5866e-3 * 3600)
    assert b.pa == 30.58
    # through the effective header too, and the HISTORY card wins over the README
    eff = effective_header(h, {"BMAJ": 1e-3, "BMIN": 1e-3, "BPA": 0.0})
    assert beam_from_header(eff).source == AIPS_HISTORY


def test_file_bmaj_wins_over_history_and_last_card_wins():
    h = {"BMAJ": 2e-3, "BMIN": 1e-3, "BPA": 5.0}
    assert beam_from_header(h).source == HEADER
    hist = ["AIPS   CLEAN BMAJ=  1.0E-03 BMIN=  1.0E-03 BPA=   0.00",
            "AIPS   CLEAN BMAJ=  2.0D-03 BMIN=  1.5D-03 BPA= -12.50"]
    assert aips_history_beam(hist) == (2e-3, 1.5e-3, -12.5)
    assert aips_history_beam(["AIPS   IMNAME='X'"]) is None


def test_arcsec_written_as_degrees_is_suspect():
    b = beam_from_header({"BMAJ": 15.0, "BMIN": 15.0, "BPA": 0.0})
    assert not b.ok and "arcsec" in b.suspect
    assert looks_like_arcsec(15.0) and not looks_like_arcsec(0.26)  # HIPASS 15.5' is fine


def test_implausible_axes():
    assert "larger than BMAJ" in beam_from_header({"BMAJ": 1e-3, "BMIN": 2e-3}).suspect
    assert "not positive" in beam_from_header({"BMAJ": 0.0}).suspect
    assert "not positive" in beam_from_header({"BMAJ": 1e-3, "BMIN": -1e-3}).suspect
    assert "not a number" in beam_from_header({"BMAJ": "big"}).suspect


@settings(max_examples=60, deadline=None)
@given(bmaj=st.floats(1e-5, 0.5), ratio=st.floats(0.05, 1.0), bpa=st.floats(-90, 90))
def test_aips_card_round_trip(bmaj, ratio, bpa):
    bmin = bmaj * ratio
    card = f"AIPS   CLEAN BMAJ=  {bmaj:.4E} BMIN=  {bmin:.4E} BPA=  {bpa:.2f}"
    b = beam_from_header({"HISTORY": [card]})
    assert b.source == AIPS_HISTORY
    assert math.isclose(b.major, bmaj * 3600, rel_tol=1e-4)
    assert math.isclose(b.minor, bmin * 3600, rel_tol=1e-4)
    assert abs(b.pa - bpa) <= 0.006
