"""Text outputs carry units and full precision: the `find` table's header names each column's unit,
RA/Dec to 1e-6 degree, every float as written (the shortest text that reads back to the same
number), `index show` dates a file's mtime in ISO 8601, `readme show` keeps 4.1667e-3."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from _demo_store import demo_tree
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_float_text_reads_back_to_the_same_double(v):
    from sfng.numbers import float_text

    back = float(float_text(v))
    assert back == v or (float(np.float32(v)) == v and np.float32(back) == np.float32(v))


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_float_text_of_a_float32_is_its_own_shortest_text(v):
    from sfng.numbers import float_text

    text = float_text(float(np.float32(v)))
    assert np.float32(float(text)) == np.float32(v)
    assert len(text.replace("-", "")) <= len(repr(float(np.float32(v))).replace("-", ""))


def test_float_text_examples():
    from sfng.numbers import float_text

    assert float_text(float(np.float32(5.8))) == "5.8"          # not 5.800000190734863
    assert float_text(6.0) == "6"
    assert float_text(4.1667e-3) == "0.0041667"                 # not 0.004167
    assert float_text(1.420405752e9) == "1420405752"
    assert float_text(1e-30) == "1e-30"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return demo_tree(tmp_path_factory).store_dir


def test_find_table_has_units_and_positions_to_a_microdegree(cli, store):
    from sfng.query import load_index
    from sfng.store import Store

    r = cli("--store", store, "find", "--survey", "THINGS", "--columns", "galaxy,ra,dec,res,restfrq,path")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    head = lines[0].split()
    assert head == ["galaxy", "ra", "(deg)", "dec", "(deg)", "res", "(arcsec)", "restfrq", "(Hz)", "path"]
    idx = load_index(store=Store.discover(store))
    rows = [ln for ln in lines[2:] if "data/THINGS/" in ln]
    assert rows and all("1420405752" in ln for ln in rows)
    # the same positions as the index holds, to 1e-6 degree
    from sfng.query import select
    from sfng.select import Selection

    res = select(idx, Selection.build(surveys=["THINGS"]))
    want = {x["path"]: (x["ra"], x["dec"]) for x in res.records(["path", "ra", "dec"])}
    for ln in rows:
        toks = ln.split()
        ra_t, dec_t = [t for t in toks if t.count(".") == 1 and len(t.split(".")[1]) == 6][:2]
        ra0, dec0 = want[toks[-1]]
        assert abs(float(ra_t) - ra0) <= 5e-7 and abs(float(dec_t) - dec0) <= 5e-7


def test_index_show_dates_the_mtime(cli, store):
    rel = "data/THINGS/" + next(p.name for p in (store / "data" / "THINGS").iterdir() if p.name.endswith(".FITS"))
    r = cli("--store", store, "index", "show", rel)
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("mtime"))
    when = dt.datetime.fromisoformat(line.split()[1].replace("Z", "+00:00"))
    assert math.isclose(when.timestamp(), (store / rel).stat().st_mtime, abs_tol=1e-3)
    assert "e+09" not in r.output


def test_readme_show_keeps_every_digit(cli, tmp_path, monkeypatch):
    cli("init", tmp_path / "s")
    (tmp_path / "s" / "data" / "THINGS").mkdir()
    monkeypatch.chdir(tmp_path / "s")
    assert cli("readme", "new", "THINGS", "--set", "BMAJ=4.1667e-3", "--set", "RESTFRQ=1420405751.786").exit_code == 0
    r = cli("readme", "show", "THINGS")
    assert r.exit_code == 0, r.output
    assert "0.0041667" in r.output and "1420405751.786" in r.output


def test_selection_build_refuses_unknown_keywords_with_a_suggestion():
    from sfng.errors import SfngError
    from sfng.select import Selection

    with pytest.raises(SfngError, match=r"'tracer' \(did you mean 'tracers'\?\)"):
        Selection.build(tracer=["HI"])         # once silently ignored: it selected everything
    with pytest.raises(SfngError, match=r"'galaxy' \(did you mean 'galaxies'\?\).*'survey'"):
        Selection.build(survey="THINGS", galaxy="M51")
    assert Selection.build(tracers=["HI"]).tracers == ("HI",)


def test_results_in_a_notebook_and_from_python(store):
    from sfng.query import load_index, select
    from sfng.select import Selection
    from sfng.store import Store

    idx = load_index(store=Store.discover(store))
    res = select(idx, Selection.build(surveys=["THINGS"]))
    html = res._repr_html_()
    assert html.startswith("<table>") and "<th>res (arcsec)</th>" in html and "<th>dist (Mpc)</th>" in html
    assert html.count("<tr>") == len(res) + 1 and f"{len(res)} file(s)" in html
    assert all(p.is_absolute() and p.is_file() for p in res.abspaths())
    with res.open(0) as hdul:
        assert hdul[0].header["NAXIS"] >= 2
    few = res._repr_html_(limit=2)
    assert few.count("<tr>") == 3 and f"{len(res) - 2} more rows" in few
    from sfng.query.values import html_cell

    assert html_cell("<b>") == "&lt;b&gt;" and html_cell(float("nan")) == "" and html_cell(12.3456789, "ra") == "12.345679"
