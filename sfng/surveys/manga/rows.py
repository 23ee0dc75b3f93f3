"""Index-row helpers shared by the MaNGA describers: footprints, the ``extra`` column, the common
DRP/DAP columns, and a complete row outside the crawler.
"""

from __future__ import annotations

import math
from pathlib import Path

from .facts import BUNDLE_DIAMETER
from .geometry import cd_matrix, hexagon
from .recognise import ifu_size, parse_name


def set_footprint(row: dict, ras, decs) -> None:
    n = len(ras)
    pad = 16 - n
    row["foot_n"] = n
    row["foot_ra"] = [float(x) for x in ras] + [math.nan] * pad
    row["foot_dec"] = [float(x) for x in decs] + [math.nan] * pad


def as_float(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def base_row(path, store_root) -> dict:
    """The part of a row only this module knows is added by the callers; here: the path.

    Rows hold only the columns this module determines, so the index crawler can lay them over
    its own common part (size, mtime, sha256, validation, galaxy) without clobbering it; use
    :func:`full_row` for a complete row outside the crawler.
    """
    p = Path(path)
    if store_root is not None:
        try:
            return {"path": p.resolve().relative_to(Path(store_root).resolve()).as_posix()}
        except ValueError:
            pass
    return {"path": str(p)}


def full_row(row: dict, store_root=None) -> dict:
    """``row`` completed with the index schema's unknowns, size, mtime, tree, survey and the
    galaxy of the file name (what the crawler adds)."""
    from ...header import survey_of
    from ...index.schema import null_row

    out = null_row()
    p = Path(row["path"]) if store_root is None else Path(store_root) / row["path"]
    if store_root is not None:
        tree, survey = survey_of(p, store_root)
        out["tree"], out["survey"] = tree or "", survey or ""
    out["galaxy"] = _galaxy_from_name(p.name) or ""
    try:
        st = p.stat()
        out["size"], out["mtime"] = st.st_size, st.st_mtime
    except OSError:
        pass
    out["flag"], out["error"] = 0, ""
    out.update(row)
    return out


def _galaxy_from_name(name: str) -> str | None:
    info = parse_name(name)
    if info is None or info["kind"] == "hdf5":
        return None
    prefix = name[: len(name) - len(info["original"])].rstrip(".")
    if not prefix:
        return None
    from ...naming import decode_galaxy

    return decode_galaxy(prefix) or prefix.replace("_", " ")


def fill_common(row: dict, prim, extra: dict) -> None:
    """Fill what DRP cubes and DAP maps share: position, footprint, PSF, identity."""
    ifura, ifudec = as_float(prim.get("IFURA")), as_float(prim.get("IFUDEC"))
    objra, objdec = as_float(prim.get("OBJRA")), as_float(prim.get("OBJDEC"))
    row["ra"], row["dec"] = ifura, ifudec
    size = ifu_size(prim.get("IFUDSGN"))
    if size and not math.isnan(ifura) and not math.isnan(ifudec):
        ras, decs = hexagon(ifura, ifudec, BUNDLE_DIAMETER[size])
        set_footprint(row, ras, decs)
        row["fov"] = BUNDLE_DIAMETER[size] / 60.0
    rfwhm = as_float(prim.get("RFWHM"))
    row["bmaj"] = row["bmin"] = row["res"] = rfwhm
    row["bpa"] = 0.0 if not math.isnan(rfwhm) else math.nan  # a circular PSF
    row["beam_src"] = "plugin"
    for key, col in (("TELESCOP", "telescop"), ("INSTRUME", "instrume")):
        row[col] = str(prim.get(key, "") or "").strip()
    row["object"] = str(prim.get("PLATEIFU", "") or "").strip()
    extra.update({
        "plateifu": str(prim.get("PLATEIFU", "") or "").strip(),
        "mangaid": str(prim.get("MANGAID", "") or "").strip(),
        "ifu": size,
        "objra": objra, "objdec": objdec,
        "gfwhm": as_float(prim.get("GFWHM")), "ifwhm": as_float(prim.get("IFWHM")),
        "zfwhm": as_float(prim.get("ZFWHM")),
    })


def flag_depth(row, why):
    from ...index.schema import FLAG_DEPTH_ERROR

    row["flag"] = max(int(row.get("flag", 0) or 0), 0) | FLAG_DEPTH_ERROR
    row["error"] = why[:120]


def set_axes(row: dict, h, naxis: int) -> None:
    row["naxis"] = naxis
    cd = cd_matrix(h)
    for i in range(1, 5):
        if i <= naxis:
            row[f"naxis{i}"] = int(h.get(f"NAXIS{i}", -1) or -1)
            row[f"ctype{i}"] = str(h.get(f"CTYPE{i}", "") or "").strip()
            row[f"cunit{i}"] = str(h.get(f"CUNIT{i}", "") or "").strip()
            row[f"crval{i}"] = as_float(h.get(f"CRVAL{i}"))
            if i <= 2:
                row[f"cdelt{i}"] = cd[i - 1][i - 1]
            else:
                row[f"cdelt{i}"] = as_float(h.get(f"CD{i}_{i}", h.get(f"CDELT{i}")))

