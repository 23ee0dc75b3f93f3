#!/usr/bin/env python
"""``sfng derive`` against spectral-cube, the field's cube library, on the same cube in the same
run: convolving a cube to a larger beam (sfng's plane-by-plane ``convolve_file`` against
``SpectralCube.convolve_to`` then ``write``), and moment maps 0, 1, 2 (sfng's ``moment_maps``
with no mask, which also makes the error maps, against ``SpectralCube.moment(order=0, 1, 2)``),
each in its own process so that peak memory (``ru_maxrss``) is its own.  The cube is float32,
``--size`` x ``--size`` x ``--nchan`` (the issue's target: 512 x 512 x 500, 0.5 GB), a K cube with
a Gaussian beam, noise and a rotating disc.

    python benchmarks/bench_derive.py --size 256 --nchan 200 --no-record
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def make_cube(path: Path, n: int, nchan: int, seed: int = 0) -> Path:
    """A K cube written plane by plane (never all in memory)."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    h = fits.Header()
    h["SIMPLE"], h["BITPIX"], h["NAXIS"] = True, -32, 3
    h["NAXIS1"], h["NAXIS2"], h["NAXIS3"] = n, n, nchan
    h.update({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CTYPE3": "VRAD", "CRVAL1": 24.174, "CRVAL2": 15.784,
              "CRVAL3": -250000.0, "CRPIX1": n / 2, "CRPIX2": n / 2, "CRPIX3": 1, "CDELT1": -1 / 3600,
              "CDELT2": 1 / 3600, "CDELT3": 500000.0 / nchan, "CUNIT1": "deg", "CUNIT2": "deg", "CUNIT3": "m/s",
              "BUNIT": "K", "BMAJ": 4 / 3600, "BMIN": 4 / 3600, "BPA": 0.0, "RESTFRQ": 1.15271202e11,
              "SPECSYS": "LSRK", "RADESYS": "ICRS", "EQUINOX": 2000.0})
    y, x = np.mgrid[0:n, 0:n]
    r = np.hypot(x - n / 2, y - n / 2)
    vfield = 200.0 * np.tanh((x - n / 2) / (n / 8))
    disc = np.exp(-r / (n / 6))
    v = -250.0 + (np.arange(nchan) + 0.5) * 500.0 / nchan
    shdu = fits.StreamingHDU(str(path), h)
    for k in range(nchan):
        plane = 2.0 * disc * np.exp(-0.5 * ((v[k] - vfield) / 15.0) ** 2) + rng.normal(0, 0.1, (n, n))
        shdu.write(plane.astype(">f4"))
    shdu.close()
    return path


def child(task: str, cube: str, out: str) -> None:
    """Run one task and print its wall seconds and peak memory (MB) as JSON."""
    import resource

    t0 = time.perf_counter()
    if task == "imports":      # what the interpreter and the libraries alone hold: the floor
        import astropy.units  # noqa: F401
        import radio_beam  # noqa: F401
        import scipy.ndimage  # noqa: F401
        import spectral_cube  # noqa: F401
        from astropy.convolution import convolve_fft  # noqa: F401
        from astropy.io import fits  # noqa: F401

        import sfng.derive.convolution  # noqa: F401
        import sfng.derive.momentmaps  # noqa: F401
    elif task == "sfng-convolve":
        from sfng.derive.convolution import convolve_file

        convolve_file(Path(cube), Path(out), None, {"bmaj": 4.0, "bmin": 4.0, "bpa": 0.0},
                      {"bmaj": 8.0, "bmin": 8.0, "bpa": 0.0})
    elif task == "sc-convolve":
        import astropy.units as u
        from radio_beam import Beam
        from spectral_cube import SpectralCube

        c = SpectralCube.read(cube, use_dask=False)
        c.allow_huge_operations = True
        c.convolve_to(Beam(8 * u.arcsec)).write(out, overwrite=True)
    elif task == "sfng-moments":
        from sfng.derive.momentmaps import MASKS, moment_maps

        moment_maps(Path(cube), {"mask": "none", "mask_params": MASKS["none"], "rms_k": 0.1,
                                 "moments": ["0", "1", "2"], "unit_scale": 1.0})
    elif task == "sc-moments":
        from spectral_cube import SpectralCube

        c = SpectralCube.read(cube, use_dask=False)
        c.allow_huge_operations = True
        for order in (0, 1, 2):
            c.moment(order=order, axis=0).value.sum()
    else:
        raise SystemExit(f"unknown task {task}")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"wall": wall, "peak_mb": peak}))


def run(task, cube, out) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", task, str(cube), str(out)], capture_output=True,
                       text=True)
    if r.returncode:
        raise SystemExit(f"{task} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--nchan", type=int, default=500)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    try:
        import spectral_cube  # noqa: F401
    except ImportError:
        raise SystemExit("the baseline needs spectral-cube: pip install -e '.[bench]'") from None
    work = args.work or Path(tempfile.mkdtemp(prefix="sfng-bench-derive-"))
    work.mkdir(parents=True, exist_ok=True)
    cube = work / f"cube-{args.size}-{args.nchan}.fits"
    if not cube.exists():
        make_cube(cube, args.size, args.nchan)
    mb = cube.stat().st_size / 1e6
    floor = run("imports", cube, work / "none")["peak_mb"]
    print(f"cube {args.size} x {args.size} x {args.nchan}: {mb:.0f} MB; the interpreter and the libraries "
          f"alone: {floor:.0f} MB", flush=True)
    rows = []
    for what, ours, theirs in (("convolve 4\" -> 8\"", "sfng-convolve", "sc-convolve"),
                               ("moments 0, 1, 2", "sfng-moments", "sc-moments")):
        a = run(ours, cube, work / f"{ours}.fits")
        b = run(theirs, cube, work / f"{theirs}.fits")
        ratio = b["wall"] / a["wall"]
        wa, wb = max(0.0, a["peak_mb"] - floor), max(0.0, b["peak_mb"] - floor)   # the work's own memory
        print(f"{what}: sfng {a['wall']:.1f} s, +{wa:.0f} MB; spectral-cube {b['wall']:.1f} s, +{wb:.0f} MB: "
              f"sfng x{ratio:.2f} as fast, working memory {wa / mb:.2f} of the cube", flush=True)
        rows.append(f"| {what} | {a['wall']:.1f} s, +{wa:.0f} MB | {b['wall']:.1f} s, +{wb:.0f} MB "
                    f"| x{ratio:.2f} | {wa / mb:.2f} |")
    if not args.no_record:
        sys.path.insert(0, str(HERE))
        from common import append_to_benchmarks_md

        import spectral_cube as sc

        append_to_benchmarks_md([
            f"## `sfng derive` against spectral-cube ({time.strftime('%Y-%m-%d')})", "",
            f"`python benchmarks/bench_derive.py --size {args.size} --nchan {args.nchan}`: a {args.size} x "
            f"{args.size} x {args.nchan} float32 K cube ({mb:.0f} MB), each task in its own process; "
            f"spectral-cube {sc.__version__} (use_dask=False). Memory: peak RSS above the {floor:.0f} MB that the "
            f"interpreter and the libraries hold alone.", "",
            "| task | sfng (wall, working memory) | spectral-cube | sfng's speed-up | sfng's memory / cube size |",
            "| --- | --- | --- | --- | --- |", *rows])


if __name__ == "__main__":
    main()
