"""End to end: every FITS name ingest lands as data is a row of the index, .fits.fz included,
and find / get / release carry it.

The store is made by ``sfng init``, the survey ingested through :func:`sfng.ingest.ingest` (NED
replaced by a small resolver), the index built and queried through the CLI.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

from sfng.errors import SfngError
from sfng.fitsname import is_compressed_name, is_fits_name

NED = {"NGC628": ("MESSIER 074", 24.173946, 15.783662), "M74": ("MESSIER 074", 24.173946, 15.783662),
       "NGC5194": ("MESSIER 051a", 202.469629, 47.195172), "M51": ("MESSIER 051a", 202.469629, 47.195172)}


class NotFound(SfngError):
    """Named like sfng.ned.NotFound, which ingest recognises by name."""


class Resolver:
    """Answers like sfng.ned.Resolver for the two galaxies of the survey."""

    def resolve(self, name):
        key = re.sub(r"(?<=[A-Z])0+(?=\d)", "", name.upper().replace(" ", "").replace("_", ""))
        hit = NED.get(key)
        if hit is None:
            raise NotFound(f"NED has no object named {name!r}")
        return SimpleNamespace(input=name, ned_name=hit[0], ra=hit[1], dec=hit[2], source="cache")

    def by_position(self, ra, dec, radius_arcsec=30.0):
        return None


def header(shape, obj, ra, dec, spectral="FREQ", bunit="K"):
    """Survey keywords: OBJECT, BUNIT, the beam, a SIN celestial WCS, FREQ or VRAD."""
    ny, nx = shape[-2:]
    h = fits.Header()
    h["OBJECT"], h["TELESCOP"], h["BUNIT"] = obj, "ALMA", bunit
    h["BMAJ"], h["BMIN"], h["BPA"] = 1.1 / 3600, 0.9 / 3600, 12.0
    h.update({"CTYPE1": "RA---SIN", "CRVAL1": ra, "CDELT1": -0.25 / 3600, "CRPIX1": nx / 2, "CUNIT1": "deg",
              "CTYPE2": "DEC--SIN", "CRVAL2": dec, "CDELT2": 0.25 / 3600, "CRPIX2": ny / 2, "CUNIT2": "deg"})
    if len(shape) == 3:
        if spectral == "FREQ":
            h.update({"CTYPE3": "FREQ", "CRVAL3": 230.2e9, "CDELT3": -1.9e6, "CRPIX3": 1.0, "CUNIT3": "Hz"})
        else:
            h.update({"CTYPE3": "VRAD", "CRVAL3": 657e3, "CDELT3": 2540.0, "CRPIX3": 1.0, "CUNIT3": "m/s"})
        h["SPECSYS"], h["RESTFRQ"] = "LSRK", 230.538e9
    return h


def _data(shape, seed):
    return np.random.default_rng(seed).normal(0.0, 0.05, size=shape).astype("f4")


def _plain(path, shape, obj, ra, dec, seed, **kw):
    fits.PrimaryHDU(_data(shape, seed), header(shape, obj, ra, dec, **kw)).writeto(path)
    return path


def _gzipped(path, shape, obj, ra, dec, seed, **kw):
    tmp = _plain(path.with_name(path.name + ".tmp"), shape, obj, ra, dec, seed, **kw)
    with open(tmp, "rb") as f, gzip.open(path, "wb") as g:
        g.write(f.read())
    tmp.unlink()
    return path


def _packed(path, shape, obj, ra, dec, seed, **kw):
    """Tile-compressed as fpack writes it: an empty primary, the image in a ZIMAGE table."""
    data = _data(shape, seed)
    h = fits.PrimaryHDU(data, header(shape, obj, ra, dec, **kw)).header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, h, compression_type="RICE_1")]).writeto(path)
    return path


CUBE, IMAGE = (5, 12, 14), (12, 14)
M74, M51 = ("NGC 628", 24.173946, 15.783662), ("NGC 5194", 202.469629, 47.195172)

#: The survey folder as published: one file per FITS spelling.
SURVEY = [
    ("ngc628_co21_12m.fits", _plain, CUBE, M74, {"spectral": "FREQ"}),
    ("ngc628_co21_7m.fits.gz", _gzipped, CUBE, M74, {"spectral": "VRAD"}),
    ("ngc5194_co21_12m.fits.fz", _packed, CUBE, M51, {"spectral": "FREQ"}),
    ("ngc5194_co21_mom0.fit", _plain, IMAGE, M51, {"bunit": "K km/s"}),
    ("NGC628_CO21_TPEAK.FTS", _plain, IMAGE, M74, {}),
]


def make_survey(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for i, (name, write, shape, (obj, ra, dec), kw) in enumerate(SURVEY):
        write(folder / name, shape, obj, ra, dec, seed=i, **kw)
    (folder / "PHANGS_README.txt").write_text("BUNIT = K\n---\nPHANGS-ALMA-like CO(2-1) cubes and maps.\n")
    (folder / "leroy2021.pdf").write_bytes(b"%PDF-1.4 fake\n")
    return folder


@pytest.fixture
def e2e_store(tmp_path, cli):
    root = tmp_path / "store"
    res = cli("init", root, "--name", "e2e")
    assert res.exit_code == 0, res.output
    from sfng.store import Store

    return Store.open(root)


def _ingest(store, src):
    from sfng import ingest as ing

    return ing.ingest(store, src, ned_rename=True, resolver=Resolver(), validate=True)


def landed_data(root: Path) -> set[str]:
    """Every file ingest put into data/ or derived/ as data (READMEs, manifests excluded)."""
    out = set()
    for tree in ("data", "derived"):
        for p in (root / tree).rglob("*"):
            if p.is_file() and not p.is_symlink() and p.name != "MANIFEST.sha256" \
                    and not p.name.endswith("_README.txt") and p.name != "README.md":
                out.add(p.relative_to(root).as_posix())
    return out


def indexed(root: Path) -> set[str]:
    from sfng.index.io import read_index

    files, _, _ = read_index(root / "SFNG-INDEX.fits")
    return {p.decode() if isinstance(p, bytes) else str(p) for p in files["path"]}


def _build(cli, root):
    res = cli("--store", root, "index", "build", "--jobs", "1")
    assert res.exit_code == 0, res.output
    return res


def test_everything_ingest_lands_as_data_the_index_lists(e2e_store, tmp_path, cli):
    root = Path(e2e_store.root)
    _ingest(e2e_store, make_survey(tmp_path / "PHANGS"))
    landed = landed_data(root)
    assert len(landed) == len(SURVEY), landed       # every spelling landed, in data/, validated
    assert all(p.startswith("data/PHANGS/") and is_fits_name(Path(p).name) for p in landed)
    assert not list((root / "uncalibrated").rglob("*.f*"))

    _build(cli, root)
    assert indexed(root) == landed

    # find returns the tile-compressed cube, described as the cube it holds
    res = cli("--store", root, "find", "--galaxy", "MESSIER 051a", "--type", "cube", "--format", "json",
              "--columns", "path,naxis,naxis1,naxis3,tracer,bunit,res,product")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    (fz,) = [r for r in rows if is_compressed_name(Path(r["path"]).name)]
    assert fz["path"] == "data/PHANGS/MESSIER_051a.ngc5194_co21_12m.fits.fz"
    assert fz["naxis"] == 3 and fz["naxis1"] == CUBE[2] and fz["naxis3"] == CUBE[0]
    assert fz["tracer"] == "CO(2-1)" and fz["bunit"] == "K" and fz["res"] == pytest.approx(1.1)
    res = cli("--store", root, "find", "--line", "CO21", "--format", "paths")
    assert "data/PHANGS/MESSIER_051a.ngc5194_co21_12m.fits.fz" in res.output.split()
    assert set(res.output.split()) == {p for p in landed if "mom0" not in p and "TPEAK" not in p}

    # get carries it, checksum-verified
    out = tmp_path / "m51"
    res = cli("--store", root, "get", "MESSIER 051a", "-o", out)
    assert res.exit_code == 0, res.output
    got = out / "data" / "PHANGS" / "MESSIER_051a.ngc5194_co21_12m.fits.fz"
    assert got.read_bytes() == (root / fz["path"]).read_bytes()
    assert "MESSIER_051a.ngc5194_co21_12m.fits.fz" in (out / "data" / "PHANGS" / "MANIFEST.sha256").read_text()

    # and so does a release, whose own index lists it
    res = cli("--store", root, "release", "bundle", "m51", "--galaxy", "MESSIER 051a")
    assert res.exit_code == 0, res.output
    rel = root / "release" / "m51"
    assert (rel / fz["path"]).is_file()
    assert fz["path"] in indexed(rel)


def test_tile_compressed_and_plain_cube_give_the_same_row(e2e_store, tmp_path, cli):
    """The same cube as .fits and .fits.fz: one index row each, alike but for where the file is."""
    root = Path(e2e_store.root)
    src = tmp_path / "PHANGS"
    src.mkdir()
    _plain(src / "ngc628_co21.fits", CUBE, *M74, seed=3)
    _packed(src / "ngc628_co21_packed.fits.fz", CUBE, *M74, seed=3)
    _ingest(e2e_store, src)
    _build(cli, root)
    from sfng.index.io import read_index

    files, _, _ = read_index(root / "SFNG-INDEX.fits")
    names = [Path(p.decode() if isinstance(p, bytes) else str(p)).name for p in files["path"]]
    a = files[names.index("MESSIER_074.ngc628_co21.fits")]
    b = files[names.index("MESSIER_074.ngc628_co21_packed.fits.fz")]
    assert (a["hdu"], b["hdu"]) == (0, 1) and b["product"] in ("cube", b"cube")
    for key in set(files.colnames) - {"path", "size", "mtime", "sha256", "hdu"}:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype.kind == "f":
            assert np.allclose(x, y, rtol=1e-12, equal_nan=True), key
        else:
            assert np.array_equal(x, y), key


def _fits_in_disguise(folder: Path):
    """FITS data under names that are not FITS names (sfng.fitsname)."""
    _plain(folder / "ngc628_co21.fits", CUBE, *M74, seed=5)
    raw = (folder / "ngc628_co21.fits").read_bytes()
    (folder / "ngc628_co21_bz.fits.bz2").write_bytes(bz2.compress(raw))
    shutil.copy(folder / "ngc628_co21.fits", folder / "ngc628_co21_raw_cube")


def test_ingest_lands_no_data_the_index_would_skip(e2e_store, tmp_path, cli):
    root = Path(e2e_store.root)
    src = tmp_path / "PHANGS"
    src.mkdir()
    _fits_in_disguise(src)
    _ingest(e2e_store, src)
    _build(cli, root)
    assert indexed(root) == landed_data(root)


def test_fits_under_a_name_sfng_cannot_index_is_a_per_file_error(e2e_store, tmp_path):
    from sfng.ingest import plan_ingest

    src = tmp_path / "PHANGS"
    src.mkdir()
    _fits_in_disguise(src)
    plan = plan_ingest(e2e_store, src, validate=False)
    by = {i.rel: i for i in plan.items}
    assert by["ngc628_co21.fits"].action == "land"
    bz, raw = by["ngc628_co21_bz.fits.bz2"], by["ngc628_co21_raw_cube"]
    assert bz.action == "error" and "recompress it with gzip or fpack" in bz.problems[0]
    assert raw.action == "error" and "rename it to end in .fits" in raw.problems[0]
