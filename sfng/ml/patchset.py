"""Patch sets: the patches around every labelled spaxel of many prepared cubes, in one compact
file, and that file split by galaxy into one file per split.

A patch set is an ``.npz`` (no pickles) holding ``x`` (n, nwave, size, size) float32, ``y`` (n,)
the class index into ``classes``, ``galaxy`` (n,) the MaNGA-ID (a galaxy observed twice is one
galaxy), ``plateifu`` (n,), ``centre`` (n, 2) the spaxel (y, x) in its cube, ``code`` (n,) the
label map's own class code, and ``classes``, ``size``, ``norm``, ``task``.  ``sfng ml train``
reads it.

Cubes are the rest-frame cubes of ``sfng ml prepare``, FITS or HDF5 (told apart by their content;
:func:`sfng.surveys.manga.restcube.read`): the ``FLUX`` HDU or dataset, ``PLATEIFU``/``MANGAID``
in the primary header (the root attributes of the HDF5 form); label maps are those of ``sfng ml
labels`` (class codes, ``CLASSn`` cards naming them, ``UNKNOWN`` left out), matched to a cube by
its plate-IFU in the map's file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError
from .splits import check_leakage, extract_patches, split_by_galaxy


#: The arrays of a patch set with one entry per patch (the rest describe the whole set).
SAMPLE_KEYS = frozenset({"x", "y", "code", "galaxy", "plateifu", "centre"})


@dataclass
class PatchSet:
    arrays: dict
    made: list = field(default_factory=list)        # (cube, label map, patches)
    failed: list = field(default_factory=list)      # (path, why)

    @property
    def ok(self) -> bool:
        return not self.failed and len(self.arrays.get("y", ())) > 0


def _classes(header) -> dict:
    """code -> name from a label map's CLASSn cards."""
    out = {}
    for k, v in header.items():
        m = re.fullmatch(r"CLASS(\d+)", k)
        if m:
            out[int(m.group(1))] = str(v).strip()
    if not out:
        raise SfngError("no CLASSn cards: not a label map of sfng ml labels")
    return out


def _label_map_for(plateifu: str, label_dir: Path) -> Path:
    hits = sorted(p for p in label_dir.glob("*.fits") if re.search(rf"(^|[^0-9]){re.escape(plateifu)}([^0-9]|$)",
                                                                   p.name))
    if not hits:
        raise SfngError(f"no label map for {plateifu} in {label_dir}")
    if len(hits) > 1:
        raise SfngError(f"{len(hits)} label maps for {plateifu} in {label_dir}: {', '.join(p.name for p in hits)}")
    return hits[0]


def make_patchset(cubes, label_dir, size: int = 7, norm: str = "global") -> PatchSet:
    """Patches of every cube in ``cubes`` around the spaxels its label map classifies.  A cube
    without a readable, matching label map is a per-file failure; the others go on."""
    from astropy.io import fits

    from ..surveys.manga.restcube import read as read_cube

    label_dir = Path(label_dir)
    parts, names, task = [], None, None
    out = PatchSet({})
    for c in cubes:
        c = Path(c)
        try:
            rc = read_cube(c, arrays=("FLUX",))
            plateifu, galaxy = rc.plateifu, rc.mangaid
            if not plateifu or not galaxy:
                raise SfngError("no PLATEIFU/MANGAID in the primary header: not a cube of sfng ml prepare")
            if "FLUX" not in rc.data:
                raise SfngError("no FLUX extension: not a cube of sfng ml prepare")
            cube = np.asarray(rc.data["FLUX"], dtype=np.float32)
            lpath = _label_map_for(plateifu, label_dir)
            with fits.open(lpath, memmap=False) as h:
                codes = np.asarray(h[0].data)
                cls = _classes(h[0].header)
                this_task = str(h[0].header.get("MLTASK", "")).strip()
            if codes.shape != cube.shape[1:]:
                raise SfngError(f"label map {lpath.name} is {codes.shape[1]}x{codes.shape[0]} spaxels, "
                                f"the cube {cube.shape[2]}x{cube.shape[1]}")
            if names is None:
                names, task = cls, this_task
            elif cls != names or this_task != task:
                raise SfngError(f"label map {lpath.name} names other classes ({this_task}) than the first one")
            unknown = [k for k, v in cls.items() if v.upper() == "UNKNOWN"]
            ignore = unknown[0] if unknown else -1
            x, y, centres = extract_patches(cube, codes, size=size, ignore=ignore, norm=norm)
        except (SfngError, OSError, KeyError, ValueError) as exc:
            out.failed.append((str(c), " ".join(str(exc).split())))
            continue
        parts.append((x, y, centres, galaxy, plateifu))
        out.made.append((str(c), str(lpath), len(y)))
    if not parts:
        out.arrays = {"y": np.zeros(0, np.int64)}
        return out
    kept = sorted({int(k) for _, y, *_ in parts for k in np.unique(y)})
    index = {k: i for i, k in enumerate(kept)}
    code = np.concatenate([y for _, y, *_ in parts])
    out.arrays = {
        "x": np.concatenate([x for x, *_ in parts]),
        "y": np.array([index[int(k)] for k in code], dtype=np.int64),
        "code": code.astype(np.int64),
        "galaxy": np.concatenate([np.full(len(y), g) for _, y, _, g, _ in parts]),
        "plateifu": np.concatenate([np.full(len(y), p) for _, y, _, _, p in parts]),
        "centre": np.concatenate([c for _, _, c, *_ in parts]).astype(np.int32),
        "classes": np.array([names[k] for k in kept]),
        "size": np.int64(size), "norm": np.array(norm), "task": np.array(task or ""),
    }
    return out


def split_patchset(arrays: dict, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                   names=("train", "val", "test")) -> tuple[dict, dict]:
    """``({split: arrays}, {galaxy: split})``: whole galaxies in exactly one split (stratified by
    each galaxy's dominant class, seeded), every sample kept; the leakage check run on the result."""
    y, gal = np.asarray(arrays["y"]), np.asarray(arrays["galaxy"]).astype(str)
    if not len(y):
        raise SfngError("the patch set is empty")
    dominant = {g: int(np.bincount(y[gal == g]).argmax()) for g in sorted(set(gal.tolist()))}
    assign = split_by_galaxy(dominant, fractions, seed=seed, names=names)
    which = np.array([assign[g] for g in gal.tolist()])
    check_leakage(gal.tolist(), which.tolist())
    per = {}
    for s in names:
        keep = which == s
        per[s] = {k: (np.asarray(v)[keep] if k in SAMPLE_KEYS else v) for k, v in arrays.items()}
    return per, assign


def save(path, arrays: dict) -> Path:
    """An ``.npz`` (no pickles), written through a temporary name and a no-clobber rename."""
    import io

    from ..fsutil import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())
