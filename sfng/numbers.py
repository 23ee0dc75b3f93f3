"""Header, table and README values as numbers: one rule for "unknown".

A value that is missing (None), a FITS logical (True/False is no number), or text that does not
read as a number is NaN, never a guess.
"""

from __future__ import annotations

NAN = float("nan")


def as_float(value) -> float:
    """``value`` as a float; NaN for None, a boolean, or anything ``float()`` refuses."""
    if value is None or isinstance(value, bool):
        return NAN
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


#: Columns holding a sky position in degrees: shown to 1e-6 degree (3.6 mas).
POSITION_COLUMNS = frozenset({"ra", "dec", "ra_deg", "dec_deg", "ra_icrs", "dec_icrs", "s_ra", "s_dec"})


def value_text(v: float, column: str = "") -> str:
    """A finite float for people: a position (:data:`POSITION_COLUMNS`) to 1e-6 degree, any
    other number as written (:func:`float_text`)."""
    return f"{v:.6f}" if column.lower() in POSITION_COLUMNS else float_text(v)


def float_text(v: float) -> str:
    """A float as it was written: the shortest text that reads back to the same double -- or, for
    a 32-bit float widened to a double (the index keeps most numbers so) whose double text would
    be long, to the same float32 (``5.8``, not ``5.800000190734863``); ``6.0`` shown as ``6``."""
    import numpy as np

    x = np.float64(v)
    digits = len(repr(float(v)).split("e")[0].replace("-", "").replace(".", "").strip("0"))
    if digits > 9 and float(np.float32(v)) == v:
        x = np.float32(v)     # a float32 widened to double: 5.8, not 5.800000190734863
    if v != 0 and not 1e-5 <= abs(v) < 1e16:
        return np.format_float_scientific(x, trim="-")
    return np.format_float_positional(x, trim="-")
