"""The index's ``extra`` column: product-specific values as ``KEY=VALUE;KEY=VALUE``.

Generic describers write keys every format may have (``pol``: the Stokes states of a
polarisation axis); format plug-ins add their own (MaNGA's ``plateifu``, ``mangaid``...).
"""

from __future__ import annotations

import math


def format_extra(extra: dict, limit: int = 160) -> str:
    """``KEY=VALUE;...`` for the index's ``extra`` column; keys are in priority order and the last
    ones are dropped when the text would not fit ``limit`` characters."""
    parts = []
    for k, v in extra.items():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
            continue
        if isinstance(v, float):
            v = f"{v:.10g}" if k in ("objra", "objdec") else f"{v:.6g}"
        parts.append(f"{k}={v}")
    while parts and len(";".join(parts)) > limit:
        parts.pop()
    return ";".join(parts)


def parse_extra(text: str) -> dict:
    """``"a=1;b=x"`` -> ``{"a": 1, "b": "x"}`` (numbers cast), the inverse of :func:`format_extra`."""
    out = {}
    for part in (text or "").split(";"):
        if "=" not in part:
            continue
        k, _, v = part.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out
