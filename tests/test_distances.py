"""sfng galaxies fill: distances for every galaxy of a store, offline (shipped table, Hubble
flow) and through a recorded VizieR (UNGC, Cosmicflows-3); hand-set values always win.

No test touches the network: NED answers come from a cache CSV written here, VizieR answers
are the recorded VOTables of tests/data/vizier served to astroquery's HTTP session.
"""

import json
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from sfng import distances as D
from sfng import galaxies as G
from sfng.ned import CACHE_COLUMNS, Resolver

VIZIER_DATA = Path(__file__).parent / "data" / "vizier"
CO10 = 115.2712018e9

#: NED answers in the cache's format (sfng.ned.CACHE_COLUMNS); positions and redshifts as in
#: sfng/demo/data/ned_cache.csv where the demo has the galaxy.
CACHE_ROWS = [
    ("NGC 628", "MESSIER 074", 24.173946, 15.783662, "G", 0.002192),
    ("MESSIER 074", "MESSIER 074", 24.173946, 15.783662, "G", 0.002192),
    ("NGC 6946", "NGC 6946", 308.718015, 60.153915, "G", 0.000160),
    ("UGC 1234", "UGC 01234", 26.2, 5.8, "G", 0.0121),
    ("NGC 4163", "NGC 4163", 183.0371, 36.1694, "G", 0.000540),
    ("NGC 7814", "NGC 7814", 0.8121, 16.1456, "G", 0.003502),
    ("KK 999", "KK 999", 150.0, 20.0, "G", ""),
]


def seed_cache(store, tmp_path, rows=CACHE_ROWS):
    csv = tmp_path / "ned_answers.csv"
    lines = [",".join(CACHE_COLUMNS)]
    for inp, ned, ra, dec, typ, z in rows:
        lines.append(f"{inp},{ned},{ra},{dec},{typ},{z},2026-01-01T00:00:00+00:00,test")
    csv.write_text("\n".join(lines) + "\n")
    return Resolver(store, offline=True).import_cache(csv)


def co_cube(path, obj, ra, dec, vsys):
    """A small CO(1-0) cube in K with a real celestial WCS and a velocity axis."""
    from astropy.io import fits

    rng = np.random.default_rng(7)
    h = fits.PrimaryHDU(rng.normal(0, 0.05, (8, 12, 12)).astype("f4")).header
    h.update({"BUNIT": "K", "OBJECT": obj, "CTYPE1": "RA---TAN", "CRVAL1": ra, "CDELT1": -2 / 3600,
              "CRPIX1": 6.5, "CUNIT1": "deg", "CTYPE2": "DEC--TAN", "CRVAL2": dec, "CDELT2": 2 / 3600,
              "CRPIX2": 6.5, "CUNIT2": "deg", "CTYPE3": "VRAD", "CUNIT3": "km/s", "CRVAL3": vsys,
              "CDELT3": 5.0, "CRPIX3": 4, "RESTFRQ": CO10, "BMAJ": 6 / 3600, "BMIN": 5 / 3600, "BPA": 0.0,
              "SPECSYS": "LSRK"})
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.zeros((8, 12, 12), "f4") + rng.normal(0, 0.05, (8, 12, 12)).astype("f4"),
                    h).writeto(path)
    return path


@pytest.fixture
def co_store(store, tmp_path):
    """A store holding CO(1-0) cubes of NGC 628 (M74: shipped distance) and UGC 1234 (only a
    redshift), ingested under their NED names from the cache; an empty galaxy table."""
    from sfng.ingest import execute, plan_ingest

    seed_cache(store, tmp_path)
    src = tmp_path / "survey" / "COSURVEY"
    src.mkdir(parents=True)
    (src / "COSURVEY_README.txt").write_text("---\nA CO(1-0) survey (test)\n")
    co_cube(src / "ngc628_co.fits", "NGC628", 24.173946, 15.783662, 657.0)
    co_cube(src / "ugc1234_co.fits", "UGC 1234", 26.2, 5.8, 3627.0)
    plan = plan_ingest(store, src, ned_rename=True, resolver=Resolver(store, offline=True),
                       offline=True, validate=False)
    report = execute(plan)
    assert report.ok, report.summary()
    assert not (store.root / G.TABLE).exists()
    return store


