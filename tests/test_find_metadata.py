"""`sfng find --format votable|fits` outputs carry each column's unit, description and IVOA UCD:
VOTable FIELDs (ucd, unit, DESCRIPTION), FITS TUNITn/TCOMMn/TUCDn (the keywords TOPCAT's STIL
writes and reads); checked with astropy, with astropy's UCD1+ vocabulary, and with STILTS when it
is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from _demo_store import demo_tree
from astropy.io import fits
from astropy.io.votable import parse

COLS = "galaxy,ra,dec,res,restfrq,dist,size,path"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    from click.testing import CliRunner

    from sfng.cli import main

    store = demo_tree(tmp_path_factory).store_dir
    out = tmp_path_factory.mktemp("findmeta")
    for fmt, name in (("votable", "f.vot"), ("fits", "f.fits")):
        r = CliRunner().invoke(main, ["--store", str(store), "find", "--survey", "THINGS", "--columns", COLS,
                                      "--format", fmt, "-o", str(out / name)])
        assert r.exit_code == 0, r.output
    return out


def test_every_ucd_is_in_the_ivoa_vocabulary():
    from astropy.io.votable.ucd import check_ucd

    from sfng.index.schema import FILES_COLUMNS, UCDS

    names = {c.name for c in FILES_COLUMNS} | {"dist"}
    for col, ucd in UCDS.items():
        assert col in names, col
        assert check_ucd(ucd, check_controlled_vocabulary=True), (col, ucd)


def test_votable_fields_carry_ucd_unit_and_description(outputs):
    from sfng.index.schema import FILES_COLUMNS, UCDS

    desc = {c.name: c.description for c in FILES_COLUMNS}
    fields = {f.name: f for f in parse(outputs / "f.vot").get_first_table().fields}
    assert list(fields) == COLS.split(",")
    assert fields["ra"].ucd == "pos.eq.ra;meta.main" and str(fields["ra"].unit) == "deg"
    assert str(fields["res"].unit) == "arcsec" and str(fields["dist"].unit) == "Mpc"
    for name, f in fields.items():
        assert f.description, name
        if name in UCDS:
            assert f.ucd == UCDS[name], name
        if name in desc:
            assert " ".join(f.description.split()) == " ".join(desc[name].split()), name


def test_fits_columns_carry_tcomm_and_tucd(outputs):
    from sfng.index.schema import FILES_COLUMNS, UCDS

    desc = {c.name: c.description for c in FILES_COLUMNS}
    h = fits.getheader(outputs / "f.fits", 1)
    for i, name in enumerate(COLS.split(","), 1):
        assert h[f"TTYPE{i}"] == name
        assert h.get(f"TUCD{i}") == UCDS.get(name), name
        if name in desc:
            assert h[f"TCOMM{i}"] == desc[name], name      # whole, on CONTINUE cards when long
    assert h["TUNIT2"] == "deg"


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS (Debian 'stilts') is not installed")
def test_topcats_reader_sees_them(outputs):
    for name in ("f.vot", "f.fits"):
        r = subprocess.run(["stilts", "tpipe", f"in={outputs / name}", "cmd=meta", "omode=out", "ofmt=csv"],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        rows = {ln.split(",")[1]: ln for ln in r.stdout.splitlines()[1:]}
        assert "pos.eq.ra;meta.main" in rows["ra"] and "deg" in rows["ra"]
        assert "right ascension (ICRS)" in rows["ra"]
        assert "phys.angSize;instr.beam" in rows["res"] and "arcsec" in rows["res"]
