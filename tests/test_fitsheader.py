"""sfng.fitsheader: every value it reads must equal astropy.io.fits.Header's, on real and generated headers."""

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfng.errors import SfngError
from sfng.fitsheader import FitsHeaderError, image_blocks, parse_cards, read_header, read_headers

CORPUS = Path(__file__).parent / "data" / "corpus"
RAW_HEADERS = sorted((CORPUS / "wcs").glob("*/*.hdr"))  # raw 80-column card images, no padding
MANGA = {d.name: sorted(d.glob("*.hdr")) for d in sorted((CORPUS / "manga" / "headers-dr17").iterdir())}


def _same(a, b):
    if isinstance(b, fits.card.Undefined):  # astropy's "no value" marker; we say None
        b = None
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def assert_matches_astropy(cards, header):
    """Every card, in order: same keyword, same value, same Python type."""
    theirs = [(c.keyword, c.value) for c in header.cards]
    ours = [(k, v) for k, v in cards]
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for (k1, v1), (k2, v2) in zip(ours, theirs):
        assert k1 == k2
        assert _same(v1, v2), (k1, v1, v2)
    # The Mapping view answers like astropy for every non-commentary keyword.
    view = None
    for k, v in theirs:
        if k in ("HISTORY", "COMMENT", ""):
            continue
        view = view or __import__("sfng.fitsheader", fromlist=["FitsHeader"]).FitsHeader(cards)
        assert _same(view[k], header[k]), k


