"""MaNGA DRP cubes, DAP maps, GZ3D files and Multimodal-Universe HDF5: recognition, index rows,
ingest landing and names.  Fixtures are generated with the exact HDU names and keywords of the
real DR17 headers of 8485-1901 (tests/data/corpus/manga/headers-dr17)."""

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sfng.demo import manga as mangagen
from sfng.surveys import manga

CORPUS = Path(__file__).parent / "data" / "corpus" / "manga" / "headers-dr17"
CUBE_DIR = CORPUS / "manga-8485-1901-LOGCUBE"
MAPS_DIR = CORPUS / "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP"
T1901 = mangagen.DEMO_TARGETS[0]
T12703 = mangagen.DEMO_TARGETS[1]


def corpus_headers(folder):
    return [fits.Header.fromtextfile(f) for f in sorted(folder.glob("*.hdr"))]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("manga")
    out = {
        "cube": mangagen.write_cube(d / mangagen.cube_name("8485-1901"), T1901, nwave=16, noise=0.05),
        "cube15": mangagen.write_cube(d / "dr15" / mangagen.cube_name("8485-1901"), T1901, nwave=16,
                                      release="DR15"),
        "cube127": mangagen.write_cube(d / mangagen.cube_name("7443-12703"), T12703, nwave=8),
        "maps": mangagen.write_maps(d / mangagen.maps_name("8485-1901"), T1901),
        "gz3d": mangagen.write_gz3d(d / mangagen.gz3d_name("1-209232", 19, 20937850), T1901, size=64),
    }
    return out


# ------------------------------------------------------------------------------ fixtures are real

def _keys(h):
    skip = {"CHECKSUM", "DATASUM", "COMMENT", "HISTORY", ""}
    return {k for k in h.keys() if k not in skip and not k.startswith(("TTYPE", "TFORM", "TUNIT", "TDIM"))}


@pytest.mark.parametrize("which, folder", [("cube", CUBE_DIR), ("maps", MAPS_DIR)])
def test_generated_files_have_the_real_hdus_and_keywords(files, which, folder):
    real = corpus_headers(folder)
    with fits.open(files[which]) as hdul:
        assert [h.name for h in hdul] == [h.get("EXTNAME", "PRIMARY") for h in real]
        for gen, ref in zip(hdul, real):
            missing = _keys(ref) - _keys(gen.header) - {"TFIELDS"}
            assert not missing, f"{gen.name}: keywords of the real header missing: {sorted(missing)}"
            assert gen.header.get("BITPIX") == ref["BITPIX"]
            if ref.get("XTENSION") == "IMAGE":
                assert gen.header["NAXIS"] == ref["NAXIS"]


def test_dr15_cube_has_disp_instead_of_lsf(files):
    with fits.open(files["cube15"]) as hdul:
        names = [h.name for h in hdul]
    assert "DISP" in names and "PREDISP" in names and "LSFPOST" not in names


def test_shipped_templates_match_the_corpus():
    assert mangagen.build_templates(CORPUS) == {k: v for k, v in mangagen.templates().items()
                                                if not k.startswith("_")}


# ------------------------------------------------------------------------------ recognition

@pytest.mark.parametrize("name, kind", [
    ("manga-8485-1901-LOGCUBE.fits.gz", "cube"),
    ("MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz", "cube"),
    ("NGC_5980.manga-8485-12701-LINCUBE.fits", "cube"),
    ("manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz", "maps"),
    ("MESSIER_074.manga-7443-12703-MAPS-VOR10-MILESHC-MASTARSSP.fits.gz", "maps"),
    ("gz3d_1-604761_127_14742283.fits.gz", "gz3d"),
    ("1-167242_127_5679242.fits.gz", "gz3d"),
    ("NGC_4826_NA_CUBE_THINGS.FITS", None),
    ("manga-8485-1901-RSS.fits.gz", None),
])
def test_recognise_by_name(name, kind):
    assert manga.recognise(name) == kind


def test_recognise_by_header_without_the_sdss_name():
    cube = corpus_headers(CUBE_DIR)
    maps = corpus_headers(MAPS_DIR)
    assert manga.recognise("renamed.fits", cube[:2]) == "cube"
    assert manga.recognise("renamed.fits", maps[:1]) == "maps"
    assert manga.recognise("other.fits", [fits.Header({"INSTRUME": "MIPS"})]) is None


