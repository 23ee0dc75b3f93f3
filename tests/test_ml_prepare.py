"""sfng.ml.prepare: flux-conserving rest-frame resampling, DONOTUSE masking, landing with provenance."""

import json

import numpy as np
import pytest

from sfng.ml import prepare as P


def _logwave(lo=3600.0, n=4000, dlnl=1e-4 * np.log(10)):
    return lo * np.exp(dlnl * np.arange(n))


def test_grid_defaults():
    g = P.Grid()
    c = g.centres()
    assert len(c) == 2040 and c[0] == pytest.approx(5000) and c[-1] == pytest.approx(8000)
    assert np.allclose(np.diff(np.log(c)), g.dlnl)


def test_resampling_conserves_line_flux_and_deredshifts():
    z = 0.04
    wave = _logwave()
    line = 6564.61 * (1 + z)
    sigma = 3.0
    f = 1.0 + 5.0 * np.exp(-0.5 * ((wave - line) / sigma) ** 2)
    flux = f[:, None]
    ivar = np.full_like(flux, 4.0)
    good = np.ones_like(flux, dtype=bool)
    g = P.Grid(6000.0, 7000.0, 300)
    fo, ivo, mo = P.resample(wave, flux, ivar, good, g, z)
    assert not mo.any()
    # the line lands at its rest wavelength
    assert g.centres()[np.argmax(fo[:, 0])] == pytest.approx(6564.61, abs=np.diff(g.edges()).max())
    # line flux (integral of flux density minus continuum) conserved: obs integral = rest integral
    obs = np.sum((f - 1.0) * np.diff(P.log_edges(wave)))
    rest = np.sum((fo[:, 0] - (1 + z)) * np.diff(g.edges()))
    assert rest == pytest.approx(obs, rel=1e-3)
    assert obs == pytest.approx(5.0 * sigma * np.sqrt(2 * np.pi), rel=1e-3)
    assert (ivo > 0).all()


def test_masked_input_and_coverage():
    wave = _logwave(5500.0, 500)
    flux = np.ones((wave.size, 2))
    ivar = np.ones_like(flux)
    good = np.ones_like(flux, dtype=bool)
    good[:, 1] = False                                 # a DONOTUSE spaxel
    g = P.Grid(5000.0, 6000.0, 100)
    fo, ivo, mo = P.resample(wave, flux, ivar, good, g, 0.0)
    assert (mo[:, 1] & 1).all() and (fo[:, 1] == 0).all() and (ivo[:, 1] == 0).all()
    blue = g.centres() < 5499
    assert (mo[blue, 0] & 2).all()                     # outside the input coverage
    inside = (g.centres() > 5510) & (g.centres() < 5500 * np.exp(499e-4 * np.log(10)) - 10)
    assert np.allclose(fo[inside, 0], 1.0) and not mo[inside, 0].any()


def test_prepare_lands_a_rest_frame_cube_with_provenance(store):
    from astropy.io import fits
    from astropy.table import Table

    from sfng.demo import manga as mangagen

    t = mangagen.DEMO_TARGETS[0]
    rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
    path = store.root / rel
    mangagen.write_cube(path, t, nwave=512)
    (store.root / "tables" / "MANGA").mkdir(parents=True, exist_ok=True)
    Table({"plateifu": [t.plateifu], "nsa_z": [t.z]}).write(store.root / "tables" / "MANGA" / "drpall-v3_1_1.fits")
    g = P.Grid(6000.0, 7000.0, 120)
    rep = P.prepare(store, [rel], g, reindex=False)
    assert rep.ok, rep.as_dict()
    assert len(rep.landed) == 1 and rep.landed[0].startswith("derived/MANGA/")
    out = store.root / rep.landed[0]
    with fits.open(out) as h:
        assert h["FLUX"].data.shape == (120, 34, 34)
        assert h["FLUX"].header["CTYPE3"] == "WAVE-LOG" and h["FLUX"].header["SPECSYS"] == "SOURCE"
        assert h["FLUX"].header["Z_USED"] == pytest.approx(t.z)
        wave = h["WAVE"].data["WAVE"]
        c = 17
        spec = h["FLUX"].data[:, c, c]
        assert wave[np.argmax(spec)] == pytest.approx(6564.61, abs=30)   # Ha at rest
        assert (h["MASK"].data[:, 0, 0] & 1).all()                        # DONOTUSE corner masked
    side = json.loads((out.parent / (out.name + ".prov.json")).read_text()) if (out.parent / (out.name + ".prov.json")).exists() \
        else json.loads(next(out.parent.glob(out.name.rsplit(".fits", 1)[0] + "*.json")).read_text())
    assert side["kind"] == "ml-prepare"
    assert side["inputs"][0]["path"] == rel and len(side["inputs"][0]["sha256"]) == 64
    assert side["parameters"]["redshift_source"] == "DRPall nsa_z"
    assert side["parameters"]["grid"]["channels"] == 120


