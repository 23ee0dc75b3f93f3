"""File-name convention (compose/parse), normalisation, and where a file's object comes from."""

import csv
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sfng import naming
from sfng.errors import SfngError
from sfng.naming import (AmbiguousName, check_component, compose, decode_galaxy, encode_galaxy,
                         normalise, object_from, pair_members, parse)

DATA = Path(__file__).parent / "data" / "ned"


def ned_names_csv():
    with open(DATA / "names.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# compose / parse
# ---------------------------------------------------------------------------------------------

def test_specification_example():
    assert compose("MESSIER 064", "NGC_4826_NA_CUBE_THINGS.FITS") == \
        "MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"
    assert parse("MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS") == \
        ("MESSIER 064", "NGC_4826_NA_CUBE_THINGS.FITS")


@pytest.mark.parametrize("galaxy, encoded", [
    ("ESO 269- G?066", "ESO_269-_G%3F066"),
    ("MESSIER 081:[CKT2009] d0926+70", "MESSIER_081%3A%5BCKT2009%5D_d0926+70"),
    ("ESO 274- G 001", "ESO_274-_G_001"),
    ("MESSIER 051a", "MESSIER_051a"),
    ("A/B", "A%2FB"),
    ("NGC_1.5", "NGC%5F1%2E5"),
    ("..", "%2E%2E"),
    ("-rf", "%2Drf"),
    ("50% done", "50%25_done"),
    ("Großer Wagen", "Gro%C3%9Fer_Wagen"),
])
def test_encoding_of_unsafe_characters(galaxy, encoded):
    assert encode_galaxy(galaxy) == encoded
    assert decode_galaxy(encoded) == galaxy
    name = compose(galaxy, "x.fits")
    assert name == f"{encoded}.x.fits"
    assert parse(name) == (galaxy, "x.fits")
    assert check_component(name) == name


def test_every_known_ned_name_round_trips():
    for row in ned_names_csv():
        for g in (row["ned_name"], row["input"]):
            name = compose(g, "NGC_4826_NA_CUBE_THINGS.FITS")
            assert parse(name) == (g, "NGC_4826_NA_CUBE_THINGS.FITS")
            check_component(name)


_originals = st.text(min_size=1, max_size=60).filter(
    lambda s: "/" not in s and "\\" not in s and s not in (".", "..")
    and not any(ord(c) < 32 or ord(c) == 127 for c in s))


@pytest.mark.parametrize("bad", ["a\nb.fits", "tab\there.fits", "bell\x07.fits", "nul\x00.fits", "del\x7f.fits"])
def test_control_characters_refused(bad):
    # A newline in a stored name would fake lines in listings, manifests and sha256sum reports.
    with pytest.raises(SfngError, match="control characters"):
        compose("NGC 0628", bad)


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=1, max_size=60), _originals)
@example("ESO 269- G?066", "x.fits")
@example("a.b", "c.d")
@example("_", "_")
@example(".", "..x")
@example("-", "-")
@example("%2E", "%")
def test_parse_inverts_compose(galaxy, original):
    if len(f"{encode_galaxy(galaxy)}.{original}".encode()) > naming.NAME_MAX:
        with pytest.raises(SfngError, match="bytes long"):
            compose(galaxy, original)
        return
    name = compose(galaxy, original)
    assert parse(name) == (galaxy, original)
    # never escapes its folder, never an option, never a path
    assert "/" not in name and "\x00" not in name
    assert name not in (".", "..") and not name.startswith("-") and not name.startswith(".")
    assert check_component(name) == name
    # the galaxy part alone is recoverable and canonical
    head = name.split(".", 1)[0]
    assert decode_galaxy(head) == galaxy


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabc0123456789+-_%.", min_size=1, max_size=20))
def test_decode_accepts_only_canonical_encodings(text):
    g = decode_galaxy(text)
    if g is not None:
        assert encode_galaxy(g) == text


def test_non_canonical_or_foreign_names_do_not_parse():
    assert decode_galaxy("%41BC") is None          # 'A' is never encoded
    assert decode_galaxy("%3f") is None            # lower-case hex is not canonical
    assert decode_galaxy("NGC 628") is None        # a raw space is not part of the encoding
    assert decode_galaxy("%C3") is None            # broken UTF-8
    assert parse("README") == (None, "README")
    assert parse("NGC 628.fits") == (None, "NGC 628.fits")
    assert parse(".hidden") == (None, ".hidden")
    assert parse("MESSIER_064.") == (None, "MESSIER_064.")


