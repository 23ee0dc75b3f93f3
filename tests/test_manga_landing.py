"""MaNGA products land file by file, whatever folder they arrive in: a LOGCUBE in data/MANGA, DAP
MAPS (judged by their line fluxes) in derived/MANGA-DAP, GZ3D in derived/GZ3D, the DRPall in
tables/MANGA; an SAS mirror is recognised and its survey names come from the products."""

import shutil

import numpy as np
import pytest

from sfng.demo import manga as mangagen
from sfng.surveys import manga

T1, T2 = mangagen.DEMO_TARGETS


@pytest.fixture
def mixed(tmp_path):
    """One folder as a user downloads it: a cube, its DAP maps and a GZ3D file side by side."""
    src = tmp_path / "downloads"
    src.mkdir()
    mangagen.write_cube(src / mangagen.cube_name(T1.plateifu), T1, nwave=16)
    mangagen.write_maps(src / mangagen.maps_name(T1.plateifu), T1)
    mangagen.write_gz3d(src / mangagen.gz3d_name(T1.mangaid, 19, T1.gz3d_subject), T1, size=32)
    return src


def _data(plan):
    return {i.rel.rsplit("/", 1)[-1]: i for i in plan.items if i.kind == "data"}


def test_a_mixed_folder_lands_each_product_where_it_belongs(mixed, store):
    from sfng.ingest import execute, plan_ingest

    plan = plan_ingest(store, mixed, ned_rename=True, offline=True)
    got = {name: i.dest.rsplit("/", 1)[0] for name, i in _data(plan).items()}
    assert got == {"manga-8485-1901-LOGCUBE.fits.gz": "data/MANGA",
                   "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz": "derived/MANGA-DAP",
                   "gz3d_1-209232_19_20937850.fits.gz": "derived/GZ3D"}
    # validated without --force: the maps by EMLINE_GFLUX (not SPX_SKYCOO, in arcsec), the cube
    # with its PSF (RFWHM) as the beam; nothing goes to uncalibrated/
    assert all(i.validation is None for i in _data(plan).values())
    readmes = {i.dest for i in plan.items if i.kind == "readme"}
    assert readmes == {"data/MANGA/MANGA_README.txt", "derived/MANGA-DAP/MANGA-DAP_README.txt",
                       "derived/GZ3D/GZ3D_README.txt"}
    assert not (store.root / "data" / "downloads").exists()
    rep = execute(plan)
    assert rep.ok, rep.summary()
    assert "DR17 Data Analysis Pipeline" in (store.root / "derived/MANGA-DAP/MANGA-DAP_README.txt").read_text()
    assert not (store.root / "data" / "downloads").exists()


def test_an_explicit_survey_keeps_the_folder_but_not_the_tree(mixed, store):
    from sfng.ingest import plan_ingest

    plan = plan_ingest(store, mixed, survey="MYMANGA", ned_rename=True, offline=True)
    got = sorted(i.dest.rsplit("/", 1)[0] for i in _data(plan).values())
    assert got == ["data/MYMANGA", "derived/MYMANGA", "derived/MYMANGA"]


def test_an_sas_mirror_is_ingested_as_the_products_say(store, tmp_path, cli):
    from sfng.index.build import build_index
    from sfng.index.io import read_index
    from sfng.ingest import execute, plan_ingest

    sas = tmp_path / "sas"
    mangagen.write_sas_mirror(sas, [T1, T2], nwave=8, gz3d_size=32)
    plan = plan_ingest(store, sas, ned_rename=True, offline=True)
    dests = sorted(i.dest for i in plan.items if i.dest and i.kind != "readme")
    assert "tables/MANGA/drpall-v3_1_1.fits" in dests
    assert any(d.startswith("tables/GZ3D/gz3d_metadata") for d in dests)
    folders = {d.rsplit("/", 1)[0] for d in dests}
    assert folders == {"data/MANGA", "derived/MANGA-DAP", "derived/GZ3D", "tables/MANGA", "tables/GZ3D"}
    rep = execute(plan)
    assert rep.ok, rep.summary()
    assert not (store.root / "data" / "sas").exists()

    build_index(store)
    files, _, _ = read_index(store.index_path)
    tracer = np.asarray(files["tracer"]).astype(str)
    path = np.asarray(files["path"]).astype(str)
    assert {p.split("/")[1] for p in path} == {"MANGA", "MANGA-DAP", "GZ3D"}
    assert (tracer == "HALPHA").sum() == 2  # one H-alpha flux map per plate-IFU
    valid = np.asarray(files["valid"])
    assert valid[np.char.startswith(path, "derived/MANGA-DAP/")].all()
    got = cli("find", "--store", store.root, "--line", "HALPHA", "--format", "paths")
    assert got.exit_code == 0 and got.output.count("MAPS-HYB10") == 2


def test_the_cube_psf_is_its_beam_for_validation(tmp_path):
    from sfng.validate import validate_file

    cube = mangagen.write_cube(tmp_path / mangagen.cube_name(T1.plateifu), T1, nwave=16)
    rep = validate_file(cube, tree="data", readme_metadata={}, display=cube.name)
    assert "beam-missing" not in rep.rule_ids() and rep.hdu == 1


def test_catalogues_are_not_index_products():
    from sfng import formats

    cat = formats.claim_name("drpall-v3_1_1.fits")
    assert cat is not None and cat.name == "manga-catalogue" and not cat.indexed
    assert formats.claim_name("drpall-v3_1_1.fits", indexed=True) is None
    assert cat.landing("drpall-v3_1_1.fits") == ("tables", "MANGA")
    assert manga.LANDING["maps"] == ("derived", "MANGA-DAP")


def test_maps_in_a_cube_folder_are_not_quarantined(store, tmp_path):
    """The issue's case: maps sharing a folder with cubes were judged by SPX_SKYCOO (arcsec)."""
    from sfng.ingest import plan_ingest

    src = tmp_path / "MANGA"
    src.mkdir()
    mangagen.write_cube(src / mangagen.cube_name(T1.plateifu), T1, nwave=16)
    shutil.copy(mangagen.write_maps(tmp_path / mangagen.maps_name(T1.plateifu), T1), src)
    plan = plan_ingest(store, src, ned_rename=True, offline=True)
    maps = [i for i in plan.items if "MAPS" in i.rel][0]
    assert maps.dest.startswith("derived/MANGA-DAP/") and maps.validation is None
