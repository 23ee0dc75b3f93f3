#!/usr/bin/env python
"""Release bundling speed: hard-link bundle time against size, and copy-bundle throughput against
``cp`` + ``sha256sum`` on the same files in the same run.

A store is filled through ``sfng ingest`` (so survey manifests exist) and indexed with
``sfng index build``; then:

* **link**: ``plan_bundle`` + ``bundle`` (mode ``link``) of growing subsets of the files.  The
  checksums come from the fresh index rows, so the time should not grow with the bytes
  (target: close to instant for any size).
* **copy**: ``plan_bundle`` + ``bundle --copy`` (validate, hash while copying, fsync, read-only,
  release index, manifest, notes, atomic rename) against ``cp FILES DEST && sha256sum DEST/*``
  (and the same followed by ``sync``, since the bundle fsyncs), alternating, ``--repeat`` times
  each from a warm page cache; medians compared.  Target: throughput ratio >= 0.8.

    python benchmarks/bench_release.py                 # 1 GB in 16 cubes
    python benchmarks/bench_release.py --size-mb 256 --repeat 5

Results are appended to docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
os.environ.setdefault("SFNG_OFFLINE", "1")

from common import append_to_benchmarks_md, make_cube_fits  # noqa: E402



def make_survey(folder: Path, n_files: int, total_mb: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        make_cube_fits(folder / f"NGC0628_field{i:03d}_co21.fits", int(total_mb * 1e6 / n_files), 1000 + i)
    (folder / f"{folder.name}_README.txt").write_text("BUNIT = K\n---\nBenchmark survey.\n"
                                                      "Citation: Nobody, A. et al. (2026)\n")


def new_store(path: Path):
    from sfng.store import Store, init_store

    init_store(path, name="bench")
    return Store.open(path)


def setup(work: Path, size_mb: float, n_files: int):
    from sfng.index.build import build_index
    from sfng.ingest import execute, plan_ingest

    src = work / "BENCH"
    make_survey(src, n_files, size_mb)
    store = new_store(work / "store")
    report = execute(plan_ingest(store, src, survey="BENCH"))
    if not report.ok:
        raise SystemExit(f"ingest failed: {report.summary()}")
    shutil.rmtree(src)
    build_index(store)
    files = sorted(p for p in (store.root / "data" / "BENCH").glob("*.fits"))
    return store, files


def bundle_once(store, name, files, mode) -> float:
    from sfng.release import bundle, plan_bundle

    rels = [store.relpath(p) for p in files]
    t0 = time.perf_counter()
    plan = plan_bundle(store, name, paths=rels, mode=mode)
    res = bundle(store, plan)
    dt = time.perf_counter() - t0
    if mode == "link" and res.hashed:
        print(f"  note: {res.hashed} file(s) had to be hashed (index checksum unknown)")
    return dt


def drop(store, name):
    shutil.rmtree(store.root / "release" / name, ignore_errors=True)


def cp_sha(files, dst: Path, sync: bool) -> float:
    dst.mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run(["cp", *map(str, files), str(dst)], check=True)
    subprocess.run(["sha256sum", *sorted(str(p) for p in dst.iterdir())], check=True,
                   stdout=subprocess.DEVNULL)
    if sync:
        subprocess.run(["sync"], check=True)
    dt = time.perf_counter() - t0
    shutil.rmtree(dst)
    return dt


def record(lines):
    append_to_benchmarks_md(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024, help="total size of the cubes (MB)")
    ap.add_argument("--files", type=int, default=16, help="number of cubes")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each copy contender")
    ap.add_argument("--workdir", help="scratch folder (default: a temporary folder)")
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sfng-bench-release-"))
    try:
        print(f"setup: {args.files} cubes, {args.size_mb:.0f} MB, ingest + index in {work}", flush=True)
        store, files = setup(work, args.size_mb, args.files)
        total = sum(p.stat().st_size for p in files)
        subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)  # warm

        # Link: time against size.
        link_rows = []
        for k in sorted({1, max(1, len(files) // 4), len(files)}):
            sub = files[:k]
            size = sum(p.stat().st_size for p in sub)
            times = []
            for r in range(3):
                name = f"link{k}-{r}"
                times.append(bundle_once(store, name, sub, "link"))
                drop(store, name)
            dt = statistics.median(times)
            link_rows.append((k, size, dt))
            print(f"  link bundle  {k:3d} files {size / 1e6:8.1f} MB  {dt * 1e3:7.1f} ms", flush=True)

        # Copy: throughput against cp + sha256sum, alternating.
        times = {"cp+sha256sum": [], "cp+sha256sum+sync": [], "sfng release bundle --copy": []}
        for r in range(args.repeat):
            for name in times:
                subprocess.run(["sync"], check=True)
                if name.startswith("cp"):
                    dt = cp_sha(files, work / "cpout", sync=name.endswith("sync"))
                else:
                    dt = bundle_once(store, f"copy{r}", files, "copy")
                    drop(store, f"copy{r}")
                times[name].append(dt)
                print(f"  run {r + 1}/{args.repeat}  {name:28s} {dt:7.2f} s  {total / dt / 1e6:7.0f} MB/s",
                      flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["cp+sha256sum"]
        ratio = base / med["sfng release bundle --copy"]
        ratio_sync = med["cp+sha256sum+sync"] / med["sfng release bundle --copy"]
        print()
        for name, dt in med.items():
            print(f"{name:30s} {dt:7.2f} s   ratio vs cp+sha256sum: {base / dt:.2f}")
        print(f"copy bundle throughput ratio: {ratio:.2f} (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}); "
              f"vs cp+sha256sum+sync: {ratio_sync:.2f}")

        lines = [f"## Release bundle ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"{platform.node() or 'host'}, {os.cpu_count()} CPU, Python {platform.python_version()})", "",
                 "`benchmarks/bench_release.py`: plan + bundle (validation, release index, manifest, "
                 "RELEASE.md, atomic rename) of FITS cubes landed by `sfng ingest` and indexed.", "",
                 "Hard-link bundles (median of 3), time against size:", "",
                 "| files | MB | time (ms) |", "|---|---|---|"]
        lines += [f"| {k} | {size / 1e6:.0f} | {dt * 1e3:.0f} |" for k, size, dt in link_rows]
        lines += ["", f"Copy bundles, {len(files)} cubes, {total / 1e9:.2f} GB, median of {args.repeat} "
                      f"runs each, warm page cache:", "",
                  "| contender | time (s) | MB/s | throughput vs cp + sha256sum |", "|---|---|---|---|"]
        for name, dt in med.items():
            lines.append(f"| {name} | {dt:.2f} | {total / dt / 1e6:.0f} | {base / dt:.2f} |")
        lines += ["", f"Target >= 0.8: {ratio:.2f} ({'met' if ratio >= 0.8 else 'NOT met'}); against "
                      f"cp + sha256sum + sync (the bundle fsyncs every file): {ratio_sync:.2f}.", ""]
        if not args.no_record:
            record(lines)
        return 0 if ratio >= 0.8 else 1
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