def test_ifu_size_and_parse_name():
    assert [manga.ifu_size(x) for x in (1901, "12703", 3704, 6102, 9101, 701, 55)] == [19, 127, 37, 61, 91, 7, None]
    info = manga.parse_name("MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz")
    assert info["plateifu"] == "8485-1901" and info["original"] == "manga-8485-1901-LOGCUBE.fits.gz"


# ------------------------------------------------------------------------------ geometry

def test_hexagon_radius_and_orientation():
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    ra0, dec0 = 232.5447, 48.690201
    ras, decs = manga.hexagon(ra0, dec0, 12.5)
    c = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    sep = SkyCoord(ras * u.deg, decs * u.deg).separation(c).arcsec
    assert np.allclose(sep, 6.25, atol=1e-6)
    pas = c.position_angle(SkyCoord(ras * u.deg, decs * u.deg)).deg
    assert pas[0] == pytest.approx(90.0, abs=1e-4)   # first vertex due east
    assert pas[3] == pytest.approx(270.0, abs=1e-4)  # fourth due west


def test_hexagon_across_ra_zero():
    ras, decs = manga.hexagon(0.0005, 10.0, 32.5)
    assert ((ras < 1) | (ras > 359)).all() and (ras >= 0).all() and (ras < 360).all()


def test_wcs_corners_match_astropy_for_gz3d_wcs():
    from astropy.wcs import WCS

    h = mangagen.gz3d_wcs_header(232.5447, 48.690201, 525)
    h["NAXIS1"] = h["NAXIS2"] = 525
    ras, decs = manga.wcs_corners(h)
    edges = [[0.5, 0.5], [525.5, 0.5], [525.5, 525.5], [0.5, 525.5]]  # outer pixel edges
    ref = WCS(h).all_pix2world(edges, 1)
    got = np.column_stack([ras, decs])
    for corner in ref:  # same set of corners, order aside
        d = np.hypot((got[:, 0] - corner[0]) * math.cos(math.radians(48.69)), got[:, 1] - corner[1]) * 3600
        assert d.min() < 1e-4


# ------------------------------------------------------------------------------ cube rows

def test_cube_row_from_the_real_dr17_headers():
    hs = corpus_headers(CUBE_DIR)
    (row,) = manga.describe("manga-8485-1901-LOGCUBE.fits.gz", hs)
    assert row["tracer"] == "OPTICAL-IFU" and row["product"] == "cube" and row["locator"] == "[FLUX]"
    assert (row["ra"], row["dec"]) == (232.5447, 48.690201)
    assert row["res"] == row["bmaj"] == row["bmin"] == 2.43751
    assert row["bunit"] == "1E-17 erg/s/cm^2/Angstrom/spaxel"
    assert (row["naxis"], row["naxis1"], row["naxis2"], row["naxis3"]) == (3, 34, 34, 4563)
    assert row["cdelt1"] == -0.000138889 and row["cdelt3"] == 0.833903304339
    assert row["foot_n"] == 6 and row["fov"] == pytest.approx(12.5 / 60)
    extra = manga.parse_extra(row["extra"])
    assert extra["plateifu"] == "8485-1901" and extra["mangaid"] == "1-209232"
    assert extra["gfwhm"] == 2.4364 and extra["ifwhm"] == 2.42862 and extra["zfwhm"] == 2.40892
    assert extra["objra"] == pytest.approx(232.544703894) and extra["objdec"] == pytest.approx(48.6902009334)
    assert extra["lsf"] == "LSFPOST" and extra["ifu"] == 19
    # wavelength coverage: FORMATS.md checked with astropy: 3621.596 .. 10353.81 Angstrom
    from astropy.wcs import WCS

    w = WCS(hs[1]).spectral
    lo, hi = w.pixel_to_world_values([0, 4562])
    assert row["spec_min"] == pytest.approx(lo * 1e10, rel=1e-9)
    assert row["spec_max"] == pytest.approx(hi * 1e10, rel=1e-9)
    assert row["spec_max"] == pytest.approx(10353.805, abs=0.01)
    # the constant velocity step is the DAP's VSTEP
    vstep = fits.Header.fromtextfile(MAPS_DIR / "00_PRIMARY.hdr")["VSTEP"]
    assert row["chan_kms"] == pytest.approx(vstep, rel=1e-6)


