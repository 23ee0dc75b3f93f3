"""Read and write ``SFNG-INDEX.fits``: a primary HDU and two BINTABLEs, ``FILES`` and ``GALAXIES``.

Written for every reader the collaboration uses: fixed-width columns only (IDL ``mrdfits``
reads no variable-length arrays), units in ``TUNITn``, arrays with ``TDIMn``, the column's
description as the ``TTYPEn`` comment and in ``TCOMMn``.  Header cards: ``SFNGSCHV`` (schema
version), ``SFNGVER`` (sfng version), ``STORE`` (store name), ``BUILT`` (UTC build time),
``NFILES``/``NGALAXY`` (row counts), on the primary HDU and repeated on each table; ``TEXTENC``
(``'UTF-8'``: the text columns' encoding, see :func:`encode_text`).

The writer streams: rows arrive in chunks and go straight to the file, the row count is
patched into the header at the end, so memory does not grow with the store.  It writes only
to the path it is given; :mod:`sfng.index.build` gives it a temporary name and renames it into
place (a reader sees the old index or the new one, never a partial one).
"""

from __future__ import annotations

import math
import datetime as _dt
import os
from pathlib import Path

import numpy as np

from ..errors import SfngError
from .layout import disk_dtype, fill_value, tform  # noqa: F401 - the on-disk layout, re-exported
from .schema import DEFAULTS, FILES_COLUMNS, FILES_HDU, GALAXIES_COLUMNS, GALAXIES_HDU, SCHEMA_VERSION

BLOCK = 2880


# -- text ------------------------------------------------------------------------------------
#
# Text columns ('A' in TFORMn) hold UTF-8 (header card TEXTENC = 'UTF-8').  A file name that is
# not UTF-8 (os.fsdecode gives it surrogate escapes, PEP 383) is stored as the bytes it has on
# disk, so decoding with errors='surrogateescape' gives back the exact name; outputs show such
# bytes as \xNN (sfng.cli.output.printable).

#: Header card naming the encoding of the text columns.
TEXT_ENCODING = "UTF-8"


def encode_text(text: str) -> bytes:
    """The bytes a text column stores for ``text`` (UTF-8; surrogate escapes as their bytes)."""
    return text.encode("utf-8", "surrogateescape")


def decode_text(raw: bytes) -> str:
    """The text of a stored value (the inverse of :func:`encode_text`; trailing NULs and blanks
    dropped)."""
    return raw.rstrip(b"\0 ").decode("utf-8", "surrogateescape")


def _cut_utf8(raw: bytes, width: int) -> bytes:
    """``raw`` cut to at most ``width`` bytes without splitting a UTF-8 character."""
    out = raw[:width]
    for k in range(1, min(4, len(out)) + 1):
        b = out[-k]
        if b < 0x80:            # ASCII: nothing is split
            break
        if b >= 0xC0:           # the lead byte of a character of n bytes
            n = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            if n > k:           # the character does not fit: drop its first bytes
                out = out[:-k]
            break
    return out


# -- on-disk record layout: sfng.index.layout (disk_dtype, tform) ----------------------


def encode_rows(rows: list[dict], columns=FILES_COLUMNS) -> tuple[np.ndarray, list[int]]:
    """Rows (dicts of column -> value, missing keys unknown) as disk records.

    Returns the record array and the indices of rows where a text value was cut to fit its
    column (the caller flags them).
    """
    dt = disk_dtype(columns)
    n = len(rows)
    out = np.zeros(n, dtype=dt)
    cut = set()
    for c in columns:
        name = c.name
        default = DEFAULTS.get(name) if columns is FILES_COLUMNS else None
        col = [r.get(name, default) for r in rows]
        if c.kind == "U":
            width = c.width
            # trailing blanks are not significant in FITS strings: drop them, as readers do
            vals = [b"" if v is None or v == "" else encode_text(str(v).rstrip(" ")) for v in col]
            if max(map(len, vals), default=0) > width:
                for i, b in enumerate(vals):
                    if len(b) > width:
                        vals[i] = _cut_utf8(b, width)
                        cut.add(i)
            out[name] = vals
        elif c.kind == "?":
            out[name] = [84 if v else 70 for v in col]
        elif c.shape:
            width = c.shape[0]
            arr = np.full((n, width), fill_value(c), dtype=c.dtype)
            for i, v in enumerate(col):
                if v is not None and len(v):
                    k = min(width, len(v))
                    arr[i, :k] = v[:k]
            out[name] = arr
        else:
            try:
                out[name] = col
            except (TypeError, ValueError):   # None (or NaN in an integer column) means unknown
                null = c.null
                out[name] = [null if v is None or (c.kind == "i" and isinstance(v, float)
                                                   and math.isnan(v)) else v for v in col]
    return out, sorted(cut)


