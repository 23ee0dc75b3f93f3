"""Footprints on the sphere: the outline of an image from its celestial WCS, and region tests.

Outline
    :func:`outline` samples the four edges of the image (centres of the edge pixels, as
    :meth:`astropy.wcs.WCS.calc_footprint` does) through wcslib (:class:`astropy.wcs.Wcsprm`
    on a minimal sub-header holding only the WCS keywords, then the celestial sub-WCS), so
    a cube, a Stokes axis or a degenerate axis do not matter and no singular matrix is met.
    Edges are kept as straight great-circle arcs between corners when the sampled points lie
    within :data:`TOLERANCE_ARCSEC` of that arc (always true for TAN); otherwise the
    intermediate samples are kept, up to :data:`MAX_VERTICES` vertices.

Region tests
    Polygon edges are great-circle arcs; everything is computed on unit vectors, so RA = 0/360
    and the poles need no special case.  Point in polygon is a winding-number test seen from
    the point; two polygons overlap if a vertex of one is inside the other or two edges cross;
    a cone overlaps a polygon if its centre is inside or an edge passes within its radius.
    Polygons must fit in a hemisphere (bounding-cap radius below 90 degrees).

Many rows
    The ``*_many`` functions take the index's ``foot_ra``/``foot_dec`` (N, 16) arrays (NaN
    past ``foot_n``) and answer for every row at once; :func:`cap_prefilter` is the cheap first
    pass on the centre and size columns (a footprint lies within ``size/2`` of its centre).

All angles are in degrees unless a name says otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import SfngError

#: Vertices kept at most per outline (the index's ``foot_ra``/``foot_dec`` width).
MAX_VERTICES = 16
#: Points sampled on each image edge, corners included (4 x 4 = 16).
SAMPLES_PER_EDGE = MAX_VERTICES // 4
#: An edge is one great-circle arc when its samples deviate less than this from it.
TOLERANCE_ARCSEC = 0.1
#: Largest polygon the region tests accept (bounding cap about its centre), degrees.
MAX_RADIUS = 89.999

_WCS_KEY = re.compile(
    r"(NAXIS\d*|WCSAXES|CTYPE\d+|CRVAL\d+|CRPIX\d+|CDELT\d+|CUNIT\d+|CROTA\d+|CD\d+_\d+"
    r"|PC\d+_\d+|PV\d+_\d+|PS\d+_\d+|LONPOLE|LATPOLE|EQUINOX|EPOCH|RADESYS|RADECSYS"
    r"|RESTFRQ|RESTFREQ|RESTWAV|SPECSYS|VELREF)"
)
_STRING_KEY = re.compile(r"(CTYPE\d+|CUNIT\d+|RADESYS|RADECSYS|SPECSYS|PS\d+_\d+)")


class FootprintError(SfngError):
    """A header's celestial WCS cannot be turned into an outline, or a polygon is invalid."""


@dataclass
class Footprint:
    """The outline of an image on the sky.

    Attributes
    ----------
    ra, dec : ndarray
        Vertices in degrees (RA in [0, 360)), in the order of the image edges: from pixel
        (1, 1) up the first column to (1, N2), along the top row to (N1, N2), down to (N1, 1)
        and back (the first celestial axis is the FITS axis of lower number).
    centre : (float, float)
        RA, Dec of the image's central pixel.
    radius : float
        Largest angular distance from ``centre`` to the outline, degrees.
    size_arcmin : float
        ``2 * radius`` in arcmin: the field size (for a rectangle, its diagonal).  Every
        point of the footprint lies within ``size_arcmin / 2`` of ``centre``.
    width_arcmin, height_arcmin : float
        Extent along the first and second celestial pixel axes (between edge-pixel centres).
    n : int
        Number of vertices: 1 for a single spatial pixel (a point), 2 for a one-pixel-wide
        axis (an arc), else 3 to :data:`MAX_VERTICES`.
    partial : bool
        Some edge samples fall outside the projection's valid region (all-sky maps); the
        outline joins the valid ones only.
    """

    ra: np.ndarray
    dec: np.ndarray
    centre: tuple
    radius: float
    size_arcmin: float
    width_arcmin: float
    height_arcmin: float
    partial: bool = False

    @property
    def n(self) -> int:
        return len(self.ra)

    def padded(self, width: int = MAX_VERTICES) -> tuple[np.ndarray, np.ndarray]:
        """``(ra, dec)`` arrays of length ``width``, NaN past :attr:`n` (index columns)."""
        ra = np.full(width, np.nan)
        dec = np.full(width, np.nan)
        k = min(width, self.n)
        ra[:k], dec[:k] = self.ra[:k], self.dec[:k]
        return ra, dec


