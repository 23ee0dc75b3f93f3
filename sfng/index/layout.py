"""The on-disk layout of an index table row (FITS BINTABLE): :func:`disk_dtype`, :func:`tform`.

Shared by the writer and reader (:mod:`sfng.index.io`) and the reader of older schemas
(:mod:`sfng.index.older`), for any column list (the current one or a frozen one).

A column's declared width (text) or shape (arrays) is the most it may hold, and
:func:`disk_dtype` is that widest layout, the one rows are built in.  The writer stores each
FILES column as narrow as this index's values allow (:func:`narrow_dtype`: the longest text,
the last array cell any row uses), so a row costs what its values need, not 2.7 kB; readers
take the layout from ``TFORMn`` (:func:`dtype_from_cards`) and :func:`widen` gives rows back
in the widest layout, losslessly.
"""

from __future__ import annotations

import numpy as np

from .schema import Column

_TFORM = {"f8": "D", "f4": "E", "i2": "I", "i4": "J", "i8": "K", "?": "L"}


def disk_dtype(columns) -> np.dtype:
    """The big-endian numpy dtype of one FITS table row for ``columns``, every column at its
    declared size (the widest layout)."""
    return narrow_dtype(columns, {}, {})


def tform(c: Column) -> str:
    """``TFORMn`` of column ``c`` at its declared size."""
    return field_tform(c, disk_dtype([c]))


def fill_value(c: Column):
    """What an unused array cell holds (and a narrowed-away one reads back as)."""
    return np.nan if c.kind == "f" else -1


def narrow_dtype(columns, widths: dict, lengths: dict) -> np.dtype:
    """The big-endian row dtype with text columns ``widths[name]`` bytes wide and array
    columns ``lengths[name]`` cells long (each at least 1; the declared size when absent)."""
    fields = []
    for c in columns:
        if c.kind == "U":
            fields.append((c.name, f"S{max(1, min(c.width, widths.get(c.name, c.width)))}"))
        elif c.kind == "?":
            fields.append((c.name, "i1"))   # FITS logical: ord('T') / ord('F')
        elif c.shape:
            shape = (max(1, min(c.shape[0], lengths[c.name])),) if c.name in lengths else c.shape
            fields.append((c.name, ">" + c.dtype, shape))
        else:
            fields.append((c.name, ">" + c.dtype))
    return np.dtype(fields)


def field_tform(c: Column, dt: np.dtype) -> str:
    """``TFORMn`` of column ``c`` as laid out in the row dtype ``dt``."""
    field = dt[c.name]
    if c.kind == "U":
        return f"{field.itemsize}A"
    n = field.shape[0] if field.shape else 1
    return f"{n if n != 1 else ''}{_TFORM[c.dtype]}"


_FORM_CODE = {v: k for k, v in _TFORM.items()}


def dtype_from_cards(columns, cards: dict) -> np.dtype | None:
    """The row dtype a FILES header describes (``TTYPEn``/``TFORMn``), or None when its
    columns are not ``columns`` in order, of their kinds and within their declared sizes."""
    import re

    if cards.get("TFIELDS") != str(len(columns)):
        return None
    widths, lengths = {}, {}
    for i, c in enumerate(columns, start=1):
        if cards.get(f"TTYPE{i}") != c.name:
            return None
        m = re.fullmatch(r"(\d*)([A-Z])", str(cards.get(f"TFORM{i}", "")).strip())
        if m is None:
            return None
        n = int(m.group(1)) if m.group(1) else 1
        code = m.group(2)
        if c.kind == "U":
            if code != "A" or not 1 <= n <= c.width:
                return None
            widths[c.name] = n
        elif _FORM_CODE.get(code) != c.dtype:
            return None
        elif c.shape:
            if not 1 <= n <= c.shape[0]:
                return None
            lengths[c.name] = n
        elif n != 1:
            return None
    return narrow_dtype(columns, widths, lengths)


def widen(records: np.ndarray, columns) -> np.ndarray:
    """``records`` (any narrower layout of ``columns``, either byte order) as a new array in
    the widest layout (:func:`disk_dtype`): text padded with NULs, array cells past the stored
    ones set to their fill value."""
    dt = disk_dtype(columns)
    if records.dtype == dt:
        return np.array(records)
    out = np.zeros(len(records), dtype=dt)
    for c in columns:
        src = records[c.name]
        if c.shape and src.shape[1:] != out[c.name].shape[1:]:
            k = src.shape[1]
            out[c.name][:, :k] = src
            out[c.name][:, k:] = fill_value(c)
        else:
            out[c.name] = src
    return out
