"""Benchmark: `sfng index build` over a synthetic store of realistic headers.

Measures, in the same run and on the same files (warm cache):

* full build (``--full``), files/s, with 1 and with N local processes;
* no-change incremental rebuild, files/s;
* the straightforward crawl: ``astropy.io.fits.open`` + ``WCS(header).celestial.calc_footprint()``
  per file (on a sample), files/s;
* peak resident memory of this process.

The store is generated once (``--store DIR``, default ``/tmp/sfng-bench-index``): 2-D images,
3-D and 4-D cubes (AIPS HISTORY beams, FREQ/VELO axes, Stokes) and multi-extension files, with
survey READMEs and manifests.  Data sections are sparse (the files have their full size but
hold only headers on disk), so the store costs little space; only headers are read anyway.

Targets (issue 5): full >= 4,000 files/s and >= 15x the astropy crawl; incremental >= 50,000 files/s.

    python benchmarks/bench_index.py --files 20000 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path

SURVEYS = {
    "THINGS": ("cube4", {"MAPTYPE": "HI"}),
    "HERACLES": ("cube3", {"BUNIT": "K", "BMAJ": 3.7222e-3, "BMIN": 3.7222e-3, "BPA": 0.0,
                           "MAPTYPE": "CO(2-1)"}),
    "NRO45": ("cube3", {"MAPTYPE": "CO(1-0)"}),
    "BIMASONG": ("cube3", {"MAPTYPE": "CO(1-0)"}),
    "SINGS": ("image", {"MAPTYPE": "MIPS24"}),
    "KINGFISH": ("image", {}),
    "HALPHA": ("image", {"BUNIT": "erg/s/cm2/arcsec2", "MAPTYPE": "HALPHA"}),
    "HST": ("mef", {}),
}


def card(key, value=None, comment=""):
    if value is None:
        return f"{key:<8}{comment}".ljust(80)[:80]
    if isinstance(value, bool):
        v = ("T" if value else "F").rjust(20)
    elif isinstance(value, int):
        v = str(value).rjust(20)
    elif isinstance(value, float):
        v = f"{value:.12G}".rjust(20)
    else:
        v = ("'" + str(value).replace("'", "''").ljust(8) + "'").ljust(20)
    text = f"{key:<8}= {v}"
    if comment:
        text += f" / {comment}"
    return text.ljust(80)[:80]


def header_bytes(cards):
    text = "".join(cards) + "END".ljust(80)
    text += " " * (-len(text) % 2880)
    return text.encode("ascii")


def celestial(rng, nx, ny, proj, pix):
    ra, dec = rng.uniform(0, 360), rng.uniform(-80, 80)
    return [card("CTYPE1", f"RA---{proj}"), card("CRVAL1", ra), card("CDELT1", -pix / 3600),
            card("CRPIX1", (nx + 1) / 2), card("CUNIT1", "deg"), card("CTYPE2", f"DEC--{proj}"),
            card("CRVAL2", dec), card("CDELT2", pix / 3600), card("CRPIX2", (ny + 1) / 2),
            card("CUNIT2", "deg"), card("EQUINOX", 2000.0), card("RADESYS", "FK5")]


def common(rng, i):
    return [card("OBJECT", f"NGC{i % 7000}"), card("ORIGIN", "survey pipeline"),
            card("DATE", "2008-12-01T00:00:00"), *[card("HISTORY", None, f"processing step {k}")
                                                  for k in range(rng.randint(3, 12))]]


def make_file(path, kind, rng, i):
    hdus = []
    if kind == "image":
        nx = ny = rng.choice([256, 512, 1024])
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 2), card("NAXIS1", nx),
                 card("NAXIS2", ny), *celestial(rng, nx, ny, "TAN", 1.5),
                 card("TELESCOP", "Spitzer"), card("INSTRUME", "MIPS"), card("WAVELENG", 24.0),
                 card("BUNIT", "MJy/sr"), card("BMAJ", 6 / 3600), card("BMIN", 6 / 3600),
                 card("BPA", 0.0), *common(rng, i)]
        hdus.append((cards, nx * ny * 4))
    elif kind == "cube3":
        nx = ny = rng.choice([128, 256]); nz = rng.choice([60, 120])
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 3), card("NAXIS1", nx),
                 card("NAXIS2", ny), card("NAXIS3", nz), *celestial(rng, nx, ny, "SIN", 2.0),
                 card("CTYPE3", "VELO-LSR"), card("CRVAL3", rng.uniform(0, 2e6)),
                 card("CDELT3", 4060.0), card("CRPIX3", nz / 2), card("CUNIT3", "m/s"),
                 card("RESTFRQ", 115.2712018e9), card("BUNIT", "JY/BEAM"),
                 card("BMAJ", 6.2 / 3600), card("BMIN", 5.4 / 3600), card("BPA", 12.0),
                 card("REPUNC", 0.05), card("TELESCOP", "BIMA"), *common(rng, i)]
        hdus.append((cards, nx * ny * nz * 4))
    elif kind == "cube4":
        nx = ny = rng.choice([256, 512]); nz = rng.choice([40, 80])
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 4), card("NAXIS1", nx),
                 card("NAXIS2", ny), card("NAXIS3", nz), card("NAXIS4", 1),
                 *celestial(rng, nx, ny, "SIN", 1.5),
                 card("CTYPE3", "FREQ"), card("CRVAL3", 1.4190e9), card("CDELT3", -24414.0),
                 card("CRPIX3", nz / 2), card("CUNIT3", "HZ"), card("CTYPE4", "STOKES"),
                 card("CRVAL4", 1.0), card("CDELT4", 1.0), card("CRPIX4", 1.0),
                 card("RESTFREQ", 1.420405752e9), card("BUNIT", "JY/BEAM"), card("TELESCOP", "VLA"),
                 *common(rng, i),
                 card("HISTORY", None, "AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")]
        hdus.append((cards, nx * ny * nz * 4))
    else:  # mef: empty primary, SCI and ERR images
        nx = ny = 1024
        hdus.append(([card("SIMPLE", True), card("BITPIX", 8), card("NAXIS", 0), card("EXTEND", True),
                      card("TELESCOP", "HST"), card("INSTRUME", "ACS"), card("FILTER", "F658N"),
                      *common(rng, i)], 0))
        for name in ("SCI", "ERR"):
            hdus.append(([card("XTENSION", "IMAGE"), card("BITPIX", -32), card("NAXIS", 2),
                          card("NAXIS1", nx), card("NAXIS2", ny), card("PCOUNT", 0), card("GCOUNT", 1),
                          card("EXTNAME", name), *celestial(rng, nx, ny, "TAN", 0.05),
                          card("BUNIT", "ELECTRONS/S")], nx * ny * 4))
    with open(path, "wb") as f:
        for cards, nbytes in hdus:
            f.write(header_bytes(cards))
            f.seek(nbytes + (-nbytes % 2880), os.SEEK_CUR)   # sparse data
        f.truncate(f.tell())


def make_store(root: Path, n: int):
    from sfng.readme import render
    from sfng.store import init_store

    marker = root / ".bench-files"
    if marker.is_file() and marker.read_text() == str(n):
        return
    shutil.rmtree(root, ignore_errors=True)
    init_store(root, name="bench")
    rng = random.Random(5)
    names = list(SURVEYS)
    per = n // len(names)
    for si, s in enumerate(names):
        kind, meta = SURVEYS[s]
        folder = root / "data" / s
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{s}_README.txt").write_text(render(meta, f"{s} synthetic\n") if meta else f"{s}\n")
        count = per if si < len(names) - 1 else n - per * (len(names) - 1)
        for i in range(count):
            make_file(folder / f"NGC_{i % 9000:04d}.{s.lower()}_{i:06d}.fits", kind, rng, i)
    marker.write_text(str(n))


def astropy_crawl(paths) -> float:
    """Seconds per file of the straightforward crawl."""
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    for p in paths:
        with fits.open(p) as hl:
            for h in hl:
                if h.header.get("NAXIS", 0) >= 2:
                    WCS(h.header).celestial.calc_footprint()
                    break
    return (time.perf_counter() - t0) / len(paths)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--store", default="/tmp/sfng-bench-index")
    ap.add_argument("--sample", type=int, default=1000, help="files for the astropy crawl")
    ap.add_argument("--no-validate", action="store_true", help="build without header validation")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from sfng.index.build import build_index
    from sfng.store import Store

    root = Path(a.store)
    t0 = time.perf_counter()
    make_store(root, a.files)
    gen = time.perf_counter() - t0
    store = Store.open(root)
    all_files = sorted(str(p) for p in (root / "data").rglob("*.fits"))
    # warm the page cache and the imports
    build_index(store, out=root / "warm.fits", full=True, jobs=1, validate=not a.no_validate,
                paths=[Path(p).relative_to(root).as_posix() for p in all_files[:200]])
    res = {"files": len(all_files), "jobs": a.jobs, "validate": not a.no_validate,
           "generate_s": round(gen, 1)}
    for jobs in sorted({1, a.jobs}):
        r = build_index(store, full=True, jobs=jobs, validate=not a.no_validate)
        res[f"full_files_per_s_jobs{jobs}"] = round(r.files / r.seconds)
    r = build_index(store, jobs=a.jobs, validate=not a.no_validate)
    assert r.described == 0, r.described
    res["incremental_files_per_s"] = round(r.files / r.seconds)
    sample = random.Random(1).sample(all_files, min(a.sample, len(all_files)))
    per = astropy_crawl(sample)
    res["astropy_files_per_s"] = round(1 / per)
    best_full = max(v for k, v in res.items() if k.startswith("full_"))
    res["speedup_vs_astropy"] = round(best_full * per, 1)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["targets_met"] = {"full>=4000/s": best_full >= 4000, ">=15x astropy": best_full * per >= 15,
                          "incremental>=50000/s": res["incremental_files_per_s"] >= 50000}
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
