"""Leakage-free splits by galaxy, reproducible from the seed; patches around labelled spaxels."""

import numpy as np
import pytest

from sfng.errors import SfngError
from sfng.ml import splits as S


def _galaxies(n=60):
    return {f"1-{i:05d}": ("SF" if i % 3 else "AGN") for i in range(n)}


def test_every_galaxy_in_exactly_one_split_and_reproducible():
    gal = _galaxies()
    groups = [("1-00001", "1-00002"), ("1-00002", "1-00007"), ("1-00010", "1-00011")]
    a = S.split_by_galaxy(gal, (0.8, 0.1, 0.1), seed=7, groups=groups)
    b = S.split_by_galaxy(gal, (0.8, 0.1, 0.1), seed=7, groups=groups)
    assert a == b                                          # the seed reproduces it
    assert set(a) == set(gal)                              # nobody left over
    assert len({a["1-00001"], a["1-00002"], a["1-00007"]}) == 1 and a["1-00010"] == a["1-00011"]
    c = S.split_by_galaxy(gal, (0.8, 0.1, 0.1), seed=8, groups=groups)
    assert c != a
    sizes = {s: sum(v == s for v in a.values()) for s in ("train", "val", "test")}
    assert 44 <= sizes["train"] <= 52 and sizes["val"] >= 4 and sizes["test"] >= 4
    for cls in ("SF", "AGN"):                              # stratified: both classes in every split
        assert {a[g] for g, c_ in gal.items() if c_ == cls} == {"train", "val", "test"}


def test_leakage_check_on_patches():
    gal = _galaxies(12)
    assign = S.split_by_galaxy(gal, (0.5, 0.25, 0.25), seed=1)
    samples = [g for g in gal for _ in range(5)]           # 5 patches per galaxy
    S.check_leakage(samples, [assign[g] for g in samples])
    split = [assign[g] for g in samples]
    split[0] = "test" if split[0] != "test" else "train"  # one patch moved: loud failure
    with pytest.raises(SfngError, match="leakage"):
        S.check_leakage(samples, split)


def test_bad_fractions():
    with pytest.raises(SfngError):
        S.split_by_galaxy(_galaxies(5), (0.5, 0.5, 0.5))


def test_patches():
    cube = np.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5) + 1
    labels = np.zeros((5, 5), int)
    labels[0, 0] = 1
    labels[2, 3] = 2
    p, y, c = S.extract_patches(cube, labels, size=3, norm="none")
    assert p.shape == (2, 2, 3, 3) and y.tolist() == [1, 2] and c.tolist() == [[0, 0], [2, 3]]
    assert p[0, 0, 0, 0] == 0 and p[0, 0, 1, 1] == cube[0, 0, 0]          # zero-padded corner
    assert np.array_equal(p[1, 1], cube[1, 1:4, 2:5])
    with pytest.raises(SfngError):
        S.extract_patches(cube, labels, size=4)
