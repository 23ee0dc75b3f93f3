"""``sfng plot``: the footprints of a galaxy's files on the sky, and matplotlib (an optional extra)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import SfngError
from ..select import Selection
from .index import Index
from .selecting import select


def plot_footprints(index: Index, name: str, out, selection: Selection | None = None) -> Path:
    """PNG of the footprints of all files on galaxy ``name`` around its position.

    Offsets are drawn in a gnomonic (tangent-plane) projection centred on the galaxy, in
    arcmin, east to the left as on the sky.
    """
    plt = pyplot()
    canon = index.resolve_galaxy(name)
    if canon is None:
        raise SfngError(f"no galaxy {name!r} in the index {index.path}")
    sel = selection or Selection()
    sel = Selection.build(**{**sel.__dict__, "galaxies": (canon,)})
    res = select(index, sel)
    pos = index.galaxy_position(canon)
    ras = np.asarray(index.raw("foot_ra", res.rows), dtype=float)
    decs = np.asarray(index.raw("foot_dec", res.rows), dtype=float)
    ns = np.asarray(index.raw("foot_n", res.rows), dtype=int)
    if pos is None:
        good = ns >= 3
        if not good.any():
            raise SfngError(f"{canon}: neither a position nor any footprint to draw")
        pos = (float(np.nanmean(ras[good])), float(np.nanmean(decs[good])))
    tracers = res.column("tracer")
    surveys = res.column("survey")
    fig, ax = plt.subplots(figsize=(6.5, 6))
    colours = {}
    for ra, dec, k, t, s in zip(ras, decs, ns, tracers, surveys):
        if k < 3:
            continue
        x, y = _gnomonic(ra[:k], dec[:k], *pos)
        label = f"{s} {t}".strip()
        c = colours.setdefault(label, f"C{len(colours) % 10}")
        ax.fill(np.r_[x, x[0]], np.r_[y, y[0]], alpha=0.15, color=c)
        ax.plot(np.r_[x, x[0]], np.r_[y, y[0]], color=c, label=label if label not in ax.get_legend_handles_labels()[1] else None)
    ax.plot([0], [0], "k+", ms=14, mew=2, label=canon)
    ax.invert_xaxis()
    ax.set_aspect("equal")
    ax.set_xlabel("east offset (arcmin)")
    ax.set_ylabel("north offset (arcmin)")
    ax.set_title(f"{canon}: footprints of {int(np.count_nonzero(ns >= 3))} file(s)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _gnomonic(ra, dec, ra0, dec0):
    """Tangent-plane offsets (arcmin) of (ra, dec) around (ra0, dec0); all in degrees."""
    a, d = np.radians(ra), np.radians(dec)
    a0, d0 = math.radians(ra0), math.radians(dec0)
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    x = np.cos(d) * np.sin(a - a0) / cosc
    y = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc
    return np.degrees(x) * 60.0, np.degrees(y) * 60.0


def pyplot():
    """matplotlib.pyplot (Agg backend), or SfngError saying how to install the ``plot`` extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SfngError("plotting needs matplotlib, an optional extra: pip install 'sfng[plot]'") from exc
    return plt
