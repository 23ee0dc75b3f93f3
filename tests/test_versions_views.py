"""Data versions in the views over the store (docs/versions.md): the ObsCore export, the static
site and the data service show the current version of each survey by default, every version or
one version when asked, as `sfng find` does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).parent))
from test_versions import _source  # noqa: E402

V1 = ["data/THINGS@v1/a.fits", "data/THINGS@v1/b.fits"]
V2 = ["data/THINGS@v2/a.fits", "data/THINGS@v2/b.fits", "data/THINGS@v2/c.fits"]


@pytest.fixture
def two_versions(tmp_path, store, cli):
    root = str(store.root)
    assert cli("ingest", str(_source(tmp_path, "THINGS", [("a.fits", 1), ("b.fits", 2)], version="v1")),
               "--store", root).exit_code == 0
    (tmp_path / "new").mkdir()
    v2 = _source(tmp_path / "new", "THINGS", [("a.fits", 10), ("b.fits", 2), ("c.fits", 3)])
    assert cli("ingest", str(v2), "--version", "v2", "--store", root).exit_code == 0
    assert cli("index", "build", "--store", root).exit_code == 0
    return store


def _obscore_paths(path) -> list[str]:
    from astropy.io.votable import parse_single_table

    t = parse_single_table(str(path)).to_table()
    return sorted(str(p).split("?", 1)[1] for p in t["obs_publisher_did"])


def test_obscore_export_follows_the_version_selection(two_versions, cli, tmp_path):
    root = str(two_versions.root)
    for extra, want in (((), V2), (("--all-versions",), sorted(V1 + V2)), (("--data-version", "v1"), V1)):
        out = tmp_path / f"obscore{len(extra)}.xml"
        r = cli("find", "--store", root, "--export-obscore", str(out), *extra)
        assert r.exit_code == 0, r.output
        assert _obscore_paths(out) == want, extra


def test_site_shows_the_current_version_unless_asked(two_versions, cli, tmp_path):
    pytest.importorskip("jinja2")
    root = str(two_versions.root)
    out = tmp_path / "site"
    r = cli("site", "build", "--store", root, "-o", str(out), "--no-images")
    assert r.exit_code == 0, r.output
    survey = unquote((out / "surveys" / "THINGS.html").read_text())
    assert "THINGS@v2/a.fits" in survey and "THINGS@v1/" not in survey.replace("THINGS@v1_README", "")
    assert "THINGS@v2_README.txt" in survey and "(version v2)" in survey and "superseded" not in survey
    assert "Data versions shown: v2." in survey
    r = cli("site", "build", "--store", root, "-o", str(out), "--no-images", "--all-versions")
    assert r.exit_code == 0, r.output
    survey = unquote((out / "surveys" / "THINGS.html").read_text())
    assert "THINGS@v1/a.fits" in survey and "THINGS@v2/c.fits" in survey
    assert survey.count("(superseded)") == 2                                 # v1's two files
    assert survey.index("THINGS@v2_README.txt") < survey.index("THINGS@v1_README.txt")   # newest first
    assert "Data versions shown: v1, v2." in survey
    r = cli("site", "build", "--store", root, "-o", str(out), "--no-images", "--data-version", "v1")
    survey = unquote((out / "surveys" / "THINGS.html").read_text())
    assert r.exit_code == 0 and "THINGS@v1/b.fits" in survey and "THINGS@v2/" not in survey.replace(
        "THINGS@v2_README", "")


def test_service_queries_the_current_version_unless_asked(two_versions):
    from sfng.serve.service import Service, UsageError

    store = two_versions
    svc = Service(store.root, store.index_path, cache_dir=store.root / ".sfng" / "cache")

    def paths(**kw):
        ids, total = svc.query(constraint="survey = 'THINGS'", **kw)
        assert total == len(ids)
        return sorted(svc.resolve(i)[0].entry.path for i in ids)

    assert paths() == V2
    assert paths(version="all") == sorted(V1 + V2)
    assert paths(version="v1") == V1
    with pytest.raises(UsageError):
        svc.query(constraint="survey = 'THINGS'", version="../x")
    ctx = svc.contexts()["surveys"]["THINGS"]
    assert ctx["files"] == 3 and ctx["versions"] == {"v1": {"files": 2, "current": False},
                                                     "v2": {"files": 3, "current": True}}


def test_files_without_a_checksum_never_share_a_cached_cube(two_versions, tmp_path):
    """The spectrum cache is keyed by content when the manifest gives the SHA-256; a file without
    one (no manifest) is keyed by its path, so two such files never answer with each other's data."""
    import dataclasses

    from sfng.serve.data import CubeCache
    from sfng.serve.service import Service

    store = two_versions
    svc = Service(store.root, store.index_path, cache_dir=tmp_path / "cache1")
    by_path = {e.path: e for e in svc.catalog.entries.values()}
    a, c = by_path["data/THINGS@v2/a.fits"], by_path["data/THINGS@v2/c.fits"]
    cache = CubeCache(svc.catalog, tmp_path / "cache2")
    fa = cache.cube(dataclasses.replace(a, sha256="")).flux
    fc = cache.cube(dataclasses.replace(c, sha256="")).flux
    assert not np.array_equal(np.asarray(fa), np.asarray(fc))
    # with checksums, the identical b.fits of v1 and v2 share one entry, each under its own path
    b1, b2 = by_path["data/THINGS@v1/b.fits"], by_path["data/THINGS@v2/b.fits"]
    assert b1.sha256 == b2.sha256 and b1.sha256
    x1, x2 = cache.cube(b1), cache.cube(b2)
    assert x1.flux is x2.flux and (x1.entry.path, x2.entry.path) == (b1.path, b2.path)
