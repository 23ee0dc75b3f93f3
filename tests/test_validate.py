"""Validation: every rule fails on a bad header and passes on a good one; bad inputs each get their
own report line and the run goes on; the WCSLIB corpus validates without a crash; CLI and JSON."""

import gzip
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sfng.demo.casa import write_cube
from sfng.readme import render
from sfng.validate import RULES, validate_file, validate_header, validate_paths
from sfng.validate.bunit import parse_bunit
from sfng.validate.rules import BY_ID, ERROR, WARNING, markdown_table

CORPUS = Path(__file__).parent / "data" / "corpus" / "wcs"
CO10 = 115.2712018e9


# ----------------------------------------------------------------------------- builders

def good_header(**changes):
    """A cube that breaks no rule: RA/DEC/VRAD, K, beam, RESTFRQ, SPECRES, CUNITn."""
    h = fits.Header()
    cards = dict(CTYPE1="RA---SIN", CRVAL1=24.17, CDELT1=-2 / 3600, CRPIX1=8.5, CUNIT1="deg",
                 CTYPE2="DEC--SIN", CRVAL2=15.78, CDELT2=2 / 3600, CRPIX2=8.5, CUNIT2="deg",
                 CTYPE3="VRAD", CRVAL3=657e3, CDELT3=2600.0, CRPIX3=1.0, CUNIT3="m/s",
                 BUNIT="K", BMAJ=13.4 / 3600, BMIN=13.4 / 3600, BPA=0.0, RESTFRQ=CO10, SPECRES=2600.0,
                 OBJECT="NGC628")
    for k, v in cards.items():
        h[k] = v
    for k, v in changes.items():
        if v is None:
            h.remove(k, ignore_missing=True)
        else:
            h[k] = v
    return h


def write(path, header=None, shape=(6, 16, 16), data=None, history=()):
    header = good_header() if header is None else header
    if data is None:
        rng = np.random.default_rng(1)
        data = rng.normal(0, 0.1, size=shape).astype(np.float32) if shape else None
    hdu = fits.PrimaryHDU(data)
    for card in header.cards:
        if card.keyword not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND") and not card.keyword.startswith("NAXIS"):
            hdu.header.append(card)
    for line in history:
        hdu.header.add_history(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, output_verify="silentfix")
    return path


def raw_fits(path, cards, data_bytes=b"", end=True):
    """A FITS file written card by card (for headers astropy would refuse to write)."""
    text = "".join(c.ljust(80)[:80] for c in cards) + ("END".ljust(80) if end else "")
    text += " " * (-len(text) % 2880)
    path.write_bytes(text.encode("latin-1") + data_bytes + b"\0" * (-len(data_bytes) % 2880))
    return path


def ids(report):
    return set(report.rule_ids())


def test_good_cube_has_no_problem(tmp_path):
    r = validate_file(write(tmp_path / "good.fits"))
    assert r.problems == [] and r.ok and r.hdu == 0


# ----------------------------------------------------------------------------- per rule

def _bintable(path, columns):
    cols = [fits.Column(name=n, format=f, array=a) for n, f, a in columns]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return path


def _header_case(**changes):
    def make(tmp_path, store):
        return validate_file(write(tmp_path / "f.fits", good_header(**changes)))
    return make


def _good(tmp_path, store):
    return validate_file(write(tmp_path / "g.fits"))


def _file_unreadable(tmp_path, store, monkeypatch=None):
    p = write(tmp_path / "f.fits")
    import sfng.validate.reader as reader

    real = reader.os.access
    monkeypatch.setattr(reader.os, "access", lambda q, mode: False if Path(q) == p else real(q, mode))
    return validate_file(p)


def _truncated(tmp_path, store):
    p = write(tmp_path / "f.fits")
    p.write_bytes(p.read_bytes()[:2880 + 1000])
    return validate_file(p)


def _no_end(tmp_path, store):
    return validate_file(raw_fits(tmp_path / "f.fits", ["SIMPLE  =                    T",
                                                        "BITPIX  =                  -32",
                                                        "NAXIS   =                    0"], end=False))


def _absurd(tmp_path, store):
    return validate_file(raw_fits(tmp_path / "f.fits", ["SIMPLE  =                    T",
                                                        "BITPIX  =                  -32",
                                                        "NAXIS   =                 5000"]))


