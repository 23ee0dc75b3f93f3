"""The query library on a small synthetic index written through the real index writer."""

import math
import shutil

import numpy as np
import pytest
from _query_index import GALAXIES, write_index
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.errors import SfngError
from sfng.query import Index, find, galaxy_set, info, load_index, select, summary
from sfng.select import Selection


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    return write_index(tmp_path_factory.mktemp("idx") / "SFNG-INDEX.fits")


@pytest.fixture(scope="module")
def idx(index_path):
    return load_index(index_path)


def q(idx, **kw):
    return select(idx, Selection.build(**kw))


def galaxies_of(res):
    return sorted(set(res.column("galaxy")))


def test_index_opens_memory_mapped(idx, index_path, tmp_path):
    from sfng.index.columns import ColumnTable

    assert len(idx) == 15
    assert isinstance(idx.files, ColumnTable)        # the index's own columnar companion
    alone = tmp_path / "SFNG-INDEX.fits"              # a downloaded index, without it
    alone.write_bytes(index_path.read_bytes())
    assert isinstance(load_index(alone).files, np.memmap)
    assert idx.meta["store"] == "test"
    assert idx.resolve_galaxy("ic342") == "IC 0342"
    assert idx.resolve_galaxy("NGC 0628") == "MESSIER 074"
    assert idx.resolve_galaxy("M 74") == "MESSIER 074"
    assert idx.resolve_galaxy("NGC 9999") is None


def test_use_case_1(idx):
    res = q(idx, tracers=("CO10",), res="<15", dist="<15", depth="<=1K")
    # NRO45 (15" beam) fails '<15'; NGC 3521 is too noisy; M99 is at 16.7 Mpc; the unknown-res
    # NRO file never passes.
    assert galaxies_of(res) == ["IC 0342", "MESSIER 074"]
    assert set(res.column("survey")) == {"BIMASONG"}
    assert any("unknown res" in n for n in res.notes)
    # '<=15' admits the 15" NRO45 cube.
    res = q(idx, tracers=("CO(1-0)",), res="<=15", dist="<15", depth="<=1K")
    assert sorted(res.column("survey")) == ["BIMASONG", "BIMASONG", "NRO45"]


def test_use_case_2(idx):
    sel = Selection.build(has=("CO10", "MIPS24"), lacks=("HALPHA",))
    assert galaxy_set(idx, sel) == ["IC 0342", "MESSIER 099", "NGC 3521"]
    res = select(idx, sel)
    assert res.galaxies == ["IC 0342", "MESSIER 099", "NGC 3521"]
    # A --has term carries its own constraints.
    assert galaxy_set(idx, Selection.build(has=("CO10 depth<1K", "MIPS24"), lacks=("HALPHA",))) == \
        ["IC 0342", "MESSIER 099"]
    assert galaxy_set(idx, Selection.build(has=("CO10 dist<10",))) == ["IC 0342", "MESSIER 074"]
    # Other filters restrict the galaxies' files.
    res = q(idx, has=("CO10",), lacks=("HALPHA",), dist="<5")
    assert res.galaxies == ["IC 0342"]


def test_use_case_3(idx):
    for name in ("IC 342", "IC0342", "ic342", "IC 0342"):
        res = q(idx, galaxies=(name,))
        assert sorted(res.column("survey")) == ["BIMASONG", "KINGFISH", "SINGS"], name


def test_galaxy_without_files_of_its_own_hints_at_covering_files(idx):
    res = q(idx, galaxies=("companion",))
    assert len(res) == 0
    assert "5 file(s) cover its position" in res.notes[0]
    assert "--near 'COMPANION'" in res.notes[0]
    assert galaxies_of(q(idx, near="COMPANION", radius="0.1arcmin")) == ["MESSIER 074"]
    rec = info(idx, "companion")
    assert rec["files"] == []
    assert {c["galaxy"] for c in rec["covering"]} == {"MESSIER 074"} and len(rec["covering"]) == 5
    assert info(idx, "M74")["covering"] == []