def test_cube_row_from_a_generated_file(files):
    (row,) = manga.describe(files["cube"])
    assert row["tracer"] == "OPTICAL-IFU" and row["naxis3"] == mangagen.NWAVE_DR17 // 286 + 1
    assert row["spec_min"] == pytest.approx(3621.596, abs=1e-3)
    assert math.isnan(row.get("repunc", math.nan))  # header-only by default
    (deep,) = manga.describe(files["cube"], measure_depth=True)
    assert deep["repunc"] == pytest.approx(0.05, rel=1e-5) and deep["depth_src"] == "measured"
    with fits.open(files["cube"]) as hdul:
        expect = np.median(hdul["WAVE"].data / hdul["SPECRES"].data)
    assert deep["specres"] == pytest.approx(expect)


def test_full_row_completes_a_row_for_use_outside_the_crawler(files, store):
    import shutil

    dest = store.root / "data" / "MANGA" / ("MaNGA_1-209232." + files["cube"].name)
    dest.parent.mkdir(parents=True)
    shutil.copy(files["cube"], dest)
    (row,) = manga.describe(dest, store_root=store.root)
    full = manga.full_row(row, store.root)
    assert full["path"] == "data/MANGA/MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz"
    assert (full["tree"], full["survey"], full["galaxy"]) == ("data", "MANGA", "MaNGA 1-209232")
    assert full["size"] == dest.stat().st_size and full["flag"] == 0 and full["tracer"] == "OPTICAL-IFU"


def test_old_release_cube(files):
    (row,) = manga.describe(files["cube15"], measure_depth=True)
    assert manga.parse_extra(row["extra"])["lsf"] == "DISP"
    assert row["tracer"] == "OPTICAL-IFU" and row["repunc"] > 0


def test_big_bundle_footprint(files):
    (row,) = manga.describe(files["cube127"])
    assert row["naxis1"] == 74 and row["fov"] == pytest.approx(32.5 / 60) and row["foot_n"] == 6


def test_gzip_cube_reads_only_two_headers(files, monkeypatch):
    asked = []
    real = manga.scan_headers

    def spy(path, keys_of=None, max_hdus=None):
        asked.append(max_hdus)
        return real(path, keys_of=keys_of, max_hdus=max_hdus)

    from sfng.surveys.manga import describers

    monkeypatch.setattr(describers, "scan_headers", spy)
    manga.describe(files["cube"])
    assert asked == [2]


def test_scan_headers_values_equal_astropy(files):
    """The selective reader gives astropy's values for every card it reads."""
    import gzip
    import io

    raw = gzip.decompress(files["cube"].read_bytes())
    plain = files["cube"].parent / "plain-manga-8485-1901-LOGCUBE.fits"
    plain.write_bytes(raw)
    every = frozenset(k for h in mangagen.templates()[mangagen.CUBE_KEY] for k, _, _ in h["cards"])
    got = manga.scan_headers(plain, keys_of=lambda i: every)
    names = manga.scan_headers(plain, keys_of=lambda i: frozenset())
    with fits.open(io.BytesIO(raw)) as hdul:
        assert len(got) == len(hdul) == 24
        for h, n, ref in zip(got, names, hdul):
            for k, v in h.items():
                assert ref.header[k] == v, (ref.name, k)
            assert n.get("EXTNAME", "PRIMARY") == ref.name and n["NAXIS"] == ref.header["NAXIS"]


def test_redshift_from_a_drpall_catalogue(files, tmp_path):
    from astropy.table import Table

    root = tmp_path / "store"
    (root / "tables" / "MANGA").mkdir(parents=True)
    Table({"plateifu": ["8485-1901"], "nsa_z": [0.0407447]}).write(root / "tables" / "MANGA" / "drpall-v3_1_1.fits")
    (row,) = manga.describe(files["cube"], store_root=root)
    assert manga.parse_extra(row["extra"])["z"] == pytest.approx(0.0407447)


# ------------------------------------------------------------------------------ maps rows

