"""The format registry: a small fake format, registered at run time, is ingested, validated,
indexed and found without any change to generic code."""

import json

import numpy as np
import pytest
from astropy.io import fits

from sfng import formats

GALAXY = "NGC 1512"


class ToyFormat(formats.Format):
    """A made-up survey product: ``<id>.toy.fits`` = PRIMARY (no data, TOYGAL names the galaxy),
    PREVIEW (a uint8 thumbnail without WCS or units) and SCI (the science image)."""

    name = "toy-survey"
    description = "Toy survey stamps (tests)"

    def claims_name(self, name):
        return name.endswith(".toy.fits")

    def landing(self, path):
        return ("derived", "TOY")

    def name_galaxy(self, path, resolver):
        galaxy = fits.getheader(path, 0).get("TOYGAL")
        if not galaxy:
            raise formats.NamingError("toy stamp without TOYGAL")
        return formats.Naming(galaxy, input_name=f"TOYGAL {galaxy!r}", how="TOYGAL keyword",
                              notes=["named by the toy format"])

    def science_hdu(self, path):
        return "SCI"

    def describe(self, path, headers=None, *, store_root=None, measure_depth=False):
        h = fits.getheader(path, "SCI")
        ra, dec = float(h["CRVAL1"]), float(h["CRVAL2"])
        return [{"product": "image", "tracer": "TOY-BAND", "tracer_src": "plugin", "locator": "[SCI]",
                 "ra": ra, "dec": dec, "extra": f"toyid={fits.getheader(path, 0)['TOYID']}"}]

    def readme_text(self, survey):
        return "BUNIT = MJy/sr\n---\nToy survey stamps, written by the toy format.\n"


def write_toy(path, toyid, galaxy=GALAXY, ra=60.975, dec=-43.349):
    prim = fits.PrimaryHDU()
    prim.header["TOYID"] = toyid
    if galaxy:
        prim.header["TOYGAL"] = galaxy
    preview = fits.ImageHDU(np.zeros((4, 4), dtype=np.uint8), name="PREVIEW")
    sci = fits.ImageHDU(np.ones((20, 20), dtype=np.float32), name="SCI")
    for k, v in {"BUNIT": "MJy/sr", "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": ra,
                 "CRVAL2": dec, "CRPIX1": 10.5, "CRPIX2": 10.5, "CDELT1": -1 / 3600, "CDELT2": 1 / 3600,
                 "CUNIT1": "deg", "CUNIT2": "deg", "RADESYS": "ICRS", "EQUINOX": 2000.0,
                 "BMAJ": 2 / 3600, "BMIN": 2 / 3600, "BPA": 0.0, "OBJECT": "field"}.items():
        sci.header[k] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([prim, preview, sci]).writeto(path)
    return path


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(formats, "_registered", formats.registered())  # a copy, restored after
    formats.register(ToyFormat)
    return formats.by_name("toy-survey")


def test_registry_basics(toy):
    assert formats.claim_name("a.toy.fits") is toy and formats.claim_name("a.fits") is None
    assert [f.name for f in formats.registered()][-1] == "toy-survey"
    # the built-in survey formats come through the same entry point a third party would use
    assert {"manga-drp-cube", "manga-dap-maps", "gz3d", "mmu-hdf5"} <= {f.name for f in formats.registered()}
    formats.register(ToyFormat, first=True)  # re-registering replaces, never duplicates
    assert [f.name for f in formats.registered()].count("toy-survey") == 1
    assert formats.registered()[0].name == "toy-survey"
    with pytest.raises(formats.SfngError, match="no format"):
        formats.by_name("nope")


def test_default_hooks_mean_generic_behaviour():
    f = formats.Format()
    assert f.landing("x.fits") is None and f.name_galaxy("x.fits", None) is None
    assert f.science_hdu("x.fits") is None and f.index_headers("x.fits") == (None, None)
    assert f.readme_text("S") is None and f.ingest_refusal("x.fits") is None


def test_a_registered_format_is_ingested_validated_indexed_and_found(toy, store, tmp_path, cli):
    from sfng.index.build import build_index
    from sfng.index.io import read_index
    from sfng.ingest import execute, plan_ingest
    from sfng.validate import validate_paths

    src = tmp_path / "TOY"
    write_toy(src / "s001.toy.fits", 1)
    write_toy(src / "s002.toy.fits", 2)
    write_toy(src / "s003.toy.fits", 3, galaxy=None)  # the format cannot name it: per-file error

    plan = plan_ingest(store, src, ned_rename=True, offline=True)
    assert plan.tree == "derived"  # the format's landing rule: derived products never go to data/
    by = {i.rel: i for i in plan.items}
    assert by["s001.toy.fits"].galaxy == GALAXY and by["s001.toy.fits"].how == "TOYGAL keyword"
    assert "named by the toy format" in by["s001.toy.fits"].notes
    assert by["s003.toy.fits"].action == "error" and "without TOYGAL" in by["s003.toy.fits"].problems[0]
    # validated on SCI (the format's science HDU), not on the unit-less PREVIEW thumbnail
    assert by["s001.toy.fits"].validation is None and by["s001.toy.fits"].dest.startswith("derived/TOY/")
    readme = [i for i in plan.items if i.kind == "readme"][0]
    assert readme.action == "create" and "toy-survey" in " ".join(readme.notes)
    report = execute(plan)
    assert not [o for o in report.outcomes if o.item.kind == "data" and o.item.action == "land" and not o.ok]
    landed = sorted(p.name for p in (store.root / "derived" / "TOY").glob("*.toy.fits"))
    assert landed == ["NGC_1512.s001.toy.fits", "NGC_1512.s002.toy.fits"]
    assert "written by the toy format" in (store.root / "derived/TOY/TOY_README.txt").read_text()

    reports = [r for r in validate_paths(store=store) if r.path.name.endswith(".toy.fits")]
    assert len(reports) == 2 and all(not r.errors for r in reports)
    assert all(r.hdu == 2 for r in reports)  # the SCI extension

    build_index(store)
    files, _, _ = read_index(store.index_path)
    paths = np.asarray(files["path"]).astype(str)
    rows = [i for i, p in enumerate(paths) if p.endswith(".toy.fits")]
    assert len(rows) == 2
    for i in rows:
        assert str(files["tracer"][i]) == "TOY-BAND" and str(files["locator"][i]) == "[SCI]"
        assert str(files["galaxy"][i]) == GALAXY and bool(files["valid"][i])
        assert files["ra"][i] == pytest.approx(60.975)

    got = cli("find", "--store", store.root, "--galaxy", GALAXY, "--format", "json")
    assert got.exit_code == 0, got.output
    found = json.loads(got.output[got.output.index("["):])
    assert sorted(r["path"] for r in found) == ["derived/TOY/NGC_1512.s001.toy.fits",
                                                "derived/TOY/NGC_1512.s002.toy.fits"]


def test_without_the_format_the_same_files_are_plain_fits(store, tmp_path):
    """Nothing in generic code knows the toy format: unregistered, its files are plain FITS."""
    from sfng.ingest import plan_ingest

    src = tmp_path / "TOY"
    write_toy(src / "s001.toy.fits", 1)
    plan = plan_ingest(store, src, ned_rename=False)
    assert plan.tree == "data"
    item = [i for i in plan.items if i.kind == "data"][0]
    # judged on PREVIEW (the first HDU holding data), which has no units nor WCS
    assert item.validation is not None
