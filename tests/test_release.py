"""Releases: bundle layout, manifest (checked by the real sha256sum), RELEASE.md, release index,
link/copy, immutability and versions, validation refusal, dry run, tarball reproducibility,
verify/list/diff, crash safety (kill -9 mid-bundle, full disk)."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import sfng.release as R
from sfng.errors import SfngError
from sfng.index.io import read_index
from sfng.tarball import iter_members, write_tarball

sys.path.insert(0, str(Path(__file__).parent))
from _release_store import FILES, make_store, write_index  # noqa: E402

SHA256SUM = shutil.which("sha256sum")


@pytest.fixture
def rstore(store):
    paths = make_store(store)
    return store, paths


def _bundle(store, name, paths, **kw):
    tar = kw.pop("tar", False)
    plan = R.plan_bundle(store, name, paths=paths, **kw)
    return R.bundle(store, plan, tar=tar)


# -- layout and contents ------------------------------------------------------------------------

def test_bundle_layout_manifest_index_and_notes(rstore):
    store, paths = rstore
    res = _bundle(store, "ngc628", paths[:1] + paths[2:3])
    rel = store.root / "release" / "ngc628"
    assert res.path == rel and rel.is_dir()
    assert not (store.root / "release" / ".ngc628.partial").exists()
    got = sorted(p.relative_to(rel).as_posix() for p in rel.rglob("*") if p.is_file())
    assert got == sorted([paths[0], paths[2], "data/THINGS/THINGS_README.txt", "data/NRO45/NRO45_README.txt",
                          "SFNG-INDEX.fits", "MANIFEST.sha256", "RELEASE.md", "RELEASE.json"])
    # the store's survey manifest is not part of a release (it lists files not released)
    assert not (rel / "data/NRO45/MANIFEST.sha256").exists()
    # hard links: same inode as the store file
    assert os.stat(rel / paths[0]).st_ino == os.stat(store.root / paths[0]).st_ino
    assert res.linked == 2 and res.hashed == 0  # checksums came from the fresh index rows

    # the release index covers exactly the released files, through the real reader
    files, gal, meta = read_index(rel / "SFNG-INDEX.fits")
    assert sorted(str(p) for p in files["path"]) == sorted([paths[0], paths[2]])
    assert [str(g) for g in gal["name"]] == ["NGC 0628"] and int(gal["n_files"][0]) == 2
    assert meta["store"].endswith("release/ngc628")

    notes = (rel / "RELEASE.md").read_text()
    assert "# Release ngc628" in notes and "sfng version: 0.1.0" in notes
    assert "Created: 20" in notes
    assert "### NGC 0628" in notes and "| CO(1-0) | NRO45 |" in notes and "| HI | THINGS |" in notes
    assert "Walter, F. et al. (2008), AJ, 136, 2563" in notes and "Kuno, N. et al. (2007)" in notes
    assert f"sfng release bundle ngc628 {paths[0]} {paths[2]}" in notes
    rec = json.loads((rel / "RELEASE.json").read_text())
    assert rec["n_files"] == 2 and rec["mode"] == "link" and rec["version"] == 1

    assert R.verify("ngc628", store).ok


@pytest.mark.skipif(SHA256SUM is None, reason="needs the sha256sum binary")
def test_manifest_checks_with_real_sha256sum(rstore):
    store, paths = rstore
    _bundle(store, "all", paths, mode="copy")
    rel = store.root / "release" / "all"
    run = subprocess.run([SHA256SUM, "-c", "--strict", "MANIFEST.sha256"], cwd=rel, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": OK") == len(paths) + 2 + 3  # files, READMEs, index/notes/record
    # and it notices a change
    victim = rel / paths[1]
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:
        f.seek(3000)
        f.write(b"\x01")
    run = subprocess.run([SHA256SUM, "-c", "MANIFEST.sha256"], cwd=rel, capture_output=True, text=True)
    assert run.returncode != 0 and f"{paths[1]}: FAILED" in run.stdout


def test_copy_mode_makes_read_only_independent_copies(rstore):
    store, paths = rstore
    res = _bundle(store, "c", paths[:2], mode="copy")
    rel = store.root / "release" / "c"
    assert res.copied == 2 and res.readmes == 1 and res.linked == 0
    st = os.stat(rel / paths[0])
    assert st.st_ino != os.stat(store.root / paths[0]).st_ino
    assert st.st_mode & 0o777 == 0o444
    assert (rel / paths[0]).read_bytes() == (store.root / paths[0]).read_bytes()
    assert R.verify(rel).ok


def test_copy_detects_store_file_differing_from_its_recorded_checksum(rstore):
    store, paths = rstore
    p = store.root / paths[0]
    st = os.stat(p)
    data = bytearray(p.read_bytes())
    data[4000] ^= 0xFF
    p.write_bytes(bytes(data))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # silent corruption: same size and time
    with pytest.raises(SfngError, match="differs from the store's record"):
        _bundle(store, "bad", paths[:1], mode="copy")
    assert not (store.root / "release/.bad.partial").exists()


# -- refusals ---------------------------------------------------------------------------------

def test_existing_name_refused_and_version_records_changes(rstore):
    store, paths = rstore
    _bundle(store, "co", paths[2:4])
    with pytest.raises(SfngError, match="immutable"):
        R.plan_bundle(store, "co", paths=paths[2:4])
    # change one file (rewritten via rename, as sfng does) and the index
    p = store.root / paths[3]
    tmp = p.with_name(".tmpx")
    tmp.write_bytes(p.read_bytes()[:-2880] + b"\0" * 2880)
    os.replace(tmp, p)
    write_index(store, FILES, paths)
    res = _bundle(store, "co", [paths[3], paths[4]], new_version=True)
    assert res.plan.name == "co-v2" and res.plan.parent == "co" and res.plan.version == 2
    notes = (store.root / "release/co-v2/RELEASE.md").read_text()
    assert "## Changes since co" in notes
    assert f"- Added: 1\n  - `{paths[4]}`" in notes
    assert f"- Removed: 1\n  - `{paths[2]}`" in notes
    assert f"- Changed: 1\n  - `{paths[3]}`" in notes
    assert "--version" in notes
    # the old release still holds the old bytes (hard link kept the old inode)
    assert R.verify("co", store).ok and R.verify("co-v2", store).ok
    res3 = _bundle(store, "co", [paths[3]], new_version=True)
    assert res3.plan.name == "co-v3" and res3.plan.parent == "co-v2"
    d = R.diff(store, "co", "co-v2")
    assert d["added"] == [paths[4]] and d["removed"] == [paths[2]] and d["changed"] == [paths[3]]


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "x.partial", "-rf", "a b", "r.tar.gz"])
def test_bad_release_names_refused(rstore, name):
    store, paths = rstore
    with pytest.raises(SfngError, match="bad release name"):
        R.plan_bundle(store, name, paths=paths)


def test_empty_selection_missing_file_and_unindexed_file(rstore, tmp_path):
    store, paths = rstore
    with pytest.raises(SfngError, match="matches no file"):
        R.plan_bundle(store, "x", paths=[])
    lst = tmp_path / "list.txt"
    lst.write_text("# nothing\n\n")
    with pytest.raises(SfngError, match="matches no file"):
        R.plan_bundle(store, "x", from_file=lst)
    with pytest.raises(SfngError, match="no such file"):
        R.plan_bundle(store, "x", paths=[paths[0], "data/THINGS/NOPE.fits"])
    extra = store.root / "data/THINGS/NGC_9999.new.fits"
    extra.write_bytes((store.root / paths[0]).read_bytes())
    with pytest.raises(SfngError, match="not in the index.*sfng index build"):
        R.plan_bundle(store, "x", paths=[str(extra)])
    os.utime(store.root / paths[1], (1, 1))
    with pytest.raises(SfngError, match="changed since the index was built"):
        R.plan_bundle(store, "x", paths=[paths[1]])
    store.index_path.unlink()
    with pytest.raises(SfngError, match="index build"):
        R.plan_bundle(store, "x", paths=[paths[0]])
    assert not any((store.root / "release").glob("x*"))


def _fake_validate(monkeypatch, bad):
    rep = types.SimpleNamespace
    mod = types.ModuleType("sfng.validate")

    def validate_file(path, store=None, deep=False):
        errs = [types.SimpleNamespace(message="WCS matrix is singular")] if Path(path).name in bad else []
        return rep(path=path, errors=errs, ok=not errs)

    mod.validate_file = validate_file
    monkeypatch.setitem(sys.modules, "sfng.validate", mod)


def test_invalid_files_refused_unless_allowed(rstore, monkeypatch):
    store, paths = rstore
    _fake_validate(monkeypatch, {Path(paths[4]).name})
    with pytest.raises(SfngError, match="fail the minimum specification.*allow-invalid"):
        R.plan_bundle(store, "v", paths=paths)
    res = _bundle(store, "v", paths, allow_invalid=True)
    notes = (res.path / "RELEASE.md").read_text()
    assert "released with `--allow-invalid`" in notes and paths[4] in notes and "singular" in notes
    assert "--allow-invalid" in json.loads((res.path / "RELEASE.json").read_text())["command"]
    assert R.verify("v", store).ok


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_bundle_dry_run_verify_list_diff(rstore, cli, tmp_path):
    store, paths = rstore
    lst = tmp_path / "sel.txt"
    lst.write_text("\n".join(paths[:2]) + "\n")
    r = cli("release", "bundle", "cli1", "--from-file", lst, "--dry-run", "--store", store.root)
    assert r.exit_code == 0 and "would make release/cli1" in r.output and paths[0] in r.output
    assert not (store.root / "release/cli1").exists()
    r = cli("release", "bundle", "cli1", "--from-file", lst, "--tar", "--store", store.root)
    assert r.exit_code == 0, r.output
    notes = (store.root / "release/cli1/RELEASE.md").read_text()
    assert f"sfng release bundle cli1 --from-file {lst} --tar" in notes
    r = cli("release", "verify", "cli1", "--store", store.root)
    assert r.exit_code == 0 and "OK" in r.output
    r = cli("release", "verify", store.root / "release/cli1.tar.gz", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    r = cli("release", "bundle", "cli1", "--from-file", lst, "--store", store.root)
    assert r.exit_code == 1
    lst.write_text(paths[0] + "\n" + paths[4] + "\n")
    r = cli("release", "bundle", "cli1", "--from-file", lst, "--version", "--copy", "--format", "json",
            "--store", store.root)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["name"] == "cli1-v2"
    r = cli("release", "list", "--format", "json", "--store", store.root)
    names = [(i["name"], i["complete"], i["parent"]) for i in json.loads(r.stdout)]
    assert names == [("cli1", True, None), ("cli1-v2", True, "cli1")]
    r = cli("release", "diff", "cli1", "cli1-v2", "--store", store.root)
    assert f"+ {paths[4]}" in r.output and f"- {paths[1]}" in r.output and "2 added, 1 removed, 0 changed" in r.output
    # verify fails with exit status 1 and says why
    os.unlink(store.root / "release/cli1" / paths[0])
    r = cli("release", "verify", "cli1", "--store", store.root)
    assert r.exit_code == 1 and f"missing: {paths[0]}" in r.output
    r = cli("release", "bundle", "--help")
    assert "Examples" in r.output and "--allow-invalid" in r.output


def test_cli_requires_a_selection(rstore, cli):
    store, _ = rstore
    r = cli("release", "bundle", "x", "--store", store.root)
    assert r.exit_code == 2 and "choose the files" in r.output


# -- verify reports -------------------------------------------------------------------------------

def test_verify_reports_missing_extra_changed(rstore):
    store, paths = rstore
    _bundle(store, "r", paths[:3], mode="copy")
    rel = store.root / "release/r"
    os.unlink(rel / paths[0])
    (rel / "data/THINGS/stowaway.fits").write_bytes(b"x")
    os.chmod(rel / paths[2], 0o644)
    (rel / paths[2]).write_bytes(b"changed")
    rep = R.verify("r", store)
    assert not rep.ok
    assert rep.missing == [paths[0]] and rep.extra == ["data/THINGS/stowaway.fits"]
    assert rep.changed == [paths[2]]


def test_verify_notices_index_not_matching_files(rstore):
    store, paths = rstore
    _bundle(store, "r", paths[:2], mode="copy")
    rel = store.root / "release/r"
    # a release whose index describes other files, with a manifest consistent with it
    os.unlink(rel / "SFNG-INDEX.fits")
    write_index(store, FILES, paths, out=rel / "SFNG-INDEX.fits")
    lines = [ln for ln in (rel / "MANIFEST.sha256").read_text().splitlines() if "SFNG-INDEX" not in ln]
    from sfng.fsutil import sha256_file
    lines.append(f"{sha256_file(rel / 'SFNG-INDEX.fits')}  SFNG-INDEX.fits")
    (rel / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")
    rep = R.verify(rel)
    assert not rep.ok and any("not in the release" in p for p in rep.problems)


# -- tarballs -----------------------------------------------------------------------------------

def test_tarball_is_reproducible_and_normalised(rstore, tmp_path):
    store, paths = rstore
    res = _bundle(store, "t", paths[:3], tar=True)
    folder = store.root / "release/t"
    again = tmp_path / "again.tar.gz"
    digest = write_tarball(folder, again, "t", mtime=res_mtime(folder))
    assert again.read_bytes() == res.tarball.read_bytes()
    assert digest == res.tar_sha256
    side = (store.root / "release/t.tar.gz.sha256").read_text()
    assert side == f"{res.tar_sha256}  t.tar.gz\n"
    if SHA256SUM:
        assert subprocess.run([SHA256SUM, "-c", "t.tar.gz.sha256"], cwd=store.root / "release",
                              capture_output=True).returncode == 0
    raw = res.tarball.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08" and raw[3] == 0 and raw[4:8] == b"\0\0\0\0"  # no name, mtime 0
    with tarfile.open(res.tarball) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda s: s.encode()) and names[0] == "t"
    assert {m.uid for m in members} == {0} and {m.gid for m in members} == {0}
    assert {m.uname for m in members} == {""} and len({m.mtime for m in members}) == 1
    assert all((m.isdir() and m.mode == 0o755) or (m.isfile() and m.mode == 0o644) for m in members)
    assert ".INCOMPLETE" not in "".join(names)
    assert R.verify(res.tarball).ok


def res_mtime(folder):
    from datetime import datetime

    created = json.loads((folder / "RELEASE.json").read_text())["created"]
    return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())


def test_make_tarball_later_and_changed_tarball_fails(rstore):
    store, paths = rstore
    _bundle(store, "late", paths[:2])
    path, digest = R.make_tarball(store, "late")
    assert R.verify(path).ok
    with pytest.raises(SfngError, match="exists"):
        R.make_tarball(store, "late")
    # same release folder -> same bytes
    first = path.read_bytes()
    path.unlink()
    (store.root / "release/late.tar.gz.sha256").unlink()
    path2, digest2 = R.make_tarball(store, "late")
    assert path2.read_bytes() == first and digest2 == digest
    # a tarball whose bytes changed no longer matches its .sha256
    data = bytearray(first)
    tampered = store.root / "release/late.tar.gz"
    tampered.unlink()
    tampered.write_bytes(bytes(data[:-10]) + bytes(10))
    rep = R.verify(tampered)
    assert not rep.ok


names = st.lists(st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=12)
                 .filter(lambda s: s not in (".", "..") and not s.startswith("-")),
                 min_size=1, max_size=6, unique=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=names, blobs=st.lists(st.binary(max_size=3000), min_size=6, max_size=6))
def test_tarball_round_trip_hashes_and_determinism(tmp_path_factory, names, blobs):
    import hashlib

    base = tmp_path_factory.mktemp("tar")
    folder = base / "rel"
    want = {}
    for i, name in enumerate(names):
        sub = folder / ("sub" if i % 2 else "") / name
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.write_bytes(blobs[i])
        want[f"rel/{sub.relative_to(folder).as_posix()}"] = hashlib.sha256(blobs[i]).hexdigest()
    d1 = write_tarball(folder, base / "a.tgz", "rel", mtime=12345)
    d2 = write_tarball(folder, base / "b.tgz", "rel", mtime=12345)
    assert d1 == d2 and (base / "a.tgz").read_bytes() == (base / "b.tgz").read_bytes()
    got = {m.name: m.sha256 for m in iter_members(base / "a.tgz") if m.kind == "file"}
    assert got == want


# -- list, clean, crash safety --------------------------------------------------------------------

KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    import sfng.release as R
    import sfng.release.writing as W
    import sfng.tarball as T
    from sfng.store import Store
    store = Store.open({root!r})
    mod = {{"place": W, "tar": T}}[{where!r}]
    attr = {{"place": "_place", "tar": "write_tarball"}}[{where!r}]
    real = getattr(mod, attr)
    count = [0]
    def place(*a, **k):
        count[0] += 1
        if count[0] == {after}:
            if {where!r} == "tar":
                open(a[1], "wb").write(b"half a tarball")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)
    setattr(mod, attr, place)
    plan = R.plan_bundle(store, "crash", paths={paths!r}, mode="copy")
    R.bundle(store, plan, tar=True)
""")


