"""Observation times: DATE-OBS/MJD-OBS/DATE-END/MJD-END/EXPTIME (and the README) in the index,
in find (--date, --where mjd_obs), and in ObsCore t_min/t_max/t_exptime."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.time import Time

from sfng.errors import SfngError
from sfng.obstime import observation_time, parse_date
from sfng.readme import render
from sfng.select import Selection, parse_date_range


def mjd(iso, scale="utc"):
    return float(Time(iso, scale=scale).utc.mjd)


def test_header_forms():
    t = observation_time({"DATE-OBS": "2015-03-01T05:06:07.5"})
    assert t.mjd_obs == pytest.approx(mjd("2015-03-01T05:06:07.5"), abs=1e-9)
    assert t.date_obs == "2015-03-01T05:06:07.500" and math.isnan(t.mjd_end) and math.isnan(t.exptime)
    # the old DD/MM/YY form (the 1900s), with TIME-OBS
    t = observation_time({"DATE-OBS": "01/03/95"})
    assert t.date_obs == "1995-03-01T00:00:00.000"
    t = observation_time({"DATE-OBS": "01/03/95", "TIME-OBS": "12:30:00"})
    assert t.mjd_obs == pytest.approx(mjd("1995-03-01T12:30:00"))
    # MJD-OBS only
    t = observation_time({"MJD-OBS": 57000.25})
    assert t.mjd_obs == 57000.25 and t.date_obs == "2014-12-09T06:00:00.000"
    # both: MJD-OBS wins (the more precise); ends and exposure
    t = observation_time({"DATE-OBS": "2015-03-01", "MJD-OBS": 57082.5, "DATE-END": "2015-03-01T14:00:00",
                          "EXPTIME": 3600.0})
    assert t.mjd_obs == 57082.5 and t.mjd_end == pytest.approx(mjd("2015-03-01T14:00:00"))
    assert t.exptime == 3600.0
    assert observation_time({"MJD-END": 57083.0, "XPOSURE": 12}).mjd_end == 57083.0
    assert observation_time({"XPOSURE": 12}).exptime == 12
    # another time scale is converted to UTC
    t = observation_time({"DATE-OBS": "2015-03-01T00:00:00", "TIMESYS": "TT"})
    assert t.mjd_obs == pytest.approx(mjd("2015-03-01T00:00:00", "tt"), abs=1e-9)
    assert (57082 - t.mjd_obs) * 86400 == pytest.approx(67.184, abs=1e-3)   # TT - UTC in 2015
    # what cannot be read stays unknown, with a note; never raises
    t = observation_time({"DATE-OBS": "yesterday", "EXPTIME": "long"})
    assert math.isnan(t.mjd_obs) and t.date_obs == "" and "DATE-OBS" in t.note
    assert "TIMESYS" in observation_time({"DATE-OBS": "2015-01-01", "TIMESYS": "MARS"}).note


def test_date_comparisons():
    r = parse_date_range(">2015-01-01")
    assert r.lo == mjd("2015-01-01") and r.hi is None and not r.lo_incl
    r = parse_date_range("2015..2016")
    assert (r.lo, r.hi) == (mjd("2015-01-01"), mjd("2016-01-01"))
    r = parse_date_range("=2015-03-01")
    assert r.accepts(mjd("2015-03-01T23:00")) and not r.accepts(mjd("2015-03-02"))
    assert parse_date_range(">MJD57000").lo == 57000.0
    assert parse_date("2015-01-01T12:00") == mjd("2015-01-01T12:00:00")
    for bad in ("2015-01-01", ">soon", "2016..2015", ""):
        with pytest.raises(SfngError, match="--date"):
            parse_date_range(bad)
    sel = Selection.build(date=">2015-01-01")
    assert sel.to_args() == ["--date", ">2015-01-01"]


def _image(path, **cards):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32))
    hdu.header.update({"CTYPE1": "RA---TAN", "CRVAL1": 24.17, "CDELT1": -1e-3, "CRPIX1": 4,
                       "CTYPE2": "DEC--TAN", "CRVAL2": 15.78, "CDELT2": 1e-3, "CRPIX2": 4,
                       "BUNIT": "MJy/sr", "BMAJ": 2e-3, "BMIN": 2e-3, "BPA": 0.0, "OBJECT": "NGC 628",
                       "TELESCOP": "Spitzer", "INSTRUME": "MIPS", **cards})
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path)


@pytest.fixture
def timed_store(store):
    d = store.root / "data" / "SURVEYA"
    d.mkdir(parents=True)
    (d / "SURVEYA_README.txt").write_text(render({"MAPTYPE": "MIPS24"}, "Survey A.\n"), encoding="utf-8")
    _image(d / "NGC_0628.new.fits", **{"DATE-OBS": "2015-03-01T05:06:07.5", "EXPTIME": 120.0,
                                       "DATE-END": "2015-03-01T05:08:07.5"})
    _image(d / "NGC_0628.old.fits", **{"DATE-OBS": "01/03/95"})
    _image(d / "NGC_0628.mjd.fits", **{"MJD-OBS": 57000.0})
    _image(d / "NGC_0628.none.fits")
    # a survey whose README gives the date for its files
    b = store.root / "data" / "SURVEYB"
    b.mkdir(parents=True)
    (b / "SURVEYB_README.txt").write_text(render({"MAPTYPE": "MIPS24", "DATE-OBS": "2019-06-01"},
                                                 "Survey B.\n"), encoding="utf-8")
    _image(b / "NGC_0628.b.fits")
    from sfng.index.build import build_index

    build_index(store, validate=False)
    return store


def test_index_find_obscore(timed_store, cli, tmp_path):
    from sfng.index.io import read_index
    from sfng.query import find

    store = timed_store
    files, _, _ = read_index(store.index_path)
    by = {p.decode() if isinstance(p, bytes) else p: i for i, p in enumerate(files["path"])}
    row = files[by["data/SURVEYA/NGC_0628.new.fits"]]
    assert row["mjd_obs"] == pytest.approx(mjd("2015-03-01T05:06:07.5"))
    assert row["mjd_end"] == pytest.approx(mjd("2015-03-01T05:08:07.5"))
    assert row["exptime"] == 120.0 and files["exptime"].unit == "s" and files["mjd_obs"].unit == "d"
    assert files[by["data/SURVEYA/NGC_0628.old.fits"]]["mjd_obs"] == pytest.approx(mjd("1995-03-01"))
    assert files[by["data/SURVEYA/NGC_0628.mjd.fits"]]["mjd_obs"] == 57000.0
    assert math.isnan(files[by["data/SURVEYA/NGC_0628.none.fits"]]["mjd_obs"])
    b = files[by["data/SURVEYB/NGC_0628.b.fits"]]
    assert b["mjd_obs"] == pytest.approx(mjd("2019-06-01"))
    assert "DATE-OBS" in str(b["from_readme"].decode() if isinstance(b["from_readme"], bytes) else b["from_readme"])

    def paths(**kw):
        return sorted(p.rsplit("/", 1)[1] for p in find(Selection.build(**kw), store=store).paths())

    assert paths(date=">2015-01-01") == ["NGC_0628.b.fits", "NGC_0628.new.fits"]
    assert paths(date="<2000") == ["NGC_0628.old.fits"]
    assert paths(where="mjd_obs > 57000") == ["NGC_0628.b.fits", "NGC_0628.new.fits"]
    assert paths(where="exptime >= 60") == ["NGC_0628.new.fits"]
    r = cli("find", "--store", store.root, "--date>2015-01-01", "--format", "json")
    assert r.exit_code == 0, r.output
    assert "NGC_0628.new.fits" in r.output and "NGC_0628.old.fits" not in r.output

    from sfng.obscore import write_obscore
    from astropy.table import Table

    out = write_obscore(find(Selection.build(), store=store), tmp_path / "obscore.vot")
    t = Table.read(out)
    tp = {str(a).rsplit("/", 1)[-1]: i for i, a in enumerate(t["access_url"] if "access_url" in t.colnames else t["obs_id"])}
    k = [i for n, i in tp.items() if "new" in n][0]
    assert float(t["t_min"][k]) == pytest.approx(mjd("2015-03-01T05:06:07.5"))
    assert float(t["t_max"][k]) == pytest.approx(mjd("2015-03-01T05:08:07.5"))
    assert float(t["t_exptime"][k]) == 120.0


def test_the_fast_calendar_path_equals_astropy():
    """obstime converts by plain calendar arithmetic where no leap second can occur; it must give
    astropy.time's values exactly (to 1 microsecond), on random and edge dates."""
    import random

    from astropy.time import Time

    from sfng import obstime

    rng = random.Random(7)
    isos = [f"{rng.randint(1972, 2045):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.uniform(0, 59.999):06.3f}"
            for _ in range(3000)]
    isos += ["1972-01-01T00:00:00", "2016-12-31T23:59:59.5", "2015-06-30T12:00:00", "1999-12-31",
             "2000-02-29T00:00:00.001", "2038-01-19T03:14:07"]
    for iso in isos:
        want = float(Time(iso, format="isot" if "T" in iso else "iso", scale="utc").mjd)
        assert abs(obstime.to_mjd(iso) - want) * 86400 < 1e-6, iso
    for _ in range(3000):
        mjd = rng.uniform(41317, 70000)
        assert obstime.mjd_to_iso(mjd) == Time(mjd, format="mjd", scale="utc").isot, mjd
    for mjd in (57753.99999999, 57754.0 - 1e-9, 57204.5, 41317.0):   # leap-second days, edges
        assert obstime.mjd_to_iso(mjd) == Time(mjd, format="mjd", scale="utc").isot, mjd
