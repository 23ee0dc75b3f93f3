"""Spectral axis: classification, units, m/s vs km/s, channel width in km/s, coverage."""

import math
from pathlib import Path

import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.spectral import (C_KMS, classify_ctype, find_spectral_axis, parse_axis_unit, rest_frequency,
                           spectral_axis)

CORPUS = Path(__file__).parent / "data" / "corpus" / "wcs" / "spectral"
HI = 1.420405752e9


def cube(**kw):
    h = {"NAXIS": 3, "NAXIS1": 10, "NAXIS2": 10, "NAXIS3": 24, "CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN",
         "CRPIX3": 1.0}
    h.update(kw)
    return h


@pytest.mark.parametrize("ctype,code,kind,extra", [
    ("FREQ", "FREQ", "frequency", {}),
    ("FREQ-LSR", "FREQ", "frequency", {"frame": "LSRK"}),
    ("VRAD", "VRAD", "velocity", {"convention": "radio"}),
    ("VOPT", "VOPT", "velocity", {"convention": "optical"}),
    ("VOPT-F2W", "VOPT", "velocity", {"algorithm": "F2W"}),
    ("VELO-LSR", "VELO", "velocity", {"frame": "LSRK"}),
    ("VELO-HEL", "VELO", "velocity", {"frame": "BARYCENT"}),
    ("FELO-HEL", "FELO", "velocity", {"convention": "optical"}),
    ("WAVE", "WAVE", "wavelength", {}),
    ("AWAV", "AWAV", "wavelength", {}),
    ("WAVE-LOG", "WAVE", "wavelength", {"algorithm": "LOG"}),
    ("ZOPT", "ZOPT", "velocity", {}),
])
def test_classify(ctype, code, kind, extra):
    info = classify_ctype(ctype)
    assert info.spectral and info.standard and info.code == code and info.stype.kind == kind
    for k, v in extra.items():
        assert getattr(info, k, None) == v or getattr(info.stype, k, None) == v


def test_classify_nonstandard_and_not_spectral():
    assert not classify_ctype("VELOCITY").standard and classify_ctype("VELOCITY").code == "VELO"
    for ct in ("RA---SIN", "DEC--TAN", "STOKES", "GLON-CAR", "", "FREQX"):
        assert not classify_ctype(ct).spectral


def test_units_in_aips_spelling():
    import astropy.units as u

    assert parse_axis_unit("HZ") == u.Hz and parse_axis_unit("KM/S") == u.km / u.s
    assert parse_axis_unit("M/S") == u.m / u.s and parse_axis_unit("Angstrom") == u.AA
    assert parse_axis_unit("furlongs") is None


def test_frequency_axis_needs_rest_frequency():
    dv = 5.2
    h = cube(CTYPE3="FREQ", CUNIT3="HZ", CRVAL3=HI, CDELT3=-dv / C_KMS * HI)
    ax = spectral_axis(h)
    assert ax.axis == 3 and ax.kind == "frequency" and ax.unit == "Hz" and ax.unit_source == "CUNIT3"
    assert math.isnan(ax.chan_kms) and math.isnan(ax.restfrq)
    ax = spectral_axis({**h, "RESTFREQ": HI})
    assert ax.restfrq == HI and ax.restfrq_key == "RESTFREQ"
    assert math.isclose(ax.chan_kms, dv, rel_tol=1e-9)
    lo, hi, unit = ax.coverage
    assert unit == "Hz" and math.isclose(hi, HI) and math.isclose(lo, HI + 23 * h["CDELT3"])


def test_velocity_defaults_to_m_per_s_and_km_detection():
    ax = spectral_axis(cube(CTYPE3="VELO-HEL", CRVAL3=133e3, CDELT3=5200.0))
    assert ax.unit == "m / s" and ax.unit_source == "FITS default" and ax.chan_kms == pytest.approx(5.2)
    assert ax.scale_suspect == ""
    # numbers in km/s under the default m/s unit
    ax = spectral_axis(cube(CTYPE3="VELO-HEL", CRVAL3=133.0, CDELT3=5.2))
    assert ax.scale_suspect == "km/s"
    ax = spectral_axis(cube(CTYPE3="VRAD", CUNIT3="km/s", CRVAL3=657.0, CDELT3=2.6))
    assert ax.scale_suspect == "" and ax.chan_kms == pytest.approx(2.6)
    # numbers in m/s under a km/s label
    ax = spectral_axis(cube(CTYPE3="VRAD", CUNIT3="km/s", CRVAL3=657e3, CDELT3=2600.0))
    assert ax.scale_suspect == "m/s"


def test_unit_mismatch_and_frequency_scale():
    ax = spectral_axis(cube(CTYPE3="FREQ", CUNIT3="m/s", CRVAL3=HI, CDELT3=1e4))
    assert "not a frequency unit" in ax.unit_mismatch and math.isnan(ax.chan_kms)
    assert spectral_axis(cube(CTYPE3="FREQ", CRVAL3=115.27, CDELT3=1e-3)).scale_suspect == "not Hz"


def test_wavelength_axes():
    # MaNGA-like WAVE-LOG with CD3_3 in Angstrom: c * cdelt / crval per pixel (~69 km/s)
    h = cube(CTYPE3="WAVE-LOG", CUNIT3="Angstrom", CRVAL3=3621.59598486, CD3_3=0.833903304339, NAXIS3=4563)
    ax = spectral_axis(h)
    assert ax.kind == "wavelength" and ax.algorithm == "LOG"
    assert ax.chan_kms == pytest.approx(C_KMS * 0.833903304339 / 3621.59598486)
    lo, hi, unit = ax.coverage
    assert lo == pytest.approx(3621.59598486) and 10300 < hi < 10400 and unit == "Angstrom"
    # linear WAVE in m with a rest wavelength
    ax = spectral_axis(cube(CTYPE3="WAVE", CRVAL3=6.563e-7, CDELT3=1e-10, RESTWAV=6.5628e-7))
    assert ax.unit == "m" and ax.restfrq_key == "RESTWAV"
    assert ax.chan_kms == pytest.approx(C_KMS * 1e-10 / 6.5628e-7, rel=1e-6)