# -- the shipped table -----------------------------------------------------------------------

BIBCODE = re.compile(r"^\d{4}[A-Za-z&.]{2,6}[.\d]{3,5}[A-Za-z.\d]{0,4}\.{0,4}[\d.]{1,5}[A-Z]$")


def test_shipped_table_cites_every_row():
    rows = D.read_shipped()
    assert 100 <= len(rows) <= 160
    header = [line for line in D.SHIPPED.read_text().splitlines() if line.startswith("#")]
    text = "\n".join(header)
    for bib in ("2021MNRAS.501.3621A", "2012AstBu..67..115K", "2011PASP..123.1347K"):
        assert bib in text
        assert any(r.compiled_in == bib for r in rows)
    keys = {}
    for r in rows:
        assert r.dist > 0 and r.method and r.ref and r.compiled_in
        assert r.method in {"TRGB", "Cepheid", "SBF", "group", "TF/group", "NAM", "PNLF", "Mira", "maser",
                            "SN II", "SN", "other", "compilation", "brightest stars", "Cepheid/SBF"}
        for part in r.ref.split("+"):
            assert BIBCODE.match(part) or part == "PHANGSPNLF", (r.name, part)
        for n in (r.name, *r.aliases):  # one row per galaxy, whatever name it goes by
            k = G.name_key(n)
            assert keys.setdefault(k, r.name) == r.name, (n, keys[k], r.name)


def test_demo_galaxies_are_covered():
    from sfng.demo import COMPANIONS, GALAXIES

    by = D.shipped_index(D.read_shipped())
    for g in (*GALAXIES, *COMPANIONS):
        hit = next((by[G.name_key(n)] for n in (g.ned_name, *g.aliases) if G.name_key(n) in by), None)
        assert hit is not None, g.ned_name
        # the demo's own (hand-set) distances are the older THINGS/HERACLES values: both are near
        assert 0.5 < g.dist_mpc / hit.dist < 2.0, (g.ned_name, g.dist_mpc, hit.dist)


def test_hubble_flow_states_h0():
    c = D.hubble_flow(0.002192, 70)
    assert c.origin == c.method == "hubble-flow"
    assert c.dist == pytest.approx(299792.458 * 0.002192 / 70, abs=1e-3)
    assert "H0 = 70 km/s/Mpc" in c.src and "z = 0.002192" in c.src
    assert D.hubble_flow(-0.0001) is None and D.hubble_flow(float("nan")) is None


# -- filling offline ---------------------------------------------------------------------------

