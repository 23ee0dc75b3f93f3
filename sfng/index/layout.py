"""The on-disk layout of an index table row (FITS BINTABLE): :func:`disk_dtype`, :func:`tform`.

Shared by the writer and reader (:mod:`sfng.index.io`) and the reader of older schemas
(:mod:`sfng.index.older`), for any column list (the current one or a frozen one).
"""

from __future__ import annotations

import numpy as np

from .schema import Column

_TFORM = {"f8": "D", "f4": "E", "i2": "I", "i4": "J", "i8": "K", "?": "L"}


def disk_dtype(columns) -> np.dtype:
    """The big-endian numpy dtype of one FITS table row for ``columns``."""
    fields = []
    for c in columns:
        if c.kind == "U":
            base = f"S{c.width}"
        elif c.kind == "?":
            base = "i1"   # FITS logical: ord('T') / ord('F')
        else:
            base = ">" + c.dtype
        fields.append((c.name, base, c.shape) if c.shape else (c.name, base))
    return np.dtype(fields)


def tform(c: Column) -> str:
    if c.kind == "U":
        return f"{c.width}A"
    n = c.shape[0] if c.shape else 1
    return f"{n if n != 1 else ''}{_TFORM[c.dtype]}"
