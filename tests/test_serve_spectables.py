"""Spectrum ids for the rows of a table of spectra (the specification's item 8: spectra grouped
by galaxy in FITS BINTABLEs), served beside cube spaxels.

The tables are written with real layouts: a galaxy's spectra one per row (vector FLUX, IVAR,
MASK and WAVE columns, RA/DEC per row, ICRS); an SDSS ``spec-PLATE-MJD-FIBER`` file (a COADD
HDU with one row per pixel: flux, loglam, ivar, and_mask...; PLUG_RA/PLUG_DEC in the primary
header); variable-length rows with their own wavelengths and errors, placed in FK4 B1950; and HI
spectra on a frequency column with RESTFRQ.  Every value is checked against the table read back
with astropy, and positions against astropy.coordinates."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from astropy.io import fits  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

N628 = 24.173946, 15.783662       # NGC 628 (ICRS, deg)
NWAVE = 120
RNG = np.random.default_rng(7)


def _galaxy_table(path: Path) -> dict:
    """NGC 628: five aperture spectra, one per row, on one shared wavelength vector."""
    n = 5
    wave = 3700.0 * 10 ** (1e-4 * np.arange(NWAVE))
    flux = RNG.normal(10, 1, (n, NWAVE)).astype(np.float32)
    ivar = RNG.uniform(0.5, 2, (n, NWAVE)).astype(np.float32)
    mask = np.zeros((n, NWAVE), np.int32)
    mask[2, 10:20] = 1024
    ra = N628[0] + np.array([0.0, 10, -10, 20, 0]) / 3600
    dec = N628[1] + np.array([0.0, 5, -5, 0, 30]) / 3600
    cols = [fits.Column("NAME", "16A", array=[f"reg{i}" for i in range(n)]),
            fits.Column("RA", "D", unit="deg", array=ra), fits.Column("DEC", "D", unit="deg", array=dec),
            fits.Column("WAVE", f"{NWAVE}D", unit="Angstrom", array=np.tile(wave, (n, 1))),
            fits.Column("FLUX", f"{NWAVE}E", unit="1e-17 erg / (s cm2 Angstrom)", array=flux),
            fits.Column("IVAR", f"{NWAVE}E", unit="1e+34 (s2 cm4 Angstrom2) / erg2", array=ivar),
            fits.Column("MASK", f"{NWAVE}J", array=mask)]
    prim = fits.PrimaryHDU()
    prim.header["OBJECT"] = "NGC 628"
    prim.header["TELESCOP"] = "CAHA 3.5m"
    t = fits.BinTableHDU.from_columns(cols, name="SPECTRA")
    t.header["RADESYS"] = "ICRS"
    fits.HDUList([prim, t]).writeto(path)
    return {"wave": wave, "flux": flux, "ivar": ivar, "mask": mask, "ra": ra, "dec": dec}


def _sdss_spec(path: Path) -> dict:
    """An SDSS spec file: COADD with one row per pixel (the DR8+ data model's columns)."""
    loglam = (np.log10(3800.0) + 1e-4 * np.arange(NWAVE)).astype(np.float32)
    flux = RNG.normal(5, 1, NWAVE).astype(np.float32)
    ivar = RNG.uniform(0.5, 2, NWAVE).astype(np.float32)
    prim = fits.PrimaryHDU()
    prim.header.update(TELESCOP="SDSS 2.5-M", PLATEID=266, MJD=51602, FIBERID=1, OBJECT="NGC 628",
                       PLUG_RA=N628[0] + 40 / 3600, PLUG_DEC=N628[1], RADECSYS="FK5", EQUINOX=2000.0,
                       BUNIT="1E-17 erg/cm^2/s/Ang")
    cols = [fits.Column("flux", "E", array=flux), fits.Column("loglam", "E", array=loglam),
            fits.Column("ivar", "E", array=ivar), fits.Column("and_mask", "J", array=np.zeros(NWAVE, np.int32)),
            fits.Column("or_mask", "J", array=np.zeros(NWAVE, np.int32)),
            fits.Column("wdisp", "E", array=np.ones(NWAVE, np.float32)),
            fits.Column("sky", "E", array=np.zeros(NWAVE, np.float32)),
            fits.Column("model", "E", array=flux)]
    coadd = fits.BinTableHDU.from_columns(cols, name="COADD")
    spall = fits.BinTableHDU.from_columns([fits.Column("PLATE", "J", array=[266]),
                                            fits.Column("Z", "E", array=[0.00219])], name="SPALL")
    fits.HDUList([prim, coadd, spall]).writeto(path)
    return {"loglam": loglam, "flux": flux, "ivar": ivar}


def _hii_regions(path: Path) -> dict:
    """NGC 3351: HII-region spectra of different lengths (1PE), each with its own wavelengths
    (in nm) and errors; positions in FK4 B1950."""
    lens = [40, 55, 30]
    waves = [650.0 + 0.1 * np.arange(k) + 0.05 * i for i, k in enumerate(lens)]
    fluxes = [RNG.normal(3, 0.2, k).astype(np.float32) for k in lens]
    errs = [np.full(k, 0.5, np.float32) for k in lens]
    ra1950, dec1950 = np.array([160.3, 160.31, 160.29]), np.array([11.97, 11.98, 11.96])
    cols = [fits.Column("ID", "J", array=[11, 12, 13]),
            fits.Column("RA", "D", unit="deg", array=ra1950), fits.Column("DEC", "D", unit="deg", array=dec1950),
            fits.Column("WAVELENGTH", "PD()", unit="nm", array=np.array(waves, dtype=object)),
            fits.Column("FLUX", "PE()", unit="erg / (s cm2 nm)", array=np.array(fluxes, dtype=object)),
            fits.Column("ERR", "PE()", unit="erg / (s cm2 nm)", array=np.array(errs, dtype=object))]
    prim = fits.PrimaryHDU()
    prim.header["OBJECT"] = "NGC 3351"
    t = fits.BinTableHDU.from_columns(cols, name="HII")
    t.header["RADESYS"] = "FK4"
    t.header["EQUINOX"] = 1950.0
    fits.HDUList([prim, t]).writeto(path)
    return {"waves": waves, "fluxes": fluxes, "errs": errs, "ra": ra1950, "dec": dec1950}


def _hi_spectra(path: Path) -> dict:
    """NGC 5194: HI spectra on a frequency column (Hz), RESTFRQ given: served in radio velocity."""
    n, k = 3, 64
    freq = 1.420405752e9 - 2e4 * (np.arange(k) - 32)
    flux = RNG.normal(0.01, 0.001, (n, k)).astype(np.float32)
    cols = [fits.Column("RA", "D", unit="deg", array=[202.4696, 202.47, 202.471]),
            fits.Column("DEC", "D", unit="deg", array=[47.1952, 47.196, 47.197]),
            fits.Column("FREQ", f"{k}D", unit="Hz", array=np.tile(freq, (n, 1))),
            fits.Column("FLUX", f"{k}E", unit="Jy", array=flux)]
    prim = fits.PrimaryHDU()
    prim.header["OBJECT"] = "NGC 5194"
    t = fits.BinTableHDU.from_columns(cols, name="HI")
    t.header["RESTFRQ"] = 1.420405752e9
    fits.HDUList([prim, t]).writeto(path)
    return {"freq": freq, "flux": flux}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from sfng import ingest
    from sfng.index.build import build_index
    from sfng.serve.app import build
    from sfng.serve.tokens import add_token
    from sfng.store import Store, init_store

    root = tmp_path_factory.mktemp("spectables")
    init_store(root / "store", name="spectables")
    store = Store.open(root / "store")
    from sfng.ned import Resolver

    res = Resolver(store=store, offline=True)
    for name, ned in (("NGC 628", "MESSIER 074"), ("NGC 3351", "MESSIER 095"), ("NGC 5194", "MESSIER 051a")):
        res.set_override(name, ned, note="the NED preferred names of ../shared/ned/names.csv")
    src = root / "SPECS"
    src.mkdir()
    truth = {"galaxy": _galaxy_table(src / "NGC0628_apertures.fits"),
             "sdss": _sdss_spec(src / "NGC0628_spec-0266-51602-0001.fits"),
             "hii": _hii_regions(src / "NGC3351_hii_regions.fits"),
             "hi": _hi_spectra(src / "NGC5194_hi_spectra.fits")}
    (src / "SPECS_README.txt").write_text("Spectra of nearby galaxies, grouped by galaxy.\n")
    rep = ingest.execute(ingest.plan_ingest(store, src, survey="SPECS", offline=True, validate=False))
    assert rep.ok, rep.summary()
    build_index(store, validate=False)
    token = add_token(store.root, "reader", ["read"])[0]
    app = build(store.root, store.index_path, store.root)
    return {"store": store, "truth": truth, "http": TestClient(app), "svc": app.state.service,
            "h": {"X-DL-AuthToken": token}}


def _query(t, **params):
    r = t["http"].get("/query", params=params, headers=t["h"])
    assert r.status_code == 200, r.text
    return r.json()


def _get(t, ids, **body):
    r = t["http"].post("/getSpec", json={"id_list": ids, "fmt": "npy", **body}, headers=t["h"])
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content), allow_pickle=False), r


