"""Per-channel beams: CASA/ALMA cubes with CASAMBM = T and a BEAMS table (issue 12).

The cubes are written as CASA's exportfits writes them (sfng.demo.casa); every beam value the
index and the validator take from a table is checked against radio-beam's
``Beams.from_fits_bintable`` on astropy's full read of the file, and every depth against
astropy's brightness-temperature equivalency.
"""

import gzip
import math

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from sfng import beamtable, fitsheader
from sfng.demo.casa import CO21, beams_table, write_cube
from sfng.index import build as B
from sfng.index.describe import Context, describe_file
from sfng.index.io import read_index
from sfng.index.schema import FLAG_BEAM_TABLE, FLAG_UNREADABLE
from sfng.validate import validate_file

radio_beam = pytest.importorskip("radio_beam")

#: Beams growing with wavelength across the band, as an ALMA cube's do: the largest major axis
#: is also the largest beam by area (radio-beam's largest_beam).
VARYING = [1.00, 1.04, 1.10, 1.21, 1.13, 1.07]


def _row(path):
    rows = describe_file(Context(root=str(path.parent), relpath=path.name, tree="data"))
    assert len(rows) == 1
    return rows[0]


def _validate(path):
    return validate_file(path, tree="data", readme_metadata={}, display=path.name)


def _radio_beams(path):
    """radio-beam's reading of the BEAMS table (astropy reads the whole file)."""
    with fits.open(path) as hl:
        return radio_beam.Beams.from_fits_bintable(hl["BEAMS"])


def _jyb_to_k(bmaj, bmin, freq):
    omega = 2 * math.pi * (bmaj * u.arcsec * bmin * u.arcsec) / (8 * math.log(2))
    return (1 * u.Jy / omega).to(u.K, equivalencies=u.brightness_temperature(freq * u.Hz)).value


# ------------------------------------------------------------------------------ the index row

def test_table_only_gives_resolution_and_depth(tmp_path):
    p = write_cube(tmp_path / "c.fits", VARYING)
    with fits.open(p) as hl:  # the file is what CASA writes: no beam in the header
        assert hl[0].header["CASAMBM"] is True and "BMAJ" not in hl[0].header
        assert hl["BEAMS"].header["NCHAN"] == len(VARYING) and hl["BEAMS"].header["NPOL"] == 1
    row = _row(p)
    beams = _radio_beams(p)
    i = int(np.argmax(beams.major.to_value(u.arcsec)))
    assert row["beam_src"] == "table" and row["flag"] == 0 and row["error"] == ""
    assert row["res"] == pytest.approx(beams.major[i].to_value(u.arcsec), rel=1e-7)
    assert row["bmaj"] == row["res"]
    assert row["bmin"] == pytest.approx(beams.minor[i].to_value(u.arcsec), rel=1e-7)
    assert row["bpa"] == pytest.approx(beams.pa[i].to_value(u.deg), rel=1e-7)
    assert row["bmaj_min"] == pytest.approx(beams.major.min().to_value(u.arcsec), rel=1e-7)
    assert row["bmaj_max"] == pytest.approx(beams.major.max().to_value(u.arcsec), rel=1e-7)
    # here the largest major axis is also radio-beam's largest beam (by area)
    big = beams.largest_beam()
    assert row["bmin"] == pytest.approx(big.minor.to_value(u.arcsec), rel=1e-7)
    # depth: REPUNC (Jy/beam) in K through the chosen beam, at the rest frequency
    k = _jyb_to_k(row["bmaj"], row["bmin"], CO21)
    assert row["rms_k"] == pytest.approx(2e-3 * k, rel=1e-9) and row["depth_src"] == "repunc"
    assert row["rms_k"] == pytest.approx(2e-3 * big.jtok(CO21 * u.Hz).value, rel=1e-6)
    assert row["depth_k"] == pytest.approx(row["rms_k"] * math.sqrt(row["chan_kms"]), rel=1e-9)
    r = _validate(p)
    assert r.ok and "beam-missing" not in r.rule_ids() and r.problems == [], r.as_text()


