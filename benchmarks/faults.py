#!/usr/bin/env python
"""Fault campaign: kill -9 every sfng writer at random steps, rerun it, check that nothing was lost.

Every writer announces its steps through ``sfng.fsutil.fault_point`` (each journal record, each
temporary written, each rename, each manifest write).  With ``SFNG_FAULT_KILL_AT=N`` in its
environment a process SIGKILLs itself at its N-th step (a test-only hook: ``sfng/journal.py``).
A trial prepares a small store, runs one writer killed at step N, reruns the same command
unkilled, and checks:

* **no loss**: every file the writer was to land is there with its bytes (and its source, for a
  copy; gone, for a move), and nothing else changed (compared with an unkilled reference run);
* **manifests right**: ``sha256sum -c MANIFEST.sha256`` passes in every landing folder;
* **no leftovers**: no ``.sfng-tmp-*`` file, no journal in ``.sfng/journal/``, no ``.partial``
  release;
* **the job finished**: the rerun exits 0 and ``sfng fsck`` finds nothing wrong.

The writers run in a forked child of this process (the imports are loaded once, so a trial takes
tens of milliseconds): ``tests/test_faults.py`` uses the same scenarios and kills each writer at
every one of its steps; this campaign (``make faults``) draws ``--trials`` random steps per writer
on larger workloads and appends its figures to ``docs/reliability.md`` (unless ``--no-record``).

    python benchmarks/faults.py                  # 24 trials per writer
    python benchmarks/faults.py --trials 50 --only ingest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

TMP_PREFIX = ".sfng-tmp-"
CO10 = 115.2712018e9
AIPS = "AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"
SHA256SUM = shutil.which("sha256sum")


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def sha(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def cube(path: Path, *, shape=(6, 16, 16), seed=1, fixable=False, stokes_zero=False, obj="NGC628") -> Path:
    """A small FITS cube: valid (``fixable=False``), or THINGS-like with its beam only in an AIPS
    HISTORY card (what ``sfng fix`` repairs), or with a degenerate Stokes axis (``stokes_zero``)."""
    import numpy as np
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    data = rng.normal(0, 0.1, size=shape).astype(np.float32)
    hdu = fits.PrimaryHDU(data)
    h = hdu.header
    cards = dict(CTYPE1="RA---SIN", CRVAL1=24.17, CDELT1=-2 / 3600, CRPIX1=8.5, CUNIT1="deg",
                 CTYPE2="DEC--SIN", CRVAL2=15.78, CDELT2=2 / 3600, CRPIX2=8.5, CUNIT2="deg",
                 CTYPE3="VRAD", CRVAL3=657e3, CDELT3=2600.0, CRPIX3=1.0, CUNIT3="m/s",
                 BUNIT="K", BMAJ=13.4 / 3600, BMIN=13.4 / 3600, BPA=0.0, RESTFRQ=CO10, SPECRES=2600.0,
                 OBJECT=obj)
    if fixable:
        for k in ("BMAJ", "BMIN", "BPA", "RESTFRQ", "CUNIT3"):
            cards.pop(k)
        cards.update(RESTFREQ=1.420405752e9, CTYPE3="VELO-HEL", BUNIT="JY/BEAM")
    if len(shape) == 4:
        cards.update(CTYPE4="STOKES", CRVAL4=1.0, CDELT4=0.0 if stokes_zero else 1.0, CRPIX4=1.0)
    for k, v in cards.items():
        h[k] = v
    if fixable:
        h.add_history(AIPS)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, output_verify="silentfix")
    return path


def readme(path: Path, meta: dict | None = None, prose: str = "A test survey.\n") -> Path:
    from sfng.readme import render

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(meta or {"MAPTYPE": "CO(1-0)"}, prose), encoding="utf-8")
    return path


def new_store(root: Path):
    from sfng.store import Store, init_store

    init_store(root, name="faults")
    return Store.open(root)


def land_by_hand(store, rel: str, src: Path, galaxy: str | None = None) -> Path:
    """Put ``src`` in the store as ingest would (read-only, recorded in the manifest)."""
    from sfng import manifest as mf
    from sfng.fsutil import copy_with_hash

    dst = Path(store.root) / rel
    digest, size = copy_with_hash(src, dst, read_only=True)
    mf.append(dst.parent, [mf.Entry(dst.name, digest, size, "2026-01-01T00:00:00Z", (), galaxy)])
    return dst


# ---------------------------------------------------------------------------------------------
# Running a writer
# ---------------------------------------------------------------------------------------------

FAULT_ENV = ("SFNG_FAULT_KILL_AT", "SFNG_FAULT_LOG", "SFNG_FAULT_DELAY")


def run_cli(args, *, kill_at=None, log_steps=None, delay=None, out=None, cwd=None, kill_after=None) -> int:
    """Run ``sfng ARGS`` in a forked child; its exit status, or ``-9`` when it was killed (at its
    ``kill_at``-th fault point by itself, or by this process ``kill_after`` seconds after its start).
    An uncaught exception (a traceback) exits 70."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 70
        try:
            fd = os.open(out or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            if cwd:
                os.chdir(cwd)
            for k in FAULT_ENV:
                os.environ.pop(k, None)
            if kill_at:
                os.environ["SFNG_FAULT_KILL_AT"] = str(kill_at)
            if log_steps:
                os.environ["SFNG_FAULT_LOG"] = str(log_steps)
            if delay:
                os.environ["SFNG_FAULT_DELAY"] = str(delay)
            from sfng.cli import main

            try:
                main.main(args=[str(a) for a in args], prog_name="sfng", standalone_mode=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - a traceback: reported as exit 70
            traceback.print_exc()
            code = 70
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    if kill_after is not None:
        import signal

        deadline = time.perf_counter() + kill_after
        while time.perf_counter() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(min(0.002, max(0.0, deadline - time.perf_counter())))
        else:
            done = 0
        if not done:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    else:
        _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def preload() -> None:
    """Import what the writers use once, here, so that every forked run starts warm."""
    import importlib

    for m in ("astropy.io.fits", "astropy.wcs", "astropy.table", "astropy.units", "numpy", "click",
              "sfng.cli", "sfng.cli.ingest", "sfng.cli.fix", "sfng.cli.release", "sfng.cli.galaxies",
              "sfng.cli.index", "sfng.cli.fsck", "sfng.ingest", "sfng.validate", "sfng.validate.fix",
              "sfng.release", "sfng.index.build", "sfng.index.describe", "sfng.galaxies", "sfng.fsck",
              "sfng.query", "sfng.ned", "sfng.cli.fetch", "sfng.cli.export", "sfng.surveys.manga.fetch",
              "sfng.surveys.manga.export_hdf5", "h5py", "urllib.request", "http.client"):
        try:
            importlib.import_module(m)
        except ImportError:
            pass
    try:  # the lazily loaded parts of astropy a first header parse or WCS pulls in
        from astropy.io import fits
        from astropy.wcs import WCS

        h = fits.Header({"NAXIS": 2, "CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN"})
        WCS(h)
    except Exception:  # noqa: BLE001
        pass


def _run_here(args) -> int:
    """Run ``sfng ARGS`` in this process, quietly (to warm it up for the forked runs)."""
    import contextlib
    import io

    from sfng.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main.main(args=[str(a) for a in args], prog_name="sfng", standalone_mode=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
    return 0


def count_steps(args, cwd=None) -> list[str]:
    """The fault points an uninterrupted run of ``sfng ARGS`` passes, in order."""
    with tempfile.NamedTemporaryFile("r", suffix=".steps", delete=False) as f:
        log = f.name
    try:
        rc = run_cli(args, log_steps=log, cwd=cwd)
        if rc != 0:
            raise RuntimeError(f"sfng {' '.join(map(str, args))}: exit {rc} without a fault")
        return [line.split("\t", 1)[1].rstrip("\n") for line in Path(log).read_text().splitlines()]
    finally:
        os.unlink(log)


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

def fingerprint(root: Path, ignore=()) -> dict:
    """``{relpath: sha256 | link:target}`` of everything under ``root`` but ``.sfng/``, with each
    manifest as its entries (``FOLDER/NAME#manifest``: the recorded SHA-256; landing times vary).
    ``ignore``: paths, or prefixes ending in ``*``."""
    from sfng import manifest as mf

    def ignored(rel):
        return any(rel.startswith(i[:-1]) if i.endswith("*") else rel == i for i in ignore)

    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(root)
        if rel_dir.parts[:1] == (".sfng",):
            dirnames[:] = []
            continue
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            p = base / name
            rel = (rel_dir / name).as_posix()
            if name.startswith(".") and name.endswith(".lock"):
                continue  # a lock file holds the pid of its last holder
            if name == mf.MANIFEST_NAME and len(rel_dir.parts) == 2 and rel_dir.parts[0] != "release":
                for n, e in mf.read_manifest(base).items():
                    key = f"{rel_dir.as_posix()}/{n}#manifest"
                    if not ignored(key):
                        out[key] = e.sha256
                continue
            if ignored(rel):
                continue
            out[rel] = f"link:{os.readlink(p)}" if p.is_symlink() else sha(p)
    return out


def manifest_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/MANIFEST.sha256")
                  if p.parent.parts[-2] in ("data", "derived", "uncalibrated", "docs", "tables"))


def common_checks(base: Path, store_root: Path, *, index_checked=False) -> list[str]:
    """Leftovers, journals, partial releases, ``sha256sum -c``, ``sfng fsck``."""
    from sfng import manifest as mf

    problems = []
    for dirpath, _dirs, files in os.walk(base, followlinks=False):
        for n in files:
            if n.startswith(TMP_PREFIX):
                problems.append(f"leftover temporary {Path(dirpath, n).relative_to(base)}")
    jdir = store_root / ".sfng" / "journal"
    if jdir.is_dir() and list(jdir.iterdir()):
        problems.append(f"journal left: {sorted(p.name for p in jdir.iterdir())}")
    rdir = store_root / "release"
    if rdir.is_dir():
        problems += [f"partial release left: {p.name}" for p in rdir.iterdir() if p.name.endswith(".partial")]
    for folder in manifest_folders(store_root):
        if not mf.read_manifest(folder):
            problems.append(f"{folder.relative_to(store_root)}: a manifest without an entry")
        elif SHA256SUM:
            run = subprocess.run([SHA256SUM, "-c", "--strict", "--quiet", "MANIFEST.sha256"], cwd=folder,
                                 capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(f"sha256sum -c failed in {folder.relative_to(store_root)}: "
                                f"{(run.stdout + run.stderr).strip()[:300]}")
        else:
            bad = mf.verify(folder)
            if bad:
                problems.append(f"manifest wrong in {folder.relative_to(store_root)}: {bad}")
    from sfng.fsck import fsck
    from sfng.store import Store

    rep = fsck(Store.open(store_root))
    for f in rep.findings:
        if f.open and (index_checked or f.kind != "index"):
            problems.append(f"fsck: {f.kind}: {f.path}: {f.problem}")
    return problems


def stale_manifests(store_root: Path) -> int:
    """Manifest entries whose file differs (what a kill must never leave after the rerun)."""
    from sfng import manifest as mf

    return sum(len(mf.verify(f)) for f in manifest_folders(store_root))


# ---------------------------------------------------------------------------------------------
# Scenarios: one per writer
# ---------------------------------------------------------------------------------------------

@dataclass
class Scenario:
    """A writer and its workload: ``prepare(base, size)`` lays out the starting state under
    ``base``; ``args(base)`` the command; ``check(base, ref)`` what must hold after the rerun
    (``ref``: the fingerprint of an unkilled run)."""

    name: str
    prepare: object
    args: object
    check: object = None
    ignore: tuple = ()
    index_checked: bool = False
    expected_rc: int = 0
    notes: list = field(default_factory=list)


def _store(base: Path) -> Path:
    return base / "store"


def _prep_ingest(base: Path, size: int = 3):
    new_store(_store(base))
    src = base / "src" / "S"
    readme(src / "S_README.txt")
    for i in range(size):
        cube(src / f"ngc628_field{i:02d}.fits", seed=i + 1)
    (src / "notes.pdf").write_bytes(b"%PDF-1.4 notes\n" * 20)
    sums = {p.name: sha(p) for p in src.iterdir()}
    (base / "sums.json").write_text(json.dumps(sums))


def _ingest_args(mode):
    def args(base):
        return ["--store", _store(base), "ingest", base / "src" / "S", "--survey", "S", "--offline",
                f"--{mode}"]
    return args


def _check_ingest(mode):
    def check(base, ref):
        sums = json.loads((base / "sums.json").read_text())
        root = _store(base)
        problems = []
        landed = {}
        for p in list((root / "data" / "S").glob("*")) + list((root / "docs" / "S").glob("*")):
            if p.name not in ("MANIFEST.sha256", "S_README.txt"):
                landed.setdefault(sha(p), []).append(p)
                if p.stat().st_mode & 0o222:
                    problems.append(f"{p.name}: landed writable")
        for name, s in sums.items():
            if name == "S_README.txt":
                continue
            if s not in landed:
                problems.append(f"LOST: {name} did not land")
            elif len(landed[s]) != 1:
                problems.append(f"{name} landed {len(landed[s])} times")
            src = base / "src" / "S" / name
            if mode == "move" and src.exists():
                problems.append(f"move: source {name} still there")
            if mode != "move" and (not src.exists() or sha(src) != s):
                problems.append(f"{mode}: source {name} changed or gone")
        return problems
    return check


def _prep_fix(base: Path, size: int = 1):
    store = new_store(_store(base))
    src = base / "orig"
    for i in range(size):
        p = cube(src / f"t{i:02d}.fits", shape=(1, 6, 16, 16), seed=i + 1, fixable=True)
        land_by_hand(store, f"data/T/{p.name}", p)
    (base / "sums.json").write_text(json.dumps({p.name: sha(p) for p in src.iterdir()}))


def _names(base) -> list[str]:
    return sorted(json.loads((base / "sums.json").read_text()))


def _fix_args(base):
    return ["--store", _store(base), "fix", "--in-place", *(_store(base) / "data" / "T" / n for n in _names(base))]


def _check_fix(base, ref):
    from sfng.validate.fix import plan_fix

    root = _store(base)
    sums = json.loads((base / "sums.json").read_text())
    problems = []
    backups = {sha(p) for p in (root / ".sfng" / "backup").rglob("t*.fits")}
    for name, s in sums.items():
        p = root / "data" / "T" / name
        if not p.is_file():
            problems.append(f"LOST: {name}")
            continue
        if plan_fix(p).changes:
            problems.append(f"{name}: not fixed after the rerun")
        if s not in backups:
            problems.append(f"LOST: no backup of the original {name}")
        if p.stat().st_mode & 0o222:
            problems.append(f"{name}: writable after the fix")
    return problems


def _prep_land(base: Path, size: int = 1):
    store = new_store(_store(base))
    q = Path(store.root) / "uncalibrated" / "P"
    readme(q / "P_README.txt", {"MAPTYPE": "CO(1-0)"})
    src = base / "orig"
    for i in range(size):
        p = cube(src / f"m{i:02d}.fits", shape=(1, 6, 16, 16), seed=i + 1, stokes_zero=True)
        land_by_hand(store, f"uncalibrated/P/{p.name}", p, galaxy="MESSIER 051a")
    (base / "sums.json").write_text(json.dumps({p.name: sha(p) for p in src.iterdir()}))


def _land_args(base):
    return ["--store", _store(base), "fix", "--in-place", "--land",
            *(_store(base) / "uncalibrated" / "P" / n for n in _names(base))]


def _check_land(base, ref):
    from sfng import manifest as mf
    from sfng.validate import validate_file

    root = _store(base)
    sums = json.loads((base / "sums.json").read_text())
    problems = []
    data = mf.read_manifest(root / "data" / "P")
    unc = mf.read_manifest(root / "uncalibrated" / "P")
    for name in sums:
        dest = root / "data" / "P" / name
        if not dest.is_file():
            problems.append(f"LOST: {name} not landed in data/P")
            continue
        if name not in data or data[name].galaxy != "MESSIER 051a":
            problems.append(f"{name}: not recorded (with its galaxy) in data/P's manifest")
        if (root / "uncalibrated" / "P" / name).exists() or name in unc:
            problems.append(f"{name}: still in uncalibrated/P")
        if not validate_file(dest).ok:
            problems.append(f"{name}: landed but fails validation")
    if not (root / "data" / "P" / "P_README.txt").is_file():
        problems.append("data/P has no README")
    return problems


def _prep_release(base: Path, size: int = 2):
    _prep_ingest(base, size)
    rc = run_cli(_ingest_args("copy")(base))
    rc2 = run_cli(["--store", _store(base), "index", "build"])
    if rc or rc2:
        raise RuntimeError(f"release scenario: ingest exit {rc}, index build exit {rc2}")
    files = sorted(p.relative_to(_store(base)).as_posix() for p in (_store(base) / "data" / "S").glob("*.fits"))
    (base / "list.txt").write_text("\n".join(files) + "\n")


def _release_args(*extra):
    def args(base):
        return ["--store", _store(base), "release", "bundle", "r1", "--from-file", base / "list.txt", *extra]
    return args


def _check_release(tar):
    def check(base, ref):
        import sfng.release as R

        root = _store(base)
        problems = []
        folder = root / "release" / "r1"
        if not folder.is_dir():
            return ["LOST: release/r1 was not made"]
        v = R.verify(folder)
        if not v.ok:
            problems.append(f"release verify failed: {v.as_dict()}")
        for p in folder.rglob("*"):
            if p.is_file() and p.stat().st_mode & 0o222:
                problems.append(f"release file writable: {p.relative_to(folder)}")
        if tar:
            t = root / "release" / "r1.tar.gz"
            if not t.is_file() or not (root / "release" / "r1.tar.gz.sha256").is_file():
                problems.append("LOST: the tarball or its .sha256 is missing")
            elif not R.verify(t).ok:
                problems.append(f"tarball verify failed: {R.verify(t).as_dict()}")
        return problems
    return check


def _prep_galaxies(base: Path, size: int = 3):
    store = new_store(_store(base))
    from sfng.galaxies import set_galaxy

    for i in range(size):
        set_galaxy(store, f"NGC {100 + i}", dist=float(i + 1))


def _galaxies_args(base):
    return ["--store", _store(base), "galaxies", "set", "NGC 7", "--dist", "7.5", "--dist-src", "faults"]


def _check_galaxies(base, ref):
    from sfng.galaxies import read_galaxies
    from sfng.store import Store

    t = read_galaxies(Store.open(_store(base)))
    problems = []
    g = t.find("NGC 7")
    if g is None or g.dist != 7.5:
        problems.append("LOST: NGC 7 --dist 7.5 not in the table")
    for i in range(len(t) - 1):
        if t.find(f"NGC {100 + i}") is None:
            problems.append(f"LOST: NGC {100 + i}")
    return problems


def _index_args(base):
    return ["--store", _store(base), "index", "build"]


def _prep_index(base: Path, size: int = 3):
    _prep_ingest(base, size)
    if run_cli(_ingest_args("copy")(base)):
        raise RuntimeError("index scenario: ingest failed")


def _check_index(base, ref):
    root = _store(base)
    if not (root / "SFNG-INDEX.fits").is_file():
        return ["LOST: no index after the rerun"]
    # The columnar companion (named by the build id, which differs between runs) must be the
    # index's own, value for value, and the only one left.
    from sfng.index import columns, io

    prim = io.primary_cards(root / "SFNG-INDEX.fits")
    problems = io.verify_companion(root / "SFNG-INDEX.fits")
    if columns.open_table(root / "SFNG-INDEX.fits", prim.get("SFNGBID"), int(prim["NFILES"])) is None:
        problems.append("the index has no usable columnar companion after the rerun")
    left = sorted(p.name for p in (root / columns.FOLDER).glob("*.cols"))
    if len(left) != 1:
        problems.append(f"leftover companions: {left}")
    return problems


def _prep_names(base: Path, size: int = 3):
    new_store(_store(base))
    for i in range(size):
        if run_cli(["--store", _store(base), "names", "override", f"SRC {i}", f"NGC {i:04d}", "--ra", str(i),
                    "--dec", "1"]):
            raise RuntimeError("names scenario: override failed")


def _names_args(base):
    return ["--store", _store(base), "names", "override", "MY GALAXY", "NGC 7793", "--ra", "359.45",
            "--dec", "-32.59"]


def _check_names(base, ref):
    text = (_store(base) / "tables" / "ned_overrides.csv").read_text()
    problems = [] if "MY GALAXY,NGC 7793," in text else ["LOST: the override of MY GALAXY"]
    return problems + [f"LOST: the override of SRC {i}" for i in range(3) if f"SRC {i},NGC {i:04d}," not in text]


def _prep_links(base: Path, size: int = 3):
    store = new_store(_store(base))
    for i in range(size):
        p = cube(base / "o" / f"g{i}.fits", seed=i + 1)
        land_by_hand(store, f"data/S/MESSIER_{i:03d}.g{i}.fits", p, galaxy=f"MESSIER {i:03d}")


def _links_args(base):
    return ["--store", _store(base), "links", "bygalaxy"]


def _check_links(base, ref):
    problems = []
    by = _store(base) / "data" / "bygalaxy"
    for p in (_store(base) / "data" / "S").glob("MESSIER_*.fits"):
        link = by / p.name.split(".", 1)[0] / p.name
        if not link.is_symlink() or link.resolve() != p.resolve():
            problems.append(f"LOST: data/bygalaxy link of {p.name}")
    return problems


def _prep_get(base: Path, size: int = 3):
    _prep_release(base, size)


def _get_args(base):
    return ["--store", _store(base), "get", "--survey", "S", "-o", base / "dest"]


def _check_get(base, ref):
    from sfng import manifest as mf

    problems = []
    folder = base / "dest" / "data" / "S"
    want = {p.name: sha(p) for p in (_store(base) / "data" / "S").glob("*.fits")}
    got = mf.read_manifest(folder)
    for name, s in want.items():
        if not (folder / name).is_file() or sha(folder / name) != s:
            problems.append(f"LOST: get did not fetch {name}")
        elif got.get(name) is None or got[name].sha256 != s:
            problems.append(f"get: {name} not in the download's manifest")
    if not (folder / "S_README.txt").is_file():
        problems.append("get: no README in the download")
    if SHA256SUM and got:
        run = subprocess.run([SHA256SUM, "-c", "--quiet", "MANIFEST.sha256"], cwd=folder, capture_output=True,
                             text=True)
        if run.returncode:
            problems.append(f"sha256sum -c failed in the download: {run.stdout.strip()[:200]}")
    return problems


def _prep_readme(base: Path, size: int = 0):
    new_store(_store(base))


def _readme_args(base):
    return ["--store", _store(base), "readme", "new", "NEWSURVEY", "--set", "BUNIT=K"]


def _check_readme(base, ref):
    p = _store(base) / "data" / "NEWSURVEY" / "NEWSURVEY_README.txt"
    return [] if p.is_file() and "BUNIT" in p.read_text() else ["LOST: the README was not written"]


# -- MaNGA: fetch (from a 127.0.0.1 SAS mirror) and export hdf5 --------------------------------

MANGA_NWAVE, MANGA_GZ3D_SIZE = 8, 32
_SERVERS: dict = {}


def manga_targets(n: int) -> list:
    """``n`` MaNGA targets: the two demo ones, then made-up neighbours of the first (same HEALPix
    pixel, so that an export puts several in one file)."""
    from sfng.demo import manga as mangagen

    out = list(mangagen.DEMO_TARGETS[:n])
    t = mangagen.DEMO_TARGETS[0]
    for k in range(1, n - len(out) + 1):
        out.append(mangagen.DemoTarget(f"{8485 + k}-1901", f"1-{209232 + k}", t.ra + 0.01 * k, t.dec, t.rfwhm,
                                       t.z, t.gz3d_subject + k, t.votes))
    return out


def write_mirror(root: Path, targets) -> dict:
    """A small SAS mirror (``sfng.demo.manga.write_sas_mirror``) with sha1 checksums published
    beside the cubes, as the SAS does; ``{relative path: sha256}``."""
    from sfng.demo import manga as mangagen

    written = mangagen.write_sas_mirror(root, targets, nwave=MANGA_NWAVE, gz3d_size=MANGA_GZ3D_SIZE)
    for rel in written:
        if rel.endswith("LOGCUBE.fits.gz"):
            p = root / rel
            with open(p.parent / f"manga-{p.parent.parent.name}.sha1sum", "a") as f:
                f.write(f"{hashlib.sha1(p.read_bytes()).hexdigest()}  {p.name}\n")
    return {rel: sha(root / rel) for rel in written}


def _serve_forever(folder: str) -> None:
    """``--serve FOLDER``: an HTTP server on 127.0.0.1 with byte ranges (what the SAS answers), its
    port on the first line of stdout.  A separate process: the forked trials talk to it."""
    import http.server
    import re

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path = Path(self.translate_path(self.path))
            if path.is_dir():
                return super().do_GET()  # the folder listing: how checksum files are found
            if not path.is_file():
                return self.send_error(404)
            data = path.read_bytes()
            start = 0
            m = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if m:
                start = int(m[1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return None
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(data[start:])
            return None

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client killed mid-answer (what the trials do): a broken pipe, nothing wrong

    srv = Server(("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=folder, **k))
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


def serve(folder: Path) -> str:
    """The URL of an HTTP server (a child process, started once per folder) serving ``folder``."""
    folder = Path(folder).resolve()
    if str(folder) not in _SERVERS:
        import atexit

        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(folder)],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"the mirror server did not start: {line!r}")
        if not _SERVERS:
            atexit.register(stop_servers)
        _SERVERS[str(folder)] = (proc, f"http://127.0.0.1:{int(line.split()[1])}/")
    return _SERVERS[str(folder)][1]


def stop_servers() -> None:
    while _SERVERS:
        _folder, (proc, _url) = _SERVERS.popitem()
        proc.kill()
        proc.wait()


def _prep_fetch(base: Path, size: int = 1):
    """A store, and a SAS mirror of ``size`` targets served on 127.0.0.1 (beside the template:
    every trial fetches from it into its own cache, ``BASE/cache``)."""
    new_store(_store(base))
    targets = manga_targets(size)
    mirror = base.parent / f"sas-mirror-{size}"
    if not (mirror / "files.json").is_file():
        files = write_mirror(mirror, targets)
        (mirror / "files.json").write_text(json.dumps(files))
    files = json.loads((mirror / "files.json").read_text())
    (base / "fetch.json").write_text(json.dumps({"url": serve(mirror), "files": files,
                                                 "plateifus": [t.plateifu for t in targets]}))


def _fetch_args(base):
    job = json.loads((base / "fetch.json").read_text())
    args = ["--store", _store(base), "fetch", "manga", "--product", "cubes,maps,gz3d", "--base-url", job["url"],
            "--cache", base / "cache", "--offline", "-j", "2"]
    for p in job["plateifus"]:
        args += ["--plateifu", p]
    return args


def _check_fetch(base, ref):
    """Every file of the mirror verified in the cache (no ``.part``: a rerun resumes and finishes
    them; no staging folder), every product landed once with its bytes, recorded, read-only."""
    from sfng import manifest as mf
    from sfng.surveys.manga.fetch import DRPALL_PATH, GZ3D_METADATA, STAGING_PREFIX

    job = json.loads((base / "fetch.json").read_text())
    root, cache = _store(base), base / "cache"
    problems = []
    for dirpath, dirs, names in os.walk(cache):
        for n in names + dirs:
            if n.endswith(".part") or n.startswith(STAGING_PREFIX):
                problems.append(f"leftover in the cache: {Path(dirpath, n).relative_to(base)}")
    landing = {"LOGCUBE": "data/MANGA", "-MAPS-": "derived/MANGA-DAP", "gz3d_": "derived/GZ3D"}
    for rel, s in job["files"].items():
        p = cache / rel
        if not p.is_file() or sha(p) != s:
            problems.append(f"LOST: {rel} not in the cache with its bytes")
        if rel == GZ3D_METADATA:
            continue
        folder = "tables/MANGA" if rel == DRPALL_PATH else next(
            (f for k, f in landing.items() if k in os.path.basename(rel)), None)
        entries = [e for e in mf.read_manifest(root / folder).values() if e.sha256 == s]
        if len(entries) != 1:
            problems.append(f"LOST: {rel} recorded {len(entries)} times in {folder}'s manifest" if entries else
                            f"LOST: {rel} not landed (not in {folder}'s manifest)")
            continue
        p = root / folder / entries[0].name
        if not p.is_file() or sha(p) != s:
            problems.append(f"LOST: {folder}/{entries[0].name} missing or not the fetched bytes")
        elif p.stat().st_mode & 0o222:
            problems.append(f"{folder}/{p.name}: landed writable")
    return problems


def _prep_export(base: Path, size: int = 2):
    """MaNGA cubes with their DAP maps landed in a store (``size`` targets)."""
    from sfng.demo import manga as mangagen

    store = new_store(_store(base))
    for k, t in enumerate(manga_targets(size)):
        c = mangagen.write_cube(base / "o" / mangagen.cube_name(t.plateifu), t, nwave=MANGA_NWAVE, seed=k)
        land_by_hand(store, f"data/MANGA/MaNGA_{t.mangaid}.{c.name}", c)
        m = mangagen.write_maps(base / "o" / mangagen.maps_name(t.plateifu), t, seed=k)
        land_by_hand(store, f"derived/MANGA-DAP/MaNGA_{t.mangaid}.{m.name}", m)


def _export_args(base):
    return ["--store", _store(base), "export", "hdf5", "--max-per-file", "2"]


def _check_export(base, ref):
    """Every file of the plan written, read-only, holding its objects (and, as every scenario's
    files, byte for byte those of an unkilled run: h5py writes no times by default)."""
    import h5py

    from sfng.store import Store
    from sfng.surveys.manga.export_hdf5 import plan_export

    out, files, _ = plan_export(Store.open(_store(base)), max_per_file=2)
    problems = []
    for rel, group in files.items():
        p = out / rel
        if not p.is_file():
            problems.append(f"LOST: {rel} was not written")
            continue
        if p.stat().st_mode & 0o222:
            problems.append(f"{rel}: written writable")
        try:
            with h5py.File(p, "r") as f:
                got = sorted(f.keys())
                if f.attrs.get("survey") != "MaNGA":
                    problems.append(f"{rel}: no survey attribute")
                for pifu in got:
                    if f[pifu]["spaxels"].shape != (9216,):
                        problems.append(f"{rel}: {pifu} has no spaxels")
        except OSError as exc:
            problems.append(f"LOST: {rel} cannot be read ({exc})")
            continue
        if got != sorted(it.plateifu for it in group):
            problems.append(f"LOST: {rel} holds {got}, not {sorted(it.plateifu for it in group)}")
    return problems


def scenarios() -> list[Scenario]:
    rel_own = ("release/r1/RELEASE.json", "release/r1/RELEASE.md", "release/r1/SFNG-INDEX.fits",
               "release/r1/MANIFEST.sha256", "release/r1.tar.gz", "release/r1.tar.gz.sha256")
    return [
        Scenario("ingest --copy", _prep_ingest, _ingest_args("copy"), _check_ingest("copy")),
        Scenario("ingest --move", _prep_ingest, _ingest_args("move"), _check_ingest("move")),
        Scenario("ingest --link", _prep_ingest, _ingest_args("link"), _check_ingest("link")),
        Scenario("fix --in-place", _prep_fix, _fix_args, _check_fix, ignore=("data/T/*",)),
        Scenario("fix --in-place --land", _prep_land, _land_args, _check_land, ignore=("data/P/m*",)),
        Scenario("release bundle --tar", _prep_release, _release_args("--tar"), _check_release(True),
                 ignore=rel_own, index_checked=True),
        Scenario("release bundle --copy", _prep_release, _release_args("--copy"), _check_release(False),
                 ignore=rel_own, index_checked=True),
        Scenario("galaxies set", _prep_galaxies, _galaxies_args, _check_galaxies),
        Scenario("index build", _prep_index, _index_args, _check_index,
                 ignore=("SFNG-INDEX.fits", ".sfng-columns/*"),
                 index_checked=True),
        Scenario("names override", _prep_names, _names_args, _check_names,
                 ignore=("tables/ned_overrides.csv",)),  # (its rows carry the time they were added)
        Scenario("links bygalaxy", _prep_links, _links_args, _check_links),
        Scenario("get", _prep_get, _get_args, _check_get, index_checked=True),
        Scenario("readme new", _prep_readme, _readme_args, _check_readme),
        Scenario("fetch manga", _prep_fetch, _fetch_args, _check_fetch, ignore=("tables/ned_names.csv",)),
        Scenario("export hdf5", _prep_export, _export_args, _check_export),
    ]


# ---------------------------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------------------------

def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


def _rewrite_paths(base: Path, template: Path) -> None:
    """Files of a scenario naming absolute paths of the template: point them at the copy."""
    lst = base / "list.txt"
    if lst.is_file():
        lst.write_text(lst.read_text().replace(str(template), str(base)))


@dataclass
class Prepared:
    scenario: Scenario
    template: Path
    steps: list
    reference: dict
    seconds: float = 0.0    # an unkilled run's duration


def prepare(sc: Scenario, work: Path, size: int | None = None) -> Prepared:
    """Lay out the scenario's starting state once, and run it unkilled for its steps and result."""
    preload()
    template = work / "template"
    template.mkdir(parents=True)
    if size is None:
        sc.prepare(template)
    else:
        sc.prepare(template, size)
    warm = work / "warm-up"
    _copy_tree(template, warm)
    _run_here(sc.args(warm))  # in this process: every lazy import and compiled pattern, once
    shutil.rmtree(warm, ignore_errors=True)
    ref = work / "reference"
    _copy_tree(template, ref)
    steps = count_steps(sc.args(ref))
    reference = fingerprint(_store(ref), sc.ignore)
    shutil.rmtree(ref)
    _copy_tree(template, ref)
    t0 = time.perf_counter()
    run_cli(sc.args(ref))
    seconds = time.perf_counter() - t0
    shutil.rmtree(ref)
    return Prepared(sc, template, steps, reference, seconds)


def trial(prep: Prepared, work: Path, kill_at: int | None = None, kill_after: float | None = None) -> dict:
    """Kill the writer at step ``kill_at`` (or ``kill_after`` seconds after its start: wherever it
    is, mid-write included), rerun it, check; ``{"ok", "killed", "problems", ...}``."""
    sc = prep.scenario
    tag = f"{kill_at}" if kill_after is None else f"t{kill_after:.4f}"
    n = 0
    while (work / f"trial-{tag}-{n}").exists():
        n += 1
    tag = f"{tag}-{n}"
    base = work / f"trial-{tag}"
    _copy_tree(prep.template, base)
    _rewrite_paths(base, prep.template)
    log = work / f"trial-{tag}.log"
    rc = run_cli(sc.args(base), kill_at=kill_at, kill_after=kill_after, out=log)
    problems = []
    if kill_after is not None and rc == sc.expected_rc:
        pass  # finished before the kill came
    elif rc not in (-9, sc.expected_rc):
        problems.append(f"killed run: exit {rc} (expected SIGKILL): {log.read_text()[-800:]}")
    stale_after_kill = stale_manifests(_store(base))
    if rc == -9:  # (a timed kill may come after the end: the job is done, nothing to rerun)
        rc2 = run_cli(sc.args(base), out=log)
        if rc2 != sc.expected_rc:
            problems.append(f"rerun: exit {rc2}: {log.read_text()[-800:]}")
    if sc.check:
        problems += sc.check(base, prep.reference)
    problems += common_checks(base, _store(base), index_checked=sc.index_checked)
    got = fingerprint(_store(base), sc.ignore)
    for rel in sorted(set(prep.reference) | set(got)):
        if prep.reference.get(rel) != got.get(rel):
            what = "missing" if rel not in got else "unexpected" if rel not in prep.reference else "differs"
            problems.append(f"{rel}: {what} compared with an unkilled run")
    step = prep.steps[kill_at - 1] if kill_at and 0 < kill_at <= len(prep.steps) else f"after {kill_after:.3f} s"
    out = {"scenario": sc.name, "kill_at": kill_at, "step": step, "killed": rc == -9,
           "ok": not problems, "problems": problems, "stale_after_kill": stale_after_kill,
           "lost": sum(p.startswith("LOST") for p in problems),
           "stale": stale_manifests(_store(base)),
           "leftovers": sum(p.startswith(("leftover", "journal left", "partial release")) for p in problems)}
    if out["ok"]:
        shutil.rmtree(base, ignore_errors=True)
        log.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------------------------------------
# The campaign
# ---------------------------------------------------------------------------------------------

#: Writers whose workload does not grow with --size.
FIXED_SIZE = ("galaxies set", "names override", "readme new")


def campaign(trials: int, seed: int, size: int, only=(), work: Path | None = None, timed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    own = work is None
    work = Path(work or tempfile.mkdtemp(prefix="sfng-faults-"))
    try:
        for i, sc in enumerate(scenarios()):
            if only and not any(o in sc.name for o in only):
                continue
            t0 = time.perf_counter()
            prep = prepare(sc, work / f"s{i}", size=None if sc.name in FIXED_SIZE else size)
            n = len(prep.steps)
            results = [trial(prep, work / f"s{i}", rng.randint(1, n)) for _ in range(trials)]
            results += [trial(prep, work / f"s{i}", kill_after=rng.uniform(0.0, prep.seconds))
                        for _ in range(timed)]
            bad = [r for r in results if not r["ok"]]
            row = {"writer": sc.name, "steps": n, "trials": len(results), "timed": timed,
                   "run_s": round(prep.seconds, 3),
                   "killed": sum(r["killed"] for r in results),
                   "distinct_steps": len({r["kill_at"] for r in results if r["kill_at"]}),
                   "stale_after_kill": sum(1 for r in results if r["stale_after_kill"]),
                   "lost": sum(r["lost"] for r in results), "stale": sum(r["stale"] for r in results),
                   "leftovers": sum(r["leftovers"] for r in results), "failed": len(bad),
                   "seconds": round(time.perf_counter() - t0, 1), "problems": [p for r in bad for p in r["problems"]][:5]}
            rows.append(row)
            print(f"{sc.name:24s} {n:3d} steps, {row['trials']} trials ({row['distinct_steps']} distinct "
                  f"steps, {timed} at random times), {row['killed']} killed: lost {row['lost']}, stale manifests {row['stale']}, "
                  f"leftovers {row['leftovers']}, failed {row['failed']} ({row['seconds']} s)", flush=True)
            for p in row["problems"]:
                print(f"    {p}")
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def record(rows: list[dict], args) -> None:
    """Append the campaign's figures to docs/reliability.md (inside the Writers section's log)."""
    doc = REPO / "docs" / "reliability.md"
    stamp = time.strftime("%Y-%m-%d %H:%M")
    lines = ["", f"Campaign {stamp} (`python benchmarks/faults.py --trials {args.trials} --timed {args.timed} "
             f"--size {args.size} --seed {args.seed}{''.join(f' --only {o!r}' for o in args.only)}`, "
             f"{platform.system()} {platform.machine()}, "
             f"Python {platform.python_version()}): each trial kills the writer (at a random step, or "
             f"at a random time), reruns it and checks it.",
             "",
             "| writer | steps | trials (at a step + at a time) | killed | distinct steps | stale manifest "
             "right after the kill | lost | stale manifests after the rerun | leftovers | failed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['writer']} | {r['steps']} | {r['trials']} ({r['trials'] - r['timed']} + {r['timed']}) | "
                     f"{r['killed']} | {r['distinct_steps']} | "
                     f"{r['stale_after_kill']} | {r['lost']} | {r['stale']} | {r['leftovers']} | {r['failed']} |")
    tot = {k: sum(r[k] for r in rows) for k in ("trials", "killed", "lost", "stale", "leftovers", "failed",
                                                 "stale_after_kill")}
    lines.append(f"| **all** | | {tot['trials']} | {tot['killed']} | | {tot['stale_after_kill']} | {tot['lost']} | "
                 f"{tot['stale']} | {tot['leftovers']} | {tot['failed']} |")
    block = "\n".join(lines) + "\n"
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    marker = "<!-- writers-campaign-log -->"
    if marker in text:
        text = text.replace(marker, marker + "\n" + block, 1)
    else:
        text += "\n" + marker + "\n" + block
    doc.write_text(text, encoding="utf-8")
    print(f"appended to {doc}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--serve"]:  # (the SAS mirror server of the fetch scenario, a child process)
        _serve_forever(argv[1])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=24, help="kill -9 trials per writer (default 24)")
    ap.add_argument("--timed", type=int, default=8,
                    help="more trials per writer killed at a random time instead of a step (default 8)")
    ap.add_argument("--size", type=int, default=6, help="files per workload (default 6)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--only", action="append", default=[], help="writers whose name contains this")
    ap.add_argument("--no-record", action="store_true", help="do not append to docs/reliability.md")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = ap.parse_args(argv)
    os.environ.setdefault("SFNG_OFFLINE", "1")
    rows = campaign(args.trials, args.seed, args.size, args.only, timed=args.timed)
    if args.json:
        print(json.dumps(rows, indent=1))
    if not args.no_record:
        record(rows, args)
    return 0 if all(r["failed"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
