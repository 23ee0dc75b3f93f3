#!/usr/bin/env python
"""Ingest throughput against ``cp`` + ``sha256sum`` in the same run, and the kill -9 fault test.

Throughput: a survey folder of FITS cubes (``--size-mb`` in ``--files`` files) is landed by
``sfng.ingest`` (plan + execute: hash while copying, temporary name, fsync, verify, atomic
rename, manifest) and copied by ``cp`` followed by ``sha256sum`` of the copies; the runs
alternate, ``--repeat`` times each, from a warm page cache, and the medians are compared.  The
target (issue 3) is a throughput ratio of at least 0.8.  Because ingest fsyncs and ``cp`` does
not, the baseline with a final ``sync`` is printed too.

Fault test (``--trials N``): each trial starts ``sfng ingest`` (copy or move) in a subprocess,
kills it with SIGKILL at a random point of its progress (after a random number of files, a random
fraction of a file later), checks that no partial file sits under a final name and
that every manifest entry verifies, then reruns it to completion and checks that every source
landed exactly once with its bytes, nothing is left over, and (move) every source is gone.

    python benchmarks/bench_ingest.py                       # ~2 GB throughput run
    python benchmarks/bench_ingest.py --size-mb 256 --trials 20
    python benchmarks/bench_ingest.py --no-throughput --trials 20

Results are appended to docs/benchmarks.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import shutil
import signal
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

from common import append_to_benchmarks_md, make_cube_fits  # noqa: E402

TMP_PREFIX = ".sfng-tmp-"


# ---------------------------------------------------------------------------------------------
# Survey folders
# ---------------------------------------------------------------------------------------------

def make_survey(folder: Path, n_files: int, total_mb: float, seed: int = 1) -> dict:
    """``{file name: sha256}`` of a new survey folder."""
    folder.mkdir(parents=True, exist_ok=True)
    per = int(total_mb * 1e6 / n_files)
    sums = {}
    for i in range(n_files):
        p = folder / f"NGC0628_field{i:03d}_co21.fits"
        make_cube_fits(p, per, seed * 1000 + i)
        sums[p.name] = sha256(p)
    (folder / f"{folder.name}_README.txt").write_text("BUNIT = K\n---\nBenchmark survey.\n")
    return sums


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(4 << 20):
            h.update(b)
    return h.hexdigest()


def new_store(path: Path):
    from sfng.store import Store, init_store

    init_store(path, name="bench")
    return Store.open(path)


# ---------------------------------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------------------------------

def run_cp_sha(src: Path, dst: Path, sync: bool) -> float:
    files = sorted(str(p) for p in src.glob("*.fits"))
    dst.mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run(["cp", *files, str(dst)], check=True)
    subprocess.run(["sha256sum", *sorted(str(p) for p in dst.glob("*.fits"))], check=True,
                   stdout=subprocess.DEVNULL)
    if sync:
        subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def run_ingest(store, src: Path, jobs: int) -> float:
    from sfng.ingest import execute, plan_ingest

    t0 = time.perf_counter()
    report = execute(plan_ingest(store, src, survey="BENCH"), jobs=jobs)
    dt = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"ingest failed: {report.summary()}")
    return dt


def throughput(work: Path, size_mb: float, n_files: int, repeat: int, jobs_list) -> dict:
    src = work / "BENCH"
    make_survey(src, n_files, size_mb)
    total = sum(p.stat().st_size for p in src.glob("*.fits"))
    subprocess.run(["cat", *map(str, src.glob("*.fits"))], stdout=subprocess.DEVNULL, check=True)  # warm
    times: dict = {"cp+sha256sum": [], "cp+sha256sum+sync": []}
    for j in jobs_list:
        times[f"sfng ingest --jobs {j}"] = []
    for r in range(repeat):
        for name in list(times):
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            if name.startswith("cp"):
                dt = run_cp_sha(src, out / "copy", sync=name.endswith("sync"))
            else:
                store = new_store(out / "store")
                dt = run_ingest(store, src, int(name.rsplit(" ", 1)[1]))
            times[name].append(dt)
            print(f"  run {r + 1}/{repeat}  {name:24s} {dt:7.2f} s  {total / dt / 1e6:7.0f} MB/s", flush=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"bytes": total, "files": n_files, "median_s": med}


# ---------------------------------------------------------------------------------------------
# Fault test
# ---------------------------------------------------------------------------------------------

def _ingest_cmd(store_root: Path, src: Path, mode: str) -> list:
    cmd = [sys.executable, "-m", "sfng", "-q", "--store", str(store_root), "ingest", str(src),
           "--survey", "S", "--force"]
    if mode != "copy":
        cmd.append(f"--{mode}")
    return cmd


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["SFNG_OFFLINE"] = "1"
    return env


def check_after_kill(store_root: Path, sums: dict) -> list[str]:
    """No partial file under a final name; every manifest entry verifies."""
    from sfng import manifest as mf

    bad = []
    folder = store_root / "data" / "S"
    if not folder.is_dir():
        return bad
    by_sum = set(sums.values())
    for p in folder.iterdir():
        if p.name.startswith(TMP_PREFIX) or p.name in (mf.MANIFEST_NAME, "S_README.txt"):
            continue
        if sha256(p) not in by_sum:
            bad.append(f"partial or foreign file under a final name: {p.name}")
    for name, e in mf.read_manifest(folder).items():
        p = folder / name
        if not p.is_file() or sha256(p) != e.sha256 or p.stat().st_size != e.size:
            bad.append(f"manifest entry does not verify: {name}")
    return bad


def check_complete(store_root: Path, src: Path, sums: dict, mode: str) -> list[str]:
    from sfng import manifest as mf

    bad = []
    folder = store_root / "data" / "S"
    landed = {p.name: p for p in folder.iterdir()
              if p.name not in (mf.MANIFEST_NAME, "S_README.txt")}
    tmp = [n for n in landed if n.startswith(TMP_PREFIX)]
    if tmp:
        bad.append(f"temporary files left: {tmp}")
    if sorted(landed) != sorted(sums):
        bad.append(f"landed {sorted(set(landed) ^ set(sums))} differ from the sources")
    for name, want in sums.items():
        if name in landed and sha256(landed[name]) != want:
            bad.append(f"{name}: bytes differ from the source")
    text = (folder / mf.MANIFEST_NAME).read_text()
    entries, problems = mf.parse(text)
    hash_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    if problems or len(hash_lines) != len(entries) or sorted(entries) != sorted(sums):
        bad.append(f"manifest: {len(hash_lines)} lines, {len(entries)} entries, problems {problems}")
    for name, e in entries.items():
        if e.sha256 != sums.get(name):
            bad.append(f"manifest entry wrong: {name}")
    if mode == "move":
        left = [p.name for p in src.glob("*.fits")]
        if left:
            bad.append(f"move left sources behind: {left}")
    if list((store_root / ".sfng" / "journal").glob("*")):
        bad.append("journal left behind")
    return bad


def _landed(folder: Path) -> int:
    try:
        return sum(1 for n in os.listdir(folder) if n.endswith(".fits") and not n.startswith(TMP_PREFIX))
    except FileNotFoundError:
        return 0


def fault_trial(work: Path, seed: int, mode: str, n_files: int = 12, size_mb: float = 24.0,
                startup: float = 0.3, per_file: float = 0.03) -> dict:
    """One kill -9 trial; returns ``{"ok", "delay_s", "landed_at_kill", "problems", ...}``.

    The kill point is drawn in progress, not in time, so that every trial interrupts real work:
    a number of files ``k`` in [0, n_files - 1] is drawn; the kill comes a random fraction of one
    file's time (``per_file`` seconds) after the ``k``-th file landed (for ``k == 0``: at a
    random moment between half the start-up time and the first file landing).
    """
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "S"
    sums = make_survey(src, n_files, size_mb, seed=seed)
    store = new_store(work / "store")
    env = _env()
    k = rng.randrange(n_files)
    extra = rng.uniform(0.0, per_file)
    folder = store.root / "data" / "S"
    t0 = time.perf_counter()
    proc = subprocess.Popen(_ingest_cmd(store.root, src, mode), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if k == 0:
        time.sleep(rng.uniform(0.5 * startup, startup + per_file))
    else:
        while proc.poll() is None and _landed(folder) < k:
            time.sleep(0.001)
        time.sleep(extra)
    delay = time.perf_counter() - t0
    finished_before_kill = proc.poll() is not None
    if not finished_before_kill:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    landed_at_kill = len(list((store.root / "data" / "S").glob("NGC*"))) if (store.root / "data" / "S").is_dir() else 0
    problems = check_after_kill(store.root, sums)
    rerun = subprocess.run(_ingest_cmd(store.root, src, mode), env=env, capture_output=True, text=True)
    if rerun.returncode != 0:
        problems.append(f"rerun exit {rerun.returncode}: {rerun.stdout[-500:]} {rerun.stderr[-500:]}")
    problems += check_complete(store.root, src, sums, mode)
    return {"ok": not problems, "mode": mode, "delay_s": round(delay, 3),
            "finished_before_kill": finished_before_kill, "landed_at_kill": landed_at_kill,
            "files": n_files, "problems": problems}


def fault_test(work: Path, trials: int, n_files: int, size_mb: float) -> list[dict]:
    # Calibrate the start-up and the time per file of an uninterrupted run.
    cal = work / "calibrate"
    src = cal / "S"
    make_survey(src, n_files, size_mb, seed=0)
    new_store(cal / "store")
    empty = cal / "EMPTY"
    empty.mkdir()
    t0 = time.perf_counter()
    subprocess.run(_ingest_cmd(cal / "store", empty, "copy"), env=_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    startup = time.perf_counter() - t0
    per_file = {}
    for mode in ("copy", "move"):  # copy first: the move empties the folder
        new_store(cal / f"store-{mode}")
        t0 = time.perf_counter()
        subprocess.run(_ingest_cmd(cal / f"store-{mode}", src, mode), env=_env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        full = time.perf_counter() - t0
        per_file[mode] = max(0.002, (full - startup) / n_files)
        print(f"  {mode}: start-up {startup:.2f} s, an uninterrupted run {full:.2f} s, "
              f"{per_file[mode] * 1e3:.0f} ms per file")
    shutil.rmtree(cal)
    out = []
    for t in range(trials):
        mode = ("copy", "move")[t % 2]
        r = fault_trial(work / f"t{t}", seed=t + 1, mode=mode, n_files=n_files, size_mb=size_mb,
                        startup=startup, per_file=per_file[mode])
        shutil.rmtree(work / f"t{t}", ignore_errors=True)
        state = "finished before the kill" if r["finished_before_kill"] else \
            f"killed with {r['landed_at_kill']}/{n_files} landed"
        print(f"  trial {t + 1:2d} {mode:4s} kill at {r['delay_s']:.3f} s ({state}): "
              f"{'OK' if r['ok'] else 'FAIL ' + '; '.join(r['problems'])}", flush=True)
        out.append(r)
    return out


# ---------------------------------------------------------------------------------------------

def record(lines: list[str]) -> None:
    append_to_benchmarks_md(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=2048, help="total size of the cubes (MB)")
    ap.add_argument("--files", type=int, default=16, help="number of cubes")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender")
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to measure")
    ap.add_argument("--trials", type=int, default=0, help="kill -9 fault trials (0: none)")
    ap.add_argument("--trial-files", type=int, default=24)
    ap.add_argument("--trial-mb", type=float, default=96)
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--workdir", help="scratch folder (default: a temporary folder)")
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks.md")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sfng-bench-ingest-"))
    lines = [f"## Ingest ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{platform.node() or 'host'}, {os.cpu_count()} CPU, Python {platform.python_version()})", ""]
    ok = True
    try:
        if not args.no_throughput:
            print(f"throughput: {args.files} cubes, {args.size_mb:.0f} MB, in {work}")
            res = throughput(work, args.size_mb, args.files, args.repeat,
                             [int(j) for j in args.jobs.split(",")])
            med = res["median_s"]
            base = med["cp+sha256sum"]
            lines += [f"Throughput, {res['files']} FITS cubes, {res['bytes'] / 1e9:.2f} GB, median of "
                      f"{args.repeat} runs each, warm page cache:", "",
                      "| contender | time (s) | MB/s | throughput vs cp + sha256sum |", "|---|---|---|---|"]
            for name, dt in med.items():
                lines.append(f"| {name} | {dt:.2f} | {res['bytes'] / dt / 1e6:.0f} | {base / dt:.2f} |")
            print()
            for name, dt in med.items():
                print(f"{name:26s} {dt:7.2f} s   ratio vs cp+sha256sum: {base / dt:.2f}")
            best = max(base / dt for n, dt in med.items() if n.startswith("sfng"))
            j1 = base / med["sfng ingest --jobs 1"] if "sfng ingest --jobs 1" in med else best
            ok &= j1 >= 0.8
            lines += ["", f"Target >= 0.8: --jobs 1 gives {j1:.2f}, best {best:.2f} "
                          f"({'met' if j1 >= 0.8 else 'NOT met'} with --jobs 1).", ""]
        if args.trials:
            print(f"fault test: {args.trials} kill -9 trials, {args.trial_files} files, {args.trial_mb:.0f} MB each")
            res = fault_test(work / "faults", args.trials, args.trial_files, args.trial_mb)
            n_ok = sum(r["ok"] for r in res)
            killed = [r for r in res if not r["finished_before_kill"]]
            ok &= n_ok == len(res)
            lines += [f"Fault test: {len(res)} trials (copy and move alternating), {args.trial_files} files / "
                      f"{args.trial_mb:.0f} MB each, SIGKILL at a random point (after a random number of "
                      f"landed files, a random fraction of a file's time later) then a rerun: "
                      f"{n_ok}/{len(res)} passed; {len(killed)} killed mid-run (with "
                      f"{', '.join(str(r['landed_at_kill']) for r in killed)} files landed at the kill). "
                      f"Checks: no partial file under a final name, every manifest entry verifies, the "
                      f"rerun lands every file once with its bytes, nothing left over, move empties the "
                      f"source.", ""]
            print(f"fault test: {n_ok}/{len(res)} trials passed")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if not args.no_record:
        record(lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
