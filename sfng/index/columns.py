"""The index's columnar companion: the FILES table stored column by column, for fast queries.

``SFNG-INDEX.fits`` stays the artifact (a FITS BINTABLE any reader takes, the file a user
downloads), but a FITS table is stored row by row: testing one column of a million rows walks
every page of the file.  The writer (:class:`sfng.index.io.IndexWriter`) therefore also writes
the same FILES values column by column, next to the index:

    <folder>/.sfng-columns/<index name>.<build id>.cols

A companion is named by the build id the index carries (primary card ``SFNGBID``) and is
written, fsynced and renamed into place *before* the index itself is renamed into place, so an
index always finds its own companion or none, never another build's: a kill at any point
leaves either the old index with its old companion, or the new one with its new companion.
Superseded companions are pruned by the next build (:func:`prune`).

A reader takes the companion only when its header names the index's build id, row count and
file size; otherwise (a downloaded index, a damaged or foreign companion) it reads the FITS
file, with the same answers.  :func:`verify` checks a companion value for value against the
FITS table (``sfng fsck``), and the companion records the SHA-256 of the FITS table's data
bytes it was written with.

Layout (version 1)::

    b"SFNGCOLS" | uint32 LE version | uint32 LE header length | header (UTF-8 JSON) | pad
    then each column's values, native byte order, starting on a 64-byte boundary

The JSON header holds ``rows``, ``build_id``, ``index_name``, ``fits_size``,
``files_sha256`` and, per column, ``name``, ``dtype`` (numpy ``dtype.str``), ``shape`` (cells
per row, ``[]`` for scalars) and ``offset``.  A text column with few distinct values (galaxy,
tracer, survey...: :data:`MAX_CODES` at most, found by the writer from the values, not from a
list of names) also has ``codes``: its distinct values (sorted, ``values_offset``,
``n_values``) and each row's position among them (``codes_offset``, ``codes_dtype``), so
grouping by it (``--has``/``--lacks``) is an integer operation.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np

#: A text column gets dictionary codes when it has at most this many distinct values.
MAX_CODES = 1 << 16

MAGIC = b"SFNGCOLS"
VERSION = 1
FOLDER = ".sfng-columns"
_ALIGN = 64


def companion_path(index_path, build_id: str, index_name: str | None = None) -> Path:
    """Where the companion of the index at ``index_path`` with ``build_id`` lives."""
    index_path = Path(index_path)
    return index_path.parent / FOLDER / f"{index_name or index_path.name}.{build_id}.cols"


#: Rows sorted at once by :func:`dictionary` (bounds its memory whatever the index's size).
_DICT_PIECE = 1 << 17


def dictionary(col: np.ndarray):
    """``(values, codes)`` of a text column with at most :data:`MAX_CODES` distinct values
    (``values[codes] == col``), or None.  A sample decides first, so a column of distinct
    values (paths) costs a sample's sort, not a full one.  The column is read a piece at a
    time (a memory-mapped spill file of 10^7 rows is never copied whole): each piece's
    distinct values, merged, then each piece coded against them by binary search."""
    if col.dtype.kind != "S" or not len(col):
        return None
    n = len(col)
    step = max(1, n // 20000)
    if len(np.unique(col[::step])) > min(MAX_CODES, max(16, n // (4 * step))):
        return None
    values = np.zeros(0, dtype=col.dtype)
    for a in range(0, n, _DICT_PIECE):
        values = np.union1d(values, np.unique(col[a:a + _DICT_PIECE]))
        if len(values) > MAX_CODES:
            return None
    codes = np.empty(n, dtype=np.uint16 if len(values) <= 1 << 16 else np.uint32)
    for a in range(0, n, _DICT_PIECE):
        codes[a:a + _DICT_PIECE] = np.searchsorted(values, col[a:a + _DICT_PIECE])
    return values, codes


def write(path: Path, columns: dict, n_rows: int, meta: dict, codes: dict | None = None) -> None:
    """Write the companion ``path`` from ``columns`` (name -> ``(dtype, cells per row, parts)``
    where ``parts()`` yields the column's values in row order, in pieces), atomically:
    temporary name in the same folder, fsync, rename, fsync of the folder.  ``meta`` goes into
    the header; ``codes``: name -> :func:`dictionary` of that column."""
    from ..fsutil import fsync_dir, temp_path

    codes = codes or {}
    path.parent.mkdir(exist_ok=True)
    specs, offset, blobs = [], 0, []

    def place(nbytes):
        nonlocal offset
        at = offset
        offset += nbytes + (-nbytes % _ALIGN)
        return at

    for name, (dtype, shape, parts) in columns.items():
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize * n_rows
        spec = {"name": name, "dtype": dtype.str, "shape": list(shape), "offset": place(size)}
        blobs.append((spec["offset"], parts, dtype))
        if name in codes:
            values, idx = codes[name]
            spec["codes"] = {"values_offset": place(values.nbytes), "values_dtype": values.dtype.str,
                             "n_values": len(values), "codes_offset": place(idx.nbytes),
                             "codes_dtype": idx.dtype.str}
            blobs.append((spec["codes"]["values_offset"], lambda v=values: [v], values.dtype))
            blobs.append((spec["codes"]["codes_offset"], lambda c=idx: [c], idx.dtype))
        specs.append(spec)
    head = json.dumps({**meta, "rows": int(n_rows), "columns": specs}).encode("utf-8")
    start = 16 + len(head)
    start += -start % _ALIGN
    tmp = temp_path(path.parent, ".cols")
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<II", VERSION, len(head)) + head)
            f.write(b"\0" * (start - f.tell()))
            for at, parts, dtype in blobs:
                assert f.tell() == start + at
                written = 0
                for part in parts():
                    raw = np.ascontiguousarray(part, dtype=dtype).tobytes()
                    f.write(raw)
                    written += len(raw)
                f.write(b"\0" * (-written % _ALIGN))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class ColumnTable:
    """The FILES table of a companion: ``table[name]`` is a column (a read-only view of the
    memory-mapped file, contiguous), ``table[rows]`` a structured array of those rows,
    ``len(table)`` the row count, ``table.dtype`` the row layout (fields in index order)."""

    def __init__(self, path: Path, mm, header: dict, base: int):
        self.path = path
        self._mm = mm
        self._n = int(header["rows"])
        self.header = header
        self._cols = {}
        self._codes = {}
        fields = []
        for spec in header["columns"]:
            dtype = np.dtype(spec["dtype"])
            shape = tuple(spec["shape"])
            self._cols[spec["name"]] = (dtype, shape, base + int(spec["offset"]))
            if spec.get("codes"):
                self._codes[spec["name"]] = {k: v + base if k.endswith("_offset") else v
                                             for k, v in spec["codes"].items()}
            fields.append((spec["name"], dtype, shape) if shape else (spec["name"], dtype))
        self.dtype = np.dtype(fields)

    def __len__(self):
        return self._n

    @property
    def shape(self):
        return (self._n,)

    def column(self, name: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_views", {})
        if name not in cache:
            dtype, shape, offset = self._cols[name]
            count = self._n * int(np.prod(shape, dtype=np.int64))
            arr = np.frombuffer(self._mm, dtype=dtype, count=count, offset=offset)
            cache[name] = arr.reshape((self._n, *shape)) if shape else arr
        return cache[name]

    def codes(self, name: str):
        """``(values, codes)`` of a text column stored with dictionary codes, else None."""
        c = self._codes.get(name)
        if c is None:
            return None
        cache = self.__dict__.setdefault("_code_views", {})
        if name not in cache:
            values = np.frombuffer(self._mm, dtype=np.dtype(c["values_dtype"]), count=int(c["n_values"]),
                                   offset=int(c["values_offset"]))
            codes = np.frombuffer(self._mm, dtype=np.dtype(c["codes_dtype"]), count=self._n,
                                  offset=int(c["codes_offset"]))
            cache[name] = (values, codes)
        return cache[name]

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._cols:
                raise KeyError(key)
            return self.column(key)
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        picked = {name: self.column(name)[key] for name in self._cols}
        out = np.empty(len(next(iter(picked.values()))) if picked else 0, dtype=self.dtype)
        for name, col in picked.items():
            out[name] = col
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)

    def __iter__(self):
        step = 1 << 16   # rows assembled a piece at a time, not one by one
        for a in range(0, self._n, step):
            yield from self[a:a + step]


def read_header(path: Path) -> tuple[dict, int]:
    """The JSON header of a companion and where its column data start.

    Raises ValueError (not a companion, another version, damaged) or OSError."""
    with open(path, "rb") as f:
        lead = f.read(16)
        if len(lead) < 16 or lead[:8] != MAGIC:
            raise ValueError(f"{path}: not an sfng columnar companion")
        version, n = struct.unpack("<II", lead[8:])
        if version != VERSION:
            raise ValueError(f"{path}: companion version {version}, this sfng reads {VERSION}")
        head = json.loads(f.read(n).decode("utf-8"))
    start = 16 + n
    return head, start + (-start % _ALIGN)


def open_table(index_path, build_id: str | None, n_rows: int) -> ColumnTable | None:
    """The companion of the index at ``index_path`` (written with ``build_id``, holding
    ``n_rows`` FILES rows), or None when there is none that matches it exactly."""
    if not build_id:
        return None
    index_path = Path(index_path)
    path = companion_path(index_path, build_id)
    try:
        fits_size = os.stat(index_path).st_size
        head, base = read_header(path)
        if (head.get("build_id") != build_id or int(head.get("rows", -1)) != n_rows
                or int(head.get("fits_size", -1)) != fits_size):
            return None
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            ends = [int(c["offset"]) + n_rows * np.dtype(c["dtype"]).itemsize
                    * int(np.prod(c["shape"], dtype=np.int64)) for c in head["columns"]]
            ends += [int(c["codes"]["codes_offset"]) + n_rows * np.dtype(c["codes"]["codes_dtype"]).itemsize
                     for c in head["columns"] if c.get("codes")]
            end = base + max(ends, default=0)
            if size < end:
                return None
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return ColumnTable(path, mm, head, base)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None


def prune(index_path, keep: str | None) -> int:
    """Remove the companions of ``index_path``'s name other than build ``keep``; how many."""
    index_path = Path(index_path)
    folder = index_path.parent / FOLDER
    gone = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        name = e.name
        if name.startswith(index_path.name + ".") and name.endswith(".cols") \
                and name != f"{index_path.name}.{keep}.cols":
            try:
                os.unlink(e.path)
                gone += 1
            except OSError:
                pass
    return gone