def write_fits(path, headers, sparse=True):
    """Write a FITS file from astropy Headers: header blocks + zero data of the declared size.

    Data are written as a sparse hole when possible, so a 20 MB cube costs nothing.
    """
    with open(path, "wb") as f:
        for h in headers:
            f.write(h.tostring().encode("ascii"))
            size = _data_size(h)
            padded = -(-size // 2880) * 2880
            if sparse:
                f.seek(padded, 1)
            else:
                f.write(b"\0" * padded)
        f.truncate()
    return path


def _data_size(h):
    n = h.get("NAXIS", 0)
    if not n:
        return 0
    size = abs(h["BITPIX"]) // 8
    for i in range(1, n + 1):
        size *= h[f"NAXIS{i}"]
    return size * h.get("GCOUNT", 1) + abs(h["BITPIX"]) // 8 * h.get("PCOUNT", 0) * h.get("GCOUNT", 1)


# ------------------------------------------------------------------------- real corpus

@pytest.mark.parametrize("hdr", RAW_HEADERS, ids=lambda p: p.name)
def test_corpus_wcs_headers_match_astropy(hdr, tmp_path):
    header = fits.Header.fromstring(hdr.read_bytes().decode("ascii"))
    path = write_fits(tmp_path / "x.fits", [header])
    blocks = read_headers(path)
    assert len(blocks) == 1
    assert_matches_astropy(blocks[0].cards, header)
    with fits.open(path) as hl:
        assert_matches_astropy(blocks[0].cards, hl[0].header)
        assert blocks[0].data_offset == hl[0]._data_offset
        assert blocks[0].next_offset - blocks[0].data_offset == hl[0]._data_size


@pytest.mark.parametrize("name", sorted(MANGA))
def test_corpus_manga_multi_extension_matches_astropy(name, tmp_path):
    headers = [fits.Header.fromtextfile(p) for p in MANGA[name]]
    path = write_fits(tmp_path / f"{name}.fits", headers)
    blocks = read_headers(path)
    assert len(blocks) == len(headers)
    with fits.open(path) as hl:
        assert len(hl) == len(blocks)
        for b, hdu, h in zip(blocks, hl, headers):
            assert_matches_astropy(b.cards, hdu.header)
            assert_matches_astropy(b.cards, h)
            assert b.offset == hdu._header_offset
            assert b.data_offset == hdu._data_offset
            assert b.next_offset - b.data_offset == hdu._data_size
            assert b.extname == hdu.header.get("EXTNAME")
    # max_hdus stops early
    assert [b.index for b in read_headers(path, max_hdus=3)] == [0, 1, 2]


def test_manga_cube_gzip_reads_only_what_it_needs(tmp_path):
    headers = [fits.Header.fromtextfile(p) for p in MANGA["manga-8485-1901-LOGCUBE"]]
    # shrink the cube so the gzip stream is quick to write; keep the real cards otherwise
    for h in headers:
        if h.get("NAXIS", 0) >= 3:
            h["NAXIS3"] = 50
    plain = write_fits(tmp_path / "cube.fits", headers, sparse=False)
    gz = tmp_path / "cube.fits.gz"
    with gzip.open(gz, "wb", compresslevel=1) as f:
        f.write(plain.read_bytes())
    a, b = read_headers(plain), read_headers(gz)
    assert [x.cards for x in a] == [x.cards for x in b]
    assert [(x.offset, x.data_offset, x.data_size) for x in a] == [
        (x.offset, x.data_offset, x.data_size) for x in b]
    assert read_headers(gz, max_hdus=2)[1].extname == "FLUX"
    assert read_header(gz, 1)["CTYPE3"] == "WAVE-LOG"
    assert [x.extname for x in image_blocks(a)][:2] == ["FLUX", "IVAR"]


# -------------------------------------------------------------------- generated cards

def _tricky_header():
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = -32
    h["NAXIS"] = 3
    h["NAXIS1"], h["NAXIS2"], h["NAXIS3"] = 5, 4, 3
    h["EXTEND"] = True
    h["OBJECT"] = "NGC 5194/5195"  # a slash inside a string is not a comment
    h["QUOTE"] = "it's O''Brien's"  # '' escapes, including a doubled one
    h["LEAD"] = "   leading blanks kept"
    h["EMPTY"] = ""
    h["BLANKS"] = "     "
    h["LONGSTR"] = ("The HI Nearby Galaxy Survey (THINGS), Walter et al. 2008, AJ 136, 2563; "
                    "natural weighting, primary-beam corrected, it's long & has quotes '' too")
    h["LONGAMP"] = "x" * 70 + "&&" + "y" * 30  # ampersands inside a continued string
    h["HIERARCH ESO DET CHIP NAME"] = "CCD-44"
    h["HIERARCH ESO TEL AIRM START"] = 1.234
    h["HIERARCH Mixed Case Key"] = 7
    h["FLAGT"], h["FLAGF"] = True, False
    h["INT"], h["NEG"], h["BIG"] = 42, -7, 2**62
    h["FLOAT"] = 1.4204057517667e9
    h["TINY"] = -1.5e-300
    h["UNDEF"] = None
    h["CPLX"] = complex(1.5, -2.0)
    h["RESTFREQ"] = 1.420405752e9
    h["BMAJ"] = (4.1667e-3, "Beam major axis in degrees / with a slash")
    h.add_history("AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")
    h.add_comment("a comment with 'quotes' and = signs")
    h.add_blank("blank keyword card")
    h["INT"] = 43  # update in place
    h.append(("DUPKEY", 1))
    h.append(("DUPKEY", 2))  # duplicate: the view answers the first, like astropy
    return h


def _raw_cards(*images):
    return fits.Header.fromstring("".join(i.ljust(80) for i in images) + "END".ljust(80))


def test_generated_tricky_cards_match_astropy(tmp_path):
    h = _tricky_header()
    path = write_fits(tmp_path / "t.fits", [h], sparse=False)
    (b,) = read_headers(path)
    assert_matches_astropy(b.cards, fits.getheader(path))
    v = b.header
    assert v["LONGSTR"] == h["LONGSTR"] and v["LONGAMP"] == h["LONGAMP"]
    assert v["QUOTE"] == "it's O''Brien's"
    assert v["ESO DET CHIP NAME"] == v["HIERARCH ESO DET CHIP NAME"] == "CCD-44"
    assert v["mixed case key"] == 7
    assert v["DUPKEY"] == 1
    assert v["UNDEF"] is None and "UNDEF" in v
    assert v.history == ["AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58"]
    assert b.shape == (5, 4, 3) and b.data_size == 5 * 4 * 3 * 4


def test_hand_written_card_images_match_astropy():
    images = [
        "SIMPLE  =                    T",
        "DEXP    =            1.234D+05 / Fortran D exponent",
        "LOWEXP  =              2.5e-03",
        "SPACED  = -  12",
        "FREEINT =         00042",
        "FREESTR =      'free format string'   / comment",
        "CPLXD   = (1.0D2, -3)",
        "LOGIC   =           T / true",
        "QUOTED  = 'a''b'",
        "SLASHES = '//not a comment//' / but this is",
        "NOSPACE = 'x'/comment right after",
        "TRAIL   = 'ends in blanks      '",
        "LONG    = 'first part &'",
        "CONTINUE  'second part &' / comment one",
        "CONTINUE  'last part' / comment two",
        "HIERARCH ESO INS FILT1 NAME = 'Halpha' / hierarch string",
        "HISTORY   indented history text",
        "COMMENT",
        "        blank keyword commentary",
    ]
    header = _raw_cards(*images)
    text = "".join(i.ljust(80) for i in images)
    cards = parse_cards(text)
    assert_matches_astropy(cards, header)
    d = dict(cards)
    assert d["DEXP"] == 1.234e5 and d["SPACED"] == -12 and d["CPLXD"] == complex(100, -3)
    assert d["LONG"] == "first part second part last part"


printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=150)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    strings=st.lists(printable, min_size=1, max_size=4),
    ints=st.lists(st.integers(-2**63, 2**63 - 1), max_size=3),
    floats=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=3),
)
def test_round_trip_property(strings, ints, floats):
    """Whatever astropy writes, we read back as written, and as astropy reads it.

    One known difference: astropy's string regex closes a string at a quote followed by
    a slash even when that quote is half of a doubled-quote escape (the card value
    ``'''/ '`` reads as a lone quote); we follow the standard and read quote-slash.  Such
    cards are compared with the written value only.
    """
    h = fits.Header()
    for i, s in enumerate(strings):
        h[f"S{i}"] = s
    for i, v in enumerate(ints):
        h[f"I{i}"] = v
    for i, v in enumerate(floats):
        h[f"F{i}"] = v
    h[f"HIERARCH SFNG TEST KEY {len(strings)}"] = strings[0][:20]
    text = h.tostring()
    again = fits.Header.fromstring(text)
    cards = parse_cards(text[: text.index("END" + " " * 77)])
    assert [k for k, _ in cards] == [c.keyword for c in again.cards]
    for (k, ours), card, theirs in zip(cards, h.cards, again.cards):
        written = card.value
        if isinstance(written, str):  # numbers may lose digits in 20 columns; strings may not
            assert ours == written.rstrip(), (k, ours, written)
        if "''/" not in card.image:
            assert _same(ours, theirs.value), (k, ours, theirs.value)