# ------------------------------------------------------------------------ unit vectors

def xyz(ra, dec) -> np.ndarray:
    """Unit vectors (..., 3) from RA, Dec in degrees."""
    ra = np.radians(np.asarray(ra, dtype=float))
    dec = np.radians(np.asarray(dec, dtype=float))
    c = np.cos(dec)
    return np.stack([c * np.cos(ra), c * np.sin(ra), np.sin(dec)], axis=-1)


def radec(v) -> tuple[np.ndarray, np.ndarray]:
    """RA in [0, 360) and Dec in degrees from vectors (..., 3) (need not be unit)."""
    v = np.asarray(v, dtype=float)
    ra = np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return ra, dec


def _dot(a, b):
    return np.einsum("...i,...i->...", a, b)


def _unit(v):
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def _angle(a, b):
    """Angle in radians between unit vectors (stable at 0 and pi)."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), _dot(a, b))


def separation(ra1, dec1, ra2, dec2):
    """Angular distance in degrees (vectorised, Vincenty-stable)."""
    return np.degrees(_angle(xyz(ra1, dec1), xyz(ra2, dec2)))


# ----------------------------------------------------------------------------- outline

def _card(key: str, value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if _STRING_KEY.fullmatch(key) or isinstance(value, str):
        if not isinstance(value, str):
            value = str(value)
        if not _STRING_KEY.fullmatch(key):
            try:  # README values arrive as text when they failed to cast
                value = float(value)
            except ValueError:
                return None
        else:
            text = "'" + value.replace("'", "''")[:66] + "'"
            return f"{key:<8}= {text}".ljust(80)[:80]
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        text = repr(f).upper()
    return f"{key:<8}= {text:>20}".ljust(80)[:80]


def wcs_text(header) -> str:
    """The WCS keywords of ``header`` as FITS card images (what wcslib needs, nothing more).

    ``header`` is raw header text (80-column cards), an astropy Header, a
    :class:`sfng.fitsheader.HeaderBlock` or any Mapping (an effective header).
    """
    text = getattr(header, "text", None)
    if isinstance(header, (str, bytes)) or isinstance(text, str):
        raw = header if text is None else text
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        keep = [raw[i : i + 80] for i in range(0, len(raw) - 79, 80)
                if _WCS_KEY.fullmatch(raw[i : i + 8].rstrip()) and raw[i + 8 : i + 10] == "= "]
        return "".join(keep)
    items = header.items() if hasattr(header, "items") else header
    cards = []
    seen = set()
    for key, value in items:
        if key in seen or not isinstance(key, str) or not _WCS_KEY.fullmatch(key):
            continue
        seen.add(key)
        c = _card(key, value)
        if c:
            cards.append(c)
    return "".join(cards)


def _ctypes(text: str) -> dict[int, str]:
    out = {}
    for i in range(0, len(text) - 79, 80):
        if text[i : i + 5] == "CTYPE":
            key = text[i + 5 : i + 8].rstrip()
            if key.isdigit():
                val = text[i + 10 : i + 80].strip()
                if val.startswith("'"):
                    out[int(key)] = val[1:].split("'")[0].strip()
    return out


def _naxes(header, text: str) -> dict[int, int]:
    out = {}
    for i in range(0, len(text) - 79, 80):
        key = text[i : i + 8].rstrip()
        if key.startswith("NAXIS") and key[5:].isdigit():
            try:
                out[int(key[5:])] = int(text[i + 10 : i + 80].split("/")[0])
            except ValueError:
                pass
    return out


def celestial_wcs(header):
    """``(wcsprm, n1, n2)``: the celestial sub-WCS (wcslib, fixed and set) and its axis lengths.

    Returns None when the header has no celestial axis pair.  Raises :class:`FootprintError`
    when it has one that wcslib cannot use.
    """
    from astropy.wcs import Wcsprm

    text = wcs_text(header)
    # from CTYPE, not wcsprm.lng: that would run wcsset on the whole WCS, and a Stokes axis
    # with CDELT = 0 makes it singular although the sky axes are fine
    ctypes = _ctypes(text)
    axes = _celestial_axes([ctypes.get(i + 1, "") for i in range(max(ctypes, default=0))])
    if axes is None:
        return None
    try:
        full = Wcsprm(header=text.encode("latin-1"), relax=True)
    except Exception as exc:  # noqa: BLE001 - wcslib raises many types for one thing: bad WCS
        raise FootprintError(f"WCS cannot be parsed: {exc}") from None
    naxes = _naxes(header, text)
    n1, n2 = naxes.get(axes[0] + 1, 0), naxes.get(axes[1] + 1, 0)
    if n1 < 1 or n2 < 1:
        return None
    try:
        full.fix(translate_units="", naxis=[naxes.get(i + 1, 1) for i in range(full.naxis)])
    except Exception:  # noqa: BLE001 - fix() is best effort, like astropy.wcs.WCS
        pass
    try:
        cel = full.sub([axes[0] + 1, axes[1] + 1])
        cel.set()
    except Exception as exc:  # noqa: BLE001
        raise FootprintError(f"celestial WCS unusable: {exc}") from None
    return cel, n1, n2


def _celestial_axes(ctypes) -> list[int] | None:
    """0-based indices of the (longitude, latitude) axes, in axis order, from CTYPEn."""
    lng, lat = [], []
    for i, c in enumerate(ctypes):
        base = c.split("-")[0].strip().upper()
        if base == "RA" or (len(base) == 4 and (base[1:] == "LON" or base[2:] == "LN")):
            lng.append(i)
        elif base == "DEC" or (len(base) == 4 and (base[1:] == "LAT" or base[2:] == "LT")):
            lat.append(i)
    if len(lng) != 1 or len(lat) != 1:
        return None
    return sorted((lng[0], lat[0]))


def _edges_pixels(n1: int, n2: int, k: int) -> np.ndarray:
    """``(4 * k, 2)`` 0-based pixel positions around the image: corners every k points."""
    x0, x1, y0, y1 = 0.0, n1 - 1.0, 0.0, n2 - 1.0
    t = np.arange(k) / k
    sides = [
        (np.full(k, x0), y0 + (y1 - y0) * t),
        (x0 + (x1 - x0) * t, np.full(k, y1)),
        (np.full(k, x1), y1 - (y1 - y0) * t),
        (x1 - (x1 - x0) * t, np.full(k, y0)),
    ]
    return np.concatenate([np.column_stack(s) for s in sides])


def outline(header, samples_per_edge: int = SAMPLES_PER_EDGE,
            tolerance_arcsec: float = TOLERANCE_ARCSEC) -> Footprint | None:
    """The sky outline of an image or cube from its celestial WCS.

    Parameters
    ----------
    header : str, astropy Header, HeaderBlock, or Mapping
        The HDU's header (an effective header with README values works too).
    samples_per_edge : int
        Points per edge, corners included; at most ``4 * samples_per_edge`` vertices.
    tolerance_arcsec : float
        Intermediate samples within this distance of the corner-to-corner arc are dropped.

    Returns
    -------
    Footprint or None
        None when the header has no celestial axis pair (a spectrum table, a 1-D spectrum).

    Raises
    ------
    FootprintError
        The celestial WCS is broken (singular matrix, unknown projection) or fewer than three
        edge samples map onto the sky.
    """
    got = celestial_wcs(header)
    if got is None:
        return None
    cel, n1, n2 = got
    k = max(1, int(samples_per_edge))
    pix = _edges_pixels(n1, n2, k)
    centre_pix = np.array([[(n1 - 1) / 2.0, (n2 - 1) / 2.0]])
    try:
        res = cel.p2s(np.vstack([pix, centre_pix]), 0)
    except Exception as exc:  # noqa: BLE001 - invalid pixels raise in some wcslib versions
        raise FootprintError(f"celestial WCS cannot map the image: {exc}") from None
    world = res["world"]
    stat = np.asarray(res["stat"])
    lon = world[:, cel.lng]
    lat = world[:, cel.lat]
    ok = np.isfinite(lon) & np.isfinite(lat) & (stat == 0)
    edge_ok = ok[:-1]
    v = xyz(lon[:-1], lat[:-1])
    partial = not edge_ok.all()
    if edge_ok.sum() < 3:
        raise FootprintError(f"only {int(edge_ok.sum())} of {len(edge_ok)} edge samples lie on the sky")

    keep = np.zeros(len(pix), bool)
    keep[::k] = True  # corners
    tol = math.radians(tolerance_arcsec / 3600.0)
    for side in range(4):
        a, b = side * k, ((side + 1) * k) % (4 * k)
        mid = np.arange(a + 1, a + k)
        if len(mid) == 0:
            continue
        if not (edge_ok[a] and edge_ok[b] and edge_ok[mid].all()):
            keep[mid] = True
            continue
        nrm = _unit(np.cross(v[a], v[b]))
        dev = np.abs(np.arcsin(np.clip(v[mid] @ nrm, -1, 1)))
        if not np.all(np.isfinite(dev)) or dev.max() > tol:
            keep[mid] = True
    keep &= edge_ok
    vv = v[keep]
    # a one-pixel axis (a spectrum, a slit) collapses the outline to an arc or a point
    nxt = np.roll(vv, -1, axis=0)
    distinct = _angle(vv, nxt) > 1e-12
    if not distinct.any():
        vv = vv[:1]
    else:
        vv = vv[distinct]

    if ok[-1]:
        c = xyz(lon[-1], lat[-1])
    else:  # the central pixel is off the sky: use the vertices' mean direction
        c = _unit(vv.sum(axis=0))
    radius = float(np.degrees(_angle(vv, c).max()))
    ra, dec = radec(vv)
    cra, cdec = radec(c)
    # widths between the mid-points of opposite edges (through the field, not along an edge)
    mids = np.array([[0.0, (n2 - 1) / 2.0], [n1 - 1.0, (n2 - 1) / 2.0],
                     [(n1 - 1) / 2.0, 0.0], [(n1 - 1) / 2.0, n2 - 1.0]])
    mw = cel.p2s(mids, 0)["world"]
    mv = xyz(mw[:, cel.lng], mw[:, cel.lat])
    width = float(np.degrees(_angle(mv[0], mv[1]))) * 60.0
    height = float(np.degrees(_angle(mv[2], mv[3]))) * 60.0
    return Footprint(ra=ra, dec=dec, centre=(float(cra), float(cdec)), radius=radius,
                     size_arcmin=2.0 * radius * 60.0, width_arcmin=width, height_arcmin=height,
                     partial=partial)


# ------------------------------------------------------------------------ polygons

def _poly_xyz(ra, dec) -> np.ndarray:
    ra = np.asarray(ra, dtype=float).ravel()
    dec = np.asarray(dec, dtype=float).ravel()
    good = np.isfinite(ra) & np.isfinite(dec)
    return xyz(ra[good], dec[good])


def cap(ra, dec) -> tuple[float, float, float]:
    """``(ra, dec, radius)`` of a bounding cap of a polygon: centre = mean direction, degrees."""
    v = _poly_xyz(ra, dec)
    c = _unit(v.sum(axis=0))
    cra, cdec = radec(c)
    return float(cra), float(cdec), float(np.degrees(_angle(v, c).max()))


def _winding(p, q, v):
    """Total signed angle (radians) that edges p->q sweep around point(s) v.

    p, q: (..., K, 3) edge ends; v: (..., 1, 3) or broadcastable.  Zero-length edges add 0.
    """
    num = _dot(v, np.cross(p, q))
    den = _dot(p, q) - _dot(v, p) * _dot(v, q)
    return np.arctan2(num, den).sum(axis=-1)


def _inside(poly, pts):
    """Which unit vectors ``pts`` (M, 3) lie inside polygon ``poly`` (K, 3)."""
    p = poly[None, :, :]
    q = np.roll(poly, -1, axis=0)[None, :, :]
    w = _winding(p, q, pts[:, None, :])
    c = _unit(poly.sum(axis=0))
    # a polygon smaller than a hemisphere winds the same around a point and its antipode
    return (np.abs(w) > np.pi) & (pts @ c > 0)


def _check(poly, what="polygon"):
    if len(poly) < 3:
        raise FootprintError(f"{what} needs at least 3 vertices, got {len(poly)}")
    c = _unit(poly.sum(axis=0))
    if not np.all(np.isfinite(c)) or np.degrees(_angle(poly, c).max()) > MAX_RADIUS:
        raise FootprintError(f"{what} is too large: region tests need polygons smaller than a hemisphere")


def contains_point(poly_ra, poly_dec, ra, dec):
    """Whether the point(s) (ra, dec) lie inside the polygon (edges are great-circle arcs).

    ``ra``/``dec`` may be arrays; the result has their shape.
    """
    poly = _poly_xyz(poly_ra, poly_dec)
    _check(poly)
    pts = xyz(ra, dec)
    shape = pts.shape[:-1]
    return _inside(poly, pts.reshape(-1, 3)).reshape(shape)[()] if shape else bool(
        _inside(poly, pts.reshape(1, 3))[0])


def _on_arc(x, p, q, n):
    """Whether x (on the great circle of p->q, normal n) lies between p and q."""
    return (_dot(np.cross(p, x), n) >= 0) & (_dot(np.cross(x, q), n) >= 0)


def _arcs_cross(a1, a2, b1, b2):
    """Whether arcs a1->a2 and b1->b2 cross (broadcast over leading dimensions)."""
    na = np.cross(a1, a2)
    nb = np.cross(b1, b2)
    sa1, sa2 = _dot(nb, a1), _dot(nb, a2)
    sb1, sb2 = _dot(na, b1), _dot(na, b2)
    straddle = (sa1 * sa2 <= 0) & (sb1 * sb2 <= 0)
    degenerate = (np.linalg.norm(na, axis=-1) == 0) | (np.linalg.norm(nb, axis=-1) == 0)
    x = np.cross(na, nb)
    hit = (_on_arc(x, a1, a2, na) & _on_arc(x, b1, b2, nb)) | (
        _on_arc(-x, a1, a2, na) & _on_arc(-x, b1, b2, nb))
    return straddle & ~degenerate & hit & (np.linalg.norm(x, axis=-1) > 0)


def _probes(P):
    """Vertices, edge mid-points and centre of a polygon: the points tested inside the other.

    Mid-points and centre catch polygons that share vertices or edges exactly (identical
    footprints of two products of one survey), where vertex tests sit on the boundary.
    """
    mids = _unit(P + np.roll(P, -1, axis=0))
    return np.vstack([P, mids, _unit(P.sum(axis=0))[None, :]])


def _polys_overlap(A, B):
    if _inside(B, _probes(A)).any() or _inside(A, _probes(B)).any():
        return True
    a1, a2 = A[:, None, :], np.roll(A, -1, axis=0)[:, None, :]
    b1, b2 = B[None, :, :], np.roll(B, -1, axis=0)[None, :, :]
    return bool(_arcs_cross(a1, a2, b1, b2).any())


def overlaps(a_ra, a_dec, b_ra, b_dec) -> bool:
    """Whether two polygons share any area (edges are great-circle arcs)."""
    A, B = _poly_xyz(a_ra, a_dec), _poly_xyz(b_ra, b_dec)
    _check(A)
    _check(B)
    ca, cb = _unit(A.sum(0)), _unit(B.sum(0))
    ra_, rb_ = _angle(A, ca).max(), _angle(B, cb).max()
    if _angle(ca, cb) > ra_ + rb_ + 1e-12:
        return False
    return _polys_overlap(A, B)


def _arc_distance(v, p, q):
    """Angular distance (radians) from point(s) v to arc(s) p->q (broadcast)."""
    n = np.cross(p, q)
    nn = np.linalg.norm(n, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = n / nn
    s = _dot(v, n)
    x = v - s[..., None] * n  # projection on the great circle
    perp = np.arcsin(np.clip(np.abs(s), 0, 1))
    ends = np.minimum(_angle(v, p), _angle(v, q))
    within = _on_arc(x, p, q, n) & (nn[..., 0] > 0)
    return np.where(within, np.minimum(perp, ends), ends)


def cone_overlaps(poly_ra, poly_dec, ra, dec, radius) -> bool:
    """Whether the cone (ra, dec, radius in degrees) and the polygon share any area."""
    poly = _poly_xyz(poly_ra, poly_dec)
    _check(poly)
    v = xyz(ra, dec)
    if _inside(poly, v[None, :])[0]:
        return True
    d = _arc_distance(v[None, :], poly, np.roll(poly, -1, axis=0))
    return bool(np.degrees(d.min()) <= radius)


# --------------------------------------------------------------------------- parsing

_SEP = re.compile(r"[\s;]+")


def _angle_token(tok: str, is_ra: bool) -> float:
    try:
        return float(tok)
    except ValueError:
        pass
    from astropy.coordinates import Angle

    unit = "hourangle" if is_ra and ("h" in tok.lower() or ":" in tok) else "deg"
    try:
        return float(Angle(tok, unit=unit).deg)
    except Exception:  # noqa: BLE001 - astropy's parse errors vary
        raise FootprintError(f"cannot read angle {tok!r}") from None


def parse_polygon(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(ra, dec)`` in degrees from ``'ra1,dec1 ra2,dec2 ra3,dec3 ...'``.

    Vertices are separated by blanks or ``;``, the two angles by a comma; angles are decimal
    degrees or sexagesimal (``12h30m49s,+12d23m28s``, ``12:30:49,+12:23:28``).  An STC-S
    ``POLYGON [ICRS] ra1 dec1 ra2 dec2 ...`` string is accepted too.  Raises
    :class:`FootprintError` for fewer than 3 vertices, |Dec| > 90, repeated vertices, a
    self-intersecting polygon or one larger than a hemisphere.
    """
    s = text.strip()
    if s.upper().startswith("POLYGON"):
        toks = s.split()[1:]
        if toks and not _is_number(toks[0]):
            toks = toks[1:]  # the frame
        if len(toks) % 2:
            raise FootprintError(f"polygon {text!r}: odd number of coordinates")
        pairs = list(zip(toks[::2], toks[1::2]))
    else:
        pairs = []
        for vtx in _SEP.split(s):
            if not vtx:
                continue
            parts = vtx.split(",")
            if len(parts) != 2:
                raise FootprintError(f"polygon vertex {vtx!r}: expected RA,DEC")
            pairs.append(tuple(parts))
    ra = np.array([_angle_token(a, True) for a, _ in pairs]) % 360.0
    dec = np.array([_angle_token(d, False) for _, d in pairs])
    if len(ra) < 3:
        raise FootprintError(f"polygon {text!r}: needs at least 3 vertices")
    if np.any(np.abs(dec) > 90):
        raise FootprintError(f"polygon {text!r}: declination beyond +-90 degrees")
    v = xyz(ra, dec)
    if np.any(_angle(v, np.roll(v, -1, axis=0)) == 0):
        raise FootprintError(f"polygon {text!r}: repeated consecutive vertex")
    _check(v, f"polygon {text!r}")
    _check_simple(v, text)
    return ra, dec


