"""Polarisation states of a FITS ``STOKES`` axis (WCS Paper I, Greisen & Calabretta 2002, Table 7).

The axis's pixel values are integer codes: 1..4 the Stokes I, Q, U, V; -1..-4 the circular
correlations RR, LL, RL, LR; -5..-8 the linear XX, YY, XY, YX; 5 the linear polarised intensity
sqrt(Q^2+U^2) ("PP" here), 6 the fractional one, 7 the position angle, 8 the spectral index.
A file without a ``STOKES`` axis says nothing about polarisation: unknown, never "I".
"""

from __future__ import annotations

import math

#: Stokes-axis code -> state name (ObsCore 1.1 ``pol_states`` spells the same names).
STOKES_CODES = {1: "I", 2: "Q", 3: "U", 4: "V", -1: "RR", -2: "LL", -3: "RL", -4: "LR",
                -5: "XX", -6: "YY", -7: "XY", -8: "YX", 5: "POLI", 6: "POLF", 7: "POLA", 8: "ALPHA"}

#: The order ObsCore 1.1 (section 4.19) lists states in, and the names it knows.
OBSCORE_ORDER = ("I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "XY", "YX", "YY", "POLI", "POLA")


def stokes_states(header) -> list[str] | None:
    """The states along the header's ``STOKES`` axis, in pixel order; None without such an axis
    or when a pixel's value is not one of the codes (a broken axis stays unknown).

    Each pixel p (1-based) has the code CRVALn + (p - CRPIXn) * CDELTn (CDn_n when given;
    CRPIX defaults to 1 and CDELT to 1 as the standard says)."""
    naxis = _int(header.get("NAXIS"), 0)
    for n in range(1, naxis + 1):
        if str(header.get(f"CTYPE{n}", "")).strip().upper() != "STOKES":
            continue
        length = _int(header.get(f"NAXIS{n}"), 0)
        crval = _float(header.get(f"CRVAL{n}"), math.nan)
        crpix = _float(header.get(f"CRPIX{n}"), 1.0)
        step = header.get(f"CD{n}_{n}")
        step = _float(step if step is not None else header.get(f"CDELT{n}"), 1.0)
        if length < 1 or not math.isfinite(crval):
            return None
        if length > len(STOKES_CODES):   # more pixels than states: a broken axis (and a hostile
            return None                  # NAXISn = 1E15 is not a loop of 1E15 steps)
        states = []
        for p in range(1, length + 1):
            code = crval + (p - crpix) * step
            name = STOKES_CODES.get(round(code)) if abs(code - round(code)) < 1e-6 else None
            if name is None:
                return None
            states.append(name)
        return states
    return None


def obscore_pol_states(states) -> str:
    """ObsCore ``pol_states``: the distinct states in the standard's order between slashes
    (``/I/``, ``/I/Q/U/V/``); '' when unknown or when a state has no ObsCore name."""
    if not states:
        return ""
    names = set(states)
    if not names <= set(OBSCORE_ORDER):
        return ""
    return "/" + "/".join(s for s in OBSCORE_ORDER if s in names) + "/"


def _int(v, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _float(v, default: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default