def test_channels_one_and_two_digit_forms():
    hs = {h["EXTNAME"]: h for h in corpus_headers(MAPS_DIR)[1:]}
    fom = manga.channels(hs["STELLAR_FOM"])
    assert fom[0] == ("rms", "1E-17 erg/s/cm^2/ang/spaxel") and fom[8][0] == "max per pix chi"
    em = manga.channels(hs["EMLINE_GFLUX"])
    assert len(em) == 35 and em[23] == ("Ha-6564", "1E-17 erg/s/cm^2/spaxel")
    si = manga.channels(hs["SPECINDEX"])
    assert si[0] == ("CN1", "mag") and si[44] == ("Dn4000", "")
    assert manga.channels(hs["STELLAR_VEL"]) == []


def test_maps_rows_from_the_real_headers():
    rows = manga.describe("manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz", corpus_headers(MAPS_DIR))
    by = {r["locator"]: r for r in rows}
    ha = by["EMLINE_GFLUX#Ha-6564"]
    assert ha["tracer"] == "HALPHA" and ha["bunit"] == "1E-17 erg/s/cm^2/spaxel" and ha["hdu"] == 30
    assert (ha["naxis"], ha["naxis1"], ha["naxis2"]) == (2, 34, 34) and ha["cdelt1"] == -0.000138889
    assert ha["res"] == 2.43751 and ha["foot_n"] == 6
    extra = manga.parse_extra(ha["extra"])
    assert extra["channel"] == 24 and extra["z"] == pytest.approx(12214.9537634726 / 299792.458)
    tracers = {r["tracer"] for r in rows}
    assert {"HALPHA", "HBETA", "OIII-5008", "NII-6585", "SII", "STELLAR-VEL"} <= tracers
    assert by["STELLAR_VEL"]["bunit"] == "km/s"
    assert {r["locator"] for r in rows if r["tracer"] == "SII"} == {"EMLINE_GFLUX#SII-6718", "EMLINE_GFLUX#SII-6732"}
    assert all(len(r["extra"]) <= 160 for r in rows)


def test_maps_depth_from_ivar(files):
    rows = manga.describe(files["maps"], measure_depth=True)
    by = {r["locator"]: r for r in rows}
    assert by["EMLINE_GFLUX#Ha-6564"]["repunc"] == pytest.approx(0.25, rel=1e-5)
    assert by["STELLAR_VEL"]["repunc"] == pytest.approx(12.0, rel=1e-5)


def test_tracers_are_in_the_vocabulary():
    from sfng.tracers import vocabulary

    voc = vocabulary()
    for _, _, tracer, _ in manga.MAPS_TRACERS:
        assert voc.get(tracer) == tracer, tracer
    for _, tracer, _, _ in manga.GZ3D_HDUS:
        assert voc.get(tracer) == tracer, tracer
    assert voc.get("OPTICAL-IFU") == "OPTICAL-IFU" and voc.get("Ha-6564") == "HALPHA"


# ------------------------------------------------------------------------------ GZ3D rows

def test_gz3d_rows_and_vote_fractions(files):
    rows = manga.describe(files["gz3d"])
    assert [r["tracer"] for r in rows] == ["GZ3D-IMAGE", "GZ3D-CENTER", "GZ3D-STAR", "GZ3D-SPIRAL", "GZ3D-BAR"]
    assert [r["locator"] for r in rows] == ["[0]", "[1]", "[2]", "[3]", "[4]"]
    extra = manga.parse_extra(rows[3]["extra"])
    total, spiral, bar = T1901.votes
    assert extra["spiral_frac"] == pytest.approx(spiral / total, rel=1e-5)
    assert extra["bar_frac"] == pytest.approx(bar / total, rel=1e-5)
    assert extra["mangaid"] == "1-209232" and extra["subject"] == 20937850 and extra["ifu"] == 19
    assert rows[0]["naxis"] == 3 and rows[0]["naxis1"] == 3  # the RGB colour axis first
    assert rows[1]["foot_n"] == 4 and rows[1]["ra"] == pytest.approx(T1901.ra)
    assert rows[1]["fov"] == pytest.approx(64 * 0.099 / 60)


