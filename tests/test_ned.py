"""NED resolver: recorded responses through a fake transport, cache, overrides, offline, retries.

No test here touches the network except ``test_live_ned`` (marker ``live``, opt in with -m live).
"""

import json
import math
import re
import threading
from pathlib import Path

import pytest

from sfng import ned
from sfng.demo.galaxies import ned_cache_path
from sfng.errors import SfngError
from sfng.naming import normalise
from sfng.ned import (CACHE_COLUMNS, Ambiguous, NameRecord, NotFound, Resolver, Unavailable,
                      read_table)

DATA = Path(__file__).parent / "data" / "ned"
OBJECT_XML = (DATA / "query_object.xml").read_text(encoding="utf-8")
ERROR_XML = (DATA / "error.xml").read_text(encoding="utf-8")
NEAR_POSITION_XML = (DATA / "query_near_position.xml").read_bytes()


def object_response(name, ra, dec, ned_type="G", redshift=None, *, modern=True) -> bytes:
    """A NED objsearch answer for one object: the recorded layout with the row changed.

    ``modern`` renames the coordinate columns to today's ``RA``/``DEC``; otherwise they keep the
    recorded ``RA(deg)``/``DEC(deg)``.
    """
    xml = OBJECT_XML.replace("Main Information Table for MESSIER 001",
                             f"Main Information Table for {name}")
    if modern:
        xml = xml.replace('name="RA(deg)"', 'name="RA"').replace('name="DEC(deg)"', 'name="DEC"')
    z = "" if redshift is None else f"{redshift}"
    v = "" if redshift is None else f"{redshift * 299792.458:.1f}"
    row = (f"<TR>\n<TD>1</TD>\n<TD>{name}</TD>\n<TD> {ra} </TD>\n<TD> {dec} </TD>\n"
           f"<TD>{ned_type}</TD>\n<TD>{v}</TD>\n<TD>{z}</TD>\n<TD></TD>\n<TD><![CDATA[     ]]></TD>\n"
           "<TD></TD>\n<TD>75</TD>\n<TD>0</TD>\n<TD>44</TD>\n<TD>4</TD>\n<TD>0</TD>\n<TD>2</TD>\n"
           "<TD>0</TD>\n</TR>")
    xml, n = re.subn(r"<TR>.*?</TR>", lambda m: row, xml, flags=re.S)
    assert n == 1
    return xml.encode()


def error_response(message) -> bytes:
    """NED's failure form: no TABLE, an ``Error`` PARAM (recorded layout, message changed)."""
    return ERROR_XML.replace('value=" No note found."', f'value="{message}"').encode()


NO_OBJECT = error_response(" No object found.")
EGRET = error_response(" Name checking server EGRET error.")
HTML = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"

# NED's answers for the galaxies used below (names as in tests/data/ned/names.csv).
KNOWN = {
    "m1": OBJECT_XML.encode(),  # the real recorded answer, old RA(deg)/DEC(deg) columns
    "NGC 628": object_response("MESSIER 074", 24.17395, 15.78364, "G", 0.002192),
    "NGC 4826": object_response("MESSIER 064", 194.18208, 21.68306, "G", 0.001361),
    "NGC 5194": object_response("MESSIER 051a", 202.46957, 47.19526, "G", 0.001544),
    "MESSIER 074": object_response("MESSIER 074", 24.17395, 15.78364, "G", 0.002192),
    "NGC 4708": object_response("SN 2005bo HOST", 192.3583, -11.0897, "G", 0.01353),
    "ESO 269-066": object_response("ESO 269- G?066", 196.9, -44.9, "G", None, modern=False),
}


class FakeNed:
    """A transport serving recorded answers: ``script`` maps an objname to a list of answers
    (bytes, or an exception to raise) consumed in order; the last one repeats."""

    def __init__(self, script=None):
        # NED's own name interpreter accepts any spelling: key by the normalised name
        self.script = {normalise(k) if k != "position" else k: list(v) if isinstance(v, list) else [v]
                       for k, v in {**KNOWN, **(script or {})}.items()}
        self.calls = []

    def __call__(self, url, params, timeout):
        assert url.startswith("https://ned.ipac.caltech.edu/")
        assert params["of"] == "xml_main"
        self.calls.append(dict(params))
        if params.get("search_type") == "Near Position Search":
            answers = self.script.get("position", [NEAR_POSITION_XML])
        else:
            answers = self.script.get(normalise(params["objname"]), [NO_OBJECT])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def fake():
    return FakeNed()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def resolver(store, fake, sleeps):
    """An online resolver on a fresh store, talking to the fake NED."""
    return Resolver(store=store, transport=fake, sleep=sleeps.append, env={})


