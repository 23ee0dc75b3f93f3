"""``sfng find/info/summary/plot`` on the demo store: the specification's three use cases,
checked against the demo's known contents (:mod:`sfng.demo`), in a store and from the index
file alone."""

import json
import shutil

import pytest
from _demo_store import demo_files_on, demo_tree

from sfng.demo import galaxy

UC1 = ["--line", "CO10", "--res", "<15", "--dist", "<15", "--depth", "<=1K"]
UC2 = ["--has", "CO10", "--has", "MIPS24", "--lacks", "HALPHA"]
#: Use case 1 per the demo's truth: BIMA SONG CO(1-0) cubes of galaxies within 15 Mpc, except
#: NGC 3521 (rms 0.5 Jy/beam: about 2.8 K in 1 km/s) and NGC 4254 (16.7 Mpc). NRO45's beam is
#: 15 arcsec, not better than 15. PAWS (0.4 K in 5 km/s = 0.89 K in 1 km/s) may pass.
UC1_BIMA = {galaxy(n).ned_name for n in ("NGC 628", "IC 342", "NGC 3627", "NGC 4826", "NGC 5194", "NGC 6946")}
UC2_GALAXIES = ["IC 0342", "MESSIER 064", "NGC 3521"]


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return demo_tree(tmp_path_factory)


@pytest.fixture(scope="session")
def index_copy(demo, tmp_path_factory):
    """SFNG-INDEX.fits alone, outside any store (a user who downloaded only the index)."""
    out = tmp_path_factory.mktemp("download") / "SFNG-INDEX.fits"
    shutil.copy(demo.store_dir / "SFNG-INDEX.fits", out)
    return out


@pytest.fixture(params=["store", "index"])
def where(request, demo, index_copy):
    """Query options: inside the store, or from the index file alone."""
    return ["--store", str(demo.store_dir)] if request.param == "store" else ["--index", str(index_copy)]