def test_gz3d_zero_votes_is_unknown_not_zero(tmp_path):
    t = mangagen.DemoTarget("8485-1901", "1-209232", 232.5447, 48.690201, 2.4, 0.04, 1, (0, 0, 0))
    p = mangagen.write_gz3d(tmp_path / mangagen.gz3d_name("1-209232", 19, 1), t, size=16)
    extra = manga.parse_extra(manga.describe(p)[4]["extra"])
    assert "bar_frac" not in extra and extra["gz_total"] == 0


# ------------------------------------------------------------------------------ HDF5

def test_mmu_hdf5_rows(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "manga" / "healpix=622" / "0001-of-0001.hdf5"
    p.parent.mkdir(parents=True)
    with h5py.File(p, "w") as f:
        f.attrs.update(project="SDSS", survey="MaNGA", release="DR17")
        for pifu, ra, dec in (("8485-1901", 232.5447, 48.690201), ("8485-1902", 232.9, 48.1)):
            g = f.create_group(pifu)
            g.attrs.update(object_id=pifu, ra=ra, dec=dec, healpix=622, z=0.04, spaxel_size=0.5)
    assert manga.recognise(p) == "hdf5"
    rows = manga.describe(p)
    assert [r["locator"] for r in rows] == ["#8485-1901", "#8485-1902"]
    assert rows[0]["ra"] == 232.5447 and rows[0]["tracer"] == "OPTICAL-IFU"
    assert manga.parse_extra(rows[1]["extra"])["healpix"] == 622


def test_gz3d_columnar_hdf5_rows(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "healpix=622" / "001-of-001.hdf5"
    p.parent.mkdir(parents=True)
    with h5py.File(p, "w") as f:
        f["object_id"] = np.array([b"1-209232", b"1-209232", b"1-1"])
        f["ra"] = np.array([232.5, 232.5, 10.0])
        f["dec"] = np.array([48.7, 48.7, 1.0])
        f["gz_total_classifications"] = np.array([40, 40, 0])
        f["gz_bar_votes"] = np.array([10, 12, 0])
    rows = manga.describe(p)
    assert [r["locator"] for r in rows] == ["#1-209232", "#1-209232[1]", "#1-1"]
    assert manga.parse_extra(rows[0]["extra"])["bar_frac"] == pytest.approx(0.25)


def test_unrelated_hdf5_is_not_claimed(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "model.hdf5"
    with h5py.File(p, "w") as f:
        f["weights"] = np.zeros(3)
    assert manga.recognise(p) is None


# ------------------------------------------------------------------------------ names and ingest

def test_fallback_name_is_stable_and_checked():
    assert manga.fallback_name(" 1-209232 ") == "MaNGA 1-209232"
    with pytest.raises(Exception):
        manga.fallback_name("../x")


class _FakeResolver:
    """by_position answers from a dict; records what was remembered."""

    def __init__(self, answers=None, offline=False):
        self.answers = answers or {}
        self.offline = offline
        self.remembered = []
        self.asked = 0

    def overrides(self):
        return {}

    def lookup(self, name):
        return next((r for r in self.remembered if r["input"] == name), None)

    def remember(self, name, ned_name, ra=None, dec=None, source="ned"):
        row = {"input": name, "ned_name": ned_name, "ra": ra, "dec": dec, "source": source}
        self.remembered = [r for r in self.remembered if r["input"] != name] + [row]

    def by_position(self, ra, dec, radius):
        from types import SimpleNamespace

        from sfng.ned import Unavailable

        self.asked += 1
        if self.offline:
            raise Unavailable("offline")
        name = self.answers.get((round(ra, 4), round(dec, 4)))
        return SimpleNamespace(ned_name=name, source="ned-position") if name else None


def test_galaxy_name_by_position_then_fallback():
    ident = {"mangaid": "1-209232", "ra": 232.5447, "dec": 48.690201}
    r = _FakeResolver({(232.5447, 48.6902): "CGCG 249-009"})
    assert manga.galaxy_name(ident, r).galaxy == "CGCG 249-009"
    manga.galaxy_name(ident, r)
    assert r.asked == 1  # one NED question per position
    assert r.lookup("MaNGA 1-209232")["ned_name"] == "CGCG 249-009"

    off = _FakeResolver(offline=True)
    choice = manga.galaxy_name(ident, off)
    assert choice.galaxy == "MaNGA 1-209232" and choice.how == "fallback" and "offline" in choice.note
    assert off.lookup("MaNGA 1-209232")["source"] == manga.FALLBACK_SOURCE


def test_ingest_lands_cubes_in_data_and_maps_in_derived(files, store, tmp_path):
    import shutil

    from sfng import ingest
    from sfng.ned import Resolver

    src = tmp_path / "SAS"
    src.mkdir()
    shutil.copy(files["cube"], src)
    shutil.copy(files["maps"], src)
    resolver = Resolver(store=store, offline=True)
    cubes = tmp_path / "cubes"
    cubes.mkdir()
    shutil.copy(files["cube"], cubes)
    (cubes / "MANGA_README.txt").write_text(manga.readme_text("MANGA"))
    rep = ingest.execute(ingest.plan_ingest(store, cubes, survey="MANGA", ned_rename=True,
                                            resolver=resolver, offline=True))
    assert rep.ok
    landed = store.root / "data" / "MANGA" / "MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz"
    assert landed.is_file()
    assert "DR17" in (store.root / "data" / "MANGA" / "MANGA_README.txt").read_text()
    maps = tmp_path / "MANGA-DAP"
    maps.mkdir()
    shutil.copy(files["maps"], maps)
    plan = ingest.plan_ingest(store, maps, ned_rename=True, resolver=resolver, offline=True, force=True)
    assert plan.tree == "derived"
    dest = [i.dest for i in plan.items if i.kind == "data"]
    assert dest == ["derived/MANGA-DAP/MaNGA_1-209232.manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz"]
    row = Resolver(store=store, offline=True).lookup("MaNGA 1-209232")
    assert row["source"] == manga.FALLBACK_SOURCE


def test_index_build_describes_manga_products(files, store, cli):
    import shutil

    from sfng.index.build import build_index
    from sfng.index.io import read_index

    for key, (tree, survey) in (("cube", ("data", "MANGA")), ("maps", ("derived", "MANGA-DAP")),
                                ("gz3d", ("derived", "GZ3D"))):
        d = store.root / tree / survey
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(files[key], d / ("MaNGA_1-209232." + files[key].name))
    build_index(store, validate=False)
    rows, _, _ = read_index(store.index_path)
    got = {(str(r["survey"]), str(r["tracer"])) for r in rows}
    assert ("MANGA", "OPTICAL-IFU") in got and ("MANGA-DAP", "HALPHA") in got and ("GZ3D", "GZ3D-BAR") in got
    assert all(int(f) == 0 for f in rows["flag"])
    res = cli("find", "--store", store.root, "--has", "HALPHA", "--format", "json")
    assert res.exit_code == 0 and "MaNGA 1-209232" in res.output


# ------------------------------------------------------------------------------ demo

def test_demo_writes_manga_products(tmp_path):
    got = mangagen.write_demo_files(tmp_path)
    assert got["MANGA"] == ["manga-8485-1901-LOGCUBE.fits.gz", "manga-7443-12703-LOGCUBE.fits.gz"]
    assert len(got["MANGA-DAP"]) == 2 and got["GZ3D"] == ["gz3d_1-209232_19_20937850.fits.gz"]
    h = fits.getheader(tmp_path / "MANGA" / got["MANGA"][0], 0)
    assert (h["IFURA"], h["IFUDEC"], h["MANGAID"]) == (232.5447, 48.690201, "1-209232")
    assert (tmp_path / "MANGA-DAP" / "MANGA-DAP_README.txt").is_file()


def test_ingest_refuses_mmu_containers_with_a_reason(store, tmp_path):
    h5py = pytest.importorskip("h5py")
    from sfng import ingest

    src = tmp_path / "MMU" / "healpix=622"
    src.mkdir(parents=True)
    with h5py.File(src / "0001-of-0001.hdf5", "w") as f:
        f.attrs["survey"] = "MaNGA"
    plan = ingest.plan_ingest(store, tmp_path / "MMU", tree="derived", ned_rename=True, offline=True)
    (item,) = [i for i in plan.items if i.kind == "data"]
    assert item.action == "error" and "derived/MMU" in item.problems[0]
