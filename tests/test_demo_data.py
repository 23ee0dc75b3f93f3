"""The demo's generated survey folders: deterministic, and carrying the real formats' habits."""

import hashlib

import pytest
from astropy.io import fits

from sfng import demo


@pytest.fixture(scope="module")
def surveys_dir(tmp_path_factory):
    return demo.make_surveys(tmp_path_factory.mktemp("demo")).surveys_dir


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_deterministic(surveys_dir, tmp_path):
    again = demo.make_surveys(tmp_path).surveys_dir
    assert digest(again) == digest(surveys_dir)


def test_published_names_and_readmes(surveys_dir):
    assert (surveys_dir / "THINGS" / "NGC_4826_NA_CUBE_THINGS.FITS").is_file()
    for s in demo.surveys():
        assert (surveys_dir / s.name / f"{s.name}_README.txt").is_file()


def test_interferometer_hi_cube(surveys_dir):
    h = fits.getheader(surveys_dir / "THINGS" / "NGC_4826_NA_CUBE_THINGS.FITS")
    assert h["NAXIS"] == 4 and h["CTYPE4"] == "STOKES" and h["BUNIT"] == "JY/BEAM"
    assert h["CTYPE3"] == "FREQ" and h["RESTFREQ"] == pytest.approx(1.420405752e9)
    g = demo.galaxy("NGC 4826")
    assert (h["CRVAL1"], h["CRVAL2"]) == (g.ra, g.dec)


def test_aips_history_beam_only(surveys_dir):
    h = fits.getheader(surveys_dir / "THINGS" / "NGC_2403_NA_CUBE_THINGS.FITS")
    assert "BMAJ" not in h and h["CTYPE3"] == "VELO-HEL"
    assert any("AIPS   CLEAN BMAJ=" in str(c) for c in h["HISTORY"])


def test_singular_stokes_cube(surveys_dir):
    h = fits.getheader(surveys_dir / "PAWS" / "paws_pdbi+30m_12co10_1as_cube.fits")
    assert h["CTYPE4"] == "STOKES" and h["CDELT4"] == 0.0


def test_readme_only_metadata(surveys_dir):
    from sfng.readme import read_readme

    h = fits.getheader(surveys_dir / "HERACLES" / "NGC0628_hera_co21.cube.fits")
    assert "BUNIT" not in h and "BMAJ" not in h and h["CUNIT3"] == "m/s"
    meta = read_readme(surveys_dir / "HERACLES" / "HERACLES_README.txt").metadata
    assert meta["BUNIT"] == "K" and meta["BMAJ"] == pytest.approx(13.4 / 3600, rel=1e-3)


def test_galaxy_truth():
    assert demo.galaxy("ngc 628").ned_name == "MESSIER 074"
    assert demo.galaxy("IC342").ned_name == "IC 0342"
    assert demo.galaxy("NGC 7793").ra > 359  # footprint straddles RA = 0/360
