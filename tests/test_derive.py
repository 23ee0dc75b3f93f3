"""sfng derive: convolution against an analytic Gaussian, refusal, moments by hand, jy2k against
an independent formula, provenance round trip, --rerun bit-identical, index check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("radio_beam")
pytest.importorskip("scipy")

from _derive_store import gaussian2d, header, land, write


def _rows(store):
    from sfng.derive import rows_of
    from sfng.query import load_index, select
    from sfng.select import Selection

    return rows_of(select(load_index(store=store), Selection.build(trees=("data",))))


def _data(path):
    from astropy.io import fits

    with fits.open(path) as h:
        return h[0].data.astype(np.float64), h[0].header


@pytest.fixture
def image_store(store, tmp_path):
    """A 5" point source of 2 Jy (peak 2 Jy/beam) on 1" pixels, and a blanked corner."""
    img = 2.0 * gaussian2d(129, 129, 5.0)
    img[:10, :10] = np.nan
    write(tmp_path / "src" / "ngc628_co_img.fits", img, header(129, 129, bmaj=5.0))
    land(store, tmp_path / "src")
    return store


def test_point_source_becomes_target_beam(image_store):
    from sfng.derive import convolve, parse_target

    store = image_store
    rep = convolve(store, _rows(store), parse_target("15arcsec"), command="test")
    assert rep.ok, rep.as_dict()
    assert rep.landed == ["derived/TEST/ngc628_co_img_15as_conv.fits", "derived/TEST/ngc628_co_img_15as_cov.fits"]
    out, h = _data(Path(store.root) / rep.landed[0])
    assert h["BMAJ"] * 3600 == pytest.approx(15.0) and h["BMIN"] * 3600 == pytest.approx(15.0)
    assert h["BUNIT"] == "Jy/beam"
    # Jy/beam area scaling: a point source keeps its peak (2 Jy/beam) ...
    assert np.nanmax(out) == pytest.approx(2.0, rel=2e-3)
    # ... and takes the target beam's shape
    expect = 2.0 * gaussian2d(129, 129, 15.0)
    ok = np.isfinite(out)
    assert np.max(np.abs(out[ok] - expect[ok])) < 5e-3
    # flux conserved: sum * pixel area / beam area = 2 Jy, before and after
    area15 = math.pi / (4 * math.log(2)) * 15.0 ** 2
    assert np.nansum(out) / area15 == pytest.approx(2.0, rel=5e-3)
    # the NaN footprint is re-imposed
    assert np.isnan(out[:10, :10]).all() and np.isfinite(out[10:, 10:]).all()
    cov, _ch = _data(Path(store.root) / rep.landed[1])
    assert cov[64, 64] == pytest.approx(1.0) and cov[0, 0] < 0.5 and 0 <= cov.min() and cov.max() <= 1 + 1e-9


def test_products_are_valid_indexed_and_found(image_store):
    from sfng.derive import convolve, parse_target
    from sfng.query import load_index, select
    from sfng.select import Selection
    from sfng.validate import validate_file

    store = image_store
    rep = convolve(store, _rows(store), parse_target("15arcsec"), command="test")
    for p in rep.landed:
        r = validate_file(Path(store.root) / p, store)
        assert not r.errors, r.errors
    res = select(load_index(store=store), Selection.build(trees=("derived",)))
    paths = list(res.column("path"))
    assert sorted(paths) == sorted(rep.landed)
    i = paths.index(rep.landed[0])
    assert res.column("derived_from")[i] == "data/TEST/ngc628_co_img.fits"
    assert res.column("prov")[i] == "derived/TEST/ngc628_co_img_15as_conv.prov.json"
    assert float(res.column("bmaj")[i]) == pytest.approx(15.0)
    from sfng import manifest as mf

    listed = mf.read_manifest(Path(store.root) / "derived/TEST")
    assert "ngc628_co_img_15as_conv.prov.json" in listed and "ngc628_co_img_15as_conv.fits" in listed


def test_too_small_target_refused_per_file(image_store):
    from sfng.derive import convolve, parse_target

    rep = convolve(image_store, _rows(image_store), parse_target("3arcsec"))
    assert not rep.ok and not rep.landed
    assert "smaller than the native beam" in rep.failed[0][1]


def test_non_round_and_common_targets():
    from sfng.derive.beams import (
        common_beam,
        kernel_beam,
        parse_target,
        res_tag,
        target_beam,
    )

    t = parse_target(None, "15,10,30")
    b = target_beam(t)
    assert b == {"bmaj": 15.0, "bmin": 10.0, "bpa": 30.0} and res_tag(t, b) == "15x10as"
    c = common_beam([{"bmaj": 10, "bmin": 5, "bpa": 0}, {"bmaj": 10, "bmin": 5, "bpa": 90}])
    assert c["bmaj"] == pytest.approx(10, rel=1e-3) and c["bmin"] == pytest.approx(10, rel=1e-2)
    assert target_beam(parse_target("common", round_=True), common={"bmaj": 9, "bmin": 6, "bpa": 3}) == \
        {"bmaj": 9, "bmin": 9, "bpa": 0.0}
    k = kernel_beam({"bmaj": 5, "bmin": 5, "bpa": 0}, {"bmaj": 13, "bmin": 13, "bpa": 0})
    assert k["bmaj"] == pytest.approx(12.0)
    phys = target_beam(parse_target("500pc"), dist_mpc=10.0)
    assert phys["bmaj"] == pytest.approx(500 / 10e6 * 206264.806, rel=1e-6)
    with pytest.raises(Exception, match="distance"):
        target_beam(parse_target("500pc"), dist_mpc=float("nan"))


def test_provenance_round_trip_and_rerun(image_store, cli):
    from sfng.derive import convolve, parse_target, read_record, rerun
    from sfng.fsutil import sha256_file

    store = image_store
    rep = convolve(store, _rows(store), parse_target("12arcsec"), command="sfng derive convolve --to 12arcsec")
    prod = Path(store.root) / rep.landed[0]
    rec = read_record(prod)
    assert rec["inputs"] == [{"path": "data/TEST/ngc628_co_img.fits",
                              "sha256": sha256_file(Path(store.root) / "data/TEST/ngc628_co_img.fits")}]
    assert rec["kind"] == "convolve" and rec["command"] == "sfng derive convolve --to 12arcsec"
    assert rec["beams"]["input"] == {"bmaj": 5.0, "bmin": 5.0, "bpa": 0.0}
    assert rec["beams"]["target"]["bmaj"] == 12.0
    assert rec["kernel"]["beam"]["bmaj"] == pytest.approx(math.sqrt(144 - 25))
    assert rec["jy_beam_area_factor"] == pytest.approx(144 / 25)
    assert {"sfng", "numpy", "astropy", "radio_beam", "python"} <= set(rec["versions"])
    assert rec["outputs"][0]["sha256"] == sha256_file(prod)
    r = cli("--store", store.root, "provenance", prod, "--format", "json")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert next(iter(shown)) == "inputs" and shown == rec
    assert cli("--store", store.root, "provenance", prod).exit_code == 0
    again = rerun(store, rep.landed[0])
    assert again.identical and all(f["identical"] for f in again.files)
    r = cli("--store", store.root, "derive", "--rerun", rep.landed[0])
    assert r.exit_code == 0 and "bit-identical" in r.output


def test_cli_convolve_and_index_check(image_store, cli, monkeypatch):
    import os

    store = image_store
    r = cli("--store", store.root, "derive", "convolve", "--tree", "data", "--to", "10arcsec", "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output[r.output.index("{"):])
    assert got["landed"][0].endswith("_10as_conv.fits")
    r = cli("--store", store.root, "find", "--tree", "derived", "--format", "paths")
    assert "derived/TEST/ngc628_co_img_10as_conv.fits" in r.output
    # an input changes: index check flags the product
    from sfng.derive import check_products

    assert check_products(store) == []
    src = Path(store.root) / "data/TEST/ngc628_co_img.fits"
    os.chmod(src, 0o644)
    with open(src, "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x00\x00\x80\x3f\x00\x00\x80\x3f")
    bad = check_products(store)
    assert bad and bad[0]["input"] == "data/TEST/ngc628_co_img.fits"


# -- moments -------------------------------------------------------------------------------------

def _line_cube(nchan=40, ny=6, nx=7, v0=-50.0, dv=2.0, vc=3.0, sig=6.0, peak=5.0, noise=0.0, seed=1):
    v = v0 + dv * np.arange(nchan)
    line = peak * np.exp(-0.5 * ((v - vc) / sig) ** 2)
    cube = np.broadcast_to(line[:, None, None], (nchan, ny, nx)).copy()
    if noise:
        cube += np.random.default_rng(seed).normal(0, noise, cube.shape)
    return cube, v


@pytest.fixture
def cube_store(store, tmp_path):
    cube, v = _line_cube()
    cube[:, 0, 0] = np.nan
    write(tmp_path / "src" / "ngc628_co_cube.fits", cube, header(6, 7, bmaj=3.0, bunit="K", nchan=40, pix_arcsec=1.0))
    land(store, tmp_path / "src")
    return store, cube, v


def test_moments_by_hand(cube_store):
    from sfng.derive import moments

    store, cube, v = cube_store
    rep = moments(store, _rows(store), mask="none")
    assert rep.ok, rep.as_dict()
    names = [Path(p).name for p in rep.landed]
    assert "ngc628_co_cube_native_mom0.fits" in names and "ngc628_co_cube_native_emom2.fits" in names
    root = Path(store.root) / "derived/TEST"
    T = cube[:, 3, 3].astype(np.float32).astype(np.float64)
    dv = 2.0
    m0 = T.sum() * dv
    m1 = (T * v).sum() / T.sum()
    m2 = math.sqrt((T * (v - m1) ** 2).sum() / T.sum())
    d, h = _data(root / "ngc628_co_cube_native_mom0.fits")
    assert h["BUNIT"] == "K km/s" and d[3, 3] == pytest.approx(m0, rel=1e-5) and np.isnan(d[0, 0])
    d, h = _data(root / "ngc628_co_cube_native_mom1.fits")
    assert h["BUNIT"] == "km/s" and d[3, 3] == pytest.approx(m1, abs=1e-4)
    assert d[3, 3] == pytest.approx(3.0, abs=1e-3)
    d, _ = _data(root / "ngc628_co_cube_native_mom2.fits")
    assert d[3, 3] == pytest.approx(m2, rel=1e-5) and d[3, 3] == pytest.approx(6.0, rel=1e-3)
    d, h = _data(root / "ngc628_co_cube_native_tpeak.fits")
    assert h["BUNIT"] == "K" and d[3, 3] == pytest.approx(T.max(), rel=1e-6)
    # error maps by hand, with the noise the record says was used
    from sfng.derive import read_record

    rec = read_record(root / "ngc628_co_cube_native_mom0.fits")
    s = rec["noise"]["rms_k"]
    n = len(v)
    d, _ = _data(root / "ngc628_co_cube_native_emom0.fits")
    assert d[3, 3] == pytest.approx(s * dv * math.sqrt(n), rel=1e-5)
    d, _ = _data(root / "ngc628_co_cube_native_emom1.fits")
    assert d[3, 3] == pytest.approx(s * math.sqrt(((v - m1) ** 2).sum()) / T.sum(), rel=1e-4)
    d, _ = _data(root / "ngc628_co_cube_native_emom2.fits")
    e2 = s * math.sqrt((((v - m1) ** 2 - m2 ** 2) ** 2).sum()) / (2 * m2 * T.sum())
    assert d[3, 3] == pytest.approx(e2, rel=1e-4)
    assert rec["parameters"]["mask"] == "none"


def test_strict_mask_keeps_line_drops_noise(store, tmp_path):
    from sfng.derive import moments

    cube, _v = _line_cube(nchan=60, ny=20, nx=20, noise=0.2)
    cube[:, :, 10:] -= cube[:, :, 10:] - np.random.default_rng(2).normal(0, 0.2, cube[:, :, 10:].shape)
    write(tmp_path / "src" / "g_cube.fits", cube, header(20, 20, bmaj=3.0, bunit="K", nchan=60))
    land(store, tmp_path / "src")
    rep = moments(store, _rows(store), mask="strict", which=["0", "1"])
    assert rep.ok, rep.as_dict()
    rec = json.loads((Path(store.root) / "derived/TEST/g_cube_native_mom0.prov.json").read_text())
    assert rec["parameters"]["mask_params"] == {"hi": 4.0, "lo": 2.0, "nchan": 2, "grow_chan": 1}
    assert rec["noise"]["rms_k"] == pytest.approx(0.2, rel=0.15)
    m1, _ = _data(Path(store.root) / "derived/TEST/g_cube_native_mom1.fits")
    assert np.nanmedian(m1[:, :10]) == pytest.approx(3.0, abs=0.5)
    assert np.isnan(m1[:, 10:]).mean() > 0.9
    m0, _ = _data(Path(store.root) / "derived/TEST/g_cube_native_mom0.fits")
    true0 = 5.0 * 6.0 * math.sqrt(2 * math.pi)
    assert np.median(m0[:, :10]) == pytest.approx(true0, rel=0.1)


def test_moments_refuse_jy_beam(image_store):
    from sfng.derive import moments

    rep = moments(image_store, _rows(image_store))
    assert not rep.ok and "not a cube" in rep.failed[0][1]


# -- jy2k ----------------------------------------------------------------------------------------

def test_jy2k_against_independent_formula(store, tmp_path):
    from sfng.derive import jy2k, read_record

    img = np.full((16, 16), 0.5)
    write(tmp_path / "src" / "g_img.fits", img, header(16, 16, bmaj=6.0, bmin=4.0, bunit="Jy/beam", restfrq=1.420405752e9))
    land(store, tmp_path / "src")
    rep = jy2k(store, _rows(store))
    assert rep.ok, rep.as_dict()
    out, h = _data(Path(store.root) / rep.landed[0])
    expect = 1.222e6 * 0.5 / (1.420405752 ** 2 * 6.0 * 4.0)
    assert h["BUNIT"] == "K"
    assert out[5, 5] == pytest.approx(expect, rel=1e-3)
    rec = read_record(Path(store.root) / rep.landed[0])
    assert rec["factor_k_per_input_unit"] == pytest.approx(expect / 0.5, rel=1e-3)
    assert h["JY2K"] == pytest.approx(rec["factor_k_per_input_unit"])


def test_cube_convolution_channel_by_channel(store, tmp_path):
    from sfng.derive import convolve, parse_target

    planes = np.stack([gaussian2d(65, 65, 4.0) * (k + 1) for k in range(5)])
    planes[2, 5:8, 5:8] = np.nan
    write(tmp_path / "src" / "g_cube.fits", planes, header(65, 65, bmaj=4.0, bunit="K", nchan=5))
    land(store, tmp_path / "src")
    rep = convolve(store, _rows(store), parse_target("10arcsec"))
    assert rep.ok, rep.as_dict()
    out, h = _data(Path(store.root) / rep.landed[0])
    assert out.shape == (5, 65, 65) and h["CTYPE3"] == "VRAD"
    # K is not rescaled: the peak drops by the area ratio (4/10)^2
    for k in range(5):
        assert np.nanmax(out[k]) == pytest.approx((k + 1) * 0.16, rel=5e-3)
    assert np.isnan(out[2, 5:8, 5:8]).all() and np.isfinite(out[1]).all()
    cov, _ch = _data(Path(store.root) / rep.landed[1])
    assert cov.shape == (65, 65) and cov[6, 6] < 1.0


def test_index_check_flags_stale_products(image_store, cli):
    import os

    from sfng.derive import convolve, parse_target

    store = image_store
    convolve(store, _rows(store), parse_target("10arcsec"))
    src = Path(store.root) / "data/TEST/ngc628_co_img.fits"
    os.chmod(src, 0o644)
    with open(src, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x00\x80\x3f")
    r = cli("--store", store.root, "index", "check", "--format", "json")
    assert r.exit_code == 1
    got = json.loads(r.output)
    assert got["stale_products"][0]["product"] == "derived/TEST/ngc628_co_img_10as_conv.fits"


def test_non_gaussian_psf_refused(store, tmp_path):
    from sfng.derive import convolve, parse_target

    h = header(33, 33, bmaj=18.0, bunit="MJy/sr")
    h["PSFTYPE"] = "SPIRE250"
    write(tmp_path / "src" / "g_spire.fits", gaussian2d(33, 33, 18.0), h)
    land(store, tmp_path / "src")
    rep = convolve(store, _rows(store), parse_target("40arcsec"))
    assert not rep.landed and "PSFTYPE = SPIRE250" in rep.failed[0][1]


def test_demo_derive_step(tmp_path):
    from sfng.demo import STEPS, run_demo

    log = []
    steps = [s for s in STEPS if s[0] in ("init", "ingest", "validate", "index", "derive")]
    tree = run_demo(tmp_path / "demo", say=log.append, steps=steps)
    assert any("made by sfng derive" in line for line in log), log
    from sfng.query import load_index, select
    from sfng.select import Selection
    from sfng.store import Store

    res = select(load_index(store=Store.open(tree.store_dir)), Selection.build(trees=("derived",)))
    made = [p for p, d in zip(res.column("path"), res.column("derived_from")) if d]
    assert made and all(p.endswith(("_conv.fits", "_cov.fits")) for p in made)


# -- per-channel beams (a CASA multi-beam cube) ----------------------------------------------------

def test_multibeam_cube_each_channel_from_its_own_beam(store, tmp_path):
    """Channels observed with 3", 4" and 5" beams (a BEAMS table, CASAMBM = T, no BMAJ): each
    convolved from its own beam, every output channel a point source with the 8" target beam,
    its peak kept (Jy/beam), one beam in the output header."""
    from astropy.io import fits

    from sfng.demo.casa import beams_table
    from sfng.derive import convolve, parse_target

    majors = [3.0, 4.0, 5.0]
    n, pix = 97, 0.5
    cube = np.stack([1.0 * gaussian2d(n, n, m / pix) for m in majors])       # 1 Jy point source
    h = header(n, n, pix_arcsec=pix, bmaj=5.0, nchan=3)
    for k in ("BMAJ", "BMIN", "BPA"):
        del h[k]
    h["CASAMBM"] = (True, "CASA multiple BEAMS table present")
    src = tmp_path / "src"
    src.mkdir()
    fits.HDUList([fits.PrimaryHDU(cube.astype(np.float32), h),
                  beams_table(majors, majors, [0.0] * 3)]).writeto(src / "ngc628_co_mbcube.fits")
    land(store, src)
    rows = _rows(store)
    assert rows[0]["bmaj"] == pytest.approx(5.0, rel=1e-5)            # the index: the largest beam
    rep = convolve(store, rows, parse_target("8arcsec"), command="test")
    assert rep.ok, rep.as_dict()
    out, oh = _data(Path(store.root) / rep.landed[0])
    assert oh["BMAJ"] * 3600 == pytest.approx(8.0) and "CASAMBM" not in oh
    with fits.open(Path(store.root) / rep.landed[0]) as hdul:
        assert [x.name for x in hdul] == ["PRIMARY"]                   # no BEAMS table any more
    expect = gaussian2d(n, n, 8.0 / pix)
    for c in range(3):
        assert np.nanmax(out[c]) == pytest.approx(1.0, rel=3e-3), c
        assert np.max(np.abs(out[c] - expect)) < 5e-3, c
    from sfng.derive import read_record

    per = read_record(Path(store.root) / rep.landed[0])["per_channel_beams"]
    assert len(per["kernels"]) == 3 and per["flagged_planes"] == 0          # one kernel per channel beam
    # a target below the largest channel beam is refused for the file
    bad = convolve(store, _rows(store)[:1], parse_target("4arcsec"), command="test")
    assert not bad.ok and "smaller" in bad.failed[0][1]


def test_jy2k_of_a_multibeam_cube_says_convolve_first(store, tmp_path):
    from astropy.io import fits

    from sfng.demo.casa import beams_table
    from sfng.derive import jy2k

    h = header(33, 33, pix_arcsec=0.5, bmaj=5.0, nchan=2)
    for k in ("BMAJ", "BMIN", "BPA"):
        del h[k]
    h["CASAMBM"] = True
    src = tmp_path / "src"
    src.mkdir()
    fits.HDUList([fits.PrimaryHDU(np.ones((2, 33, 33), np.float32), h),
                  beams_table([3.0, 5.0], [3.0, 5.0], [0.0, 0.0])]).writeto(src / "ngc628_co_mb.fits")
    land(store, src)
    rep = jy2k(store, _rows(store))
    assert not rep.ok and "convolve to one beam first" in rep.failed[0][1]


def test_jobs_give_the_same_products_as_one_at_a_time(tmp_path):
    """Three images convolved with --jobs 2 and with one process: the same files, byte for byte
    (the products hold nothing time-dependent; the records hold the time, not compared)."""
    import hashlib

    from click.testing import CliRunner

    from sfng.cli import main
    from sfng.derive import convolve, parse_target
    from sfng.store import Store

    got = []
    for jobs in (1, 2):
        root = tmp_path / f"store{jobs}"
        assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
        st = Store.open(root)
        src = tmp_path / f"src{jobs}"
        for i in range(3):
            write(src / f"ngc628_co_img{i}.fits", (1 + i) * gaussian2d(65, 65, 5.0), header(65, 65, bmaj=5.0))
        land(st, src)
        calls = []
        rep = convolve(st, _rows(st), parse_target("9arcsec"), command="test", jobs=jobs,
                       progress=lambda d, t, item=None: calls.append((d, t)))
        assert rep.ok, rep.as_dict()
        assert sorted(calls) == [(1, 3), (2, 3), (3, 3)]
        got.append({p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in rep.landed})
    assert got[0] == got[1] and len(got[0]) == 6


# -- kernel files (non-Gaussian PSFs) ----------------------------------------------------------------

def _kernel_file(path, fwhm_arcsec, pix_arcsec, n=61, psf_from=None):
    from astropy.io import fits

    k = gaussian2d(n, n, fwhm_arcsec / pix_arcsec)
    h = fits.Header()
    h["CD1_1"], h["CD2_2"] = -pix_arcsec / 3600, pix_arcsec / 3600
    if psf_from:
        h["PSFFROM"] = psf_from
    fits.PrimaryHDU((k / k.sum()).astype(np.float32), h).writeto(path)
    return path


def test_kernel_file_takes_a_named_psf_to_the_target_gaussian(store, tmp_path, cli):
    """A point source seen with a 'TESTPSF' (here a 5" Gaussian, so the answer is known), the kernel
    a sqrt(12^2 - 5^2)" Gaussian on 0.5" pixels (the data's are 1"): a 12" Gaussian results,
    with the flux of a surface-brightness map kept; a kernel named for another PSF is refused."""
    from sfng.derive import convolve, parse_target, read_record
    from sfng.readme import render

    src = tmp_path / "src"
    img = gaussian2d(129, 129, 5.0)
    write(src / "ngc628_ir_img.fits", img, header(129, 129, bmaj=5.0, bunit="MJy/sr"))
    (src / "TEST_README.txt").write_text(render({"PSFTYPE": "TESTPSF"}, "IR maps.\n"), encoding="utf-8")
    land(store, src)
    rows = _rows(store)
    rep = convolve(store, rows, parse_target("12arcsec"), command="test")
    assert not rep.ok and "--kernel" in rep.failed[0][1]                 # no kernel: refused, says how
    k = _kernel_file(tmp_path / "Kernel_TESTPSF_to_Gauss_12.fits", math.sqrt(12 ** 2 - 5 ** 2), 0.5)
    rep = convolve(store, rows, parse_target("12arcsec"), command="test", kernel=k)
    assert rep.ok, rep.as_dict()
    out, h = _data(Path(store.root) / rep.landed[0])
    assert h["BMAJ"] * 3600 == pytest.approx(12.0) and h["KERNFILE"] == k.name
    expect = gaussian2d(129, 129, 12.0) * (5.0 / 12.0) ** 2               # flux kept: the peak falls
    assert np.max(np.abs(out - expect)) < 5e-3 * expect.max()          # as for Gaussian kernels: sampling
    assert np.nansum(out) == pytest.approx(img.sum(), rel=2e-3)
    rec = read_record(Path(store.root) / rep.landed[0])
    assert rec["kernel"]["type"] == "file" and len(rec["kernel"]["sha256"]) == 64
    assert rec["kernel"]["psf_from"] == "TESTPSF"
    # --rerun remakes it bit for bit (the kernel found by its path and checked by its SHA-256)
    r = cli("--store", store.root, "derive", "--rerun", rep.landed[0])
    assert r.exit_code == 0 and "bit-identical" in r.output, r.output
    other = _kernel_file(tmp_path / "Kernel_MIPS_24_to_Gauss_12.fits", 10.9, 0.5)
    bad = convolve(store, rows, parse_target("12arcsec"), command="test", kernel=other)
    assert not bad.ok and "give the kernel for TESTPSF" in bad.failed[0][1]
    # the PSF named in the kernel's *target* half never counts; nor does a prefix
    to_it = _kernel_file(tmp_path / "Kernel_LoRes_PACS_70_to_TESTPSF.fits", 10.9, 0.5)
    assert "starts from PACS_70" in convolve(store, rows, parse_target("12arcsec"), kernel=to_it).failed[0][1]
    longer = _kernel_file(tmp_path / "Kernel_HiRes_TESTPSF0_to_Gauss_12.fits", 10.9, 0.5)
    assert not convolve(store, rows, parse_target("12arcsec"), kernel=longer).ok
    # the Gaussian it ends at must be --to's
    r = convolve(store, rows, parse_target("20arcsec"), command="test", kernel=k)
    assert not r.ok and "not at --to 20" in r.failed[0][1]
    nameless = _kernel_file(tmp_path / "k0.fits", 10.9, 0.5)
    assert "does not say which PSF" in convolve(store, rows, parse_target("12arcsec"), kernel=nameless).failed[0][1]
    named = _kernel_file(tmp_path / "k.fits", 10.9, 0.5, psf_from="TEST PSF")
    assert convolve(store, rows, parse_target("12arcsec"), command="test", kernel=named, dry_run=True).planned


def test_kernel_is_read_once_and_checked_on_the_bytes_it_is_read_from(tmp_path):
    """kernel_at checks the checksum the kernel had when chosen against the bytes it reads (no
    second read between check and use); resampled about the centre pixel, odd-sided, unit sum."""
    from sfng.derive.kernels import kernel_at, kernel_header
    from sfng.errors import SfngError

    k = _kernel_file(tmp_path / "Kernel_TESTPSF_to_Gauss_12.fits", 6.0, 0.5, n=60)
    info = kernel_header(k)
    same = kernel_at(k, 0.5, info["sha256"])
    assert same.shape == (61, 61) and same.sum() == pytest.approx(1.0)       # even side padded odd
    half = kernel_at(k, 1.0, info["sha256"])                                  # 1" data pixels: half the side
    assert half.shape == (31, 31) and np.unravel_index(np.argmax(half), half.shape) == (15, 15)
    with pytest.raises(SfngError, match="changed since it was chosen"):
        kernel_at(k, 1.0, "0" * 64)


def test_multibeam_feasibility_checks_every_channel(store, tmp_path):
    """Channel beams 10"x5" at PA 0 and at PA 90: the target 10"x5" at PA 0 is the first channel's
    own beam (the index's, the largest) but no convolution takes the second channel to it. The
    check uses the channels' common beam, so the file is refused at planning, never half made."""
    from astropy.io import fits

    from sfng.demo.casa import beams_table
    from sfng.derive import convolve, parse_target

    n = 65
    h = header(n, n, pix_arcsec=0.5, bmaj=10.0, nchan=2)
    for k in ("BMAJ", "BMIN", "BPA"):
        del h[k]
    h["CASAMBM"] = True
    src = tmp_path / "src"
    src.mkdir()
    fits.HDUList([fits.PrimaryHDU(np.ones((2, n, n), np.float32), h),
                  beams_table([10.0, 10.0], [5.0, 5.0], [0.0, 90.0])]).writeto(src / "ngc628_co_mb2.fits")
    land(store, src)
    rows = _rows(store)
    rep = convolve(store, rows, parse_target(None, "10,5,0"), command="test")
    assert not rep.ok and not rep.landed and "smaller" in rep.failed[0][1]
    assert convolve(store, rows, parse_target("12arcsec"), command="test", dry_run=True).planned
