"""``sfng links bygalaxy``: relative links by galaxy, pair companions, idempotent updates."""

import json
import os
from pathlib import Path

from sfng import manifest as mf
from sfng.links import build_bygalaxy


def put(store, rel, data=b"SIMPLE  =                    T"):
    p = store.root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def links_of(store):
    base = store.root / "data" / "bygalaxy"
    return {p.relative_to(base).as_posix(): os.readlink(p) for p in sorted(base.rglob("*")) if p.is_symlink()}


def test_links_by_galaxy_with_pairs_and_derived(store):
    put(store, "data/THINGS/MESSIER_074.NGC_628_NA_CUBE_THINGS.FITS")
    put(store, "data/THINGS/THINGS_README.txt", b"---\n")
    put(store, "data/THINGS/unnamed_cube.fits")
    m51 = put(store, "data/PAWS/MESSIER_051a.paws_cube.fits")
    mf.append(m51.parent, [mf.Entry(m51.name, "0" * 64, 30, None, ("MESSIER 051b",), "MESSIER 051a")])
    put(store, "derived/THINGS/MESSIER_074.mom0.fits")
    put(store, "data/NRO45/IC_0342.ic342.co10.fits")
    (store.root / "tables" / "pairs.csv").write_text("primary,companion,note\nIC 0342,ESO 123- G?004,test\n")

    report = build_bygalaxy(store)
    assert report.ok, report.problems
    got = links_of(store)
    assert got == {
        "ESO_123-_G%3F004/IC_0342.ic342.co10.fits": "../../NRO45/IC_0342.ic342.co10.fits",
        "IC_0342/IC_0342.ic342.co10.fits": "../../NRO45/IC_0342.ic342.co10.fits",
        "MESSIER_051a/MESSIER_051a.paws_cube.fits": "../../PAWS/MESSIER_051a.paws_cube.fits",
        "MESSIER_051b/MESSIER_051a.paws_cube.fits": "../../PAWS/MESSIER_051a.paws_cube.fits",
        "MESSIER_074/MESSIER_074.NGC_628_NA_CUBE_THINGS.FITS":
            "../../THINGS/MESSIER_074.NGC_628_NA_CUBE_THINGS.FITS",
        "MESSIER_074/MESSIER_074.mom0.fits": "../../../derived/THINGS/MESSIER_074.mom0.fits",
    }
    base = store.root / "data" / "bygalaxy"
    for rel in got:
        assert (base / rel).resolve().is_file(), rel  # every link resolves
    assert report.unnamed == ["data/THINGS/unnamed_cube.fits"]
    assert len(report.created) == 6 and report.galaxies == 5
    # bygalaxy is not a survey
    assert "bygalaxy" not in store.surveys("data")


def test_rerun_updates_and_removes_stale(store):
    a = put(store, "data/THINGS/MESSIER_074.a.fits")
    put(store, "data/THINGS/NGC_2403.b.fits")
    build_bygalaxy(store)
    again = build_bygalaxy(store)
    assert again.created == [] and again.removed == [] and again.kept == 2
    a.unlink()
    put(store, "data/HERACLES/NGC_2403.b.fits")  # same name in a second survey: both prefixed
    (store.root / "data/bygalaxy/NGC_2403/stray.txt").write_text("mine")  # not a link: untouched
    rep = build_bygalaxy(store)
    assert rep.removed == ["MESSIER_074/MESSIER_074.a.fits", "NGC_2403/NGC_2403.b.fits"]
    assert not (store.root / "data/bygalaxy/MESSIER_074").exists()  # empty galaxy folder removed
    assert set(links_of(store)) == {"NGC_2403/data_HERACLES_NGC_2403.b.fits",
                                    "NGC_2403/data_THINGS_NGC_2403.b.fits"}
    assert (store.root / "data/bygalaxy/NGC_2403/stray.txt").read_text() == "mine"


def test_repoints_a_changed_link_and_dry_run_changes_nothing(store):
    put(store, "data/THINGS/MESSIER_074.a.fits")
    build_bygalaxy(store)
    link = store.root / "data/bygalaxy/MESSIER_074/MESSIER_074.a.fits"
    link.unlink()
    link.symlink_to("../../ELSEWHERE/MESSIER_074.a.fits")
    dry = build_bygalaxy(store, dry_run=True)
    assert dry.updated == ["MESSIER_074/MESSIER_074.a.fits"]
    assert os.readlink(link) == "../../ELSEWHERE/MESSIER_074.a.fits"
    build_bygalaxy(store)
    assert os.readlink(link) == "../../THINGS/MESSIER_074.a.fits" and link.resolve().is_file()


def test_cli(cli, store, monkeypatch):
    put(store, "data/THINGS/MESSIER_074.a.fits")
    monkeypatch.chdir(store.root)
    r = cli("links", "bygalaxy", "--dry-run", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["created"] == ["MESSIER_074/MESSIER_074.a.fits"]
    assert not (store.root / "data" / "bygalaxy" / "MESSIER_074").exists()
    r = cli("links", "bygalaxy")
    assert r.exit_code == 0 and "1 link(s) created" in r.output
    assert Path(store.root / "data/bygalaxy/MESSIER_074/MESSIER_074.a.fits").is_symlink()
    assert "Example" in cli("links", "bygalaxy", "--help").output


def test_property_every_file_linked_once_under_its_galaxy():
    """Every file named ``<NAME>.<original>`` for a galaxy the store knows (here: its NED cache)
    is linked once, under that galaxy, whatever characters the name holds."""
    import csv
    import tempfile

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sfng import naming
    from sfng.ned import CACHE_COLUMNS, Resolver
    from sfng.store import Store, init_store

    galaxy = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20) \
        .filter(lambda g: g.strip() == g and g)

    @settings(max_examples=15, deadline=None)
    @given(st.lists(st.tuples(galaxy, st.sampled_from(["data", "derived"]), st.sampled_from(["A", "B"])),
                    min_size=1, max_size=6, unique_by=lambda f: naming.normalise(f[0])))
    def check(files):
        with tempfile.TemporaryDirectory() as tmp:
            init_store(Path(tmp) / "s")
            store = Store.open(Path(tmp) / "s")
            known = Path(tmp) / "known.csv"
            with open(known, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, CACHE_COLUMNS)
                w.writeheader()
                for g, _, _ in files:
                    w.writerow({"input": g, "ned_name": g, "source": "test"})
            Resolver(store, offline=True).import_cache(known)
            want = {}
            for i, (g, tree, survey) in enumerate(files):
                name = naming.compose(g, f"f{i}.fits")
                p = put(store, f"{tree}/{survey}/{name}")
                want[p.resolve()] = g
            build_bygalaxy(store)
            got = {}
            for rel, target in links_of(store).items():
                gdir, _ = rel.split("/", 1)
                link = store.root / "data" / "bygalaxy" / rel
                assert not os.path.isabs(target)
                got.setdefault(link.resolve(), []).append(naming.decode_galaxy(gdir))
            assert {p: gs for p, gs in got.items()} == {p: [g] for p, g in want.items()}
            again = build_bygalaxy(store)
            assert again.created == again.updated == again.removed == []

    check()
