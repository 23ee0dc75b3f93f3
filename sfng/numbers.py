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
