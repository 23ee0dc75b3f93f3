#!/usr/bin/env python
"""``sfng ml``: ``prepare`` per MaNGA cube, and a training epoch per 1,000 patches, on CPU (and on
a GPU with ``--device cuda`` where there is one), each beside a baseline measured in the same run:

* prepare against reading the same LOGCUBE with astropy (FLUX, IVAR, MASK, WAVE: the I/O floor),
  on demo cubes in the real DR17 layout at the full 4563 channels;
* an SSFTT epoch (30 bands, 7x7 patches, batch 64) against fitting the logistic baseline
  (:mod:`sfng.ml.baseline`, 500 steps) on the same 1,000 patches.

    python benchmarks/bench_ml.py --no-record
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))


def bench_prepare(work: Path, n: int) -> tuple[float, float, float, object, list]:
    """(seconds per cube for prepare, seconds per cube to read it with astropy, MB per cube,
    the store, the cubes timed)."""
    from astropy.io import fits
    from astropy.table import Table

    from sfng.demo import manga as mangagen
    from sfng.ml import prepare as P
    from sfng.store import Store

    root = work / "store"
    if not root.exists():
        from click.testing import CliRunner

        from sfng.cli import main

        CliRunner().invoke(main, ["init", str(root)])
    store = Store.open(root)
    targets = mangagen.DEMO_TARGETS[:n + 1]      # the first one warms the imports, untimed
    rels = []
    for t in targets:
        rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
        if not (root / rel).exists():
            mangagen.write_cube(root / rel, t)
        rels.append(rel)
    (root / "tables" / "MANGA").mkdir(parents=True, exist_ok=True)
    Table({"plateifu": [t.plateifu for t in targets], "nsa_z": [t.z for t in targets]}).write(
        root / "tables" / "MANGA" / "drpall-v3_1_1.fits", overwrite=True)
    if len(rels) < n + 1:
        raise SystemExit(f"the demo has {len(rels) - 1} cubes to time; give --cubes {len(rels) - 1} or fewer")
    warm, rels = rels[0], rels[1:]

    def read(rel):
        with fits.open(root / rel, memmap=False) as h:
            for ext in ("FLUX", "IVAR", "MASK", "WAVE"):
                np.asarray(h[ext].data).sum()

    read(warm)
    rep = P.prepare(store, [warm], P.Grid(), reindex=False)
    t0 = time.perf_counter()
    for rel in rels:
        read(rel)
    t_read = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    rep = P.prepare(store, rels, P.Grid(), reindex=False)
    t_prep = (time.perf_counter() - t0) / n
    if not rep.ok:
        raise SystemExit(f"prepare failed: {rep.as_dict()}")
    mb = sum((root / r).stat().st_size for r in rels) / n / 1e6
    return t_prep, t_read, mb, store, rels


def bench_hdf5(store, rels) -> dict | None:
    """Seconds per cube of ``prepare --cube-format hdf5`` (the same cubes, again, as HDF5) and of
    reading the rest-frame cube back (sfng.surveys.manga.restcube.read, every array) in either
    form; None without h5py."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        return None
    from sfng.ml import prepare as P
    from sfng.surveys.manga import restcube

    n = len(rels)
    t0 = time.perf_counter()
    rep = P.prepare(store, rels, P.Grid(), reindex=False, cube_format="hdf5")
    t_h5 = (time.perf_counter() - t0) / n
    if not rep.ok:
        raise SystemExit(f"prepare --cube-format hdf5 failed: {rep.as_dict()}")
    out = {"prepare_hdf5": t_h5}
    derived = Path(store.root) / "derived" / "MANGA"
    h5_files = sorted(derived.glob("*_restcube.h5"))         # the cubes timed (not the warm-up one)
    for form, files in (("fits", [f.with_suffix(".fits") for f in h5_files]), ("hdf5", h5_files)):
        restcube.read(files[0])                                     # warm
        t0 = time.perf_counter()
        for f in files:
            restcube.read(f)
        out[f"read_{form}"] = (time.perf_counter() - t0) / len(files)
        out[f"mb_{form}"] = sum(f.stat().st_size for f in files) / len(files) / 1e6
    return out


