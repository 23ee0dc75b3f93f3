"""ObsCore content rules: polarisation states from a STOKES axis, observed wavelengths of line
maps (rest vacuum wavelength times 1 + z), and obs_id's CFITSIO extended-name form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sfng.polarization import obscore_pol_states, stokes_states
from sfng.readme import render


def _hdr(**axes):
    h = {"NAXIS": 4, "NAXIS1": 8, "NAXIS2": 8, "NAXIS3": 5, "CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN",
         "CTYPE3": "FREQ"}
    h.update(axes)
    return h


@pytest.mark.parametrize("cards, states", [
    ({"CTYPE4": "STOKES", "NAXIS4": 1, "CRVAL4": 1.0, "CRPIX4": 1.0, "CDELT4": 1.0}, ["I"]),
    ({"CTYPE4": "STOKES", "NAXIS4": 4, "CRVAL4": 1.0, "CRPIX4": 1.0, "CDELT4": 1.0}, ["I", "Q", "U", "V"]),
    # circular correlations count down: CDELT -1
    ({"CTYPE4": "STOKES", "NAXIS4": 2, "CRVAL4": -1.0, "CRPIX4": 1.0, "CDELT4": -1.0}, ["RR", "LL"]),
    # CRPIX shifts the codes: pixel 1 is CRVAL + (1 - 2) * CDELT = 2 - 1 = 1 (I), pixel 2 is Q
    ({"CTYPE4": "STOKES", "NAXIS4": 2, "CRVAL4": 2.0, "CRPIX4": 2.0, "CDELT4": 1.0}, ["I", "Q"]),
    # CRPIX and CDELT default to 1
    ({"CTYPE4": "STOKES", "NAXIS4": 1, "CRVAL4": 4.0}, ["V"]),
    ({"CTYPE4": "STOKES", "NAXIS4": 2, "CRVAL4": -5.0, "CD4_4": -1.0}, ["XX", "YY"]),
    # a code that is no Stokes parameter, or not an integer: unknown
    ({"CTYPE4": "STOKES", "NAXIS4": 1, "CRVAL4": 0.0}, None),
    ({"CTYPE4": "STOKES", "NAXIS4": 1, "CRVAL4": 1.5}, None),
    ({"CTYPE4": "STOKES", "NAXIS4": 1}, None),
    # more pixels than there are states (a hostile NAXIS4 must not be stepped through): unknown
    ({"CTYPE4": "STOKES", "NAXIS4": 10**15, "CRVAL4": 1.0, "CDELT4": 0.0}, None),
    ({}, None),
])
def test_stokes_states(cards, states):
    assert stokes_states(_hdr(**cards)) == states


def test_stokes_axis_anywhere_and_obscore_order():
    h = {"NAXIS": 3, "NAXIS1": 2, "CTYPE1": "STOKES", "CRVAL1": 2.0, "CDELT1": -1.0,
         "CTYPE2": "RA---TAN", "CTYPE3": "DEC--TAN"}
    assert stokes_states(h) == ["Q", "I"]
    assert obscore_pol_states(["Q", "I"]) == "/I/Q/"
    assert obscore_pol_states(["V", "U", "Q", "I"]) == "/I/Q/U/V/"
    assert obscore_pol_states(["XX", "YY", "XY", "YX"]) == "/XX/XY/YX/YY/"
    assert obscore_pol_states([]) == "" and obscore_pol_states(None) == ""
    assert obscore_pol_states(["I", "POLF"]) == ""     # no ObsCore name: the list is unknown


def test_obs_id_forms():
    from sfng.obscore import obs_id

    assert obs_id("data/A/x.fits", "") == "x.fits"
    assert obs_id("data/A/x.fits", "[FLUX]") == "x.fits[FLUX]"
    assert obs_id("data/A/x.fits.gz", "[3]") == "x.fits.gz[3]"
    assert obs_id("data/A/x.fits.gz", "EMLINE_GFLUX#Ha-6564") == "x.fits.gz[EMLINE_GFLUX]#Ha-6564"
    assert obs_id("data/A/x.h5", "#8485-1901") == "x.h5#8485-1901"


def test_band_metres_against_astropy():
    import astropy.units as u

    from sfng.spectral import band_metres
    from sfng.tracers import vocabulary

    v = vocabulary()
    ha = v.tracers["HALPHA"]
    # an optical line map: rest vacuum wavelength x (1 + z); without z unknown, never the rest value
    lo, hi = band_metres(math.nan, math.nan, math.nan, "", ha, 0.0407)
    assert lo == hi == pytest.approx(0.6564632e-6 * 1.0407, rel=1e-12)
    assert band_metres(math.nan, math.nan, math.nan, "", ha) is None
    lo, hi = band_metres(math.nan, math.nan, math.nan, "", v.tracers["SII"], 0.01)
    assert (lo, hi) == pytest.approx((0.6718294e-6 * 1.01, 0.6732674e-6 * 1.01), rel=1e-12)
    # a band: its wavelength as it is (observed frame)
    assert band_metres(math.nan, math.nan, math.nan, "", v.tracers["MIPS24"], 0.5) == pytest.approx((24e-6, 24e-6))
    # a velocity axis through the radio convention at the rest frequency
    f0 = 115.2712018e9
    lo, hi = band_metres(f0, -50.0, 250.0, "km/s", None)
    want = (u.Quantity([-50.0, 250.0], u.km / u.s)).to_value(u.m, equivalencies=u.doppler_radio(f0 * u.Hz))
    assert (lo, hi) == pytest.approx((min(want), max(want)), rel=1e-12)
    # frequencies and wavelengths in any CUNIT spelling
    assert band_metres(math.nan, 1.42e9, 1.421e9, "HZ", None) == pytest.approx(
        tuple(sorted((u.Quantity([1.42e9, 1.421e9], u.Hz)).to_value(u.m, equivalencies=u.spectral()))), rel=1e-12)
    assert band_metres(math.nan, 3600.0, 10300.0, "Angstrom", None) == pytest.approx((3.6e-7, 1.03e-6))


def test_tracer_vocabulary_has_no_repeated_name():
    """A repeated YAML key silently drops the first entry's aliases."""
    from importlib import resources

    import yaml

    class Strict(yaml.SafeLoader):
        pass

    def no_repeats(loader, node, deep=False):
        keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        assert not repeated, f"tracers.yaml names these twice: {repeated}"
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_repeats)
    yaml.load((resources.files("sfng") / "data" / "tracers.yaml").read_text(encoding="utf-8"), Loader=Strict)


