"""``sfng get``: copies with READMEs, SHA-256 checks against the manifest, resume, refusals."""

import os
import shutil

import pytest
from _demo_store import demo_files_on, demo_tree

from sfng import manifest


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return demo_tree(tmp_path_factory)


@pytest.fixture
def own_store(demo, tmp_path):
    """A private copy of the demo store (for tests that damage it)."""
    dst = tmp_path / "store"
    shutil.copytree(demo.store_dir, dst, symlinks=True)
    return dst


def fetched(dest):
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")
                  if p.is_file() and p.name != manifest.MANIFEST_NAME and not p.name.endswith("_README.txt"))


def test_get_galaxy_copies_verifies_and_resumes(cli, demo, tmp_path):
    dest = tmp_path / "ic342"
    expect = demo_files_on("IC 342")
    r = cli("get", "IC 342", "--to", dest, "--store", demo.store_dir)
    assert r.exit_code == 0, r.output
    files = fetched(dest)
    assert sorted((p.split("/")[1], p.split("/")[2].split(".", 1)[1]) for p in files) == expect
    for survey in {s for s, _ in expect}:
        folder = dest / "data" / survey
        assert (folder / f"{survey}_README.txt").read_bytes() == \
            (demo.store_dir / "data" / survey / f"{survey}_README.txt").read_bytes()
        assert manifest.verify(folder) == []                      # sha256sum -c would pass
        store_entries = manifest.read_manifest(demo.store_dir / "data" / survey)
        for name, e in manifest.read_manifest(folder).items():
            assert e.sha256 == store_entries[name].sha256
    assert f"{len(expect)} copied" in r.stderr

    # Rerun: nothing copied, everything reported as already there.
    r = cli("get", "ic342", "--to", dest, "--store", demo.store_dir)
    assert r.exit_code == 0
    assert "0 copied" in r.stderr and f"{len(expect)} already there" in r.stderr

    # Resume after an interruption: one file missing, a stale temporary left behind.
    victim = dest / files[0]
    victim.unlink()
    (victim.parent / ".sfng-tmp-abandoned").write_bytes(b"half a file")
    r = cli("get", "IC 342", "--to", dest, "--store", demo.store_dir, "--format", "json")
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.stdout)
    assert rep["copied"] == [files[0]]
    assert len(rep["present"]) == len(expect) - 1
    assert not (victim.parent / ".sfng-tmp-abandoned").exists()
    assert victim.is_file()


def test_get_with_a_selection_and_dry_run(cli, demo, tmp_path):
    dest = tmp_path / "co"
    r = cli("get", "--line", "CO10", "--res<15", "--dist<15", "--depth<=1K", "--to", dest,
            "--store", demo.store_dir, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "would copy" in r.stdout
    assert not dest.exists()


def test_get_links(cli, demo, tmp_path):
    dest = tmp_path / "linked"
    r = cli("get", "IC 342", "--survey", "SINGS", "--to", dest, "--store", demo.store_dir, "--link")
    assert r.exit_code == 0, r.output
    (f,) = fetched(dest)
    assert os.stat(dest / f).st_ino == os.stat(demo.store_dir / f).st_ino


def test_checksum_mismatch_is_refused(cli, own_store, tmp_path):
    (survey, name), *_ = demo_files_on("IC 342")
    src = next((own_store / "data" / survey).glob(f"*.{name}"))
    data = bytearray(src.read_bytes())
    data[-10] ^= 0xFF
    src.write_bytes(bytes(data))
    dest = tmp_path / "out"
    r = cli("get", "IC 342", "--to", dest, "--store", own_store, "--allow-stale")
    assert r.exit_code == 1
    assert "checksum" in r.stderr and src.name in r.stderr
    assert not (dest / "data" / survey / src.name).exists()
    assert not any(p.name.startswith(".sfng-tmp-") for p in dest.rglob("*"))
    assert len(fetched(dest)) == len(demo_files_on("IC 342")) - 1


def test_existing_different_file_is_never_overwritten(cli, demo, tmp_path):
    (survey, name), *_ = demo_files_on("IC 342")
    src = next((demo.store_dir / "data" / survey).glob(f"*.{name}"))
    dest = tmp_path / "out"
    mine = dest / "data" / survey / src.name
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own notes")
    r = cli("get", "IC 342", "--to", dest, "--store", demo.store_dir)
    assert r.exit_code == 1
    assert "not overwritten" in r.stderr
    assert mine.read_bytes() == b"my own notes"


def test_refusals(cli, demo, tmp_path):
    r = cli("get", "--to", tmp_path / "all", "--store", demo.store_dir)
    assert r.exit_code == 1 and "needs a galaxy or a selection" in r.stderr
    r = cli("get", "IC 342", "--to", demo.store_dir / "data" / "mine", "--store", demo.store_dir)
    assert r.exit_code == 1 and "inside the store" in r.stderr
    r = cli("get", "NGC 9999", "--to", tmp_path / "none", "--store", demo.store_dir)
    assert r.exit_code == 0 and "nothing to fetch" in r.stderr


def test_index_paths_cannot_escape_and_missing_files_fail(cli, store, tmp_path):
    import json

    from _query_index import rows, write_index

    bad = rows()[:4]
    bad[0]["path"] = "data/../../outside.fits"
    bad[1]["path"] = "/etc/passwd"
    bad[2]["path"] = "data/BIMASONG/not-there.fits"
    bad[3]["path"] = "data/BIMASONG/link.fits"
    (store.root / "data" / "BIMASONG").mkdir()
    (store.root / "data" / "BIMASONG" / "link.fits").symlink_to(store.root.parent / "outside.fits")
    for r in bad:
        r["galaxy"] = "MESSIER 074"
    write_index(store.index_path, files=bad)
    outside = store.root.parent / "outside.fits"
    outside.write_bytes(b"secret")
    dest = tmp_path / "out"
    r = cli("get", "M74", "--to", dest, "--store", store.root, "--format", "json")
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    reasons = {f["path"]: f["reason"] for f in rep["failed"]}
    assert "refusing index path" in reasons["data/../../outside.fits"]
    assert "refusing index path" in reasons["/etc/passwd"]
    assert "missing in the store" in reasons["data/BIMASONG/not-there.fits"]
    assert "outside the store" in reasons["data/BIMASONG/link.fits"]
    assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))
