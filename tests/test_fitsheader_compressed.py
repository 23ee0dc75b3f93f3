"""Tile-compressed images (.fits.fz): the image header sfng.fitsheader makes of the BINTABLE must
be astropy's CompImageHDU header, card for card; the index row of x.fits.fz must be x.fits's."""

import math
import warnings

import numpy as np
import pytest
from astropy.io import fits

from sfng.fitsheader import (compressed_image_block, image_blocks, image_view, is_compressed_image,
                             parse_cards, read_headers)

RA, DEC = 24.1739, 15.7836   # NGC 628


def _same(a, b):
    if isinstance(b, fits.card.Undefined):
        b = None
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def survey_header(shape, *, spectral="FREQ", bunit="Jy/beam", beam=True, extra=None):
    """A radio-survey header for data of numpy ``shape`` (2-D image or 3-D cube)."""
    ny, nx = shape[-2:]
    h = fits.Header()
    h["OBJECT"] = "NGC 628"
    h["TELESCOP"] = "ALMA"
    if bunit:
        h["BUNIT"] = bunit
    if beam:
        h["BMAJ"], h["BMIN"], h["BPA"] = 1.2 / 3600, 0.9 / 3600, 35.0
    h.update({"CTYPE1": "RA---SIN", "CRVAL1": RA, "CDELT1": -0.2 / 3600, "CRPIX1": nx / 2 + 0.5,
              "CUNIT1": "deg", "CTYPE2": "DEC--SIN", "CRVAL2": DEC, "CDELT2": 0.2 / 3600,
              "CRPIX2": ny / 2 + 0.5, "CUNIT2": "deg"})
    if len(shape) == 3:
        if spectral == "FREQ":
            h.update({"CTYPE3": "FREQ", "CRVAL3": 230.538e9, "CDELT3": -1.9e6, "CRPIX3": 1.0,
                      "CUNIT3": "Hz", "SPECSYS": "LSRK"})
        else:
            h.update({"CTYPE3": "VRAD", "CRVAL3": 657000.0, "CDELT3": 2540.0, "CRPIX3": 1.0,
                      "CUNIT3": "m/s", "SPECSYS": "LSRK"})
        h["RESTFRQ"] = 230.538e9
    h.update(extra or {})
    return h


def _cube(shape, seed=0, dtype="f4"):
    return np.random.default_rng(seed).normal(0.0, 0.01, size=shape).astype(dtype)


def _write_astropy(path, data, header, *, primary=True, checksum=False, **comp):
    """``data`` tile-compressed by astropy; ``primary``: the image was a primary HDU (ZSIMPLE)."""
    base = (fits.PrimaryHDU if primary else fits.ImageHDU)(data, header.copy()).header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = fits.CompImageHDU(data, base, **comp)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True, checksum=checksum)
    return path


def _write_cfitsio(path, data, header, **comp):
    """``data`` tile-compressed by cfitsio (what fpack writes), through fitsio."""
    fitsio = pytest.importorskip("fitsio")
    recs = [{"name": c.keyword, "value": c.value} for c in header.cards
            if c.keyword not in ("HISTORY", "COMMENT", "")]
    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.write(data, header=recs, **comp)
    return path


