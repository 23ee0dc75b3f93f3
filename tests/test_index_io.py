"""SFNG-INDEX.fits on disk: fixed-width columns, units, TDIM, descriptions, readers, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sfng.errors import SfngError
from sfng.index import io, schema


def _write(path, rows, gal=()):
    w = io.IndexWriter(path, {"store": "t", "sfng_version": "0.1.0", "built": "2026-11-23T00:00:00Z"})
    for i in range(0, len(rows), 3):   # several chunks: streaming
        w.add_rows(rows[i:i + 3])
    w.finish(list(gal))
    return path


def _row(i, **kw):
    r = schema.null_row()
    r.update(path=f"data/S/G{i}.x.fits", tree="data", survey="S", galaxy=f"NGC {i}", product="cube",
             tracer="CO(1-0)", naxis=3, naxis1=10, ra=10.0 + i, dec=-5.0, foot_n=4,
             foot_ra=[1.0, 2.0, 3.0, 4.0], foot_dec=[5.0, 6.0, 7.0, 8.0], res=6.2, depth_k=0.28,
             valid=bool(i % 2), n_problems=i, size=1000 + i, mtime=1.7e9 + i, flag=0)
    r.update(kw)
    return r


def test_schema_is_declared_once_and_lower_case():
    names = [c.name for c in schema.FILES_COLUMNS]
    assert len(names) == len(set(names)) and all(n == n.lower() for n in names)
    for required in ("path", "locator", "tree", "survey", "galaxy", "product", "tracer", "bunit",
                     "naxis", "naxis4", "ctype1", "cunit4", "cdelt3", "crval2", "ra", "dec", "foot_n",
                     "foot_ra", "foot_dec", "fov", "bmaj", "bmin", "bpa", "res", "restfrq", "chan_kms",
                     "spec_min", "spec_max", "spec_unit", "specres", "repunc", "rms_k", "depth_k",
                     "depth_src", "noise_path", "size", "mtime", "sha256", "valid", "n_problems",
                     "from_readme", "flag"):
        assert required in names
    assert all(c.description for c in schema.FILES_COLUMNS + schema.GALAXIES_COLUMNS)
    assert [c.name for c in schema.GALAXIES_COLUMNS][:6] == ["name", "aliases", "ra", "dec", "dist", "dist_src"]


def test_astropy_and_fitsio_read_it_with_units_tdim_and_descriptions(tmp_path):
    from astropy.io import fits
    from astropy.table import Table
    import fitsio

    p = _write(tmp_path / "i.fits", [_row(i) for i in range(7)],
               [{"name": "NGC 1", "aliases": "A;B", "dist": 9.9, "dist_src": "x", "n_files": 1}])
    with fits.open(p) as hl:
        hl.verify("exception")
        assert [h.name for h in hl] == ["PRIMARY", "FILES", "GALAXIES"]
        h0, h1 = hl[0].header, hl[1].header
        assert h0["SFNGSCHV"] == schema.SCHEMA_VERSION and h0["NFILES"] == 7 and h0["NGALAXY"] == 1
        assert h0["STORE"] == "t" and h0["SFNGVER"] == "0.1.0" and h0["BUILT"]
        assert h1["PCOUNT"] == 0   # no variable-length arrays (IDL mrdfits)
        for i, c in enumerate(schema.FILES_COLUMNS, start=1):
            assert h1[f"TTYPE{i}"] == c.name
            assert "P" not in h1[f"TFORM{i}"] and "Q" not in h1[f"TFORM{i}"]
            assert h1.get(f"TUNIT{i}", "") == c.unit
            assert h1[f"TCOMM{i}"] == c.description and h1.comments[f"TTYPE{i}"]
            if c.shape:   # as many cells as the widest footprint of this index needs
                assert h1[f"TDIM{i}"] == "(4)"
            if c.kind == "U":   # as wide as the longest value, within the declared width
                assert 1 <= int(h1[f"TFORM{i}"][:-1]) <= c.width
        assert h1["TFORM1"] == f"{len('data/S/G3.x.fits')}A"
    t = Table.read(p, hdu="FILES")
    assert len(t) == 7 and t["foot_ra"].shape == (7, 4)
    assert str(t["res"].unit) == "arcsec" and str(t["depth_k"].unit) == "K"
    assert list(t["valid"]) == [bool(i % 2) for i in range(7)]
    d = fitsio.read(str(p), ext="FILES")
    assert str(d["path"][3]).strip() == "data/S/G3.x.fits" and d["foot_dec"].shape == (7, 4)
    g = Table.read(p, hdu="GALAXIES")
    assert g["name"][0] == "NGC 1" and g["dist"].unit == "Mpc"


def test_read_index_returns_tables_and_meta(tmp_path):
    p = _write(tmp_path / "i.fits", [_row(i) for i in range(4)])
    files, gal, meta = io.read_index(p)
    assert meta["n_files"] == 4 and meta["schema_version"] == schema.SCHEMA_VERSION
    assert files["path"][2] == "data/S/G2.x.fits" or files["path"][2] == b"data/S/G2.x.fits"
    assert files["res"].unit == "arcsec" and files["res"].description
    assert list(files["foot_ra"][0][:4]) == [1.0, 2.0, 3.0, 4.0]
    wide = _write(tmp_path / "w.fits", [_row(1, foot_n=5, foot_ra=[1.0] * 5, foot_dec=[2.0] * 5), _row(2)])
    files, _, _ = io.read_index(wide)
    assert files["foot_ra"].shape == (2, 5) and math.isnan(files["foot_ra"][1][4])
    few, _, _ = io.read_index(p, columns=["path", "depth_k"], galaxies=False)
    assert few.colnames == ["path", "depth_k"]
    with pytest.raises(SfngError, match="unknown index column"):
        io.read_index(p, columns=["nope"])


def test_read_index_errors(tmp_path):
    with pytest.raises(SfngError, match="no index here"):
        io.read_index(tmp_path / "missing.fits")
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"this is not FITS" * 10)
    with pytest.raises(SfngError, match="not a readable FITS file"):
        io.read_index(junk)
    p = _write(tmp_path / "i.fits", [_row(i) for i in range(40)])
    cut = tmp_path / "cut.fits"
    cut.write_bytes(p.read_bytes()[: 2880 * 4])
    with pytest.raises(SfngError, match="corrupt|damaged"):
        io.read_index(cut)
    newer = tmp_path / "newer.fits"
    data = bytearray(p.read_bytes())
    at = data.index(b"SFNGSCHV")
    data[at:at + 80] = f"SFNGSCHV= {schema.SCHEMA_VERSION + 1:20d} / sfng index schema version".ljust(80).encode()
    newer.write_bytes(bytes(data))
    with pytest.raises(SfngError, match="newer than this sfng"):
        io.read_index(newer)
    older = tmp_path / "older.fits"
    data[at:at + 80] = f"SFNGSCHV= {schema.SCHEMA_VERSION - 1:20d} / sfng index schema version".ljust(80).encode()
    older.write_bytes(bytes(data))
    # an older version is read through its frozen schema, with a note (tests/test_schema_versions.py)
    _, _, meta = io.read_index(older)
    assert meta["migrated_from"] == schema.SCHEMA_VERSION - 1 and "frozen schema" in meta["notes"][0]
    unknown = tmp_path / "unknown.fits"
    data[at:at + 80] = f"SFNGSCHV= {0:20d} / sfng index schema version".ljust(80).encode()
    unknown.write_bytes(bytes(data))
    with pytest.raises(SfngError, match=r"unknown index schema version 0 .*sfng index build --full"):
        io.read_index(unknown)
    from astropy.io import fits

    other = tmp_path / "other.fits"
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(other)
    with pytest.raises(SfngError, match="not an sfng index"):
        io.read_index(other)


_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
_float = st.floats(allow_nan=True, allow_infinity=False, width=64)


@settings(max_examples=40, deadline=None)
@given(galaxy=_text, ra=_float, n=st.integers(0, 16), flag=st.integers(0, 63), valid=st.booleans(),
       naxis1=st.integers(-1, 2**31 - 1))
def test_round_trip(tmp_path_factory, galaxy, ra, n, flag, valid, naxis1):
    p = tmp_path_factory.mktemp("rt") / "i.fits"
    verts = [float(k) for k in range(n)]
    _write(p, [_row(0, galaxy=galaxy, ra=ra, foot_n=n, foot_ra=verts, flag=flag, valid=valid,
                    naxis1=naxis1)])
    files, _, _ = io.read_index(p)
    got = files[0]
    assert (got["galaxy"].decode() if isinstance(got["galaxy"], bytes) else got["galaxy"]) == galaxy.rstrip()
    assert (math.isnan(ra) and math.isnan(got["ra"])) or got["ra"] == ra
    assert list(got["foot_ra"][:n]) == verts and np.isnan(got["foot_ra"][n:]).all()
    assert got["flag"] == flag and bool(got["valid"]) == valid and got["naxis1"] == naxis1


def test_long_text_is_cut_and_flagged(tmp_path):
    p = _write(tmp_path / "i.fits", [_row(0, galaxy="X" * 100)])
    files, _, _ = io.read_index(p)
    assert len(files["galaxy"][0]) == schema.column("galaxy").width
    assert files["flag"][0] & schema.FLAG_TRUNCATED


def test_index_show_gives_single_precision_values_as_written(tmp_path):
    from _query_index import rows, write_index

    from sfng.index.stats import rows_for

    path = write_index(tmp_path / "SFNG-INDEX.fits")
    bima = next(r["path"] for r in rows() if r["survey"] == "BIMASONG")   # a 6.2" beam, 4.06 km/s
    row = rows_for(path, bima)[0]
    assert row["res"] == 6.2 and row["chan_kms"] == 4.06
    assert all(isinstance(x, float) for x in row["foot_ra"])
