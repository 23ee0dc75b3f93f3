"""describe: noise companions, the described HDU, product types."""

import pytest

from sfng.index import describe as D


@pytest.mark.parametrize("name,base", [
    ("ngc0628_12m+7m+tp_co21_noise.fits", "ngc0628_12m+7m+tp_co21"),   # PHANGS
    ("NGC_628.x_error.fits", "NGC_628.x"), ("a.noise.fits", "a"), ("a.noise.fits.gz", "a"),
    ("b-ERROR.FITS", "b"), ("c.fits", None), ("noise.fits", None), ("x_noisy.fits", None),
    ("readme.txt", None),
])
def test_companion_of(name, base):
    assert D.companion_of(name) == base


def test_pair_companions():
    got = D.pair_companions(["a.fits", "a_noise.fits", "b.fits.gz", "b.error.fits", "orphan_noise.fits",
                             "c.fits", "notes.txt"])
    assert got["a.fits"] == ("product", "a_noise.fits") and got["a_noise.fits"] == ("noise", "a.fits")
    assert got["b.fits.gz"] == ("product", "b.error.fits")
    assert got["orphan_noise.fits"] == ("noise", "") and got["c.fits"] == ("product", "")
    assert "notes.txt" not in got


def test_extension_inherits_primary_keys_and_is_described(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sfng.fitsheader import read_headers

    prim = fits.PrimaryHDU()
    prim.header.update({"TELESCOP": "HST", "INSTRUME": "ACS", "FILTER": "Ha", "BUNIT": "WRONG"})
    sci = fits.ImageHDU(np.zeros((8, 10), "f4"), name="SCI")
    sci.header.update({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 10.0, "CRVAL2": 20.0,
                       "CDELT1": -1e-4, "CDELT2": 1e-4, "CRPIX1": 5, "CRPIX2": 4, "BUNIT": "ELECTRONS/S"})
    err = fits.ImageHDU(np.zeros((8, 10), "f4"), name="ERR")
    p = tmp_path / "data" / "HST" / "NGC_628.f658n.fits"
    p.parent.mkdir(parents=True)
    fits.HDUList([prim, sci, err]).writeto(p)
    blocks = read_headers(p)
    assert D.data_block(blocks).index == 1
    from sfng.tracers import vocabulary

    ctx = D.Context(root=str(tmp_path), relpath="data/HST/NGC_628.f658n.fits", tree="data",
                    survey="HST", validate=False, tracers=vocabulary())
    row = D.describe_file(ctx)[0]
    assert row["hdu"] == 1 and row["product"] == "image" and row["galaxy"] == "NGC 628"
    assert row["tracer"] == "HALPHA" and row["tracer_src"] == "filter"
    assert row["bunit"] == "ELECTRONS/S" and row["naxis1"] == 10 and row["naxis2"] == 8
    assert row["ra"] == pytest.approx(10.0, abs=1e-3) and row["foot_n"] >= 4 and row["flag"] == 0


def test_spectra_table_product(tmp_path):
    import numpy as np
    from astropy.io import fits

    from sfng.fitsheader import read_headers

    t = fits.BinTableHDU.from_columns([fits.Column("WAVE", "D", array=np.arange(3.0)),
                                       fits.Column("FLUX", "E", array=np.ones(3))])
    p = tmp_path / "s.fits"
    fits.HDUList([fits.PrimaryHDU(), t]).writeto(p)
    ctx = D.Context(root=str(tmp_path), relpath="s.fits", validate=False)
    base = D.null_row()
    base.update(flag=0, role="product")
    row = D.describe_blocks(ctx, read_headers(p), base)
    assert row["product"] == "spectra" and row["flag"] == 0 and row["foot_n"] in (0, -1)


@pytest.mark.parametrize("ra,dec", [(359.995, -32.6), (0.002, 10.0), (120.0, 89.98), (300.0, -89.97)])
def test_footprint_across_ra_zero_and_near_poles(tmp_path, ra, dec):
    import numpy as np
    from astropy.io import fits

    from sfng.fitsheader import read_headers
    from sfng.footprint import separation

    h = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": ra, "CRVAL2": dec,
                     "CDELT1": -2 / 3600, "CDELT2": 2 / 3600, "CRPIX1": 50.5, "CRPIX2": 50.5})
    p = tmp_path / "x.fits"
    fits.PrimaryHDU(np.zeros((100, 100), "f4"), h).writeto(p)
    base = D.null_row()
    base.update(flag=0, role="noise")
    row = D.describe_blocks(D.Context(root=str(tmp_path), relpath="x.fits", validate=False),
                            read_headers(p), base)
    n = row["foot_n"]
    ras, decs = np.array(row["foot_ra"][:n]), np.array(row["foot_dec"][:n])
    assert n >= 4 and ((ras >= 0) & (ras < 360)).all() and (np.abs(decs) <= 90).all()
    # a 198" x 198" field: its size is its diagonal, wherever it is on the sky
    assert row["fov"] == pytest.approx(198 * np.sqrt(2) / 60, rel=0.01)
    assert (separation(ras, decs, row["ra"], row["dec"]) * 3600 < 150).all()
