"""``sfng info``: everything the index holds on one galaxy, and the files covering its centre."""

from __future__ import annotations

import numpy as np

from ..errors import SfngError
from ..select import Selection
from .index import Index
from .result import Result
from .selecting import covering_rows, wide_rows
from .values import finite


def info(index: Index, name: str) -> dict:
    """Everything the index holds on one galaxy.

    Returns a dict: ``galaxy`` (the index's name), ``aliases``, ``ra``/``dec`` (deg), ``dist``
    (Mpc), ``dist_src``, and ``files``: one dict per file, grouped by tracer order, with
    ``path, survey, tracer, product, res`` (arcsec), ``depth_k`` (K in 1 km/s), ``size``
    (bytes), ``covers`` (whether the footprint contains the galaxy's centre; None unknown) and
    ``offset`` (arcmin, file centre to galaxy centre); ``covering``: files named for other
    galaxies whose footprint contains this galaxy's centre (a pair's companion, a wide field).
    """
    canon = index.resolve_galaxy(name)
    if canon is None:
        near = index.galaxy_suggestions(name)
        raise SfngError(f"no galaxy {name!r} in the index {index.path}"
                        + (f"; did you mean {' or '.join(near)}?" if near else ""))
    rec = index.galaxy_record(canon) or {"name": canon}
    rows = np.flatnonzero(index.match_text("galaxy", [canon], fold=False))
    res = Result(index, rows, Selection())
    res.sort(["tracer", "res", "path"])
    files = res.records(["path", "survey", "tracer", "product", "res", "depth_k", "size", "ra", "dec"])
    pos = (rec.get("ra"), rec.get("dec"))
    covers = [None] * len(files)
    if finite(pos[0]) and finite(pos[1]) and len(res.rows):
        covers = _covers(index, res.rows, float(pos[0]), float(pos[1]))
    for f, c in zip(files, covers):
        f["covers"] = c
        f["offset"] = _sep_arcmin(f.pop("ra"), f.pop("dec"), pos[0], pos[1])
    aliases = [a for a in str(rec.get("aliases", "") or "").split(";") if a.strip()]
    covering = []
    if finite(pos[0]) and finite(pos[1]):
        others = covering_rows(index, float(pos[0]), float(pos[1]))
        others = np.setdiff1d(others, res.rows)
        covering = Result(index, others, Selection()).records(["path", "galaxy", "survey", "tracer", "res"])
    return {"galaxy": canon, "aliases": aliases, "covering": covering,
            "ra": rec.get("ra") if finite(rec.get("ra")) else None,
            "dec": rec.get("dec") if finite(rec.get("dec")) else None,
            "dist": float(rec["dist"]) if finite(rec.get("dist")) else None,
            "dist_src": rec.get("dist_src") or None, "files": files}


def _covers(index: Index, rows, ra, dec) -> list:
    from .. import footprint

    foot_n = np.asarray(index.raw("foot_n", rows), dtype=int)
    inside = footprint.contains_point_many(np.asarray(index.raw("foot_ra", rows), dtype=float),
                                           np.asarray(index.raw("foot_dec", rows), dtype=float),
                                           foot_n, ra, dec)
    wide = wide_rows(index, rows)  # no polygon: the bounding circle (all-sky maps cover everything)
    if wide.any():
        w = np.asarray(rows)[wide]
        inside[wide] = footprint.caps_contain_point(index.numbers("ra", w), index.numbers("dec", w),
                                                    index.numbers("fov", w) / 120.0, ra, dec)
    return [bool(v) if k >= 3 or c else None for v, k, c in zip(inside, foot_n, wide)]


def _sep_arcmin(ra1, dec1, ra2, dec2):
    if not all(finite(x) for x in (ra1, dec1, ra2, dec2)):
        return None
    from ..footprint import separation

    return float(separation(float(ra1), float(dec1), float(ra2), float(dec2))) * 60.0
