"""``sfng plot``: the footprints of a galaxy's files on the sky (:func:`plot_footprints`), the
store's files on the whole sky (:func:`plot_sky`), and matplotlib (an optional extra)."""

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


def plot_sky(index: Index, out, selection: Selection | None = None, *, dpi: int = 100,
             overwrite: bool = False) -> Path:
    """PNG (or PDF/SVG, by ``out``'s suffix) of where the selected files lie on the whole sky.

    An all-sky Mollweide map in ICRS on a real RA/Dec grid (astropy WCSAxes, ``RA---MOL``: RA 0h
    in the middle, increasing to the left, as the sky is seen), one marker per survey at each
    distinct file centre, one colour and marker shape per survey, the legend outside the axes
    with each survey's file count; wide footprints (flag 256: all-sky maps, more than a
    hemisphere) as the outline of their cap; the Galactic plane dotted, for orientation.  Files
    without a position are counted in the title, never placed.  Written through a temporary
    name and a rename; an existing ``out`` is kept unless ``overwrite``.
    """
    fig, _ax = sky_figure(index, selection)
    return save_figure(fig, out, dpi=dpi, overwrite=overwrite)


def save_figure(fig, out, *, dpi: int = 100, overwrite: bool = False) -> Path:
    """Write a matplotlib figure (format from ``out``'s suffix, PNG without one) through a
    temporary name, fsync and rename, and close it; an existing ``out`` is kept unless
    ``overwrite`` (SfngError)."""
    import io

    from ..fsutil import atomic_write_bytes

    out = Path(out)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=dpi, format=out.suffix.lstrip(".").lower() or "png")
    finally:
        pyplot().close(fig)
    try:
        atomic_write_bytes(out, buf.getvalue(), overwrite=overwrite)
    except FileExistsError:
        raise SfngError(f"{out} exists (never overwritten); choose another name") from None
    return out


def sky_figure(index: Index, selection: Selection | None = None):
    """``(figure, axes)`` of :func:`plot_sky`, for a caller that adds to it or saves it itself
    (the axes are astropy WCSAxes: ``ax.get_transform("world")`` takes RA/Dec in degrees)."""
    plt = pyplot()
    from astropy.wcs import WCS

    from .selecting import wide_rows

    res = select(index, selection or Selection())
    rows = res.rows
    ra = np.asarray(index.numbers("ra", rows), dtype=float)
    dec = np.asarray(index.numbers("dec", rows), dtype=float)
    fov = np.asarray(index.numbers("fov", rows), dtype=float)
    wide = wide_rows(index, rows) if len(rows) else np.zeros(0, dtype=bool)
    surveys = res.column("survey") if len(rows) else np.array([], dtype=str)
    placed = np.isfinite(ra) & np.isfinite(dec)

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---MOL", "DEC--MOL"]
    wcs.wcs.crval = [0.0, 0.0]
    # Mollweide's whole sky spans x within +-2 sqrt(2) rad and y within +-sqrt(2) rad (WCSLIB):
    # the pixel scale makes it fill 720 x 360 pixels, the elliptical frame's own shape
    scale = 2 * math.sqrt(2) * 180 / math.pi / 360.0
    wcs.wcs.cdelt = [-scale, scale]
    wcs.wcs.crpix = [360.5, 180.5]
    fig = plt.figure(figsize=(10.0, 4.8))
    ax = fig.add_axes([0.05, 0.1, 0.7, 0.8], projection=wcs, frame_class=_elliptic_frame())
    ax.set_xlim(-0.5, 719.5)          # matplotlib's pixels are 0-based: the sky spans -0.5..719.5
    ax.set_ylim(-0.5, 359.5)
    ax.coords.grid(True, color="0.65", ls=":", lw=0.6)
    ax.coords[0].set_axislabel("RA (ICRS)")
    ax.coords[1].set_axislabel("Dec (ICRS)")
    ax.coords[0].set_major_formatter("hh")
    ax.coords[1].set_major_formatter("dd")
    ax.coords[0].set_ticks(spacing=30 * _deg())
    ax.coords[1].set_ticks(spacing=30 * _deg())
    ax.coords[0].set_ticklabel(color="0.3", size=7)
    ax.coords[1].set_ticklabel(color="0.3", size=7)
    world = ax.get_transform("world")

    gal_l = np.linspace(0, 360, 721)
    from astropy.coordinates import SkyCoord

    plane = SkyCoord(l=gal_l, b=np.zeros_like(gal_l), unit="deg", frame="galactic").icrs
    ax.scatter(plane.ra.deg, plane.dec.deg, s=0.6, color="0.55", transform=world, zorder=1)
    handles, labels = [], []
    markers = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
    names = sorted({str(v) for v in surveys[placed]})
    for k, sv in enumerate(names):
        mine = placed & (surveys == sv)
        pts = {(round(float(a), 4), round(float(b), 4)) for a, b in zip(ra[mine & ~wide], dec[mine & ~wide])}
        colour, marker = f"C{k % 10}", markers[(k // 10 + k) % len(markers)]
        if pts:
            xy = np.array(sorted(pts))
            # open markers of distinct shapes: the surveys of one galaxy share its position and
            # must not hide each other
            h = ax.scatter(xy[:, 0], xy[:, 1], s=46, marker=marker, facecolor="none", edgecolor=colour,
                           linewidth=1.3, transform=world, zorder=3)
        else:
            h = plt.Line2D([], [], color=colour, lw=1.2)
        for i in np.flatnonzero(mine & wide):
            for lon, lat in _cap_outline(ra[i], dec[i], fov[i] / 120.0 if np.isfinite(fov[i]) else 180.0):
                ax.plot(lon, lat, color=colour, lw=1.2, transform=world, zorder=2)
        handles.append(h)
        labels.append(f"{sv or '(no survey)'}: {int(mine.sum())} file(s)")
    handles.append(plt.Line2D([], [], color="0.55", ls=":", lw=1.2))
    labels.append("Galactic plane")
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              frameon=False)
    unplaced = int((~placed).sum())
    ax.set_title(f"{len(rows)} file(s) on the sky"
                 + (f" ({unplaced} without a position, not drawn)" if unplaced else ""), fontsize=10)
    return fig, ax


def _deg():
    import astropy.units as u

    return u.deg


def _elliptic_frame():
    from astropy.visualization.wcsaxes.frame import EllipticalFrame

    return EllipticalFrame


def _cap_outline(ra0: float, dec0: float, radius: float):
    """The circle of ``radius`` degrees about (ra0, dec0) as runs of (ra, dec) arrays, split where
    it crosses RA 180 deg (the map's edge) so that no line is drawn across the map."""
    if radius >= 180.0:
        return []
    t = np.radians(np.linspace(0, 360, 361))
    r, d0, a0 = math.radians(radius), math.radians(dec0), math.radians(ra0)
    dec = np.arcsin(np.sin(d0) * np.cos(r) + np.cos(d0) * np.sin(r) * np.cos(t))
    ra = a0 + np.arctan2(np.sin(t) * np.sin(r) * np.cos(d0), np.cos(r) - np.sin(d0) * np.sin(dec))
    ra = np.degrees(ra) % 360.0
    dec = np.degrees(dec)
    wrapped = (ra + 180.0) % 360.0                     # 0 at the map's edge (RA 180)
    cut = np.flatnonzero(np.abs(np.diff(wrapped)) > 180.0) + 1
    return [(a, b) for a, b in zip(np.split(ra, cut), np.split(dec, cut)) if len(a) > 1]


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