def _is_number(tok):
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _check_simple(v, text):
    """Reject self-intersecting polygons (non-adjacent edges that cross)."""
    k = len(v)
    if k < 4:
        return
    a1, a2 = v[:, None, :], np.roll(v, -1, axis=0)[:, None, :]
    b1, b2 = v[None, :, :], np.roll(v, -1, axis=0)[None, :, :]
    cross = _arcs_cross(a1, a2, b1, b2)
    i, j = np.indices((k, k))
    adjacent = (np.abs(i - j) <= 1) | (np.abs(i - j) == k - 1)
    if np.any(cross & ~adjacent):
        raise FootprintError(f"polygon {text!r}: edges cross (vertices out of order?)")


def to_stcs(ra, dec, frame: str = "ICRS") -> str:
    """An STC-S ``POLYGON`` string (ObsCore ``s_region``) of the vertices."""
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    good = np.isfinite(ra) & np.isfinite(dec)
    coords = " ".join(f"{a:.7f} {d:.7f}" for a, d in zip(ra[good], dec[good]))
    return f"POLYGON {frame} {coords}"


# --------------------------------------------------------------------------- many rows

def cap_prefilter(ra, dec, radius, qra, qdec, qradius) -> np.ndarray:
    """Rows whose bounding cap (centre ``ra``/``dec``, ``radius``) may meet the query cap.

    ``radius`` is per row (for the index: ``fov / 2 / 60``); NaN centres give False.
    A fast, conservative first pass before the exact ``*_many`` tests.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    d = np.radians(np.asarray(dec))
    q = math.radians(qdec)
    # haversine is enough here: the exact test follows, a 1e-9 rad slack keeps it conservative
    hav = np.sin((d - q) / 2) ** 2 + np.cos(d) * math.cos(q) * np.sin(np.radians(ra - qra) / 2) ** 2
    sep = 2 * np.arcsin(np.sqrt(np.clip(hav, 0, 1)))
    lim = np.radians(np.nan_to_num(np.asarray(radius, dtype=float), nan=0.0) + qradius) + 1e-9
    return sep <= lim


def _rows(foot_ra, foot_dec, foot_n=None):
    """(N, K, 3) vertex vectors with unused vertices replaced by the row's first vertex."""
    fr = np.atleast_2d(np.asarray(foot_ra, dtype=float))
    fd = np.atleast_2d(np.asarray(foot_dec, dtype=float))
    valid = np.isfinite(fr) & np.isfinite(fd)
    if foot_n is not None:
        valid &= np.arange(fr.shape[1])[None, :] < np.asarray(foot_n)[:, None]
    n = valid.sum(axis=1)
    fr0 = np.where(valid, fr, fr[:, :1])
    fd0 = np.where(valid, fd, fd[:, :1])
    v = xyz(np.nan_to_num(fr0), np.nan_to_num(fd0))
    return v, n, valid


