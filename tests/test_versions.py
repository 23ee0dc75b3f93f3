"""Data versions (docs/versions.md): two versions of a survey side by side in data/SURVEY@V/,
queried (current by default, --all-versions, --version), released with pinned paths, and
compared with `sfng index diff`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from sfng import naming
from sfng.errors import SfngError
from sfng.readme import render

sys.path.insert(0, str(Path(__file__).parent))
from _release_store import fits_file  # noqa: E402

README = "THINGS: VLA HI cubes.\nCitation: Walter, F. et al. (2008), AJ, 136, 2563\n"


def _source(tmp_path, name, files, version=None):
    src = tmp_path / name
    src.mkdir()
    meta = {"MAPTYPE": "HI"}
    if version:
        meta["VERSION"] = version
    (src / "THINGS_README.txt").write_text(render(meta, README), encoding="utf-8")
    for fname, seed in files:
        fits_file(src / fname, seed=seed)
    return src


def _json(cli, *args, code=0):
    r = cli(*args)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout if hasattr(r, "stdout") else r.output)


def _paths(cli, store, *extra):
    got = _json(cli, "find", "--store", str(store.root), "--format", "json", *extra)
    rows = got["files"] if isinstance(got, dict) and "files" in got else got
    return sorted(r["path"] for r in rows)


def test_version_names_and_natural_order():
    assert naming.split_survey_folder("THINGS@v1.2") == ("THINGS", "v1.2")
    assert naming.split_survey_folder("THINGS") == ("THINGS", "")
    assert sorted(["v1.10", "v2", "v1.2", ""], key=naming.version_key) == ["", "v1.2", "v1.10", "v2"]
    assert naming.current_version(["", "v1.2", "v1.10"]) == "v1.10"
    assert naming.current_version(["", "v1.2", "v1.10"], "v1.2") == "v1.2"
    assert naming.check_component("THINGS@v2", what="survey name") == "THINGS@v2"
    for bad in ("THINGS@", "@v2", "A@b@c", "A@-x", "A@b/c", "A@b c"):
        with pytest.raises(SfngError):
            naming.check_component(bad, what="survey name")
    assert naming.check_component("a@b.fits", what="file name")   # only survey folders
    with pytest.raises(SfngError):
        naming.survey_folder("A@B", "v1")


def test_two_versions_coexist_query_release_and_diff(tmp_path, store, cli):
    root = str(store.root)
    v1 = _source(tmp_path, "THINGS", [("a.fits", 1), ("b.fits", 2)], version="v1")
    r = cli("ingest", str(v1), "--store", root)                  # VERSION from the README
    assert r.exit_code == 0, r.output
    assert (store.root / "data/THINGS@v1/a.fits").is_file()
    assert (store.root / "data/THINGS@v1/THINGS@v1_README.txt").is_file()
    assert (store.root / "data/THINGS@v1/MANIFEST.sha256").is_file()
    assert not (store.root / "data/THINGS").exists()
    assert cli("index", "build", "--store", root).exit_code == 0
    old_index = tmp_path / "old-INDEX.fits"
    shutil.copy2(store.index_path, old_index)

    # v2: the same files, a.fits changed, c.fits added; landed beside v1, not a conflict
    v2 = _source(tmp_path / "new", "THINGS", [("a.fits", 10), ("b.fits", 2), ("c.fits", 3)]) \
        if (tmp_path / "new").mkdir() is None else None
    r = cli("ingest", str(v2), "--version", "v2", "--store", root)
    assert r.exit_code == 0, r.output
    assert (store.root / "data/THINGS@v1/a.fits").read_bytes() != (store.root / "data/THINGS@v2/a.fits").read_bytes()
    assert (store.root / "data/THINGS@v2/THINGS@v2_README.txt").is_file()
    assert cli("index", "build", "--store", root).exit_code == 0

    from sfng.index.io import read_index
    files, _, _ = read_index(store.index_path, galaxies=False)
    by_path = {str(p): (str(s), str(v), bool(c)) for p, s, v, c in
               zip(files["path"], files["survey"], files["version"], files["current"])}
    assert by_path["data/THINGS@v1/a.fits"] == ("THINGS", "v1", False)
    assert by_path["data/THINGS@v2/c.fits"] == ("THINGS", "v2", True)

    # find: current by default, all with --all-versions, one with --version
    v2_paths = ["data/THINGS@v2/a.fits", "data/THINGS@v2/b.fits", "data/THINGS@v2/c.fits"]
    v1_paths = ["data/THINGS@v1/a.fits", "data/THINGS@v1/b.fits"]
    assert _paths(cli, store) == v2_paths
    assert _paths(cli, store, "--all-versions") == sorted(v1_paths + v2_paths)
    assert _paths(cli, store, "--version", "v1") == v1_paths
    assert _paths(cli, store, "--data-version", "v1", "--survey", "THINGS") == v1_paths

    # sfng.yaml may name the current version
    cfg = store.root / "sfng.yaml"
    cfg.write_text(cfg.read_text() + "versions:\n  THINGS: v1\n")
    assert cli("index", "build", "--store", root).exit_code == 0
    assert _paths(cli, store) == v1_paths
    cfg.write_text(cfg.read_text().replace("versions:\n  THINGS: v1\n", ""))
    assert cli("index", "build", "--store", root).exit_code == 0
    assert _paths(cli, store) == v2_paths

    # a release of v1 pins v1's paths and says the version of every file
    r = cli("release", "bundle", "things-v1", "--data-version", "v1", "--store", root)
    assert r.exit_code == 0, r.output
    rel = store.root / "release" / "things-v1"
    assert (rel / "data/THINGS@v1/a.fits").is_file() and not (rel / "data/THINGS@v2").exists()
    rec = json.loads((rel / "RELEASE.json").read_text())
    data = [f for f in rec["files"] if f["role"] == "data"]
    assert sorted(f["path"] for f in data) == v1_paths and {f["version"] for f in data} == {"v1"}
    assert "--data-version v1" in (rel / "RELEASE.md").read_text()
    rfiles, _, _ = read_index(rel / "SFNG-INDEX.fits", galaxies=False)
    assert sorted(str(p) for p in rfiles["path"]) == v1_paths and all(bool(c) for c in rfiles["current"])

    # index diff: the old index (v1) against the new one (v2 current)
    got = _json(cli, "index", "diff", str(old_index), str(store.index_path), "--format", "json", code=1)
    assert [(e["name"], e["version"]) for e in got["added"]] == [("c.fits", "v2")]
    assert got["removed"] == []
    [changed] = got["changed"]
    assert changed["name"] == "a.fits" and changed["old_path"] == "data/THINGS@v1/a.fits" \
        and changed["new_path"] == "data/THINGS@v2/a.fits"
    assert changed["changes"]["version"] == ["v1", "v2"] and "sha256" in changed["changes"]
    # every version keyed apart: only v2's files are new
    got = _json(cli, "index", "diff", str(old_index), str(store.index_path), "--all-versions",
                "--format", "json", code=1)
    assert sorted(e["path"] for e in got["added"]) == v2_paths and not got["changed"]
    # against the tree: nothing changed since the build
    got = _json(cli, "index", "diff", str(store.index_path), "--store", root, "--format", "json")
    assert got["counts"] == {"added": 0, "removed": 0, "changed": 0}
    r = cli("index", "diff", str(old_index), str(store.index_path))
    assert r.exit_code == 1 and "~ data/THINGS@v1/a.fits -> data/THINGS@v2/a.fits" in r.output
    assert "version: v1 -> v2" in r.output


def test_version_option_and_readme_disagreement(tmp_path, store, cli):
    src = _source(tmp_path, "THINGS", [("a.fits", 1)])
    r = cli("ingest", str(src), "--version", "bad/v", "--store", str(store.root))
    assert r.exit_code != 0
    # unversioned stays data/THINGS/; a later version lands beside it and becomes current
    assert cli("ingest", str(src), "--store", str(store.root)).exit_code == 0
    assert (store.root / "data/THINGS/a.fits").is_file()
    assert cli("ingest", str(src), "--version", "2024.1", "--store", str(store.root)).exit_code == 0
    assert (store.root / "data/THINGS@2024.1/a.fits").is_file()
    assert cli("index", "build", "--store", str(store.root)).exit_code == 0
    assert _paths(cli, store) == ["data/THINGS@2024.1/a.fits"]
    assert _paths(cli, store, "--version", "") == ["data/THINGS/a.fits"]
    assert store.survey_versions("THINGS") == ["", "2024.1"]
    assert store.survey_dir("THINGS", "data", "2024.1") == store.root / "data/THINGS@2024.1"