def run_json(cli, *args):
    r = cli("find", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_use_case_1(cli, where):
    rows = run_json(cli, *UC1, *where, "--columns", "galaxy,survey,tracer,res,depth_k,dist,path")
    got = {(r["survey"], r["galaxy"]) for r in rows}
    assert {g for s, g in got if s == "BIMASONG"} == UC1_BIMA
    assert got - {("BIMASONG", g) for g in UC1_BIMA} <= {("PAWS", "MESSIER 051a")}
    for r in rows:
        assert r["tracer"] == "CO(1-0)" and r["res"] < 15 and r["dist"] < 15 and r["depth_k"] <= 1.0


def test_use_case_1_glued_form_is_the_same(cli, where):
    plain = cli("find", *UC1, *where, "--format", "paths")
    glued = cli("find", "--line", "CO10", "--res<15", "--dist<15", "--depth<=1K", *where, "--format", "paths")
    assert plain.exit_code == glued.exit_code == 0
    assert plain.stdout == glued.stdout and plain.stdout


def test_use_case_2(cli, where):
    r = cli("find", *UC2, *where, "--format", "paths")
    assert r.exit_code == 0, r.output
    assert r.stdout.split("\n")[:-1] == UC2_GALAXIES
    rows = run_json(cli, *UC2, *where)
    assert [row["galaxy"] for row in rows] == UC2_GALAXIES
    assert all("CO(1-0)" in row["tracers"] and "MIPS24" in row["tracers"] and "HALPHA" not in row["tracers"]
               for row in rows)


def test_use_case_3(cli, where):
    expect = demo_files_on("IC 342")
    for name in ("IC 342", "IC0342", "ic342"):
        r = cli("find", "--galaxy", name, *where, "--format", "paths")
        assert r.exit_code == 0, r.output
        paths = r.stdout.split()
        assert sorted((p.split("/")[1], p.split("/")[2].split(".", 1)[1]) for p in paths) == expect
        assert all(p.split("/")[2].startswith("IC_0342.") for p in paths)


def test_demo_prints_the_answers(demo):
    log = "\n".join(demo.log)
    assert "use case 2" in log and ", ".join(UC2_GALAXIES) in log
    assert "sfng find --line CO10 --res '<15' --dist '<15' --depth '<=1K'" in log
    n_ic342 = len(demo_files_on("IC 342"))
    assert f"get: {n_ic342} copied" in log


def test_table_output_and_count(cli, demo):
    s = ["--store", str(demo.store_dir)]
    r = cli("find", *UC1, *s)
    assert r.exit_code == 0
    head = r.stdout.splitlines()[0].split()
    assert head == ["galaxy", "tracer", "survey", "res", "(arcsec)", "depth_k", "(K)", "dist", "(Mpc)", "path"]
    assert "file" in r.stderr
    n = cli("find", *UC1, *s, "--count")
    assert int(n.stdout) == len(r.stdout.splitlines()) - 2
    g = cli("find", *UC2, *s, "--count")
    assert int(g.stdout) == 3


def test_sort_columns_and_csv(cli, demo):
    s = ["--store", str(demo.store_dir)]
    r = cli("find", "--line", "CO10", *s, "--sort", "-res,galaxy", "--columns", "galaxy,res", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0] == "galaxy,res"
    res = [float(x.split(",")[1]) for x in lines[1:] if x.split(",")[1]]
    assert res == sorted(res, reverse=True)
    h = cli("find", *s, "--columns", "help")
    assert "depth_k" in h.stdout and "res_pc" in h.stdout


@pytest.mark.parametrize("fmt", ["ecsv", "fits", "votable"])
def test_table_formats_read_back(cli, demo, tmp_path, fmt):
    from astropy.table import Table

    out = tmp_path / f"uc3.{fmt}"
    r = cli("find", "--galaxy", "IC 342", "--store", demo.store_dir, "--format", fmt, "-o", out)
    assert r.exit_code == 0, r.output
    t = Table.read(out, format={"ecsv": "ascii.ecsv", "fits": "fits", "votable": "votable"}[fmt])
    assert len(t) == len(demo_files_on("IC 342"))
    assert str(t["res"].unit) == "arcsec"


def test_export_obscore(cli, demo, tmp_path):
    from astropy.io.votable import parse_single_table

    out = tmp_path / "uc1.xml"
    r = cli("find", *UC1, "--store", demo.store_dir, "--export-obscore", out)
    assert r.exit_code == 0, r.output
    vt = parse_single_table(str(out))
    t = vt.to_table()
    names = set(t.colnames)
    for col in ("dataproduct_type", "obs_collection", "obs_id", "s_ra", "s_dec", "s_fov", "s_region",
                "s_resolution", "em_min", "em_max", "target_name", "access_url", "calib_level"):
        assert col in names
    assert {f.name: f.ucd for f in vt.fields}["s_ra"] == "pos.eq.ra"
    assert {f.name: f.utype for f in vt.fields}["access_url"] == "obscore:Access.Reference"
    assert set(t["dataproduct_type"]) == {"cube"}
    assert all(str(s).startswith("POLYGON ICRS") for s in t["s_region"])
    assert all(s < 15 for s in t["s_resolution"])
    # CO(1-0) at 115.27 GHz is 2.6 mm; the cubes cover a few hundred km/s around it.
    assert all(2.59e-3 < lo <= hi < 2.61e-3 for lo, hi in zip(t["em_min"], t["em_max"]))
    assert str(t["access_url"][0]).startswith("file://")
    pyvo = pytest.importorskip("pyvo")
    from astropy.io.votable import parse

    dal = pyvo.dal.DALResults(parse(str(out)))
    assert len(dal) == len(t) and dal[0]["obs_collection"] in ("BIMASONG", "PAWS")
    # never overwritten
    again = cli("find", *UC1, "--store", demo.store_dir, "--export-obscore", out)
    assert again.exit_code == 1 and "exists" in again.stderr


def test_info(cli, demo):
    r = cli("info", "ic342", "--store", demo.store_dir)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("IC 0342\n")
    assert "3.3 Mpc" in r.stdout
    j = json.loads(cli("info", "IC 342", "--store", demo.store_dir, "--format", "json").stdout)
    assert j["galaxy"] == "IC 0342" and j["dist"] == pytest.approx(3.3)
    assert sorted(f["survey"] for f in j["files"]) == sorted(s for s, _ in demo_files_on("IC 342"))
    assert all(f["covers"] is True for f in j["files"])
    bad = cli("info", "IC 3421", "--store", demo.store_dir)
    assert bad.exit_code == 1 and "no galaxy" in bad.stderr


def test_summary(cli, demo, tmp_path, monkeypatch):
    s = ["--store", str(demo.store_dir)]
    r = cli("summary", *s, "--format", "csv")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    head = lines[0].split(",")
    assert head[0] == "galaxy" and "CO(1-0)" in head and "MIPS24" in head
    ic = next(line.split(",") for line in lines if line.startswith("IC 0342,"))
    cell = dict(zip(head, ic))
    assert float(cell["MIPS24"]) == pytest.approx(6.0)
    assert cell["HALPHA"] == ""
    pytest.importorskip("matplotlib")
    png = tmp_path / "cov.png"
    r = cli("summary", *s, "--png", png)
    assert r.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    fp = tmp_path / "ic342.png"
    r = cli("plot", "footprints", "--galaxy", "IC 342", "-o", fp, *s)
    assert r.exit_code == 0, r.output
    assert fp.read_bytes()[:4] == b"\x89PNG"
    # GALAXY positional, as for sfng info and sfng get; the default name is the file-name form
    monkeypatch.chdir(tmp_path)
    r = cli("plot", "footprints", "ic342", *s)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "IC_0342_footprints.png").read_bytes()[:4] == b"\x89PNG"
    assert cli("plot", "footprints", *s).exit_code == 2