def cache_rows(store):
    return read_table(store.table_path("ned.cache"), CACHE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Parsing NED's answers
# ---------------------------------------------------------------------------------------------

def test_recorded_answer_old_column_names(resolver, store):
    rec = resolver.resolve("m1")
    assert rec.ned_name == "MESSIER 001"
    assert rec.ra == pytest.approx(83.63321) and rec.dec == pytest.approx(22.01446)
    assert rec.ned_type == "SNR"
    assert math.isnan(rec.redshift)  # empty in NED's answer: unknown, not 0
    assert rec.source == "ned"
    rows = cache_rows(store)
    assert [(r["input"], r["ned_name"], r["ned_type"], r["redshift"], r["source"]) for r in rows] \
        == [("m1", "MESSIER 001", "SNR", "", "ned")]


def test_current_column_names(resolver):
    rec = resolver.resolve("NGC 628")
    assert (rec.ned_name, rec.ra, rec.dec, rec.ned_type, rec.redshift) == \
        ("MESSIER 074", 24.17395, 15.78364, "G", 0.002192)


def test_unsafe_ned_name_is_kept_exactly(resolver):
    from sfng.naming import compose, parse

    rec = resolver.resolve("ESO 269-066")
    assert rec.ned_name == "ESO 269- G?066"
    assert parse(compose(rec.ned_name, "x.fits")) == ("ESO 269- G?066", "x.fits")


def test_cache_file_is_plain_csv(resolver, store):
    resolver.resolve("NGC 628")
    text = store.table_path("ned.cache").read_text()
    lines = text.splitlines()
    assert lines[0] == "input,ned_name,ra,dec,ned_type,redshift,asked,source"
    fields = lines[1].split(",")
    assert fields[:6] == ["NGC 628", "MESSIER 074", "24.17395", "15.78364", "G", "0.002192"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", fields[6])
    assert fields[7] == "ned"
    assert store.table_path("ned.cache").relative_to(store.root).as_posix() == "tables/ned_names.csv"


# ---------------------------------------------------------------------------------------------
# Normalisation and the cache
# ---------------------------------------------------------------------------------------------

def test_spellings_share_one_entry(resolver, fake):
    first = resolver.resolve("NGC 628")
    assert first.source == "ned"
    for spelling in ("NGC0628", "ngc 628", "NGC_628", "M74", "M 74", "Messier 74", "MESSIER 074"):
        rec = resolver.resolve(spelling)
        assert (rec.ned_name, rec.source, rec.input) == ("MESSIER 074", "cache", spelling)
        assert (rec.ra, rec.dec) == (first.ra, first.dec)
    assert len(fake.calls) == 1


def test_cache_persists_and_is_shared_between_resolvers(resolver, store, fake):
    resolver.resolve("NGC 4826")
    offline = Resolver(store=store, offline=True)
    rec = offline.resolve("ngc4826")
    assert (rec.ned_name, rec.source) == ("MESSIER 064", "cache")
    assert offline.queries == 0


def test_refresh_asks_again_and_replaces(store):
    fake = FakeNed({"NGC 4708": [KNOWN["NGC 4708"],
                                 object_response("NGC 4708", 192.3583, -11.0897, "G", 0.01353)]})
    r = Resolver(store=store, transport=fake, env={})
    assert r.resolve("NGC 4708").ned_name == "SN 2005bo HOST"
    assert r.resolve("NGC 4708").source == "cache"
    rec = r.resolve("NGC 4708", refresh=True)
    assert (rec.ned_name, rec.source) == ("NGC 4708", "ned")
    assert [x["ned_name"] for x in cache_rows(store)] == ["NGC 4708"]


def test_concurrent_writers_keep_each_others_rows(store, fake):
    a = Resolver(store=store, transport=fake, env={})
    b = Resolver(store=store, transport=fake, env={})
    a.resolve("NGC 628")
    b.resolve("NGC 4826")   # b loaded the file before a wrote? it re-reads under the lock
    a.resolve("NGC 5194")
    assert sorted(r["input"] for r in cache_rows(store)) == ["NGC 4826", "NGC 5194", "NGC 628"]


def test_readers_never_see_a_partial_cache(store):
    """A reader polling the file while another resolver rewrites it always sees a whole table."""
    path = store.table_path("ned.cache")
    names = [f"NGC {n}" for n in range(1, 50)]
    script = {n: object_response(n.replace(" ", " 0"), 10.0, 10.0, "G", 0.001) for n in names}
    writer = Resolver(store=store, transport=FakeNed(script), env={})
    done = threading.Event()
    seen = []

    def read_loop():
        while not done.is_set():
            rows = read_table(path, CACHE_COLUMNS)
            assert all(r["ned_type"] == "G" and r["asked"] for r in rows)
            seen.append(len(rows))

    t = threading.Thread(target=read_loop)
    t.start()
    try:
        for n in names:
            writer.resolve(n)
    finally:
        done.set()
        t.join()
    assert seen == sorted(seen)  # rows only ever added, never seen half-written
    assert len(read_table(path, CACHE_COLUMNS)) == len(names)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".sfng-tmp-")]