def test_no_covering_hint_when_other_options_left_the_galaxys_files_out(idx):
    res = q(idx, galaxies=("IC 342",), surveys=("THINGS",))
    assert len(res) == 0
    assert not any("no file is named" in n for n in res.notes)


def test_unknown_galaxy_is_an_empty_result_with_a_note(idx):
    res = q(idx, galaxies=("IC 343",))
    assert len(res) == 0
    assert "IC 343" in res.notes[0] and "IC 0342" in res.notes[0]


def test_filters(idx):
    assert set(q(idx, surveys=("things",)).column("tracer")) == {"HI"}
    assert len(q(idx, types=("image",))) == 7
    assert len(q(idx, valid=False)) == 2
    assert len(q(idx, valid=True)) == 13
    assert set(q(idx, bunits=("k",)).column("survey")) == {"NRO45"}
    assert len(q(idx, trees=("derived",))) == 0
    assert len(q(idx, tracers=("HI", "halpha"))) == 4
    assert galaxies_of(q(idx, res_pc="<200")) == ["IC 0342", "MESSIER 074", "NGC 7793"]
    # depth at another channel width: rms_k * sqrt(chan / dv)
    deep = q(idx, tracers=("CO10",), depth="<0.2K", depth_chan="2.5kms")
    expect = [r for r in idx.numbers("rms_k") * np.sqrt(idx.numbers("chan_kms") / 2.5)
              if np.isfinite(r) and r < 0.2]
    assert len(deep) == len(expect) - 0  # all with depth < 0.2 K at 2.5 km/s are CO(1-0)
    assert np.all(deep.column("depth") < 0.2)


def test_bounds_equal_to_a_single_precision_value_are_inclusive(idx):
    # The index keeps res and the galaxy distances in single precision (6.2 is 6.1999998):
    # a bound equal to the written value must still count as equal.
    bima = {"IC 0342", "MESSIER 074", "NGC 3521", "MESSIER 099"}
    assert set(q(idx, surveys=("BIMASONG",), res=">=6.2").column("galaxy")) == bima
    assert len(q(idx, surveys=("BIMASONG",), res=">6.2")) == 0
    assert len(q(idx, surveys=("BIMASONG",), res="<6.2")) == 0
    assert set(q(idx, surveys=("BIMASONG",), where="res >= 6.2").column("galaxy")) == bima
    assert len(q(idx, surveys=("BIMASONG",), where="res < 6.2")) == 0
    assert galaxies_of(q(idx, galaxies=("IC 342",), dist=">=3.3")) == ["IC 0342"]
    assert len(q(idx, galaxies=("IC 342",), dist=">3.3")) == 0
    assert galaxies_of(q(idx, galaxies=("IC 342",), where="dist >= 3.3")) == ["IC 0342"]
    # ... and JSON/CSV say 3.3, not 3.299999952316284 (find, info and summary alike).
    rec = q(idx, galaxies=("IC 342",)).records(["dist"])
    assert {r["dist"] for r in rec} == {3.3}
    assert info(idx, "IC 342")["dist"] == 3.3
    matrix = summary(idx).as_dict()
    row = matrix["best_res_arcsec"][matrix["galaxies"].index("IC 0342")]
    assert row[matrix["tracers"].index("CO(1-0)")] == 6.2 and row[matrix["tracers"].index("SPIRE250")] == 18.2


def test_unknown_value_note_counts_only_rows_the_other_options_keep(idx):
    # The index's unknown-res row is an NRO45 file of MESSIER 074: asking about IC 342 must
    # not report it as left out.
    res = q(idx, galaxies=("IC 342",), res=">=1")
    assert len(res) == 3 and not any("unknown" in n for n in res.notes)
    res = q(idx, galaxies=("M74",), res=">=1")
    assert [n for n in res.notes if "unknown res" in n] == ["1 row(s) with unknown res (arcsec) left out by --res '>=1'"]
    # A row unknown in both res and depth is counted once, under the first test.
    notes = q(idx, tracers=("CO10",), res="<15", depth="<=1K").notes
    assert sum("unknown" in n for n in notes) == 1 and "unknown res" in notes[0]


