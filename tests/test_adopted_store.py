"""The specification's three use cases on a store adopted from plain survey downloads: files keep
the surveys' own names (no --ned-rename), nobody types a distance. The index must still know
each file's galaxy (OBJECT through the store's NED cache) and distance (``galaxies fill``, from
the shipped table), and give the same answers as the curated demo store, computed apart."""

import shutil

import numpy as np
import pytest
from _demo_store import demo_tree

from sfng.naming import normalise

SKIP = {"MANGA", "MANGA-DAP", "GZ3D"}  # MaNGA names are no galaxies: not part of the use cases


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    from sfng.demo.galaxies import ned_cache_path
    from sfng.demo.surveys import make_surveys
    from sfng.index.build import build_index
    from sfng.ned import Resolver
    from sfng.store import Store, init_store

    root = tmp_path_factory.mktemp("adopted")
    tree = make_surveys(root / "downloads")
    store_dir = root / "store"
    for survey in tree.files:
        if survey not in SKIP:
            shutil.copytree(tree.surveys_dir / survey, store_dir / "data" / survey)
    init_store(store_dir, adopt=True)
    store = Store.open(store_dir)
    Resolver(store=store, offline=True).import_cache(ned_cache_path(), source="recorded")
    rep = build_index(store, fill_galaxies=True)  # `sfng index build --fill-galaxies`
    return store, rep.fill


def _answers(root, n):
    from sfng.query import load_index, select, use_case

    idx = load_index(index_path=root / "SFNG-INDEX.fits")
    res = select(idx, use_case(n))
    if res.galaxies is not None:
        return sorted(res.galaxies)
    return sorted((p.split("/")[1], p.split("/")[-1]) for p in res.paths())


def _original(name):
    """The survey's own file name of a curated store file (``NED_NAME.original``)."""
    from sfng.naming import parse

    return parse(name)[1]


def test_every_galaxy_gets_a_cited_distance_without_typing(adopted):
    store, fill = adopted
    from sfng.galaxies import read_galaxies

    table = read_galaxies(store)
    got = {g.name: (g.dist, g.dist_src) for g in table.galaxies}
    assert "IC 0342" in got and "MESSIER 074" in got
    for name, (dist, src) in got.items():
        assert dist > 0 and src, name   # every galaxy of the store has a distance, with its source


def test_use_case_3_all_data_on_ic342(adopted, tmp_path_factory):
    store, _ = adopted
    curated = demo_tree(tmp_path_factory)
    want = sorted((s, _original(f)) for s, f in _answers(curated.store_dir, 3) if s not in SKIP)
    got = _answers(store.root, 3)
    assert got and got == want


def test_use_case_2_co_and_24um_but_no_halpha(adopted, tmp_path_factory):
    store, _ = adopted
    curated = demo_tree(tmp_path_factory)
    assert _answers(store.root, 2) == _answers(curated.store_dir, 2)


def test_use_case_1_with_filled_distances(adopted, tmp_path_factory):
    """CO(1-0) better than 15", within 15 Mpc, 1 K at 1 km/s: computed here from the curated
    store's rows and the shipped distances, independently of the query code."""
    from sfng.distances import read_shipped, shipped_index
    from sfng.index.io import read_index

    store, _ = adopted
    curated = demo_tree(tmp_path_factory)
    files, _, _ = read_index(curated.store_dir / "SFNG-INDEX.fits")
    dist = shipped_index(read_shipped())
    tracer = np.asarray(files["tracer"]).astype(str)
    galaxy = np.asarray(files["galaxy"]).astype(str)
    near = np.array([normalise(g) in dist and dist[normalise(g)].dist < 15 for g in galaxy])
    keep = (tracer == "CO(1-0)") & (np.asarray(files["res"]) < 15) & near \
        & (np.asarray(files["depth_k"]) <= 1.0)
    want = sorted((p.split("/")[1], _original(p.split("/")[-1]))
                  for p in np.asarray(files["path"]).astype(str)[keep])
    got = _answers(store.root, 1)
    assert want and got == want