def _cases():
    img, cube = (40, 48), (6, 20, 24)
    long_text = "a long history of this cube, " * 6
    hist = survey_header(cube)
    hist.add_history("reduced with CASA 6.5")
    hist.add_comment("PHANGS-ALMA style cube")
    hist["ORIGIN"] = long_text            # a long string: CONTINUE cards
    hist.append(fits.Card())              # blank cards at the end
    hist.append(fits.Card())
    ints = survey_header(img, bunit="K", extra={"BLANK": -32768})
    return [
        ("rice-2d-quantized", "astropy", (img, "f4"), survey_header(img), {"compression_type": "RICE_1"}),
        ("rice-cube-freq", "astropy", (cube, "f4"), survey_header(cube), {"compression_type": "RICE_1"}),
        ("gzip-cube-vrad-lossless", "astropy", (cube, "f4"), survey_header(cube, spectral="VRAD"),
         {"compression_type": "GZIP_1", "quantize_level": 0.0}),
        ("gzip2-cube-no-bunit-no-beam", "astropy", (cube, "f4"), survey_header(cube, bunit=None, beam=False),
         {"compression_type": "GZIP_2"}),
        ("dither2-extension", "astropy", (cube, "f4"), survey_header(cube, extra={"EXTNAME": "SCI"}),
         {"compression_type": "RICE_1", "quantize_method": 2, "dither_seed": 17, "_primary": False}),
        ("hcompress-2d", "astropy", (img, "f4"), survey_header(img), {"compression_type": "HCOMPRESS_1"}),
        ("int16-blank-scaled", "astropy", (img, "i2"), ints, {"compression_type": "RICE_1"}),
        ("plio-int", "astropy", (img, "i4"), survey_header(img, bunit=None), {"compression_type": "PLIO_1"}),
        ("checksums", "astropy", (cube, "f4"), survey_header(cube), {"compression_type": "RICE_1", "_checksum": True}),
        ("history-long-string-blanks", "astropy", (cube, "f4"), hist, {"compression_type": "GZIP_1"}),
        ("cfitsio-rice-dithered", "cfitsio", (cube, "f4"), survey_header(cube), {"compress": "RICE"}),
        ("cfitsio-gzip", "cfitsio", (cube, "f4"), survey_header(cube, spectral="VRAD"), {"compress": "GZIP"}),
        ("cfitsio-gzip2-lossless", "cfitsio", (cube, "f4"), survey_header(cube), {"compress": "GZIP_2", "qlevel": 0}),
        ("cfitsio-hcompress-2d", "cfitsio", (img, "f4"), survey_header(img), {"compress": "HCOMPRESS"}),
        ("cfitsio-rice-int16", "cfitsio", (img, "i2"), survey_header(img, bunit="K"), {"compress": "RICE"}),
    ]


CASES = _cases()


def _write_case(tmp_path, case):
    name, writer, (shape, dtype), header, comp = case
    comp = dict(comp)
    data = _cube(shape, dtype="f4")
    if dtype != "f4":
        data = (data * 1e5).astype(dtype)
    if comp.get("compression_type") == "PLIO_1":
        data = np.abs(data)   # PLIO packs non-negative integers below 2**24
    path = tmp_path / f"{name}.fits.fz"
    if writer == "astropy":
        if dtype == "i2":
            header = header.copy()
            header["BSCALE"], header["BZERO"] = 0.5, 10.0
        primary, checksum = comp.pop("_primary", True), comp.pop("_checksum", False)
        return _write_astropy(path, data, header, primary=primary, checksum=checksum, **comp), data
    return _write_cfitsio(path, data, header, **comp), data


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_image_header_matches_astropy_compimagehdu(tmp_path, case):
    path, _ = _write_case(tmp_path, case)
    raw = read_headers(path)
    assert is_compressed_image(raw[1]) and not is_compressed_image(raw[0])
    blocks = image_view(raw)
    img = blocks[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path) as hl:
            assert isinstance(hl[1], fits.CompImageHDU)
            theirs = [(c.keyword, c.value) for c in hl[1].header.cards]
            shape = hl[1].data.shape
    ours = list(img.cards)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    for (k, v1), (_, v2) in zip(ours, theirs):
        assert _same(v1, v2), (k, v1, v2)
    # the block is the image: shape, kind, place in the file, and a text that parses to its cards
    assert img.shape == tuple(reversed(shape)) and img.index == 1
    assert (img.xtension is None) == ("SIMPLE" in img.header)
    assert (img.offset, img.data_offset, img.data_size) == (raw[1].offset, raw[1].data_offset, raw[1].data_size)
    assert img.text.endswith("END" + " " * 77) and len(img.text) % 80 == 0
    assert parse_cards(img.text[:-80]) == img.cards
    assert image_blocks(blocks) == [img] and image_blocks(raw) == []
    assert not any(k.startswith(("ZTILE", "ZCMPTYPE", "ZQUANTIZ", "TFORM", "TTYPE", "ZIMAGE"))
                   for k, _ in ours)


