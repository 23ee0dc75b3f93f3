"""Every index schema version is frozen as data (sfng/index/schemas/v<N>.yaml); an index of each
older version is read through it (with a note) and migrates losslessly to the current schema, and
the migrated index answers find queries on the old columns exactly as the original does."""

from __future__ import annotations

import numpy as np

from sfng.index.older import ADDED_TRUE
import pytest

from sfng.errors import SfngError
from sfng.index import frozen, io, migrate, older, schema
from sfng.select import Selection

from _query_index import write_index

OLDER = [v for v in frozen.versions() if v < schema.SCHEMA_VERSION]


def test_every_version_frozen_and_current_matches_schema_py():
    assert frozen.versions() == list(range(1, schema.SCHEMA_VERSION + 1)), \
        "freeze the current schema: python -m sfng.index.frozen"
    cur = frozen.load(schema.SCHEMA_VERSION)
    assert list(cur.files) == schema.FILES_COLUMNS, \
        "schema.py differs from its frozen version: bump SCHEMA_VERSION and freeze it"
    assert list(cur.galaxies) == schema.GALAXIES_COLUMNS
    with pytest.raises(SfngError, match="unknown index schema version 99"):
        frozen.load(99)


def test_v1_is_sfng_0_1():
    v1 = frozen.load(1)
    assert v1.text_encoding == "ASCII"
    assert {"galaxy_src", "frame", "bmaj_min", "bmaj_max"}.isdisjoint(v1.files_names)
    assert set(v1.files_names) <= set(schema.FILES_NAMES)
    assert frozen.render(v1) == (frozen.SCHEMAS_DIR / "v1.yaml").read_text(encoding="utf-8")


def write_old(path, version: int, current_index):
    """Write ``current_index``'s rows as an index of schema ``version``, with astropy, in that
    version's layout (its frozen column list, its header cards)."""
    from astropy.io import fits

    from sfng.index.layout import widen

    old = frozen.load(version)
    # older versions stored every column at its declared width
    rec = widen(io.open_records(current_index), schema.FILES_COLUMNS)
    gal = io.open_galaxy_records(current_index)
    back = {migrate.source_name(c.name, version): c.name for c in schema.FILES_COLUMNS}
    gback = {migrate.source_name(c.name, version): c.name for c in schema.GALAXIES_COLUMNS}

    def hdu(columns, records, names, extname):
        cols = []
        for c in columns:
            data = np.asarray(records[names[c.name]])
            if c.kind == "?":
                data = data == ord("T")
            elif c.kind == "U":
                data = data.astype(f"S{c.width}")
            else:
                data = data.astype(c.dtype)
            cols.append(fits.Column(name=c.name, format=io.tform(c), unit=c.unit or None,
                                    dim="(" + ",".join(map(str, reversed(c.shape))) + ")" if c.shape else None,
                                    array=data))
        h = fits.BinTableHDU.from_columns(cols, name=extname)
        h.header["SFNGSCHV"] = version
        return h

    prim = fits.PrimaryHDU()
    prim.header["SFNGSCHV"] = version
    prim.header["SFNGVER"] = f"0.{version - 1}"
    prim.header["STORE"] = "test"
    prim.header["BUILT"] = "2025-01-01T00:00:00"
    prim.header["NFILES"] = len(rec)
    prim.header["NGALAXY"] = len(gal)
    fits.HDUList([prim, hdu(old.files, rec, back, "FILES"),
                  hdu(old.galaxies, gal, gback, "GALAXIES")]).writeto(path)
    return path


QUERIES = [
    dict(tracers=("CO(1-0)",)),
    dict(tracers=("HI", "CO(1-0)"), res="<10"),
    dict(surveys=("SINGS",), galaxies=("NGC 628",)),
    dict(where="rms_k < 0.2 and chan_kms > 4"),
    dict(depth="<0.5"),
    dict(dist="<8"),
    dict(cone=("24.17", "15.78", "2arcmin")),
    dict(near="NGC 628", radius="10"),
    dict(valid=False),
    dict(has=("HI",)),
]


def _answers(index_path):
    from sfng.query import find

    out = []
    for q in QUERIES:
        r = find(Selection.build(**q), index_path=index_path)
        out.append((r.paths(), r.galaxies))
    return out


