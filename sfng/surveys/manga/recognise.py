"""Recognise MaNGA DRP cubes, DAP maps, GZ3D files and Multimodal-Universe HDF5 samples by their
SDSS file names, else by their headers; say where each kind lands.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .facts import BUNDLE_DIAMETER, LANDING

CUBE_RE = re.compile(r"(?:^|\.)manga-(?P<plate>\d{4,5})-(?P<ifu>\d{3,6})-(?P<wave>LOG|LIN)CUBE"
                     r"\.fits(?:\.gz)?$")

MAPS_RE = re.compile(r"(?:^|\.)manga-(?P<plate>\d{4,5})-(?P<ifu>\d{3,6})-MAPS-(?P<daptype>[A-Z0-9]+"
                     r"(?:-[A-Z0-9]+)*)\.fits(?:\.gz)?$")

GZ3D_RE = re.compile(r"(?:^|\.)(?:gz3d_)?(?P<mangaid>\d{1,2}-\d{1,8})_(?P<ifusize>\d{1,3})_"
                     r"(?P<subject>\d{1,12})\.fits(?:\.gz)?$")

HDF5_RE = re.compile(r"\.(?:hdf5|h5)$", re.I)

MMU_NAME_RE = re.compile(r"^\d{3,4}-of-\d{3,4}\.hdf5$")


def ifu_size(ifudsgn) -> int | None:
    """Fibres of an IFU design number: 1901 -> 19, 12703 -> 127, 701 -> 7."""
    try:
        n = int(str(ifudsgn).strip())
    except (TypeError, ValueError):
        return None
    size = n // 100
    return size if size in BUNDLE_DIAMETER else None


def parse_name(filename: str) -> dict | None:
    """What a MaNGA/GZ3D file name says: ``{"kind", "plate", "ifu", "plateifu", ...}`` or None."""
    base = os.path.basename(str(filename))
    m = CUBE_RE.search(base)
    if m:
        return {"kind": "cube", "plate": int(m["plate"]), "ifu": int(m["ifu"]),
                "plateifu": f"{m['plate']}-{m['ifu']}", "wave": m["wave"],
                "original": base[m.start():].lstrip(".")}
    m = MAPS_RE.search(base)
    if m:
        return {"kind": "maps", "plate": int(m["plate"]), "ifu": int(m["ifu"]),
                "plateifu": f"{m['plate']}-{m['ifu']}", "daptype": m["daptype"],
                "original": base[m.start():].lstrip(".")}
    m = GZ3D_RE.search(base)
    if m:
        return {"kind": "gz3d", "mangaid": m["mangaid"], "ifusize": int(m["ifusize"]),
                "subject": int(m["subject"]), "original": base[m.start():].lstrip(".")}
    if HDF5_RE.search(base):
        return {"kind": "hdf5", "original": base}
    return None


def header_list(headers) -> list:
    """Normalise what a caller read: HeaderBlocks, mappings, or one mapping -> list of mappings."""
    if headers is None:
        return []
    if hasattr(headers, "keys") and not isinstance(headers, (list, tuple)):
        return [headers]
    return [getattr(h, "header", h) for h in headers]


def recognise(path, headers=None) -> str | None:
    """``"cube"``, ``"maps"``, ``"gz3d"``, ``"hdf5"`` when ``path`` is a MaNGA/GZ3D/MMU product, else None.

    The file name decides when it follows the SDSS conventions (also behind a store's
    ``GALAXY.`` prefix); otherwise the headers, if given (a list of per-HDU mappings or
    :class:`sfng.fitsheader.HeaderBlock`), are asked: ``INSTRUME = 'MaNGA'`` with a ``FLUX``
    cube extension is a DRP cube, with ``DAPFRMT = 'MAPS'`` a DAP maps file.  HDF5 files count
    only when they look like a Multimodal-Universe sample (``healpix=`` folder, ``NNNN-of-MMMM``
    name, or a ``survey``/``object_id`` inside).
    """
    name = os.path.basename(str(path))
    got = parse_name(name)
    if got and got["kind"] != "hdf5":
        return got["kind"]
    if got and got["kind"] == "hdf5":
        return "hdf5" if _looks_mmu(path) else None
    return kind_from_headers(headers)


def kind_from_headers(headers) -> str | None:
    """``"maps"`` or ``"cube"`` when the headers (as for :func:`recognise`) are a MaNGA product's."""
    hs = header_list(headers)
    if hs:
        prim = hs[0]
        if str(prim.get("INSTRUME", "")).strip().upper() == "MANGA":
            if str(prim.get("DAPFRMT", "")).strip().upper() == "MAPS":
                return "maps"
            for h in hs[1:3]:
                if str(h.get("EXTNAME", "")).strip() == "FLUX" and int(h.get("NAXIS", 0) or 0) == 3:
                    return "cube"
    return None


def _looks_mmu(path) -> bool:
    p = Path(path)
    if p.parent.name.startswith("healpix=") or MMU_NAME_RE.match(p.name):
        return True
    try:
        import h5py
    except ImportError:
        return False
    try:
        with h5py.File(p, "r") as f:
            if "survey" in f.attrs or "object_id" in f:
                return True
            for key in list(f.keys())[:1]:
                return isinstance(f[key], h5py.Group) and "object_id" in f[key].attrs
    except (OSError, ValueError):
        return False
    return False


def landing(path, headers=None) -> tuple[str, str] | None:
    """``(tree, survey)`` where ingest lands a recognised product, else None."""
    kind = recognise(path, headers)
    return LANDING.get(kind) if kind else None
