#!/usr/bin/env python
"""Query speed: the specification's three use cases on a synthetic 1,000,000-row index, end to
end (process start to the last line printed), ``sfng find`` against a naive astropy
``Table.read`` + mask, side by side in the same run.

The index is written through the real writer (:class:`sfng.index.io.IndexWriter`, so the
schema has one source): 5,000 galaxies with distances, each covered by a random subset of 8
tracers, with resolutions, depths and footprints drawn at random; ``IC 0342`` is one of the galaxies.  Each command runs
``--repeat`` times from a warm page cache, alternating sfng and naive; medians are reported.
Also DuckDB over a Parquet copy of the scalar columns (``pip install 'sfng[bench]'``), and peak
memory per process.  Targets (issue 18): every use case <= 0.35 s and <= 300 MB, faster than
DuckDB, index rows <= 600 bytes.

    python benchmarks/bench_query.py                     # 1,000,000 rows (about 1.9 GB)
    python benchmarks/bench_query.py --rows 100000 --repeat 3 --no-record

Results are appended to docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("SFNG_OFFLINE", "1")

TRACERS = np.array(["CO(1-0)", "CO(2-1)", "HI", "MIPS24", "HALPHA", "SPIRE250", "PACS70", "FUV"])

USE_CASES = {
    "1 CO(1-0) res<15 dist<15 depth<=1K": ["--line", "CO10", "--res<15", "--dist<15", "--depth<=1K"],
    "2 has CO10+MIPS24, lacks HALPHA": ["--has", "CO10", "--has", "MIPS24", "--lacks", "HALPHA"],
    "3 all files on IC 342": ["--galaxy", "IC 342"],
}

# The naive approach: read the whole FILES table with astropy, mask with numpy, print paths.
NAIVE = r'''
import sys
import numpy as np
from astropy.table import Table
path, case = sys.argv[1], sys.argv[2]
files = Table.read(path, hdu="FILES")
if case == "1":
    gal = Table.read(path, hdu="GALAXIES")
    dist = dict(zip(gal["name"], gal["dist"]))
    tr = np.char.strip(files["tracer"].astype(str))
    m = (tr == "CO(1-0)") & (files["res"] < 15) & (files["depth_k"] <= 1.0)
    g = files["galaxy"][m].astype(str)
    d = np.array([dist.get(x, np.nan) for x in g])
    paths = files["path"][m][d < 15]
elif case == "2":
    tr = np.char.strip(files["tracer"].astype(str))
    g = files["galaxy"].astype(str)
    has = set(g[tr == "CO(1-0)"]) & set(g[tr == "MIPS24"])
    paths = sorted(has - set(g[tr == "HALPHA"]))
else:
    paths = files["path"][files["galaxy"].astype(str) == "IC 0342"]
out = sys.stdout
for p in paths:
    out.write(str(p) + "\n")
'''


def write_big_index(path: Path, n_rows: int, chunk: int = 100_000, seed: int = 1) -> Path:
    """A synthetic index of ``n_rows`` rows, written through the real writer in chunks."""
    from sfng.index.io import IndexWriter, disk_dtype
    from sfng.index.schema import FILES_COLUMNS

    rng = np.random.default_rng(seed)
    n_gal = 5000
    names = np.array([f"GAL {i:05d}" for i in range(n_gal)], dtype="U48")
    names[342] = "IC 0342"
    gra = rng.uniform(0, 360, n_gal)
    gdec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_gal)))
    gdist = rng.uniform(1, 40, n_gal)
    # Which galaxy has which tracer: surveys cover parts of the sample, as in real life.
    cover = np.array([0.4, 0.3, 0.6, 0.7, 0.5, 0.4, 0.4, 0.6])
    avail = rng.random((n_gal, len(TRACERS))) < cover
    avail[342, :] = [True, True, True, True, False, True, False, True]   # IC 342: no H-alpha
    pairs = np.argwhere(avail)
    dt = disk_dtype(FILES_COLUMNS)
    w = IndexWriter(path, {"store": "bench", "sfng_version": "bench", "built": "2026-01-01T00:00:00"})
    done = 0
    while done < n_rows:
        k = min(chunk, n_rows - done)
        rec = np.zeros(k, dtype=dt)
        g, t = pairs[rng.integers(0, len(pairs), k)].T
        ids = np.arange(done, done + k).astype(str)
        rec["path"] = np.char.encode(np.char.add(np.char.add("data/S/", np.char.replace(names[g], " ", "_")),
                                                 np.char.add(".f", np.char.add(ids, ".fits"))))
        rec["galaxy"] = np.char.encode(names[g])
        rec["tracer"] = np.char.encode(TRACERS[t])
        rec["survey"] = b"S"
        rec["tree"] = b"data"
        line = t < 3
        rec["product"] = np.where(line, b"cube", b"image")
        rec["res"] = rng.uniform(1, 40, k)
        chan = rng.uniform(1, 10, k)
        rms = rng.uniform(0.01, 2, k)
        rec["chan_kms"] = np.where(line, chan, np.nan)
        rec["rms_k"] = np.where(line, rms, np.nan)
        rec["depth_k"] = np.where(line, rms * np.sqrt(chan), np.nan)
        rec["ra"], rec["dec"] = gra[g], gdec[g]
        rec["fov"] = 8.0 * np.sqrt(2)
        rec["foot_n"] = 4
        cosd = np.maximum(np.cos(np.radians(gdec[g])), 0.05)
        for j, (dx, dy) in enumerate(((1, -1), (1, 1), (-1, 1), (-1, -1))):
            rec["foot_ra"][:, j] = (gra[g] + dx * (4 / 60) / cosd) % 360
            rec["foot_dec"][:, j] = np.clip(gdec[g] + dy * 4 / 60, -90, 90)
        rec["foot_ra"][:, 4:] = np.nan
        rec["foot_dec"][:, 4:] = np.nan
        for name in ("bmaj", "bmin", "bpa", "restfrq", "spec_min", "spec_max", "specres", "repunc", "mtime",
                     *(f"cdelt{i}" for i in range(1, 5)), *(f"crval{i}" for i in range(1, 5))):
            rec[name] = np.nan
        rec["valid"] = ord("T")
        rec["current"] = ord("T")   # every row is its file's current version (docs/versions.md)
        rec["size"] = 1_000_000
        for name in ("naxis1", "naxis2", "naxis3", "naxis4", "n_problems"):
            rec[name] = -1
        w.add_records(rec)
        done += k
    w.finish([{"name": n, "aliases": "IC 342;IC342" if n == "IC 0342" else "", "ra": a, "dec": d,
               "dist": r, "dist_src": "synthetic"} for n, a, d, r in zip(names, gra, gdec, gdist)])
    return path


CPU: dict = {}
RSS: dict = {}


def timed(cmd) -> tuple[float, int]:
    """Wall time of ``cmd`` (process start to exit, output drained) and its line count; the
    child's CPU time (user + system) goes to ``CPU[tuple(cmd)]`` and its peak resident memory
    (bytes, from ``wait4``: this child alone) to ``RSS[tuple(cmd)]`` -- on a shared machine the
    wall time includes waiting for a core, the CPU time does not."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)   # this child's own rusage (peak RSS), not all children's
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {err.read().decode()[-2000:]}")
    CPU.setdefault(tuple(cmd), []).append(ru.ru_utime + ru.ru_stime)
    RSS.setdefault(tuple(cmd), []).append(ru.ru_maxrss * 1024)
    return dt, len(out.splitlines())