# --------------------------------------------------------------------------- bad files

def _write(path, data):
    path.write_bytes(data)
    return path


def test_errors_are_clear(tmp_path):
    good = fits.Header({"SIMPLE": True, "BITPIX": 16, "NAXIS": 2, "NAXIS1": 100, "NAXIS2": 100})
    cases = {
        "zero-byte": b"",
        "not a FITS file": b"hello world, this is not FITS\n" * 200,
        "no END card": good.tostring().encode()[:400].ljust(2800, b" "),
        "truncated data": good.tostring().encode() + b"\0" * 500,
        "invalid NAXIS": fits.Header({"SIMPLE": True, "BITPIX": 16, "NAXIS": 5000}).tostring().encode(),
        "invalid BITPIX": fits.Header({"SIMPLE": True, "BITPIX": 12, "NAXIS": 0}).tostring().encode(),
        "invalid or missing NAXIS2": fits.Header(
            {"SIMPLE": True, "BITPIX": 8, "NAXIS": 2, "NAXIS1": 3, "NAXIS2": -4}).tostring().encode(),
        "absurd data size": fits.Header(
            {"SIMPLE": True, "BITPIX": -64, "NAXIS": 3, "NAXIS1": 10**6, "NAXIS2": 10**6,
             "NAXIS3": 10**6}).tostring().encode(),
    }
    for reason, data in cases.items():
        p = _write(tmp_path / f"{reason.replace(' ', '_')}.fits", data)
        with pytest.raises(FitsHeaderError) as exc:
            read_headers(p)
        assert isinstance(exc.value, SfngError)
        assert str(p) in str(exc.value) and reason in str(exc.value), str(exc.value)
    with pytest.raises(FitsHeaderError, match="cannot open"):
        read_headers(tmp_path / "missing.fits")
    gz = tmp_path / "trunc.fits.gz"
    gz.write_bytes(gzip.compress(good.tostring().encode() + b"\0" * 20000)[:-200])
    with pytest.raises(FitsHeaderError):
        read_headers(gz)


def test_trailing_padding_is_ignored(tmp_path):
    hdu = fits.PrimaryHDU(np.zeros((3, 4), dtype=">f4"))
    p = tmp_path / "p.fits"
    hdu.writeto(p)
    with open(p, "ab") as f:
        f.write(b"\0" * 2880)
    (b,) = read_headers(p)
    assert b.shape == (4, 3) and b.header["BITPIX"] == -32