def contains_point_many(foot_ra, foot_dec, foot_n, ra, dec) -> np.ndarray:
    """For each row (N, K) footprint: does it contain the point (ra, dec)?"""
    v, n, _ = _rows(foot_ra, foot_dec, foot_n)
    p = xyz(ra, dec)
    return _inside_many(v, n, p[None, None, :])[:, 0]


def _inside_many(v, n, pts):
    """(N, M) inside tests of M points per row (pts broadcastable to (N, M, 3))."""
    p = v[:, None, :, :]
    q = np.roll(v, -1, axis=1)[:, None, :, :]
    w = _winding(p, q, pts[:, :, None, :] if pts.ndim == 3 else pts)
    c = _unit(v.sum(axis=1))  # padding repeats vertex 0: a slight tilt, still inside the cap
    front = np.einsum("nmi,ni->nm", np.broadcast_to(pts, (len(v),) + pts.shape[1:]), c) > 0
    return (np.abs(w) > np.pi) & front & (n[:, None] >= 3)


def cone_overlaps_many(foot_ra, foot_dec, foot_n, ra, dec, radius) -> np.ndarray:
    """For each row footprint (N, K): does it overlap the cone (ra, dec, radius degrees)?

    Rows with one or two vertices are points or arcs; rows with none are False.
    """
    v, n, _ = _rows(foot_ra, foot_dec, foot_n)
    if len(v) == 0:
        return np.zeros(0, bool)
    p = xyz(ra, dec)
    inside = _inside_many(v, n, p[None, None, :])[:, 0]
    d = _arc_distance(p[None, None, :], v, np.roll(v, -1, axis=1)).min(axis=1)
    return (inside | (np.degrees(d) <= radius)) & (n >= 1)