def _run_killed(store, paths, after, where="place"):
    code = KILLER.format(tests=str(Path(__file__).parent), root=str(store.root), paths=paths, after=after,
                         where=where)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_kill_minus_9_mid_bundle_leaves_recognisable_partial_that_rerun_finishes(rstore):
    store, paths = rstore
    _run_killed(store, paths, after=4)
    rdir = store.root / "release"
    assert not (rdir / "crash").exists()
    part = rdir / ".crash.partial"
    assert part.is_dir() and (part / ".INCOMPLETE").is_file()
    infos = R.list_releases(store)
    assert [(i.name, i.complete) for i in infos] == [("crash", False)]
    rep = R.verify("crash", store)
    assert not rep.ok and rep.incomplete
    rep = R.verify(part)
    assert not rep.ok and rep.incomplete
    with pytest.raises(SfngError, match="incomplete"):
        R.diff(store, "crash", "crash")
    # a rerun of the same command finishes it
    plan = R.plan_bundle(store, "crash", paths=paths, mode="copy")
    res = R.bundle(store, plan, tar=True)
    assert res.resumed and res.copied + res.readmes < len(plan.files)
    assert not part.exists() and R.verify("crash", store).ok and R.verify(res.tarball).ok
    assert not list(rdir.glob(".sfng-tmp-*"))