def _sources(t, ids):
    svc = t["svc"]
    return [svc.spectra([i]).sources[0] for i in ids]


def _ngc628(t, labelled: bool) -> list:
    """MESSIER 074's ids: the aperture table's rows (labelled) or the SDSS spectrum (no label)."""
    ids = _query(t, constraint="galaxy = 'MESSIER 074'")
    return [i for i, s in zip(ids, _sources(t, ids)) if ("label" in s) == labelled]


def test_the_index_calls_them_spectra(tables):
    from sfng.query import load_index

    idx = load_index(tables["store"].index_path, None)
    products = {str(r["path"]).split("/")[-1]: str(r["product"]).strip() for r in np.asarray(idx.files)}
    assert all(products[n] == "spectra" for n in products if n.endswith(".fits")), products
    ctx = tables["http"].get("/contexts", headers=tables["h"]).json()
    assert ctx["surveys"]["SPECS"]["spectra_tables"] == 4


def test_constraint_returns_every_row_of_a_galaxy_table(tables):
    ids = _query(tables, constraint="galaxy = 'MESSIER 074'")
    src = _sources(tables, ids)
    rows = sorted(s["row"] for s in src if s.get("label", "").startswith("reg"))
    assert rows == [0, 1, 2, 3, 4]
    assert sum(1 for s in src if "label" not in s) == 1   # the SDSS spectrum, one table one spectrum
    assert len(set(ids)) == len(ids)