def test_fill_offline_shipped_hubble_and_hand_set(store, tmp_path):
    seed_cache(store, tmp_path)
    G.set_galaxy(store, "NGC 6946", dist=5.9, dist_src="Walter+2008 (THINGS)")
    rep = D.fill_galaxies(store, ["NGC 628", "NGC 6946", "UGC 1234", "KK 999", "Nowhere 1"])
    by = {g.name: g for g in rep.galaxies}
    m74 = by["MESSIER 074"]
    assert (m74.action, m74.row, m74.dist, m74.dist_method, m74.dist_origin) == \
        ("filled", "added", 9.84, "TRGB", "table")
    assert "2009AJ....138..332J" in m74.dist_src and "2021MNRAS.501.3621A" in m74.dist_src
    assert (m74.ra, m74.dec, m74.redshift) == (24.173946, 15.783662, 0.002192)
    ugc = by["UGC 01234"]
    assert ugc.action == "filled" and ugc.dist_method == ugc.dist_origin == "hubble-flow"
    assert ugc.dist == pytest.approx(299792.458 * 0.0121 / 70, abs=1e-3)
    assert "H0 = 70 km/s/Mpc" in ugc.dist_src
    n6946 = by["NGC 6946"]
    assert n6946.action == "kept" and n6946.dist == 5.9 and n6946.dist_origin == "hand"
    assert n6946.dist_src == "Walter+2008 (THINGS)" and n6946.redshift == 0.00016  # position filled
    assert by["KK 999"].action == "unknown" and "no NED redshift" in by["KK 999"].message
    assert by["Nowhere 1"].action == "unknown" and "not in the NED name cache" in by["Nowhere 1"].message
    assert rep.written and "2 filled, 1 kept, 2 unknown" in rep.summary()

    t = G.read_galaxies(store)
    assert t.find("NGC 628").dist == 9.84 and t.find("NGC 628").dist_origin == "table"
    assert t.find("NGC 6946").hand_set and t.find("NGC 6946").dist == 5.9
    assert t.find("Nowhere 1") is None  # nothing known: no empty row

    # a second run changes nothing and writes nothing
    mtime = (store.root / G.TABLE).stat().st_mtime_ns
    again = D.fill_galaxies(store, ["NGC 628", "NGC 6946", "UGC 1234"])
    assert [g.action for g in again.galaxies] == ["unchanged", "kept", "unchanged"]
    assert not again.written and (store.root / G.TABLE).stat().st_mtime_ns == mtime
    # another H0 renews the Hubble-flow distance only
    h73 = {g.name: g for g in D.fill_galaxies(store, ["NGC 628", "UGC 1234"], h0=73).galaxies}
    assert h73["UGC 01234"].action == "replaced" and "H0 = 73 km/s/Mpc" in h73["UGC 01234"].dist_src
    assert h73["MESSIER 074"].action == "unchanged"
    with pytest.raises(G.SfngError, match="h0"):
        D.fill_galaxies(store, ["NGC 628"], h0=0)


def test_hand_set_after_fill_always_wins(store, tmp_path, cli):
    seed_cache(store, tmp_path)
    D.fill_galaxies(store, ["NGC 628"])
    r = cli("galaxies", "set", "M74", "--dist", "7.3", "--dist-src", "Karachentsev+2004",
            "--store", store.root)
    assert r.exit_code == 0, r.output
    g = G.read_galaxies(store).find("NGC 628")
    # the fill's source and method went with the distance they belonged to
    assert (g.dist, g.dist_src, g.dist_method, g.dist_origin) == (7.3, "Karachentsev+2004", "", "hand")
    rep = D.fill_galaxies(store, ["NGC 628"], online=False)
    assert rep.galaxies[0].action == "kept" and G.read_galaxies(store).find("M74").dist == 7.3
    # naming the source of a filled distance adopts it as hand-set
    D.fill_galaxies(store, ["UGC 1234"])
    G.set_galaxy(store, "UGC 01234", dist_src="my own estimate")
    assert G.read_galaxies(store).find("UGC 1234").hand_set


def test_table_of_an_older_sfng_counts_as_hand_set(store, tmp_path):
    from astropy.table import Table

    seed_cache(store, tmp_path)
    path = store.root / G.TABLE
    path.parent.mkdir(parents=True, exist_ok=True)
    Table({"name": ["MESSIER 074"], "aliases": ["NGC 628"], "ra": [24.17], "dec": [15.78],
           "dist": [7.3], "dist_src": ["TRGB"]}).write(path, format="ascii.ecsv")
    rep = D.fill_galaxies(store, ["NGC 628"])
    assert rep.galaxies[0].action == "kept"
    back = Table.read(path, format="ascii.ecsv")
    assert list(back.colnames) == list(G.COLUMNS) and back["dist"][0] == 7.3
    assert back["dist_origin"][0] == "hand" and back["redshift"][0] == 0.002192


def test_store_galaxies_come_from_the_manifests(co_store):
    from sfng import manifest as mf

    names = D.store_galaxies(co_store)
    assert names == ["MESSIER 074", "UGC 01234"]
    folder = co_store.root / "data" / "COSURVEY"
    (folder / "MESSIER_074.pair.fits").write_bytes(b"x")
    mf.append(folder, [mf.Entry("MESSIER_074.pair.fits", "0" * 64, 1, galaxy="MESSIER 074",
                                companions=("NGC 0629",))])
    assert D.store_galaxies(co_store) == ["MESSIER 074", "UGC 01234", "NGC 0629"]


