"""Fault injection, the writers' half (issue 13): kill -9 at every step of every writer, a full disk
and a file-size limit, a read-only store and permission denied, two writers at once.

Every writer's steps are fault points (``sfng.fsutil.fault_point``: each journal record, each
temporary written, each rename, each manifest write); ``SFNG_FAULT_KILL_AT=N`` (test-only) makes the
process SIGKILL itself at its N-th.  For each writer of ``benchmarks/faults.py`` a small store is
prepared, the writer is killed at step 1, 2, ... N in turn (a forked child, so a trial costs tens of
milliseconds), rerun, and checked: nothing lost, ``sha256sum -c`` passes everywhere, no leftover,
the job finished (same result as an unkilled run) and ``sfng fsck`` finds nothing wrong.
``make faults`` runs the longer campaign (random steps, larger workloads).

Tests run as root here: root ignores file permissions, so permission denied and a read-only file
system are simulated by a fake ``os`` that refuses writes under the store.
"""

import builtins
import errno
import importlib.util
import io
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "faults.py"


@pytest.fixture(scope="module")
def F():
    spec = importlib.util.spec_from_file_location("sfng_faults_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sfng_faults_bench"] = mod
    spec.loader.exec_module(mod)
    mod.preload()
    yield mod
    mod.stop_servers()  # the SAS mirror servers of the fetch scenario (child processes)


def _scenario(F, name):
    return next(s for s in F.scenarios() if s.name == name)


#: writer -> workload size (files) for the every-step test; None: the scenario's own.
WRITERS = {"ingest --copy": 1, "ingest --move": 1, "ingest --link": 1, "fix --in-place": 1,
           "fix --in-place --land": 1, "release bundle --tar": 1, "release bundle --copy": 1,
           "galaxies set": None, "index build": 1, "names override": None, "links bygalaxy": 2, "get": 1,
           "readme new": None, "fetch manga": 1, "export hdf5": 1}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_kill_9_at_every_step_then_rerun(F, tmp_path, writer):
    sc = _scenario(F, writer)
    prep = F.prepare(sc, tmp_path, size=WRITERS[writer])
    assert len(prep.steps) >= 2, prep.steps
    failures = []
    killed = 0
    for k in range(1, len(prep.steps) + 1):
        r = F.trial(prep, tmp_path, k)
        killed += r["killed"]
        if not r["ok"]:
            failures.append(f"kill at step {k} ({r['step']}): {r['problems'][:3]}")
    assert not failures, "\n".join(failures)
    assert killed == len(prep.steps)  # every step was a real kill -9


def test_the_fix_rerun_repairs_the_manifest(F, tmp_path):
    """The finding: killed between the replacement and the manifest, `fix --in-place` left
    MANIFEST.sha256 wrong for good (the rerun said "0 changed").  Now the rerun finishes the job."""
    sc = _scenario(F, "fix --in-place")
    prep = F.prepare(sc, tmp_path, size=1)
    k = prep.steps.index("journal fix-T: replaced") + 1
    base = tmp_path / "killed"
    shutil.copytree(prep.template, base, symlinks=True)
    assert F.run_cli(sc.args(base), kill_at=k) == -9
    assert F.stale_manifests(F._store(base)) == 1          # the kill left it stale...
    log = tmp_path / "rerun.log"
    assert F.run_cli(sc.args(base), out=log) == 0
    assert "finished the interrupted fix of data/T/t00.fits" in log.read_text()
    assert F.stale_manifests(F._store(base)) == 0          # ...the rerun repaired it
    assert F.common_checks(base, F._store(base)) == []


