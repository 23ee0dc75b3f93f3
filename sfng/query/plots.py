"""``sfng plot``: the footprints of a galaxy's files on the sky, and matplotlib (an optional extra)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import SfngError
from ..select import Selection
from .index import Index
from .selecting import select

#: Line styles and hatches given in turn to footprints that coincide with one drawn before, so
#: that identical footprints (one survey's maps of several tracers) do not hide each other.
_STYLES = ("-", "--", ":", "-.")
_HATCHES = (None, "//", "\\\\", "xx", "..", "++")


def plot_footprints(index: Index, name: str, out, selection: Selection | None = None,
                    *, dpi: int = 100) -> Path:
    """PNG of the footprints of all files on galaxy ``name`` around its position.

    Drawn on a real sky grid (astropy WCSAxes: a gnomonic projection centred on the galaxy,
    RA increasing to the left, labelled RA/Dec ticks), one colour per survey and tracer, the
    beam of each drawn as an ellipse in the lower left corner, the legend outside the axes.
    Footprints that coincide with one drawn before get another line style and a hatch, and are
    inset a little so that every outline stays visible.
    """
    plt = pyplot()
    from astropy.wcs import WCS
    from matplotlib.patches import Ellipse, Polygon

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
    if ras.ndim == 1:
        ras, decs = ras.reshape(len(ns), -1), decs.reshape(len(ns), -1)
    if pos is None:
        good = ns >= 3
        if not good.any():
            raise SfngError(f"{canon}: neither a position nor any footprint to draw")
        pos = (float(np.nanmean(ras[good, :1])), float(np.nanmean(decs[good, :1])))
    tracers = res.column("tracer")
    surveys = res.column("survey")
    bmaj = np.asarray(index.numbers("bmaj", res.rows), dtype=float)
    bmin = np.asarray(index.numbers("bmin", res.rows), dtype=float)
    bpa = np.asarray(index.numbers("bpa", res.rows), dtype=float)

    # the extent: every footprint (offsets in arcmin), at least 2 arcmin
    polys = []
    for i, k in enumerate(ns):
        if k >= 3 and np.all(np.isfinite(ras[i, :k])) and np.all(np.isfinite(decs[i, :k])):
            x, y = _gnomonic(ras[i, :k], decs[i, :k], *pos)
            polys.append((i, x, y))
    half = max([2.0] + [float(np.nanmax(np.abs(np.r_[x, y]))) for _, x, y in polys]) * 1.1
    npix = 400
    scale = 2 * half / npix                                   # arcmin per pixel
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [pos[0], pos[1]]
    wcs.wcs.crpix = [npix / 2 + 0.5, npix / 2 + 0.5]
    wcs.wcs.cdelt = [-scale / 60.0, scale / 60.0]

    fig = plt.figure(figsize=(8.8, 6.0))
    ax = fig.add_axes([0.13, 0.1, 0.55, 0.8], projection=wcs)
    ax.set_xlim(-0.5, npix - 0.5)
    ax.set_ylim(-0.5, npix - 0.5)
    ax.coords.grid(True, color="0.6", ls=":", lw=0.6)
    ax.coords[0].set_axislabel("RA (ICRS)")
    ax.coords[1].set_axislabel("Dec (ICRS)")
    ax.coords[0].set_major_formatter("hh:mm:ss")
    ax.coords[1].set_major_formatter("dd:mm:ss")

    def to_pix(x, y):  # tangent-plane offsets (arcmin, east positive) -> pixels
        return npix / 2 - 0.5 - np.asarray(x) / scale, npix / 2 - 0.5 + np.asarray(y) / scale

    colours, seen, beams = {}, [], {}
    handles = {}
    for i, x, y in polys:
        label = f"{surveys[i]} {tracers[i]}".strip()
        c = colours.setdefault(label, f"C{len(colours) % 10}")
        px, py = to_pix(x, y)
        key = np.round(np.c_[px, py], 0)
        dup = sum(1 for other in seen if other.shape == key.shape and np.allclose(other, key, atol=2))
        seen.append(key)
        if dup:  # inset toward the centroid, a few pixels per layer, so the outline shows
            cx, cy = px.mean(), py.mean()
            f = max(0.5, 1.0 - 0.025 * dup)
            px, py = cx + (px - cx) * f, cy + (py - cy) * f
        poly = Polygon(np.c_[px, py], closed=True, facecolor=c if not dup else "none",
                       alpha=0.15 if not dup else 1.0, edgecolor="none",
                       hatch=_HATCHES[dup % len(_HATCHES)])
        if dup:
            poly.set_edgecolor(c)
            poly.set_linewidth(0)
        ax.add_patch(poly)
        (line,) = ax.plot(np.r_[px, px[0]], np.r_[py, py[0]], color=c, lw=1.4,
                          ls=_STYLES[dup % len(_STYLES)])
        handles.setdefault(label, line)
        if np.isfinite(bmaj[i]) and bmaj[i] > 0:
            b = (round(float(bmaj[i]), 3), round(float(bmin[i] if np.isfinite(bmin[i]) else bmaj[i]), 3),
                 round(float(bpa[i]) if np.isfinite(bpa[i]) else 0.0, 1))
            beams.setdefault((label, b), c)
    # beams: ellipses to scale along the lower edge (the axes' own pixels are arcmin / scale)
    xpos = npix * 0.06
    for (label, (maj, mn, pa)), c in beams.items():
        h = maj / 60.0 / scale
        w = mn / 60.0 / scale
        size = max(h, w, 4.0)
        xpos += size / 2
        ax.add_patch(Ellipse((xpos, npix * 0.06 + size / 2), width=max(w, 1.0), height=max(h, 1.0),
                             angle=pa, facecolor=c, edgecolor="k", lw=0.5, alpha=0.8))
        xpos += size / 2 + 6
    (centre,) = ax.plot([npix / 2 - 0.5], [npix / 2 - 0.5], "k+", ms=14, mew=2)
    hs = [centre] + list(handles.values())
    ls = [canon] + list(handles)
    if beams:
        from matplotlib.lines import Line2D

        hs.append(Line2D([], [], marker="o", ls="none", mfc="0.5", mec="k"))
        ls.append("beams (lower left, to scale)")
    ax.legend(hs, ls, fontsize=7, loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0,
              frameon=False)
    ax.set_title(f"{canon}: footprints of {len(polys)} file(s)")
    out = Path(out)
    fig.savefig(out, dpi=dpi)
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


def contrast_colour(rgb) -> str:
    """Black or white, whichever reads better on the colour ``rgb`` (0..1 floats; WCAG luminance)."""
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(v)) for v in list(rgb)[:3])
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


def pyplot():
    """matplotlib.pyplot (Agg backend), or SfngError saying how to install the ``plot`` extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SfngError("plotting needs matplotlib, an optional extra: pip install 'sfng[plot]'") from exc
    return plt