def test_sparse_and_dense_resampling_agree():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(3)
    wave = _logwave(3600.0, 1500)
    flux = rng.normal(1.0, 0.2, (wave.size, 3, 4))
    ivar = rng.uniform(0.5, 2.0, flux.shape)
    good = rng.random(flux.shape) > 0.05
    g = P.Grid(4000.0, 7000.0, 700)
    a = P.resample(wave, flux, ivar, good, g, 0.03, sparse=True)
    b = P.resample(wave, flux, ivar, good, g, 0.03, sparse=False)
    for x, y in zip(a, b):
        assert x.shape == y.shape and np.allclose(x, y, rtol=1e-6, atol=0)
    assert np.array_equal(a[2], b[2])


def test_overlap_band_is_the_dense_overlap():
    rng = np.random.default_rng(5)
    for _ in range(5):
        a = np.sort(rng.uniform(0, 100, 60))
        b = np.sort(rng.uniform(-10, 110, 25))
        lo = np.maximum(b[:-1, None], a[None, :-1])
        hi = np.minimum(b[1:, None], a[None, 1:])
        dense = np.clip(hi - lo, 0.0, None) / np.diff(b)[:, None]      # every pair, by brute force
        assert np.allclose(P.overlap_matrix(a, b), dense, rtol=1e-12, atol=1e-15)


def test_prepare_mask_bits_beyond_donotuse(store, tmp_path):
    """``mask_bits`` names the MANGA_DRP3PIXMASK bits that reject data: LOWCOV set on one
    spaxel is masked only when named, and the bits used are recorded (header, provenance)."""
    from astropy.io import fits

    from sfng.demo import manga as mangagen
    from sfng.errors import SfngError
    from sfng.ml.maskbits import bitmask

    t = mangagen.DEMO_TARGETS[0]
    rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
    path = store.root / rel
    mangagen.write_cube(path, t, nwave=256)
    with fits.open(path, mode="update") as h:   # LOWCOV on spaxel (x=20, y=15), every channel
        h["MASK"].data[:, 15, 20] |= bitmask("MANGA_DRP3PIXMASK", "LOWCOV")
    g = P.Grid(6000.0, 7000.0, 60)
    made = {}
    for label, bits in (("plain", ("DONOTUSE",)), ("strict", ("DONOTUSE", "LOWCOV"))):
        work = tmp_path / label
        work.mkdir()
        P.product_for(store, rel, g, work, z=t.z, mask_bits=bits)   # made, not landed
        made[label] = next(work.glob("*_restcube.fits"))
    with fits.open(made["plain"]) as h:
        assert (h["IVAR"].data[:, 15, 20] > 0).any()
        assert h["FLUX"].header["MASKBITS"] == "DONOTUSE"
    with fits.open(made["strict"]) as h:
        assert (h["IVAR"].data[:, 15, 20] == 0).all() and (h["MASK"].data[:, 15, 20] != 0).all()
        assert (h["IVAR"].data[:, 17, 17] > 0).any()          # a spaxel without LOWCOV is kept
        assert h["FLUX"].header["MASKBITS"] == "DONOTUSE|LOWCOV"
    with fits.open(made["plain"]) as a, fits.open(made["strict"]) as b:
        same = np.ones(a["IVAR"].data.shape[1:], dtype=bool)
        same[15, 20] = False
        assert (a["IVAR"].data[:, same] == b["IVAR"].data[:, same]).all()
    with pytest.raises(SfngError, match="no bit named 'LOWCOVER'.*DEADFIBER"):
        P.prepare(store, [rel], g, reindex=False, mask_bits=("LOWCOVER",))