def _write(path, data, cards):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(data)
    hdu.header.update(cards)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path)


def test_obscore_rows_of_a_store(store, tmp_path):
    from astropy.table import Table

    from sfng.galaxies import Galaxy, read_galaxies, write_galaxies
    from sfng.index.build import build_index
    from sfng.obscore import write_obscore
    from sfng.query import find
    from sfng.select import Selection

    sky = {"CTYPE1": "RA---SIN", "CRVAL1": 24.17, "CDELT1": -1e-3, "CRPIX1": 4, "CTYPE2": "DEC--SIN",
           "CRVAL2": 15.78, "CDELT2": 1e-3, "CRPIX2": 4, "BMAJ": 2e-3, "BMIN": 2e-3, "BPA": 0.0,
           "OBJECT": "NGC 628"}
    d = store.root / "data" / "RADIO"
    (d).mkdir(parents=True)
    (d / "RADIO_README.txt").write_text(render({"MAPTYPE": "HI"}, "Radio.\n"), encoding="utf-8")
    spec = {"CTYPE3": "FREQ", "CRVAL3": 1.42e9, "CDELT3": 2e4, "CRPIX3": 1, "CUNIT3": "Hz",
            "RESTFRQ": 1.420405752e9, "BUNIT": "Jy/beam"}
    _write(d / "NGC_0628.stokesi.fits", np.zeros((1, 3, 8, 8), np.float32),
           {**sky, **spec, "CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 1.0, "CRPIX4": 1.0})
    _write(d / "NGC_0628.iquv.fits", np.zeros((4, 3, 8, 8), np.float32),
           {**sky, **spec, "CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 1.0, "CRPIX4": 1.0})
    _write(d / "NGC_0628.nostokes.fits", np.zeros((3, 8, 8), np.float32), {**sky, **spec})
    h = store.root / "data" / "HA"
    h.mkdir(parents=True)
    (h / "HA_README.txt").write_text(render({"MAPTYPE": "HALPHA"}, "H-alpha.\n"), encoding="utf-8")
    _write(h / "NGC_0628.ha.fits", np.zeros((8, 8), np.float32), {**sky, "BUNIT": "erg/s/cm2"})
    _write(h / "NGC_3184.ha.fits", np.zeros((8, 8), np.float32), {**sky, "OBJECT": "NGC 3184",
                                                                   "BUNIT": "erg/s/cm2"})
    table = read_galaxies(store)
    table.upsert(Galaxy(name="NGC 0628", aliases=("NGC 628",), ra=24.17, dec=15.78, redshift=0.002192))
    table.upsert(Galaxy(name="NGC 3184", ra=154.57, dec=41.42))     # no redshift known
    write_galaxies(table, store)
    build_index(store, validate=False)

    t = Table.read(write_obscore(find(Selection.build(), store=store), tmp_path / "o.vot"))
    by = {str(x): i for i, x in enumerate(t["obs_id"])}
    assert set(by) >= {"NGC_0628.stokesi.fits", "NGC_0628.iquv.fits", "NGC_0628.nostokes.fits",
                       "NGC_0628.ha.fits", "NGC_3184.ha.fits"}, sorted(by)
    row = t[by["NGC_0628.stokesi.fits"]]
    assert row["pol_states"] == "/I/" and row["pol_xel"] == 1
    row = t[by["NGC_0628.iquv.fits"]]
    assert row["pol_states"] == "/I/Q/U/V/" and row["pol_xel"] == 4
    row = t[by["NGC_0628.nostokes.fits"]]
    assert not str(row["pol_states"]).strip() and np.ma.is_masked(row["pol_xel"])    # -1: null in the VOTable
    # the HI cube's band is its frequency axis, in metres
    lo = 299792458.0 / (1.42e9 + 2 * 2e4)
    hi = 299792458.0 / 1.42e9
    assert (float(row["em_min"]), float(row["em_max"])) == pytest.approx((lo, hi), rel=1e-9)
    # H-alpha: redshifted by the galaxy table's NED redshift; unknown without one
    row = t[by["NGC_0628.ha.fits"]]
    assert float(row["em_min"]) == pytest.approx(0.6564632e-6 * 1.002192, rel=1e-9)
    assert float(row["em_max"]) == float(row["em_min"])
    row = t[by["NGC_3184.ha.fits"]]
    assert np.ma.is_masked(row["em_min"]) or math.isnan(float(row["em_min"]))
    field = {f.name: f for f in __import__("astropy.io.votable", fromlist=["parse"]).parse(
        str(tmp_path / "o.vot")).get_first_table().fields}
    assert field["pol_states"].utype == "obscore:Char.PolarizationAxis.stateList"


def test_manga_map_rows_use_the_survey_redshift():
    """A row whose survey recorded its redshift (extra z=..., MaNGA's NSA z) uses it, before the
    galaxy table's."""
    from sfng.obscore import _redshifts, _wavelengths
    from sfng.tracers import vocabulary

    rows = {"path": ["a", "b", "c"], "galaxy": ["X", "X", "X"],
            "extra": ["plateifu=8485-1901;z=0.0407", "z=0.0407", ""],
            "tracer": ["HALPHA", "DN4000", "STELLAR-VEL"],
            "restfrq": [math.nan] * 3, "spec_min": [math.nan] * 3, "spec_max": [math.nan] * 3,
            "spec_unit": [""] * 3}
    z = _redshifts(rows, None)
    assert z[0] == z[1] == 0.0407 and math.isnan(z[2])
    lo, hi = _wavelengths(rows, vocabulary(), z)
    assert lo[0] == pytest.approx(0.6564632e-6 * 1.0407)
    assert (lo[1], hi[1]) == pytest.approx((0.385e-6 * 1.0407, 0.41e-6 * 1.0407))
    assert math.isnan(lo[2])      # stellar kinematics: the fitted range is not in the index


def test_velocity_conventions_give_the_band_astropy_gives():
    import astropy.units as u

    from sfng.spectral import band_metres, velocity_convention

    f0 = 1.420405752e9
    v = [4000.0, 5000.0]                        # km/s: where the conventions differ by ~80 km/s
    for conv, eq in (("radio", u.doppler_radio), ("optical", u.doppler_optical),
                     ("relativistic", u.doppler_relativistic)):
        want = u.Quantity(v, u.km / u.s).to_value(u.m, equivalencies=eq(f0 * u.Hz))
        got = band_metres(f0, v[0], v[1], "km/s", None, convention=conv)
        assert got == pytest.approx((min(want), max(want)), rel=1e-12), conv
    # unknown: the band every convention allows, from the radio ends to the optical ones
    radio = u.Quantity(v, u.km / u.s).to_value(u.m, equivalencies=u.doppler_radio(f0 * u.Hz))
    optical = u.Quantity(v, u.km / u.s).to_value(u.m, equivalencies=u.doppler_optical(f0 * u.Hz))
    rel = u.Quantity(v, u.km / u.s).to_value(u.m, equivalencies=u.doppler_relativistic(f0 * u.Hz))
    lo, hi = band_metres(f0, v[0], v[1], "km/s", None, convention="")
    assert (lo, hi) == pytest.approx((min(*radio, *optical), max(*radio, *optical)), rel=1e-12)
    assert lo <= min(rel) and max(rel) <= hi
    assert velocity_convention("VRAD") == "radio" and velocity_convention("VOPT") == "optical"
    assert velocity_convention("FELO") == "optical" and velocity_convention("VELO") == ""
    assert velocity_convention("VELO", "vconv=optical") == "optical"
    assert velocity_convention("VELO", "vconv=unknown") == ""
    assert velocity_convention("FREQ") == ""


def test_obscore_band_of_velocity_cubes_follows_their_convention(store, tmp_path):
    """A VOPT cube, an AIPS VELO-HEL cube with VELREF = 1 (optical) and one with VELREF = 257
    (radio), and a VELO-HEL cube without VELREF (unknown: the band any convention allows), as
    the indexer records them."""
    import astropy.units as u
    from astropy.table import Table

    from sfng.index.build import build_index
    from sfng.obscore import write_obscore
    from sfng.query import find
    from sfng.select import Selection

    sky = {"CTYPE1": "RA---SIN", "CRVAL1": 24.17, "CDELT1": -1e-3, "CRPIX1": 4, "CTYPE2": "DEC--SIN",
           "CRVAL2": 15.78, "CDELT2": 1e-3, "CRPIX2": 4, "BMAJ": 2e-3, "BMIN": 2e-3, "BPA": 0.0,
           "OBJECT": "NGC 628", "BUNIT": "Jy/beam", "RESTFRQ": 1.420405752e9}
    vel = {"CRVAL3": 4.0e6, "CDELT3": 5.0e5, "CRPIX3": 1, "CUNIT3": "m/s"}        # 4000..5000 km/s
    d = store.root / "data" / "HIV"
    d.mkdir(parents=True)
    (d / "HIV_README.txt").write_text(render({"MAPTYPE": "HI"}, "HI.\n"), encoding="utf-8")
    cubes = {"vopt": ({"CTYPE3": "VOPT"}, u.doppler_optical),
             "aipsopt": ({"CTYPE3": "VELO-HEL", "VELREF": 1}, u.doppler_optical),
             "aipsrad": ({"CTYPE3": "VELO-HEL", "VELREF": 257}, u.doppler_radio),
             "aipsunk": ({"CTYPE3": "VELO-HEL"}, (u.doppler_radio, u.doppler_optical))}
    for name, (cards, _) in cubes.items():
        _write(d / f"NGC_0628.{name}.fits", np.zeros((3, 8, 8), np.float32), {**sky, **vel, **cards})
    build_index(store, validate=False)
    t = Table.read(write_obscore(find(Selection.build(), store=store), tmp_path / "o.vot"))
    by = {str(x): i for i, x in enumerate(t["obs_id"])}
    for name, (_, eq) in cubes.items():
        row = t[by[f"NGC_0628.{name}.fits"]]
        want = np.concatenate([u.Quantity([4000.0, 5000.0], u.km / u.s).to_value(
            u.m, equivalencies=e(1.420405752e9 * u.Hz)) for e in (eq if isinstance(eq, tuple) else (eq,))])
        assert (float(row["em_min"]), float(row["em_max"])) == pytest.approx((min(want), max(want)), rel=1e-9), name