def test_largest_major_axis_not_largest_area(tmp_path):
    """The decision: res is the largest major axis (the worst resolution of any channel), and
    bmaj/bmin/bpa are that channel's beam, even where another channel's beam has more area."""
    majors, minors, pas = [1.0, 1.30, 1.25, 1.1], [0.9, 0.50, 1.00, 0.8], [10.0, 20.0, 30.0, 40.0]
    p = write_cube(tmp_path / "c.fits", majors, minors, pas)
    row = _row(p)
    beams = _radio_beams(p)
    assert beams.largest_beam().major.to_value(u.arcsec) == pytest.approx(1.25, rel=1e-6)  # by area
    assert row["res"] == row["bmaj"] == row["bmaj_max"] == pytest.approx(1.30, rel=1e-6)
    assert row["bmin"] == pytest.approx(0.50, rel=1e-6) and row["bpa"] == pytest.approx(20.0)
    assert row["bmaj_min"] == pytest.approx(1.0, rel=1e-6)
    assert row["rms_k"] == pytest.approx(2e-3 * _jyb_to_k(1.30, 0.50, CO21), rel=1e-6)


def test_header_beam_agreeing_within_one_percent(tmp_path):
    big = max(VARYING)
    p = write_cube(tmp_path / "c.fits", VARYING, header_beam=(big * 1.005, big * 0.8, 30.0))
    row = _row(p)
    assert row["beam_src"] == "table" and row["res"] == pytest.approx(big, rel=1e-6)
    r = _validate(p)
    assert r.problems == [], r.as_text()


def test_header_beam_five_percent_off_is_a_warning(tmp_path):
    big = max(VARYING)
    p = write_cube(tmp_path / "c.fits", VARYING, header_beam=(big * 1.05, big * 0.8, 30.0))
    row = _row(p)
    assert row["beam_src"] == "table" and row["res"] == pytest.approx(big, rel=1e-6)  # the table wins
    r = _validate(p)
    assert r.rule_ids() == ["beam-table-mismatch"] and r.ok
    msg = r.problems[0].message
    assert r.problems[0].level == "warning" and "5.0%" in msg and "channel 3" in msg, msg
    # minor axis alone off by 5% counts too
    q = write_cube(tmp_path / "d.fits", VARYING, header_beam=(big, big * 0.8 * 0.95, 30.0))
    assert _validate(q).rule_ids() == ["beam-table-mismatch"]


def test_two_polarizations_and_flagged_channels(tmp_path):
    """Statistics over every row (channels x polarizations); NaN rows (CASA) and float32 tiny
    rows (wsclean-based tools) are flagged channels, not beams."""
    tiny = float(np.finfo(np.float32).tiny)
    majors = [1.0, 1.1, math.nan, 1.2, 0.95, 1.15, tiny, 1.3]
    minors = [0.8, 0.9, math.nan, 1.0, 0.90, 1.00, tiny, 1.1]
    p = write_cube(tmp_path / "c.fits", majors, minors, npol=2)
    beams = _radio_beams(p)
    ok = beams.isfinite & (beams.major.to_value(u.arcsec) > 1e-6)
    row = _row(p)
    assert row["bmaj_max"] == row["res"] == pytest.approx(beams.major[ok].max().to_value(u.arcsec), rel=1e-7)
    assert row["bmaj_min"] == pytest.approx(beams.major[ok].min().to_value(u.arcsec), rel=1e-7)
    assert row["bmaj_min"] == pytest.approx(0.95, rel=1e-6) and row["flag"] == 0
    t = beamtable.beams_of(p)
    assert (t.nchan, t.npol, t.n_valid) == (4, 2, 6) and t.chan[t.largest_row] == 3 and t.pol[t.largest_row] == 1


def test_beams_table_without_casambm_and_gzip(tmp_path):
    p = write_cube(tmp_path / "c.fits", VARYING, casambm=False)
    assert _row(p)["beam_src"] == "table"
    with open(p, "rb") as f, gzip.open(tmp_path / "c.fits.gz", "wb") as g:
        g.write(f.read())
    row = _row(tmp_path / "c.fits.gz")
    assert row["beam_src"] == "table" and row["res"] == pytest.approx(max(VARYING), rel=1e-6)
    w = write_cube(tmp_path / "w.fits", VARYING, casambm=True)
    with open(w, "rb") as f, gzip.open(tmp_path / "w.fits.gz", "wb") as g:
        g.write(f.read())
    assert _validate(tmp_path / "w.fits.gz").problems == []


