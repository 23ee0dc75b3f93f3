#!/usr/bin/env python
"""Header reading and footprints: sfng's path against the straightforward astropy path.

On one synthetic set of files (``benchmarks/common.py``: 2-D images, 3-D and 4-D cubes,
multi-extension files; sparse data), warm page cache, one process, measured side by side:

* sfng:     ``sfng.fitsheader.read_headers`` + ``sfng.footprint.outline`` of the first image HDU
            (the outline cache is cleared per file, so every WCS is computed, as for distinct
            grids; products sharing a grid cost less);
* astropy:  ``astropy.io.fits.open`` + ``WCS(header).celestial.calc_footprint()`` of the same HDU,
            on ``--sample`` files;
* headers only: ``read_headers`` against ``fitsio`` (``FITS(path)`` + ``read_header()`` of every
  HDU) and ``astropy.io.fits.open`` (every header), to choose the reader.

    python benchmarks/bench_headers.py              # 2,000 files
    python benchmarks/bench_headers.py --n 20000    # the issue's store size

Results are appended to docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from common import Clock, make_files  # noqa: E402


def _first_image(blocks):
    for b in blocks:
        if (b.header.get("NAXIS") or 0) >= 2 and b.xtension in (None, "IMAGE"):
            return b
    return None


def run_sfng(paths, cached=False):
    from sfng import footprint
    from sfng.fitsheader import read_headers

    n_fp = 0
    with Clock() as t:
        for p in paths:
            if not cached:
                footprint._outline.cache_clear()
            b = _first_image(read_headers(p))
            if b is not None and footprint.outline(b) is not None:
                n_fp += 1
    return t, n_fp


def run_astropy(paths):
    from astropy.io import fits
    from astropy.wcs import WCS

    warnings.simplefilter("ignore")
    n_fp = 0
    with Clock() as t:
        for p in paths:
            with fits.open(p) as hl:
                for h in hl:
                    if h.header.get("NAXIS", 0) >= 2 and not isinstance(h, fits.BinTableHDU):
                        if WCS(h.header).celestial.calc_footprint() is not None:
                            n_fp += 1
                        break
    return t, n_fp


def headers_sfng(paths):
    from sfng.fitsheader import read_headers

    with Clock() as t:
        for p in paths:
            read_headers(p)
    return t, 0


def headers_fitsio(paths):
    import fitsio

    with Clock() as t:
        for p in paths:
            with fitsio.FITS(str(p)) as f:
                for hdu in f:
                    hdu.read_header()
    return t, 0


def headers_astropy(paths):
    from astropy.io import fits

    with Clock() as t:
        for p in paths:
            with fits.open(p) as hl:
                for h in hl:
                    h.header  # noqa: B018 - the read is the point
    return t, 0


def check_same_footprints(paths, k=200):
    """Largest corner difference (arcsec) between sfng and astropy on ``k`` files."""
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    from sfng import footprint
    from sfng.fitsheader import read_headers

    worst = 0.0
    for p in paths[:k]:
        b = _first_image(read_headers(p))
        if b is None:
            continue
        out = footprint.outline(b)
        with fits.open(p) as hl:
            cel = WCS(hl[b.index].header).celestial
            ref = cel.calc_footprint()[:, [cel.wcs.lng, cel.wcs.lat]]
        d = footprint.separation(ref[:, :1], ref[:, 1:], out.ra[None, :], out.dec[None, :]).min(axis=1)
        worst = max(worst, float(np.max(d)) * 3600)
    return worst


ROWS = [
    ("sfng header + footprint", "sfng"),
    ("astropy open + WCS footprint", "astropy"),
    ("headers only: sfng", "headers_sfng"),
    ("headers only: fitsio", "headers_fitsio"),
    ("headers only: astropy", "headers_astropy"),
]
DESCRIBE = {
    "sfng": "sfng: `read_headers` + `outline` (WCS computed for every file)",
    "astropy": "astropy: `fits.open` + `WCS(header).celestial.calc_footprint()`",
    "headers_sfng": "headers only: sfng `read_headers`",
    "headers_fitsio": "headers only: fitsio `FITS` + `read_header`",
    "headers_astropy": "headers only: astropy `fits.open`",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="files in the set (default 2000)")
    ap.add_argument("--sample", type=int, default=1000, help="files for the slow astropy path")
    ap.add_argument("--dir", type=Path, help="folder for the files (default: a temporary folder, kept "
                                             "between runs as /tmp/sfng-bench-headers-N)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many passes")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    a = ap.parse_args(argv)

    folder = a.dir or Path(tempfile.gettempdir()) / f"sfng-bench-headers-{a.n}"
    t0 = time.perf_counter()
    paths = make_files(folder, a.n)
    gen = time.perf_counter() - t0
    sample = paths[:: max(1, len(paths) // max(1, a.sample))][: a.sample]

    # warm: page cache, imports, first-call costs
    headers_sfng(paths)
    run_sfng(paths[:50])
    run_astropy(paths[:20])
    headers_fitsio(paths[:20])

    def best(fn, *args):
        return min((fn(*args) for _ in range(a.repeat)), key=lambda r: r[0].cpu)

    s_t, s_fp = best(run_sfng, paths)
    a_t, a_fp = run_astropy(sample)
    h_s, _ = best(headers_sfng, paths)
    h_f, _ = best(headers_fitsio, sample)
    h_a, _ = headers_astropy(sample)
    worst = check_same_footprints(paths)
    n, m = len(paths), len(sample)
    load = os.getloadavg()[0]

    def rate(t, k):
        return {"wall": round(k / t.wall), "cpu": round(k / t.cpu)}

    r = {
        "files": n, "astropy_sample": m, "generate_s": round(gen, 1), "load_average": round(load, 2),
        "sfng": rate(s_t, n), "astropy": rate(a_t, m),
        "speedup_cpu": round((a_t.cpu / m) / (s_t.cpu / n), 1),
        "speedup_wall": round((a_t.wall / m) / (s_t.wall / n), 1),
        "footprints_sfng": s_fp, "footprints_astropy_sample": a_fp,
        "headers_sfng": rate(h_s, n), "headers_fitsio": rate(h_f, m), "headers_astropy": rate(h_a, m),
        "max_corner_diff_arcsec": worst,
    }
    if a.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{n:,} files ({folder}), astropy on {m:,}; one process, warm cache, "
              f"load average {load:.1f} on {os.cpu_count()} cores")
        print("                                 files/s (wall)   files/s (CPU)")
        for label, key in ROWS:
            print(f"  {label:<30} {r[key]['wall']:>12,} {r[key]['cpu']:>15,}")
        print(f"  speed-up of sfng over astropy: x{r['speedup_cpu']} (CPU), x{r['speedup_wall']} (wall)")
        print(f"  footprint corners vs astropy: max difference {worst:.2e} arcsec (200 files)")
    if not a.no_record:
        record(r, a)
    return r


def record(r, a):
    path = REPO / "docs" / "benchmarks.md"
    head = "" if path.exists() else (
        "# Benchmarks\n\nNumbers measured on the project machine by the scripts in `benchmarks/`.\n")
    lines = [
        f"\n## Headers and footprints: {r['files']:,} files ({time.strftime('%Y-%m-%d')})\n",
        f"`python benchmarks/bench_headers.py --n {a.n}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; one process, warm page cache, synthetic files from "
        "`benchmarks/common.py` (2-D images, 3-D/4-D cubes, multi-extension; sparse data). The astropy "
        f"path runs on {r['astropy_sample']:,} of the files.\n",
        f"Load average during the run: {r['load_average']} (the machine is shared; CPU-time rates are "
        "the fair comparison, wall-clock rates are what a user sees).\n",
        "| path | files/s (wall) | files/s (CPU) | ms/file (CPU) |",
        "|---|---|---|---|",
        *[f"| {DESCRIBE[key]} | {r[key]['wall']:,} | {r[key]['cpu']:,} | {1e3 / r[key]['cpu']:.3f} |"
          for _, key in ROWS],
        f"\nSpeed-up of sfng over the astropy path: x{r['speedup_cpu']} in CPU time, x{r['speedup_wall']} "
        f"in wall time. Footprint corners agree with astropy within {r['max_corner_diff_arcsec']:.1e} "
        "arcsec on 200 files. Headers only, sfng's reader is "
        f"x{r['headers_sfng']['cpu'] / r['headers_fitsio']['cpu']:.1f} fitsio's speed (CPU), so "
        "`sfng.fitsheader` keeps its own parser (its values are checked against astropy's in "
        "`tests/test_fitsheader.py`).\n",
    ]
    with open(path, "a", encoding="utf-8") as f:
        f.write(head + "\n".join(lines) + "\n")
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