def bench_epoch(device: str, n: int = 1000, bands: int = 30, patch: int = 7, classes: int = 4):
    """(seconds of one SSFTT epoch over n patches or None without torch, seconds of the baseline fit)."""
    from sfng.ml import baseline as B

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, bands, patch, patch)).astype(np.float32)
    y = rng.integers(0, classes, n)
    names = [f"c{i}" for i in range(classes)]
    t0 = time.perf_counter()
    B.fit(x, y, names)
    t_base = time.perf_counter() - t0
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, t_base
    from sfng.ml import model as M

    M.train(x[:128], y[:128], names, epochs=1, device=device)          # warm (threads, kernels)
    t0 = time.perf_counter()
    M.train(x, y, names, epochs=1, batch=64, device=device)
    return time.perf_counter() - t0, t_base


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cubes", type=int, default=1, help="cubes timed (the demo has two: one warms up)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="sfng-bench-ml-"))
    t_prep, t_read, mb, store, rels = bench_prepare(work, args.cubes)
    print(f"prepare: {t_prep:.2f} s per cube ({mb:.1f} MB LOGCUBE, 4563 -> 2040 channels); reading it with "
          f"astropy {t_read:.2f} s: x{t_prep / t_read:.1f} the I/O floor", flush=True)
    h5 = bench_hdf5(store, rels)
    if h5 is None:
        print("prepare --cube-format hdf5: h5py not installed")
    else:
        print(f"prepare --cube-format hdf5: {h5['prepare_hdf5']:.2f} s per cube, x{h5['prepare_hdf5'] / t_prep:.2f} "
              f"the FITS form's; reading the rest-frame cube: HDF5 {h5['read_hdf5'] * 1e3:.1f} ms "
              f"({h5['mb_hdf5']:.1f} MB), FITS {h5['read_fits'] * 1e3:.1f} ms ({h5['mb_fits']:.1f} MB)", flush=True)
    t_epoch, t_base = bench_epoch(args.device)
    if t_epoch is None:
        print(f"SSFTT epoch: PyTorch not installed; baseline fit {t_base:.2f} s per 1,000 patches")
    else:
        print(f"SSFTT epoch ({args.device}): {t_epoch:.2f} s per 1,000 patches; logistic baseline fit "
              f"{t_base:.2f} s: x{t_epoch / t_base:.1f}", flush=True)
    if not args.no_record:
        from common import append_to_benchmarks_md

        import os

        append_to_benchmarks_md([
            f"## `sfng ml` ({time.strftime('%Y-%m-%d')})", "",
            f"`python benchmarks/bench_ml.py --cubes {args.cubes} --device {args.device}` ({os.cpu_count()} cores):",
            "", "| step | time | baseline, same run | ratio |", "| --- | --- | --- | --- |",
            f"| `prepare`, per DR17 LOGCUBE ({mb:.1f} MB, 4563 -> 2040 channels) | {t_prep:.2f} s | "
            f"astropy reading it: {t_read:.2f} s | x{t_prep / t_read:.1f} |",
            *([f"| `prepare --cube-format hdf5`, per cube | {h5['prepare_hdf5']:.2f} s | `prepare` (FITS): "
               f"{t_prep:.2f} s | x{h5['prepare_hdf5'] / t_prep:.2f} |",
               f"| reading the rest-frame cube, HDF5 ({h5['mb_hdf5']:.1f} MB; `restcube.read`) | "
               f"{h5['read_hdf5'] * 1e3:.1f} ms | FITS ({h5['mb_fits']:.1f} MB): {h5['read_fits'] * 1e3:.1f} ms | "
               f"x{h5['read_hdf5'] / h5['read_fits']:.2f} |"] if h5 else []),
            (f"| SSFTT training epoch, 1,000 patches (30 bands, 7x7, batch 64, {args.device}) | {t_epoch:.2f} s | "
             f"logistic baseline fit: {t_base:.2f} s | x{t_epoch / t_base:.1f} |") if t_epoch is not None else
            f"| SSFTT training epoch | (no PyTorch) | logistic baseline fit: {t_base:.2f} s | - |"])


if __name__ == "__main__":
    main()