def test_units_from_tunit_and_casa_default(tmp_path):
    """Axes in degrees (AIPS' 'DEGREES'), or with no TUNITn (arcsec, CASA <= 4.7)."""
    deg = [m / 3600 for m in VARYING]
    p = write_cube(tmp_path / "d.fits", VARYING,
                   table=beams_table(deg, [m * 0.8 for m in deg], units=("DEGREES", "deg", "deg")))
    assert _row(p)["res"] == pytest.approx(max(VARYING), rel=1e-6)
    q = write_cube(tmp_path / "n.fits", VARYING, table=beams_table(VARYING, units=(None, None, None)))
    assert _row(q)["res"] == pytest.approx(max(VARYING), rel=1e-6)


def test_columns_read_in_place_agree_with_astropy(tmp_path):
    """The table is read with numpy from TFORMn: other column orders, double precision, a text
    column, TSCAL/TZERO and integer CHAN/POL of other widths read as astropy reads them."""
    n = 7
    rng = np.random.default_rng(3)
    major = rng.uniform(1.0, 2.0, n)
    cols = [fits.Column("NOTE", "8A", array=np.array(["x"] * n)),
            fits.Column("POL", "1I", array=np.zeros(n, "i2")),
            fits.Column("BPA", "1D", "deg", array=rng.uniform(-90, 90, n)),
            fits.Column("BMIN", "1E", "arcsec", array=(major * 0.7).astype("f4")),
            fits.Column("CHAN", "1K", array=np.arange(n, dtype="i8")),
            fits.Column("BMAJ", "1J", "marcsec", array=(major * 1000).astype("i4"), bscale=1.0,
                        bzero=0.5)]
    t = fits.BinTableHDU.from_columns(cols)
    t.header["EXTNAME"], t.header["NCHAN"], t.header["NPOL"] = "BEAMS", n, 1
    p = write_cube(tmp_path / "c.fits", list(major), table=t)
    got = beamtable.beams_of(p)
    with fits.open(p) as hl:
        d = hl["BEAMS"].data
        np.testing.assert_allclose(got.major, np.asarray(d["BMAJ"], float) / 1000, rtol=1e-12)
        np.testing.assert_allclose(got.minor, d["BMIN"], rtol=1e-7)
        np.testing.assert_allclose(got.pa, d["BPA"], rtol=1e-12)
        assert list(got.chan) == list(d["CHAN"]) and list(got.pol) == list(d["POL"])
    assert _row(p)["res"] == pytest.approx(max(got.major), rel=1e-7)


# ------------------------------------------------------------------------------ damaged tables

def _renamed(majors):
    hdu = beams_table(majors)
    hdu.columns.change_name("BMAJ", "MAJOR")
    return fits.BinTableHDU(hdu.data, hdu.header)


DAMAGED = {
    "wrong columns": (lambda: _renamed(VARYING), "no BMAJ column"),
    "rows short of NCHAN x NPOL": (lambda: beams_table(VARYING[:4], nchan=6), "NCHAN x NPOL"),
    "unit not an angle": (lambda: beams_table(VARYING, units=("Jy", "arcsec", "deg")), "not an angle"),
    "CHAN out of range": (lambda: _chan_out(), "CHAN runs"),
    "no usable beam": (lambda: beams_table([math.nan] * 6, [math.nan] * 6), "no usable beam"),
    "no table at all": (lambda: False, "no BEAMS table"),
}


def _chan_out():
    hdu = beams_table(VARYING)
    hdu.data["CHAN"][-1] = 99
    return hdu


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_table_is_a_message_not_a_traceback(case, tmp_path):
    make, words = DAMAGED[case]
    p = write_cube(tmp_path / "c.fits", VARYING, table=make())
    row = _row(p)
    assert row["flag"] == FLAG_BEAM_TABLE and words in row["error"], row["error"]
    assert math.isnan(row["bmaj"]) and math.isnan(row["res"]) and math.isnan(row["bmaj_max"])
    assert row["beam_src"] == "" and math.isnan(row["rms_k"])
    assert row["ra"] == pytest.approx(24.174) and row["product"] == "cube"  # the rest of the row stands
    r = _validate(p)
    assert r.rule_ids() == ["beam-table-unreadable"] and words in r.problems[0].message, r.as_text()