# -- header cards ---------------------------------------------------------------------------

def _card(key, value=None, comment="") -> str:
    """One fixed-format 80-character card (FITS 4.0, section 4.2).  A too-long comment, then a
    too-long text value, is shortened: headers are patched in place, so no card may spill into
    a CONTINUE card."""
    if isinstance(value, bool):
        v = ("T" if value else "F").rjust(20)
    elif isinstance(value, int):
        v = str(value).rjust(20)
    elif isinstance(value, float):
        v = repr(value).upper().rjust(20)
    else:
        text = str(value)
        if not (text.isascii() and text.isprintable()):  # a header is printable ASCII: escape
            text = text.encode("unicode_escape").decode("ascii")
        while True:
            v = ("'" + text.replace("'", "''").ljust(8) + "'").ljust(20)
            if len(v) <= 70:
                break
            text = text[:-1]
    image = f"{key:<8}= {v}"
    if comment:
        room = 80 - len(image) - 3
        if room > 0:
            image += " / " + (comment if len(comment) <= room else comment[: max(0, room - 3)] + "...")
    return image.ljust(80)[:80]


def _long_card(key, text: str) -> str:
    """A text card of any length with the FITS long-string convention (``&`` + CONTINUE
    cards), as one string of 80-character images.  astropy and fitsio join them back."""
    pieces, cur = [], ""
    for ch in text:
        if len((cur + ch).replace("'", "''")) > 67:
            pieces.append(cur)
            cur = ""
        cur += ch
    pieces.append(cur)
    if len(pieces) == 1:
        return _card(key, text)
    images = []
    for i, piece in enumerate(pieces):
        body = piece.replace("'", "''") + ("&" if i < len(pieces) - 1 else "")
        lead = f"{key:<8}= " if i == 0 else "CONTINUE  "
        images.append(f"{lead}'{body}'".ljust(80))
    return "".join(images)


def _pad_header(cards: list[str]) -> bytes:
    text = "".join(cards) + "END".ljust(80)
    text += " " * (-len(text) % BLOCK)
    return text.encode("ascii")


def _write_hdu(f, cards: list[str], pieces) -> None:
    """One HDU at ``f``'s position: its header with DATASUM and CHECKSUM (the FITS checksum
    convention, :mod:`sfng.fitschecksum`), then its data from ``pieces`` (bytes, summed as they
    are written), padded to a block.  The header is written first with a zero CHECKSUM and
    rewritten in place once the data's sum is known (same length: every card is 80 bytes)."""
    from ..fitschecksum import ZERO_CHECKSUM, Sum, checksum

    def header(datasum: int, check: str) -> bytes:
        return _pad_header(cards + [_card("CHECKSUM", check, "HDU checksum (FITS 4.0 appendix J)"),
                                    _card("DATASUM", str(datasum), "data unit checksum")])

    start = f.tell()
    f.write(header(0, ZERO_CHECKSUM))
    total, size = Sum(), 0
    for raw in pieces:
        total.add(raw)
        size += len(raw)
        f.write(raw)
    f.write(b"\0" * (-size % BLOCK))
    datasum = total.total()
    end = f.tell()
    f.seek(start)
    f.write(header(datasum, checksum(header(datasum, ZERO_CHECKSUM), datasum)))
    f.seek(end)


