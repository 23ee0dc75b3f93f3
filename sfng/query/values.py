"""Values read from the index as plain Python: finite numbers, decoded text, JSON-ready scalars."""

from __future__ import annotations

import math

import numpy as np


def plain(v):
    """A numpy value as plain Python for tables and JSON: NaN -> None, float32 -> its
    shortest decimal (6.2, not 6.199999809265137)."""
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v]
    if isinstance(v, np.floating):
        if not np.isfinite(v):
            return None
        return float(str(v)) if v.dtype.itemsize == 4 else float(v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def single(v) -> float:
    """A value read from a single-precision column as the decimal it was written as (6.2)."""
    return float(str(np.float32(v)))


def strip_text(v) -> str:
    """A text value (bytes or str) as str without surrounding blanks (stored bytes decoded as
    :func:`sfng.index.io.decode_text` does: UTF-8, other bytes as surrogate escapes)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape").strip()
    return str(v).strip()


def finite(x) -> bool:
    """True for a value that is a finite number (not None, NaN, infinite or text)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def html_cell(v, column: str = "") -> str:
    """A value for an HTML table cell: escaped text, floats as written (positions to 1e-6
    degree), '' for unknown."""
    from html import escape

    from ..numbers import value_text

    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return value_text(v, column)
    return escape(str(v))
