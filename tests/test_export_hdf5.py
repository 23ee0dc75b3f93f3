"""``sfng export hdf5``: the Multimodal-Universe parent-sample layout, then indexing the HDF5 gives
back the same objects; HEALPix nested pixel numbers against known values."""

import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sfng import healpix
from sfng.demo import manga as mangagen
from sfng.surveys import manga

h5py = pytest.importorskip("h5py")

T1 = mangagen.DEMO_TARGETS[0]
T2 = mangagen.DEMO_TARGETS[1]
NWAVE = 8


@pytest.fixture
def manga_store(store, tmp_path):
    for t in (T1, T2):
        mangagen.write_cube(store.root / "data" / "MANGA" / ("MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)),
                            t, nwave=NWAVE)
        mangagen.write_maps(store.root / "derived" / "MANGA-DAP" / ("MaNGA_" + t.mangaid + "." + mangagen.maps_name(t.plateifu)), t)
    return store


# -- HEALPix ------------------------------------------------------------------------------------

#: (ra, dec) -> nested pixel at nside 16, computed with astropy-healpix 1.1 (lonlat_to_healpix); the
#: poles follow from the scheme itself: the north pole is the last pixel of base face 0
#: (16**2 - 1 = 255), the south pole the first of face 8 (8 * 16**2 = 2048)
KNOWN_NSIDE16 = {(232.5447, 48.690201): 622, (229.525575, 42.745853): 618, (0.0, 90.0): 255,
                 (0.0, -90.0): 2048, (359.9999, -32.5): 1027, (180.0, 41.81): 1791,
                 (45.0, -41.81): 2240, (10.68, 41.27): 169}


def test_nested_healpix_matches_known_values():
    for (ra, dec), pix in KNOWN_NSIDE16.items():
        got = healpix.ang2pix_nest(16, ra, dec)
        assert got == pix and isinstance(got, int)
    ras, decs = zip(*KNOWN_NSIDE16)
    assert list(healpix.ang2pix_nest(16, np.array(ras), np.array(decs))) == list(KNOWN_NSIDE16.values())


def test_nested_healpix_agrees_with_healpy_ring_numbers():
    # healpy's documented ang2pix examples are RING numbers: (0, 0) is 4, 12, 72, 336, 1440 at
    # nside 1..16; (45, 45) and the south pole are 427 and 3068 at nside 16.  Go through the
    # RING <-> NESTED relabelling of astropy-healpix to check the nested numbers we hand out.
    from astropy_healpix import HEALPix

    for nside, ring in zip((1, 2, 4, 8, 16), (4, 12, 72, 336, 1440)):
        assert HEALPix(nside=nside, order="ring").nested_to_ring(healpix.ang2pix_nest(nside, 0.0, 0.0)) == ring
    hp16 = HEALPix(nside=16, order="ring")
    assert hp16.nested_to_ring(healpix.ang2pix_nest(16, [45.0, 0.0], [45.0, -90.0])).tolist() == [427, 3068]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([1, 2, 16, 256]), st.data())
def test_pixel_centres_round_trip(nside, data):
    pix = data.draw(st.integers(0, 12 * nside * nside - 1))
    ra, dec = healpix.pix2ang_nest(nside, pix)
    assert 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0
    assert healpix.ang2pix_nest(nside, ra, dec) == pix


def test_nside_must_be_a_power_of_two():
    with pytest.raises(ValueError):
        healpix.ang2pix_nest(12, 0.0, 0.0)
    with pytest.raises(ValueError):
        healpix.pix2ang_nest(0, 0)


# -- export -------------------------------------------------------------------------------------