def test_rows_of_one_spectrum_per_row_match_the_file(tables):
    truth = tables["truth"]["galaxy"]
    ids = _ngc628(tables, True)
    arr, r = _get(tables, ids)
    assert r.headers["X-SFNG-Wave-Unit"] == "Angstrom"
    assert r.headers.get("X-SFNG-Flux-Unit", "1e-17 erg / (s cm2 Angstrom)") == "1e-17 erg / (s cm2 Angstrom)"
    for sid, row in zip(ids, arr):
        k = tables["svc"].spectra([sid]).sources[0]["row"]
        np.testing.assert_array_equal(row["flux"], truth["flux"][k])
        np.testing.assert_array_equal(row["ivar"], truth["ivar"][k])
        np.testing.assert_array_equal(row["mask"], truth["mask"][k])
        np.testing.assert_allclose(row["wave"], truth["wave"], rtol=1e-15)


def test_cone_finds_rows_by_their_own_positions(tables):
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    truth = tables["truth"]["galaxy"]
    ids = _query(tables, ra=N628[0], dec=N628[1], size=12 / 3600)
    rows = sorted(s["row"] for s in _sources(tables, ids) if s.get("label", "").startswith("reg"))
    sep = SkyCoord(truth["ra"] * u.deg, truth["dec"] * u.deg).separation(SkyCoord(*N628, unit="deg")).arcsec
    assert rows == [int(k) for k in np.flatnonzero(sep <= 12)] == [0, 1, 2]
    # the SDSS fibre (40" east) is outside this cone and inside a wider one
    assert not any("label" not in s for s in _sources(tables, ids))
    wide = _sources(tables, _query(tables, ra=N628[0], dec=N628[1], size=60 / 3600))
    assert any("label" not in s and s["galaxy"] == "MESSIER 074" for s in wide)