def test_where_with_virtual_columns(idx):
    res = q(idx, where="dist < 5 and res_pc < 150 and not (tracer = 'halpha')")
    assert galaxies_of(res) == ["IC 0342"]
    res = q(idx, where="tracer = 'co10' and depth < 0.3")
    assert galaxies_of(res) == ["MESSIER 074", "MESSIER 099"]


def test_unknown_tracer_suggests(idx):
    with pytest.raises(SfngError, match=r"unknown tracer 'CO11'.*CO\(1-0\)"):
        q(idx, tracers=("CO11",))
    with pytest.raises(SfngError, match="did you mean"):
        q(idx, has=("MIPS42",))


def test_unknown_where_column(idx):
    with pytest.raises(SfngError, match="unknown column 'rez'"):
        q(idx, where="rez < 3")


def test_regions_on_the_sphere(idx):
    # RA wrap: NGC 7793 sits at RA 359.46; a cone centred across 0 finds it.
    res = q(idx, cone=("0.1", "-32.6", "40arcmin"))
    assert galaxies_of(res) == ["NGC 7793"]
    # Near the pole: the footprint is a ring around it; any RA inside matches.
    assert galaxies_of(q(idx, cone=("200", "89.95", "1arcmin"))) == ["POLE GALAXY"]
    # --near by alias with a radius; a cone just outside the 8' square does not match.
    ra, dec = 56.702083, 68.096111
    assert galaxies_of(q(idx, near="IC 342", radius="1arcmin")) == ["IC 0342"]
    off = (ra + (4 / 60 + 0.1) / math.cos(math.radians(dec))) % 360
    assert len(q(idx, cone=(str(off), str(dec), "1arcmin"))) == 0
    assert galaxies_of(q(idx, cone=(str(off), str(dec), "7arcmin"))) == ["IC 0342"]
    # Polygon overlapping M74's footprint, drawn across its edge.
    poly = "24.2,15.70 24.4,15.70 24.4,15.90 24.2,15.90"
    assert galaxies_of(q(idx, polygon=poly)) == ["MESSIER 074"]
    poly_wrap = "359.5,-32.7 0.2,-32.7 0.2,-32.5 359.5,-32.5"   # crosses RA 0, meets the east edge
    assert galaxies_of(q(idx, polygon=poly_wrap)) == ["NGC 7793"]
    with pytest.raises(SfngError, match="--near 'NGC 9999'"):
        q(idx, near="NGC 9999")


def test_sort_and_records(idx):
    res = q(idx, tracers=("CO10",)).sort(["-res", "galaxy"])
    r = res.column("res")
    finite = r[np.isfinite(r)]
    assert list(finite) == sorted(finite, reverse=True)
    assert not np.isfinite(r[-1])          # unknown last
    rec = res.records(["galaxy", "res", "depth_k"])
    assert rec[-1]["res"] is None and rec[0]["res"] == 15.0


def test_galaxies_follow_the_sort(idx):
    # `sfng find --line CO10 --galaxies --sort dist`: nearest first, not by name.
    res = q(idx, tracers=("CO10",)).sort(["dist"])
    assert [r["galaxy"] for r in res.galaxy_rows()] == ["IC 0342", "MESSIER 074", "NGC 3521", "MESSIER 099"]
    res = q(idx, has=("CO10",), lacks=("HI",)).sort(["-dist"])
    assert [r["galaxy"] for r in res.galaxy_rows()] == ["MESSIER 099", "NGC 3521", "MESSIER 074", "IC 0342"]
    # unsorted: by name, as before
    assert [r["galaxy"] for r in q(idx, tracers=("CO10",)).galaxy_rows()] == \
        ["IC 0342", "MESSIER 074", "MESSIER 099", "NGC 3521"]


