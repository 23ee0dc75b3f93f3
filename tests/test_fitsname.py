"""sfng.fitsname: the one FITS-name rule, and every reader of names asking it."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfng import fitsname as F

FITS = ["a.fits", "a.fit", "a.fts", "a.fits.gz", "a.fit.gz", "a.fts.gz", "a.fits.fz", "a.fit.fz",
        "a.fts.fz", "a.fz", "NGC_628.co21.FITS", "X.FTS", "x.Fits.Gz", "x.FITS.FZ", "..fits", "a.fits.fits"]
NOT_FITS = ["a.fits.bz2", "a.fits.Z", "a.fits.zip", "a.gz", "a.fz.gz", "a.h5", "a.hdf5",
            "a.txt", "a_README.txt", ".fits", ".fits.gz", ".FTS", ".fz", "fits", "afits", "a.fitsx", "",
            "a.fits ", "a.f its"]


@pytest.mark.parametrize("name", FITS)
def test_fits_names(name):
    assert F.is_fits_name(name)


@pytest.mark.parametrize("name", NOT_FITS)
def test_not_fits_names(name):
    assert not F.is_fits_name(name) and F.fits_stem(name) is None and F.fits_suffix(name) is None
    assert not F.is_compressed_name(name) and not F.is_gzip_name(name)


@pytest.mark.parametrize("name,stem,suffix", [
    ("ngc628_co21_noise.fits", "ngc628_co21_noise", ".fits"), ("a.noise.FITS.GZ", "a.noise", ".FITS.GZ"),
    ("x.fits.fz", "x", ".fits.fz"), ("x.fz", "x", ".fz"), ("a.fits.fits", "a.fits", ".fits"),
    ("NGC_628.x.Fit", "NGC_628.x", ".Fit"), ("..fits", ".", ".fits"),
    ("a.gz.fits", "a.gz", ".fits"), (".fits.fz", ".fits", ".fz"),   # a stem, then a bare .fz
])
def test_stem_and_suffix(name, stem, suffix):
    assert F.fits_stem(name) == stem and F.fits_suffix(name) == suffix
    assert F.fits_stem(name) + F.fits_suffix(name) == name


@pytest.mark.parametrize("name,fz,gz", [("a.fits.fz", True, False), ("a.FZ", True, False),
                                        ("a.fits.gz", False, True), ("a.fits", False, False)])
def test_compression_by_name(name, fz, gz):
    assert F.is_compressed_name(name) is fz and F.is_gzip_name(name) is gz


def test_rule_is_data():
    assert F.FITS_EXTENSIONS == (".fits", ".fit", ".fts") and F.COMPRESSION_SUFFIXES == (".gz", ".fz")
    assert set(F.FITS_SUFFIXES) == {e + c for e in F.FITS_EXTENSIONS for c in ("", ".gz", ".fz")} | {".fz"}
    assert list(F.FITS_SUFFIXES) == sorted(F.FITS_SUFFIXES, key=len, reverse=True)
    assert all(s == s.lower() for s in F.FITS_SUFFIXES)


#: The index's rule before sfng.fitsname (describe._FITS_NAME): the new rule must keep its
#: answers for every name that does not end in .fz.
_OLD_INDEX_RULE = re.compile(r"^(?P<stem>.+?)\.(?:fits?|fts)(?:\.gz)?$", re.IGNORECASE)


@given(st.text(alphabet="aFfItTsSgGzZ._-x", max_size=14))
def test_keeps_the_index_rule_for_names_without_fz(name):
    if name.lower().endswith(".fz"):
        return
    m = _OLD_INDEX_RULE.match(name)
    assert F.fits_stem(name) == (m.group("stem") if m else None)


def test_one_rule_everywhere():
    """The validator, the index crawler and the describe step all answer with sfng.fitsname."""
    from sfng.index import build, describe
    from sfng.validate import reader

    assert reader.is_fits_name is F.is_fits_name
    assert describe.is_fits_name is F.is_fits_name and describe.fits_stem is F.fits_stem
    for name in FITS + NOT_FITS:
        if name.startswith("."):
            continue  # hidden files are never indexed, whatever their suffix
        if name.lower().endswith((".h5", ".hdf5")):
            continue  # a registered format may claim those
        assert build._is_candidate(name) == F.is_fits_name(name), name
    for gone in ("FITS_SUFFIXES",):
        assert not hasattr(reader, gone)
    assert not hasattr(describe, "_FITS_NAME")


def test_companions_follow_the_rule():
    from sfng.index import describe as D

    got = D.pair_companions(["a.fits.fz", "a_noise.fits.fz", "b.fz", "b.error.fits.gz", "c.fits.bz2"])
    assert got["a.fits.fz"] == ("product", "a_noise.fits.fz") and got["a_noise.fits.fz"] == ("noise", "a.fits.fz")
    assert got["b.fz"] == ("product", "b.error.fits.gz")
    assert "c.fits.bz2" not in got


def test_module_imports_nothing_from_sfng():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(F.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = ("sfng." if node.level else "") + (node.module or "")
            assert module == "__future__" or not module.startswith("sfng") or module == "sfng.errors"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("sfng") for a in node.names)
