"""Coverage maps: per-file MOCs agree with the footprints; export moc writes MOC FITS mocpy reads;
find --moc selects what overlaps a MOC; unions per survey and tracer."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest

from sfng.query import load_index, select
from sfng.query.moc import footprint_moc, selection_moc
from sfng.select import Selection

from _query_index import GALAXIES, HALF_SIZE_DEG, rows, write_index

mocpy = pytest.importorskip("mocpy")


def _contains(moc, ra, dec) -> bool:
    return bool(moc.contains_lonlat(np.array([ra]) * u.deg, np.array([dec]) * u.deg)[0])


@pytest.mark.parametrize("order", [8, 10, 12])
def test_point_in_footprint_is_in_its_moc(order):
    r = rows()[0]   # an 8 arcmin square about M74
    moc = footprint_moc(r["foot_ra"], r["foot_dec"], r["foot_n"], r["ra"], r["dec"], r["fov"], 0, order)
    assert moc.max_order == order
    ra, dec = r["ra"], r["dec"]
    c = math.cos(math.radians(dec))
    inside = [(ra, dec), (ra + 0.8 * HALF_SIZE_DEG / c, dec + 0.8 * HALF_SIZE_DEG)]
    for p in inside:
        assert _contains(moc, *p), p
    outside = [(ra + 1.0, dec), (ra, dec - 0.5), ((ra + 180) % 360, -dec)]
    for p in outside:
        assert not _contains(moc, *p), p


def test_wide_footprint_is_a_cap_and_all_sky_is_everything():
    from sfng.index.schema import FLAG_WIDE

    cap = footprint_moc([], [], 0, 10.0, 89.0, 600.0, FLAG_WIDE, 8)   # radius 5 deg
    assert _contains(cap, 190.0, 86.5) and not _contains(cap, 10.0, 80.0)
    sky = footprint_moc([], [], 0, 0.0, 0.0, 21600.0, FLAG_WIDE, 6)
    assert sky.sky_fraction == pytest.approx(1.0)
    assert footprint_moc([], [], 0, 10.0, 10.0, 5.0, 0, 8) is None   # no footprint, no MOC


def test_export_moc_and_find_moc(tmp_path, cli):
    idx_path = write_index(tmp_path / "SFNG-INDEX.fits")
    out = tmp_path / "co.moc.fits"
    r = cli("export", "moc", "--index", idx_path, "--line", "CO(1-0)", "--order", "11", "--by",
            "survey", "-o", out)
    assert r.exit_code == 0, r.output
    moc = mocpy.MOC.from_fits(str(out))               # MOC FITS mocpy reads
    assert moc.max_order == 11
    gal = {g[0]: g for g in GALAXIES}
    for name in ("MESSIER 074", "IC 0342", "NGC 3521", "MESSIER 099"):     # CO fields
        assert _contains(moc, gal[name][2], gal[name][3]), name
    assert not _contains(moc, gal["NGC 7793"][2], gal["NGC 7793"][3])       # HI only
    nro = mocpy.MOC.from_fits(str(tmp_path / "co-NRO45.moc.fits"))
    assert _contains(nro, gal["MESSIER 074"][2], gal["MESSIER 074"][3])
    assert not _contains(nro, gal["IC 0342"][2], gal["IC 0342"][3])
    # an existing output is not overwritten
    r = cli("export", "moc", "--index", idx_path, "-o", out)
    assert r.exit_code == 1 and "exists" in r.output

    # find --moc: the HI cubes overlapping the CO coverage (none), the MIPS24 images (M74, ...)
    idx = load_index(idx_path)
    hit = select(idx, Selection.build(moc=str(out), tracers=("MIPS24",)))
    assert sorted(set(hit.column("galaxy").astype(str))) == ["IC 0342", "MESSIER 074", "MESSIER 099",
                                                            "NGC 3521"]
    assert not len(select(idx, Selection.build(moc=str(out), tracers=("HI",))))
    r = cli("find", "--index", idx_path, "--moc", out, "--line", "HALPHA", "--format", "json")
    assert r.exit_code == 0, r.output
    assert "MESSIER_074" in r.output and "NGC_7793" not in r.output
    # per-tracer unions
    by = selection_moc(select(idx, Selection.build()), 8, by="tracer")
    assert set(by) == {"CO(1-0)", "HALPHA", "HI", "MIPS24", "SPIRE250"}
    r = cli("find", "--index", idx_path, "--moc", tmp_path / "missing.fits")
    assert r.exit_code == 1 and "no such file" in r.output


# -- space-frequency MOCs ------------------------------------------------------------------------

def _channel_frequencies(path):
    """The cube's channel-centre frequencies (Hz), independently of sfng: astropy's WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as h:
        hdr = h[0].header
        w = WCS(hdr).spectral
        n = hdr["NAXIS3"]
        rest = hdr.get("RESTFRQ", hdr.get("RESTFREQ")) * u.Hz
    sc = w.pixel_to_world(np.arange(n))
    return np.sort(sc.to(u.Hz, doppler_rest=rest, doppler_convention="radio").value)