@pytest.mark.parametrize("galaxy, original", [
    ("NGC 628", ""), ("NGC 628", "a/b.fits"), ("NGC 628", ".."), ("NGC 628", "."),
    ("", "x.fits"), ("NGC 628", "x\x00.fits"), ("NGC 628", "a\\b"),
])
def test_compose_refuses_bad_input(galaxy, original):
    with pytest.raises(SfngError):
        compose(galaxy, original)


def test_compose_refuses_names_too_long_for_a_file_system():
    with pytest.raises(SfngError, match="255"):
        compose("ESO 269- G?066" * 10, "x" * 200 + ".fits")


def test_check_component_kept():
    for bad in ("", ".", "..", "a/b", "-x", "a\\b", "a\x00"):
        with pytest.raises(SfngError):
            check_component(bad)
    assert check_component("THINGS") == "THINGS"


# ---------------------------------------------------------------------------------------------
# normalise
# ---------------------------------------------------------------------------------------------

def test_normalise_same_galaxy_same_key():
    keys = {normalise(n) for n in ("NGC 628", "NGC0628", "ngc 628", "NGC_628", " NGC   0628 ")}
    assert keys == {"NGC 628"}
    assert {normalise(n) for n in ("M74", "M 74", "m74", "Messier 74", "MESSIER 074", "M074")} \
        == {"MESSIER 074"}
    assert normalise("M51a") == normalise("MESSIER 051a")
    assert normalise("IC342") == normalise("IC 0342")


def test_normalise_keeps_different_galaxies_apart():
    names = ["NGC 628", "NGC 6280", "NGC 62", "IC 628", "UGC 628", "MESSIER 051a", "MESSIER 051b",
             "MESSIER 051", "M5", "ESO 274- G 001", "ESO 274- G 010", "DDO 53", "DDO 530"]
    assert len({normalise(n) for n in names}) == len(names)


def test_normalise_matches_ned_padding_conventions():
    """names.csv rows whose input is the same designation as NED's padded name share a key."""
    same = [(r["input"], r["ned_name"]) for r in ned_names_csv()
            if r["input"] in ("NGC 55", "NGC 59", "NGC 625", "NGC 891", "UGC 7298", "M 32",
                              "DDO 53", "DDO 44", "DDO 6", "IC 342", "UGC 5720", "IC 10", "m1")]
    assert len(same) == 13
    for inp, ned in same:
        assert normalise(inp) == normalise(ned), (inp, ned)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["NGC", "IC", "UGC", "DDO", "PGC", "UGCA"]), st.integers(1, 99999),
       st.integers(0, 3), st.sampled_from(["", " ", "  ", "_"]), st.booleans())
def test_normalise_ignores_case_spacing_and_padding(cat, num, pad, sep, lower):
    spelled = f"{cat}{sep}{'0' * pad}{num}"
    spelled = spelled.lower() if lower else spelled
    assert normalise(spelled) == f"{cat} {num}"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