def _resolve_in_child(cache, names):
    r = Resolver(cache_path=cache, transport=FakeNed(
        {n: object_response(n, 1.0, 2.0, "G", 0.01) for n in names}), env={})
    for n in names:
        r.resolve(n)


def test_concurrent_processes_lose_no_answer(tmp_path):
    import multiprocessing

    cache = tmp_path / "tables" / "ned_names.csv"
    ctx = multiprocessing.get_context("fork")
    groups = [[f"UGC {i}{k:02d}" for k in range(15)] for i in (1, 2, 3)]
    procs = [ctx.Process(target=_resolve_in_child, args=(cache, g)) for g in groups]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = read_table(cache, CACHE_COLUMNS)
    assert sorted(r["input"] for r in rows) == sorted(n for g in groups for n in g)


def test_batch_context_writes_once(resolver, store, monkeypatch):
    writes = []
    real = ned.update_table
    monkeypatch.setattr(ned, "update_table", lambda *a, **k: writes.append(1) or real(*a, **k))
    with pytest.raises(KeyboardInterrupt):
        with resolver.batch():
            resolver.resolve("NGC 628")
            resolver.resolve("NGC 4826")
            assert not store.table_path("ned.cache").exists()
            raise KeyboardInterrupt
    assert len(writes) == 1 and len(cache_rows(store)) == 2  # answers kept on interruption


def test_unwritable_cache_keeps_answers_for_the_run(resolver, fake, monkeypatch):
    def fail(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ned, "update_table", fail)
    assert resolver.resolve("NGC 628").source == "ned"
    assert resolver.resolve("M74").source == "cache" and len(fake.calls) == 1
    assert "cannot write the NED cache" in resolver.warnings[0]


def test_hand_edited_cache_with_bom_is_read(store, fake):
    path = store.table_path("ned.cache")
    path.write_text("\ufeff" + ",".join(CACHE_COLUMNS) + "\nNGC 3184,NGC 3184,154.57,41.42,G,,,manual\n",
                    encoding="utf-8")
    rec = Resolver(store=store, offline=True).resolve("ngc3184")
    assert (rec.ned_name, rec.ra, rec.source) == ("NGC 3184", 154.57, "cache")


def test_corrupt_cache_is_a_clear_error(store, fake):
    path = store.table_path("ned.cache")
    path.write_text("name,value\nNGC 628,x\n")
    with pytest.raises(SfngError, match=r"ned_names.csv: not a sfng names table: missing column"):
        Resolver(store=store, transport=fake, env={}).resolve("NGC 628")


def test_without_store_the_cache_is_in_memory(fake):
    r = Resolver(transport=fake, env={})
    assert r.resolve("NGC 628").source == "ned"
    assert r.resolve("M74").source == "cache"
    assert r.cache_path is None and len(fake.calls) == 1


# ---------------------------------------------------------------------------------------------
# Offline
# ---------------------------------------------------------------------------------------------

def _never(url, params, timeout):
    raise AssertionError("offline mode touched the network")