def test_space_frequency_moc_agrees_with_the_cubes(tmp_path_factory, cli):
    from _demo_store import demo_tree

    tree = demo_tree(tmp_path_factory)
    store = tree.store_dir
    out = tmp_path_factory.mktemp("sfmoc") / "lines.sfmoc.fits"
    r = cli("--store", store, "export", "moc", "--line", "HI", "--line", "CO10", "--space-frequency",
            "--order", "12", "-o", out, "--format", "json")
    assert r.exit_code == 0, r.output
    import json

    got = json.loads(r.output[r.output.index("{"):])["files"][0]
    assert got["kind"] == "space-frequency" and got["rows"] >= 7
    sf = mocpy.SFMOC.from_fits(str(out))                  # an SF-MOC FITS mocpy reads
    idx = load_index(store=__import__("sfng.store", fromlist=["Store"]).Store.open(store))
    his = select(idx, Selection.build(tracers=("HI",)))
    for rec in his.records(["path", "galaxy"]):
        path = store / rec["path"]
        nu = _channel_frequencies(path)
        ra, dec = idx.galaxy_position(rec["galaxy"])
        lon, lat = np.array([ra, ra]) * u.deg, np.array([dec, dec]) * u.deg
        inside = np.array([nu[len(nu) // 2], nu[1]]) * u.Hz
        assert sf.contains(inside, lon, lat).all(), rec
        # 0.5% beyond the band (150 channels of 5 km/s away): no HI or CO file covers it there
        outside = np.array([nu[-1] * 1.005, nu[0] * 0.995]) * u.Hz
        assert not sf.contains(outside, lon, lat).any(), rec
        # the same frequency well off the galaxy (2 degrees north): outside
        assert not sf.contains(inside[:1], lon[:1], lat[:1] + 2 * u.deg).any()
    # a CO cube: inside at its own channels, not at twice the frequency
    co = select(idx, Selection.build(tracers=("CO10",), types=("cube",))).records(["path", "galaxy"])
    assert co
    for rec in co:
        nu = _channel_frequencies(store / rec["path"])
        ra, dec = idx.galaxy_position(rec["galaxy"])
        lon, lat = np.array([ra]) * u.deg, np.array([dec]) * u.deg
        assert sf.contains(np.array([nu[len(nu) // 2]]) * u.Hz, lon, lat).all(), rec
        assert not sf.contains(np.array([2 * nu[0]]) * u.Hz, lon, lat).any(), rec
    # --by with --space-frequency is refused with a message; an existing output is kept
    r = cli("--store", store, "export", "moc", "--space-frequency", "--by", "survey", "-o", out)
    assert r.exit_code == 1 and "--by" in r.output
    r = cli("--store", store, "export", "moc", "--line", "HI", "--space-frequency", "-o", out)
    assert r.exit_code == 1 and "exists" in r.output
