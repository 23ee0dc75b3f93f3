"""Real stores, end to end: frames converted to ICRS, all-sky maps and poles, stubs without a size,
RESTFRQ = 0 -- through ``sfng index build``, ``find --cone/--near/--polygon``, ``info`` and the
ObsCore export."""

import json
import math

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from sfng.footprint import separation
from sfng.index import build as B
from sfng.index.io import read_index
from sfng.index.schema import FLAG_NO_CELESTIAL, FLAG_NO_SIZE, FLAG_WIDE

NGC628 = (24.173946, 15.783662)          # ICRS
NGC628_GAL = SkyCoord(*NGC628, unit="deg").galactic
NGC4258 = (184.739583, 47.303972)        # ICRS
NGC4258_B1950 = SkyCoord(*NGC4258, unit="deg").transform_to("fk4")  # B1950, obstime B1950


def _sparse(path, cards, bitpix=-32):
    """A FITS file with this header and a data hole of the right size (nothing is read)."""
    h = fits.Header()
    h["SIMPLE"], h["BITPIX"] = True, bitpix
    for k, v in cards.items():
        h[k] = v
    n = int(h.get("NAXIS", 0))
    size = abs(bitpix) // 8 * int(np.prod([h[f"NAXIS{i}"] for i in range(1, n + 1)])) if n else 0
    raw = h.tostring().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)
        f.truncate(len(raw) + -(-size // 2880) * 2880)
    return path


def _image(nx, ny, ctype, crval, cdelt, **more):
    c = {"NAXIS": 2, "NAXIS1": nx, "NAXIS2": ny, "CTYPE1": ctype[0], "CTYPE2": ctype[1],
         "CRVAL1": crval[0], "CRVAL2": crval[1], "CDELT1": cdelt[0], "CDELT2": cdelt[1],
         "CRPIX1": (nx + 1) / 2, "CRPIX2": (ny + 1) / 2, "CUNIT1": "deg", "CUNIT2": "deg",
         "BUNIT": "K", "BMAJ": 0.1, "BMIN": 0.1, "BPA": 0.0}
    c.update(more)
    return c


@pytest.fixture
def sky(store):
    d = store.root / "data"
    _sparse(d / "HI4PI" / "MESSIER_031.hi4pi_allsky.fits",
            _image(720, 360, ("GLON-CAR", "GLAT-CAR"), (0.0, 0.0), (-0.5, 0.5)))
    _sparse(d / "CGPS" / "NGC_0628.galactic.fits",
            _image(200, 200, ("GLON-TAN", "GLAT-TAN"), (NGC628_GAL.l.deg, NGC628_GAL.b.deg), (-1e-3, 1e-3)))
    _sparse(d / "VLA" / "NGC_4258.b1950.fits",
            _image(256, 256, ("RA---SIN", "DEC--SIN"), (NGC4258_B1950.ra.deg, NGC4258_B1950.dec.deg),
                   (-2e-4, 2e-4), EQUINOX=1950.0, EPOCH=1950.0))
    _sparse(d / "POLE" / "NGC_3172.pole.fits",
            _image(300, 300, ("RA---TAN", "DEC--TAN"), (0.0, 90.0), (-1e-3, 1e-3), RADESYS="ICRS"))
    _sparse(d / "STUB" / "NGC_0628.stub.fits",
            {"NAXIS": 0, "CTYPE1": "GLON-TAN", "CTYPE2": "GLAT-TAN", "CRVAL1": NGC628_GAL.l.deg,
             "CRVAL2": NGC628_GAL.b.deg, "CDELT1": -1e-3, "CDELT2": 1e-3, "CRPIX1": 1.0, "CRPIX2": 1.0})
    _sparse(d / "LINE" / "NGC_0628.restfrq0.fits",
            _image(50, 50, ("RA---TAN", "DEC--TAN"), NGC628, (-1e-3, 1e-3), RESTFRQ=0.0, RADESYS="ICRS"))
    _sparse(d / "LINE" / "NGC_0628.restfreq0.fits",
            _image(50, 50, ("RA---TAN", "DEC--TAN"), NGC628, (-1e-3, 1e-3), RESTFREQ=0.0, RADESYS="ICRS"))
    _sparse(d / "SUN" / "NGC_0628.solar.fits",
            _image(50, 50, ("HPLN-TAN", "HPLT-TAN"), (0.0, 0.0), (-1e-3, 1e-3)))
    from sfng.galaxies import Galaxy, merge_galaxies

    merge_galaxies(store, [Galaxy("NGC 628", ("M74",), *NGC628, 7.3, "TRGB"),
                           Galaxy("NGC 4258", ("M106",), *NGC4258, 7.6, "maser")])
    B.build_index(store)
    return store


def _rows(store):
    files, _, _ = read_index(store.index_path)
    out = {}
    for r in files:
        d = {c: (r[c].decode() if isinstance(r[c], bytes) else r[c]) for c in files.colnames}
        out[d["path"].split("/")[-1]] = d
    return out


def _find(cli, store, *args):
    r = cli("find", "--store", store.root, *args, "--format", "json", "--columns", "path")
    assert r.exit_code == 0, r.output
    return {x["path"].split("/")[-1] for x in json.loads(r.stdout)}


def test_rows_are_icrs_with_their_native_frame(sky):
    rows = _rows(sky)
    gal = rows["NGC_0628.galactic.fits"]
    assert gal["frame"] == "galactic" and gal["flag"] == 0
    assert separation(gal["ra"], gal["dec"], *NGC628) * 3600 < 0.1
    assert all(separation(a, d, *NGC628) < 0.15 for a, d in zip(gal["foot_ra"][:gal["foot_n"]],
                                                                 gal["foot_dec"][:gal["foot_n"]]))
    vla = rows["NGC_4258.b1950.fits"]
    assert vla["frame"] == "fk4 B1950"
    assert separation(vla["ra"], vla["dec"], *NGC4258) * 3600 < 0.1
    allsky = rows["MESSIER_031.hi4pi_allsky.fits"]
    assert allsky["flag"] & FLAG_WIDE and allsky["foot_n"] == 0 and allsky["fov"] == pytest.approx(21600)
    assert allsky["frame"] == "galactic"
    pole = rows["NGC_3172.pole.fits"]
    assert pole["flag"] == 0 and pole["foot_n"] == 4 and pole["dec"] == pytest.approx(90.0)
    stub = rows["NGC_0628.stub.fits"]
    assert stub["flag"] & FLAG_NO_SIZE and not stub["flag"] & FLAG_NO_CELESTIAL
    assert stub["foot_n"] == 0 and math.isnan(stub["fov"])
    assert separation(stub["ra"], stub["dec"], *NGC628) * 3600 < 0.1 and stub["frame"] == "galactic"
    for name in ("NGC_0628.restfrq0.fits", "NGC_0628.restfreq0.fits"):
        assert math.isnan(rows[name]["restfrq"]), name
    sun = rows["NGC_0628.solar.fits"]
    assert sun["flag"] & FLAG_NO_CELESTIAL and math.isnan(sun["ra"]) and "HPLN" in sun["error"]


def test_cone_near_and_polygon_find_the_right_files(sky, cli):
    cone = _find(cli, sky, "--cone", *map(str, NGC628), "1arcmin")
    assert cone == {"NGC_0628.galactic.fits", "MESSIER_031.hi4pi_allsky.fits",
                    "NGC_0628.restfrq0.fits", "NGC_0628.restfreq0.fits"}
    # the galactic numbers read as RA/Dec (what the index used to hold) find nothing of it
    raw = _find(cli, sky, "--cone", f"{NGC628_GAL.l.deg}", f"{NGC628_GAL.b.deg}", "1arcmin")
    assert raw == {"MESSIER_031.hi4pi_allsky.fits"}
    assert _find(cli, sky, "--near", "M106", "--radius", "0.5arcmin") == {
        "NGC_4258.b1950.fits", "MESSIER_031.hi4pi_allsky.fits"}
    # an all-sky map is found by a cone anywhere, the polar image by cones on every side of the pole
    for ra, dec in ((0.0, -89.0), (123.0, 5.0), (300.0, 45.0)):
        assert "MESSIER_031.hi4pi_allsky.fits" in _find(cli, sky, "--cone", str(ra), str(dec), "1arcsec")
    for ra in (0.0, 90.0, 200.0, 359.0):
        assert "NGC_3172.pole.fits" in _find(cli, sky, "--cone", str(ra), "89.95", "1arcsec")
    assert "NGC_3172.pole.fits" not in _find(cli, sky, "--cone", "0", "89.5", "1arcmin")
    # a polygon around the pole (its edges at Dec 89.9) holds the polar image; one far away does not
    around = "0,89.9 90,89.9 180,89.9 270,89.9"
    assert _find(cli, sky, "--polygon", around) == {"NGC_3172.pole.fits", "MESSIER_031.hi4pi_allsky.fits"}
    far = "10,-10 11,-10 11,-9 10,-9"
    assert _find(cli, sky, "--polygon", far) == {"MESSIER_031.hi4pi_allsky.fits"}


def test_info_and_obscore(sky, cli, tmp_path):
    r = cli("info", "NGC 628", "--store", sky.root, "--format", "json")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    covers = {f["path"].split("/")[-1]: f["covers"] for f in j["files"]}
    assert covers["NGC_0628.galactic.fits"] is True and covers["NGC_0628.stub.fits"] is None
    assert covers["NGC_0628.restfrq0.fits"] is True
    offset = {f["path"].split("/")[-1]: f["offset"] for f in j["files"]}
    assert offset["NGC_0628.galactic.fits"] < 0.01 and offset["NGC_0628.stub.fits"] < 0.01
    assert "MESSIER_031.hi4pi_allsky.fits" in {c["path"].split("/")[-1] for c in j["covering"]}

    from astropy.io.votable import parse_single_table

    out = tmp_path / "o.xml"
    r = cli("find", "--store", sky.root, "--survey", "HI4PI", "--survey", "CGPS", "--export-obscore", out)
    assert r.exit_code == 0, r.output
    t = parse_single_table(str(out)).to_table()
    by = {str(o): i for i, o in enumerate(t["obs_id"])}
    g = by["NGC_0628.galactic.fits"]
    assert separation(t["s_ra"][g], t["s_dec"][g], *NGC628) * 3600 < 0.1
    assert str(t["s_region"][g]).startswith("POLYGON ICRS")
    a = by["MESSIER_031.hi4pi_allsky.fits"]
    assert str(t["s_region"][a]).startswith("CIRCLE ICRS") and str(t["s_region"][a]).endswith(" 180.0000000")
    assert t["s_fov"][a] == pytest.approx(360.0)


def test_validation_of_the_frames(sky):
    from sfng.validate import validate_file

    gal = validate_file(sky.root / "data/CGPS/NGC_0628.galactic.fits", sky)
    note = next(p for p in gal.problems if p.rule_id == "wcs-frame")
    assert note.level == "info" and "galactic" in note.message and not gal.errors
    sun = validate_file(sky.root / "data/SUN/NGC_0628.solar.fits", sky)
    assert "wcs-frame-unknown" in sun.rule_ids()
