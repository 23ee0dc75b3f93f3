#!/usr/bin/env python
"""``sfng index diff`` of two big indexes: the column-wise numpy comparison
(:func:`sfng.index.diff.diff_indexes`) against the row-by-row loop it replaced (``85a7138``'s
``sfng/index/diff.py``, loaded from git as the baseline), on the same pair of files in the same
run, and the two reports compared for equality.

The pair: a synthetic index of ``--rows`` rows (``bench_query.write_big_index``) and a copy with
1% of the rows' ``res`` changed, 0.5% removed and 0.5% added.  The baseline is timed at
``--baseline-rows`` (default the same; it takes minutes past 10^5 rows).

    python benchmarks/bench_diff.py --rows 100000 --no-record
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

BASELINE_COMMIT = "85a7138"


def changed_copy(src: Path, dst: Path, seed: int = 7) -> dict:
    """``dst``: ``src`` with 1% of ``res`` changed, 0.5% of rows removed, 0.5% added."""
    from sfng.index.io import IndexWriter, read_index
    from sfng.index.layout import widen
    from sfng.index.schema import FILES_COLUMNS

    files, gal, _ = read_index(src)
    rec = widen(np.asarray(files.as_array()), FILES_COLUMNS)
    for c in FILES_COLUMNS:
        if c.kind == "?":     # read back as bool; the writer takes FITS logicals, ord('T') / ord('F')
            rec[c.name] = np.where(np.asarray(files[c.name], dtype=bool), ord("T"), ord("F"))
    rng = np.random.default_rng(seed)
    n = len(rec)
    keep = rng.random(n) > 0.005
    change = rng.random(n) < 0.01
    rec["res"] = np.where(change, rec["res"] * 1.5, rec["res"])
    new = rec[rng.integers(0, n, max(1, n // 200))].copy()
    new["path"] = np.char.add(np.char.replace(new["path"], b".fits", b""),
                              np.char.add(b"-new", np.char.add(np.arange(len(new)).astype("S8"), b".fits")))
    out = np.concatenate([rec[keep], new])
    w = IndexWriter(dst, {"store": "bench", "sfng_version": "bench", "built": "2026-01-01T00:00:00"})
    w.add_records(out)
    w.finish([{c: (v.decode() if isinstance(v, bytes) else v) for c, v in zip(gal.colnames, row)} for row in gal]
             if gal is not None else [])
    return {"removed": int((~keep).sum()), "added": len(new), "changed": int((change & keep).sum())}


def baseline_module():
    """The row-by-row ``diff_indexes`` of ``BASELINE_COMMIT``, as a module of ``sfng.index``."""
    text = subprocess.run(["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:sfng/index/diff.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="sfng-bench-diff-")) / "_diff_loop.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("sfng.index._diff_loop", path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "sfng.index"
    sys.modules[spec.name] = mod            # dataclasses look their module up while defining
    spec.loader.exec_module(mod)
    return mod


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline-rows", type=int, help="rows of the pair the baseline loop is timed on")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)
    import bench_query as bq
    from sfng.index.diff import diff_indexes

    work = args.work or Path(tempfile.mkdtemp(prefix="sfng-bench-diff-"))
    work.mkdir(parents=True, exist_ok=True)

    def pair(n):
        a, b = work / f"old-{n}.fits", work / f"new-{n}.fits"
        truth = None
        if not (a.exists() and b.exists()):
            bq.write_big_index(a, n)
            truth = changed_copy(a, b)
        return a, b, truth

    a, b, truth = pair(args.rows)
    from sfng.index.io import read_index

    read_index(a, galaxies=False)     # imports and the page cache warm for both implementations
    t_new, rep = timed(diff_indexes, a, b)
    counts = rep.as_dict()["counts"]
    print(f"column-wise diff, {args.rows:,} rows: {t_new:.2f} s ({args.rows / t_new:,.0f} rows/s); {counts}"
          + (f"; made: {truth}" if truth else ""), flush=True)
    nb = args.baseline_rows or args.rows
    ab, bb, _ = pair(nb) if nb != args.rows else (a, b, None)
    t_new_b, rep_b = (t_new, rep) if nb == args.rows else timed(diff_indexes, ab, bb)
    lines = [f"## `sfng index diff` ({time.strftime('%Y-%m-%d')})", "",
             f"`python benchmarks/bench_diff.py --rows {args.rows}`: two synthetic indexes, 1% of rows "
             f"changed, 0.5% removed, 0.5% added; the row-by-row loop of `{BASELINE_COMMIT}` as the baseline, "
             f"same files, same run.", "",
             "| rows | row loop (before) | keyed once, column-wise (after) | ratio | same report |", "| --- | --- | --- | --- | --- |"]
    try:
        old = baseline_module()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"no baseline: cannot read {BASELINE_COMMIT}'s diff.py from git ({exc})")
        lines.append(f"| {nb:,} | (no git baseline) | {t_new_b:.2f} s | - | - |")
    else:
        t_old, rep_old = timed(old.diff_indexes, ab, bb)
        same = rep_old.as_dict() == rep_b.as_dict()
        print(f"row loop,   {nb:,} rows: {t_old:.2f} s; numpy {t_new_b:.2f} s: x{t_old / t_new_b:.1f}; "
              f"same report: {same}", flush=True)
        lines.append(f"| {nb:,} | {t_old:.2f} s | {t_new_b:.2f} s | x{t_old / t_new_b:.1f} | {same} |")
    if nb != args.rows:
        lines.append(f"| {args.rows:,} | - | {t_new:.2f} s | - | - |")
    if not args.no_record:
        from common import append_to_benchmarks_md

        append_to_benchmarks_md(lines)


if __name__ == "__main__":
    main()