@pytest.mark.parametrize("version", OLDER)
def test_older_index_is_read_and_migrates_losslessly(tmp_path, version, cli):
    cur = write_index(tmp_path / "current.fits")
    old = write_old(tmp_path / f"v{version}.fits", version, cur)

    # read through the frozen schema, with a note; the new columns are unknown
    files, _, meta = io.read_index(old)
    assert meta["schema_version"] == version and meta["migrated_from"] == version
    assert "frozen schema" in meta["notes"][0] and "sfng index migrate" in meta["notes"][0]
    added = [c.name for c in schema.FILES_COLUMNS
             if migrate.source_name(c.name, version) not in frozen.load(version).files_names]
    for name in added:
        null = True if name in ADDED_TRUE else schema.column(name).null   # 'current': every old row is current
        vals = np.asarray(files[name])
        if vals.dtype.kind == "f":
            assert np.isnan(vals).all()
        elif vals.dtype.kind == "S":
            assert (vals == b"").all()
        else:
            assert (vals == null).all()

    # the same answers as the current index, read as it is or migrated
    want = _answers(cur)
    assert _answers(old) == want
    from sfng.query import find

    r = find(Selection.build(tracers=("CO(1-0)",)), index_path=old)
    assert any("frozen schema" in n for n in r.notes)

    res = cli("index", "migrate", "--index", old, "-o", tmp_path / "migrated.fits")
    assert res.exit_code == 0, res.output
    assert f"version {version} -> {schema.SCHEMA_VERSION}" in res.output
    new = tmp_path / "migrated.fits"
    assert io.index_version(new) == schema.SCHEMA_VERSION
    assert io.open_records(new) is not None            # the current on-disk layout
    _, _, m2 = io.read_index(new)
    assert "migrated_from" not in m2 and not m2["notes"]
    assert _answers(new) == want

    # lossless: every old value is in the migrated index, byte for byte
    a, b = io.open_records(cur), io.open_records(new)
    for name in frozen.load(version).files_names:
        cur_name = {migrate.source_name(c, version): c for c in schema.FILES_NAMES}[name]
        assert np.array_equal(a[cur_name], b[cur_name], equal_nan=a[cur_name].dtype.kind == "f"), name
    assert len(io.open_galaxy_records(new)) == len(io.open_galaxy_records(cur))

    assert new.stat().st_mtime == old.stat().st_mtime     # staleness is judged as before
    # in place, and a second time: nothing to do
    res = cli("index", "migrate", "--index", old)
    assert res.exit_code == 0 and io.index_version(old) == schema.SCHEMA_VERSION
    res = cli("index", "migrate", "--index", old)
    assert "nothing to do" in res.output
    # no clobbering another file
    with pytest.raises(SfngError, match="exists"):
        migrate.migrate_index(write_old(tmp_path / "again.fits", version, cur), new)


def test_newer_and_unknown_versions_refused(tmp_path):
    cur = write_index(tmp_path / "current.fits")
    data = bytearray(cur.read_bytes())
    at = data.index(b"SFNGSCHV")
    for v, msg in ((schema.SCHEMA_VERSION + 1, "newer than this sfng"), (0, "unknown index schema")):
        data[at:at + 80] = f"SFNGSCHV= {v:20d} / sfng index schema version".ljust(80).encode()
        p = tmp_path / f"v{v}.fits"
        p.write_bytes(bytes(data))
        with pytest.raises(SfngError, match=msg):
            io.read_index(p)
        with pytest.raises(SfngError, match=msg):
            migrate.migrate_index(p, tmp_path / f"m{v}.fits")


def test_migration_refuses_a_value_that_would_not_fit(tmp_path, monkeypatch):
    # a frozen width wider than the current one: a long value cannot be migrated losslessly
    cur = write_index(tmp_path / "current.fits")
    old = write_old(tmp_path / "v1.fits", 1, cur)
    cols = [schema.Column(c.name, "U4", c.unit, c.description) if c.name == "survey" else c
            for c in schema.FILES_COLUMNS]
    monkeypatch.setattr(older, "FILES_COLUMNS", cols)
    with pytest.raises(SfngError, match="does not fit"):
        migrate.upgrade(old, 1)
