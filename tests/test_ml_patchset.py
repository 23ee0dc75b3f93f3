"""`sfng ml patches` and `sfng ml split`: patches around labelled spaxels of prepared cubes (the
real layouts: a rest cube's FLUX HDU with PLATEIFU/MANGAID, a label map with CLASSn cards), in one
compact file, then split by galaxy into one file per split with no galaxy on two sides."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

NWAVE, NY, NX = 12, 9, 10
CLASSES = {0: "UNKNOWN", 1: "SF", 2: "COMP", 3: "AGN"}


def _cube(path, plateifu, mangaid, rng):
    flux = rng.uniform(0.5, 2.0, (NWAVE, NY, NX)).astype(np.float32)
    prim = fits.PrimaryHDU()
    prim.header.update(PLATEIFU=plateifu, MANGAID=mangaid)
    h = fits.Header()
    h.update(CTYPE3="WAVE-LOG", CUNIT3="Angstrom", CRVAL3=5000.0, CD3_3=1.0, CRPIX3=1.0)
    fits.HDUList([prim, fits.ImageHDU(flux, h, name="FLUX")]).writeto(path)
    return flux


def _labels(path, rng, shape=(NY, NX)):
    codes = rng.integers(0, 4, shape).astype(np.int16)
    h = fits.Header()
    h["MLTASK"] = "bpt"
    for k, v in CLASSES.items():
        h[f"CLASS{k}"] = v
    fits.PrimaryHDU(codes, h).writeto(path)
    return codes


@pytest.fixture
def sample(tmp_path):
    rng = np.random.default_rng(3)
    cubes, labels, truth = tmp_path / "cubes", tmp_path / "labels", {}
    cubes.mkdir()
    labels.mkdir()
    # six galaxies; 1-100 observed twice (two plate-IFUs): one galaxy, one split
    for i, (pifu, mid) in enumerate([("8485-1901", "1-100"), ("8486-1902", "1-100"), ("8487-3701", "1-200"),
                                     ("8488-3702", "1-300"), ("8489-6101", "1-400"), ("8490-6102", "1-500"),
                                     ("8491-9101", "1-600")]):
        flux = _cube(cubes / f"MaNGA_{pifu}.manga_{pifu}_restcube.fits", pifu, mid, rng)
        codes = _labels(labels / f"manga-{pifu}-MAPS-HYB10-MILESHC-MASTARSSP_bpt.fits", rng)
        truth[pifu] = (flux, codes, mid)
    return cubes, labels, truth


def test_patches_are_the_cube_around_each_labelled_spaxel(cli, sample, tmp_path):
    cubes, labels, truth = sample
    out = tmp_path / "p.npz"
    r = cli("ml", "patches", *sorted(cubes.iterdir()), "--labels", labels, "--size", "5", "--norm", "none",
            "-o", out, "--format", "json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    d = np.load(out, allow_pickle=False)
    n = sum(int((c != 0).sum()) for _, c, _ in truth.values())
    assert rep["patches"] == n == len(d["y"]) and d["x"].shape == (n, NWAVE, 5, 5)
    assert list(d["classes"]) == ["SF", "COMP", "AGN"]          # UNKNOWN (code 0) left out
    assert (d["classes"][d["y"]] == np.array([CLASSES[int(c)] for c in d["code"]])).all()
    for k in range(0, n, 7):
        flux, codes, mid = truth[str(d["plateifu"][k])]
        y, x = d["centre"][k]
        assert codes[y, x] == d["code"][k] and d["galaxy"][k] == mid
        pad = np.pad(flux, ((0, 0), (2, 2), (2, 2)))
        np.testing.assert_array_equal(d["x"][k], pad[:, y:y + 5, x:x + 5])


def test_a_cube_without_its_label_map_is_a_message_and_the_rest_goes_on(cli, sample, tmp_path):
    cubes, labels, truth = sample
    next(labels.glob("*8491-9101*")).unlink()
    bad = labels / "manga-8490-6102-MAPS-HYB10-MILESHC-MASTARSSP_bpt.fits"
    bad.unlink()
    _labels(bad, np.random.default_rng(0), shape=(NY + 1, NX))
    r = cli("ml", "patches", *sorted(cubes.iterdir()), "--labels", labels, "-o", tmp_path / "p.npz")
    assert r.exit_code == 1
    assert "no label map for 8491-9101" in r.output and "spaxels, the cube" in r.output
    assert "Traceback" not in r.output
    d = np.load(tmp_path / "p.npz")
    assert set(d["plateifu"].tolist()) == set(truth) - {"8491-9101", "8490-6102"}


def test_split_keeps_every_galaxy_whole_and_every_patch(cli, sample, tmp_path):
    cubes, labels, _ = sample
    data = tmp_path / "p.npz"
    assert cli("ml", "patches", *sorted(cubes.iterdir()), "--labels", labels, "-o", data).exit_code == 0
    r = cli("ml", "split", data, "--seed", "4", "--fractions", "0.6,0.2,0.2", "-o", tmp_path / "s", "--format", "json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)
    parts = {s: np.load(tmp_path / "s" / f"{s}.npz", allow_pickle=False) for s in ("train", "val", "test")}
    whole = np.load(data)
    assert sum(len(p["y"]) for p in parts.values()) == len(whole["y"])          # nothing dropped
    sides = {s: set(p["galaxy"].tolist()) for s, p in parts.items()}
    assert not (sides["train"] & sides["val"]) and not (sides["train"] & sides["test"]) and not (sides["val"] & sides["test"])
    assert set().union(*sides.values()) == set(whole["galaxy"].tolist())
    assert set(parts["train"]["plateifu"][parts["train"]["galaxy"] == "1-100"].tolist()) in (set(), {"8485-1901", "8486-1902"})
    assert rec["leakage_check"] == "passed" and json.loads((tmp_path / "s" / "split.json").read_text())["seed"] == 4
    assert all(list(p["classes"]) == list(whole["classes"]) for p in parts.values())
    # seeded: the same split again
    r2 = cli("ml", "split", data, "--seed", "4", "--fractions", "0.6,0.2,0.2", "-o", tmp_path / "s2", "--format", "json")
    assert json.loads(r2.output)["galaxies"] == rec["galaxies"]


def test_split_refuses_a_leaky_assignment():
    from sfng.errors import SfngError
    from sfng.ml.splits import check_leakage

    with pytest.raises(SfngError, match="leakage: galaxies in more than one split: 1-100"):
        check_leakage(["1-100", "1-100", "1-200"], ["train", "test", "train"])