def _meta_cards(meta: dict) -> list[str]:
    return [
        _card("SFNGSCHV", SCHEMA_VERSION, "sfng index schema version"),
        _card("SFNGVER", str(meta.get("sfng_version", "")), "sfng version that wrote the index"),
        _card("STORE", str(meta.get("store", ""))[:60], "store name"),
        _card("BUILT", str(meta.get("built", "")), "build time (UTC, ISO 8601)"),
        _card("TEXTENC", TEXT_ENCODING, "text columns: UTF-8 (file names: bytes as on disk)"),
        *([_card("SFNGBID", str(meta["build_id"]), "build id (names the columnar companion)")]
          if meta.get("build_id") else []),
    ]


def _table_cards(extname, columns, nrows_placeholder=0, dtype=None) -> list[str]:
    """The header of a table of ``columns`` laid out as ``dtype`` (default: the widest)."""
    from .layout import field_tform

    dt = disk_dtype(columns) if dtype is None else dtype
    cards = [
        _card("XTENSION", "BINTABLE", "binary table extension"),
        _card("BITPIX", 8), _card("NAXIS", 2),
        _card("NAXIS1", dt.itemsize, "bytes per row"),
        _card("NAXIS2", nrows_placeholder, "number of rows"),
        _card("PCOUNT", 0, "no variable-length arrays"), _card("GCOUNT", 1),
        _card("TFIELDS", len(columns)),
        # fitsverify looks for it in the HDU that uses CONTINUE cards (long TCOMMn)
        _card("LONGSTRN", "OGIP 1.0", "long texts continue on CONTINUE cards"),
    ]
    for i, c in enumerate(columns, start=1):
        cards.append(_card(f"TTYPE{i}", c.name, c.description))
        cards.append(_card(f"TFORM{i}", field_tform(c, dt)))
        if c.unit:
            cards.append(_card(f"TUNIT{i}", c.unit))
        if c.shape:
            shape = dt[c.name].shape
            cards.append(_card(f"TDIM{i}", "(" + ",".join(str(n) for n in reversed(shape)) + ")"))
        if c.kind == "i":
            cards.append(_card(f"TNULL{i}", -1, "unknown"))
        cards.append(_long_card(f"TCOMM{i}", c.description))
    cards.append(_card("EXTNAME", extname))
    return cards


#: Rows are kept in memory until they take this many bytes (in the widest layout), then
#: spilled to one temporary file per column beside the index (so memory does not grow with the
#: store, and the columnar companion and the narrow FITS table are written from them).
SPILL_BYTES = 64 << 20
#: Rows per piece when the FITS table and the companion are written.
_PIECE = 1 << 16


