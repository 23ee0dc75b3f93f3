#!/usr/bin/env python
"""Region queries over many index rows: sfng.footprint's vectorised tests against a naive path.

Synthetic footprints like the index's (``foot_ra``/``foot_dec`` (N, 16), NaN past ``foot_n``;
4-vertex TAN fields and 16-vertex curved ones, 1-60 arcmin, all over the sky including the poles
and RA = 0), with their centre and ``fov`` columns. For a cone and a polygon query:

* sfng:   ``cap_prefilter`` on all rows, then ``cone_overlaps_many`` / ``polygon_overlaps_many`` on
          the candidates;
* naive:  ``astropy.coordinates.SkyCoord.separation`` on all centres for the prefilter (as a
          user of astropy would), then shapely per candidate row in a gnomonic projection about
          the query's centre (exact for great-circle edges within 90 degrees of it).

Both must find the same rows (the last column counts disagreements).

    python benchmarks/bench_regions.py               # 1,000,000 rows
    python benchmarks/bench_regions.py --rows 100000

Results are appended to docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def make_rows(n: int, seed: int = 7):
    """Index-like footprint columns for ``n`` rows."""
    from sfng import footprint as fp

    rng = np.random.default_rng(seed)
    ra0 = rng.uniform(0, 360, n)
    dec0 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    half = rng.uniform(0.5, 30, n) / 60.0  # half-size, degrees
    rot = rng.uniform(0, 90, n)
    curved = rng.random(n) < 0.2
    k = np.where(curved, 16, 4)
    foot_ra = np.full((n, 16), np.nan)
    foot_dec = np.full((n, 16), np.nan)
    for kk in (4, 16):
        sel = np.flatnonzero(k == kk)
        ang = np.radians(rot[sel, None] + 45 + np.arange(kk)[None, :] * 360.0 / kk)
        d = np.radians(half[sel, None] * np.sqrt(2))
        lat0 = np.radians(dec0[sel, None])
        lat = np.arcsin(np.sin(lat0) * np.cos(d) + np.cos(lat0) * np.sin(d) * np.cos(ang))
        lon = np.radians(ra0[sel, None]) + np.arctan2(np.sin(ang) * np.sin(d) * np.cos(lat0),
                                                      np.cos(d) - np.sin(lat0) * np.sin(lat))
        foot_ra[sel, :kk] = np.degrees(lon) % 360
        foot_dec[sel, :kk] = np.degrees(lat)
    # the index's centre and fov columns: fov = 2 * the largest centre-to-vertex distance
    sep = fp.separation(ra0[:, None], dec0[:, None], foot_ra, foot_dec)
    fov = (2 * np.nanmax(sep, axis=1) * 60).astype(np.float32)
    return {"ra": ra0, "dec": dec0, "fov": fov, "foot_ra": foot_ra, "foot_dec": foot_dec, "foot_n": k}


def sfng_cone(rows, ra, dec, radius):
    from sfng import footprint as fp

    cand = np.flatnonzero(fp.cap_prefilter(rows["ra"], rows["dec"], rows["fov"] / 120.0, ra, dec, radius))
    hit = fp.cone_overlaps_many(rows["foot_ra"][cand], rows["foot_dec"][cand], rows["foot_n"][cand],
                                ra, dec, radius)
    return cand[hit]


def sfng_polygon(rows, pra, pdec):
    from sfng import footprint as fp

    qra, qdec, qrad = fp.cap(pra, pdec)
    cand = np.flatnonzero(fp.cap_prefilter(rows["ra"], rows["dec"], rows["fov"] / 120.0, qra, qdec, qrad))
    hit = fp.polygon_overlaps_many(rows["foot_ra"][cand], rows["foot_dec"][cand], rows["foot_n"][cand],
                                   pra, pdec)
    return cand[hit]


def _gnomonic(ra, dec, ra0, dec0):
    ra, dec = np.radians(ra), np.radians(dec)
    ra0, dec0 = np.radians(ra0), np.radians(dec0)
    cosc = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    x = np.cos(dec) * np.sin(ra - ra0) / cosc
    y = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cosc
    return np.column_stack([x, y])


def naive_cone(rows, ra, dec, radius):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from shapely.geometry import Point, Polygon

    centres = SkyCoord(rows["ra"] * u.deg, rows["dec"] * u.deg)
    sep = centres.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    cand = np.flatnonzero(sep <= rows["fov"] / 120.0 + radius)
    out = []
    circle = Point(0, 0).buffer(np.tan(np.radians(radius)), 64)
    for i in cand:
        n = rows["foot_n"][i]
        xy = _gnomonic(rows["foot_ra"][i, :n], rows["foot_dec"][i, :n], ra, dec)
        if Polygon(xy).intersects(circle):
            out.append(i)
    return np.array(out, dtype=int)


def naive_polygon(rows, pra, pdec):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from shapely.geometry import Polygon

    from sfng import footprint as fp

    qra, qdec, qrad = fp.cap(pra, pdec)
    centres = SkyCoord(rows["ra"] * u.deg, rows["dec"] * u.deg)
    sep = centres.separation(SkyCoord(qra * u.deg, qdec * u.deg)).deg
    cand = np.flatnonzero(sep <= rows["fov"] / 120.0 + qrad)
    q = Polygon(_gnomonic(np.asarray(pra), np.asarray(pdec), qra, qdec))
    out = []
    for i in cand:
        n = rows["foot_n"][i]
        if Polygon(_gnomonic(rows["foot_ra"][i, :n], rows["foot_dec"][i, :n], qra, qdec)).intersects(q):
            out.append(i)
    return np.array(out, dtype=int)


def timed(fn, *args, repeat=3):
    best, res = 1e9, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, res


QUERIES = [
    ("cone 1 deg at (10, 20)", "cone", (10.0, 20.0, 1.0)),
    ("cone 5 deg across RA = 0 at Dec -30", "cone", (359.5, -30.0, 5.0)),
    ("cone 3 deg on the north pole", "cone", (0.0, 90.0, 3.0)),
    ("polygon 4x4 deg across RA = 0", "polygon", ([358.0, 2.0, 2.0, 358.0], [-2.0, -2.0, 2.0, 2.0])),
    ("polygon 10x10 deg at (150, 40)", "polygon", ([145.0, 155.0, 155.0, 145.0], [35.0, 35.0, 45.0, 45.0])),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    rows = make_rows(a.rows)
    print(f"{a.rows:,} rows generated in {time.perf_counter() - t0:.1f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sfng_cone(rows, 1.0, 1.0, 0.1)  # imports, first calls
    naive_cone(rows, 1.0, 1.0, 0.1)
    results = []
    for label, kind, spec in QUERIES:
        if kind == "cone":
            ts, hs = timed(sfng_cone, rows, *spec, repeat=a.repeat)
            tn, hn = timed(naive_cone, rows, *spec, repeat=1)
        else:
            ts, hs = timed(sfng_polygon, rows, *spec, repeat=a.repeat)
            tn, hn = timed(naive_polygon, rows, *spec, repeat=1)
        same = len(set(hs.tolist()) ^ set(hn.tolist()))
        results.append((label, len(hs), ts, tn, same))
        print(f"  {label:<38} {len(hs):>6} rows  sfng {ts * 1e3:8.1f} ms   naive {tn * 1e3:8.1f} ms   "
              f"x{tn / ts:6.1f}   rows differing: {same}")
    if not a.no_record:
        record(results, a)


def record(results, a):
    path = REPO / "docs" / "benchmarks.md"
    head = "" if path.exists() else "# Benchmarks\n"
    lines = [
        f"\n## Region tests on {a.rows:,} footprints ({time.strftime('%Y-%m-%d')})\n",
        f"`python benchmarks/bench_regions.py --rows {a.rows}` on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}: in-memory "
        "index-like columns (20% of the footprints with 16 vertices); best of "
        f"{a.repeat}. sfng: `cap_prefilter` then the exact `*_many` test; naive: astropy "
        "`SkyCoord.separation` prefilter then shapely per candidate in the tangent plane of the query "
        "(the last column counts rows on which the two disagree).\n",
        "| query | rows found | sfng | naive | speed-up | rows differing |",
        "|---|---|---|---|---|---|",
        *[f"| {lab} | {n:,} | {ts * 1e3:.1f} ms | {tn * 1e3:.1f} ms | x{tn / ts:.1f} | {d} |"
          for lab, n, ts, tn, d in results],
    ]
    with open(path, "a", encoding="utf-8") as f:
        f.write(head + "\n".join(lines) + "\n")
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
