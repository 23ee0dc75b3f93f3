#!/usr/bin/env python
"""Run every ``benchmarks/bench_*.py`` in turn and print their results, then a summary.

Each script runs in its own process (so one's imports and caches do not help another) with
its default settings, from the repository root.  Options:

    python benchmarks/run_all.py                    # everything (``make bench``)
    python benchmarks/run_all.py --only headers     # scripts whose name contains "headers"
    python benchmarks/run_all.py --skip query       # all but bench_query.py
    python benchmarks/run_all.py --no-record        # do not append to docs/benchmarks.md
    python benchmarks/run_all.py --list             # show the scripts and stop

``--no-record`` is passed to the scripts that accept it.  The exit status is non-zero if any
script failed; the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def scripts(only=(), skip=()) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [p for p in found if any(o in p.stem for o in only)]
    return [p for p in found if not any(s in p.stem for s in skip)]


def accepts(script: Path, option: str) -> bool:
    """Whether a script declares ``option`` (read from its source, without running it)."""
    return f'"{option}"' in script.read_text(encoding="utf-8")


def run(script: Path, no_record: bool) -> tuple[int, float]:
    cmd = [sys.executable, str(script)]
    if no_record and accepts(script, "--no-record"):
        cmd.append("--no-record")
    print(f"\n=== {script.name}  ({' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))})",
          flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=REPO)
    return rc, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only scripts whose name contains TEXT (repeatable)")
    ap.add_argument("--skip", action="append", default=[], metavar="TEXT",
                    help="skip scripts whose name contains TEXT (repeatable)")
    ap.add_argument("--no-record", action="store_true", help="do not append results to docs/benchmarks.md")
    ap.add_argument("--list", action="store_true", help="list the scripts that would run, and stop")
    a = ap.parse_args(argv)

    todo = scripts(a.only, a.skip)
    if not todo:
        print("no benchmark script matches", file=sys.stderr)
        return 2
    if a.list:
        for p in todo:
            print(p.relative_to(REPO))
        return 0
    results = []
    for script in todo:
        try:
            rc, secs = run(script, a.no_record)
        except KeyboardInterrupt:
            print(f"\ninterrupted during {script.name}", file=sys.stderr)
            return 130
        results.append((script.name, rc, secs))
    print("\n=== summary")
    width = max(len(n) for n, _, _ in results)
    for name, rc, secs in results:
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"  {name:<{width}}  {secs:8.1f} s  {status}")
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