def test_two_galaxies_set_at_once_keep_both_values(F, tmp_path):
    """Two `galaxies set` at once: the second waits for the first (the table lock), both values
    are kept.  SFNG_FAULT_DELAY widens the read-modify-write window of each."""
    store = tmp_path / "store"
    F.new_store(store)
    for rnd in range(3):
        pids = []
        for name, dist in ((f"NGC {rnd}01", 1.5), (f"NGC {rnd}02", 2.5)):
            pid = os.fork()
            if pid == 0:
                rc = 70
                try:
                    rc = F.run_cli(["--store", store, "galaxies", "set", name, "--dist", dist], delay=0.15)
                finally:
                    os._exit(rc if rc >= 0 else 99)
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        assert codes == [0, 0]
        from sfng.galaxies import read_galaxies
        from sfng.store import Store

        table = read_galaxies(Store.open(store))
        for r in range(rnd + 1):
            assert table.find(f"NGC {r}01").dist == 1.5 and table.find(f"NGC {r}02").dist == 2.5
    assert not list(store.rglob(".sfng-tmp-*"))


def test_table_lock_waits_then_fails_with_a_message(tmp_path):
    import threading
    import time

    from sfng.errors import SfngError
    from sfng.journal import Lock

    path = tmp_path / "t.lock"
    held = threading.Event()
    release = threading.Event()

    def holder():
        with Lock(path, "the table"):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    with pytest.raises(SfngError, match="locked by another sfng process"):
        with Lock(path, "the table"):
            pass
    threading.Timer(0.2, release.set).start()
    t0 = time.monotonic()
    with Lock(path, "the table", wait=5):
        waited = time.monotonic() - t0
    t.join()
    assert 0.1 < waited < 4


# -- full disk and file-size limits ------------------------------------------------------------

LIMIT = 256 * 1024


