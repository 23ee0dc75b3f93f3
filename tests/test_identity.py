"""Galaxy identity (sfng.identity): the index's galaxy/galaxy_src, links bygalaxy, find/info/get
on an adopted store of plain survey downloads, MaNGA products by their MaNGA-ID, the opt-in
NED position search.  Offline: the store's NED cache is seeded from recorded answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sfng.demo.galaxies import ned_cache_path
from sfng.identity import Names, identify
from sfng.ned import Resolver

CO10 = 115.2712018e9
# The recorded Near Position Search (tests/data/ned/query_near_position.xml) lists this galaxy.
NEAR_GALAXY = ("2MASXi J0535210-052225", 83.83787, -5.37375)


def _fits(path: Path, shape, hdr: dict) -> Path:
    ny, nx = shape[-2], shape[-1]
    h = fits.Header()
    h.update({"CTYPE1": "RA---TAN", "CRVAL1": hdr.pop("_RA", 24.17), "CDELT1": -2 / 3600,
              "CRPIX1": (nx + 1) / 2, "CUNIT1": "deg", "CTYPE2": "DEC--TAN",
              "CRVAL2": hdr.pop("_DEC", 15.78), "CDELT2": 2 / 3600, "CRPIX2": (ny + 1) / 2,
              "CUNIT2": "deg", "BMAJ": 6 / 3600, "BMIN": 6 / 3600, "BPA": 0.0})
    h.update(hdr)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.zeros(shape, "f4"), h).writeto(path)
    return path


def _mips(path, obj=None, **pos):
    hdr = {"INSTRUME": "MIPS", "WAVELENG": 24.0, "BUNIT": "MJy/sr", **pos}
    if obj is not None:
        hdr["OBJECT"] = obj
    return _fits(path, (20, 20), hdr)


def _co(path, obj, **pos):
    return _fits(path, (6, 20, 20), {"BUNIT": "K", "CTYPE3": "VRAD", "CUNIT3": "km/s",
                                     "CRVAL3": 600.0, "CDELT3": 5.0, "CRPIX3": 1,
                                     "RESTFRQ": CO10, "OBJECT": obj, **pos})


def _halpha(path, obj, **pos):
    return _fits(path, (20, 20), {"FILTER": "Halpha", "BUNIT": "erg/s/cm2", "OBJECT": obj, **pos})


M51 = {"_RA": 202.4696, "_DEC": 47.1952}
IC342 = {"_RA": 56.7021, "_DEC": 68.0961}


@pytest.fixture
def adopted(tmp_path, cli):
    """A folder of plain survey downloads (no NED names in the file names), adopted as a store,
    with the store's NED cache seeded from the recorded answers the demo ships."""
    root = tmp_path / "downloads"
    _mips(root / "data" / "SINGS" / "ngc628_mips24.fits", "NGC 628")
    _mips(root / "data" / "SINGS" / "ngc5194_mips24.fits", "M51", **M51)
    _mips(root / "data" / "SINGS" / "mosaic_0001.fits")                  # no OBJECT: unknown
    _mips(root / "data" / "SINGS" / "ddo154_mips24.fits", "DDO 154")     # not in the cache yet
    _co(root / "data" / "BIMA" / "ngc628 co10 cube.fits", "NGC 628")
    _co(root / "data" / "BIMA" / "ngc5194_co10.fits", "M51", **M51)
    _co(root / "data" / "NRO" / "ic342.co10.fits", "IC 342", **IC342)
    _halpha(root / "data" / "HALPHA" / "ngc5194_ha.fits", "NGC 5194", **M51)
    r = cli("init", "--adopt", root)
    assert r.exit_code == 0, r.output
    from sfng.store import Store

    store = Store.open(root)
    assert Resolver(store, offline=True).import_cache(ned_cache_path()) > 0
    return store


def _rows(store):
    from sfng.index.io import read_index

    files, gal, _ = read_index(store.index_path)
    out = {}
    for r in files:
        out[str(r["path"])] = (str(r["galaxy"]), str(r["galaxy_src"]))
    return out, gal