def test_use_case_1_with_no_hand_typed_distance(co_store, cli):
    r = cli("index", "build", "--store", co_store.root)
    assert r.exit_code == 0, r.output
    assert "2 of 2 galaxies have no distance" in r.output and "sfng galaxies fill" in r.output
    r = cli("find", "--line", "CO10", "--dist<15", "--format", "json", "--store", co_store.root)
    assert json.loads(r.stdout) == []  # no distances: use case 1 finds nothing

    r = cli("index", "build", "--fill-galaxies", "--store", co_store.root)
    assert r.exit_code == 0, r.output
    assert "filled" in r.output and "2 filled" in r.output
    r = cli("find", "--line", "CO10", "--dist<15", "--format", "json", "--store", co_store.root)
    got = json.loads(r.stdout)
    assert [row["galaxy"] for row in got] == ["MESSIER 074"]
    assert got[0]["path"].startswith("data/COSURVEY/MESSIER_074.")
    # the far galaxy is in the index with its Hubble-flow distance, and its source
    from sfng.index.io import read_index

    _, gals, _ = read_index(co_store.index_path, columns=["path"])
    row = {str(n): (float(d), str(s)) for n, d, s in zip(gals["name"], gals["dist"], gals["dist_src"])}
    # (the index keeps 64 characters of dist_src: method, H0 and bibcodes come first)
    assert row["UGC 01234"][0] > 15 and row["UGC 01234"][1].startswith("hubble-flow, H0 = 70 km/s/Mpc")
    assert row["MESSIER 074"][1].startswith("TRGB 2009AJ....138..332J via 2021MNRAS.501.3621A")


def test_cli_fill_dry_run_json_and_messages(co_store, cli):
    r = cli("galaxies", "fill", "--dry-run", "--store", co_store.root)
    assert r.exit_code == 0, r.output
    assert "MESSIER 074" in r.output and "filled" in r.output and "dry run: nothing written" in r.output
    assert "H0 = 70 km/s/Mpc" in r.output
    assert not (co_store.root / G.TABLE).exists()
    r = cli("galaxies", "fill", "--format", "json", "--h0", "67.4", "--store", co_store.root)
    got = json.loads(r.stdout)
    assert got["written"] and got["h0"] == 67.4 and got["counts"]["filled"] == 2
    ugc = next(g for g in got["galaxies"] if g["name"] == "UGC 01234")
    assert ugc["dist_method"] == "hubble-flow" and "H0 = 67.4 km/s/Mpc" in ugc["dist_src"]
    r = cli("galaxies", "list", "--format", "csv", "--store", co_store.root)
    assert r.output.splitlines()[0] == ",".join(G.COLUMNS)
    r = cli("galaxies", "fill", "NGC 628", "--h0", "-3", "--store", co_store.root)
    assert r.exit_code == 1 and "h0" in r.output and "Traceback" not in r.output


# -- the VizieR path (recorded answers) --------------------------------------------------------

def serve_vizier(monkeypatch, answers):
    """Serve recorded VOTables to astroquery: ``answers[source]`` is a list of ``(ra, file)``;
    the file whose ra is nearest the request's centre answers (empty.xml when none is within a
    degree).  Returns the list of requests (dicts of the POSTed parameters)."""
    import requests
    from astroquery.utils.mocks import MockResponse

    asked = []

    def request(self, method, url, data=None, timeout=10, **kwargs):
        if isinstance(data, dict):
            params = {k: str(v) for k, v in data.items()}
        else:
            params = dict(line.split("=", 1) for line in str(data).split("\n") if "=" in line)
        asked.append(params)
        ra = float(re.match(r"\s*([\d.]+)", params.get("-c", "nan")).group(1))
        best = min(answers.get(params["-source"], []), key=lambda a: abs(a[0] - ra), default=None)
        name = best[1] if best is not None and abs(best[0] - ra) < 1 else "empty.xml"
        return MockResponse((VIZIER_DATA / name).read_bytes(), url=url)

    monkeypatch.setattr(requests.Session, "request", request)
    return asked