# ---------------------------------------------------------------------------------------------
# object_from
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filename, expected", [
    ("NGC_4826_NA_CUBE_THINGS.FITS", "NGC 4826"),
    ("NGC4826_hera_co21.cube.fits", "NGC 4826"),
    ("ngc4826.co10.fits", "NGC 4826"),
    ("NGC0628_hera_co21.cube.fits", "NGC 628"),
    ("M51_co10_cube.fits", "M51"),
    ("m51a_ha.fits", "M51a"),
    ("DDO154_NA_CUBE.fits", "DDO 154"),
    ("DDO_53_NA_CUBE_THINGS.FITS", "DDO 53"),
    ("IC342.co.cmmsk.fits", "IC 342"),
    ("ic342.co10.fits", "IC 342"),
    ("IC_2574_NA_CUBE_THINGS.FITS", "IC 2574"),
    ("n628_co21_mom0.fits", "NGC 628"),
    ("n0628.fits", "NGC 628"),
    ("UGC05720.fits", "UGC 5720"),
    ("HO_II_NA_CUBE_THINGS.FITS", "Holmberg II"),
    ("M81_DWA_NA_CUBE_THINGS.FITS", "M81 Dwarf A"),
    ("hera_ngc628_co21.fits", "NGC 628"),
    ("NGC628_m1.fits", "NGC 628"),           # a moment-1 map, not Messier 1
    ("NGC628_2.fits", "NGC 628"),            # a version, not a pair
    ("NGC5194_5195_co.fits", "NGC 5194/5195"),
    ("NGC_5194_NGC_5195.fits", "NGC 5194/5195"),
    ("NGC5194-5195.fits", "NGC 5194/5195"),
    ("paws_pdbi+30m_12co10_1as_cube.fits", None),
    ("n12_co.fits", None),                   # too short for an NGC number
    ("M0_map.fits", None),                   # there is no Messier 0
    ("M200_map.fits", None),                 # nor a Messier 200
    ("mom0.fits", None),
])
def test_names_from_survey_file_names(filename, expected):
    assert naming.name_from_filename(filename) == expected
    got = object_from(None, filename)
    assert got == ((expected, "file name") if expected else
                   (None, "no OBJECT keyword and no galaxy in the file name"))


def test_object_keyword_comes_first():
    assert object_from({"OBJECT": "NGC 5194"}, "paws_cube.fits") == ("NGC 5194", "OBJECT keyword")
    assert object_from({"OBJECT": "  M51  "}, "NGC_628_x.fits") == ("M51", "OBJECT keyword")
    # an empty or placeholder OBJECT names nothing: fall back to the file name
    for junk in ("", "   ", "UNKNOWN", "none", "N/A", "---"):
        assert object_from({"OBJECT": junk}, "NGC_628_x.fits") == ("NGC 628", "file name")
    assert object_from({"OBJECT": 42}, "NGC_628_x.fits") == ("NGC 628", "file name")


def test_candidates_lists_both_sources_for_cross_checks():
    got = naming.candidates({"OBJECT": "M74"}, "NGC_628_x.fits")
    assert got == [("M74", "OBJECT keyword"), ("NGC 628", "file name")]


@pytest.mark.parametrize("filename", ["NGC628_IC342.fits", "x_ngc628_ic342.fits",
                                      "M51_NGC5195.fits", "NGC628_co_NGC3184.fits"])
def test_ambiguous_file_names_are_errors(filename):
    with pytest.raises(AmbiguousName, match="several galaxies"):
        object_from(None, filename)
    # ...unless OBJECT says which
    assert object_from({"OBJECT": "NGC 628"}, filename) == ("NGC 628", "OBJECT keyword")


@pytest.mark.parametrize("text, members", [
    ("NGC 5194/5195", ["NGC 5194", "NGC 5195"]),
    ("NGC 5194 / NGC 5195", ["NGC 5194", "NGC 5195"]),
    ("NGC5194+NGC5195", ["NGC 5194", "NGC 5195"]),
    ("NGC5194_5195", ["NGC 5194", "NGC 5195"]),
    ("NGC 4038/4039", ["NGC 4038", "NGC 4039"]),
    ("NGC 4038/9", ["NGC 4038", "NGC 4039"]),
    ("NGC 5194/95", ["NGC 5194", "NGC 5195"]),
    ("M51/52", ["M51", "M52"]),
    ("Holmberg II/3", None),
    ("NGC 628/IC 342", ["NGC 628", "IC 342"]),
    ("NGC 5194", None), ("M51", None), ("Holmberg II", None), ("NGC628_2", None),
    ("NGC 5194/5194", None), ("paws", None),
])
def test_pair_members(text, members):
    assert pair_members(text) == members


def test_every_demo_file_names_its_galaxy():
    """The demo's survey file names (as published) give the demo's galaxy, OBJECT or not."""
    from sfng import demo

    for survey in demo.surveys():
        for df in survey.files:
            truth = demo.galaxy(df.galaxy).ned_name
            cand, how = object_from(df.header, df.name)
            assert how == "OBJECT keyword"
            assert demo.galaxy(cand).ned_name == truth
            from_name = naming.name_from_filename(df.name)
            if survey.name != "PAWS":
                assert demo.galaxy(from_name).ned_name == truth, df.name
