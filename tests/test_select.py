"""The selection language: comparisons with units, the --where grammar, the Selection round trip."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.errors import SfngError
from sfng.select import (Range, Selection, WhereError, parse_range, parse_term, parse_where,
                         unglue)

# -- comparisons ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,lo,hi,lo_incl,hi_incl", [
    ("<15", None, 15.0, True, False),
    ("<=15", None, 15.0, True, True),
    ("=<15", None, 15.0, True, True),
    (">1", 1.0, None, False, True),
    (">=1", 1.0, None, True, True),
    ("=7.3", 7.3, 7.3, True, True),
    ("5..15", 5.0, 15.0, True, True),
    (" < 15 ", None, 15.0, True, False),
    ("<1e1", None, 10.0, True, False),
])
def test_comparison_forms(text, lo, hi, lo_incl, hi_incl):
    r = parse_range(text, "res")
    assert (r.lo, r.hi, r.lo_incl, r.hi_incl) == (lo, hi, lo_incl, hi_incl)
    assert r.text == text.strip()


@pytest.mark.parametrize("quantity,text,expect", [
    ("res", "<15arcsec", 15.0),
    ("res", "<0.25arcmin", 15.0),
    ("res", "<0.25'", 15.0),
    ("res", "<15\"", 15.0),
    ("dist", "<15Mpc", 15.0),
    ("dist", "<15000kpc", 15.0),
    ("depth", "<1K", 1.0),
    ("depth", "<500mK", 0.5),
    ("chan", "<2.5kms", 2.5),
    ("chan", "<2500m/s", 2.5),
    ("res_pc", "<0.3kpc", 300.0),
])
def test_units_convert_to_the_quantity_unit(quantity, text, expect):
    assert parse_range(text, quantity).hi == pytest.approx(expect)


def test_exact_scale_factors_agree_with_astropy():
    import astropy.units as u

    from sfng.select import _KIND_OF_UNIT, _SCALE, convert

    for a in _SCALE:
        for b in _SCALE:
            if _KIND_OF_UNIT[a.lower()] == _KIND_OF_UNIT[b.lower()]:
                assert convert(2.5, a, b) == pytest.approx((2.5 * u.Unit(a)).to_value(u.Unit(b)), rel=1e-12)
    assert convert(1.0, "pc", "lyr") == pytest.approx(3.26156, rel=1e-5)   # others: astropy.units


def test_strict_and_inclusive_bounds_and_nan():
    lt, le = parse_range("<15", "res"), parse_range("<=15", "res")
    values = np.array([14.9, 15.0, 15.1, np.nan])
    assert lt.mask(values).tolist() == [True, False, False, False]
    assert le.mask(values).tolist() == [True, True, False, False]
    assert parse_range("5..15", "res").mask([5.0, 15.0, 4.99, np.nan]).tolist() == [True, True, False, False]


@pytest.mark.parametrize("text,fragment", [
    ("15", "bare number is ambiguous"),
    ("<", "needs a number"),
    ("<abc", "cannot read"),
    ("<15Mpc", "not an angle"),
    ("<15furlongs", "unknown unit"),
    ("15..5", "range is empty"),
    ("..5", "both ends"),
    ("", "empty comparison"),
])
def test_malformed_comparisons(text, fragment):
    with pytest.raises(SfngError, match=fragment) as exc:
        parse_range(text, "res")
    assert "--res" in str(exc.value)


def test_glued_option_form():
    assert unglue(["--line", "CO10", "--res<15", "--dist<=15", "--res-pc<300", "--depth>=1K"]) == \
        ["--line", "CO10", "--res", "<15", "--dist", "<=15", "--res-pc", "<300", "--depth", ">=1K"]
    assert unglue(["--res=<15"]) == ["--res=<15"]          # click's --opt=value: value '<15'
    assert unglue(["--res>=1"]) == ["--res", ">=1"]
    assert unglue(["--", "--res<15"]) == ["--", "--res<15"]
    assert unglue(["--resolution<15", "--where", "res<15"]) == ["--resolution<15", "--where", "res<15"]


# -- --where ------------------------------------------------------------------------------------

COLS = {"res": "arcsec", "depth_k": "K", "survey": "", "valid": "", "dist": "Mpc", "tracer": ""}


def resolver_for(table):
    return lambda name: (np.asarray(table[name]), COLS[name])


TABLE = {
    "res": np.array([6.0, 15.0, 1.0, np.nan]),
    "depth_k": np.array([0.3, 0.1, 0.9, 2.0]),
    "survey": np.array([b"BIMASONG", b"NRO45", b"PAWS", b"THINGS"]),
    "valid": np.array([True, True, False, True]),
    "dist": np.array([7.3, 3.3, 8.0, 10.0]),
    "tracer": np.array([b"CO(1-0)", b"CO(1-0)", b"CO(1-0)", b"HI"]),
}


@pytest.mark.parametrize("expr,expect", [
    ("res < 15", [True, False, True, False]),
    ("res < 0.25arcmin", [True, False, True, False]),
    ("res <= 15arcsec and depth_k < 1K", [True, True, True, False]),
    ("not (res < 15)", [False, True, False, True]),
    ("survey = 'PAWS' or survey == \"NRO45\"", [False, True, True, False]),
    ("survey != 'paws'", [True, True, False, True]),
    ("valid", [True, True, False, True]),
    ("not valid", [False, False, True, False]),
    ("valid = false", [False, False, True, False]),
    ("2 < res < 10", [True, False, False, False]),
    ("15 > res", [True, False, True, False]),
    ("res < 15 && (depth_k < 0.5 || dist > 7.5)", [True, False, True, False]),
    ("dist < 10000kpc and !valid", [False, False, True, False]),
    ("depth_k < 500mK", [True, True, False, False]),
    ("res < 10 AND depth_k > 0.2 OR survey = 'THINGS'", [True, False, True, True]),
])
def test_where_evaluates(expr, expect):
    e = parse_where(expr)
    e.check(COLS)
    assert e.evaluate(resolver_for(TABLE)).tolist() == expect


def test_where_tracer_values_are_canonicalised_by_the_caller():
    e = parse_where("tracer = 'co10'")
    canon = lambda col, v: "CO(1-0)" if col == "tracer" and v.lower() == "co10" else v  # noqa: E731
    assert e.evaluate(resolver_for(TABLE), canon).tolist() == [True, True, True, False]


@pytest.mark.parametrize("expr,fragment,caret_at", [
    ("rez < 15", "unknown column 'rez'; did you mean res", 0),
    ("res < 15 and and depth_k < 1", "expected a column name", 13),
    ("res < ", "found the end", 6),
    ("(res < 15", "expected ')'", 9),
    ("res < 15)", "unmatched ')'", 8),
    ("res < 15Mpc", "does not fit column 'res'", 6),
    ("res < 15parsnips", "unknown unit", 6),
    ("survey < 'A'", "takes only = or !=", 9),
    ("res = 'A'", "compare it with a number", 6),
    ("res # 3", "unexpected character '#'", 4),
    ("3 < 4", "needs a column", 0),
    ("", "empty expression", 0),
    ("res 15", "expected 'and', 'or'", 4),
])
def test_where_errors_point_at_the_token(expr, fragment, caret_at):
    with pytest.raises(WhereError) as exc:
        e = parse_where(expr)
        e.check(COLS)
        e.evaluate(resolver_for(TABLE))
    msg = str(exc.value)
    assert fragment in msg
    lines = msg.splitlines()
    assert lines[1] == "  " + expr
    assert lines[2].index("^") == caret_at + 2


def test_where_never_evaluates_python():
    # Anything that is not the grammar is refused by the tokenizer or the parser.
    for evil in ("__import__('os').system('true')", "res.__class__", "res < 1; rm -rf /", "[1]"):
        with pytest.raises(WhereError):
            e = parse_where(evil)
            e.check(COLS)


def test_where_columns_listed():
    assert parse_where("res < 1 and (dist > 2 or not valid)").columns == ["res", "dist", "valid"]


def test_has_terms():
    t = parse_term("CO10 res<15 depth<1K")
    assert t.tracer == "CO10"
    assert t.where.columns == ["res", "depth"]
    assert parse_term("MIPS24").where is None
    with pytest.raises(SfngError, match="--lacks"):
        parse_term(" ", "--lacks")


# -- the Selection ------------------------------------------------------------------------------

def test_selection_builds_and_renders():
    sel = Selection.build(tracers=("CO10",), res="<15", dist="<15", depth="<=1K", galaxies=("IC 342",),
                          valid=True, where="survey != 'NRO45'", has=("CO10 res<15",), lacks=("HALPHA",))
    assert sel.res == parse_range("<15", "res")
    assert sel.to_command() == ("sfng find --line CO10 --res '<15' --dist '<15' --depth '<=1K' "
                                "--galaxy 'IC 342' --valid --where 'survey != '\"'\"'NRO45'\"'\"'' "
                                "--has 'CO10 res<15' --lacks HALPHA")
    assert sel.is_galaxy_set
    assert Selection().is_empty()


@pytest.mark.parametrize("kw,fragment", [
    (dict(depth_chan="2.5kms"), "--depth-chan only makes sense with --depth"),
    (dict(depth="<1", depth_chan="0kms"), "must be positive"),
    (dict(radius="5arcmin"), "--radius goes with --near"),
    (dict(cone=("10", "95", "1")), "outside -90..90"),
    (dict(polygon="1,1 2,2"), "--polygon"),
    (dict(where="res <"), "--where"),
    (dict(has=("",)), "--has"),
])
def test_selection_validates_up_front(kw, fragment):
    with pytest.raises(SfngError, match=fragment):
        Selection.build(**kw)


def test_cone_units_and_sexagesimal():
    sel = Selection.build(cone=("03:46:48.5", "+68:05:46", "30arcsec"))
    ra, dec, r = sel.cone_deg
    assert ra == pytest.approx(56.702083, abs=1e-5)
    assert dec == pytest.approx(68.096111, abs=1e-5)
    assert r == pytest.approx(30 / 3600)
    assert Selection.build(near="IC 342").radius_deg == pytest.approx(1 / 60)   # default 1 arcmin
    assert Selection.build(near="IC 342", radius="10").radius_deg == pytest.approx(10 / 60)


# Round trip: Selection -> command line -> the real options -> the same Selection.

_word = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ()-+_", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and not s.startswith("-"))
_num = st.floats(min_value=0.01, max_value=1e4, allow_nan=False).map(lambda x: f"{x:.4g}")
_cmp = st.tuples(st.sampled_from(["<", "<=", ">", ">=", "="]), _num).map(lambda t: t[0] + t[1])
_unit_cmp = lambda units: st.tuples(_cmp, st.sampled_from(units)).map(lambda t: t[0] + t[1])  # noqa: E731


@settings(max_examples=60, deadline=None)
@given(tracers=st.lists(_word, max_size=2), res=st.none() | _unit_cmp(["", "arcsec", "arcmin"]),
       dist=st.none() | _unit_cmp(["", "Mpc", "kpc"]), depth=st.none() | _unit_cmp(["", "K", "mK"]),
       galaxies=st.lists(_word, max_size=2), surveys=st.lists(_word, max_size=2),
       valid=st.sampled_from([None, True, False]),
       where=st.sampled_from([None, "res < 15", "survey = 'A B' and not valid"]),
       has=st.lists(st.sampled_from(["CO10", "CO10 res<15", "MIPS24"]), max_size=2),
       lacks=st.lists(st.sampled_from(["HALPHA", "HI dist<10"]), max_size=1))
def test_selection_round_trips_through_the_options(tracers, res, dist, depth, galaxies, surveys, valid,
                                                   where, has, lacks):
    import click

    from sfng.cli.options import SelectionCommand, selection_options

    sel = Selection.build(tracers=tracers, res=res, dist=dist, depth=depth, galaxies=galaxies,
                          surveys=surveys, valid=valid, where=where, has=has, lacks=lacks)
    got = {}

    @click.command(cls=SelectionCommand)
    @selection_options
    def cmd(selection):
        got["sel"] = selection

    cmd.main(sel.to_args(), standalone_mode=False)
    assert got["sel"] == sel
    assert got["sel"].to_args() == sel.to_args()


def test_glued_form_reaches_the_same_selection():
    import click

    from sfng.cli.options import SelectionCommand, selection_options

    got = []

    @click.command(cls=SelectionCommand)
    @selection_options
    def cmd(selection):
        got.append(selection)

    cmd.main(["--line", "CO10", "--res<15", "--dist<15", "--depth<=1"], standalone_mode=False)
    cmd.main(["--line", "CO10", "--res", "<15", "--dist", "<15", "--depth", "<=1"], standalone_mode=False)
    cmd.main(["--line", "CO10", "--res=<15", "--dist=<15", "--depth=<=1"], standalone_mode=False)
    assert got[0] == got[1] == got[2]
    assert got[0].res == Range(None, 15.0, True, False, "<15")
    assert not math.isnan(got[0].depth.hi)