def _limited(args, cwd=None):
    """``python -m sfng ARGS`` under RLIMIT_FSIZE (a write past it: EFBIG once SIGXFSZ is ignored,
    which the sfng command itself does)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    env = dict(os.environ, SFNG_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    for k in ("SFNG_FAULT_KILL_AT", "SFNG_FAULT_LOG", "SFNG_FAULT_DELAY"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "sfng", *map(str, args)], capture_output=True, text=True,
                          preexec_fn=limit, env=env, cwd=cwd, timeout=120)


def _no_leftovers(root):
    return [str(p) for p in Path(root).rglob(".sfng-tmp-*")]


def test_file_size_limit_in_ingest_fails_that_file_alone(F, tmp_path):
    from sfng import manifest as mf

    store = tmp_path / "store"
    F.new_store(store)
    src = tmp_path / "S"
    F.readme(src / "S_README.txt")
    F.cube(src / "small.fits")
    F.cube(src / "big.fits", shape=(40, 64, 64))           # 655 kB: past the limit
    r = _limited(["--store", store, "ingest", src, "--survey", "S", "--offline"])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "file too large" in r.stdout + r.stderr
    assert (store / "data/S/small.fits").is_file() and not (store / "data/S/big.fits").exists()
    assert set(mf.read_manifest(store / "data/S")) == {"small.fits"}
    assert _no_leftovers(tmp_path) == [] and not list((store / ".sfng/journal").iterdir())
    # with room again, the rerun lands the rest
    r = subprocess.run([sys.executable, "-m", "sfng", "--store", str(store), "ingest", str(src), "--survey", "S",
                        "--offline"], capture_output=True, text=True, env=dict(os.environ, SFNG_OFFLINE="1"))
    assert r.returncode == 0, r.stderr
    assert set(mf.read_manifest(store / "data/S")) == {"small.fits", "big.fits"}


def test_file_size_limit_in_fix_and_release_leave_nothing_half_written(F, tmp_path):
    from sfng import manifest as mf
    from sfng.fsutil import sha256_file

    store = F.new_store(tmp_path / "store")
    big = F.cube(tmp_path / "o" / "t.fits", shape=(1, 40, 64, 64), fixable=True)
    dst = F.land_by_hand(store, "data/T/t.fits", big)
    before = sha256_file(dst)
    r = _limited(["--store", store.root, "fix", "--in-place", dst])
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "file too large" in r.stdout + r.stderr
    assert sha256_file(dst) == before and mf.verify(dst.parent) == []
    assert _no_leftovers(store.root) == [] and not list((store.root / ".sfng/journal").iterdir())

    base = tmp_path / "rel"
    F._prep_release(base, 1)
    F.cube(base / "x.fits", shape=(40, 64, 64))
    big2 = F.land_by_hand(_open(F._store(base)), "data/S/big.fits", base / "x.fits")
    assert F.run_cli(["--store", F._store(base), "index", "build"]) == 0
    (base / "list.txt").write_text("data/S/ngc628_field00.fits\ndata/S/big.fits\n")
    r = _limited(["--store", F._store(base), "release", "bundle", "r", "--from-file", base / "list.txt", "--copy"])
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "too large" in r.stdout + r.stderr
    rdir = F._store(base) / "release"
    assert not (rdir / "r").exists() and not (rdir / ".r.partial").exists()
    assert _no_leftovers(base) == [] and big2.is_file()


def _open(root):
    from sfng.store import Store

    return Store.open(root)


def test_the_cli_ignores_sigxfsz(cli, tmp_path):
    import signal

    old = signal.getsignal(signal.SIGXFSZ)
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        cli("init", tmp_path / "s")
        assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGXFSZ, old)


# -- read-only store, permission denied -----------------------------------------------------------

class _Refusing:
    """Refuse every write under ``root`` with ``code`` (EROFS: a read-only mount; EACCES: not yours):
    what a kernel does, for tests that run as root (who ignores permissions)."""

    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def __init__(self, monkeypatch, root, code=errno.EROFS):
        self.root, self.code = os.path.abspath(root), code
        real = {n: getattr(os, n) for n in ("open", "mkdir", "link", "symlink", "rename", "replace", "unlink",
                                            "remove", "chmod", "rmdir", "utime")}
        real_open = builtins.open
        self.real = real

        def inside(p):
            try:
                p = os.fsdecode(p)
            except TypeError:
                return False
            return os.path.abspath(p).startswith(self.root + os.sep) or os.path.abspath(p) == self.root

        def refuse(p):
            raise OSError(self.code, os.strerror(self.code), os.fsdecode(p))

        def fake_open(path, flags, *a, **k):
            if isinstance(path, (str, bytes, os.PathLike)) and flags & self.WRITE and inside(path):
                if flags & os.O_CREAT and not os.path.exists(path) or self.code == errno.EROFS \
                        or self.code == errno.EACCES:
                    refuse(path)
            return real["open"](path, flags, *a, **k)

        def fake_builtin_open(file, mode="r", *a, **k):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and inside(file):
                refuse(file)
            return real_open(file, mode, *a, **k)

        def one(name):
            def f(p, *a, **k):
                if inside(p) and not (name == "mkdir" and os.path.isdir(p)):
                    refuse(p)
                if name == "mkdir" and os.path.isdir(p):
                    raise FileExistsError(errno.EEXIST, "File exists", os.fsdecode(p))
                return real[name](p, *a, **k)
            return f

        def two(name):
            def f(a, b, *x, **k):
                if inside(a) or inside(b):
                    refuse(b)
                return real[name](a, b, *x, **k)
            return f

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(builtins, "open", fake_builtin_open)
        monkeypatch.setattr(io, "open", fake_builtin_open)
        for n in ("mkdir", "unlink", "remove", "chmod", "rmdir", "utime"):
            monkeypatch.setattr(os, n, one(n))
        for n in ("link", "symlink", "rename", "replace"):
            monkeypatch.setattr(os, n, two(n))


def _snapshot(root):
    out = {}
    for p in sorted(Path(root).rglob("*")):
        st = os.lstat(p)
        out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture
def busy_store(F, tmp_path):
    """A store with a survey, an index, a galaxy table and a fixable file, and sources to ingest."""
    base = tmp_path / "b"
    F._prep_release(base, 1)
    store = _open(F._store(base))
    F.cube(base / "o" / "t.fits", shape=(1, 6, 16, 16), fixable=True)
    F.land_by_hand(store, "data/T/t.fits", base / "o" / "t.fits")
    src2 = base / "src2" / "NEW"
    F.cube(src2 / "n.fits")
    return base, store


READ_ONLY_RUNS = {
    "ingest": lambda b, s: ["ingest", b / "src2" / "NEW", "--offline"],
    "fix": lambda b, s: ["fix", "--in-place", s.root / "data/T/t.fits"],
    "release": lambda b, s: ["release", "bundle", "ro", "--from-file", b / "list.txt"],
    "names": lambda b, s: ["names", "override", "NGC 1", "NGC 0001", "--ra", "1", "--dec", "2"],
    "galaxies": lambda b, s: ["galaxies", "set", "NGC 9", "--dist", "9"],
    "links": lambda b, s: ["links", "bygalaxy"],
    "readme new": lambda b, s: ["readme", "new", "NEWSURVEY"],
    "index build": lambda b, s: ["index", "build", "--full"],
}


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES], ids=["read-only", "permission-denied"])
@pytest.mark.parametrize("writer", sorted(READ_ONLY_RUNS))
def test_a_store_that_cannot_be_written_gets_one_message(busy_store, monkeypatch, writer, code):
    from click.testing import CliRunner

    from sfng.cli import main

    base, store = busy_store
    before = _snapshot(store.root)
    args = ["--store", str(store.root), *map(str, READ_ONLY_RUNS[writer](base, store))]
    _Refusing(monkeypatch, store.root, code)
    result = CliRunner().invoke(main, args)
    monkeypatch.undo()
    out = result.output
    assert result.exit_code == 1, out
    assert isinstance(result.exception, SystemExit) and "Traceback" not in out, out
    assert ("read-only" if code == errno.EROFS else "permission denied") in out.lower(), out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out                                  # one message for the run
    assert _snapshot(store.root) == before                       # nothing written, nothing half-written


def test_permission_denied_for_one_file_fails_that_file_alone(F, tmp_path, monkeypatch):
    """ingest: a file that cannot be written is reported with one message; the others land."""
    import sfng.fsutil as fsutil
    from sfng import manifest as mf
    from sfng.ingest import execute, plan_ingest

    store = F.new_store(tmp_path / "store")
    src = tmp_path / "S"
    F.readme(src / "S_README.txt")
    for n in ("a", "b", "c"):
        F.cube(src / f"{n}.fits", seed=ord(n))
    plan = plan_ingest(store, src, survey="S", validate=False)
    real = fsutil._temp_in
    calls = []

    def deny_second(folder):
        calls.append(folder)
        if len(calls) == 3:                      # README, a.fits, then b.fits
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(folder)

    monkeypatch.setattr(fsutil, "_temp_in", deny_second)
    report = execute(plan)
    monkeypatch.undo()
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert len(failed) == 1 and "permission denied" in failed[0].message
    assert set(mf.read_manifest(store.root / "data/S")) == {"a.fits", "c.fits"}
    assert _no_leftovers(store.root) == []


# -- read-only content, immutable releases ----------------------------------------------------------

def test_landed_files_are_read_only_and_link_releases_share_no_writable_inode(F, tmp_path):
    import sfng.release as R
    from sfng.fsutil import sha256_file

    base = tmp_path / "b"
    F._prep_release(base, 2)
    root = F._store(base)
    files = (base / "list.txt").read_text().split()
    for rel in files:
        assert not (root / rel).stat().st_mode & 0o222, rel   # ingest landed them read-only
    assert F.run_cli(["--store", root, "release", "bundle", "r1", "--from-file", base / "list.txt"]) == 0
    rel_file = root / "release/r1" / files[0]
    assert os.stat(rel_file).st_ino == os.stat(root / files[0]).st_ino  # a hard link...
    for p in (root / "release/r1").rglob("*"):
        if p.is_file():
            assert not p.stat().st_mode & 0o222, p            # ...of read-only content only
    # An in-place fix writes a new file and renames it: the release keeps the old bytes.
    before = sha256_file(rel_file)
    F.cube(base / "fx.fits", fixable=True, shape=(1, 6, 16, 16))
    shutil.copyfile(base / "fx.fits", base / "fx2.fits")
    store = _open(root)
    victim = F.land_by_hand(store, "data/S/fixme.fits", base / "fx.fits")
    os.link(victim, root / "release/r1/data/S/hardlinked-by-hand.fits")  # the worst case: shared
    assert F.run_cli(["--store", root, "fix", "--in-place", victim]) == 0
    assert (root / "release/r1/data/S/hardlinked-by-hand.fits").read_bytes() == (base / "fx2.fits").read_bytes()
    assert not (root / "release/r1/data/S/hardlinked-by-hand.fits").stat().st_mode & 0o222
    assert not victim.stat().st_mode & 0o222
    (root / "release/r1/data/S/hardlinked-by-hand.fits").unlink()
    assert sha256_file(rel_file) == before and R.verify(root / "release/r1").ok


def test_a_bundle_killed_between_rename_and_tarball_is_finished_by_the_rerun(F, tmp_path):
    sc = _scenario(F, "release bundle --tar")
    prep = F.prepare(sc, tmp_path, size=1)
    k = prep.steps.index("journal release-r1: renamed") + 1
    base = tmp_path / "killed"
    shutil.copytree(prep.template, base, symlinks=True)
    assert F.run_cli(sc.args(base), kill_at=k) == -9
    rdir = F._store(base) / "release"
    assert (rdir / "r1").is_dir() and not (rdir / "r1.tar.gz").exists()
    assert F.run_cli(sc.args(base)) == 0                    # was: exit 1, "exists"
    import sfng.release as R

    assert R.verify(rdir / "r1.tar.gz").ok and (rdir / "r1.tar.gz.sha256").is_file()
    log = tmp_path / "again.log"
    assert F.run_cli(sc.args(base), out=log) == 0           # the same bundle again: nothing to do
    assert "nothing left to do" in log.read_text()
    assert F.run_cli([*sc.args(base), "--copy"], out=log) == 1   # another bundle under that name:
    assert "immutable" in log.read_text()                        # refused


# -- path escapes -----------------------------------------------------------------------------------

def test_get_does_not_write_through_a_symlinked_folder(F, tmp_path, cli):
    base = tmp_path / "b"
    F._prep_release(base, 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    (dest / "data" / "S").symlink_to(outside)
    r = cli("--store", F._store(base), "get", "--survey", "S", "-o", dest)
    assert r.exit_code == 1
    assert "symbolic link" in r.output
    assert list(outside.iterdir()) == []


def test_init_adopt_does_not_write_through_a_symlinked_tables(tmp_path, cli):
    tree = tmp_path / "tree"
    (tree / "data").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "tables").symlink_to(outside)
    r = cli("init", tree, "--adopt")
    assert r.exit_code == 0, r.output
    assert list(outside.iterdir()) == []
    assert "symbolic link" in r.output and (tree / "sfng.yaml").is_file()


def test_ingest_refuses_a_source_link_leading_outside_the_source_folder(F, tmp_path):
    from sfng.ingest import execute, plan_ingest

    store = F.new_store(tmp_path / "store")
    src = tmp_path / "S"
    F.cube(src / "ok.fits")
    secret = tmp_path / "secret.fits"
    F.cube(secret, seed=5)
    (src / "evil.fits").symlink_to(secret)
    (src / "passwd.fits").symlink_to("/etc/passwd")
    plan = plan_ingest(store, src, survey="S", validate=False)
    bad = {i.rel: i for i in plan.items if i.action == "error"}
    assert set(bad) == {"evil.fits", "passwd.fits"}
    assert all("outside the source folder" in i.problems[0] for i in bad.values())
    execute(plan)
    assert sorted(p.name for p in (store.root / "data/S").glob("*.fits")) == ["ok.fits"]


# -- fsck ---------------------------------------------------------------------------------------------

def test_fsck_clean_then_finds_and_repairs(F, tmp_path, cli):
    base = tmp_path / "b"
    F._prep_release(base, 2)
    root = F._store(base)
    assert F.run_cli(["--store", root, "release", "bundle", "r1", "--from-file", base / "list.txt", "--tar"]) == 0
    r = cli("--store", root, "fsck", "--deep")
    assert r.exit_code == 0 and "all well" in r.output, r.output
    # leftovers of a killed writer, a writable landed file, a missing tarball checksum
    dead = root / "data/S/.sfng-tmp-999999-deadbeef0000"
    dead.write_bytes(b"half")
    os.chmod(root / "data/S/ngc628_field00.fits", 0o644)
    (root / "release/r1.tar.gz.sha256").unlink()
    r = cli("--store", root, "fsck", "--format", "json")
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    kinds = {(f["kind"], f["level"]) for f in rep["findings"]}
    assert ("leftover", "error") in kinds and ("manifest", "warning") in kinds and ("release", "error") in kinds
    r = cli("--store", root, "fsck", "--repair")
    assert r.exit_code == 0, r.output
    assert not dead.exists() and not (root / "data/S/ngc628_field00.fits").stat().st_mode & 0o222
    assert (root / "release/r1.tar.gz.sha256").is_file()
    assert cli("--store", root, "fsck", "--deep").exit_code == 0


def test_fsck_deep_compares_the_columnar_companion_with_the_index(F, tmp_path, cli):
    """A companion whose values differ from the index's (written behind its back) is found by
    fsck --deep and named; a rebuild writes a new one and fsck is clean again."""
    from sfng.index import columns, io

    base = tmp_path / "b"
    F._prep_release(base, 2)
    root = F._store(base)
    assert cli("--store", root, "fsck", "--deep").exit_code == 0
    index = root / "SFNG-INDEX.fits"
    comp = columns.companion_path(index, io.primary_cards(index)["SFNGBID"])
    head, start = columns.read_header(comp)
    spec = next(c for c in head["columns"] if c["name"] == "size")
    data = bytearray(comp.read_bytes())
    data[start + spec["offset"]:start + spec["offset"] + 8] = np.int64(12345).tobytes()
    comp.write_bytes(bytes(data))
    r = cli("--store", root, "fsck", "--deep", "--format", "json")
    assert r.exit_code == 1
    problems = [f["problem"] for f in json.loads(r.stdout)["findings"] if f["kind"] == "index"]
    assert any("'size' differs" in p for p in problems), problems
    assert cli("--store", root, "fsck").exit_code == 0    # the quick check does not read it
    assert cli("--store", root, "index", "build", "--full").exit_code == 0
    assert cli("--store", root, "fsck", "--deep").exit_code == 0


def test_fsck_repairs_a_stale_manifest_from_the_fix_backup(F, tmp_path, cli):
    """No journal (lost, or an older sfng): the manifest records the original, a fix backup holds
    it, the file carries sfng fix's HISTORY: fsck --repair rewrites the entry."""
    from sfng import manifest as mf

    sc = _scenario(F, "fix --in-place")
    prep = F.prepare(sc, tmp_path, size=1)
    k = prep.steps.index("journal fix-T: replaced") + 1
    base = tmp_path / "killed"
    shutil.copytree(prep.template, base, symlinks=True)
    assert F.run_cli(sc.args(base), kill_at=k) == -9
    root = F._store(base)
    for j in (root / ".sfng/journal").iterdir():
        j.unlink()                                          # no journal to finish
    for t in root.rglob(".sfng-tmp-*"):
        t.unlink()
    r = cli("--store", root, "fsck")
    assert r.exit_code == 1 and "differs from the manifest" in r.output, r.output
    r = cli("--store", root, "fsck", "--repair")
    assert r.exit_code == 0 and "fix's repair of" in r.output, r.output
    assert mf.verify(root / "data/T") == []
    # a change nothing explains is reported, never blessed
    victim = root / "data/T/t00.fits"
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:
        f.seek(2880 + 10)
        f.write(b"\x07")
    r = cli("--store", root, "fsck", "--deep", "--repair")
    assert r.exit_code == 1 and "no journal or fix backup explains" in r.output, r.output