def test_polygon_finds_rows_too(tables):
    d = 8 / 3600
    poly = [[N628[0] - d, N628[1] - d], [N628[0] + d, N628[1] - d], [N628[0] + d, N628[1] + d],
            [N628[0] - d, N628[1] + d]]
    r = tables["http"].post("/query", json={"region": poly}, headers=tables["h"])
    assert r.status_code == 200, r.text
    assert [s["row"] for s in _sources(tables, r.json())] == [0]


def test_sdss_pixel_rows_are_one_spectrum_in_angstrom(tables):
    truth = tables["truth"]["sdss"]
    ids = _ngc628(tables, False)
    arr, _ = _get(tables, ids)
    np.testing.assert_allclose(arr["wave"][0], 10.0 ** truth["loglam"].astype(np.float64), rtol=1e-12)
    np.testing.assert_array_equal(arr["flux"][0], truth["flux"])
    np.testing.assert_array_equal(arr["ivar"][0], truth["ivar"])
    from astropy.coordinates import FK5, SkyCoord
    import astropy.units as u

    src = _sources(tables, ids)[0]
    icrs = SkyCoord((N628[0] + 40 / 3600) * u.deg, N628[1] * u.deg, frame=FK5(equinox="J2000")).icrs
    assert src["ra"] == pytest.approx(icrs.ra.deg, abs=1e-10) and src["dec"] == pytest.approx(icrs.dec.deg, abs=1e-10)
    span = tables["http"].post("/listSpan", json={"id_list": ids}, headers=tables["h"]).json()[0]
    assert span["unit"] == "Angstrom" and span["npix"] == NWAVE
    assert span["min"] == pytest.approx(3800.0, rel=1e-6)


def test_variable_length_rows_keep_their_own_axes_errors_and_fk4_positions(tables):
    from astropy.coordinates import FK4, SkyCoord
    import astropy.units as u

    truth = tables["truth"]["hii"]
    ids = _query(tables, constraint="galaxy = 'MESSIER 095'")
    assert len(ids) == 3
    arr, r = _get(tables, ids)
    assert r.headers["X-SFNG-Wave-Unit"] == "Angstrom"
    icrs = SkyCoord(truth["ra"] * u.deg, truth["dec"] * u.deg, frame=FK4(equinox="B1950")).icrs
    for sid, row in zip(ids, arr):
        src = tables["svc"].spectra([sid]).sources[0]
        k = src["row"]
        n = len(truth["waves"][k])
        assert row["npix"] == n and src["label"] == str(11 + k)
        np.testing.assert_allclose(row["wave"][:n], truth["waves"][k] * 10.0, rtol=1e-14)   # nm -> Angstrom
        np.testing.assert_array_equal(row["flux"][:n], truth["fluxes"][k])
        np.testing.assert_allclose(row["ivar"][:n], 1.0 / truth["errs"][k].astype(np.float64) ** 2, rtol=1e-6)
        assert np.isnan(row["flux"][n:]).all()
        assert src["ra"] == pytest.approx(icrs.ra.deg[k], abs=1e-9)
        assert src["dec"] == pytest.approx(icrs.dec.deg[k], abs=1e-9)
    # aligned: one grid, stated, flux conserved within each row's own coverage
    from sfng.serve.service import NOCOV

    arr, r = _get(tables, ids, align=True)
    assert r.headers.get("X-SFNG-Grid") is not None
    grid = arr["wave"][0] if "wave" in arr.dtype.names else None
    for sid, row in zip(ids, arr):
        k = tables["svc"].spectra([sid]).sources[0]["row"]
        w = truth["waves"][k] * 10.0
        g = row["wave"] if grid is None else grid
        outside = (g < w[0] - 1e-9) | (g > w[-1] + 1e-9)
        assert ((row["mask"][outside] & NOCOV) != 0).all() and np.isnan(row["flux"][outside]).all()
        inner = (g > w[1]) & (g < w[-2])
        np.testing.assert_allclose(row["flux"][inner].mean(), truth["fluxes"][k][1:-1].mean(), rtol=0.05)


