"""Survey README metadata: parsing, casting, errors naming file:line, and round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfng.errors import ReadmeError
from sfng.readme import (cast_value, check_keyword, format_value, parse_text, read_readme, render,
                         template)

SPEC_EXAMPLE = """BUNIT = K
BMAJ = 4.1667e-3
BMIN = 4.1667e-3
BPA = 0.0
CUNIT3 = Hz
---
The HI Nearby Galaxy survey data by Walter et al. (2008), AJ, 136, 2563.
URL: http://www.mpia.de/THINGS/Data.html
"""


def test_specification_example():
    doc = parse_text(SPEC_EXAMPLE, "THINGS_README.txt")
    assert doc.metadata == {"BUNIT": "K", "BMAJ": 4.1667e-3, "BMIN": 4.1667e-3, "BPA": 0.0, "CUNIT3": "Hz"}
    assert isinstance(doc.metadata["BPA"], float)
    assert doc.lines == {"BUNIT": 1, "BMAJ": 2, "BMIN": 3, "BPA": 4, "CUNIT3": 5}
    assert doc.prose.startswith("The HI Nearby Galaxy survey")
    assert doc.has_metadata_block


@pytest.mark.parametrize("text,value", [
    ("12", 12), ("-3", -3), ("1.5e-1", 0.15), ("1.0D-3", 1.0e-3), (".5", 0.5), ("T", True), ("F", False),
    ("'K'", "K"), ('"CO(1-0)"', "CO(1-0)"), ("CO(1-0)", "CO(1-0)"), ("'12'", "12"), ("'T'", "T"),
    ("'it''s'", "it's"), ("K KM/S", "K KM/S"), ("  MJy/sr  ", "MJy/sr"), ("True", "True"), ("1e5x", "1e5x"),
])
def test_cast(text, value):
    got = cast_value(text)
    assert got == value and type(got) is type(value)


def test_no_separator_means_no_metadata():
    doc = parse_text("BUNIT = K\nJust prose here.\n", "X_README.txt")
    assert doc.metadata == {} and not doc.has_metadata_block
    assert "BUNIT = K" in doc.prose


def test_blank_and_comment_lines_tolerated():
    doc = parse_text("\nBUNIT = K\n\n# BMAJ = 1\n---\n", "X")
    assert doc.metadata == {"BUNIT": "K"} and doc.lines["BUNIT"] == 2


@pytest.mark.parametrize("line,reason", [
    ("BUNIT K", "no '='"),
    ("BUNITSLONG = K", "longer than 8"),
    ("bunit = K", "upper case"),
    ("BU NIT = K", "A-Z"),
    ("B*MAJ = 3", "A-Z"),
    ("BUNIT = ", "no value"),
    (" = K", "empty keyword"),
])
def test_malformed_lines_name_file_and_line(line, reason):
    text = f"BPA = 0.0\n{line}\n---\nprose\n"
    with pytest.raises(ReadmeError) as err:
        parse_text(text, "data/THINGS/THINGS_README.txt")
    msg = str(err.value)
    assert msg.startswith("data/THINGS/THINGS_README.txt:2:")
    assert reason in msg and err.value.line == 2 and err.value.text == line


def test_duplicate_keyword():
    with pytest.raises(ReadmeError, match=r":3: BUNIT is already given on line 1"):
        parse_text("BUNIT = K\nBPA = 0\nBUNIT = Jy/beam\n---\n", "R")


def test_not_utf8(tmp_path):
    p = tmp_path / "S_README.txt"
    p.write_bytes(b"BUNIT = K\nOBSERVER = M\xfcller\n---\n")
    with pytest.raises(ReadmeError, match=r"S_README.txt:2: not UTF-8"):
        read_readme(p)


def test_unreadable_file(tmp_path):
    with pytest.raises(ReadmeError, match="cannot read"):
        read_readme(tmp_path / "missing_README.txt")


keywords = st.from_regex(r"[A-Z][A-Z0-9_-]{0,7}", fullmatch=True)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
    .filter(lambda s: "\n" not in s and "\r" not in s and "\x85" not in s and "\u2028" not in s
            and "\u2029" not in s and "\x1c" not in s and "\x1d" not in s and "\x1e" not in s),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keywords, values, max_size=12),
       st.text(max_size=200).filter(lambda s: "---" not in s.splitlines()))
def test_round_trip(meta, prose):
    doc = parse_text(render(meta, prose), "R")
    assert doc.metadata == meta
    assert [type(v) for v in doc.metadata.values()] == [type(v) for v in meta.values()]


@settings(max_examples=300, deadline=None)
@given(values)
def test_value_round_trip(v):
    assert cast_value(format_value(v)) == v


def test_render_refuses_illegal_keyword():
    with pytest.raises(ValueError, match="illegal FITS keyword"):
        render({"TOOLONGKEY": 1})


def test_template_names_specification_keys():
    text = template("THINGS", {"BUNIT": "K", "BMAJ": 4.1667e-3})
    doc = parse_text(text, "T")
    assert doc.metadata == {"BUNIT": "K", "BMAJ": 4.1667e-3}
    for key in ("BMIN", "BPA", "RESTFRQ", "SPECRES", "CUNIT3", "MAPTYPE", "REPUNC", "PSFTYPE"):
        assert f"# {key} = " in text
    assert "Citation:" in doc.prose and "Source:" in doc.prose


def test_check_keyword():
    assert check_keyword("CUNIT3") is None and check_keyword("DATE-OBS") is None
    assert "8 characters" in check_keyword("HIERARCHX")