@pytest.mark.parametrize("how", ["argument", "environment", "config"])
def test_offline_never_touches_the_network(store, how):
    kwargs = {"transport": _never, "env": {}}
    if how == "argument":
        kwargs["offline"] = True
    elif how == "environment":
        kwargs["env"] = {"SFNG_OFFLINE": "1"}
    else:
        store.config["ned"]["offline"] = True
    r = Resolver(store=store, **kwargs)
    assert r.offline
    with pytest.raises(Unavailable) as err:
        r.resolve("NGC 628")
    msg = str(err.value)
    assert "'NGC 628' is not in the NED cache" in msg and "offline" in msg
    assert "ned_names.csv" in msg
    with pytest.raises(Unavailable, match="offline"):
        r.by_position(24.17, 15.78, 30)
    assert not store.table_path("ned.cache").exists()


def test_offline_answers_from_cache_and_overrides(store, resolver):
    resolver.resolve("NGC 628")
    r = Resolver(store=store, offline=True, transport=_never)
    assert r.resolve("M74").ned_name == "MESSIER 074"
    r.set_override("My Dwarf", "MyDwarf 1", ra=150.5, dec=2.25, ned_type="G")
    rec = r.resolve("my  dwarf")
    assert (rec.ned_name, rec.ra, rec.dec, rec.ned_type, rec.source) == \
        ("MyDwarf 1", 150.5, 2.25, "G", "override")


def test_false_does_not_override_the_environment(store):
    r = Resolver(store=store, offline=False, env={"SFNG_OFFLINE": "true"}, transport=_never)
    assert r.offline


# ---------------------------------------------------------------------------------------------
# Failures: retry what is transient, never cache a failure
# ---------------------------------------------------------------------------------------------

def test_no_object_found_is_not_retried_nor_cached(resolver, fake, sleeps, store):
    with pytest.raises(NotFound, match="No object found"):
        resolver.resolve("NGC 99999")
    assert len(fake.calls) == 1 and sleeps == []
    assert not store.table_path("ned.cache").exists()
    with pytest.raises(NotFound):
        resolver.resolve("NGC 99999")
    assert len(fake.calls) == 2  # the failure was not remembered


def test_error_param_found_wherever_it_is(store, sleeps):
    """astroquery only checks the second PARAM; an answer with the Error PARAM first is still
    read as NED's answer."""
    only_error = re.sub(r'<PARAM name="queryDateTime".*?/>', "", NO_OBJECT.decode(), flags=re.S)
    assert only_error.count("<PARAM") == 1
    fake = FakeNed({"NGC 99999": [only_error.encode()]})
    r = Resolver(store=store, transport=fake, sleep=sleeps.append, env={})
    with pytest.raises(NotFound, match="No object found"):
        r.resolve("NGC 99999")
    assert len(fake.calls) == 1 and sleeps == []


@pytest.mark.parametrize("transient", [
    EGRET, HTML, TimeoutError("read timed out"), ConnectionError("connection refused"),
], ids=["egret", "html", "timeout", "connection"])
def test_transient_failures_are_retried_with_backoff(store, sleeps, transient):
    import requests

    if isinstance(transient, TimeoutError):
        transient = requests.exceptions.ReadTimeout("read timed out (60 s)")
    fake = FakeNed({"NGC 628": [transient, transient, KNOWN["NGC 628"]]})
    r = Resolver(store=store, transport=fake, sleep=sleeps.append, env={}, retries=3)
    rec = r.resolve("NGC 628")
    assert rec.ned_name == "MESSIER 074"
    assert len(fake.calls) == 3
    assert sleeps == [1.0, 2.0]


def test_persistent_failure_is_unavailable_and_not_cached(store, sleeps):
    fake = FakeNed({"NGC 628": [EGRET]})
    r = Resolver(store=store, transport=fake, sleep=sleeps.append, env={}, retries=3)
    with pytest.raises(Unavailable) as err:
        r.resolve("NGC 628")
    assert "after 4 attempt(s)" in str(err.value) and "EGRET" in str(err.value)
    assert "nothing was cached" in str(err.value)
    assert len(fake.calls) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert not store.table_path("ned.cache").exists()