def test_benchmark_generator_files_match_astropy(tmp_path):
    """The synthetic store of the benchmarks (CONTINUE, HIERARCH, MEF, .gz) reads as astropy reads it."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        from common import make_files
    finally:
        sys.path.pop(0)
    paths = make_files(tmp_path / "set", 24, seed=3, gzip_every=6)
    assert sum(p.name.endswith(".gz") for p in paths) == 4
    for p in paths:
        blocks = read_headers(p)
        with fits.open(p) as hl:
            assert len(hl) == len(blocks)
            for b, hdu in zip(blocks, hl):
                assert_matches_astropy(b.cards, hdu.header)


def test_gzip_with_many_small_hdus(tmp_path):
    """Small HDUs in a .gz: every header found, in one forward pass."""
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(np.full((3, 5), i, dtype=">i2"), name=f"E{i}")
                                  for i in range(40)]
    plain = tmp_path / "many.fits"
    fits.HDUList(hdus).writeto(plain)
    gz = tmp_path / "many.fits.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_headers(plain), read_headers(gz)
    assert len(b) == 41 and [x.extname for x in b][1:3] == ["E0", "E1"]
    assert [(x.cards, x.offset, x.data_size) for x in a] == [(x.cards, x.offset, x.data_size) for x in b]


def test_header_only_file_without_padding(tmp_path):
    """A NAXIS = 0 file cut right after END (no padding) is readable, as astropy reads it."""
    h = fits.Header({"SIMPLE": True, "BITPIX": 8, "NAXIS": 0, "OBJECT": "NGC 628"})
    p = tmp_path / "short.fits"
    p.write_bytes(h.tostring().encode().rstrip(b" ") .ljust(80 * (len(h) + 1), b" "))
    (b,) = read_headers(p)
    assert b.header["OBJECT"] == "NGC 628" and b.data_size == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_only_fits_header_errors(tmp_path, data):
    """Bytes changed anywhere in a two-HDU file: the reader answers or raises FitsHeaderError."""
    h0 = fits.Header({"SIMPLE": True, "BITPIX": 16, "NAXIS": 2, "NAXIS1": 10, "NAXIS2": 7,
                      "EXTEND": True, "OBJECT": "NGC 628", "CDELT1": -1e-4})
    h1 = fits.Header({"XTENSION": "IMAGE", "BITPIX": -32, "NAXIS": 1, "NAXIS1": 30, "PCOUNT": 0,
                      "GCOUNT": 1, "EXTNAME": "ERR"})
    raw = bytearray(h0.tostring().encode() + bytes(2880) + h1.tostring().encode() + bytes(2880))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.sampled_from(b"0123456789 -+.'=/TFEDX()&\x00\xff"))
    cut = data.draw(st.sampled_from([len(raw), len(raw) - 100, 3000, 6000, 8000]))
    p = tmp_path / "damaged.fits"
    p.write_bytes(bytes(raw[:cut]))
    try:
        blocks = read_headers(p)
    except FitsHeaderError:
        return
    for b in blocks:
        dict(b.header)  # the view builds


def test_recent_files_are_reused_only_while_unchanged(tmp_path, monkeypatch):
    import os

    import sfng.fitsheader as fh

    p = tmp_path / "r.fits"
    fits.PrimaryHDU(np.zeros((2, 2), ">f4"), header=fits.Header({"OBJECT": "A"})).writeto(p)
    # a file written just now is never served from memory (same size, same coarse time)
    assert read_headers(p)[0] is not read_headers(p)[0]
    monkeypatch.setattr(fh, "_SETTLED_NS", 0)  # as if written long ago
    first = read_headers(p)
    assert read_headers(p)[0] is first[0]  # the crawler and the validator share one read
    fits.PrimaryHDU(np.zeros((2, 2), ">f4"), header=fits.Header({"OBJECT": "B"})).writeto(p, overwrite=True)
    os.utime(p, ns=(10**18, 10**18))  # a distinct time: within one clock tick the check is racy
    assert read_headers(p)[0].header["OBJECT"] == "B"


def test_card_memo_never_continues_an_unquoted_value():
    """A value card parsed from the memo CONTINUEs exactly when a fresh parse would (only a
    quoted string does; found by a review)."""
    from sfng.fitsheader import _CARDS, parse_cards

    text = "BAD     = abc&".ljust(80) + "CONTINUE  'xyz'".ljust(80)
    _CARDS.clear()
    first = parse_cards(text)
    second = parse_cards(text)
    assert first == second