def test_fsck_finishes_journals_and_removes_partial_releases(F, tmp_path, cli):
    sc = _scenario(F, "ingest --copy")
    prep = F.prepare(sc, tmp_path, size=2)
    k = next(i for i, s in enumerate(prep.steps, 1) if s == "journal ingest-S: landed")
    base = tmp_path / "killed"
    shutil.copytree(prep.template, base, symlinks=True)
    assert F.run_cli(sc.args(base), kill_at=k) == -9
    root = F._store(base)
    (root / "release/.old.partial").mkdir()
    r = cli("--store", root, "fsck")
    assert r.exit_code == 1 and "interrupted ingest of S" in r.output and "incomplete release" in r.output
    r = cli("--store", root, "fsck", "--repair")
    assert r.exit_code == 0, r.output
    assert not list((root / ".sfng/journal").iterdir()) and not (root / "release/.old.partial").exists()
    assert F.common_checks(base, root) == []



# -- MaNGA writers: fetch (from a 127.0.0.1 SAS mirror) and export hdf5 ---------------------------

def _killed_copy(F, prep, tmp_path, step, nth=1):
    """A copy of the scenario's template with its writer killed at the ``nth`` fault point named
    ``step``; the copy's base folder."""
    k = [i for i, s in enumerate(prep.steps, 1) if s == step][nth - 1]
    base = tmp_path / f"killed-{k}"
    shutil.copytree(prep.template, base, symlinks=True)
    assert F.run_cli(prep.scenario.args(base), kill_at=k) == -9
    return base