def test_frequency_rows_are_served_in_velocity(tables):
    truth = tables["truth"]["hi"]
    ids = _query(tables, constraint="galaxy = 'MESSIER 051a'")
    arr, r = _get(tables, ids)
    assert r.headers["X-SFNG-Wave-Unit"] == "km/s"
    v = 299792.458 * (1 - truth["freq"] / 1.420405752e9)
    np.testing.assert_allclose(arr["wave"][0], v, atol=1e-9)
    np.testing.assert_array_equal(arr["flux"], truth["flux"])
    assert np.isnan(arr["ivar"]).all()        # the table gives no uncertainty: unknown, not guessed


def test_row_ids_are_stable_opaque_and_bounded(tables):
    from sfng.serve import ids as sid

    ids = _query(tables, constraint="galaxy = 'MESSIER 095'")
    assert ids == _query(tables, constraint="galaxy = 'MESSIER 095'")
    kind, key, row = sid.decode(ids[0])
    assert kind == sid.ROW and "NGC" not in ids[0] and "/" not in ids[0]
    beyond = sid.row_id(key, 3)
    r = tables["http"].post("/getSpec", json={"id_list": [beyond]}, headers=tables["h"])
    assert r.status_code == 404
    # a spaxel id on a table, or a row id on an unknown key, reaches nothing
    for bad in (sid.spectrum_id(key, 0, 0), sid.row_id(b"\0" * 8, 0)):
        assert tables["http"].post("/getSpec", json={"id_list": [bad]}, headers=tables["h"]).status_code == 404


def test_previews_and_grids_of_table_spectra(tables):
    ids = _query(tables, constraint="galaxy = 'MESSIER 074'")
    h = tables["h"]
    r = tables["http"].get("/preview", params={"id": ids[0]}, headers=h)
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = tables["http"].post("/plotGrid", json={"id_list": ids, "nx": 2, "ny": 2}, headers=h)
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    r = tables["http"].post("/stackedImage", json={"id_list": ids, "fmt": "npy"}, headers=h)
    assert r.status_code == 200
    img = np.load(io.BytesIO(r.content))
    assert img.shape[0] == len(ids)


def test_a_table_without_flux_is_not_served_and_says_why(tmp_path):
    from sfng.serve.spectable import _WAVE_ORDER, NotSpectra, read
    from sfng.spectral import SPECTRAL_COLUMNS

    # the service reads a spectral column of every name that makes the index call a table "spectra"
    assert set(_WAVE_ORDER) == SPECTRAL_COLUMNS and len(_WAVE_ORDER) == len(SPECTRAL_COLUMNS)

    t = fits.BinTableHDU.from_columns([fits.Column("WAVE", "10D", array=np.ones((2, 10))),
                                       fits.Column("COUNTS", "10E", array=np.ones((2, 10)))])
    with pytest.raises(NotSpectra, match="no flux column"):
        read(fits.HDUList([fits.PrimaryHDU(), t]), 1)
    t = fits.BinTableHDU.from_columns([fits.Column("FLUX", "10E", array=np.ones((2, 10)))])
    with pytest.raises(NotSpectra, match="no spectral column"):
        read(fits.HDUList([fits.PrimaryHDU(), t]), 1)


