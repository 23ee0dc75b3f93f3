"""Narrow FITS rows and the columnar companion (sfng/index/layout.py, sfng/index/columns.py):
lossless, the same answers with and without the companion, refused when it is not the index's
own, and spilled writes identical to in-memory ones."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sfng.index import columns, io, schema
from sfng.index.layout import disk_dtype, widen
from sfng.query import load_index, select
from sfng.select import Selection

from _query_index import galaxy_rows, rows, write_index

SELECTIONS = [
    dict(tracers=("CO10",), res="<15", dist="<15", depth="<=1K"),
    dict(has=("CO10", "MIPS24"), lacks=("HALPHA",)),
    dict(has=("CO10",)),
    dict(lacks=("HI",)),
    dict(galaxies=("IC 342",)),
    dict(galaxies=("M 74", "NGC 3627")),
    dict(tracers=("HI", "CO21")),
    dict(surveys=("THINGS",)),
    dict(cone=("10.68", "41.27", "2deg")),
    dict(near="IC 342", radius="1deg"),
    dict(where="res < 10 and tracer == 'CO(1-0)'"),
]


@pytest.fixture
def pair(tmp_path):
    """The same index with its companion (a store's) and without it (a download)."""
    (tmp_path / "a").mkdir()
    own = write_index(tmp_path / "a" / "SFNG-INDEX.fits")
    alone = tmp_path / "b" / "SFNG-INDEX.fits"
    alone.parent.mkdir()
    shutil.copy(own, alone)
    return own, alone


def _answers(path):
    idx = load_index(path)
    out = []
    for kw in SELECTIONS:
        sel = Selection.build(**kw)
        res = select(idx, sel)
        out.append((sorted(res.paths()), res.galaxies if sel.is_galaxy_set else None))
    return out


def test_same_answers_with_and_without_the_companion(pair):
    own, alone = pair
    a, b = load_index(own), load_index(alone)
    assert isinstance(a.files, columns.ColumnTable) and isinstance(b.files, np.memmap)
    assert _answers(own) == _answers(alone)
    assert any(p for p, _ in _answers(own))   # the selections do find files
    for name in a.files.dtype.names:
        x, y = np.asarray(a.files[name]), np.asarray(b.files[name])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert io.verify_companion(own) == []


def test_narrow_rows_are_lossless(tmp_path):
    src = rows()
    p = write_index(tmp_path / "SFNG-INDEX.fits", src)
    rec = io.open_records(p)
    assert rec.dtype.itemsize < disk_dtype(schema.FILES_COLUMNS).itemsize / 3
    want, _ = io.encode_rows(src)
    got = widen(rec, schema.FILES_COLUMNS)
    for c in schema.FILES_COLUMNS:
        x, y = got[c.name], want[c.name]
        assert np.array_equal(x, y, equal_nan=c.kind == "f"), c.name
    # every text column is exactly as wide as its longest value (at least 1 byte)
    for c in schema.FILES_COLUMNS:
        if c.kind == "U":
            assert rec.dtype[c.name].itemsize == max(1, int(np.char.str_len(want[c.name]).max()))


def test_astropy_reads_the_narrow_table_as_the_reader_does(tmp_path):
    from astropy.table import Table

    p = write_index(tmp_path / "SFNG-INDEX.fits")
    t = Table.read(p, hdu="FILES")
    rec = io.open_records(p)
    assert [x.decode() for x in rec["path"]] == list(t["path"])
    assert np.array_equal(np.asarray(t["foot_ra"]), np.asarray(rec["foot_ra"], dtype=float), equal_nan=True)


def test_a_companion_of_another_build_or_damaged_is_not_used(pair, tmp_path):
    own, _ = pair
    bid = io.primary_cards(own)["SFNGBID"]
    comp = columns.companion_path(own, bid)
    assert comp.is_file()
    # the index rewritten (another build): its companion is another file; this one is ignored
    other = tmp_path / "c" / "SFNG-INDEX.fits"
    other.parent.mkdir()
    shutil.copy(own, other)
    (other.parent / columns.FOLDER).mkdir()
    shutil.copy(comp, columns.companion_path(other, "0" * 32))
    assert isinstance(load_index(other).files, np.memmap)
    # a truncated companion
    data = comp.read_bytes()
    comp.write_bytes(data[: len(data) // 2])
    assert isinstance(load_index(own).files, np.memmap)
    assert io.verify_companion(own)
    # one whose values were changed behind the index's back: fsck --deep says which column
    comp.write_bytes(data)
    table = columns.open_table(own, bid, len(load_index(own)))
    col = table.header["columns"][[c["name"] for c in table.header["columns"]].index("res")]
    start = columns.read_header(comp)[1] + col["offset"]
    bad = bytearray(data)
    bad[start:start + 8] = np.float32(99.0).tobytes() * 2
    comp.write_bytes(bytes(bad))
    assert any("'res'" in p for p in io.verify_companion(own))
    assert _answers(own)   # still answers (from the companion, as the quick check passes)


def test_spilled_write_equals_the_in_memory_one(tmp_path, monkeypatch):
    src = rows() * 7
    a = write_index(tmp_path / "a.fits", src)
    monkeypatch.setattr(io, "SPILL_BYTES", 20_000)   # a few rows per spill
    w = io.IndexWriter(tmp_path / "b.fits", {"store": "test", "sfng_version": "test",
                                              "built": "2026-01-01T00:00:00"})
    for i in range(0, len(src), 5):
        w.add_rows(src[i:i + 5])
    assert w._spill   # it did spill
    w.finish(galaxy_rows())
    assert not list(tmp_path.glob(".sfng-tmp-*"))   # spill files gone
    ra, rb = io.open_records(a), io.open_records(tmp_path / "b.fits")
    assert ra.dtype == rb.dtype and ra.tobytes() == rb.tobytes()
    assert io.verify_companion(tmp_path / "b.fits") == []


def test_dictionary_codes_give_the_column_back(pair):
    own, _ = pair
    idx = load_index(own)
    coded = [n for n in idx.files.dtype.names if idx.codes(n) is not None]
    assert "galaxy" in coded and "tracer" in coded
    for n in coded:
        values, codes = idx.codes(n)
        assert np.array_equal(values[codes], np.asarray(idx.files[n]))
    big = np.array([f"p{i}".encode() for i in range(100_000)])
    assert columns.dictionary(big) is None            # distinct values: no codes
    few = np.array([b"CO(1-0)", b"HI"] * 50_000)
    values, codes = columns.dictionary(few)
    assert list(values) == [b"CO(1-0)", b"HI"] and codes.dtype == np.uint16


def test_a_rebuild_prunes_the_superseded_companion(tmp_path):
    p = write_index(tmp_path / "SFNG-INDEX.fits")
    first = io.primary_cards(p)["SFNGBID"]
    w = io.IndexWriter(tmp_path / "tmp.fits", {"store": "test"}, name="SFNG-INDEX.fits")
    w.add_rows(rows())
    w.finish(galaxy_rows())
    (tmp_path / "tmp.fits").replace(p)
    assert columns.prune(p, keep=w.build_id) == 1
    left = sorted(x.name for x in (tmp_path / columns.FOLDER).iterdir())
    assert left == [f"SFNG-INDEX.fits.{w.build_id}.cols"] and first not in left[0]
    assert isinstance(load_index(p).files, columns.ColumnTable)


def test_dictionary_in_pieces_equals_one_unique(monkeypatch):
    """The companion's text codes are computed a piece at a time (memory bounded at 10^7
    rows); with tiny pieces they equal numpy's unique over the whole column."""
    import numpy as np

    from sfng.index import columns

    rng = np.random.default_rng(4)
    col = np.array([b"CO(1-0)", b"HI", b"", b"MIPS24", b"HALPHA"], dtype="S16")[rng.integers(0, 5, 1001)]
    monkeypatch.setattr(columns, "_DICT_PIECE", 7)
    values, codes = columns.dictionary(col)
    want_values, want_codes = np.unique(col, return_inverse=True)
    assert values.tolist() == want_values.tolist()
    assert codes.tolist() == want_codes.tolist()
    assert (values[codes] == col).all()
    distinct = np.array([b"p%06d" % i for i in range(1001)], dtype="S8")
    assert columns.dictionary(distinct) is None