def test_fetch_killed_before_the_catalogue_is_recorded_records_it_on_the_rerun(F, tmp_path):
    """The findings: the DRPall catalogue landed in tables/MANGA/ unrecorded (fsck failed after
    every fetch, killed or not), a kill there left its temporary for good, and every kill while
    landing left a staging folder in the download cache.  Now the catalogue is recorded (under the
    folder's lock, read-only) and the rerun finishes what a killed run left."""
    from sfng import manifest as mf

    sc = _scenario(F, "fetch manga")
    prep = F.prepare(sc, tmp_path, size=1)
    base = _killed_copy(F, prep, tmp_path, "copy drpall-v3_1_1.fits: renamed")
    root = F._store(base)
    assert (root / "tables/MANGA/drpall-v3_1_1.fits").is_file()
    assert "drpall-v3_1_1.fits" not in mf.read_manifest(root / "tables/MANGA")   # the kill: unrecorded
    assert F.run_cli(sc.args(base)) == 0
    entry = mf.read_manifest(root / "tables/MANGA")["drpall-v3_1_1.fits"]
    assert entry.sha256 == F.sha(root / "tables/MANGA/drpall-v3_1_1.fits")
    assert not (root / "tables/MANGA/drpall-v3_1_1.fits").stat().st_mode & 0o222
    assert F.common_checks(base, root) == [] and sc.check(base, prep.reference) == []
    # killed while landing: the staging folder it left in the cache goes with the rerun
    base = _killed_copy(F, prep, tmp_path, "journal ingest-MANGA: landed", nth=2)
    assert list((base / "cache").glob(".staging-MANGA-*"))
    assert F.run_cli(sc.args(base)) == 0
    assert not list((base / "cache").glob(".staging-*"))
    assert F.common_checks(base, F._store(base)) == [] and sc.check(base, prep.reference) == []