def _illegal(tmp_path, store):
    p = write(tmp_path / "f.fits")
    raw = bytearray(p.read_bytes())
    i = raw.find(b"OBJECT  = ")
    raw[i:i + 8] = b"object  "   # lower-case keyword: illegal in FITS
    p.write_bytes(bytes(raw))
    return validate_file(p)


def _spectrum_image(tmp_path, store):
    h = fits.Header()
    for k, v in dict(CTYPE1="VRAD", CRVAL1=0.0, CDELT1=2600.0, CRPIX1=1.0, CUNIT1="m/s", BUNIT="K",
                     RESTFRQ=CO10, SPECRES=2600.0).items():
        h[k] = v
    return validate_file(write(tmp_path / "s.fits", h, shape=(64,)))


def _spectra_positions(good):
    def make(tmp_path, store):
        flux = np.zeros((3, 50), dtype=np.float32)
        cols = [("FLUX", "50E", flux)]
        if good:
            cols += [("RA", "D", np.array([1.0, 2, 3])), ("DEC", "D", np.array([1.0, 2, 3]))]
        return validate_file(_bintable(tmp_path / "t.fits", cols))
    return make


def _in_store(readme_text, header=None, survey="SURV"):
    def make(tmp_path, store):
        d = store.root / "data" / survey
        d.mkdir(parents=True, exist_ok=True)
        if readme_text is not None:
            (d / f"{survey}_README.txt").write_text(readme_text)
        return validate_file(write(d / f"{tmp_path.name}.fits", header), store=store)
    return make


def _deep(data_fn, **changes):
    def make(tmp_path, store):
        data = data_fn(np.random.default_rng(3).normal(0, 0.1, size=(6, 16, 16)).astype(np.float32))
        return validate_file(write(tmp_path / "d.fits", good_header(**changes), data=data), deep=True)
    return make


def _nan_plane(d):
    d[2] = np.nan
    return d


def _mostly_nan(d):
    d[:, :, 1:] = np.nan
    return d


GOOD_README = render({"BUNIT": "K"}, "A survey.\n")

