"""A small synthetic SFNG-INDEX.fits for query tests, written through the real writer
(:class:`sfng.index.io.IndexWriter`) so the schema has one source."""

from __future__ import annotations

import math


# name, aliases, ra, dec, dist (Mpc)
GALAXIES = [
    ("MESSIER 074", "NGC 628;NGC 0628;M74", 24.173946, 15.783662, 7.3),
    ("IC 0342", "IC 342;IC342", 56.702083, 68.096111, 3.3),
    ("NGC 3521", "NGC3521", 166.452428, -0.035861, 10.7),
    ("MESSIER 099", "NGC 4254;M99", 184.706667, 14.416500, 16.7),
    ("NGC 7793", "NGC7793", 359.457630, -32.591028, 3.9),
    ("POLE GALAXY", "", 10.0, 89.9, 20.0),
    ("COMPANION", "", 24.173946, 15.80, 7.3),     # no file named for it, inside M74's fields
]

# galaxy, survey, tracer, product, res (arcsec), rms_k (K native), chan_kms, bunit, valid
FILES = [
    ("MESSIER 074", "BIMASONG", "CO(1-0)", "cube", 6.2, 0.14, 4.06, "Jy/beam", True),
    ("MESSIER 074", "NRO45", "CO(1-0)", "cube", 15.0, 0.07, 5.0, "K", True),
    ("MESSIER 074", "SINGS", "MIPS24", "image", 6.0, math.nan, math.nan, "MJy/sr", True),
    ("MESSIER 074", "HALPHA", "HALPHA", "image", 1.8, math.nan, math.nan, "erg/s/cm2/arcsec2", True),
    ("IC 0342", "BIMASONG", "CO(1-0)", "cube", 6.2, 0.16, 4.06, "Jy/beam", True),
    ("IC 0342", "SINGS", "MIPS24", "image", 6.0, math.nan, math.nan, "MJy/sr", True),
    ("IC 0342", "KINGFISH", "SPIRE250", "image", 18.2, math.nan, math.nan, "MJy/sr", False),
    ("NGC 3521", "BIMASONG", "CO(1-0)", "cube", 6.2, 1.4, 4.06, "Jy/beam", True),
    ("NGC 3521", "SINGS", "MIPS24", "image", 6.0, math.nan, math.nan, "MJy/sr", True),
    ("MESSIER 099", "BIMASONG", "CO(1-0)", "cube", 6.2, 0.11, 4.06, "Jy/beam", True),
    ("MESSIER 099", "SINGS", "MIPS24", "image", 6.0, math.nan, math.nan, "MJy/sr", True),
    ("NGC 7793", "THINGS", "HI", "cube", 15.6, 0.5, 5.2, "Jy/beam", True),
    ("NGC 7793", "HALPHA", "HALPHA", "image", 1.8, math.nan, math.nan, "erg/s/cm2/arcsec2", True),
    ("POLE GALAXY", "THINGS", "HI", "cube", 6.0, math.nan, 5.2, "Jy/beam", True),
    ("MESSIER 074", "NRO45", "CO(1-0)", "cube", math.nan, math.nan, math.nan, "K", False),
]
HALF_SIZE_DEG = 4.0 / 60.0   # each footprint: a 8 arcmin square around the galaxy


def square(ra, dec, half=HALF_SIZE_DEG):
    """A square footprint (tangent plane) of half-side ``half`` degrees around (ra, dec)."""
    c = math.cos(math.radians(dec)) if abs(dec) < 89.0 else None
    pts = []
    for dx, dy in ((1, -1), (1, 1), (-1, 1), (-1, -1)):
        if c is None:  # near the pole: a ring of constant Dec
            pts.append(((ra + 90 * (dx + 1) + 45 * (dy + 1) * dx) % 360.0, dec - half))
        else:
            pts.append(((ra + dx * half / c) % 360.0, dec + dy * half))
    return pts


def rows():
    """FILES rows (dicts) of the synthetic index."""
    gal = {g[0]: g for g in GALAXIES}
    out = []
    for i, (g, survey, tracer, product, res, rms, chan, bunit, valid) in enumerate(FILES):
        _, _, ra, dec, _ = gal[g]
        foot = square(ra, dec) if g != "POLE GALAXY" else [(a, 89.8) for a in (0, 90, 180, 270)]
        fname = f"{g.replace(' ', '_')}.{survey.lower()}_{tracer.replace('(', '').replace(')', '').replace('-', '')}_{i}.fits"
        depth = rms * math.sqrt(chan) if math.isfinite(rms) and math.isfinite(chan) else math.nan
        out.append({
            "path": f"data/{survey}/{fname}", "tree": "data", "survey": survey, "galaxy": g,
            "object": g, "product": product, "role": "product", "tracer": tracer,
            "tracer_src": "maptype", "bunit": bunit, "naxis": 3 if product == "cube" else 2,
            "naxis1": 40, "naxis2": 40, "naxis3": 30 if product == "cube" else -1,
            "ctype1": "RA---SIN", "ctype2": "DEC--SIN", "ra": ra, "dec": dec,
            "foot_n": len(foot), "foot_ra": [p[0] for p in foot], "foot_dec": [p[1] for p in foot],
            "fov": 2 * HALF_SIZE_DEG * 60 * math.sqrt(2) if g != "POLE GALAXY" else 24.0, "bmaj": res, "bmin": res, "bpa": 0.0,
            "res": res, "restfrq": 115.2712018e9 if tracer == "CO(1-0)" else math.nan,
            "chan_kms": chan, "rms_k": rms, "depth_k": depth, "depth_src": "repunc" if math.isfinite(rms) else "",
            "size": 1000 + i, "mtime": 1.7e9, "sha256": "", "valid": valid,
            "n_problems": 0 if valid else 1, "flag": 0, "telescop": "TEST", "instrume": "",
        })
    return out


def galaxy_rows():
    return [{"name": n, "aliases": a, "ra": ra, "dec": dec, "dist": d, "dist_src": "test"}
            for n, a, ra, dec, d in GALAXIES]


def write_index(path, files=None, galaxies=None, meta=None):
    """Write an index at ``path`` through the real writer; returns the path."""
    from sfng.index.io import IndexWriter

    w = IndexWriter(path, meta or {"store": "test", "sfng_version": "test", "built": "2026-01-01T00:00:00"})
    w.add_rows(rows() if files is None else files)
    w.finish(galaxy_rows() if galaxies is None else galaxies)
    return path