def test_backoff_is_capped(store, sleeps):
    fake = FakeNed({"x": [ConnectionError("down")]})
    r = Resolver(store=store, transport=fake, sleep=sleeps.append, env={}, retries=7, backoff=4.0)
    with pytest.raises(Unavailable):
        r.resolve("x")
    assert sleeps == [4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_retries_and_timeout_come_from_the_store_config(store, sleeps):
    store.config["ned"].update(retries=1, timeout=7)
    seen = []

    def transport(url, params, timeout):
        seen.append(timeout)
        raise ConnectionError("down")

    r = Resolver(store=store, transport=transport, sleep=sleeps.append, env={})
    with pytest.raises(Unavailable, match="after 2 attempt"):
        r.resolve("NGC 628")
    assert seen == [7.0, 7.0]


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------

def test_override_wins_over_ned_and_cache(resolver, store, fake):
    resolver.resolve("NGC 628")
    old, new = resolver.set_override("NGC 628", "NGC 0628", note="prefer the NGC name")
    assert old is None and new["ned_name"] == "NGC 0628"
    calls = len(fake.calls)
    for spelling in ("NGC 628", "ngc0628"):
        rec = resolver.resolve(spelling)
        assert (rec.ned_name, rec.source) == ("NGC 0628", "override")
    # its position: the cache knows "NGC 0628" (same key as the cached "NGC 628"); NED not asked
    assert (rec.ra, rec.dec) == (24.17395, 15.78364) and len(fake.calls) == calls
    # an override to a name nobody knows: NED asked once, position left unknown, warned
    resolver.set_override("NGC 4826", "Black Eye")
    rec = resolver.resolve("NGC 4826")
    assert (rec.ned_name, rec.source) == ("Black Eye", "override")
    assert math.isnan(rec.ra) and math.isnan(rec.dec) and len(fake.calls) == calls + 1
    assert any("no position from NED" in w for w in resolver.warnings)
    text = store.table_path("ned.overrides").read_text()
    assert text.splitlines()[0] == "input,ned_name,ra,dec,ned_type,note,added"
    assert "NGC 628,NGC 0628,,,,prefer the NGC name," in text


def test_override_by_ned_name_catches_every_alias(resolver):
    resolver.set_override("SN 2005bo HOST", "NGC 4708", note="NED renamed it")
    rec = resolver.resolve("NGC 4708")
    assert (rec.ned_name, rec.source, rec.input) == ("NGC 4708", "override", "NGC 4708")
    assert (rec.ra, rec.dec) == (192.3583, -11.0897)  # position from NED's (cached) answer


def test_override_remove_and_validation(resolver):
    resolver.set_override("NGC 628", "X")
    assert resolver.remove_override("ngc 0628")["ned_name"] == "X"
    assert resolver.resolve("NGC 628").ned_name == "MESSIER 074"
    with pytest.raises(SfngError, match="no override"):
        resolver.remove_override("NGC 628")
    with pytest.raises(SfngError, match="both"):
        resolver.set_override("A", "B", ra=1.0)
    with pytest.raises(SfngError, match="out of range"):
        resolver.set_override("A", "B", ra=400.0, dec=0.0)
    old, new = resolver.set_override("A", "B", dry_run=True)
    assert "a" not in {k.lower() for k in resolver.overrides()}


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

def test_resolve_many_reports_progress_and_collects_failures(resolver, store, monkeypatch):
    writes = []
    real = ned.update_table
    monkeypatch.setattr(ned, "update_table", lambda *a, **k: writes.append(1) or real(*a, **k))
    seen = []
    out = resolver.resolve_many(["NGC 628", "NGC 4826", "nosuch", "M74", "NGC 628"],
                                progress=lambda i, n, name, res: seen.append((i, n, name)))
    assert seen == [(1, 4, "NGC 628"), (2, 4, "NGC 4826"), (3, 4, "nosuch"), (4, 4, "M74")]
    assert out["NGC 628"].ned_name == "MESSIER 074" and out["M74"].source == "cache"
    assert isinstance(out["nosuch"], NotFound)
    assert len(writes) == 1  # the cache is written once per batch
    assert len(cache_rows(store)) == 2


def test_resolve_many_stops_asking_a_dead_ned(store, sleeps):
    fake = FakeNed({k: [ConnectionError("no route to host")] for k in ("a", "b", "c")})
    r = Resolver(store=store, transport=fake, sleep=sleeps.append, env={}, retries=2)
    out = r.resolve_many(["a", "b", "c"])
    assert all(isinstance(v, Unavailable) for v in out.values())
    assert len(fake.calls) == 3  # a: 3 attempts; b and c not asked again
    assert "unreachable earlier in this run" in str(out["b"])


def test_resolve_many_can_raise(resolver):
    with pytest.raises(NotFound):
        resolver.resolve_many(["NGC 628", "nosuch"], on_error="raise")
    assert resolver.resolve("M74", ).source == "cache"  # the good answer was still written


# ---------------------------------------------------------------------------------------------
# By position
# ---------------------------------------------------------------------------------------------

CENTRE = (83.822083, -5.391111)  # the recorded Near Position Search (two galaxies, 84" and 103")


def test_by_position_nearest_galaxy(resolver, fake, store):
    rec = resolver.by_position(*CENTRE, radius_arcsec=90)
    assert rec.ned_name == "2MASXi J0535210-052225" and rec.ned_type == "G"
    assert rec.source == "ned-position"
    assert rec.ra == pytest.approx(83.83787)
    params = fake.calls[-1]
    assert params["search_type"] == "Near Position Search"
    assert params["radius"] == pytest.approx(1.5)  # arcmin
    assert resolver.lookup("2MASXi J0535210-052225")["source"] == "ned-position"


def test_by_position_ambiguous_and_empty(resolver, store):
    with pytest.raises(Ambiguous, match="2MASXi J0535210-052225 at 84.3 arcsec"):
        resolver.by_position(*CENTRE, radius_arcsec=120)
    assert resolver.by_position(*CENTRE, radius_arcsec=30) is None
    r = Resolver(store=store, transport=FakeNed({"position": [NO_OBJECT]}), env={})
    assert r.by_position(10.0, 10.0, 30) is None
    with pytest.raises(SfngError, match="invalid position"):
        r.by_position(400.0, 0.0, 30)


# ---------------------------------------------------------------------------------------------
# Through astroquery's own request method (the default transport)
# ---------------------------------------------------------------------------------------------

def test_default_transport_goes_through_astroquery_without_its_cache(store, monkeypatch):
    from astroquery.ipac.ned.core import NedClass

    seen = []

    class Resp:
        content = KNOWN["NGC 628"]

        def raise_for_status(self):
            pass

    def fake_request(self, method, url, params=None, timeout=None, cache=None, **kw):
        seen.append((method, url, params["objname"], cache))
        return Resp()

    monkeypatch.setattr(NedClass, "_request", fake_request)
    rec = Resolver(store=store, env={}).resolve("NGC 628")
    assert rec.ned_name == "MESSIER 074"
    assert seen == [("GET", "https://ned.ipac.caltech.edu/cgi-bin/objsearch", "NGC 628", False)]


# ---------------------------------------------------------------------------------------------
# The demo's cache
# ---------------------------------------------------------------------------------------------

def test_demo_cache_matches_the_demo_truth(tmp_path):
    from sfng import demo

    rows = read_table(ned_cache_path(), CACHE_COLUMNS)
    assert rows and all(r["ned_type"] == "G" and r["source"] == "demo" for r in rows)
    r = Resolver(cache_path=tmp_path / "c.csv", offline=True, transport=_never)
    assert r.import_cache(ned_cache_path()) == len(rows)
    assert r.import_cache(ned_cache_path()) == 0
    for g in demo.GALAXIES + demo.COMPANIONS:
        for name in (g.ned_name, *g.aliases):
            rec = r.resolve(name)
            assert (rec.ned_name, rec.ra, rec.dec, rec.ned_type) == (g.ned_name, g.ra, g.dec, "G")
            assert rec.redshift == pytest.approx(g.vsys / 299792.458, abs=1e-6)
    # every file the demo surveys publish resolves offline from it
    from sfng.naming import object_from

    for survey in demo.surveys():
        for df in survey.files:
            cand, _ = object_from(df.header, df.name)
            assert r.resolve(cand).ned_name == demo.galaxy(df.galaxy).ned_name


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def online_cli(cli, monkeypatch, fake):
    monkeypatch.delenv("SFNG_OFFLINE", raising=False)
    monkeypatch.setattr(ned, "astroquery_transport", fake)
    return cli


def test_cli_resolve_list_override(online_cli, store, fake):
    cli = online_cli
    res = cli("names", "resolve", "--store", store.root, "NGC 628", "ngc4826", "M74")
    assert res.exit_code == 0, res.output
    assert "MESSIER 074" in res.output and "MESSIER_064" in res.output
    assert "[3/3] M74 -> MESSIER 074 (cache)" in res.stderr
    assert len(fake.calls) == 2

    res = cli("names", "resolve", "--store", store.root, "--format", "json", "nosuch", "NGC 628")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["resolved"][0]["ned_name"] == "MESSIER 074"
    assert doc["resolved"][0]["file_name_form"] == "MESSIER_074"
    assert doc["failed"] == [{"input": "nosuch", "error": "NotFound",
                              "message": doc["failed"][0]["message"]}]

    res = cli("names", "list", "--store", store.root, "--format", "json")
    assert sorted(r["input"] for r in json.loads(res.stdout)) == ["NGC 628", "ngc4826"]
    res = cli("names", "list", "--store", store.root, "messier 06*")
    assert "ngc4826" in res.output and "NGC 628" not in res.output

    res = cli("names", "override", "--store", store.root, "-n", "NGC 628", "NGC 0628")
    assert "would set override 'NGC 628' -> 'NGC 0628'" in res.output
    assert not store.table_path("ned.overrides").exists()
    res = cli("names", "override", "--store", store.root, "NGC 628", "NGC 0628", "--ra", "24.17",
              "--dec", "15.78", "--note", "house style")
    assert res.exit_code == 0 and "set override" in res.output
    res = cli("names", "list", "--store", store.root, "--overrides", "--format", "csv")
    assert res.output.splitlines()[1].startswith("NGC 628,NGC 0628,24.17,15.78,,house style,")
    res = cli("names", "resolve", "--store", store.root, "--offline", "ngc 628")
    assert "NGC 0628" in res.output and "override" in res.output
    res = cli("names", "override", "--store", store.root, "--remove", "NGC 628")
    assert "removed override" in res.output


def test_cli_near(online_cli, store):
    res = online_cli("names", "near", "--store", store.root, "--radius", "90", *map(str, CENTRE))
    assert res.exit_code == 0 and "2MASXi J0535210-052225" in res.output
    res = online_cli("names", "near", "--store", store.root, "--radius", "120", *map(str, CENTRE))
    assert res.exit_code == 1 and "several galaxies" in res.stderr
    res = online_cli("names", "near", "--store", store.root, "--radius", "10", *map(str, CENTRE))
    assert res.exit_code == 1 and "no NED galaxy within 10 arcsec" in res.stderr


def test_cli_offline_miss_is_clear(cli, store):
    res = cli("names", "resolve", "--store", store.root, "--offline", "NGC 3184")
    assert res.exit_code == 1
    assert "'NGC 3184' is not in the NED cache" in res.stderr
    assert "offline" in res.stderr


def test_cli_import_and_help(cli, store):
    res = cli("names", "import", "--store", store.root, "-n", str(ned_cache_path()))
    assert res.output.startswith("would add 23 of 23 answers")
    res = cli("names", "import", "--store", store.root, str(ned_cache_path()))
    assert "added 23 of 23 answers" in res.output
    res = cli("names", "import", "--store", store.root, "--format", "json", str(ned_cache_path()))
    assert json.loads(res.output)["added"] == 0
    res = cli("names", "resolve", "--store", store.root, "--offline", "M51", "NGC 5195")
    assert "MESSIER 051a" in res.output and "MESSIER 051b" in res.output
    for sub in ("resolve", "list", "override", "import", "near"):
        res = cli("names", sub, "--help")
        assert res.exit_code == 0 and "Example" in res.output


# ---------------------------------------------------------------------------------------------

@pytest.mark.live
def test_live_ned(tmp_path):
    """Against the real NED (opt in: pytest -m live)."""
    r = Resolver(cache_path=tmp_path / "c.csv", env={}, retries=2)
    rec = r.resolve("NGC 224")
    assert rec.ned_name == "MESSIER 031"
    assert rec.ra == pytest.approx(10.6847, abs=0.01)
    with pytest.raises(NotFound):
        r.resolve("NGC 99999x")
    assert isinstance(rec, NameRecord)