#: rule id -> (bad case, good case); every rule of RULES must be here.
CASES = {
    "file-unreadable": (_file_unreadable, _good),
    "file-empty": (lambda t, s: validate_file(_touch(t / "e.fits")), _good),
    "not-fits": (lambda t, s: validate_file(_text(t / "n.fits", "this is not FITS\n" * 200)), _good),
    "header-no-end": (_no_end, _good),
    "file-truncated": (_truncated, _good),
    "naxis-absurd": (_absurd, _good),
    "no-data": (lambda t, s: validate_file(_primary_only(t / "h.fits")), _good),
    "header-illegal-cards": (_illegal, _good),
    "not-fits-format": (lambda t, s: validate_file(_text(t / "x.csv", "a,b\n1,2\n")), _good),
    "bunit-unparseable": (_header_case(BUNIT="furlongs"), _good),
    "bunit-not-sky": (_header_case(BUNIT="COUNTS"), _header_case(BUNIT="MJy/sr")),
    "wcs-unreadable": (_header_case(CUNIT3="M/S"), _good),
    "wcs-singular": (_header_case(CDELT3=0.0), _good),
    "wcs-celestial": (_header_case(CTYPE1="X", CTYPE2="Y", CUNIT1=None, CUNIT2=None), _good),
    "wcs-idl-axes": (_header_case(CTYPE1="VRAD", CUNIT1="m/s", CDELT1=2600.0, CRVAL1=657e3,
                                  CTYPE3="RA---SIN", CUNIT3="deg", CDELT3=-2 / 3600, CRVAL3=24.17), _good),
    "pixel-scale": (_header_case(CDELT1=None, CDELT2=None), _good),
    "pixel-nonsquare": (_header_case(CDELT2=3 / 3600), _good),
    "wcs-frame": (_header_case(CTYPE1="GLON-SIN", CTYPE2="GLAT-SIN", CRVAL1=138.6, CRVAL2=-45.7), _good),
    "wcs-frame-unknown": (_header_case(RADESYS="GAPPT"), _good),
    "bunit-missing": (_header_case(BUNIT=None), _good),
    "beam-missing": (_header_case(BMAJ=None, BMIN=None, BPA=None), _good),
    "beam-aips-history": (lambda t, s: validate_file(write(
        t / "a.fits", good_header(BMAJ=None, BMIN=None, BPA=None),
        history=["AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"])), _good),
    "beam-incomplete": (_header_case(BMIN=None, BPA=None), _good),
    "beam-implausible": (_header_case(BMAJ=15.0, BMIN=15.0), _good),
    "beam-table-unreadable": (lambda t, s: validate_file(write_cube(t / "c.fits", [1.0, 1.1], table=False)),
                              lambda t, s: validate_file(write_cube(t / "c.fits", [1.0, 1.1]))),
    "beam-table-mismatch": (lambda t, s: validate_file(write_cube(t / "c.fits", [1.0, 1.1],
                                                                  header_beam=(1.155, 0.88, 30.0))),
                            lambda t, s: validate_file(write_cube(t / "c.fits", [1.0, 1.1],
                                                                  header_beam=(1.1, 0.88, 30.0)))),
    "restfrq-missing": (_header_case(RESTFRQ=None), _good),
    "restfrq-keyword": (lambda t, s: validate_file(write(
        t / "r.fits", good_header(RESTFRQ=None, RESTFREQ=CO10))), _good),
    "restfrq-implausible": (_header_case(RESTFRQ=115.27), _good),
    "specres-missing": (_header_case(SPECRES=None), _good),
    "spectrum-as-image": (_spectrum_image, _good),
    "spectra-positions": (_spectra_positions(False), _spectra_positions(True)),
    "cunit-missing": (_header_case(CUNIT1=None, CUNIT3=None), _good),
    "spectral-type": (_header_case(CTYPE3="VELOCITY"), _good),
    "spectral-unit": (_header_case(CTYPE3="FREQ", CRVAL3=CO10, CDELT3=1e6, CUNIT3="m/s"), _good),
    "velocity-scale": (_header_case(CRVAL3=657.0, CDELT3=2.6), _good),
    "readme-missing": (_in_store(None), _in_store(GOOD_README)),
    "readme-invalid": (_in_store("BUNIT K\n---\n"), _in_store(GOOD_README)),
    "readme-keys": (_in_store(GOOD_README, good_header(BUNIT=None)), _in_store(GOOD_README)),
    "data-blank": (_deep(lambda d: d * np.nan), _deep(lambda d: d)),
    "data-mostly-blank": (_deep(_mostly_nan), _deep(lambda d: d)),
    "data-blank-planes": (_deep(_nan_plane), _deep(lambda d: d)),
    "repunc-mismatch": (_deep(lambda d: d, REPUNC=1.0), _deep(lambda d: d, REPUNC=0.1)),
}


def _touch(p):
    p.write_bytes(b"")
    return p


def _text(p, s):
    p.write_text(s)
    return p


def _primary_only(p):
    fits.PrimaryHDU().writeto(p)
    return p


def test_every_rule_has_a_case():
    assert set(CASES) == {r.id for r in RULES}


def test_rules_are_declared_well():
    assert len(BY_ID) == len(RULES)
    for r in RULES:
        assert r.level in ("error", "warning", "info") and r.message and r.hint and r.title
        if r.spec in ("1", "2", "3") and not r.deep and r.id not in ("pixel-nonsquare", "header-illegal-cards",
                                                                      "not-fits-format", "spectral-type",
                                                                      "wcs-frame", "wcs-frame-unknown"):
            assert r.level == ERROR, r.id
        if r.spec in ("4", "5", "6", "7", "8", "9"):
            assert r.level == WARNING, r.id


def _run(case, tmp_path, store, monkeypatch):
    if case is _file_unreadable:
        return case(tmp_path, store, monkeypatch)
    return case(tmp_path, store)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fails_on_bad_and_passes_on_good(rule_id, tmp_path, store, monkeypatch):
    bad, good = CASES[rule_id]
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    r_bad = _run(bad, tmp_path / "bad", store, monkeypatch)
    assert rule_id in ids(r_bad), (rule_id, r_bad.as_text())
    p = next(p for p in r_bad.problems if p.rule_id == rule_id)
    assert p.level == BY_ID[rule_id].level and p.message and "{" not in p.message
    monkeypatch.undo()
    r_good = _run(good, tmp_path / "good", store, monkeypatch)
    assert rule_id not in ids(r_good), (rule_id, r_good.as_text())