@pytest.mark.parametrize("case", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_image_header_gives_astropy_wcs(tmp_path, case):
    """The validator hands the image text to WCSLIB: the same WCS as astropy's header gives."""
    from astropy.wcs import WCS

    path, _ = _write_case(tmp_path, case)
    img = compressed_image_block(read_headers(path)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = WCS(fits.Header.fromstring(img.text))
        with fits.open(path) as hl:
            theirs = WCS(hl[1].header)
    assert list(ours.wcs.ctype) == list(theirs.wcs.ctype) and np.allclose(ours.wcs.crval, theirs.wcs.crval)
    assert np.allclose(ours.pixel_scale_matrix, theirs.pixel_scale_matrix)


def test_not_compressed_blocks_are_left_alone(tmp_path):
    p = tmp_path / "t.fits"
    t = fits.BinTableHDU.from_columns([fits.Column("FLUX", "E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 5), "f4")), t]).writeto(p)
    blocks = read_headers(p)
    assert image_view(blocks) is blocks
    assert compressed_image_block(blocks[0]) is None and compressed_image_block(blocks[1]) is None


def test_broken_compression_cards_leave_the_table(tmp_path):
    """A ZIMAGE table without ZBITPIX (astropy cannot show that image either) stays a table."""
    p = _write_astropy(tmp_path / "b.fits.fz", _cube((8, 9)), survey_header((8, 9)))
    raw = bytearray(p.read_bytes())
    i = raw.index(b"ZBITPIX =")
    raw[i:i + 8] = b"XBITPIX "
    p.write_bytes(bytes(raw))
    blocks = read_headers(p)
    assert is_compressed_image(blocks[1]) and compressed_image_block(blocks[1]) is None
    assert image_view(blocks) is blocks


# ------------------------------------------------------------------ the index row of .fz

#: Row columns that say where the file is, not what it holds.
_WHERE = {"path", "size", "mtime", "sha256", "hdu"}


def _describe(tmp_path, rel, *, measure_depth=False):
    from sfng.index import describe as D
    from sfng.tracers import vocabulary

    ctx = D.Context(root=str(tmp_path), relpath=rel, tree="data", survey="PHANGS", validate=True,
                    tracers=vocabulary(), measure_depth=measure_depth)
    (row,) = D.describe_file(ctx)
    return row


def _same_row(a, b):
    bad = []
    for k in a:
        if k in _WHERE:
            continue
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12)):
                bad.append((k, x, y))
        elif isinstance(x, list):
            if not np.allclose(np.asarray(x, float), np.asarray(y, float), rtol=1e-12, equal_nan=True):
                bad.append((k, x, y))
        elif x != y:
            bad.append((k, x, y))
    return bad


ROW_CASES = [
    ("image-2d", (40, 48), {}, {"compression_type": "RICE_1"}),
    ("cube-freq", (6, 20, 24), {}, {"compression_type": "RICE_1"}),
    ("cube-vrad-lossless", (6, 20, 24), {"spectral": "VRAD"},
     {"compression_type": "GZIP_1", "quantize_level": 0.0}),
    ("cube-no-bunit-no-beam", (6, 20, 24), {"bunit": None, "beam": False}, {"compression_type": "GZIP_2"}),
    ("cube-quantized-dithered", (6, 20, 24), {"extra": {"BUNIT": "K"}},
     {"compression_type": "RICE_1", "quantize_method": 2, "quantize_level": 4.0}),
]


@pytest.mark.parametrize("name,shape,hkw,comp", ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_fz_row_is_the_uncompressed_row(tmp_path, name, shape, hkw, comp):
    folder = tmp_path / "data" / "PHANGS"
    folder.mkdir(parents=True)
    data, header = _cube(shape), survey_header(shape, **hkw)
    fits.PrimaryHDU(data, header).writeto(folder / f"NGC_628.{name}.fits")
    _write_astropy(folder / f"NGC_628.{name}.fits.fz", data, header, **comp)
    plain = _describe(tmp_path, f"data/PHANGS/NGC_628.{name}.fits")
    packed = _describe(tmp_path, f"data/PHANGS/NGC_628.{name}.fits.fz")
    assert plain["hdu"] == 0 and packed["hdu"] == 1
    assert _same_row(plain, packed) == []
    # and the row says what the data are
    assert packed["product"] == ("cube" if len(shape) == 3 else "image") and packed["flag"] == 0
    assert packed["naxis"] == len(shape) and packed["naxis1"] == shape[-1] and packed["naxis2"] == shape[-2]
    assert packed["ra"] == pytest.approx(RA, abs=1e-3) and packed["foot_n"] >= 4
    assert packed["valid"] == plain["valid"] and packed["n_problems"] == plain["n_problems"]
    assert packed["galaxy"] == "NGC 628" and packed["object"] == "NGC 628"
    if hkw.get("beam", True):
        assert packed["res"] == pytest.approx(1.2) and packed["beam_src"] == "file"
    if len(shape) == 3:
        assert packed["tracer"] == plain["tracer"] == "CO(2-1)"


@pytest.mark.parametrize("lossless", [True, False])
def test_fz_depth_is_measured_through_astropy(tmp_path, lossless):
    folder = tmp_path / "data" / "PHANGS"
    folder.mkdir(parents=True)
    shape = (6, 20, 24)
    data, header = _cube(shape), survey_header(shape)
    fits.PrimaryHDU(data, header).writeto(folder / "NGC_628.co21.fits")
    comp = {"compression_type": "GZIP_1", "quantize_level": 0.0} if lossless else {"compression_type": "RICE_1"}
    _write_astropy(folder / "NGC_628.co21.fits.fz", data, header, **comp)
    plain = _describe(tmp_path, "data/PHANGS/NGC_628.co21.fits", measure_depth=True)
    packed = _describe(tmp_path, "data/PHANGS/NGC_628.co21.fits.fz", measure_depth=True)
    assert plain["depth_src"] == packed["depth_src"] == "measured" and packed["flag"] == 0
    assert math.isfinite(packed["rms_k"]) and math.isfinite(packed["depth_k"])
    if lossless:
        assert packed["rms_k"] == plain["rms_k"] and packed["depth_k"] == plain["depth_k"]
    else:   # quantized: the same noise to a few per cent
        assert packed["rms_k"] == pytest.approx(plain["rms_k"], rel=0.05)


def test_fz_noise_companion_gives_the_depth(tmp_path):
    folder = tmp_path / "data" / "PHANGS"
    folder.mkdir(parents=True)
    shape = (6, 20, 24)
    header = survey_header(shape)
    _write_astropy(folder / "NGC_628.co21.fits.fz", _cube(shape), header, compression_type="RICE_1")
    _write_astropy(folder / "NGC_628.co21_noise.fits.fz", np.full(shape, 0.01, "f4"), header,
                   compression_type="GZIP_1", quantize_level=0.0)
    from sfng.index import describe as D

    roles = D.pair_companions([p.name for p in folder.iterdir()])
    assert roles["NGC_628.co21.fits.fz"] == ("product", "NGC_628.co21_noise.fits.fz")
    from sfng.tracers import vocabulary

    ctx = D.Context(root=str(tmp_path), relpath="data/PHANGS/NGC_628.co21.fits.fz", tree="data",
                    survey="PHANGS", validate=False, tracers=vocabulary(), measure_depth=True,
                    other="data/PHANGS/NGC_628.co21_noise.fits.fz")
    (row,) = D.describe_file(ctx)
    assert row["depth_src"] == "noise" and math.isfinite(row["rms_k"]) and row["flag"] == 0


def test_fz_with_damaged_data_is_depth_unknown_not_a_crash(tmp_path):
    folder = tmp_path / "data" / "PHANGS"
    folder.mkdir(parents=True)
    shape = (6, 20, 24)
    p = _write_astropy(folder / "NGC_628.co21.fits.fz", _cube(shape), survey_header(shape),
                       compression_type="RICE_1")
    raw = bytearray(p.read_bytes())
    b = read_headers(p)[1]
    start = b.data_offset + 6 * 8 * 20   # past the tile descriptors: scramble the compressed bytes
    raw[start:b.data_offset + b.data_size] = bytes(b.data_offset + b.data_size - start)
    raw[b.data_offset:b.data_offset + 64] = b"\xff" * 64      # and the descriptors themselves
    p.write_bytes(bytes(raw))
    row = _describe(tmp_path, "data/PHANGS/NGC_628.co21.fits.fz", measure_depth=True)
    assert row["product"] == "cube" and row["naxis3"] == 6        # the header row stands
    from sfng.index.schema import FLAG_DEPTH_ERROR

    assert row["depth_src"] == "" and not math.isfinite(row["rms_k"])   # depth unknown, flagged
    assert row["flag"] & FLAG_DEPTH_ERROR and "measure-depth" in row["error"]
