"""Text columns of the memory-mapped FILES table, compared as integers where they lie.

A text column's bytes are viewed as 8-, 4-, 2- and 1-byte integer words (:meth:`Index.byte_words
<sfng.query.index.Index.byte_words>`), so that a value is found by integer comparisons in the memory
map, and a set of many values by a 64-bit hash per row, without decoding a million strings.
"""

from __future__ import annotations

import numpy as np


def every_row(rows, n: int) -> bool:
    """True when ``rows`` is 0..n-1 in order: the column itself serves, without a gathered
    copy of a million values out of the memory map."""
    rows = np.asarray(rows)
    return len(rows) == n and n > 0 and rows[0] == 0 and rows[-1] == n - 1 \
        and bool(np.all(rows[1:] > rows[:-1]))


def equal_words(words: list, value: bytes) -> np.ndarray:
    """Rows whose bytes equal ``value`` (padded to the column width): the first word over all
    rows, the others only where the first matched.  A NUL ends a FITS string, so words past
    the value's terminating NUL are not compared."""
    end = len(value.rstrip(b"\0"))
    (first, j, size), rest = words[0], [w for w in words[1:] if w[1] <= end]
    m = first == int.from_bytes(value[j:j + size], "little")
    if rest:
        idx = np.flatnonzero(m)
        for view, j, size in rest:
            if not len(idx):
                break
            idx = idx[view[idx] == int.from_bytes(value[j:j + size], "little")]
        m = np.zeros(len(first), dtype=bool)
        m[idx] = True
    return m


def row_hash(words: list) -> np.ndarray:
    """A 64-bit hash per row of a text column given as integer word views."""
    h = np.zeros(len(words[0][0]), dtype=np.uint64)
    p = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for view, _, _ in words:
            h = h * p ^ view.astype(np.uint64)
    return h


def _words_of(values: list, width: int) -> list:
    """Integer word views of a small list of byte strings (the values looked for)."""
    arr = np.array([v.ljust(width, b"\0") for v in values], dtype=f"S{width}")
    out, j = [], 0
    while j < width:
        size = next(k for k in (8, 4, 2, 1) if k <= width - j)
        dtype = np.dtype("u1") if size == 1 else np.dtype(f"<u{size}")
        out.append((np.ndarray((len(arr),), dtype=dtype, buffer=arr, offset=j, strides=(width,)), j, size))
        j += size
    return out


def isin_many(words: list, col: np.ndarray, want: list) -> np.ndarray:
    """Rows whose value is one of many (a galaxy set): hash every row in numpy, keep rows
    whose hash is wanted, then confirm those exactly (a million rows in a few tens of ms,
    where a Python set look-up per row takes several hundred)."""
    width = col.dtype.itemsize
    targets = np.sort(row_hash(_words_of(want, width)))
    h = row_hash(words)
    pos = np.minimum(np.searchsorted(targets, h), len(targets) - 1)
    m = targets[pos] == h
    hit = np.flatnonzero(m)
    if len(hit):
        wanted = set(want)
        exact = np.fromiter((v in wanted for v in col[hit].tolist()), dtype=bool, count=len(hit))
        m[hit[~exact]] = False
    return m


def padded(col) -> bool:
    """True when text values carry trailing blanks (a writer that pads with spaces)."""
    sample = col[: min(len(col), 64)]
    return any(bytes(v).endswith(b" ") for v in sample)