def polygon_overlaps_many(foot_ra, foot_dec, foot_n, poly_ra, poly_dec) -> np.ndarray:
    """For each row footprint (N, K): does it overlap the polygon?"""
    P = _poly_xyz(poly_ra, poly_dec)
    _check(P)
    v, n, valid = _rows(foot_ra, foot_dec, foot_n)
    if len(v) == 0:
        return np.zeros(0, bool)
    # polygon vertices (and mid-points, centre) inside a row footprint
    hit = _inside_many(v, n, _probes(P)[None, :, :]).any(axis=1)
    # row vertices inside the polygon, and the row's edge mid-points and centre
    vm = _unit(v + np.roll(v, -1, axis=1))
    vc = _unit(v.sum(axis=1))[:, None, :]
    probes = np.concatenate([v, vm, vc], axis=1)
    pvalid = np.concatenate([valid, valid, np.ones((len(v), 1), bool)], axis=1) & (n >= 1)[:, None]
    hit |= (_inside(P, probes.reshape(-1, 3)).reshape(probes.shape[:2]) & pvalid).any(axis=1)
    # edges crossing
    a1, a2 = v[:, :, None, :], np.roll(v, -1, axis=1)[:, :, None, :]
    b1, b2 = P[None, None, :, :], np.roll(P, -1, axis=0)[None, None, :, :]
    hit |= _arcs_cross(a1, a2, b1, b2).any(axis=(1, 2))
    return hit & (n >= 1)
