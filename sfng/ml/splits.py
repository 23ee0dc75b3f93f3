"""Patches around labelled spaxels and leakage-free splits by galaxy.

MaNGA's PSF (~2.5 arcsec FWHM) spans ~5 spaxels of 0.5 arcsec, and neighbouring patches overlap, so
patches of one galaxy must never sit in two splits.  Splits are made over *units*: a galaxy (its
MaNGA-ID; a galaxy observed twice is one unit) merged with any group it belongs to (pairs, the
same object under two ids).  Every unit is assigned (no leftovers), seeded, stratified by the
unit's dominant class where the stratum is large enough.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import SfngError


#: The per-cube normalisations of :func:`extract_patches` (PCA is fitted on the training split
#: only, so it is :mod:`sfng.ml.pca`'s, applied by ``sfng ml split --pca N``).
NORMS = ("global", "spatial", "spectral", "none")


def normalise(cube, norm: str = "global") -> np.ndarray:
    """A cube (nwave, ny, nx) normalised, NaN where it had no data:

    * ``global``: divided by its median positive flux (one number per cube);
    * ``spatial``: each channel standardised over the cube's spaxels with data (zero mean, unit
      standard deviation per wavelength: band-wise standardisation);
    * ``spectral``: each spaxel's spectrum divided by its own median positive flux (the
      continuum level: spectral shapes compared whatever the brightness);
    * ``none``: as prepared."""
    cube = np.asarray(cube, dtype=np.float32)
    if norm == "global":
        pos = cube[np.isfinite(cube) & (cube > 0)]
        scale = float(np.median(pos)) if pos.size else 1.0
        return cube / (scale or 1.0)
    if norm == "spatial":
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # channels without data: all NaN
            mean = np.nanmean(cube, axis=(1, 2), keepdims=True)
            std = np.nanstd(cube, axis=(1, 2), keepdims=True)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return ((cube - mean) / std).astype(np.float32)
    if norm == "spectral":
        pos = np.where(np.isfinite(cube) & (cube > 0), cube, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # spaxels without data: all NaN
            level = np.nanmedian(pos, axis=0, keepdims=True)
        level = np.where(np.isfinite(level) & (level > 0), level, 1.0)
        return (cube / level).astype(np.float32)
    if norm == "none":
        return cube
    raise SfngError(f"unknown patch normalisation {norm!r} ({', '.join(NORMS)}; PCA: sfng ml split --pca N, "
                    f"fitted on the training split only)")


def extract_patches(cube, labels, size: int = 7, ignore: int = 0, norm: str = "global"):
    """``(patches[n, nwave, size, size], labels[n], centres[n, 2])`` centred on every spaxel whose
    label is not ``ignore``; the cube is zero-padded at the edges and normalised first
    (:func:`normalise`)."""
    if size < 1 or size % 2 == 0:
        raise SfngError(f"patch size must be odd and positive, not {size}")
    cube = np.nan_to_num(normalise(cube, norm))
    r = size // 2
    padded = np.pad(cube, ((0, 0), (r, r), (r, r)))
    ys, xs = np.nonzero(np.asarray(labels) != ignore)
    out = np.empty((len(ys), cube.shape[0], size, size), np.float32)
    for k, (y, x) in enumerate(zip(ys, xs)):
        out[k] = padded[:, y:y + size, x:x + size]
    return out, np.asarray(labels)[ys, xs].astype(np.int64), np.stack([ys, xs], axis=1) if len(ys) else \
        np.zeros((0, 2), int)


def units(galaxies, groups=()) -> dict:
    """galaxy -> unit id (the smallest galaxy id of its group), merging overlapping groups."""
    parent = {g: g for g in galaxies}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for grp in groups:
        grp = [g for g in grp if g in parent]
        for a, b in zip(grp, grp[1:]):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {g: find(g) for g in galaxies}


def split_by_galaxy(galaxy_classes: dict, fractions=(0.8, 0.1, 0.1), seed: int = 0, groups=(),
                    names=("train", "val", "test"), stratify: bool = True, min_stratum: int | None = None) -> dict:
    """galaxy -> split name.  ``galaxy_classes``: galaxy -> its dominant class (any hashable)."""
    fr = np.asarray(fractions, dtype=float)
    if len(fr) != len(names) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise SfngError(f"split fractions must be {len(names)} non-negative numbers summing to 1")
    unit_of = units(sorted(galaxy_classes), groups)
    members: dict = {}
    for g, u in unit_of.items():
        members.setdefault(u, []).append(g)
    unit_class = {}
    for u, gs in members.items():
        cs = [galaxy_classes[g] for g in sorted(gs)]
        unit_class[u] = max(sorted(set(cs), key=str), key=cs.count)
    min_stratum = min_stratum if min_stratum is not None else len(names)
    strata: dict = {}
    for u in sorted(members):
        strata.setdefault(unit_class[u] if stratify else "all", []).append(u)
    small = [s for s, us in strata.items() if len(us) < min_stratum]
    if small and len(strata) > 1:
        pooled = [u for s in small for u in strata.pop(s)]
        strata.setdefault("(pooled)", []).extend(pooled)
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(names))
    assign = {}
    for key in sorted(strata, key=str):
        us = list(strata[key])
        rng.shuffle(us)
        local = np.zeros(len(names))
        for u in us:
            n = local.sum() + 1
            deficit = fr * n - local + 1e-9 * (fr * (counts.sum() + 1) - counts)
            k = int(np.argmax(np.where(fr > 0, deficit, -np.inf)))
            local[k] += 1
            for g in members[u]:
                assign[g] = names[k]
        counts += local
    return assign


def check_leakage(galaxy_of_sample, split_of_sample) -> None:
    """Raise when a galaxy has samples in more than one split."""
    seen: dict = {}
    bad = set()
    for g, s in zip(galaxy_of_sample, split_of_sample):
        if seen.setdefault(g, s) != s:
            bad.add(g)
    if bad:
        raise SfngError(f"leakage: galaxies in more than one split: {', '.join(sorted(map(str, bad)))}")
