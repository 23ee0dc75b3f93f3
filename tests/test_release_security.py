"""Release security: links out of the store, '..' and absolute paths, non-regular files, and
crafted tarballs or folders given to `release verify` (refused without writing anything)."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

import sfng.release as R
from sfng.errors import SfngError
from sfng.tarball import unsafe_reason, write_tarball

sys.path.insert(0, str(Path(__file__).parent))
from _release_store import make_store  # noqa: E402


@pytest.fixture
def rstore(store):
    return store, make_store(store)


# -- what a bundle refuses ------------------------------------------------------------------------

def test_symlink_pointing_outside_the_store_is_refused(rstore, tmp_path):
    store, paths = rstore
    secret = tmp_path / "secret.fits"
    secret.write_bytes(b"SIMPLE  =                    T")
    link = store.root / "data/THINGS/NGC_0001.leak.fits"
    link.symlink_to(secret)
    with pytest.raises(SfngError, match="symbolic link pointing outside the store"):
        R.plan_bundle(store, "x", paths=[paths[0], "data/THINGS/NGC_0001.leak.fits"])
    # a linked survey folder pointing outside is refused too
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.fits").write_bytes(b"x")
    (store.root / "data/LINKED").symlink_to(outside)
    with pytest.raises(SfngError, match="outside the store"):
        R.plan_bundle(store, "x", paths=["data/LINKED/a.fits"])
    assert not any(p.name != "README.md" for p in (store.root / "release").iterdir())


def test_symlink_inside_the_store_is_released_at_its_real_place(rstore):
    store, paths = rstore
    by = store.root / "data/bygalaxy/NGC_0628"
    by.mkdir(parents=True)
    (by / "hi.fits").symlink_to(os.path.relpath(store.root / paths[0], by))
    res = R.bundle(store, R.plan_bundle(store, "by", paths=["data/bygalaxy/NGC_0628/hi.fits"]))
    assert [f.rel for f in res.plan.data_files] == [paths[0]]
    assert (res.path / paths[0]).is_file() and not (res.path / "data/bygalaxy").exists()
    assert not any(p.is_symlink() for p in res.path.rglob("*"))


@pytest.mark.parametrize("given", [
    "data/THINGS/../../sfng.yaml",
    "data/THINGS/../NRO45/NGC_0628.ngc628.co10.fits",
    "../outside.fits",
    "/etc/passwd",
    "sfng.yaml",
    "tables/ned_names.csv",
    "data/THINGS",
    "data/THINGS/.sfng-tmp-abc",
])
def test_paths_with_dotdot_absolute_or_outside_the_trees_are_refused(rstore, given, tmp_path):
    store, paths = rstore
    (store.root / "data/THINGS/.sfng-tmp-abc").write_bytes(b"x")
    (tmp_path / "outside.fits").write_bytes(b"x")
    lst = tmp_path / "list.txt"
    lst.write_text(f"{paths[0]}\n{given}\n")
    with pytest.raises(SfngError, match="cannot be released"):
        R.plan_bundle(store, "x", from_file=lst)


def test_double_dot_inside_a_name_is_not_a_traversal(store):
    from _release_store import FILES

    files = FILES + [("THINGS", "NGC 3184", "NGC..3184..cube.fits", "HI")]
    paths = make_store(store, files)
    assert any(".." in p for p in paths)
    res = R.bundle(store, R.plan_bundle(store, "dots", paths=[paths[-1]]))
    assert (res.path / paths[-1]).is_file() and R.verify(res.path).ok


def test_fifo_in_the_store_is_refused(rstore):
    store, paths = rstore
    fifo = store.root / "data/THINGS/NGC_0002.pipe.fits"
    os.mkfifo(fifo)
    with pytest.raises(SfngError, match="not a regular file"):
        R.plan_bundle(store, "x", paths=[str(fifo)])


@pytest.mark.parametrize("name,bad", [
    ("data/a.fits", False), ("a..b", False), ("../x", True), ("/abs", True), ("a/../b", True),
    ("a\\b", True), ("a/-rf", True), ("a\nb", True), ("", True), ("a//b", True), ("./a", True),
])
def test_unsafe_reason(name, bad):
    assert (unsafe_reason(name) is not None) == bad


def test_tarball_writer_refuses_links_and_devices(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "a").write_bytes(b"1")
    (folder / "ln").symlink_to("/etc/passwd")
    with pytest.raises(SfngError, match="symbolic link"):
        write_tarball(folder, tmp_path / "r.tgz", "r")
    os.unlink(folder / "ln")
    os.mkfifo(folder / "fifo")
    with pytest.raises(SfngError, match="not a regular file"):
        write_tarball(folder, tmp_path / "r.tgz", "r")


# -- verify on crafted folders ------------------------------------------------------------------

def test_verify_never_follows_a_planted_symlink_or_a_dotdot_manifest_entry(rstore, tmp_path):
    store, paths = rstore
    res = R.bundle(store, R.plan_bundle(store, "r", paths=paths[:1], mode="copy"))
    secret = tmp_path / "secret"
    secret.write_text("top secret")
    (res.path / "data/THINGS/evil.fits").symlink_to(secret)
    (res.path / "data/evil_dir").symlink_to(tmp_path)
    man = res.path / "MANIFEST.sha256"
    from sfng.fsutil import sha256_file
    man.write_text(man.read_text() + f"{sha256_file(secret)}  ../../../../secret\n"
                   f"{sha256_file(secret)}  /etc/passwd\n")
    rep = R.verify(res.path)
    assert not rep.ok
    assert any("evil.fits: symbolic link" in u for u in rep.unsafe)
    assert any("evil_dir: symbolic link" in u for u in rep.unsafe)
    assert sum("unsafe path" in p for p in rep.problems) == 2
    assert not rep.changed and not rep.missing


def test_verify_refuses_a_symlinked_release_folder(rstore, tmp_path):
    store, paths = rstore
    res = R.bundle(store, R.plan_bundle(store, "r", paths=paths[:1]))
    ln = tmp_path / "alias"
    ln.symlink_to(res.path)
    with pytest.raises(SfngError, match="symbolic link"):
        R.verify(ln)


# -- verify on crafted tarballs -------------------------------------------------------------------

def _good_members(store, paths):
    """(name, bytes) of a genuine release tarball."""
    res = R.bundle(store, R.plan_bundle(store, "good", paths=paths[:1], mode="copy"), tar=True)
    out = []
    with tarfile.open(res.tarball) as tf:
        for m in tf.getmembers():
            out.append((m, tf.extractfile(m).read() if m.isfile() else None))
    return out


def _craft(path, members, extra):
    with tarfile.open(path, "w:gz") as tf:
        for m, data in members:
            tf.addfile(m, io.BytesIO(data) if data is not None else None)
        for ti, data in extra:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def _ti(name, kind=tarfile.REGTYPE, data=b"", linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.linkname = linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = 1, 3
    return ti, (data if kind == tarfile.REGTYPE else None)


@pytest.mark.parametrize("extra,expect", [
    ([_ti("good/data/THINGS/x.fits", tarfile.SYMTYPE, linkname="/etc/passwd")], "symlink member"),
    ([_ti("good/data/THINGS/h.fits", tarfile.LNKTYPE, linkname="../../etc/passwd")], "hardlink member"),
    ([_ti("../escape.txt", data=b"pwned")], "'..' path component"),
    ([_ti("good/../../escape.txt", data=b"pwned")], "'..' path component"),
    ([_ti("/tmp/sfng-abs-escape.txt", data=b"pwned")], "absolute path"),
    ([_ti("good/dev/null", tarfile.CHRTYPE)], "device member"),
    ([_ti("good/fifo", tarfile.FIFOTYPE)], "fifo member"),
    ([_ti("other/x.txt", data=b"x")], "outside the release folder"),
])
def test_verify_refuses_crafted_tarball_without_extracting(rstore, tmp_path, monkeypatch, extra, expect):
    store, paths = rstore
    members = _good_members(store, paths)
    bad = tmp_path / "crafted.tar.gz"
    _craft(bad, members, extra)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = set(os.listdir(tmp_path))
    rep = R.verify(bad)
    assert not rep.ok
    assert any(expect in u for u in rep.unsafe), rep.unsafe
    # nothing written anywhere: not in the working folder, beside the tarball, or in /tmp
    assert os.listdir(work) == []
    assert set(os.listdir(tmp_path)) == before
    assert not Path("/tmp/sfng-abs-escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_verify_crafted_tarball_with_tampered_member(rstore, tmp_path):
    store, paths = rstore
    members = _good_members(store, paths)
    tampered = []
    for m, data in members:
        if m.isfile() and m.name.endswith(".FITS"):
            data = data[:-1] + b"X"
        tampered.append((m, data))
    bad = tmp_path / "tampered.tar.gz"
    _craft(bad, tampered, [])
    rep = R.verify(bad)
    assert not rep.ok and rep.changed == [paths[0]]


def test_verify_refuses_garbage_and_duplicate_members(rstore, tmp_path):
    store, paths = rstore
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    rep = R.verify(junk)
    assert not rep.ok and rep.problems
    members = _good_members(store, paths)
    dup = tmp_path / "dup.tar.gz"
    m, data = next((m, d) for m, d in members if m.name.endswith(".FITS"))
    import copy

    m2 = copy.copy(m)
    m2.size = len(b"different")
    _craft(dup, members, [(m2, b"different")])
    rep = R.verify(dup)
    assert not rep.ok and any("twice" in u for u in rep.unsafe)


def test_cli_verify_crafted_tarball_exit_1(rstore, tmp_path, cli):
    store, paths = rstore
    bad = tmp_path / "crafted.tar.gz"
    _craft(bad, _good_members(store, paths), [_ti("good/ln", tarfile.SYMTYPE, linkname="/")])
    r = cli("release", "verify", bad)
    assert r.exit_code == 1 and "unsafe: good/ln: symlink member" in r.output and "FAILED" in r.output