def test_export_layout(manga_store):
    from sfng.surveys.manga.export_hdf5 import export_hdf5

    rep = export_hdf5(manga_store)
    assert "Multimodal Universe" in (manga_store.root / "derived" / "MMU" / "MMU_README.txt").read_text()
    assert sorted(rep.files) == ["manga/healpix=618/0001-of-0001.hdf5", "manga/healpix=622/0001-of-0001.hdf5"]
    path = manga_store.root / "derived" / "MMU" / "manga" / "healpix=622" / "0001-of-0001.hdf5"
    with h5py.File(path, "r") as f:
        assert dict(f.attrs) == {"project": "SDSS", "survey": "MaNGA", "release": "DR17"}
        g = f["8485-1901"]
        for key in ("object_id", "ra", "dec", "healpix", "z", "spaxel_size", "spaxel_size_unit"):
            assert key in g.attrs and key in g
        assert g.attrs["ra"] == T1.ra and g.attrs["healpix"] == 622 and g["spaxel_size"][()] == 0.5
        assert g.attrs["z"] == pytest.approx(T1.z)
        sp = g["spaxels"][()]
        assert sp.shape == (9216,) and sp.dtype.names[:5] == ("flux", "ivar", "mask", "lsf_sigma", "lambda")
        # padding: the 34x34 cube sits in the middle of 96x96 (31 each side)
        from astropy.io import fits

        cube = sorted((manga_store.root / "data" / "MANGA").glob("*8485-1901*"))[0]
        with fits.open(cube) as hdul:
            flux = hdul["FLUX"].data
        nw = flux.shape[0]
        assert sp.dtype["flux"].shape == (nw,)
        grid = sp["flux"].reshape(96, 96, nw)
        assert np.array_equal(grid[31:65, 31:65].transpose(2, 0, 1), flux)
        assert (grid[:31] == 0).all()
        assert (sp["mask"].reshape(96, 96, nw)[0, 0] == 1024).all()
        assert sp["flux_units"][0] == b"1E-17 erg/s/cm^2/Angstrom/spaxel"
        im = g["images"][()]
        assert [b.decode() for b in im["image_band"]] == ["g", "r", "i", "z"]
        assert im["image_array"].shape == (4, 96, 96) and im["image_array_units"][0] == b"nanomaggies/pixel"
        mp = g["maps"][()]
        labels = [x.decode() for x in mp["label"]]
        assert "emline_gflux_ha_6564" in labels and "stellar_vel" in labels and "binid_emline_moments" in labels
        assert not any(lab.startswith("emline_gflux_ivar") for lab in labels)
        ha = mp[labels.index("emline_gflux_ha_6564")]
        assert ha["array"].shape == (96, 96) and ha["array_units"] == b"1E-17 erg/s/cm^2/spaxel"
        assert ha["mask"][0, 0] == 2 ** 30 and ha["ivar"][48, 48] == pytest.approx(16.0)


def test_export_then_index_gives_the_same_objects(manga_store):
    from sfng.surveys.manga.export_hdf5 import export_hdf5
    from sfng.index.build import build_index
    from sfng.index.io import read_index

    export_hdf5(manga_store)
    build_index(manga_store, validate=False)
    rows, _, _ = read_index(manga_store.index_path)
    h5 = [r for r in rows if str(r["path"]).endswith(".hdf5")]
    cubes = {manga.parse_extra(str(r["extra"]))["plateifu"]: r for r in rows if str(r["tracer"]) == "OPTICAL-IFU"
             and not str(r["path"]).endswith(".hdf5")}
    assert sorted(str(r["locator"]) for r in h5) == ["#7443-12703", "#8485-1901"]
    for r in h5:
        pifu = str(r["locator"])[1:]
        c = cubes[pifu]
        assert r["ra"] == c["ra"] and r["dec"] == c["dec"] and r["res"] == pytest.approx(c["res"])
        assert int(r["foot_n"]) == 6 and np.allclose(r["foot_ra"][:6], c["foot_ra"][:6])
        assert manga.parse_extra(str(r["extra"]))["healpix"] == healpix.ang2pix_nest(16, c["ra"], c["dec"])


def test_never_overwrites_without_replace(manga_store, tmp_path):
    from sfng.errors import SfngError
    from sfng.surveys.manga.export_hdf5 import export_hdf5

    export_hdf5(manga_store, tmp_path / "out", plateifus=["8485-1901"])
    with pytest.raises(SfngError, match="never overwrites"):
        export_hdf5(manga_store, tmp_path / "out", plateifus=["8485-1901"])
    rep = export_hdf5(manga_store, tmp_path / "out", plateifus=["8485-1901"], replace=True)
    assert rep.files == ["manga/healpix=622/0001-of-0001.hdf5"]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".sfng-tmp")]


def test_max_per_file_splits(manga_store, tmp_path):
    from sfng.surveys.manga.export_hdf5 import plan_export

    shutil.copy(next((manga_store.root / "data" / "MANGA").glob("*8485*")),
                manga_store.root / "data" / "MANGA" / "MaNGA_1-1.manga-8485-1902-LOGCUBE.fits.gz")
    shutil.copy(next((manga_store.root / "derived" / "MANGA-DAP").glob("*8485*")),
                manga_store.root / "derived" / "MANGA-DAP" / "MaNGA_1-1.manga-8485-1902-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    _, files, rep = plan_export(manga_store, tmp_path / "o", max_per_file=1)
    assert "manga/healpix=622/0002-of-0002.hdf5" in files and len(rep.items) == 3


def test_cube_without_maps_is_skipped_with_a_reason(manga_store, cli):
    next((manga_store.root / "derived" / "MANGA-DAP").glob("*7443*")).unlink()
    res = cli("export", "hdf5", "--store", manga_store.root, "--dry-run")
    assert res.exit_code == 0
    assert "manga/healpix=622/0001-of-0001.hdf5" in res.output and "no DAP maps" in res.output
    assert not (manga_store.root / "derived" / "MMU").exists()


def test_cli_help():
    from click.testing import CliRunner

    from sfng.cli import main

    out = CliRunner().invoke(main, ["export", "hdf5", "--help"]).output
    assert "Multimodal-Universe" in out and "Examples" in out