def test_fill_online_from_ungc_and_cosmicflows(store, tmp_path, monkeypatch):
    seed_cache(store, tmp_path)
    asked = serve_vizier(monkeypatch, {"J/AJ/145/101/catalog": [(183.0371, "ungc_ngc4163.xml")],
                                       "J/AJ/152/50/table3": [(0.8121, "cf3_ngc7814.xml")]})
    rep = D.fill_galaxies(store, ["NGC 4163", "NGC 7814", "NGC 628"], online=True)
    by = {g.name: g for g in rep.galaxies}
    n4163 = by["NGC 4163"]
    assert (n4163.action, n4163.dist, n4163.dist_method, n4163.dist_origin) == ("filled", 2.99, "TRGB", "ungc")
    assert "2013AJ....145..101K" in n4163.dist_src and "J/AJ/145/101" in n4163.dist_src
    n7814 = by["NGC 7814"]
    assert (n7814.dist, n7814.dist_origin) == (14.45, "cf3")
    assert "2016AJ....152...50T" in n7814.dist_src and "PGC 218" in n7814.dist_src
    assert "ungc: no entry" in n7814.message
    assert by["MESSIER 074"].dist_origin == "table"  # the shipped table ranks before the catalogues
    sources = {(a["-source"], a["-c"].split("+")[0][:6]) for a in asked}
    assert ("J/AJ/145/101/catalog", "183.03") in sources and ("J/AJ/152/50/table3", "0.8121") in sources
    assert all(a.get("-c.rs") == "60.0" for a in asked)

    # offline later: the catalogue distances are kept, not downgraded to the Hubble flow
    monkeypatch.undo()
    again = {g.name: g for g in D.fill_galaxies(store, ["NGC 4163", "NGC 7814"]).galaxies}
    assert again["NGC 4163"].action == "unchanged" and again["NGC 4163"].dist == 2.99
    assert again["NGC 7814"].action == "unchanged" and again["NGC 7814"].dist_origin == "cf3"


def test_vizier_unreachable_is_a_message_not_a_traceback(store, tmp_path, monkeypatch, cli):
    import requests

    seed_cache(store, tmp_path)

    def down(self, *a, **k):
        raise requests.exceptions.ConnectionError("no route to host")

    monkeypatch.setattr(requests.Session, "request", down)
    r = cli("galaxies", "fill", "NGC 7814", "--online", "--store", store.root)
    assert r.exit_code == 0, r.output
    assert "hubble-flow" in r.output and "VizieR failed" in r.output and "Traceback" not in r.output
    assert G.read_galaxies(store).find("NGC 7814").dist_origin == "hubble-flow"


def test_catalogue_row_choice():
    from astropy.table import Table

    t = Table({"_r": [0.2, 0.3], "Name": ["NGC5194", "NGC5195"], "Dist": [8.4, 7.7]})
    t["_r"].unit = "arcmin"
    row, _ = D._choose(t, {G.name_key("NGC 5195")}, 60.0)
    assert row["Name"] == "NGC5195"
    row, why = D._choose(t, {G.name_key("M51")}, 60.0)
    assert row is None and "does not guess" in why
    row, _ = D._choose(t[:1], {G.name_key("anything")}, 60.0)
    assert row["Name"] == "NGC5194"
    far = Table({"_r": [2.0], "Name": ["X"]})
    far["_r"].unit = "arcmin"
    assert D._choose(far, set(), 60.0)[0] is None


def test_concurrent_set_and_fill_lose_nothing(store, tmp_path):
    seed_cache(store, tmp_path)
    errors = []

    def setter(i0):
        try:
            for i in range(i0, i0 + 12):
                G.set_galaxy(store, f"TEST {i}", dist=float(i + 1), dist_src="hand")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def filler():
        try:
            for _ in range(4):
                D.fill_galaxies(store, ["NGC 628", "UGC 1234"])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=setter, args=(0,)), threading.Thread(target=setter, args=(100,)),
               threading.Thread(target=filler)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    t = G.read_galaxies(store)
    assert len(t) == 26 and t.find("NGC 628").dist == 9.84
    assert all(t.find(f"TEST {i}").dist == i + 1 for i in (*range(12), *range(100, 112)))
    assert math.isfinite(t.find("UGC 1234").dist)
