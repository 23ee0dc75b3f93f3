"""``sfng index migrate``: rewrite an index of an older schema version as a current one.

The old rows are read through their frozen schema (:func:`sfng.index.older.upgrade`: lossless,
new columns unknown) and written by the one writer (:class:`sfng.index.io.IndexWriter`), to a
temporary name renamed into place under the index lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SfngError
from .older import MigrateReport, note, source_name, upgrade  # noqa: F401 - re-exported
from .schema import GALAXIES_COLUMNS, SCHEMA_VERSION


def _galaxy_dicts(records) -> list[dict]:
    from .io import decode_text

    rows = []
    for r in records:
        row = {}
        for c in GALAXIES_COLUMNS:
            v = r[c.name]
            row[c.name] = decode_text(bytes(v)) if c.kind == "U" else (
                v == ord("T") if c.kind == "?" else v.item())
        rows.append(row)
    return rows


def migrate_index(src, out=None, store=None) -> MigrateReport:
    """Rewrite the index ``src`` (an older schema) as a current index at ``out`` (default: in
    place, atomically, under the index lock).  An index already current is left as it is."""
    import sfng

    from ..fsutil import TMP_PREFIX, fsync_dir
    from .build import BuildLock
    from .io import IndexWriter, index_version, primary_cards

    src = Path(src)
    if not src.is_file():
        raise SfngError(f"{src}: no index here")
    try:
        version = index_version(src)
    except (OSError, ValueError) as exc:
        raise SfngError(f"{src}: not a readable FITS file ({exc})") from exc
    if version is None:
        raise SfngError(f"{src}: not an sfng index (no SFNGSCHV card in the primary header)")
    if version > SCHEMA_VERSION:
        raise SfngError(f"{src}: index schema version {version} is newer than this sfng reads "
                        f"({SCHEMA_VERSION}); upgrade sfng (pip install -U sfng)")
    out = Path(out) if out is not None else src
    in_place = out.absolute() == src.absolute()
    if version == SCHEMA_VERSION:
        return MigrateReport(str(src), str(out), version, SCHEMA_VERSION)
    if not in_place and out.exists():
        raise SfngError(f"{out} exists; give another -o/--output or remove it first")
    files, gals, rep = upgrade(src, version)
    rep.out = str(out)
    prim = primary_cards(src)
    meta = {"store": prim.get("STORE", ""), "built": prim.get("BUILT", ""),
            "sfng_version": sfng.__version__}
    with BuildLock(out, store):
        tmp = out.parent / f"{TMP_PREFIX}migrate-{out.name}-{os.getpid()}"
        st = src.stat()
        with IndexWriter(tmp, meta) as w:
            w.add_records(files)
            w.finish(_galaxy_dicts(gals))
        # the same content as of the same time: keep the modification time, so that `find`'s
        # staleness test (tree folders newer than the index) judges the migrated index as the old
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        if in_place:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)          # no clobber
            finally:
                tmp.unlink(missing_ok=True)
        fsync_dir(out.parent)
    rep.written = True
    return rep