# ----------------------------------------------------------------------------- bad inputs

def test_bad_inputs_each_one_line_and_run_finishes(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    _touch(d / "a_empty.fits")
    _text(d / "b_text.fits", "<html>not fits</html>\n" * 300)
    good = write(d / "c_good.fits")
    trunc = write(d / "d_trunc.fits")
    trunc.write_bytes(trunc.read_bytes()[:3000])
    raw_fits(d / "e_noend.fits", ["SIMPLE  =                    T", "BITPIX  =                    8",
                                  "NAXIS   =                    0"], end=False)
    raw_fits(d / "f_naxis.fits", ["SIMPLE  =                    T", "BITPIX  =                  -32",
                                  "NAXIS   =                    2", "NAXIS1  =          99999999999",
                                  "NAXIS2  =          99999999999"])
    with open(good, "rb") as f, gzip.open(d / "g_good.fits.gz", "wb") as g:
        g.write(f.read())
    (d / "h_badgz.fits.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    reports = {r.path.name: r for r in validate_paths([d])}
    assert len(reports) == 8
    expect = {"a_empty.fits": "file-empty", "b_text.fits": "not-fits", "d_trunc.fits": "file-truncated",
              "e_noend.fits": "header-no-end", "f_naxis.fits": "naxis-absurd",
              "h_badgz.fits.gz": "file-unreadable"}
    for name, rule_id in expect.items():
        r = reports[name]
        assert r.rule_ids() == [rule_id], (name, r.as_text())
        assert not r.ok
    assert reports["c_good.fits"].problems == []
    assert reports["g_good.fits.gz"].problems == []   # gzip FITS is valid and read


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permission(tmp_path):
    p = write(tmp_path / "locked.fits")
    p.chmod(0)
    try:
        assert validate_file(p).rule_ids() == ["file-unreadable"]
    finally:
        p.chmod(0o644)


def test_missing_file_is_a_line_not_a_crash(tmp_path):
    assert validate_file(tmp_path / "nowhere.fits").rule_ids() == ["file-unreadable"]


# ----------------------------------------------------------------------------- corpus

@pytest.mark.parametrize("path", sorted(CORPUS.rglob("*.hdr")), ids=lambda p: p.name)
def test_wcslib_corpus_validates_without_crash(path):
    r = validate_file(path)
    assert r.hdu == 0
    assert r.ok, r.as_text()
    if "projections" in path.parts:
        # every WCSLIB projection is read by astropy: only the missing CUNITn is left to say
        assert ids(r) == {"cunit-missing"}
    else:
        assert "spectrum-as-image" in ids(r)


# ----------------------------------------------------------------------------- semantics

def test_effective_header_and_readme_provenance(store):
    d = store.root / "data" / "HERACLES"
    d.mkdir(parents=True)
    (d / "HERACLES_README.txt").write_text(render({"BUNIT": "K", "BMAJ": 3.7222e-3, "BMIN": 3.7222e-3,
                                                   "BPA": 0.0}, "HERACLES.\n"))
    p = write(d / "x.fits", good_header(BUNIT=None, BMAJ=None, BMIN=None, BPA=None))
    r = validate_file(p, store=store)
    assert r.ok and r.from_readme == ["BUNIT", "BMAJ", "BMIN", "BPA"]
    note = next(x for x in r.problems if x.rule_id == "readme-keys")
    assert note.level == "info" and note.keys_from_readme == ("BUNIT", "BMAJ", "BMIN", "BPA")
    assert r.display == "data/HERACLES/x.fits"
    # a README value that is wrong is reported as coming from the README
    (d / "HERACLES_README.txt").write_text(render({"BUNIT": "COUNTS"}, "x\n"))
    r = validate_file(p, store=store)
    bad = next(x for x in r.problems if x.rule_id == "bunit-not-sky")
    assert bad.keys_from_readme == ("BUNIT",)


def test_derived_tree_takes_physical_units(store):
    d = store.root / "derived" / "SFR"
    d.mkdir(parents=True)
    (d / "SFR_README.txt").write_text(render({"MAPTYPE": "SFR"}, "x\n"))
    h = good_header(BUNIT="Msun/yr/kpc2", CTYPE3=None, CRVAL3=None, CDELT3=None, CRPIX3=None, CUNIT3=None,
                    RESTFRQ=None, SPECRES=None)
    r = validate_file(write(d / "m.fits", h, shape=(16, 16)), store=store)
    assert r.ok and "bunit-not-sky" not in ids(r)
    assert "bunit-not-sky" in ids(validate_file(d / "m.fits", tree="data"))


def test_aips_habits_thing_cube(tmp_path):
    """THINGS-like: RA, DEC, VELO-HEL in m/s without CUNIT3, STOKES; beam only in HISTORY."""
    h = good_header(CTYPE3="VELO-HEL", CUNIT3=None, RESTFRQ=None, RESTFREQ=1.420405752e9, BMAJ=None,
                    BMIN=None, BPA=None, BUNIT="JY/BEAM")
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    r = validate_file(write(tmp_path / "t.fits", h, shape=(1, 6, 16, 16),
                            history=["AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"]))
    assert r.ok
    assert {"beam-aips-history", "restfrq-keyword", "cunit-missing"} <= ids(r)


def test_pc_and_cd_matrices(tmp_path):
    h = good_header(CDELT1=None, CDELT2=None)
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -2 / 3600, 0.0, 0.0, 2 / 3600
    h["CD3_3"] = 2600.0
    assert validate_file(write(tmp_path / "cd.fits", h)).problems == []
    h = good_header()
    h["PC1_1"], h["PC1_2"], h["PC2_1"], h["PC2_2"] = 1.0, 1.0, 1.0, 1.0   # rank 2: singular
    assert "wcs-singular" in ids(validate_file(write(tmp_path / "pc.fits", h)))


def test_extension_with_inherit(tmp_path):
    prim = fits.PrimaryHDU()
    prim.header["BUNIT"] = "K"
    prim.header["RESTFRQ"] = CO10
    img = fits.ImageHDU(np.zeros((6, 16, 16), dtype=np.float32))
    for card in good_header(BUNIT=None, RESTFRQ=None).cards:
        img.header[card.keyword] = card.value
    img.header["INHERIT"] = True
    fits.HDUList([prim, img]).writeto(tmp_path / "e.fits")
    r = validate_file(tmp_path / "e.fits")
    assert r.hdu == 1 and r.problems == []


def test_validate_header_api():
    r = validate_header(good_header(), shape=(16, 16, 6))
    assert r.problems == []
    assert "bunit-missing" in ids(validate_header(good_header(BUNIT=None), shape=(16, 16, 6)))


@pytest.mark.parametrize("text,sky", [
    ("K", True), ("K (Tmb)", True), ("JY/BEAM", True), ("Jy/beam", True), ("MJy/sr", True),
    ("JY/B*M/S", True), ("K KM/S", True), ("Jy/beam.km/s", True), ("JY/BEAM.KM/S", True),
    ("erg/s/cm2/A", True), ("W/m2", True), ("W/M**2", True), ("Jy/pixel", True), ("JY/PIX", True),
    ("erg/s/cm2/arcsec2", True), ("1E-17 erg/s/cm^2/Angstrom/spaxel", True), ("nanomaggies/pixel", True),
    ("COUNTS", False), ("counts/s", False), ("ADU", False), ("km/s", False), ("Msun/pc2", False),
])
def test_bunit_spellings(text, sky):
    info = parse_bunit(text)
    assert info.unit is not None and info.sky is sky


def test_left_to_right_units():
    import astropy.units as u

    assert parse_bunit("Jy/beam km/s").unit == u.Jy / u.beam * u.km / u.s
    assert parse_bunit("JY/B*M/S").unit == u.Jy / u.beam * u.m / u.s
    assert parse_bunit("erg/s/cm2/A").unit == u.erg / u.s / u.cm ** 2 / u.AA
    assert parse_bunit("furlongs").unit is None


def test_deep_stats(tmp_path):
    data = np.random.default_rng(5).normal(0, 0.25, size=(6, 32, 32)).astype(np.float32)
    r = validate_file(write(tmp_path / "d.fits", data=data), deep=True)
    assert math.isclose(r.stats["rms"], 0.25, rel_tol=0.1)
    assert r.stats["nan_fraction"] == 0 and r.stats["blank_planes"] == 0


# ----------------------------------------------------------------------------- store and CLI

def _fill(store):
    d = store.root / "data" / "SURV"
    d.mkdir(parents=True)
    (d / "SURV_README.txt").write_text(GOOD_README)
    write(d / "good.fits")
    write(d / "singular.fits", good_header(CDELT3=0.0))
    e = store.root / "derived" / "MOM"
    e.mkdir(parents=True)
    (e / "MOM_README.txt").write_text(GOOD_README)
    write(e / "mom0.fits", good_header(BUNIT="K km/s"), shape=(1, 16, 16))
    (d / "MANIFEST.sha256").write_text("# manifest\n")
    return d


def test_validate_paths_default_is_the_store(store):
    _fill(store)
    names = sorted(r.display for r in validate_paths(store=store))
    assert names == ["data/SURV/good.fits", "data/SURV/singular.fits", "derived/MOM/mom0.fits"]
    assert [r.display for r in validate_paths(store=store, tree="derived")] == ["derived/MOM/mom0.fits"]


def test_cli_validate(store, cli, monkeypatch):
    _fill(store)
    monkeypatch.chdir(store.root)
    res = cli("validate")
    assert res.exit_code == 1
    assert "wcs-singular" in res.output and "3 file(s): 2 meet the minimum specification" in res.output
    res = cli("validate", "--format", "json")
    doc = json.loads(res.output)
    assert doc["summary"]["with_errors"] == 1 and doc["summary"]["by_rule"]["wcs-singular"]["files"] == 1
    bad = next(f for f in doc["files"] if f["path"].endswith("singular.fits"))
    assert bad["ok"] is False and bad["problems"][0]["rule"] == "wcs-singular"
    res = cli("validate", "--survey", "SURV", "--skip", "wcs-singular")
    assert res.exit_code == 0 and "2 file(s)" in res.output
    assert cli("validate", "data/SURV/good.fits").exit_code == 0
    res = cli("validate", "--rules")
    assert all(r.id in res.output for r in RULES)
    res = cli("validate", "--only", "no-such-rule")
    assert res.exit_code == 1


def test_cli_validate_survey_must_be_a_survey_folder(store, cli, monkeypatch):
    _fill(store)
    monkeypatch.chdir(store.root)
    res = cli("validate", "--survey", "NOSUCH")
    assert res.exit_code == 1 and "no survey folder data/NOSUCH/" in res.output and "SURV" in res.output
    # A name climbing out of the store is refused, not followed to files outside it.
    res = cli("validate", "--survey", "../..", "--format", "json")
    assert res.exit_code == 1 and "unsafe survey name" in res.output and "files" not in res.output


def test_cli_validate_outside_a_store(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.fits")
    res = cli("validate", "x.fits")
    assert res.exit_code == 0 and "1 file(s): 1 meet" in res.output
    assert cli("validate").exit_code == 1   # no PATH and no store: a clear error


def test_docs_page_lists_the_rules():
    doc = (Path(__file__).parents[1] / "docs" / "validation.md").read_text()
    assert markdown_table() in doc


def test_tile_compressed_image_is_judged_as_an_image(tmp_path):
    data = np.random.default_rng(2).normal(0, 1, size=(6, 16, 16)).astype(np.float32)
    hdu = fits.CompImageHDU(data)
    for card in good_header().cards:
        hdu.header[card.keyword] = card.value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "c.fits.fz")
    r = validate_file(tmp_path / "c.fits.fz")
    assert r.hdu == 1 and r.problems == [], r.as_text()
    bad = fits.CompImageHDU(data)
    for card in good_header(CDELT3=0.0).cards:
        bad.header[card.keyword] = card.value
    fits.HDUList([fits.PrimaryHDU(), bad]).writeto(tmp_path / "b.fits.fz")
    assert "wcs-singular" in ids(validate_file(tmp_path / "b.fits.fz"))


def test_store_crawl_skips_quarantine_reports(store):
    q = store.root / "uncalibrated" / "PAWS"
    q.mkdir(parents=True)
    write(q / "x.fits")
    (q / "x.fits.validation.json").write_text("{}")
    assert [p.name for p in __import__("sfng.validate", fromlist=["store_files"]).store_files(
        store, tree="uncalibrated")] == ["x.fits"]