def test_no_spectral_axis():
    assert spectral_axis({"NAXIS": 2, "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN"}) is None
    assert find_spectral_axis({"NAXIS": 4, "CTYPE3": "STOKES", "CTYPE4": "FREQ"}) == 4
    assert rest_frequency({"RESTFRQ": "junk"}) == (math.nan, "") or math.isnan(rest_frequency({})[0])


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.hdr")))
def test_wcslib_spectral_headers(name):
    h = fits.Header.fromstring((CORPUS / name).read_text())
    ax = spectral_axis(h)
    assert ax.axis == 1 and ax.restfrq == pytest.approx(110201353000.0)
    # all six describe the same 13CO spectrum: about 0.73 km/s channels
    assert ax.chan_kms == pytest.approx(0.733, abs=0.005)
    assert all(math.isfinite(v) for v in ax.coverage[:2])


@settings(max_examples=80, deadline=None)
@given(dv=st.floats(0.1, 50.0), nu0=st.floats(1e9, 5e11), vsys=st.floats(-500, 3000))
def test_frequency_width_round_trip(dv, nu0, vsys):
    """A FREQ axis made from a radio-velocity channel width gives that width back."""
    crval = nu0 * (1 - vsys / C_KMS)
    h = cube(CTYPE3="FREQ", CRVAL3=crval, CDELT3=-dv / C_KMS * nu0, RESTFRQ=nu0)
    assert spectral_axis(h).chan_kms == pytest.approx(dv, rel=1e-7)


@settings(max_examples=40, deadline=None)
@given(nu0=st.floats(1e9, 5e11), offset=st.floats(-0.01, 0.01), dnu=st.floats(1e3, 1e8))
def test_channel_width_agrees_with_astropy_doppler(nu0, offset, dnu):
    """The closed forms are astropy's doppler_radio / doppler_optical differences."""
    import astropy.units as u

    crval = nu0 * (1 + offset)
    ax = spectral_axis(cube(CTYPE3="FREQ", CUNIT3="Hz", CRVAL3=crval, CDELT3=dnu, RESTFRQ=nu0))
    eq = u.doppler_radio(nu0 * u.Hz)
    want = abs((crval * u.Hz).to_value(u.km / u.s, equivalencies=eq)
               - ((crval + dnu) * u.Hz).to_value(u.km / u.s, equivalencies=eq))
    assert ax.chan_kms == pytest.approx(want, rel=1e-6)
    lam0 = 2.99792458e8 / nu0
    lam = lam0 * (1 + offset)
    dlam = lam0 * dnu / nu0
    ax = spectral_axis(cube(CTYPE3="WAVE", CUNIT3="m", CRVAL3=lam, CDELT3=dlam, RESTFRQ=nu0))
    eq = u.doppler_optical(lam0 * u.m)
    want = abs((lam * u.m).to_value(u.km / u.s, equivalencies=eq)
               - ((lam + dlam) * u.m).to_value(u.km / u.s, equivalencies=eq))
    assert ax.chan_kms == pytest.approx(want, rel=1e-6)


def test_energy_and_wavenumber_axes():
    import astropy.units as u

    nu0 = 110201353000.0
    e0 = (nu0 * u.Hz).to_value(u.eV, equivalencies=u.spectral())
    de = (269537.297 * u.Hz).to_value(u.eV, equivalencies=u.spectral())
    ax = spectral_axis(cube(CTYPE3="ENER", CUNIT3="eV", CRVAL3=e0, CDELT3=de, RESTFRQ=nu0))
    assert ax.kind == "frequency" and ax.chan_kms == pytest.approx(C_KMS * 269537.297 / nu0, rel=1e-6)


def test_nonlinear_axis_coverage_through_wcslib():
    # optical velocity sampled linearly in frequency (VOPT-F2W): coverage from WCSLIB
    h = cube(CTYPE3="VOPT-F2W", CUNIT3="km/s", CRVAL3=1000.0, CDELT3=5.0, CRPIX3=1.0, NAXIS3=11,
             RESTFRQ=HI)
    ax = spectral_axis(h)
    lo, hi, unit = ax.coverage
    assert unit == "km / s" and lo == pytest.approx(1000.0) and hi == pytest.approx(1050.0, abs=0.5)
    assert hi != pytest.approx(1050.0, abs=1e-6)   # not linear: WCSLIB did the work


def test_log_axis_that_overflows_leaves_the_coverage_unknown():
    """FREQ-LOG with CRVAL = -1 and CDELT = -2.5e4: exp() overflows; no exception, no range
    (found by tests/test_validate_fast.py's hostile headers, where it stopped the validator)."""
    import math

    from sfng.header import effective_header
    from sfng.spectral import spectral_axis

    eff = effective_header([("NAXIS", 3), ("NAXIS1", 8), ("NAXIS2", 8), ("NAXIS3", 16),
                            ("CTYPE3", "FREQ-LOG"), ("CRVAL3", -1.0), ("CDELT3", -2.5e4),
                            ("CRPIX3", 8.0)], {})
    ax = spectral_axis(eff)
    assert ax is not None
    lo, hi, _ = ax.coverage
    assert not (math.isfinite(lo) and math.isfinite(hi)) or lo <= hi