def test_info(idx):
    rec = info(idx, "ic342")
    assert rec["galaxy"] == "IC 0342"
    assert rec["aliases"] == ["IC 342", "IC342"]
    assert rec["dist"] == pytest.approx(3.3)
    assert [f["tracer"] for f in rec["files"]] == ["CO(1-0)", "MIPS24", "SPIRE250"]
    assert all(f["covers"] is True and f["offset"] == pytest.approx(0, abs=1e-6) for f in rec["files"])
    with pytest.raises(SfngError, match="no galaxy 'NGC 9999'"):
        info(idx, "NGC 9999")


def test_summary_matrix(idx):
    s = summary(idx)
    assert s.galaxies == sorted(g[0] for g in GALAXIES if g[0] != "COMPANION")
    i, j = s.galaxies.index("MESSIER 074"), s.tracers.index("CO(1-0)")
    assert s.res[i, j] == pytest.approx(6.2)          # best of 6.2, 15 and unknown
    assert s.count[i, j] == 3
    csv = s.to_csv().splitlines()
    assert csv[0] == "galaxy," + ",".join(s.tracers)
    assert csv[1].startswith("IC 0342,6.2,")


def test_summary_png(idx, tmp_path):
    pytest.importorskip("matplotlib")
    out = summary(idx).plot(tmp_path / "m.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_find_function_and_index_errors(index_path, tmp_path):
    res = find(Selection.build(galaxies=("M74",)), index_path=index_path, sort=["path"])
    assert res.paths() == sorted(res.paths())
    with pytest.raises(SfngError, match="no index"):
        load_index(tmp_path / "missing.fits")
    # truncated: the reader says the file is damaged
    bad = tmp_path / "cut.fits"
    bad.write_bytes(index_path.read_bytes()[:2880 * 3])
    with pytest.raises(SfngError, match="corrupt|truncated|damaged|not a readable"):
        load_index(bad)
    # newer schema
    newer = tmp_path / "newer.fits"
    shutil.copy(index_path, newer)
    data = bytearray(newer.read_bytes())
    at = data.index(b"SFNGSCHV=")
    data[at:at + 80] = b"SFNGSCHV= 99".ljust(80)
    newer.write_bytes(bytes(data))
    with pytest.raises(SfngError, match="newer"):
        load_index(newer)
    # not an index
    other = tmp_path / "other.fits"
    other.write_bytes(b"SIMPLE  =                    T".ljust(80) + b"END".ljust(80) + b" " * (2880 - 160))
    with pytest.raises(SfngError, match="not an sfng index"):
        load_index(other)


def test_stale_index_in_a_store(store, index_path):
    import os
    import time

    shutil.copy(index_path, store.index_path)
    old = time.time() - 100
    for d in [store.root / "data", store.root / "derived"]:
        os.utime(d, (old, old))
    os.utime(store.index_path, (old + 10, old + 10))      # built after the folders last changed
    assert len(Index.open(store=store)) == 15
    (store.root / "data" / "NEW").mkdir()
    with pytest.raises(SfngError, match="stale.*data/NEW"):
        Index.open(store=store)
    assert len(Index.open(store=store, allow_stale=True)) == 15


# Text matching compares bytes as integer words in place; check it against plain comparison.
# (trailing blanks are a writer's padding, not content: no value ends with one here)
_names = st.text(alphabet="AB C()-10", min_size=0, max_size=13).map(str.rstrip)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(_names, min_size=1, max_size=30), wanted=st.lists(_names, min_size=1, max_size=12),
       width=st.sampled_from([1, 7, 8, 9, 13, 24]), subset=st.booleans())
def test_text_matching_equals_plain_comparison(values, wanted, width, subset):
    arr = np.zeros(len(values), dtype=[("x", "f8"), ("tracer", f"S{width}"), ("y", "i2")])
    arr["tracer"] = [v.encode()[:width].rstrip() for v in values]
    index = Index("mem", arr, np.zeros(0, dtype=[("name", "S8")]), {})
    rows = np.arange(0, len(values), 2) if subset else None
    got = index.match_text("tracer", wanted, rows=rows, fold=False)
    stored = [v.encode()[:width].rstrip() for v in values]
    want = {w.strip().encode() for w in wanted}
    expect = [stored[i] in want for i in (rows if rows is not None else range(len(values)))]
    assert got.tolist() == expect