def test_fetch_resumes_a_verified_read_only_part_from_a_server_ignoring_range(F, tmp_path, monkeypatch):
    """Killed between verifying a download (made read-only) and its rename, the `.part` is
    read-only: a rerun from a server that ignores Range (file:// does) rewrites it, which a user
    other than root could not do.  The rerun makes it writable first.  (Root ignores modes: the
    refusal is simulated.)"""
    import builtins
    import stat

    from sfng.surveys.manga import fetch

    mirror = tmp_path / "mirror"
    F.write_mirror(mirror, F.manga_targets(1))
    cube = fetch.sas_paths("8485-1901")["cubes"]
    part = tmp_path / "cache" / (cube + ".part")
    part.parent.mkdir(parents=True)
    shutil.copyfile(mirror / cube, part)
    os.chmod(part, 0o444)                                   # what the kill left
    real_open = builtins.open

    def like_a_user(file, mode="r", *a, **k):
        if any(c in mode for c in "wa+") and os.path.isfile(file) and not os.stat(file).st_mode & stat.S_IWUSR:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", like_a_user)
    rep = fetch.fetch_manga(None, plateifus=["8485-1901"], products="cubes", base_url=mirror.as_uri() + "/",
                            cache_dir=tmp_path / "cache", land=False, retries=0)
    monkeypatch.undo()
    (res,) = rep.files
    assert res.ok, res.message
    dest = tmp_path / "cache" / cube
    assert dest.read_bytes() == (mirror / cube).read_bytes() and not part.exists()
    assert not dest.stat().st_mode & 0o222                  # verified content stays read-only


