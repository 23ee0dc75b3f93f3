"""Store layout, ``sfng init`` (idempotent, adopt, refusals) and store discovery."""

import os

import pytest

from sfng.errors import NotAStoreError, SfngError
from sfng.store import CONFIG_NAME, TREE, Store, find_root, init_store


def snapshot(root):
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in root.rglob("*")}


def test_init_lays_out_specification_tree(tmp_path):
    report = init_store(tmp_path / "s", name="things-store")
    root = tmp_path / "s"
    for d in TREE:
        assert (root / d).is_dir()
        assert (root / d / "README.md").is_file()
    assert (root / "docs" / "CONVENTIONS.md").is_file()
    assert not (root / "SFNG-INDEX.fits").exists()  # appears only with `sfng index build`
    store = Store.open(root)
    assert store.name == "things-store" and store.config["schema_version"] == 1
    assert store.config["ned"]["cache"].startswith("tables/")
    assert CONFIG_NAME in report.created


def test_init_is_idempotent_and_never_overwrites(tmp_path):
    root = tmp_path / "s"
    init_store(root)
    (root / "data" / "README.md").write_text("my own words\n")
    before = snapshot(root)
    report = init_store(root)
    assert report.created == []
    assert snapshot(root) == before


def test_init_repairs_missing_parts(tmp_path):
    root = tmp_path / "s"
    init_store(root)
    (root / "tables" / "README.md").unlink()
    (root / "release" / "README.md").unlink()
    (root / "release").rmdir()
    report = init_store(root)
    assert set(report.created) == {"release/", "release/README.md", "tables/README.md"}


def test_init_refuses_non_empty_folder_without_adopt(tmp_path):
    root = tmp_path / "old"
    (root / "THINGS").mkdir(parents=True)
    (root / "THINGS" / "a.fits").write_bytes(b"x" * 10)
    with pytest.raises(SfngError, match="--adopt"):
        init_store(root)
    assert not (root / CONFIG_NAME).exists()


def test_adopt_changes_nothing_existing(tmp_path):
    root = tmp_path / "old"
    (root / "data" / "THINGS").mkdir(parents=True)
    (root / "data" / "THINGS" / "a.fits").write_bytes(b"abc")
    (root / "data" / "README.md").write_text("ours")
    before = snapshot(root)
    report = init_store(root, adopt=True)
    assert report.adopted
    after = snapshot(root)
    for rel, value in before.items():
        assert after[rel] == value
    assert (root / CONFIG_NAME).is_file() and (root / "uncalibrated").is_dir()


def test_init_on_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(SfngError, match="is a file"):
        init_store(f)


def test_init_inside_another_store(tmp_path):
    init_store(tmp_path / "outer")
    with pytest.raises(SfngError, match="inside the store"):
        init_store(tmp_path / "outer" / "data" / "inner")
    assert not (tmp_path / "outer" / "data" / "inner").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_init_unwritable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(SfngError, match="permission denied"):
            init_store(ro / "s")
    finally:
        ro.chmod(0o700)


def test_init_unwritable_simulated(tmp_path, monkeypatch):
    import sfng.store as st

    monkeypatch.setattr(st.os, "access", lambda *a, **k: False)
    with pytest.raises(SfngError, match="permission denied"):
        init_store(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_dry_run_writes_nothing(tmp_path):
    report = init_store(tmp_path / "s", dry_run=True)
    assert CONFIG_NAME in report.created and not (tmp_path / "s").exists()


def test_discovery_nearest_ancestor(tmp_path, monkeypatch):
    init_store(tmp_path / "s")
    deep = tmp_path / "s" / "data" / "THINGS"
    deep.mkdir()
    monkeypatch.chdir(deep)
    monkeypatch.delenv("SFNG_STORE", raising=False)
    assert Store.discover().root == (tmp_path / "s").resolve()
    assert find_root(deep) == (tmp_path / "s").resolve()


def test_discovery_env_and_explicit(tmp_path, monkeypatch):
    init_store(tmp_path / "a")
    init_store(tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    assert Store.discover(env={"SFNG_STORE": str(tmp_path / "a")}).root.name == "a"
    assert Store.discover(store=tmp_path / "b", env={"SFNG_STORE": str(tmp_path / "a")}).root.name == "b"
    monkeypatch.chdir(tmp_path / "b" / "data")  # nearest ancestor beats $SFNG_STORE
    assert Store.discover(env={"SFNG_STORE": str(tmp_path / "a")}).root.name == "b"


def test_not_a_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotAStoreError, match="not inside an sfng store"):
        Store.discover(env={})
    with pytest.raises(NotAStoreError, match="not an sfng store"):
        Store.open(tmp_path)


def test_newer_store_schema_refused(tmp_path):
    init_store(tmp_path / "s")
    (tmp_path / "s" / CONFIG_NAME).write_text("name: x\nschema_version: 99\n")
    with pytest.raises(SfngError, match="newer than this sfng"):
        Store.open(tmp_path / "s")


def test_corrupt_config(tmp_path):
    init_store(tmp_path / "s")
    (tmp_path / "s" / CONFIG_NAME).write_text("name: [unclosed\n")
    with pytest.raises(SfngError, match="cannot read the store configuration"):
        Store.open(tmp_path / "s")


def test_survey_dir_refuses_hostile_names(store):
    for bad in ("..", "../x", "a/b", "-rf", ""):
        with pytest.raises(SfngError, match="unsafe"):
            store.survey_dir(bad)