# DuckDB over a Parquet copy of the scalar columns (footprints left out): the columnar
# engine a data scientist would reach for.  Benchmark-only (pip install 'sfng[bench]').
DUCKDB = r'''
import sys
import duckdb
files, gal, case = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
if case == "1":
    q = (f"SELECT f.path FROM '{files}' f JOIN '{gal}' g ON f.galaxy = g.name "
         "WHERE f.current AND f.tracer = 'CO(1-0)' AND f.res < 15 AND f.depth_k <= 1.0 AND g.dist < 15")
elif case == "2":
    q = (f"SELECT galaxy FROM '{files}' WHERE current GROUP BY galaxy HAVING bool_or(tracer = 'CO(1-0)') "
         "AND bool_or(tracer = 'MIPS24') AND NOT bool_or(tracer = 'HALPHA') ORDER BY galaxy")
else:
    q = f"SELECT path FROM '{files}' WHERE current AND galaxy = 'IC 0342'"
out = sys.stdout
for (p,) in con.execute(q).fetchall():
    out.write(p + "\n")
'''

#: Targets (issue 18): per use case, from process start to the last line printed.
TARGET_S = 0.35
TARGET_MB = 300
TARGET_ROW_BYTES = 600


def write_parquet(index: Path, work: Path) -> tuple[Path, Path] | None:
    """Parquet copies of the index's scalar FILES columns and of GALAXIES, for DuckDB (None
    without pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    files_pq, gal_pq = work / f"{index.stem}.files.parquet", work / f"{index.stem}.galaxies.parquet"
    if files_pq.exists() and gal_pq.exists():
        return files_pq, gal_pq
    from sfng.index import io

    rec = io.open_records(index)
    gal = io.open_galaxy_records(index)

    def arrow(col, logical=False):
        col = np.asarray(col)
        if logical:
            return pa.array(col == ord("T"))
        if col.dtype.kind == "S":
            return pa.array(np.char.decode(col, "utf-8"))
        return pa.array(col.astype(col.dtype.newbyteorder("=")))

    from sfng.index.schema import FILES_COLUMNS

    cols = {c.name: arrow(rec[c.name], c.kind == "?") for c in FILES_COLUMNS if not c.shape}
    pq.write_table(pa.table(cols), files_pq)
    pq.write_table(pa.table({n: arrow(gal[n]) for n in gal.dtype.names}), gal_pq)
    return files_pq, gal_pq


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, help="folder for the index (default: a temporary folder)")
    ap.add_argument("--no-naive", action="store_true", help="skip the astropy baseline")
    ap.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB-over-Parquet baseline")
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    ap.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="sfng-bench-query-"))
    work.mkdir(parents=True, exist_ok=True)
    index = work / f"SFNG-INDEX-{args.rows}.fits"
    if args.write_only:
        write_big_index(index, args.rows)
        if not args.no_duckdb:
            write_parquet(index, work)
        return
    if not index.exists():
        # In a child: a process's peak memory counts what its parent held when it forked, so
        # this one must stay small for the measured commands' figures to be their own.
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--work", str(work),
                        "--write-only", *(["--no-duckdb"] if args.no_duckdb else [])], check=True)
        print(f"wrote {index} ({index.stat().st_size / 1e9:.2f} GB, {args.rows:,} rows) in "
              f"{time.perf_counter() - t0:.1f} s")
    duck = None
    if not args.no_duckdb:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            print("(DuckDB baseline skipped: pip install 'sfng[bench]')")
        else:
            duck = (work / f"{index.stem}.files.parquet", work / f"{index.stem}.galaxies.parquet")
            if not duck[0].exists():
                subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--work", str(work),
                                "--write-only"], check=True)
    # A pip install byte-compiles a package; an editable one (and PYTHONDONTWRITEBYTECODE=1)
    # would recompile sfng's sources at every start, which no user's `sfng find` pays.
    import compileall

    compileall.compile_dir(str(REPO / "sfng"), quiet=1)
    script = Path(sys.executable).with_name("sfng")
    sfng = [str(script)] if script.exists() else [sys.executable, "-m", "sfng"]
    naive = [sys.executable, "-c", NAIVE, str(index)]
    for case, opts in USE_CASES.items():   # warm the page cache and the imports
        timed([*sfng, "find", "--index", str(index), *opts, "--format", "paths"])
        if duck:
            timed([sys.executable, "-c", DUCKDB, str(duck[0]), str(duck[1]), case[0]])
    results = []
    nan = float("nan")
    for case, opts in USE_CASES.items():
        ts, tn, td = [], [], []
        n_s = n_n = n_d = None
        cmd_s = [*sfng, "find", "--index", str(index), *opts, "--format", "paths"]
        cmd_n = [*naive, case[0]]
        cmd_d = [sys.executable, "-c", DUCKDB, str(duck[0]), str(duck[1]), case[0]] if duck else None
        for _ in range(args.repeat):
            dt, n_s = timed(cmd_s)
            ts.append(dt)
            if duck:
                dt, n_d = timed(cmd_d)
                td.append(dt)
            if not args.no_naive:
                dt, n_n = timed(cmd_n)
                tn.append(dt)

        def med(cmd, times):
            return (statistics.median(times), statistics.median(CPU[tuple(cmd)][-args.repeat:]),
                    max(RSS[tuple(cmd)][-args.repeat:]) / 1e6) if times else (nan, nan, nan)

        row = {"case": case, "rows_out": n_s, "naive_rows_out": n_n, "duckdb_rows_out": n_d}
        row["sfng_s"], row["sfng_cpu"], row["sfng_rss_mb"] = med(cmd_s, ts)
        row["naive_s"], row["naive_cpu"], row["naive_rss_mb"] = med(cmd_n, tn)
        row["duckdb_s"], row["duckdb_cpu"], row["duckdb_rss_mb"] = med(cmd_d, td)
        row["ok_time"] = row["sfng_s"] <= TARGET_S
        row["ok_memory"] = row["sfng_rss_mb"] <= TARGET_MB
        row["ok_vs_duckdb"] = bool(row["sfng_s"] < row["duckdb_s"]) if td else None
        results.append(row)
        verdict = lambda ok: "pass" if ok else "FAIL" if ok is not None else "n/a"  # noqa: E731
        print(f"use case {case}: sfng {row['sfng_s']:.3f} s wall / {row['sfng_cpu']:.3f} s cpu / "
              f"{row['sfng_rss_mb']:.0f} MB peak ({n_s} lines); DuckDB+Parquet {row['duckdb_s']:.3f} s / "
              f"{row['duckdb_cpu']:.3f} s cpu / {row['duckdb_rss_mb']:.0f} MB ({n_d} lines); naive astropy "
              f"{row['naive_s']:.3f} s / {row['naive_rss_mb']:.0f} MB ({n_n} lines)")
        print(f"   targets: <= {TARGET_S} s {verdict(row['ok_time'])}, <= {TARGET_MB} MB "
              f"{verdict(row['ok_memory'])}, faster than DuckDB {verdict(row['ok_vs_duckdb'])}")
        for other, n_o in (("naive", n_n), ("DuckDB", n_d)):
            if n_o is not None and n_o != n_s:
                print(f"   WARNING: sfng printed {n_s} lines, {other} {n_o}")
    row_bytes = _row_bytes(index)
    print(f"index: {index.stat().st_size / 1e6:.0f} MB, FILES row {row_bytes} bytes "
          f"(target <= {TARGET_ROW_BYTES}: {'pass' if row_bytes <= TARGET_ROW_BYTES else 'FAIL'})")
    phases = in_process(index)
    print("in one process, index opened: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in phases.items()))
    t_start, _ = timed([sys.executable, "-c", "import numpy, click"])
    load = os.getloadavg()[0]
    print(f"(python + numpy + click start-up alone: {t_start:.3f} s; load average {load:.1f} "
          f"on {os.cpu_count()} cores)")
    if not args.no_record:
        record(results, args, index, t_start, load, phases, row_bytes)


def _row_bytes(index: Path) -> int:
    from sfng.index import io

    rec = io.open_records(index)
    return rec.dtype.itemsize if rec is not None else -1


IN_PROCESS = r'''
import json, sys, time
import numpy as np
from sfng.query import load_index, select
from sfng.select import Selection
t0 = time.perf_counter()
idx = load_index(sys.argv[1])
t1 = time.perf_counter()
np.asarray(idx.raw("tracer")) == b"x"     # the first full-column read maps every page
t2 = time.perf_counter()
out = {"open": t1 - t0, "first full-column read": t2 - t1}
idx.vocabulary(); idx.resolve_galaxy("IC 342")
for n, kw in ((1, dict(tracers=("CO10",), res="<15", dist="<15", depth="<=1K")),
              (2, dict(has=("CO10", "MIPS24"), lacks=("HALPHA",))), (3, dict(galaxies=("IC 342",)))):
    sel = Selection.build(**kw)
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        r = select(idx, sel)
        r.galaxies if sel.is_galaxy_set else r.paths()
        best = min(best, time.perf_counter() - t)
    out[f"select use case {n}"] = best
print(json.dumps(out))
'''


def in_process(index: Path) -> dict:
    """Where the time goes once Python is up: opening, mapping the pages, each selection."""
    import json

    p = subprocess.run([sys.executable, "-c", IN_PROCESS, str(index)], stdout=subprocess.PIPE, check=True)
    return json.loads(p.stdout)


def record(results, args, index, t_start, load, phases, row_bytes):
    path = REPO / "docs" / "benchmarks.md"
    head = "" if path.exists() else "# Benchmarks\n\nNumbers measured on the project machine by the scripts in `benchmarks/`.\n"
    lines = [f"\n## Query: `sfng find` on a {args.rows:,}-row index ({time.strftime('%Y-%m-%d')})\n",
             f"`python benchmarks/bench_query.py --rows {args.rows} --repeat {args.repeat}` on "
             f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; index "
             f"{index.stat().st_size / 1e6:.0f} MB ({row_bytes} bytes per FILES row), warm page cache; "
             f"medians, end to end (process start to last line printed), peak resident memory of "
             f"the process. Targets: <= {TARGET_S} s, <= {TARGET_MB} MB, faster than DuckDB over "
             f"Parquet, <= {TARGET_ROW_BYTES} bytes per row.\n",
             "| use case | lines out | sfng find wall (cpu), peak | DuckDB + Parquet wall (cpu), peak | "
             "naive astropy wall, peak | targets |",
             "|---|---|---|---|---|---|"]
    for r in results:
        ok = "time " + ("pass" if r["ok_time"] else "FAIL") + ", memory " + ("pass" if r["ok_memory"] else "FAIL") \
            + ", vs DuckDB " + ({True: "pass", False: "FAIL", None: "n/a"}[r["ok_vs_duckdb"]])
        lines.append(f"| {r['case']} | {r['rows_out']} | {r['sfng_s']:.3f} s ({r['sfng_cpu']:.3f} s), "
                     f"{r['sfng_rss_mb']:.0f} MB | {r['duckdb_s']:.3f} s ({r['duckdb_cpu']:.3f} s), "
                     f"{r['duckdb_rss_mb']:.0f} MB | {r['naive_s']:.3f} s, {r['naive_rss_mb']:.0f} MB | {ok} |")
    lines.append(f"\nWhere the time goes: Python + numpy + click start-up alone {t_start:.3f} s; in one "
                 f"process with the index open, " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in phases.items())
                 + f". Load average {load:.1f} on {os.cpu_count()} cores during the run.")
    same = all(r[k] in (None, r["rows_out"]) for r in results for k in ("naive_rows_out", "duckdb_rows_out"))
    lines.append(("Every approach printed the same number of lines for every use case."
                  if same else "WARNING: the approaches printed different numbers of lines.") + "\n")
    old = path.read_text(encoding="utf-8") if path.exists() else head
    # A rerun replaces this script's earlier section for the same index size.
    title = lines[0].strip().split(" (")[0]
    kept = [part for part in old.split("\n## ") if not ("## " + part).startswith(title)]
    text = "\n## ".join(kept).rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    from sfng.fsutil import atomic_write_text

    atomic_write_text(path, text, overwrite=True)
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
