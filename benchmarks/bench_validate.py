"""Benchmark: header-only `sfng validate` of N synthetic files against the index crawl, same run.

Measured on the same store, warm cache, one process:

* ``validate``: :func:`sfng.validate.validate_paths` over the whole store (header-only);
* ``index crawl``: :func:`sfng.index.build.build_index` (``full=True, jobs=1, validate=False``)
  into a scratch file, when this build has the index;
* ``astropy getheader``: a plain ``astropy.io.fits.getheader`` loop over the same files.

Target (issue 4): validation within 2x the index crawl.

The store (``--store``, default ``/tmp/sfng-bench-validate``) is generated once: 2-D images (TAN,
MJy/sr), 3-D cubes (SIN, VRAD/VELO-LSR in m/s, README beams) and 4-D AIPS cubes (FREQ, STOKES,
beam in a HISTORY card, RESTFREQ), with survey READMEs; data sections are sparse, so the files
have their full size but the disk holds only headers.

    python benchmarks/bench_validate.py --files 10000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

SURVEYS = {
    "SINGS": ("image", {"MAPTYPE": "MIPS24"}),
    "HALPHA": ("image", {"BUNIT": "erg/s/cm2/arcsec2", "BMAJ": 5e-4, "BMIN": 5e-4, "BPA": 0.0}),
    "HERACLES": ("cube3", {"BUNIT": "K", "BMAJ": 3.7222e-3, "BMIN": 3.7222e-3, "BPA": 0.0}),
    "BIMASONG": ("cube3", {"MAPTYPE": "CO(1-0)"}),
    "THINGS": ("cube4", {"MAPTYPE": "HI"}),
}


def card(key, value=None):
    if value is None:
        return f"{key:<8}".ljust(80)[:80] if key else " " * 80
    if isinstance(value, bool):
        v = ("T" if value else "F").rjust(20)
    elif isinstance(value, int):
        v = str(value).rjust(20)
    elif isinstance(value, float):
        v = f"{value:.12G}".rjust(20)
    else:
        v = ("'" + str(value).ljust(8) + "'").ljust(20)
    return f"{key:<8}= {v}".ljust(80)[:80]


def history(text):
    return f"HISTORY {text}".ljust(80)[:80]


def header_for(kind, rng, i):
    ra, dec = rng.uniform(0, 360), rng.uniform(-80, 80)
    pix = rng.choice([1.5, 2.0, 6.0])
    if kind == "image":
        shape = (rng.choice([256, 512]),) * 2
    elif kind == "cube3":
        shape = (128, 128, rng.choice([60, 120]))
    else:
        shape = (256, 256, 64, 1)
    cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", len(shape))]
    cards += [card(f"NAXIS{k + 1}", n) for k, n in enumerate(shape)]
    proj = "TAN" if kind == "image" else "SIN"
    cards += [card("CTYPE1", f"RA---{proj}"), card("CRVAL1", ra), card("CDELT1", -pix / 3600),
              card("CRPIX1", shape[0] / 2 + 0.5), card("CUNIT1", "deg"),
              card("CTYPE2", f"DEC--{proj}"), card("CRVAL2", dec), card("CDELT2", pix / 3600),
              card("CRPIX2", shape[1] / 2 + 0.5), card("CUNIT2", "deg"), card("OBJECT", f"G{i}")]
    if kind == "image":
        cards += [card("BUNIT", "MJy/sr"), card("BMAJ", 6 / 3600), card("BMIN", 6 / 3600), card("BPA", 0.0)]
    elif kind == "cube3":
        cards += [card("CTYPE3", rng.choice(["VRAD", "VELO-LSR"])), card("CRVAL3", 5e5),
                  card("CDELT3", 2600.0), card("CRPIX3", 1.0), card("CUNIT3", "m/s"),
                  card("RESTFRQ", 230.538e9)]
    else:
        cards += [card("BUNIT", "JY/BEAM"), card("CTYPE3", "FREQ"), card("CRVAL3", 1.42e9),
                  card("CDELT3", -24414.0), card("CRPIX3", 32.0), card("CUNIT3", "HZ"),
                  card("CTYPE4", "STOKES"), card("CRVAL4", 1.0), card("CDELT4", 1.0), card("CRPIX4", 1.0),
                  card("RESTFREQ", 1.420405752e9)]
        cards += [history(f"AIPS   IMNAME='G{i}' IMCLASS='NA_CUBE' STEP {k}") for k in range(30)]
        cards += [history("AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")]
    cards.append("END".ljust(80))
    text = "".join(cards)
    text += " " * (-len(text) % 2880)
    n = 4
    for s in shape:
        n *= s
    return text.encode("ascii"), n + (-n % 2880)


def make_store(root: Path, n: int, seed: int = 11) -> Path:
    from sfng.readme import render
    from sfng.store import init_store

    marker = root / ".bench-validate"
    if marker.is_file() and marker.read_text() == f"{n},{seed}":
        return root
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    init_store(root, name="bench-validate")
    rng = random.Random(seed)
    names = list(SURVEYS)
    for i in range(n):
        survey = names[i % len(names)]
        kind, meta = SURVEYS[survey]
        folder = root / "data" / survey
        if not folder.is_dir():
            folder.mkdir(parents=True)
            (folder / f"{survey}_README.txt").write_text(render(meta, f"{survey}: synthetic.\n"))
        head, data = header_for(kind, rng, i)
        with open(folder / f"NGC_{i:05d}.{survey.lower()}.fits", "wb") as f:
            f.write(head)
            f.truncate(len(head) + data)   # sparse data section
    marker.write_text(f"{n},{seed}")
    return root


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--store", default=os.path.join(tempfile.gettempdir(), "sfng-bench-validate"))
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs of each measurement")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import warnings

    from astropy.io import fits

    from sfng.store import Store
    from sfng.validate import store_files, summarize, validate_paths

    warnings.simplefilter("ignore")
    root = make_store(Path(args.store), args.files)
    store = Store.open(root)
    files = list(store_files(store))
    n = len(files)
    print(f"store: {root} ({n} files)")

    def best(fn):
        return min(timed(fn)[0] for _ in range(args.repeat))

    for p in files:   # warm the page cache
        with open(p, "rb") as f:
            f.read(2880 * 2)
    t_val = best(lambda: summarize(validate_paths(store=store)))
    summary = summarize(validate_paths(store=store))
    t_astropy = best(lambda: [fits.getheader(p) for p in files])
    t_crawl = None
    try:
        from sfng.index.build import build_index
    except ImportError:
        build_index = None
    if build_index is not None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "SFNG-INDEX.fits"

            def crawl():
                out.unlink(missing_ok=True)
                build_index(store, out=out, full=True, jobs=1, validate=False)
            t_crawl = best(crawl)

    def rate(t):
        return f"{t:7.2f} s  {n / t:8.0f} files/s"

    print(f"validate (header-only):   {rate(t_val)}   -> {summary.with_errors} with errors, "
          f"{summary.with_warnings} with warnings")
    print(f"astropy getheader loop:   {rate(t_astropy)}")
    if t_crawl is not None:
        print(f"index crawl (no validate):{rate(t_crawl)}")
        print(f"ratio validate / index crawl = {t_val / t_crawl:.2f}  (target <= 2)")
    print(f"ratio validate / astropy getheader = {t_val / t_astropy:.2f}")


if __name__ == "__main__":
    main()