def test_kill_while_writing_the_tarball_then_rerun(rstore):
    store, paths = rstore
    _run_killed(store, paths, after=1, where="tar")
    rdir = store.root / "release"
    assert (rdir / ".crash.partial/.INCOMPLETE").is_file() and not (rdir / "crash").exists()
    assert not (rdir / "crash.tar.gz").exists()
    res = R.bundle(store, R.plan_bundle(store, "crash", paths=paths, mode="copy"), tar=True)
    assert res.resumed and res.copied == 0 and res.readmes == 0
    assert R.verify("crash", store).ok and R.verify(res.tarball).ok
    assert not list(rdir.glob(".sfng-tmp-*"))


def test_cli_from_stdin(rstore, cli):
    store, paths = rstore
    r = cli("release", "bundle", "piped", "--from-file", "-", "--store", store.root,
            input="\n".join(paths[:2]) + "\n")
    assert r.exit_code == 0, r.output
    assert sorted(json.loads((store.root / "release/piped/RELEASE.json").read_text())["files"][i]["path"]
                  for i in range(3)) == sorted(paths[:2] + ["data/THINGS/THINGS_README.txt"])


def test_rerun_with_other_selection_cleans_partial_and_clean_command(rstore, cli):
    store, paths = rstore
    _run_killed(store, paths, after=3)
    part = store.root / "release/.crash.partial"
    assert part.exists()
    r = cli("release", "list", "--store", store.root)
    assert "INCOMPLETE" in r.output
    r = cli("release", "clean", "crash", "--dry-run", "--store", store.root)
    assert "would remove" in r.output and part.exists()
    r = cli("release", "clean", "crash", "--store", store.root)
    assert r.exit_code == 0 and not part.exists()
    _run_killed(store, paths, after=3)
    res = R.bundle(store, R.plan_bundle(store, "crash", paths=paths[:2], mode="copy"))
    assert not res.resumed and R.verify("crash", store).ok
    with pytest.raises(SfngError, match="complete"):
        R.clean(store, "crash")