def test_export_killed_between_files_is_finished_by_the_rerun(F, tmp_path, cli):
    """The finding: killed after its first file, `export hdf5` could not be rerun ("... exists;
    sfng never overwrites a file"): the second file was never written, and the temporary of the
    file under way stayed.  Now the export journals its files: the rerun keeps those finished,
    rewrites the one under way, removes the temporaries and writes the rest."""
    sc = _scenario(F, "export hdf5")
    prep = F.prepare(sc, tmp_path, size=2)
    first = "manga/healpix=618/0001-of-0001.hdf5"
    # killed after the first file was written and journalled, with the second one's temporary made
    base = _killed_copy(F, prep, tmp_path, "export manga/healpix=622/0001-of-0001.hdf5: temporary written")
    root = F._store(base)
    mmu = root / "derived/MMU"
    done = mmu / first
    ino = done.stat().st_ino
    assert list(mmu.rglob(".sfng-tmp-*")) and list((root / ".sfng/journal").glob("export-hdf5-MMU.jsonl"))
    r = cli("--store", root, "fsck", "--repair")            # the temporary goes; the unfinished export
    assert r.exit_code == 0, r.output                       # is a warning (its files are whole), and
    assert "interrupted export" in r.output and not list(mmu.rglob(".sfng-tmp-*"))   # its journal stays
    log = tmp_path / "rerun.log"
    assert F.run_cli(sc.args(base), out=log) == 0           # was: exit 1, "exists"
    assert "finished by the interrupted run" in log.read_text()
    assert done.stat().st_ino == ino                        # kept, not written again
    assert sc.check(base, prep.reference) == [] and F.common_checks(base, root) == []
    # killed between a file's rename and its journal record: the rerun writes that one again
    base = _killed_copy(F, prep, tmp_path, f"export {first}: renamed")
    assert F.run_cli(sc.args(base)) == 0
    assert sc.check(base, prep.reference) == [] and F.common_checks(base, F._store(base)) == []
    # the same export once more, complete: still refused (nothing to finish, never overwritten)
    assert F.run_cli(sc.args(base), out=log) == 1 and "never overwrites" in log.read_text()