def test_damaged_table_with_header_beam_falls_back_to_it(tmp_path):
    p = write_cube(tmp_path / "c.fits", VARYING, header_beam=(1.2, 1.0, 5.0), table=_renamed(VARYING))
    row = _row(p)
    assert row["beam_src"] == "file" and row["res"] == pytest.approx(1.2) and row["flag"] == FLAG_BEAM_TABLE
    assert _validate(p).rule_ids() == ["beam-table-unreadable"]


def test_file_cut_inside_the_table(tmp_path):
    p = write_cube(tmp_path / "c.fits", VARYING)
    blocks = fitsheader.read_headers(p)
    p.write_bytes(p.read_bytes()[: blocks[1].data_offset + 40])
    row = _row(p)
    assert row["flag"] & FLAG_UNREADABLE and "truncated" in row["error"] and math.isnan(row["res"])
    assert _validate(p).rule_ids() == ["file-truncated"]
    # handed blocks read before the cut: the table read itself reports it
    with pytest.raises(beamtable.BeamTableError, match="truncated"):
        beamtable.beams_of(p, blocks)


# ------------------------------------------------------------------------------ cost

def test_ordinary_files_read_no_table_and_casa_files_read_it_once(tmp_path, monkeypatch):
    from sfng.store import Store, init_store

    init_store(tmp_path / "s", name="t")
    store = Store.open(tmp_path / "s")
    d = store.root / "data" / "ALMA"
    d.mkdir(parents=True)
    (d / "ALMA_README.txt").write_text("MAPTYPE = CO(2-1)\n---\nALMA cubes\n")
    write_cube(d / "NGC_0628.casa_cube.fits", VARYING)
    write_cube(d / "NGC_0628.plain_cube.fits", VARYING, header_beam=(1.5, 1.2, 0.0), table=False,
               casambm=False)
    calls = []
    real = fitsheader.read_data
    monkeypatch.setattr(fitsheader, "read_data", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    beamtable._RECENT.clear()
    rep = B.build_index(store, full=True)
    assert rep.flagged == 0, rep.problems
    assert [str(c).rsplit("/", 1)[-1] for c in calls] == ["NGC_0628.casa_cube.fits"]
    files, _, _ = read_index(store.index_path)
    by = {p.rsplit("/", 1)[-1]: i for i, p in enumerate(files["path"])}
    casa, plain = by["NGC_0628.casa_cube.fits"], by["NGC_0628.plain_cube.fits"]
    assert files["beam_src"][casa] == "table" and files["beam_src"][plain] == "file"
    beams = _radio_beams(d / "NGC_0628.casa_cube.fits")
    assert files["res"][casa] == pytest.approx(beams.major.max().to_value(u.arcsec), rel=1e-6)
    assert files["bmaj_min"][casa] == pytest.approx(beams.major.min().to_value(u.arcsec), rel=1e-6)
    assert files["bmaj_max"][plain] == files["bmaj_min"][plain] == files["res"][plain] == pytest.approx(1.5)
    assert files["valid"][casa] and files["n_problems"][casa] == 1  # readme-keys (info): MAPTYPE
    k = _jyb_to_k(files["bmaj"][casa], files["bmin"][casa], CO21)
    assert files["rms_k"][casa] == pytest.approx(2e-3 * k, rel=1e-6)
    # the new columns are queryable, in their unit
    from sfng.query import find
    from sfng.select import Selection

    got = find(Selection.build(where="bmaj_min < 1.2arcsec"), store=store).paths()
    assert [p.rsplit("/", 1)[-1] for p in got] == ["NGC_0628.casa_cube.fits"]
    got = find(Selection.build(res="<1.3"), store=store).paths()
    assert [p.rsplit("/", 1)[-1] for p in got] == ["NGC_0628.casa_cube.fits"]