class IndexWriter:
    """Stream an index to ``path``: ``add_records``/``add_rows`` any number of times, then
    ``finish(galaxy_rows)``.  Call :meth:`abort` (or use as a context manager) on failure.

    Each FILES column is stored as narrow as its values allow (:func:`~.layout.narrow_dtype`),
    so the table is written at :meth:`finish`, when they are known.  With ``columns`` (the
    default) the writer also writes the columnar companion (:mod:`sfng.index.columns`) for the
    index's final name ``name`` (default: ``path``'s), fsynced and in place before ``finish``
    returns; the index's primary card ``SFNGBID`` names it."""

    def __init__(self, path, meta: dict, columns: bool = True, name: str | None = None):
        import uuid

        self.path = Path(path)
        self.meta = dict(meta)
        self.dtype = disk_dtype(FILES_COLUMNS)
        self.n_files = 0
        self.n_flagged = 0
        self.build_id = uuid.uuid4().hex
        self.meta["build_id"] = self.build_id     # card SFNGBID on every HDU
        self.name = name or self.path.name
        self.companion = None          # its path, once written
        self._columns = columns
        self._chunks: list = []
        self._held = 0
        self._spill: dict = {}         # column -> (path, open file)
        self._widths = {c.name: 0 for c in FILES_COLUMNS if c.kind == "U"}
        self._arrays = [c for c in FILES_COLUMNS if c.shape]
        self._lengths = {c.name: 0 for c in self._arrays}
        # Claim the name now: a folder one cannot write to fails before the crawl, not after.
        self._f = open(self.path, "wb")

    def add_records(self, records: np.ndarray) -> None:
        """Append FILES rows: disk records in the widest layout (``disk_dtype(FILES_COLUMNS)``)
        or any narrower one an index was stored in (:func:`open_records`)."""
        step = max(1, SPILL_BYTES // self.dtype.itemsize)
        if len(records) > step:   # e.g. a whole old index: widened and held a piece at a time
            for a in range(0, len(records), step):
                self.add_records(records[a:a + step])
            return
        if records.dtype != self.dtype:
            if records.dtype.names != self.dtype.names:
                raise TypeError("records do not have the index's on-disk layout")
            from .layout import widen

            records = widen(records, FILES_COLUMNS)
        if not len(records):
            return
        for name in self._widths:
            w = int(np.char.str_len(records[name]).max())
            if w > self._widths[name]:
                self._widths[name] = w
        for c in self._arrays:   # the last cell any row uses (trailing fill values are dropped)
            col = records[c.name]
            fill = fill_value(c)
            used = ~np.isnan(col) if np.isnan(fill) else col != fill
            cells = np.flatnonzero(used.any(axis=0))
            if len(cells) and cells[-1] + 1 > self._lengths[c.name]:
                self._lengths[c.name] = int(cells[-1]) + 1
        self._chunks.append(np.array(records))
        self._held += records.nbytes
        self.n_files += len(records)
        self.n_flagged += int(np.count_nonzero(records["flag"]))
        if self._held >= SPILL_BYTES:
            self._spill_chunks()

    def add_rows(self, rows: list[dict]) -> list[int]:
        records, cut = encode_rows(rows)
        if cut:
            from .schema import FLAG_TRUNCATED

            records["flag"][cut] |= FLAG_TRUNCATED
        self.add_records(records)
        return cut

    def _spill_chunks(self) -> None:
        from ..fsutil import temp_path

        if not self._spill:
            for i, c in enumerate(FILES_COLUMNS):
                p = temp_path(self.path.parent, f"-spill-{i}")
                self._spill[c.name] = (p, open(p, "wb"))
        for name, (_, f) in self._spill.items():
            for chunk in self._chunks:
                f.write(np.ascontiguousarray(chunk[name]).tobytes())
        self._chunks, self._held = [], 0

    def _sources(self) -> dict:
        """Column name -> all its values (widest layout), from memory or the spill files."""
        if self._spill:
            self._spill_chunks()
            out = {}
            for name, (p, f) in self._spill.items():
                f.flush()
                field = self.dtype[name]
                base, shape = (field.base, field.shape) if field.shape else (field, ())
                out[name] = (np.memmap(p, dtype=base, mode="r", shape=(self.n_files, *shape))
                             if self.n_files else np.zeros((0, *shape), dtype=base))
            return out
        if not self._chunks:
            return {name: np.zeros(0, dtype=self.dtype)[name] for name in self.dtype.names}
        if len(self._chunks) == 1:
            one = self._chunks[0]
            return {name: one[name] for name in self.dtype.names}
        return {name: np.concatenate([c[name] for c in self._chunks]) for name in self.dtype.names}

    def finish(self, galaxy_rows: list[dict]) -> None:
        import hashlib

        from .layout import narrow_dtype

        src = self._sources()
        n = self.n_files
        dt = narrow_dtype(FILES_COLUMNS, self._widths, self._lengths)
        native = dt.newbyteorder("=")
        cells = {c.name: dt[c.name].shape[0] for c in FILES_COLUMNS if c.shape}

        def piece(name, a, b):
            col = src[name][a:b]
            return col[:, :cells[name]] if name in cells else col

        gal, _ = encode_rows(galaxy_rows, GALAXIES_COLUMNS)
        f = self._f
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        primary = [_card("SIMPLE", True, "conforms to FITS standard"), _card("BITPIX", 8),
                   _card("NAXIS", 0), _card("EXTEND", True),
                   _card("DATE", now, "file creation date (UTC)"),
                   _card("LONGSTRN", "OGIP 1.0", "long texts (TCOMMn) continue on CONTINUE cards"),
                   _card("ORIGIN", "sfng", "SFNG-INDEX.fits: index of data/ and derived/"),
                   *_meta_cards(self.meta),
                   _card("NFILES", n, "rows in FILES"), _card("NGALAXY", len(gal), "rows in GALAXIES"),
                   _card("NFLAGGED", self.n_flagged, "FILES rows with a non-zero flag")]
        _write_hdu(f, primary, [])
        digest = hashlib.sha256()

        def rows():
            for a in range(0, n, _PIECE):
                b = min(n, a + _PIECE)
                rec = np.empty(b - a, dtype=dt)
                for name in dt.names:
                    rec[name] = piece(name, a, b)
                raw = rec.tobytes()
                digest.update(raw)
                yield raw

        _write_hdu(f, _table_cards(FILES_HDU, FILES_COLUMNS, n, dtype=dt) + _meta_cards(self.meta), rows())
        _write_hdu(f, _table_cards(GALAXIES_HDU, GALAXIES_COLUMNS, len(gal)) + _meta_cards(self.meta),
                   [gal.tobytes()])
        f.flush()
        os.fsync(f.fileno())
        size = f.tell()
        f.close()
        if self._columns:
            from . import columns

            cols = {}
            for name in dt.names:
                field = native[name]
                base, shape = (field.base, field.shape) if field.shape else (field, ())
                cols[name] = (base, shape, lambda name=name: (piece(name, a, min(n, a + _PIECE))
                                                             for a in range(0, n, _PIECE)))
            codes = {}
            for name in dt.names:
                if dt[name].kind == "S":
                    got = columns.dictionary(src[name])
                    if got is not None:
                        codes[name] = (got[0].astype(native[name]), got[1])
            self.companion = columns.companion_path(self.path, self.build_id, self.name)
            columns.write(self.companion, cols, n, {
                "build_id": self.build_id, "index_name": self.name, "fits_size": size,
                "files_sha256": digest.hexdigest()}, codes=codes)
        self._drop_spill()

    def _drop_spill(self) -> None:
        for p, f in self._spill.values():
            try:
                f.close()
            finally:
                p.unlink(missing_ok=True)
        self._spill = {}
        self._chunks = []

    def abort(self) -> None:
        try:
            self._f.close()
        finally:
            self.path.unlink(missing_ok=True)
            self._drop_spill()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()


# -- reading ---------------------------------------------------------------------------------

def _read_header(f, offset: int) -> tuple[dict, int]:
    """Cards of the header starting at ``offset``: ({key: raw value string}, data offset)."""
    cards = {}
    pos = offset
    while True:
        f.seek(pos)
        block = f.read(BLOCK)
        if len(block) < BLOCK:
            raise ValueError("file ends inside a header")
        pos += BLOCK
        for i in range(0, BLOCK, 80):
            card = block[i:i + 80].decode("ascii", "replace")
            key = card[:8].strip()
            if key == "END":
                return cards, pos
            if card[8:10] == "= ":
                val = card[10:].split("/")[0].strip() if not card[10:].lstrip().startswith("'") \
                    else card[10:].strip().split("'")[1]
                cards.setdefault(key, val.strip())


def galaxies_bytes(path) -> bytes | None:
    """The raw GALAXIES rows of an index file (None when unreadable)."""
    try:
        with open(path, "rb") as f:
            _, off = _read_header(f, 0)
            files, data_at = _read_header(f, off)
            off = data_at + int(files["NAXIS1"]) * int(files["NAXIS2"])
            off += -off % BLOCK
            gal, data_at = _read_header(f, off)
            f.seek(data_at)
            return f.read(int(gal["NAXIS1"]) * int(gal["NAXIS2"]))
    except (OSError, ValueError, KeyError):
        return None


def primary_cards(path) -> dict:
    """The primary header of an index file as ``{key: raw value string}``.

    Raises OSError or ValueError for a file that is not FITS."""
    with open(path, "rb") as f:
        return _read_header(f, 0)[0]


def open_galaxy_records(path):
    """The GALAXIES rows of an index written by this version as disk records (text as its
    stored bytes: see :func:`decode_text`), or None when the file is missing, unreadable or of
    another layout.  Read without fitsio, which decodes text columns as ASCII and fails on a
    non-ASCII galaxy name."""
    try:
        with open(path, "rb") as f:
            prim, off = _read_header(f, 0)
            if prim.get("SFNGSCHV") != str(SCHEMA_VERSION):
                return None
            files, data_at = _read_header(f, off)
            off = data_at + int(files["NAXIS1"]) * int(files["NAXIS2"])
            off += -off % BLOCK
            cards, data_at = _read_header(f, off)
            dt = disk_dtype(GALAXIES_COLUMNS)
            if cards.get("EXTNAME") != GALAXIES_HDU or int(cards["NAXIS1"]) != dt.itemsize:
                return None
            if [cards.get(f"TTYPE{i}") for i in range(1, len(GALAXIES_COLUMNS) + 1)] != \
                    [c.name for c in GALAXIES_COLUMNS]:
                return None
            n = int(cards["NAXIS2"])
            f.seek(data_at)
            buf = f.read(n * dt.itemsize)
        if len(buf) < n * dt.itemsize:
            return None
        return np.frombuffer(bytearray(buf), dtype=dt, count=n)
    except (OSError, ValueError, KeyError):
        return None


def _decoded(arr):
    """A table of disk records with text columns decoded to str (:func:`decode_text`)."""
    from astropy.table import Table

    cols = {}
    for name in arr.dtype.names:
        col = arr[name]
        if col.dtype.kind == "S":
            col = np.char.decode(col, "utf-8", "surrogateescape") if len(col) else col.astype("U1")
        cols[name] = col
    return Table(cols, copy=False)


def index_version(path) -> int | None:
    """The schema version of the index at ``path`` (None when it is not an sfng index)."""
    with open(path, "rb") as f:
        cards, _ = _read_header(f, 0)
    v = cards.get("SFNGSCHV")
    return int(v) if v is not None else None


def open_records(path):
    """The FILES rows of an index written by this version, memory-mapped as disk records in the
    layout the file stores them in (as narrow as its values: see :mod:`.layout`; incremental
    builds copy unchanged rows byte for byte), or None when the file is missing, unreadable or
    of another layout."""
    from .layout import dtype_from_cards

    try:
        with open(path, "rb") as f:
            prim, off = _read_header(f, 0)
            if prim.get("SFNGSCHV") != str(SCHEMA_VERSION):
                return None
            cards, data_at = _read_header(f, off)
        if cards.get("EXTNAME") != FILES_HDU:
            return None
        dt = dtype_from_cards(FILES_COLUMNS, cards)
        if dt is None or int(cards["NAXIS1"]) != dt.itemsize:
            return None
        n = int(cards["NAXIS2"])
        if os.path.getsize(path) < data_at + n * dt.itemsize:
            return None
        if n == 0:
            return np.zeros(0, dtype=dt)
        # copy-on-write: callers may edit their rows; the file never changes
        return np.memmap(path, dtype=dt, mode="c", offset=data_at, shape=(n,))
    except (OSError, ValueError, KeyError):
        return None


def files_data_sha256(path) -> str | None:
    """SHA-256 (hex) of the FILES table's data bytes (rows only, no padding), or None."""
    import hashlib

    try:
        with open(path, "rb") as f:
            _, off = _read_header(f, 0)
            cards, data_at = _read_header(f, off)
            left = int(cards["NAXIS1"]) * int(cards["NAXIS2"])
            f.seek(data_at)
            h = hashlib.sha256()
            while left > 0:
                block = f.read(min(left, 1 << 22))
                if not block:
                    return None
                h.update(block)
                left -= len(block)
        return h.hexdigest()
    except (OSError, ValueError, KeyError):
        return None


def galaxies_by_path(path) -> dict | None:
    """``{store-relative path: (size, mtime, [galaxy, ...])}`` of the index at ``path`` (the
    distinct non-empty ``galaxy`` values of each file's rows, in row order), or None when it is
    missing or of another layout.  ``sfng links bygalaxy`` files unchanged files by it."""
    rec = open_records(path)
    if rec is None:
        return None
    out: dict = {}
    for p, size, mtime, g in zip(rec["path"].tolist(), rec["size"].tolist(), rec["mtime"].tolist(),
                                 rec["galaxy"].tolist()):
        key = p.decode("utf-8", "surrogateescape")
        got = out.get(key)
        if got is None:
            got = out[key] = (size, mtime, [])
        name = g.decode("utf-8", "replace")
        if name and name not in got[2]:
            got[2].append(name)
    return out


def read_index(path, columns=None, galaxies: bool = True):
    """Read ``SFNG-INDEX.fits``.

    Parameters
    ----------
    path : path-like
    columns : list of str, optional
        FILES columns to read (all by default); reading a few is much faster on big indexes.
    galaxies : bool
        Also read the GALAXIES table.

    Returns
    -------
    (files, galaxies, meta) : astropy Table, astropy Table or None, dict
        FILES is memory-mapped when the file has this version's layout, and its text columns
        are then bytes columns (astropy compares them with ``str`` as usual; numpy users decode
        with ``.astype(str)``); GALAXIES text columns are ``str``.  ``meta`` holds
        ``schema_version``, ``sfng_version``, ``store``, ``built``, ``n_files``, ``n_galaxies``,
        ``notes`` (lines for people) and, for an older index, ``migrated_from``: an index of an
        older schema version is read through its frozen schema (:mod:`sfng.index.frozen`) into
        this version's columns (new columns unknown), with a note saying so.

    Raises
    ------
    SfngError
        The file is missing, is not an sfng index, is corrupt, or was written with a newer
        schema than this sfng reads, or with a version it has no frozen schema of.
    """
    path = Path(path)
    if not path.is_file():
        raise SfngError(f"{path}: no index here; build it with `sfng index build` (or give --index PATH)")
    try:
        with open(path, "rb") as f:
            prim, _ = _read_header(f, 0)
    except (OSError, ValueError) as exc:
        raise SfngError(f"{path}: not a readable FITS file ({exc}); rebuild it with "
                        f"`sfng index build --full`") from exc
    if "SFNGSCHV" not in prim:
        raise SfngError(f"{path}: not an sfng index (no SFNGSCHV card in the primary header)")
    try:
        version = int(prim["SFNGSCHV"])
    except ValueError as exc:
        raise SfngError(f"{path}: bad SFNGSCHV card {prim['SFNGSCHV']!r}") from exc
    if version > SCHEMA_VERSION:
        raise SfngError(f"{path}: index schema version {version} is newer than this sfng reads "
                        f"({SCHEMA_VERSION}); upgrade sfng (pip install -U sfng)")
    meta = {"schema_version": version, "sfng_version": prim.get("SFNGVER", ""),
            "store": prim.get("STORE", ""), "built": prim.get("BUILT", ""),
            "n_files": int(prim.get("NFILES", -1)), "n_galaxies": int(prim.get("NGALAXY", -1)),
            "notes": []}
    old = None
    if version < SCHEMA_VERSION:
        # An older schema: read through its frozen schema (sfng/index/schemas/v<N>.yaml) into
        # this version's layout, and say so; a version with no frozen schema is refused.
        from . import frozen, older

        if version not in frozen.versions():
            raise SfngError(f"{path}: unknown index schema version {version} (this sfng reads "
                            f"{', '.join(map(str, frozen.versions()))}); rebuild it: "
                            f"sfng index build --full")
        try:
            old = older.upgrade(path, version)
        except SfngError:
            raise
        except Exception as exc:  # noqa: BLE001 - any reader failure means a damaged file
            raise SfngError(f"{path}: the index is corrupt or truncated ({type(exc).__name__}: "
                            f"{exc}); rebuild it with `sfng index build --full`") from exc
        meta["migrated_from"] = version
        meta["notes"].append(older.note(path, old[2]))
    try:
        files = _read_table(path, FILES_HDU, columns, None if old is None else old[0])
        gal = (_read_table(path, GALAXIES_HDU, None, None if old is None else old[1])
               if galaxies else None)
    except SfngError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means a damaged file
        raise SfngError(f"{path}: the index is corrupt or truncated ({type(exc).__name__}: {exc}); "
                        f"rebuild it with `sfng index build --full`") from exc
    if meta["n_files"] >= 0 and len(files) != meta["n_files"]:
        raise SfngError(f"{path}: FILES has {len(files)} rows but the header says {meta['n_files']}; "
                        f"the index is damaged, rebuild it with `sfng index build --full`")
    return files, gal, meta


def _read_table(path, extname, columns, records=None):
    """The table ``extname`` of ``path``; ``records``: its rows already in this version's
    on-disk layout (an older index read through its frozen schema)."""
    from astropy.table import Table

    decl = {c.name: c for c in (FILES_COLUMNS if extname == FILES_HDU else GALAXIES_COLUMNS)}
    if columns is not None:
        unknown = [c for c in columns if c not in decl]
        if unknown:
            raise SfngError(f"unknown index column(s) {', '.join(unknown)}; known: {', '.join(decl)}")
    if records is not None and extname == GALAXIES_HDU:
        arr = _decoded(records)
    else:
        arr = records if records is not None else open_records(path) if extname == FILES_HDU \
            else None
    if arr is not None and not isinstance(arr, Table):
        # Our own layout: memory-mapped, text stays bytes (no 4x unicode copy of 1M rows).
        arr = arr[list(columns)] if columns is not None else arr
        if columns is not None:
            arr = np.ascontiguousarray(arr)
        logical = {c.name for c in FILES_COLUMNS if c.kind == "?"} & set(arr.dtype.names)
        if logical:
            table = Table(arr, copy=False)
            for name in logical:
                table[name] = arr[name] == ord("T")
            arr = table
    elif arr is not None:
        pass
    elif extname == GALAXIES_HDU and (gal := open_galaxy_records(path)) is not None:
        arr = _decoded(gal)
    else:
        import fitsio

        try:
            arr = fitsio.read(str(path), ext=extname, columns=columns, lower=True)
        except UnicodeDecodeError:  # fitsio reads text as ASCII: a UTF-8 value needs astropy
            from astropy.io import fits

            with fits.open(path, memmap=False) as hdul:
                arr = Table(hdul[extname].data)
            for name in list(arr.colnames):
                if columns is not None and name.lower() not in columns:
                    del arr[name]
                    continue
                if arr[name].dtype.kind == "S":
                    arr[name] = np.char.decode(np.asarray(arr[name]), "utf-8", "surrogateescape")
                if name != name.lower():
                    arr.rename_column(name, name.lower())
    if not isinstance(arr, Table) and arr.dtype.names is None:
        raise SfngError(f"{path}: HDU {extname} is not a table")
    table = arr if isinstance(arr, Table) else Table(arr, copy=False)
    for name in table.colnames:
        c = decl.get(name.lower())
        if c is None:
            continue
        if name != c.name:
            table.rename_column(name, c.name)
        col = table[c.name]
        if c.unit:
            col.unit = c.unit
        col.description = c.description
        if c.kind == "?" and col.dtype.kind != "b":
            table[c.name] = col.astype(bool)
    return table


def verify_companion(index_path) -> list[str]:
    """Problems found comparing the companion of ``index_path`` with its FITS table, value
    for value, and its recorded SHA-256 of the table's data bytes ([] when they agree or
    when the index has no companion)."""
    from .columns import companion_path, open_table

    try:
        prim = primary_cards(index_path)
    except (OSError, ValueError) as exc:
        return [f"{index_path}: cannot read the index: {exc}"]
    bid = prim.get("SFNGBID")
    if not bid:
        return []
    path = companion_path(index_path, bid)
    if not path.exists():
        return []
    try:
        n = int(prim.get("NFILES", -1))
    except ValueError:
        n = -1
    table = open_table(index_path, bid, n)
    if table is None:
        return [f"{path}: does not match {Path(index_path).name} (build {bid}, {n} rows)"]
    records = open_records(index_path)
    if records is None:
        return [f"{index_path}: the FILES table cannot be read in this sfng's layout"]
    problems = []
    for name in records.dtype.names:
        a, b = np.asarray(records[name]), table[name]
        if a.dtype.kind == "f":
            same = np.array_equal(a, b, equal_nan=True)
        else:
            same = np.array_equal(a, b)
        got = table.codes(name)
        if same and got is not None:
            values, codes = got
            same = np.array_equal(values[codes], a)
        if not same:
            problems.append(f"{path}: column {name!r} differs from the index")
    want = table.header.get("files_sha256")
    if want and files_data_sha256(index_path) != want:
        problems.append(f"{index_path}: the FILES data no longer have the SHA-256 its companion "
                        f"recorded")
    return problems