# ---------------------------------------------------------------------------------------------
# The order, on names alone
# ---------------------------------------------------------------------------------------------

def _names(**known):
    n = Names()
    for k, v in known.items():
        n.learn(k.replace("_", " "), v)
    return n


def test_order_file_name_then_manifest_then_format_then_object():
    n = _names(NGC_628="MESSIER 074", M51="MESSIER 051a", MESSIER_074="MESSIER 074")
    assert identify(n, "MESSIER_074.ngc628_co21.fits") == ("MESSIER 074", "file-name")
    # the manifest: ingest's record, even when the name says nothing
    assert identify(n, "cube.fits", manifest="MESSIER 051a") == ("MESSIER 051a", "manifest")
    # a known NED prefix wins over the manifest and OBJECT
    assert identify(n, "MESSIER_074.x.fits", manifest="MESSIER 051a", obj="M51")[1] == "file-name"
    # a format's answer replaces OBJECT, even an empty one
    assert identify(n, "x.fits", ids=["M51"], obj="NGC 628") == ("MESSIER 051a", "format-id")
    assert identify(n, "x.fits", ids=[], obj="NGC 628") == ("", "")
    assert identify(n, "x.fits", obj="NGC 628") == ("MESSIER 074", "object")
    assert identify(n, "x.fits", obj="ngc 0628") == ("MESSIER 074", "object")      # any spelling
    assert identify(n, "x.fits", obj="NGC 628/IC 9999") == ("MESSIER 074", "object")  # a pair
    # OBJECT placeholders name nothing; a survey-style file name is looked up too
    assert identify(n, "ngc628_mips24.fits", obj="UNKNOWN") == ("MESSIER 074", "survey-name")
    assert identify(n, "NGC628_IC342_x.fits", obj="M51") == ("MESSIER 051a", "object")


def test_a_raw_survey_stem_is_never_the_galaxy():
    n = _names()
    for name in ("ngc628 24um.fits", "ngc628_mips24.fits", "manga-8485-1901-LOGCUBE.fits.gz",
                 "0001-of-0001.hdf5", "ngc4826.co10.fits", "NGC4826_hera_co21.cube.fits",
                 "NGC_4826_NA_CUBE_THINGS.FITS", "hera_ngc628.co21.fits"):
        assert identify(n, name) == ("", ""), name
    # sfng's own form with a galaxy the store does not know (yet): the name as written
    assert identify(n, "NGC_2403.ngc2403_mom0.fits") == ("NGC 2403", "name-form")
    assert identify(n, "MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz") == ("MaNGA 1-209232",
                                                                            "name-form")
    # ... but anything the store does know about the file comes first
    assert identify(_names(NGC_628="MESSIER 074"), "NGC_2403.x.fits", obj="NGC 628") == \
        ("MESSIER 074", "object")


def test_overrides_and_the_galaxy_table_win(store):
    from sfng.galaxies import Galaxy, merge_galaxies

    r = Resolver(store, offline=True)
    r.import_cache(ned_cache_path())
    r.set_override("NGC 5194", "NGC 5194 (override)")
    merge_galaxies(store, [Galaxy("MESSIER 074", ("NGC 628", "Phantom"))])
    n = Names.of_store(store)
    assert identify(n, "x.fits", obj="NGC 5194") == ("NGC 5194 (override)", "object")
    # an override of the NED name applies to every alias (Resolver semantics)
    assert identify(n, "x.fits", obj="M51")[0] == "MESSIER 051a"
    assert identify(n, "x.fits", obj="Phantom") == ("MESSIER 074", "object")   # table alias
    assert n.position("NGC 628") == pytest.approx((24.173946, 15.783662))


def test_names_are_looked_up_once(monkeypatch):
    from sfng import naming

    n = _names(NGC_628="MESSIER 074")
    calls = []
    real = naming.normalise
    monkeypatch.setattr(naming, "normalise", lambda s: calls.append(s) or real(s))
    for _ in range(50):
        n.lookup("NGC 628")
    assert len(calls) <= 2


