"""sfng fix: each repair, HISTORY cards, data bytes untouched, atomic writes, backups, --land, CLI."""

import gzip
import hashlib
import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfng.errors import SfngError
from sfng.manifest import Entry, append, read_manifest
from sfng.readme import render
from sfng.validate import validate_file
from sfng.validate.fix import apply_fix, fix_paths, land, plan_fix

from test_validate import good_header, write

AIPS = "AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"


def data_bytes(path, hdu=0):
    """The raw data bytes of an HDU (as stored, before any scaling)."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with fits.open(path) as hdul:
        info = hdul.fileinfo(hdu)
        start, span = info["datLoc"], info["datSpan"]
    with opener(path, "rb") as f:
        f.read(start)
        return f.read(span)


def things_like(tmp_path, name="t.fits"):
    h = good_header(BMAJ=None, BMIN=None, BPA=None, RESTFRQ=None, RESTFREQ=1.420405752e9, CUNIT3=None,
                    CTYPE3="VELO-HEL", BUNIT="JY/BEAM")
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    return write(tmp_path / name, h, shape=(1, 6, 16, 16), history=[AIPS])


def test_aips_beam_restfreq_cunit_out(tmp_path):
    src = things_like(tmp_path)
    before = src.read_bytes()
    plan = plan_fix(src)
    keys = {(c.action, c.key) for c in plan.changes}
    assert keys == {("set", "BMAJ"), ("set", "BMIN"), ("set", "BPA"), ("rename", "RESTFREQ"), ("set", "CUNIT3")}
    res = apply_fix(plan, out_dir=tmp_path / "out")
    assert src.read_bytes() == before            # --out leaves the source alone
    out = res.written
    h = fits.getheader(out)
    assert h["BMAJ"] == pytest.approx(1.6489e-3) and h["BMIN"] == pytest.approx(1.5866e-3) and h["BPA"] == 30.58
    assert h["RESTFRQ"] == 1.420405752e9 and "RESTFREQ" not in h and h["CUNIT3"] == "m/s"
    hist = " ".join(str(x) for x in h["HISTORY"])
    assert "sfng fix" in hist and "AIPS CLEAN HISTORY card" in hist and "RESTFREQ renamed RESTFRQ" in hist
    assert data_bytes(out) == data_bytes(src)
    after = validate_file(out)
    assert after.ok and not {"beam-aips-history", "restfrq-keyword", "cunit-missing"} & set(after.rule_ids())
    assert res.after is not None and res.after.ok


def test_singular_stokes_cdelt_and_drop(tmp_path):
    h = good_header()
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 0.0, 1.0
    src = write(tmp_path / "paws.fits", h, shape=(1, 6, 16, 16))
    assert not validate_file(src).ok
    res = apply_fix(plan_fix(src), out_dir=tmp_path / "a")
    assert fits.getheader(res.written)["CDELT4"] == 1.0 and res.after.ok
    WCS(fits.getheader(res.written))   # astropy reads it now
    res = apply_fix(plan_fix(src, drop_stokes=True), out_dir=tmp_path / "b")
    with fits.open(res.written) as hdul:
        hd = hdul[0].header
        assert hd["NAXIS"] == 3 and "NAXIS4" not in hd and "CTYPE4" not in hd and "CDELT4" not in hd
        assert hdul[0].data.shape == (6, 16, 16)
        with fits.open(src) as orig:
            assert np.array_equal(hdul[0].data, orig[0].data[0])
    assert res.after.ok and data_bytes(res.written) == data_bytes(src)


def test_beam_incomplete_and_velocity_units(tmp_path):
    src = write(tmp_path / "v.fits", good_header(BMIN=None, BPA=None, CUNIT3="M/S", CRVAL3=657.0, CDELT3=2.6))
    plan = plan_fix(src)
    got = {c.key: c.new for c in plan.changes if c.action == "set"}
    assert got["BMIN"] == pytest.approx(13.4 / 3600) and got["BPA"] == 0.0
    assert got["CUNIT3"] == "km/s"          # the numbers are km/s: relabelled, not rescaled
    res = apply_fix(plan, out_dir=tmp_path / "o")
    assert res.after.ok and "velocity-scale" not in res.after.rule_ids()


def test_readme_keys_written_and_optional(store):
    d = store.root / "data" / "HALPHA"
    d.mkdir(parents=True)
    (d / "HALPHA_README.txt").write_text(render({"BUNIT": "erg/s/cm2/arcsec2", "BMAJ": 5e-4, "BMIN": 5e-4,
                                                 "BPA": 0.0}, "x\n"))
    src = write(d / "ha.fits", good_header(BUNIT=None, BMAJ=None, BMIN=None, BPA=None))
    assert {c.key for c in plan_fix(src, store).changes} == {"BUNIT", "BMAJ", "BMIN", "BPA"}
    assert plan_fix(src, store, readme_keys=False).changes == []
    res = apply_fix(plan_fix(src, store), in_place=True, store=store)
    h = fits.getheader(src)
    assert h["BUNIT"] == "erg/s/cm2/arcsec2" and h["BMAJ"] == 5e-4
    assert res.backup.is_file() and ".sfng/backup" in res.backup.as_posix()
    assert "data" not in res.backup.relative_to(store.root).parts[:1]
    assert validate_file(src, store=store).from_readme == []


def test_in_place_backup_manifest_and_gzip(store):
    d = store.root / "data" / "THINGS"
    d.mkdir(parents=True)
    plain = things_like(d, "t.fits")
    gz = d / "t2.fits.gz"
    with open(plain, "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    original = {p.name: p.read_bytes() for p in (plain, gz)}
    append(d, [Entry(p.name, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size) for p in (plain, gz)])
    results = list(fix_paths([plain, gz], store, in_place=True))
    assert all(r.after.ok and r.backup.read_bytes() == original[r.written.name] for r in results)
    assert open(gz, "rb").read(2) == b"\x1f\x8b"          # still gzip
    assert fits.getheader(gz)["BMAJ"] == pytest.approx(1.6489e-3)
    entries = read_manifest(d)
    for p in (plain, gz):
        assert entries[p.name].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert not [q for q in d.iterdir() if q.name.startswith(".sfng-tmp")]


def test_in_place_fix_keeps_the_manifest_galaxy(store):
    d = store.root / "data" / "THINGS"
    d.mkdir(parents=True)
    plain = things_like(d, "MESSIER_074.t.fits")
    append(d, [Entry(plain.name, hashlib.sha256(plain.read_bytes()).hexdigest(), plain.stat().st_size,
                     "2026-01-01T00:00:00Z", ("MESSIER 074b",), "MESSIER 074")])
    list(fix_paths([plain], store, in_place=True))
    entry = read_manifest(d)[plain.name]
    assert entry.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert entry.companions == ("MESSIER 074b",) and entry.landed == "2026-01-01T00:00:00Z"
    assert entry.galaxy == "MESSIER 074"


def test_dry_run_nothing_written_and_no_overwrite(tmp_path):
    src = things_like(tmp_path)
    before = src.read_bytes()
    (res,) = list(fix_paths([src], dry_run=True))
    assert res.written is None and res.plan.changes and src.read_bytes() == before
    out = tmp_path / "out"
    apply_fix(plan_fix(src), out_dir=out)
    with pytest.raises(SfngError, match="never overwrites"):
        apply_fix(plan_fix(src), out_dir=out)
    with pytest.raises(SfngError, match="--out"):
        apply_fix(plan_fix(src))


def test_nothing_to_fix_and_unfixable(tmp_path):
    good = write(tmp_path / "g.fits")
    res = apply_fix(plan_fix(good), out_dir=tmp_path / "o")
    assert res.written is None and res.message == "nothing to fix"
    empty = tmp_path / "e.fits"
    empty.write_bytes(b"")
    plan = plan_fix(empty)
    assert plan.changes == [] and [p.rule_id for p in plan.remaining] == ["file-empty"]


def test_land_from_uncalibrated(store):
    q = store.root / "uncalibrated" / "PAWS"
    q.mkdir(parents=True)
    (q / "PAWS_README.txt").write_text(render({"MAPTYPE": "CO(1-0)"}, "PAWS\n"))
    h = good_header()
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 0.0, 1.0
    src = write(q / "MESSIER_051a.paws.fits", h, shape=(1, 6, 16, 16))
    (q / "MESSIER_051a.paws.fits.validation.json").write_text("{}")
    append(q, [Entry(src.name, hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_size,
                     "2026-01-01T00:00:00Z", ("MESSIER 051b",), "MESSIER 051a")])
    (res,) = list(fix_paths([src], store, in_place=True, land_in_data=True))
    dest = store.root / "data" / "PAWS" / src.name
    assert res.landed == dest and dest.is_file() and not src.exists()
    assert not (q / "MESSIER_051a.paws.fits.validation.json").exists()
    assert (store.root / "data" / "PAWS" / "PAWS_README.txt").is_file()
    assert src.name in read_manifest(dest.parent) and src.name not in read_manifest(q)
    landed = read_manifest(dest.parent)[src.name]
    assert (landed.galaxy, landed.companions) == ("MESSIER 051a", ("MESSIER 051b",))
    assert validate_file(dest, store=store).ok and res.backup.is_file()


def test_land_refuses_what_still_fails(store):
    q = store.root / "uncalibrated" / "X"
    q.mkdir(parents=True)
    src = write(q / "bad.fits", good_header(BUNIT="COUNTS", BMIN=None))
    (res,) = list(fix_paths([src], store, in_place=True))
    with pytest.raises(SfngError, match="still fails"):
        land(res, store)
    assert src.exists()


def test_cli_fix(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = things_like(tmp_path)
    res = cli("fix", src)
    assert res.exit_code == 1 and "-o/--output DIR or --in-place" in res.output
    res = cli("fix", src, "--dry-run")
    assert res.exit_code == 0 and "BMAJ" in res.output and "would change" in res.output
    res = cli("fix", src, "--out", tmp_path / "o", "--format", "json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 0 and doc[0]["written"].endswith("o/t.fits") and doc[0]["after"]["ok"]
    res = cli("fix", src, "--in-place", "--backup-dir", tmp_path / "bk", "--only", "restfrq-keyword")
    assert res.exit_code == 0 and "RESTFREQ renamed RESTFRQ" in res.output and "BMAJ" not in res.output
    assert list((tmp_path / "bk").rglob("t.fits"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bmaj=st.floats(1e-4, 0.1), ratio=st.floats(0.1, 1.0), bpa=st.floats(-89.99, 89.99),
       extra_history=st.integers(0, 40))
def test_fix_round_trip_property(tmp_path_factory, bmaj, ratio, bpa, extra_history):
    """Whatever the beam and the header length, the fix writes the card's beam and keeps the data."""
    d = tmp_path_factory.mktemp("rt")
    card = f"AIPS   CLEAN BMAJ=  {bmaj:.4E} BMIN=  {bmaj * ratio:.4E} BPA=  {bpa:.2f}"
    src = write(d / "f.fits", good_header(BMAJ=None, BMIN=None, BPA=None), shape=(3, 8, 8),
                history=[f"filler {i}" for i in range(extra_history)] + [card])
    res = apply_fix(plan_fix(src), out_dir=d / "o")
    h = fits.getheader(res.written)
    assert h["BMAJ"] == pytest.approx(float(f"{bmaj:.4E}")) and h["BPA"] == pytest.approx(round(bpa, 2))
    assert data_bytes(res.written) == data_bytes(src) and res.after.ok


def test_degenerate_axis_with_zero_pc_row(tmp_path):
    h = good_header()
    h["CTYPE4"], h["CRVAL4"], h["CDELT4"], h["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    h["PC4_4"] = 0.0
    src = write(tmp_path / "pc.fits", h, shape=(1, 6, 16, 16))
    assert "wcs-singular" in validate_file(src).rule_ids()
    res = apply_fix(plan_fix(src), out_dir=tmp_path / "o")
    assert fits.getheader(res.written)["PC4_4"] == 1.0 and res.after.ok


def test_compressed_image_is_not_edited(tmp_path):
    data = np.zeros((6, 16, 16), dtype=np.float32)
    hdu = fits.CompImageHDU(data)
    for card in good_header(CDELT3=0.0).cards:
        hdu.header[card.keyword] = card.value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "c.fits.fz")
    plan = plan_fix(tmp_path / "c.fits.fz")
    assert plan.changes == [] and "funpack" in plan.note
    assert apply_fix(plan, out_dir=tmp_path / "o").written is None