def test_plot_without_matplotlib(cli, demo, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = cli("summary", "--store", demo.store_dir, "--png", tmp_path / "x.png")
    assert r.exit_code == 1
    assert "pip install 'sfng[plot]'" in r.stderr


@pytest.mark.parametrize("args,fragment", [
    (["--line", "CO11"], "unknown tracer 'CO11'; did you mean"),
    (["--res", "15"], "bare number is ambiguous"),
    (["--res<abc"], "cannot read"),
    (["--dist", "<15arcsec"], "not a length"),
    (["--where", "rez < 15"], "unknown column 'rez'; did you mean res"),
    (["--has", "MIPS42"], "unknown tracer 'MIPS42'"),
    (["--index", "/nonexistent/SFNG-INDEX.fits"], "no index"),
])
def test_bad_input(cli, demo, args, fragment):
    r = cli("find", *args, "--store", demo.store_dir)
    assert r.exit_code != 0
    assert fragment in r.stderr


def test_where_error_shows_a_caret(cli, demo):
    r = cli("find", "--where", "res < 15 and and", "--store", demo.store_dir)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[1] == "  res < 15 and and"
    assert lines[2] == "               ^^^"


def test_empty_result_is_not_an_error(cli, demo):
    r = cli("find", "--line", "CO10", "--res", "<0.01", "--store", demo.store_dir)
    assert r.exit_code == 0
    assert r.stdout == ""
    assert "no files match" in r.stderr


def test_corrupt_and_newer_index(cli, index_copy, tmp_path):
    cut = tmp_path / "cut.fits"
    cut.write_bytes(index_copy.read_bytes()[: 2880 * 4 + 100])
    r = cli("find", "--index", cut)
    assert r.exit_code == 1 and "rebuild" in r.stderr
    newer = tmp_path / "newer.fits"
    data = bytearray(index_copy.read_bytes())
    at = data.index(b"SFNGSCHV=")
    data[at:at + 80] = b"SFNGSCHV= 99".ljust(80)
    newer.write_bytes(bytes(data))
    r = cli("find", "--index", newer)
    assert r.exit_code == 1 and "newer" in r.stderr


def test_help_teaches_with_examples(cli):
    for cmd in ("find", "info", "summary", "get"):
        r = cli(cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout or "sfng " + cmd in r.stdout
    assert "quotes" in cli("find", "--help").stdout or "quoted" in cli("find", "--help").stdout


def test_galaxies_sorted_by_distance(cli, index_copy):
    # The --help example `sfng find --line CO21 --galaxies --sort dist`: nearest first, in every
    # output form (the names-only path for --has included).
    rows = run_json(cli, "--line", "CO21", "--galaxies", "--sort", "dist", "--index", index_copy)
    dists = [r["dist"] for r in rows]
    assert len(dists) > 2 and dists == sorted(dists)
    names = cli("find", *UC2, "--sort", "-dist", "--index", index_copy, "--format", "paths").stdout.split("\n")
    far_first = [r["galaxy"] for r in run_json(cli, *UC2, "--sort", "-dist", "--index", index_copy)]
    assert [n for n in names if n] == far_first != sorted(far_first)