# ---------------------------------------------------------------------------------------------
# An adopted store of plain survey downloads
# ---------------------------------------------------------------------------------------------

def test_adopted_store_galaxies_from_object(adopted, cli):
    from sfng.index.build import build_index

    rep = build_index(adopted, validate=False)
    rows, gal = _rows(adopted)
    assert rows["data/SINGS/ngc628_mips24.fits"] == ("MESSIER 074", "object")
    assert rows["data/BIMA/ngc628 co10 cube.fits"] == ("MESSIER 074", "object")
    assert rows["data/SINGS/ngc5194_mips24.fits"] == ("MESSIER 051a", "object")
    assert rows["data/HALPHA/ngc5194_ha.fits"] == ("MESSIER 051a", "object")
    assert rows["data/NRO/ic342.co10.fits"] == ("IC 0342", "file-name")   # 'ic342' is known
    assert rows["data/SINGS/mosaic_0001.fits"] == ("", "")
    assert rows["data/SINGS/ddo154_mips24.fits"] == ("", "")
    assert rep.galaxy_src == {"object": 5, "file-name": 1, "": 2}
    assert any(line.startswith("  galaxy from: 5 object") for line in rep.lines())
    # GALAXIES: the galaxies the files name, positions from the NED cache
    g = {str(n): (int(k), float(ra)) for n, k, ra in zip(gal["name"], gal["n_files"], gal["ra"])}
    assert g["MESSIER 074"] == (2, pytest.approx(24.173946))
    assert g["MESSIER 051a"][0] == 3 and "ngc628 co10 cube" not in " ".join(g)

    r = cli("find", "--store", adopted.root, "--galaxy", "NGC 628", "--format", "json")
    assert r.exit_code == 0, r.output
    got = sorted(f["path"] for f in json.loads(r.output))
    assert got == ["data/BIMA/ngc628 co10 cube.fits", "data/SINGS/ngc628_mips24.fits"]
    r = cli("info", "--store", adopted.root, "M74", "--format", "json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["galaxy"] == "MESSIER 074" and len(info["files"]) == 2
    r = cli("find", "--store", adopted.root, "--has", "MIPS24", "--lacks", "HALPHA",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert sorted({f["galaxy"] for f in json.loads(r.output)}) == ["MESSIER 074"]


def test_use_cases_2_and_3_on_an_adopted_store(adopted):
    from sfng.index.build import build_index
    from sfng.query import load_index, select, use_case

    build_index(adopted, validate=False)
    idx = load_index(store=adopted)
    two = select(idx, use_case(2))
    assert two.galaxies == ["MESSIER 074"]                 # M51 has H-alpha, IC 342 no MIPS24
    assert sorted(two.paths()) == ["data/BIMA/ngc628 co10 cube.fits", "data/SINGS/ngc628_mips24.fits"]
    three = select(idx, use_case(3))
    assert three.paths() == ["data/NRO/ic342.co10.fits"]


def test_get_and_release_follow_the_identity(adopted, cli, tmp_path):
    from sfng.index.build import build_index
    from sfng.release import bundle, plan_bundle
    from sfng.select import Selection

    build_index(adopted)
    dest = tmp_path / "out"
    r = cli("get", "--store", adopted.root, "NGC 628", "--to", dest)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dest.rglob("*.fits")) == ["ngc628 co10 cube.fits", "ngc628_mips24.fits"]
    plan = plan_bundle(adopted, "m74", selection=Selection.build(galaxies=("NGC 628",)),
                       allow_invalid=True)
    res = bundle(adopted, plan)
    from sfng.index.io import read_index

    files, _, _ = read_index(Path(res.path) / "SFNG-INDEX.fits")
    assert {(str(g), str(s)) for g, s in zip(files["galaxy"], files["galaxy_src"])} == \
        {("MESSIER 074", "object")}


def test_links_bygalaxy_groups_adopted_files(adopted, cli):
    from sfng.index.build import build_index
    from sfng.links import build_bygalaxy

    # without an index: the same rules, offline, reading the headers it needs
    rep = build_bygalaxy(adopted)
    assert rep.ok, rep.problems
    base = adopted.root / "data" / "bygalaxy"
    assert sorted(p.name for p in (base / "MESSIER_074").iterdir()) == \
        ["ngc628 co10 cube.fits", "ngc628_mips24.fits"]
    assert len(list((base / "MESSIER_051a").iterdir())) == 3
    assert sorted(rep.unnamed) == ["data/SINGS/ddo154_mips24.fits", "data/SINGS/mosaic_0001.fits"]
    # with the index (the CLI reads it): the index's galaxies, nothing changes
    build_index(adopted, validate=False)
    r = cli("links", "bygalaxy", "--store", adopted.root, "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["created"] == got["removed"] == [] and got["kept"] == 6


def test_rebuild_follows_the_name_tables_without_reading_files(adopted, monkeypatch):
    from sfng.index import describe
    from sfng.index.build import build_index

    build_index(adopted, validate=False)
    Resolver(adopted, offline=True).set_override("DDO 154", "DDO 154")
    seen = []
    real = describe.describe_file
    monkeypatch.setattr(describe, "describe_file", lambda ctx, st=None: seen.append(ctx) or real(ctx, st))
    rep = build_index(adopted, validate=False)
    assert rep.described == 0 and not seen
    rows, gal = _rows(adopted)
    assert rows["data/SINGS/ddo154_mips24.fits"] == ("DDO 154", "object")
    assert "DDO 154" in [str(n) for n in gal["name"]]
    # nothing changed since: the index is left as it is
    assert build_index(adopted, validate=False).unchanged


def test_ingest_without_rename_keeps_the_name_and_the_index_finds_the_galaxy(store, tmp_path):
    from sfng import ingest
    from sfng.index.build import build_index

    Resolver(store, offline=True).import_cache(ned_cache_path())
    src = tmp_path / "SINGS"
    _mips(src / "ngc628_mips24.fits", "NGC628")
    rep = ingest.execute(ingest.plan_ingest(store, src, offline=True, validate=False))
    assert rep.ok
    assert (store.root / "data" / "SINGS" / "ngc628_mips24.fits").is_file()
    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows["data/SINGS/ngc628_mips24.fits"] == ("MESSIER 074", "object")


def test_manifest_galaxy_names_a_file_the_name_does_not(store):
    from sfng import manifest as mf
    from sfng.index.build import build_index

    p = _mips(store.root / "data" / "PAWS" / "paws_cube.fits", None, **M51)
    mf.append(p.parent, [mf.Entry(p.name, "0" * 64, p.stat().st_size, None, (), "MESSIER 051a")])
    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows["data/PAWS/paws_cube.fits"] == ("MESSIER 051a", "manifest")


# ---------------------------------------------------------------------------------------------
# MaNGA: the MaNGA-ID key ingest records in the NED cache
# ---------------------------------------------------------------------------------------------

def test_manga_products_ingested_without_rename_take_their_mangaid_entry(store, tmp_path):
    from sfng import ingest
    from sfng.demo import manga as mangagen
    from sfng.index.build import build_index
    from sfng.surveys import manga

    target = mangagen.DEMO_TARGETS[0]   # MaNGA-ID 1-209232
    src = tmp_path / "MANGA"
    src.mkdir()
    mangagen.write_cube(src / mangagen.cube_name("8485-1901"), target, nwave=8)
    (src / "MANGA_README.txt").write_text(manga.readme_text("MANGA"))
    gz = tmp_path / "GZ3D"
    gz.mkdir()
    mangagen.write_gz3d(gz / mangagen.gz3d_name("1-209232", 19, 20937850), target, size=32)
    for folder in (src, gz):
        rep = ingest.execute(ingest.plan_ingest(store, folder, offline=True, validate=False))
        assert rep.ok, [o.message for o in rep.outcomes]
    cube = "data/MANGA/manga-8485-1901-LOGCUBE.fits.gz"
    assert (store.root / cube).is_file()

    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows[cube] == ("", "")   # the cache does not know the MaNGA-ID: unknown, not the stem

    # what ingest --ned-rename records for it (NED's answer by position)
    Resolver(store, offline=True).remember("MaNGA 1-209232", "CGCG 249-009", 232.5447, 48.6902,
                                           "ned-position")
    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows[cube] == ("CGCG 249-009", "format-id")
    gz3d = [p for p in rows if p.startswith("derived/GZ3D/")]
    assert gz3d and {rows[p] for p in gz3d} == {("CGCG 249-009", "format-id")}

    # the fallback name ingest records when NED has none is a name too
    Resolver(store, offline=True).remember("MaNGA 1-209232", "MaNGA 1-209232", None, None,
                                           manga.FALLBACK_SOURCE)
    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows[cube] == ("MaNGA 1-209232", "format-id")


def test_manga_format_identify_hook():
    from sfng import formats

    fmt = formats.by_name("manga-drp-cube")
    assert fmt.identify("x.fits.gz", {"extra": "plateifu=8485-1901;mangaid=1-209232", "locator": ""}) \
        == ["MaNGA 1-209232"]
    assert formats.by_name("mmu-hdf5").identify("x.hdf5", {"extra": "plateifu=8485-1901",
                                                            "locator": "#8485-1901"}) == []
    assert formats.Format().identify("x.fits") is None


# ---------------------------------------------------------------------------------------------
# Opt-in NED look-ups: names, then positions
# ---------------------------------------------------------------------------------------------

def test_resolve_names_asks_ned_by_name_then_position(store, monkeypatch):
    from test_ned import FakeNed

    from sfng.index.build import build_index

    name, ra, dec = NEAR_GALAXY
    _mips(store.root / "data" / "SINGS" / "field_0001.fits", None, _RA=ra, _DEC=dec)
    _mips(store.root / "data" / "SINGS" / "n4826_mips24.fits", "NGC4826", _RA=194.18, _DEC=21.68)
    rep = build_index(store, validate=False)                       # offline: nothing asked
    rows, _ = _rows(store)
    assert rows["data/SINGS/field_0001.fits"] == ("", "")
    assert rows["data/SINGS/n4826_mips24.fits"] == ("", "")

    fake = FakeNed()
    online = Resolver(store, transport=fake, env={})
    rep = build_index(store, validate=False, resolve_names=True, resolver=online)
    rows, _ = _rows(store)
    assert rows["data/SINGS/n4826_mips24.fits"] == ("MESSIER 064", "object")
    assert rows["data/SINGS/field_0001.fits"] == (name, "position")
    assert rep.described == 0 and rep.reused == 2
    # the name answer is cached: the next offline build knows it; the position row is kept
    assert Resolver(store, offline=True).lookup("NGC4826")["ned_name"] == "MESSIER 064"
    n = len(fake.calls)
    build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows["data/SINGS/field_0001.fits"] == (name, "position")
    assert len(fake.calls) == n


def test_resolve_names_offline_stays_unknown_and_says_why(store):
    from sfng.index.build import build_index

    _mips(store.root / "data" / "SINGS" / "field_0001.fits", None)
    rep = build_index(store, validate=False, resolve_names=True,
                      resolver=Resolver(store, offline=True))
    rows, _ = _rows(store)
    assert rows["data/SINGS/field_0001.fits"] == ("", "")
    assert any("offline" in n for n in rep.notes)


def test_unreadable_name_tables_do_not_stop_the_build(store):
    from sfng.index.build import build_index

    store.table_path("ned.cache").parent.mkdir(parents=True, exist_ok=True)
    store.table_path("ned.cache").write_text("not,a,cache\n1,2,3\n")
    _mips(store.root / "data" / "SINGS" / "MESSIER_074.m74.fits", "NGC 628")
    rep = build_index(store, validate=False)
    rows, _ = _rows(store)
    assert rows["data/SINGS/MESSIER_074.m74.fits"] == ("MESSIER 074", "name-form")
    assert any("not a sfng names table" in n for n in rep.notes)