def test_a_wave_image_hdu_and_unitless_columns(tmp_path):
    """MaNGA-style: FLUX rows in a table, the wavelengths in a WAVE image HDU; a spectral
    column without a unit keeps an unknown unit."""
    from sfng.serve.spectable import read

    wave = 3621.6 * 10 ** (1e-4 * np.arange(10))
    t = fits.BinTableHDU.from_columns([fits.Column("FLUX", "10E", array=np.ones((2, 10)))])
    w = fits.ImageHDU(wave, name="WAVE")
    w.header["BUNIT"] = "Angstrom"
    got = read(fits.HDUList([fits.PrimaryHDU(), t, w]), 1)
    np.testing.assert_allclose(got["wave"], wave)
    assert got["meta"]["wave_unit"] == "Angstrom"
    t = fits.BinTableHDU.from_columns([fits.Column("FLUX", "10E", array=np.ones((2, 10))),
                                       fits.Column("WAVE", "10D", array=np.tile(wave, (2, 1)))])
    got = read(fits.HDUList([fits.PrimaryHDU(), t]), 1)
    assert got["meta"]["wave_unit"] == "" and np.isnan(got["ra"]).all()


class _InProcessClient:
    """sfng's client with its HTTP calls sent to the in-process app (no socket)."""

    def __new__(cls, http, token):
        from sfng.client import Client, ServiceError

        class C(Client):
            def _request(self, method, path, params=None, body=None, headers=None):
                h = self._headers()
                h.update(headers or {})
                r = http.request(method, path, params=params, json=body, headers=h)
                self.last_headers = r.headers
                if r.status_code >= 400:
                    raise ServiceError(r.status_code, r.text)
                return r.content

        return C("http://testserver", token=token)


def test_client_gives_specutils_spectra_that_match_specutils_own_sdss_reader(tables):
    specutils = pytest.importorskip("specutils", reason="specutils is in the test extra; absent here")
    import astropy.units as u

    c = _InProcessClient(tables["http"], tables["h"]["X-DL-AuthToken"])
    ids = _ngc628(tables, False)
    assert ids == [i for i in c.query(constraint="galaxy = 'MESSIER 074'") if i in ids]
    (sp,) = c.getSpec(ids, fmt="Spectrum1D")
    assert isinstance(sp, getattr(specutils, "Spectrum", specutils.Spectrum1D))
    path = next((tables["store"].root / "data" / "SPECS").glob("*spec-0266*"))
    ref = specutils.Spectrum1D.read(path, format="SDSS-III/IV spec")
    # specutils raises 10 to the float32 loglam in float32; sfng in float64
    np.testing.assert_allclose(sp.spectral_axis.to_value(u.AA), ref.spectral_axis.to_value(u.AA), rtol=1e-7)
    np.testing.assert_allclose(sp.flux.value, ref.flux.value)
    assert sp.flux.unit == ref.flux.unit          # 1e-17 erg / (Angstrom s cm2), from BUNIT's 'Ang'
    np.testing.assert_allclose(sp.uncertainty.array, ref.uncertainty.array, rtol=1e-6)
    # a table's rows with a unit astropy reads: the Quantity carries it
    rows = c.getSpec(_ngc628(tables, True), fmt="Spectrum1D")
    assert len(rows) == 5 and rows[0].flux.unit == u.Unit("1e-17 erg / (s cm2 Angstrom)")
    hii = c.getSpec(c.query(constraint="galaxy = 'MESSIER 095'"), fmt="Spectrum1D")
    assert sorted(len(s.flux) for s in hii) == [30, 40, 55]     # each row its own pixels


def test_a_hostile_table_is_a_message_and_the_query_goes_on(tables, tmp_path):
    """A 'spectra' table whose FLUX is text: getSpec says why (404), the other tables are still
    found, nothing raises."""
    from sfng.serve.data import Catalog, CubeCache, Entry, NotFound

    bad = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column("WAVE", "D", array=[1.0, 2.0]), fits.Column("FLUX", "8A", array=["abc", "def"])])]).writeto(bad)
    cat = Catalog.__new__(Catalog)
    cat.root = tmp_path
    e = Entry(b"k" * 8, "bad.fits", 0, "S", "", "spectra", "", "", "", bad.stat().st_size, 0.0,
              float("nan"), float("nan"), float("nan"), (16, 2), "", "", float("nan"), "", hdu=1)
    with pytest.raises(NotFound, match="bad.fits: its spectra cannot be read"):
        CubeCache(cat, tmp_path / "cache").cube(e)
    assert not any(p.name.startswith(".build-") for p in (tmp_path / "cache").iterdir())