def test_full_disk_reported_cleanly(rstore, monkeypatch):
    store, paths = rstore
    real = R.copy_file
    calls = [0]

    def full(src, dst, *a, **k):
        calls[0] += 1
        if calls[0] == 3:
            with open(dst, "wb") as f:
                f.write(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(R.writing, "copy_file", full)
    with pytest.raises(SfngError, match="disk is full") as exc:
        _bundle(store, "big", paths, mode="copy", tar=True)
    assert "No space left on device" in str(exc.value)
    rdir = store.root / "release"
    assert not (rdir / "big").exists() and not (rdir / ".big.partial").exists()
    assert not list(rdir.glob(".sfng-tmp-*"))
    monkeypatch.setattr(R.writing, "copy_file", real)
    assert R.verify(_bundle(store, "big", paths, mode="copy").path).ok


def test_full_disk_while_writing_tarball(rstore, monkeypatch):
    store, paths = rstore
    import sfng.tarball as T

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(T, "write_tarball", full)
    with pytest.raises(SfngError, match="disk is full"):
        _bundle(store, "big", paths[:1], tar=True)
    assert sorted(p.name for p in (store.root / "release").iterdir()) == ["README.md"]


def test_other_errors_keep_partial_for_rerun(rstore, monkeypatch):
    store, paths = rstore
    real = R.copy_file

    def broken(src, dst, *a, **k):
        raise OSError(errno.EIO, "Input/output error", str(src))

    monkeypatch.setattr(R.writing, "copy_file", broken)
    with pytest.raises(SfngError, match="rerun the same command"):
        _bundle(store, "io", paths[:2], mode="copy")
    assert (store.root / "release/.io.partial").is_dir()
    monkeypatch.setattr(R.writing, "copy_file", real)
    assert _bundle(store, "io", paths[:2], mode="copy").resumed


def test_gzip_header_has_no_name(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "a").write_bytes(b"1")
    write_tarball(folder, tmp_path / "x.tgz", "x")
    with gzip.open(tmp_path / "x.tgz") as g:
        g.read()
    raw = (tmp_path / "x.tgz").read_bytes()
    assert raw[3] & 0x08 == 0  # FNAME flag unset


# -- selections through the query code ------------------------------------------------------------

def test_bundle_from_selection_and_cli_records_exact_selection(rstore, cli):
    from sfng.select import Selection

    store, paths = rstore
    sel = Selection.build(tracers=("CO10",), galaxies=("NGC 0628", "IC 0342"))
    plan = R.plan_bundle(store, "sel", selection=sel)
    assert [f.rel for f in plan.data_files] == sorted([paths[2], paths[3]])
    assert plan.command.startswith("sfng release bundle sel --line CO10 --galaxy 'NGC 0628'")
    union = R.plan_bundle(store, "u", selection=[sel, Selection.build(surveys=("THINGS",))], tar=True)
    assert len(union.data_files) == 4
    assert union.command.startswith("{ sfng find --line CO10") and "--format paths; } | " in union.command
    assert union.command.endswith("sfng release bundle u --from-file - --tar")
    r = cli("release", "bundle", "c", "--line", "CO(1-0)", "--res<20", "--tar", "--store", store.root)
    assert r.exit_code == 0, r.output
    notes = (store.root / "release/c/RELEASE.md").read_text()
    assert "sfng release bundle c --line 'CO(1-0)' --res '<20' --tar" in notes
    assert len(json.loads((store.root / "release/c/RELEASE.json").read_text())["files"]) == 3 + 1
    r = cli("release", "bundle", "none", "--galaxy", "NGC 9999", "--store", store.root)
    assert r.exit_code == 1 and "matches no file" in r.output


def test_demo_step_makes_and_verifies_a_release(rstore):
    from sfng.demo.steps import step_release

    store, paths = rstore
    said = []
    tree = types.SimpleNamespace(store_dir=store.root)
    step_release(tree, said.append)
    rel = store.root / "release/demo-ic342-co10"
    assert rel.is_dir() and (store.root / "release/demo-ic342-co10.tar.gz").is_file()
    assert R.verify(rel).ok
    got = json.loads((rel / "RELEASE.json").read_text())
    assert {f["path"] for f in got["files"] if f["role"] == "data"} >= {paths[1], paths[3]}  # IC 342
    text = "\n".join(said)
    assert "verify: folder OK, tarball OK" in text and "sfng find --galaxy 'IC 342'" in text
    said.clear()
    step_release(tree, said.append)  # rerun: the release exists and still verifies
    assert "exists; verify: OK" in said[0]


def test_derived_products_keep_their_place(store):
    from _release_store import fits_file

    files = FILES[:1]
    paths = make_store(store, files, index=False)
    d = store.root / "derived/MOM0/NGC_0628.ngc628.co10.mom0.fits"
    fits_file(d, seed=9)
    (d.parent / "MOM0_README.txt").write_text("MAPTYPE = CO(1-0)\n---\nMoment maps.\nCitation: Us et al. (2026)\n")
    rel = "derived/MOM0/NGC_0628.ngc628.co10.mom0.fits"
    write_index(store, files + [("MOM0", "NGC 0628", "x", "CO(1-0)")], paths + [rel])
    res = R.bundle(store, R.plan_bundle(store, "mom", paths=[rel, paths[0]]))
    assert (res.path / rel).is_file() and (res.path / "derived/MOM0/MOM0_README.txt").is_file()
    assert "Us et al. (2026)" in (res.path / "RELEASE.md").read_text()
    assert R.verify(res.path).ok


hexes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
safe_parts = st.text(alphabet="abcXYZ019_.+", min_size=1, max_size=10).filter(lambda s: s not in (".", ".."))


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.lists(safe_parts, min_size=1, max_size=4).map("/".join), hexes, max_size=10))
def test_manifest_lines_round_trip(entries):
    text = "".join(f"{h}  {p}\n" for p, h in sorted(entries.items()))
    got, problems = R.parse_manifest(text)
    assert got == entries and problems == []
