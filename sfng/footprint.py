"""Footprints on the sphere: the outline of an image from its celestial WCS, and region tests.

Outline
    :func:`outline` samples the four edges of the image (centres of the edge pixels, as
    :meth:`astropy.wcs.WCS.calc_footprint` does) through wcslib (:class:`astropy.wcs.Wcsprm`
    on a minimal header holding only the two sky axes' WCS cards, renumbered 1 and 2), so
    a cube, a Stokes axis or a degenerate axis do not matter and their singular matrices are
    never met.  Results are cached on the WCS cards (products of one observation share a grid).
    Edges are kept as straight great-circle arcs between corners when the sampled points lie
    within :data:`TOLERANCE_ARCSEC` of that arc (always true for TAN); otherwise the
    intermediate samples are kept, up to :data:`MAX_VERTICES` vertices.
    Conventions that fast path does not honour (SIP, DSS plate solutions, IRAF TNX/ZPX, TPV
    written as TAN) go through :class:`astropy.wcs.WCS` and ``all_pix2world`` instead.

Frames
    Every position is converted to ICRS (:func:`frame_key`, :func:`to_icrs`): FK5 J2000 is
    taken as ICRS (0.03 arcsec at most); galactic, supergalactic, ecliptic and FK5 of other
    equinoxes by one rotation matrix cached per frame; FK4 by one astropy call per outline.

Wide fields
    A field no polygon of great-circle edges can outline (all-sky maps, more than a
    hemisphere, a band round a pole) is a cap: ``kind = "cap"``, no vertices, ``radius``
    bounding every pixel (180 for the whole sky).  A header without image size gives its
    reference point only (``kind = "centre"``).

Region tests
    Polygon edges are great-circle arcs; everything is computed on unit vectors, so RA = 0/360
    and the poles need no special case.  Point in polygon is a winding-number test seen from
    the point; two polygons overlap if a vertex (or edge mid-point, or the centre) of one is
    inside the other or two edges cross;
    a cone overlaps a polygon if its centre is inside or an edge passes within its radius.
    Polygons must fit in a hemisphere (bounding-cap radius below 90 degrees); caps of any
    radius are tested by the ``caps_*`` functions.

Many rows
    The ``*_many`` functions take the index's ``foot_ra``/``foot_dec`` (N, 16) arrays (NaN
    past ``foot_n``) and answer for every row at once; :func:`cap_prefilter` is the cheap first
    pass on the centre and size columns (a footprint lies within ``size/2`` of its centre).

All angles are in degrees unless a name says otherwise.
"""

from __future__ import annotations

import collections
import functools
import math
import re
import warnings
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

#: Conventions the fast path does not honour: their cards are kept so that astropy's full path
#: can (SIP polynomials, DSS plate solutions, IRAF TNX/ZPX WAT cards).
_EXTRA_KEY = re.compile(
    r"((?:A|B|AP|BP)_(?:ORDER|DMAX|\d+_\d+)|PLTRA[HMS]|PLTDEC(?:SN|[DMS])|PLTSCALE|[XY]PIXELSZ|PPO\d+"
    r"|AMD[XY]\d+|CNPIX[12]|WAT\d_\d{3})"
)
_WCS_KEY = re.compile(
    r"(NAXIS\d*|WCSAXES|CTYPE\d+|CRVAL\d+|CRPIX\d+|CDELT\d+|CUNIT\d+|CROTA\d+|CD\d+_\d+"
    r"|PC\d+_\d+|PC\d{6}|CD\d{6}|PROJP\d+|PV\d+_\d+|PS\d+_\d+|LONPOLE|LATPOLE|EQUINOX|EPOCH"
    r"|RADESYS|RADECSYS|RESTFRQ|RESTFREQ|RESTWAV|SPECSYS|VELREF|" + _EXTRA_KEY.pattern + ")"
)
_WCS_PREFIXES = frozenset(("NA", "WC", "CT", "CR", "CD", "CU", "PC", "PV", "PS", "LO", "LA", "EQ",
                           "EP", "RA", "RE", "SP", "VE", "PR",
                           "A_", "B_", "AP", "BP", "PL", "XP", "YP", "PP", "AM", "CN", "WA"))
#: The date of observation: a WCS keyword only for FK4 (see :func:`_with_dates`).
_DATE_KEYS = ("DATE-OBS", "MJD-OBS")
_EXTRA_PREFIXES = frozenset(("A_", "B_", "AP", "BP", "PL", "XP", "YP", "PP", "AM", "CN", "WA"))
_STRING_PREFIXES = frozenset(("CT", "CU", "RA", "SP", "PS", "DA", "PL", "WA"))
_STRING_KEY = re.compile(r"(CTYPE\d+|CUNIT\d+|RADESYS|RADECSYS|SPECSYS|PS\d+_\d+|DATE-OBS|PLTDECSN"
                         r"|WAT\d_\d{3})")


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
        Some edge samples fall outside the projection's valid region (all-sky maps).
    frame : str
        The header's celestial frame before conversion to ICRS: ``icrs``, ``fk5 J2000``,
        ``fk4 B1950``, ``galactic``, ``ecliptic J2000``, ``supergalactic`` ... (see
        :func:`frame_key`).  Every position of the footprint is ICRS.
    method : str
        ``wcslib`` (the fast path: wcslib on the sky axes' cards) or ``astropy: <why>`` (the
        full path of :class:`astropy.wcs.WCS`, for SIP, DSS plate solutions, TNX/ZPX, TPV
        written as TAN).
    kind : str
        ``polygon``: ``ra``/``dec`` outline the field.  ``cap``: no polygon of great-circle
        edges can (all-sky, more than a hemisphere, edges off the sky, a map spanning a
        pole whose edges bound nothing); ``ra``/``dec`` are empty, and every pixel lies
        within ``radius`` of ``centre`` (180 for the whole sky).  ``centre``: the header
        declares no image size (NAXIS = 0, NAXISn missing); ``centre`` is the reference point
        (CRVAL), the rest NaN.
    """

    ra: np.ndarray
    dec: np.ndarray
    centre: tuple
    radius: float
    size_arcmin: float
    width_arcmin: float
    height_arcmin: float
    partial: bool = False
    frame: str = "icrs"
    method: str = "wcslib"
    kind: str = "polygon"

    @property
    def n(self) -> int:
        return len(self.ra)

    @property
    def wide(self) -> bool:
        """No polygon: the bounding cap stands for the field (``kind == "cap"``)."""
        return self.kind == "cap"

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
    ra = np.where(ra >= 360.0, 0.0, ra)  # -1e-20 % 360 is 360.0 in floating point
    dec = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return ra, dec


def _dot(a, b):
    return np.einsum("...i,...i->...", a, b)


def _cross(a, b):
    """Cross product over the last axis (np.cross is slow on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _unit(v):
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def _angle(a, b):
    """Angle in radians between unit vectors (stable at 0 and pi)."""
    return np.arctan2(np.linalg.norm(_cross(a, b), axis=-1), _dot(a, b))


def separation(ra1, dec1, ra2, dec2):
    """Angular distance in degrees (vectorised, Vincenty-stable)."""
    return np.degrees(_angle(xyz(ra1, dec1), xyz(ra2, dec2)))


# ----------------------------------------------------------------------------- outline

def _card(key: str, value) -> str | None:
    """One card image, or None for a value wcslib cannot use (unknown, not finite)."""
    t = type(value)
    string_key = key[:2] in _STRING_PREFIXES and _STRING_KEY.fullmatch(key)
    if t is str or string_key:
        value = str(value)
        if string_key:
            # up to the 68 characters a card holds (IRAF WAT cards use them all), padded to 8 as
            # the standard asks (wcslib reads PLTDECSN = '-' as '+')
            text = value.replace("'", "''")
            if len(text) > 68:
                text = text[:68]
                if (len(text) - len(text.rstrip("'"))) % 2:  # never cut a doubled quote in two
                    text = text[:-1]
            return f"{key:<8}= '{text:<8}'".ljust(80)
        try:  # README values arrive as text when they failed to cast
            value = float(value)
        except ValueError:
            return None
        t = float
    if t is bool or value is None:
        return None
    if t is int:
        text = str(value)
    else:
        try:
            f = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f):
            return None
        text = str(int(f)) if isinstance(value, (int, np.integer)) else repr(f).upper()
    return f"{key:<8}= {text:>20}".ljust(80)


def _wcs_entries(header) -> tuple:
    """The WCS keywords of ``header`` as a hashable tuple of ``(key, image, value)``.

    From raw card text (a string, bytes, a HeaderBlock) ``image`` is the 80-column card and
    ``value`` None; from a Mapping (an astropy Header, an effective header) ``image`` is None.
    """
    text = getattr(header, "text", None)
    match = _WCS_KEY.fullmatch
    if isinstance(header, (str, bytes)) or isinstance(text, str):
        raw = header if text is None else text
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        out = tuple((raw[i : i + 8].rstrip(), raw[i : i + 80], None)
                    for i in range(0, len(raw) - 79, 80)
                    if raw[i : i + 2] in _WCS_PREFIXES and raw[i + 8 : i + 10] == "= "
                    and match(raw[i : i + 8].rstrip()))
        if not _fk4ish(out):
            return out
        dates = {}
        for i in range(0, len(raw) - 79, 80):
            key = raw[i : i + 8].rstrip()
            if key in _DATE_KEYS and raw[i + 8 : i + 10] == "= ":
                dates.setdefault(key, (key, raw[i : i + 80], None))
        return out + tuple(dates.values())
    d = getattr(header, "values", None)  # EffectiveHeader: a plain dict, quicker than items()
    if not isinstance(d, dict):
        d = getattr(header, "_d", None)  # sfng.fitsheader.FitsHeader
    if isinstance(d, dict):
        items = d.items()
    elif hasattr(header, "cards") and not callable(header.cards):  # an astropy Header
        items = _astropy_items(header)
    else:
        items = header.items() if hasattr(header, "items") else header
    out = []
    seen = set()
    for key, value in items:
        if (isinstance(key, str) and key[:2] in _WCS_PREFIXES and key not in seen and match(key)
                and value is not None):
            seen.add(key)
            if isinstance(value, np.generic):
                value = value.item()
            out.append((key, None, value))
    out = tuple(out)
    if isinstance(d, dict):  # four look-ups, not a pass over the entries
        system = d.get("RADESYS", d.get("RADECSYS"))
        if not _fk4_frame(system, d.get("EQUINOX", d.get("EPOCH")) if system is None else None):
            return out
    elif not _fk4ish(out):
        return out
    get = d.get if isinstance(d, dict) else getattr(header, "get", None)
    if get is None:  # a plain sequence of (key, value) pairs
        pairs = dict(reversed(list(header)))
        get = pairs.get
    dates = []
    for key in _DATE_KEYS:
        try:
            value = get(key)
        except Exception:  # noqa: BLE001 - an astropy card that cannot be parsed
            value = None
        if value is not None and not isinstance(value, bool):
            dates.append((key, None, value.item() if isinstance(value, np.generic) else value))
    return out + tuple(dates)


def _fk4ish(entries) -> bool:
    """Whether the frame may be FK4 (RADESYS FK4..., or an EQUINOX/EPOCH before 1984 without
    RADESYS): the one frame where the date of observation moves a position.  The dates are WCS
    keys only then, so the outlines of other frames are shared whatever their dates."""
    system, eq = None, None
    for key, image, value in entries:
        if key[:2] in ("RA", "EQ", "EP"):
            if key in ("RADESYS", "RADECSYS"):
                system = system or _entry_value(image, value)
            elif key == "EQUINOX" or (key == "EPOCH" and eq is None):
                eq = _entry_value(image, value)
    return _fk4_frame(system, eq)


def _fk4_frame(system, equinox) -> bool:
    system = str(system or "").strip().upper()
    if system:
        return system.startswith("FK4")
    try:
        return equinox is not None and float(equinox) < 1984.0
    except (TypeError, ValueError):
        return False


def _astropy_items(header):
    """``(keyword, value)`` of an astropy Header's WCS cards; a card astropy cannot parse (a
    DSS ``SKEW`` card ...) is left out rather than stopping the rest."""
    for card in header.cards:
        key = card.keyword
        if key[:2] in _WCS_PREFIXES:
            try:
                value = card.value
            except Exception:  # noqa: BLE001 - astropy's VerifyError and friends
                continue
            yield key, (None if isinstance(value, type(None)) or str(type(value).__name__) == "Undefined"
                        else value)


def _render(key: str, image, value) -> str | None:
    if image is not None:
        return key.ljust(8) + image[8:]
    return _card(key, value)


def wcs_text(header) -> str:
    """The WCS keywords of ``header`` as FITS card images (what wcslib needs, nothing more).

    ``header`` is raw header text (80-column cards), an astropy Header, a
    :class:`sfng.fitsheader.HeaderBlock` or any Mapping (an effective header).
    """
    return _entries_text(_wcs_entries(header))


def _entries_text(entries) -> str:
    return "".join(c for c in (_render(*e) for e in entries) if c)


_AXIS_STEMS = frozenset(("NAXIS", "CTYPE", "CRVAL", "CDELT", "CRPIX", "CUNIT", "CROTA"))
_GLOBAL_KEYS = frozenset(("LONPOLE", "LATPOLE", "EQUINOX", "EPOCH", "RADESYS", "RADECSYS",
                          "DATE-OBS", "MJD-OBS"))


def _split_key(key: str):
    """``("CTYPE", 3, None)``, ``("PC", 1, "2")``, ``("LONPOLE", None, None)``, or None.

    The matrix cards of the 1990s drafts that AIPS and old NRAO software wrote, ``PC001002``
    and ``CD001002``, split as ``("PC00", 1, "2")``: they keep their form when renumbered, so
    that wcslib weighs them against any ``CDi_j`` as astropy.wcs does on the whole header.
    ``PROJPn`` (the old name of the latitude axis' ``PVi_n``) is kept as it is.
    """
    stem = key[:5]
    if stem in _AXIS_STEMS and key[5:].isdigit():
        return stem, int(key[5:]), None
    if key[:2] in ("PC", "CD", "PV", "PS"):
        if "_" in key:
            i, _, j = key[2:].partition("_")
            if i.isdigit() and j.isdigit():
                return key[:2], int(i), j
        elif len(key) == 8 and key[:2] in ("PC", "CD") and key[2:].isdigit():
            return key[:2] + "00", int(key[2:5]), str(int(key[5:]))
    if key in _GLOBAL_KEYS or (stem == "PROJP" and key[5:].isdigit()):
        return key, None, None
    return None


def _entry_value(image, value):
    """The value of an entry: from the card image (string, int or float) or as given."""
    if image is None:
        return value
    v = image[10:].strip()
    if v.startswith("'"):
        return v[1:].split("'")[0].strip()
    v = v.split("/")[0].strip()
    try:
        return int(v)
    except ValueError:
        try:
            return float(v.replace("D", "E"))
        except ValueError:
            return v


def _split_entries(entries):
    """``(split, ctypes, naxes, extras)``: entries with split keys, CTYPEn and NAXISn by axis
    number, and the keys of the conventions astropy's full path is for (:data:`_EXTRA_KEY`)."""
    split, ctypes, naxes, extras = [], {}, {}, set()
    for key, image, value in entries:
        sk = _split_key(key)
        if sk is None:
            if key[:2] in _EXTRA_PREFIXES and _EXTRA_KEY.fullmatch(key):
                extras.add(key)
            continue
        split.append((sk, image, value))
        stem, n, _ = sk
        if stem == "CTYPE":
            ctypes.setdefault(n, str(_entry_value(image, value)).strip())
        elif stem == "NAXIS":
            v = _entry_value(image, value)
            try:
                naxes.setdefault(n, int(v))
            except (TypeError, ValueError):
                pass
    return split, ctypes, naxes, extras


def _sky_text(entries, a: int, b: int) -> str | None:
    """The cards of axes ``a`` and ``b`` (1-based) renumbered 1 and 2; None if coupled."""
    if isinstance(entries, str):
        entries = _wcs_entries(entries)
    if entries and len(entries[0]) == 3 and isinstance(entries[0][0], str):
        entries = _split_entries(entries)[0]
    num = {a: "1", b: "2"}
    out = ["NAXIS   =                    2".ljust(80)]
    for (stem, i, j), image, value in entries:
        if i is None:
            key = stem
        elif j is None:
            if i not in num:
                continue
            key = f"{stem}{num[i]}"
        elif stem in ("PV", "PS"):
            if i not in num:
                continue
            key = f"{stem}{num[i]}_{j}"
        else:
            jn = int(j)
            if i in num and jn in num:
                key = (f"{stem}{num[i]}_{num[jn]}" if len(stem) == 2
                       else f"{stem[:2]}{int(num[i]):03d}{int(num[jn]):03d}")
            else:
                if i in num or jn in num:
                    try:
                        coupled = float(_entry_value(image, value)) != 0.0
                    except (TypeError, ValueError):
                        coupled = True
                    if coupled:
                        return None
                continue
        c = _render(key, image, value)
        if c:
            out.append(c)
    return "".join(out)


def celestial_wcs(header):
    """``(sky, n1, n2)``: the celestial sub-WCS (wcslib Wcsprm, fixed and set) and its axis lengths.

    The fast path only (wcslib on the sky axes' cards; see :func:`outline` for the conventions
    that go to astropy instead).  Returns None when the header has no celestial axis pair or no
    image size.  Raises :class:`FootprintError` when it has one that wcslib cannot use.
    """
    got = _celestial_from_entries(_wcs_entries(header))
    return None if got is None or got[1] < 1 or got[2] < 1 else got


def _celestial_from_entries(entries, split=None, axes=None):
    """``(sky, n1, n2)`` by the fast path, or None without a celestial axis pair; n1 or n2 is 0
    when the header declares no size for a sky axis (NAXIS = 0, NAXISn missing)."""
    from astropy.wcs import Wcsprm

    if split is None:
        split = _split_entries(entries)
    split, ctypes, naxes = split[:3]
    # from CTYPE, not wcsprm.lng: that would run wcsset on the whole WCS, and a Stokes axis
    # with CDELT = 0 makes it singular although the sky axes are fine
    if axes is None:
        axes = _celestial_axes([ctypes.get(i + 1, "") for i in range(max(ctypes, default=0))])
    if axes is None:
        return None
    n1, n2 = max(0, naxes.get(axes[0] + 1, 0)), max(0, naxes.get(axes[1] + 1, 0))
    sized = n1 >= 1 and n2 >= 1
    # wcslib parses only the two sky axes' cards (half the time for a cube); when a PC/CD
    # term couples a sky axis with another one, the whole WCS is parsed and sub-set instead
    sky = _sky_text(split, axes[0] + 1, axes[1] + 1)
    # warnings=False: wcslib's notes on old forms (PC001001, RADECSYS) are accepted as they are
    # (a warnings.catch_warnings() here would double the time of the whole outline)
    try:
        if sky is not None:
            cel = Wcsprm(header=sky.encode("latin-1"), relax=True, warnings=False)
        else:
            full = Wcsprm(header=_entries_text(entries).encode("latin-1"), relax=True, warnings=False)
            try:
                full.fix(translate_units="", naxis=[max(1, naxes.get(i + 1, 1)) for i in range(full.naxis)])
            except Exception:  # noqa: BLE001 - best effort, as below
                pass
            full.set()
            return _SkyOfFull(full, axes), n1, n2
    except Exception as exc:  # noqa: BLE001 - wcslib raises many types for one thing: bad WCS
        raise FootprintError(f"WCS cannot be parsed: {exc}") from None
    try:  # as astropy.wcs.WCS does: NCP -> SIN, GLS -> SFL, 'DEG' -> 'deg' ...
        cel.fix(translate_units="", naxis=[n1, n2] if sized else None)
    except Exception:  # noqa: BLE001 - fix() is best effort
        pass
    try:
        cel.set()
    except Exception as exc:  # noqa: BLE001
        raise FootprintError(f"celestial WCS unusable: {exc}") from None
    return cel, n1, n2


class _SkyOfFull:
    """The sky axes of a WCS whose PC/CD matrix couples them with another axis.

    wcslib cannot cut such a WCS down to its sky axes, so pixels are mapped through the
    whole WCS with the other axes at their first pixel (the outline at the first channel).
    """

    def __init__(self, full, axes):
        self.full, self.axes = full, axes
        self.lng, self.lat = full.lng, full.lat
        self.wcsprm = full

    def p2s(self, pix, origin):
        allpix = np.zeros((len(pix), self.full.naxis))
        allpix[:, self.axes[0]] = pix[:, 0]
        allpix[:, self.axes[1]] = pix[:, 1]
        return self.full.p2s(allpix, origin)


class _AstropySky:
    """The celestial WCS through :class:`astropy.wcs.WCS` (``all_pix2world``: SIP, DSS, TNX/ZPX
    and wcslib's own distortions applied), for the conventions the fast path does not honour."""

    def __init__(self, w, why):
        self.w, self.why = w, why
        self.wcsprm = w.wcs
        self.lng, self.lat = w.wcs.lng, w.wcs.lat

    def p2s(self, pix, origin):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            world = np.asarray(self.w.all_pix2world(np.asarray(pix, dtype=float), origin), dtype=float)
        stat = (~np.all(np.isfinite(world), axis=1)).astype(int)
        return {"world": world, "stat": stat}


def _astropy_reason(ctypes, axes, extras) -> str:
    """Why the fast path cannot honour this WCS ('' when it can): the conventions that go to
    astropy's full path.  ``extras``: the keys of :data:`_EXTRA_KEY` present."""
    ct = [ctypes.get(a + 1, "").upper() for a in axes] if axes else []
    if any(c.endswith("-SIP") for c in ct) or extras & {"A_ORDER", "B_ORDER", "AP_ORDER", "BP_ORDER"}:
        return "SIP"
    if "PLTRAH" in extras and ("AMDX1" in extras or "PPO3" in extras):
        return "DSS plate solution"
    if any(c.endswith(("-TNX", "-ZPX")) for c in ct):
        return "IRAF " + ct[0][-3:]
    return ""


_ASTROPY_ENDS = frozenset(("-SIP", "-TNX", "-ZPX"))


def _scamp_tan(ctypes, axes, split) -> bool:
    """TPV written as TAN with PVi_m, m >= 5 (SCAMP before 2012): astropy reads it as TPV."""
    a, b = axes[0] + 1, axes[1] + 1
    for (stem, i, j), _, _ in split:
        if stem == "PV" and (i == a or i == b) and j.isdigit() and int(j) >= 5:
            return True
    return False


def _astropy_sky(entries, split, axes, naxes, why):
    """``(_AstropySky, n1, n2)``: astropy.wcs.WCS on the sky axes' cards (renumbered 1 and 2, as
    ``WCS(header).celestial`` has them) and the convention's own cards."""
    from astropy.io import fits
    from astropy.wcs import WCS

    a, b = axes[0] + 1, axes[1] + 1
    sky = _sky_text(split, a, b) if (a, b) == (1, 2) else None
    if sky is not None:
        extra = [e for e in entries if e[0][:2] in _EXTRA_PREFIXES and _EXTRA_KEY.fullmatch(e[0])]
        text = sky + _entries_text(extra)
    else:  # sky axes elsewhere, or coupled: the whole WCS, then its celestial part
        text = _entries_text(entries)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = WCS(fits.Header.fromstring(text))
            if w.naxis != 2:
                w = w.celestial
            w.wcs.set()
    except Exception as exc:  # noqa: BLE001 - astropy raises many types for one thing: bad WCS
        raise FootprintError(f"astropy.wcs cannot use the WCS ({why}): {' '.join(str(exc).split())}") from None
    if w.naxis != 2 or w.wcs.lng < 0 or w.wcs.lat < 0:
        raise FootprintError(f"astropy.wcs finds no celestial axis pair ({why})")
    n1, n2 = max(0, naxes.get(a, 0)), max(0, naxes.get(b, 0))
    return _AstropySky(w, why), n1, n2


def _sky_of(entries):
    """``(sky, n1, n2, method)``: the celestial WCS by the fast path (method ``"wcslib"``) or,
    for a convention it does not honour, by astropy's (``"astropy: SIP"`` ...); None without a
    celestial axis pair."""
    split = _split_entries(entries)
    parts, ctypes, naxes, extras = split
    axes = _celestial_axes([ctypes.get(i + 1, "") for i in range(max(ctypes, default=0))])
    # (plain tests, not generators: this runs for every distinct grid of the crawl)
    ends = (ctypes.get(axes[0] + 1, "")[-4:].upper(), ctypes.get(axes[1] + 1, "")[-4:].upper()) \
        if axes else ("", "")
    why = (_astropy_reason(ctypes, axes, extras)
           if extras or ends[0] in _ASTROPY_ENDS or ends[1] in _ASTROPY_ENDS else "")
    if axes is None:
        if not why.startswith("DSS"):  # a DSS plate solution needs no CTYPE
            return None
        axes = [0, 1]
    if ends[0] == "-TAB" or ends[1] == "-TAB":
        raise FootprintError("-TAB sky coordinates are tabulated in a table extension: no footprint "
                             "from the header alone")
    if not why and ends[0] == ends[1] == "-TAN" and _scamp_tan(ctypes, axes, parts):
        why = "TPV written as TAN (SCAMP before 2012)"
    if why:
        return (*_astropy_sky(entries, parts, axes, naxes, why), "astropy: " + why)
    grid = _grid_key(parts, ctypes, axes)
    if grid is not None:
        key, crval, linear = grid
        got = _GRIDS.get(key)
        if got is not None:   # the same grid elsewhere on the sky: wcslib's own set(), no parse
            cel = got[0]
            try:
                cel.crval = crval
                if linear is not None:   # and turned or scaled: its own matrix
                    setattr(cel, "pc" if linear[0] == "PC" else "cd", linear[1])
                cel.set()
            except Exception:  # noqa: BLE001 - wcslib refuses this pointing: parse afresh, as before
                del _GRIDS[key]
            else:
                _GRIDS.move_to_end(key)
                return (*got, "wcslib")
    got = _celestial_from_entries(entries, split, axes)
    if got is not None and grid is not None and _is_wcsprm(got[0]):
        _GRIDS[grid[0]] = got
        if len(_GRIDS) > _GRIDS_MAX:
            _GRIDS.popitem(last=False)   # the grid used longest ago
    return None if got is None else (*got, "wcslib")


# ------------------------------------------------------------------------ shared grids

#: Zenithal projections (Paper II section 5.1): the native pole is the reference point, so
#: CRVAL moves the field by a rotation alone, and wcslib's ``fix()`` never reads CRVAL for
#: them (it does for NCP, GLS and the cylindrical projections, which are left out).
ZENITHAL = frozenset(("AZP", "SZP", "TAN", "STG", "SIN", "ARC", "ZPN", "ZEA", "AIR"))
#: A number as WCSLIB's header parser reads it (wcspih.l's FLOAT and INTEGER).
_WCSLIB_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?")
#: Parsed sky WCSs kept by grid (everything but the sky axes' CRVAL), the most recently used.
_GRIDS: collections.OrderedDict = collections.OrderedDict()
_GRIDS_MAX = 1024


def _is_wcsprm(sky) -> bool:
    """A plain sky-axes Wcsprm (not the whole WCS of coupled axes, nor astropy's full path)."""
    from astropy.wcs import Wcsprm

    return type(sky) is Wcsprm


def _grid_key(parts, ctypes, axes):
    """``(grid key, [crval_a, crval_b], linear)`` of a zenithal sky WCS, or None; ``linear``:
    :func:`sky_matrix` of the sky axes' PC or CD terms, or None when their values are in the key.

    Most files of a survey share one grid and differ only in where it points (CRVAL of the
    sky axes) and, for mosaics each made on its own, in how it is turned (the PC or CD
    matrix of the sky axes): wcslib's header parser, the costly step, runs once per grid, and
    each file gets the parsed WCS with its own CRVAL and matrix, which ``set()`` (run by
    ``p2s``) takes from there exactly as after a fresh parse (``tests/test_footprint_grids.py``
    compares both paths).  The key is every card that touches a sky axis (what the sky WCS is
    parsed from, and the matrix terms that would couple it to another axis) and the global
    ones, but the sky axes' CRVAL and (when :func:`sky_matrix` allows) the values of their
    own matrix terms.  ``parts``: the split entries (:func:`_split_entries`); which pointings
    may be shared: :func:`shared_pointing`."""
    if axes is None:
        return None
    sky = (axes[0] + 1, axes[1] + 1)
    crvals, pv_axes, rest, seen, block = {}, set(), [], set(), []
    for e in parts:
        stem, i, j = e[0]
        if (stem, i, j) in seen and (i is None or i in sky):
            return None   # a repeated card: the parser takes the last one, the split the first
        seen.add((stem, i, j))
        if stem == "PV":
            pv_axes.add(i)
        if stem == "CRVAL" and i in sky:
            crvals[i] = (e[1], e[2])
        elif j is not None and stem in _MATRIX_STEMS and i in sky and int(j) in sky:
            block.append(e)
        elif (i is None or i in sky
              or (j is not None and stem in _MATRIX_STEMS and int(j) in sky)):
            rest.append(e)
    crval = shared_pointing(ctypes, axes, crvals, pv_axes)
    if crval is None:
        return None
    linear = sky_matrix(block, sky)
    if linear is None:   # its values stay in the key: parsed afresh unless seen before
        rest.extend(block)
    else:
        rest.append(("sky matrix", linear[0], tuple(e[0] for e in block)))
    return tuple(rest), crval, linear


#: The stems of :func:`_split_key` that are linear-transformation matrix terms.
_MATRIX_STEMS = frozenset(("PC", "CD", "PC00", "CD00"))


def sky_matrix(block, sky) -> tuple | None:
    """``(family, matrix)`` of the sky axes' own PC or CD terms when wcslib sets a WCS up alike
    whatever their values: the 2x2 matrix (rows and columns in the order of ``sky``; absent
    terms as wcslib defaults them: PC the identity, CD zero) of one family, every value a
    finite number written as wcslib reads it, and invertible (then ``fix()`` leaves it be: its
    ``cdfix`` only fills an axis whose row and column are all zero).  Else None.

    ``block``: the split entries (:func:`_split_entries`) ``((stem, i, j), image, value)``
    whose i and j are both in ``sky`` (1-based axis numbers), each key at most once; a term
    given in both forms (``CD1_2`` and ``CD001002``) gives None.  Shared by the footprint's
    grids and the validator's WCSLIB verdicts."""
    families = {e[0][0][:2] for e in block}
    if len(families) != 1:
        return None   # none (CDELT alone: in the key already), or PC and CD weighed together
    if len({(e[0][1], int(e[0][2])) for e in block}) != len(block):
        return None   # one term twice (CD1_2 beside CD001002): which wcslib takes stays in the key
    family = families.pop()
    m = [[1.0, 0.0], [0.0, 1.0]] if family == "PC" else [[0.0, 0.0], [0.0, 0.0]]
    where = {sky[0]: 0, sky[1]: 1}
    for (_, i, j), image, value in block:
        v = _wcslib_number(image, value)
        if v is None:
            return None
        m[where[i]][where[int(j)]] = v
    det = m[0][0] * m[1][1] - m[0][1] * m[1][0]
    # far from 0 as well: wcslib's LU inversion and this product need not agree on the edge
    scale = max(abs(m[0][0]), abs(m[0][1]), abs(m[1][0]), abs(m[1][1]))
    if not (math.isfinite(det) and abs(det) > 1e-9 * scale * scale > 0.0):
        return None
    return family, (tuple(m[0]), tuple(m[1]))


def _wcslib_number(image, value) -> float | None:
    """A card's value as a float when it is a finite number wcslib reads as Python does, else
    None (``1_0``, ``0x10``, ``inf``: wcslib's parser reads them otherwise, or not at all)."""
    if image is not None:
        if not _WCSLIB_FLOAT.fullmatch(image[10:].split("/")[0].strip()):
            return None
        value = _entry_value(image, None)
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return float(value)


def shared_pointing(ctypes: dict, axes, crvals: dict, pv_axes) -> list | None:
    """``[CRVAL of axes[0], of axes[1]]`` when WCSLIB sets the sky pair ``axes`` (0-based, as
    :func:`_celestial_axes` gives them) up alike wherever it points, else None: both axes
    zenithal (the native pole is the reference point; ``fix()`` never reads CRVAL for them),
    no PV card on the longitude axis (PVi_0..2 there move the fiducial point off the pole),
    both CRVAL finite numbers written as WCSLIB reads them, and the latitude off the poles
    (there wcslib's LONPOLE default changes, and ``set()`` writes the one it used back).

    Shared by the footprint's grids and the validator's WCSLIB verdicts.  ``ctypes``: axis
    number -> CTYPE; ``crvals``: axis number -> ``(card image or None, value)``;
    ``pv_axes``: the axis numbers that carry PV cards."""
    if axes is None:
        return None
    sky = (axes[0] + 1, axes[1] + 1)
    for n in sky:
        c = ctypes.get(n, "")
        if len(c) != 8 or c[4] != "-" or c[5:].upper() not in ZENITHAL:
            return None
    base = ctypes[sky[1]].split("-")[0].strip().upper()
    lat_second = base == "DEC" or base[1:] == "LAT" or base[2:] == "LT"
    if (sky[0] if lat_second else sky[1]) in pv_axes:
        return None
    values = []
    for n in sky:
        if n not in crvals:
            return None
        value = _wcslib_number(*crvals[n])
        if value is None:
            return None
        values.append(value)
    if not abs(values[1] if lat_second else values[0]) < 90.0:
        return None
    return values


# ------------------------------------------------------------------------ celestial frames

#: Native frames stored without conversion.  FK5 J2000 and ICRS differ by the frame bias,
#: at most 0.03 arcsec on the sky: within the index's 0.1 arcsec promise.
AS_ICRS = ("icrs", "fk5 J2000")


def _equinox_text(letter: str, eq: float) -> str:
    return f"{letter}{eq:.0f}" if abs(eq - round(eq)) < 5e-4 else f"{letter}{eq:.3f}".rstrip("0")


def _besselian(mjd: float) -> float:
    return 1900.0 + (mjd + 2400000.5 - 2415020.31352) / 365.242198781


def frame_key(ctype: str, radesys: str = "", equinox=None, mjdobs=None) -> tuple:
    """``(text, system, equinox, epoch)`` of a celestial frame, from the longitude axis' CTYPE
    and RADESYS / EQUINOX / MJD-OBS, with the defaults of the FITS standard (wcslib's):
    RA/DEC with neither RADESYS nor EQUINOX is ICRS, EQUINOX < 1984 alone means FK4, EQUINOX
    >= 1984 alone FK5; FK5 defaults to J2000, FK4 to B1950.

    ``epoch`` (Besselian year of MJD-OBS/DATE-OBS) is kept for FK4 only, where the epoch of
    observation moves a position (0.15 arcsec for an observation of 1980); without it the
    epoch is the equinox, as in astropy.  Ecliptic coordinates (ELON/ELAT) are the mean
    ecliptic and equinox of EQUINOX (default J2000), without aberration: astropy's
    ``BarycentricMeanEcliptic`` (which, for directions without a distance, is a rotation of
    ICRS).  Raises :class:`FootprintError` for a frame sfng cannot convert to ICRS (GAPPT,
    solar-system and terrestrial frames).
    """
    try:
        eq = float(equinox) if equinox is not None else None
        eq = eq if eq is not None and math.isfinite(eq) else None
    except (TypeError, ValueError):
        eq = None
    try:
        mjd = float(mjdobs) if mjdobs is not None else None
        mjd = mjd if mjd is not None and math.isfinite(mjd) else None
    except (TypeError, ValueError):
        mjd = None
    return _frame_key(str(ctype)[:4], str(radesys or ""), eq, mjd)


@functools.lru_cache(maxsize=256)
def _frame_key(ctype: str, radesys: str, equinox, mjdobs) -> tuple:
    """:func:`frame_key` on cleaned arguments (NaN as None: a cache key must equal itself)."""
    base = str(ctype).split("-")[0].strip().upper()
    eq = None
    try:
        if equinox is not None and math.isfinite(float(equinox)):
            eq = float(equinox)
    except (TypeError, ValueError):
        eq = None
    if base == "RA":
        system = str(radesys or "").strip().upper()
        if not system:
            system = "ICRS" if eq is None else ("FK4" if eq < 1984.0 else "FK5")
        if system == "ICRS":
            return ("icrs", "icrs", None, None)
        if system == "FK5":
            eq = 2000.0 if eq is None else eq
            return (f"fk5 {_equinox_text('J', eq)}", "fk5", eq, None)
        if system in ("FK4", "FK4-NO-E"):
            eq = 1950.0 if eq is None else eq
            epoch = None
            try:
                if mjdobs is not None and math.isfinite(float(mjdobs)):
                    epoch = round(_besselian(float(mjdobs)), 3)
            except (TypeError, ValueError):
                epoch = None
            return (f"{system.lower()} {_equinox_text('B', eq)}", system.lower(), eq, epoch)
        raise FootprintError(f"RADESYS = {system!r}: sfng converts ICRS, FK5 and FK4 positions to "
                             f"ICRS, not this frame")
    if base == "GLON":
        return ("galactic", "galactic", None, None)
    if base == "SLON":
        return ("supergalactic", "supergalactic", None, None)
    if base == "ELON":
        eq = 2000.0 if eq is None else eq
        return (f"ecliptic {_equinox_text('J' if eq >= 1984.0 else 'B', eq)}", "ecliptic", eq, None)
    raise FootprintError(f"celestial axes {base or '?'}: not a sky frame sfng converts to ICRS "
                         f"(equatorial, galactic, ecliptic and supergalactic are)")


def _frame_of(sky) -> tuple:
    """The :func:`frame_key` of a parsed celestial WCS (wcslib's values after ``set``)."""
    w = getattr(sky, "wcsprm", sky)
    try:
        mjd = w.mjdobs
    except AttributeError:
        mjd = None
    return frame_key(w.ctype[w.lng], w.radesys, w.equinox, mjd)


def _astropy_frame(key):
    from astropy.coordinates import (FK4, FK5, BarycentricMeanEcliptic, FK4NoETerms, Galactic,
                                     Supergalactic)
    from astropy.time import Time

    _, system, eq, epoch = key
    if system == "fk5":
        return FK5(equinox=Time(eq, format="jyear"))
    if system in ("fk4", "fk4-no-e"):
        kw = {"equinox": Time(eq, format="byear")}
        if epoch is not None:
            kw["obstime"] = Time(epoch, format="byear")
        return (FK4 if system == "fk4" else FK4NoETerms)(**kw)
    if system == "galactic":
        return Galactic()
    if system == "supergalactic":
        return Supergalactic()
    if system == "ecliptic":
        return BarycentricMeanEcliptic(equinox=Time(eq, format="jyear" if eq >= 1984.0 else "byear"))
    raise FootprintError(f"no conversion to ICRS for frame {key[0]!r}")


@functools.lru_cache(maxsize=64)
def _rotation(key):
    """The 3x3 matrix taking unit vectors of frame ``key`` to ICRS (``v @ M``), or None when the
    transformation is not a rotation to 0.2 mas (FK4: the E-terms of aberration)."""
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng(20240612)
    v = rng.normal(size=(64, 3))
    v = np.vstack([np.eye(3), -np.eye(3), v / np.linalg.norm(v, axis=1, keepdims=True)])
    lon, lat = radec(v)
    c = SkyCoord(lon, lat, unit="deg", frame=_astropy_frame(key)).icrs
    w = xyz(c.ra.deg, c.dec.deg)
    m = np.linalg.lstsq(v, w, rcond=None)[0]
    u, _, vt = np.linalg.svd(m)
    m = u @ vt
    if np.max(_angle(v @ m, w)) > 1e-9:
        return None
    m.flags.writeable = False
    return m


def to_icrs(key, lon, lat, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(ra, dec)`` in ICRS (degrees, RA in [0, 360)) of positions in frame ``key`` (a
    :func:`frame_key`), vectorised: one rotation (cached per frame) or one astropy call.
    ``exact``: convert FK5 J2000 too, instead of storing it as ICRS (:data:`AS_ICRS`)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if key[0] == "icrs" or (key[0] in AS_ICRS and not exact):
        ra = lon % 360.0
        return np.where(ra >= 360.0, 0.0, ra), lat
    m = _rotation(key)
    if m is not None:
        return radec(xyz(lon, lat) @ m)
    from astropy.coordinates import SkyCoord

    c = SkyCoord(lon, lat, unit="deg", frame=_astropy_frame(key)).icrs
    ra = c.ra.deg % 360.0
    return np.where(ra >= 360.0, 0.0, ra), np.asarray(c.dec.deg, dtype=float)


# ----------------------------------------------------------------------------- outline

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


@functools.lru_cache(maxsize=512)
def _sample_pixels(n1: int, n2: int, k: int) -> np.ndarray:
    """Edge samples, then the centre and the mid-points of the four edges (read-only)."""
    cx, cy = (n1 - 1) / 2.0, (n2 - 1) / 2.0
    extra = np.array([[cx, cy], [0.0, cy], [n1 - 1.0, cy], [cx, 0.0], [cx, n2 - 1.0]])
    out = np.vstack([_edges_pixels(n1, n2, k), extra])
    out.flags.writeable = False
    return out


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


#: Points per image axis of the grid that checks a large outline (corners and edges included).
GRID = 33
#: Outlines larger than this (bounding radius, degrees), partial ones, and ones whose bounding
#: cap comes within a degree of a pole are checked against the grid.
CHECK_RADIUS = 30.0


@functools.lru_cache(maxsize=64)
def _grid_pixels(n1: int, n2: int) -> np.ndarray:
    """``(GRID * GRID, 2)`` 0-based pixels, index ``i * GRID + j`` = (i-th along axis 1, j-th
    along axis 2), from edge-pixel centre to edge-pixel centre (read-only)."""
    f = np.linspace(0.0, 1.0, GRID)
    x, y = np.meshgrid(f * (n1 - 1.0), f * (n2 - 1.0), indexing="ij")
    out = np.column_stack([x.ravel(), y.ravel()])
    out.flags.writeable = False
    return out


def _field_cap(sky, key, n1, n2, centre, poly):
    """Check an outline against a grid of pixels: ``(True, centre, radius)`` when it does not
    bound the field (all-sky, more than a hemisphere, edges off the sky, a pole-spanning map
    whose edges are no polygon), where ``radius`` bounds every pixel about ``centre`` (180 for
    the whole sky); ``(False, centre, None)`` when the polygon ``poly`` is right.

    ``centre``: the central pixel's unit vector (None off the sky); ``poly``: the outline's
    unit vectors (None when there is none)."""
    try:
        res = sky.p2s(_grid_pixels(n1, n2), 0)
    except Exception as exc:  # noqa: BLE001 - invalid pixels raise in some wcslib versions
        raise FootprintError(f"celestial WCS cannot map the image: {exc}") from None
    world = res["world"]
    lon = np.array(world[:, sky.lng], dtype=float)
    lat = np.array(world[:, sky.lat], dtype=float)
    with np.errstate(invalid="ignore"):
        ok = (np.asarray(res["stat"]) == 0) & np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0)
    if not ok.any():
        raise FootprintError("no pixel of the image maps onto the sky")
    lon[ok], lat[ok] = to_icrs(key, lon[ok], lat[ok])
    v = xyz(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    grid, good = v.reshape(GRID, GRID, 3), ok.reshape(GRID, GRID)
    if poly is not None and good.all() and len(poly) >= 3:
        pc = _unit(poly.sum(axis=0))
        if np.all(np.isfinite(pc)) and np.degrees(_angle(poly, pc).max()) <= MAX_RADIUS:
            if _inside(poly, grid[1:-1, 1:-1].reshape(-1, 3)).all():
                return False, centre, None
    if centre is None:
        c = _unit(v[ok].sum(axis=0))
        centre = c if np.all(np.isfinite(c)) and np.linalg.norm(v[ok].sum(axis=0)) > 1e-6 else v[ok][0]
    # every pixel lies within one grid step of a grid point (a conservative margin)
    steps = [_angle(grid[1:], grid[:-1])[good[1:] & good[:-1]],
             _angle(grid[:, 1:], grid[:, :-1])[good[:, 1:] & good[:, :-1]]]
    step = max((s.max() for s in steps if s.size), default=math.pi)
    radius = math.degrees(float(_angle(v[ok], centre).max()) + float(step))
    return True, centre, (180.0 if radius >= 179.0 else radius)


def outline(header, samples_per_edge: int = SAMPLES_PER_EDGE,
            tolerance_arcsec: float = TOLERANCE_ARCSEC) -> Footprint | None:
    """The sky outline of an image or cube from its celestial WCS, in ICRS.

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
        Its ``kind`` is ``"polygon"`` (the usual outline), ``"cap"`` (a field no polygon of
        great-circle edges can outline: all-sky, more than a hemisphere; no vertices, the
        bounding cap ``centre``/``radius`` stands for it) or ``"centre"`` (the header declares
        no image size: no vertices, ``centre`` is the reference point CRVAL).  Positions are
        converted from the header's frame (``frame``) to ICRS.

    Raises
    ------
    FootprintError
        The celestial WCS is broken (singular matrix, unknown projection), its frame cannot be
        converted to ICRS, or no pixel maps onto the sky.
    """
    entries = _wcs_entries(header)
    k, tol = max(1, int(samples_per_edge)), float(tolerance_arcsec)
    try:
        hash(entries)
    except TypeError:  # an odd value type in a hand-made mapping: no caching
        return _outline.__wrapped__(entries, k, tol)
    return _outline(entries, k, tol)


@functools.lru_cache(maxsize=1024)
def _outline(entries: tuple, k: int, tolerance_arcsec: float) -> Footprint | None:
    # cached on the WCS cards: the products of one observation (cube, moments, noise)
    # share their celestial WCS, and a survey often repeats one grid
    got = _sky_of(entries)
    if got is None:
        return None
    cel, n1, n2, method = got
    key = _frame_of(cel)
    if n1 < 1 or n2 < 1:
        return _centre_only(cel, key, method)
    m = 4 * k
    try:
        res = cel.p2s(_sample_pixels(n1, n2, k), 0)
    except Exception as exc:  # noqa: BLE001 - invalid pixels raise in some wcslib versions
        raise FootprintError(f"celestial WCS cannot map the image: {exc}") from None
    # 21 points: plain floats and math are several times quicker than numpy calls here
    world = res["world"]
    lons = world[:, cel.lng].tolist()
    lats = world[:, cel.lat].tolist()
    stat = res["stat"].tolist()
    isfinite, cos, sin, rad = math.isfinite, math.cos, math.sin, math.radians
    # a linear (projection-less) RA/DEC pair can run past the pole: such samples are off the sky
    ok = [s == 0 and isfinite(a) and isfinite(d) and -90.0 <= d <= 90.0
          for s, a, d in zip(stat, lons, lats)]
    if key[0] not in AS_ICRS:  # one call for every sample on the sky
        good = [i for i, g in enumerate(ok) if g]
        if good:
            ra_c, dec_c = to_icrs(key, [lons[i] for i in good], [lats[i] for i in good])
            for i, a, d in zip(good, ra_c.tolist(), dec_c.tolist()):
                lons[i], lats[i] = a, d
    vec = []
    for a, d, good in zip(lons, lats, ok):
        if good:
            ca, cd = rad(a), rad(d)
            vec.append((cos(cd) * cos(ca), cos(cd) * sin(ca), sin(cd)))
        else:
            vec.append(None)
    n_ok = sum(ok[:m])
    partial = n_ok < m
    width = math.degrees(_angle3(vec[m + 1], vec[m + 2])) * 60.0 if ok[m + 1] and ok[m + 2] else math.nan
    height = math.degrees(_angle3(vec[m + 3], vec[m + 4])) * 60.0 if ok[m + 3] and ok[m + 4] else math.nan
    common = {"width_arcmin": width, "height_arcmin": height, "partial": partial, "frame": key[0],
              "method": method}
    if n_ok < 3:  # no polygon from the edges: an all-sky map whose corners are off the sky ...
        c = np.array(vec[m]) if ok[m] else None
        _, c, radius = _field_cap(cel, key, n1, n2, c, None)
        return _cap_footprint(c, radius, common)

    keep = [False] * m
    sin_tol = sin(rad(tolerance_arcsec / 3600.0))
    for side in range(4):
        a, b = side * k, ((side + 1) * k) % m
        keep[a] = True  # corners
        mids = range(a + 1, a + k)
        if not mids:
            continue
        if not all(ok[i] for i in (a, b, *mids)):
            curved = True
        else:
            nx, ny, nz = _cross3(vec[a], vec[b])
            lim = sin_tol * math.sqrt(nx * nx + ny * ny + nz * nz)
            curved = any(abs(vec[i][0] * nx + vec[i][1] * ny + vec[i][2] * nz) > lim for i in mids)
        if curved:
            for i in mids:
                keep[i] = True
    idx = [i for i in range(m) if keep[i] and ok[i]]
    if n1 == 1 or n2 == 1:  # a one-pixel axis (a spectrum, a slit): an arc or a point
        distinct = [i for j, i in enumerate(idx)
                    if max(abs(p - q) for p, q in zip(vec[i], vec[idx[(j + 1) % len(idx)]])) > 1e-14]
        idx = distinct or idx[:1]

    if ok[m]:
        c, cra, cdec = vec[m], _wrap(lons[m]), lats[m]
    else:  # the central pixel is off the sky: use the vertices' mean direction
        sx, sy, sz = (sum(vec[i][j] for i in idx) for j in range(3))
        c = _norm3((sx, sy, sz))
        cra = _wrap(math.degrees(math.atan2(c[1], c[0])))
        cdec = math.degrees(math.atan2(c[2], math.hypot(c[0], c[1])))
    radius = math.degrees(max(_angle3(vec[i], c) for i in idx))
    if partial or radius > CHECK_RADIUS or abs(cdec) + radius > 89.0:
        wide, cv, cap_radius = _field_cap(cel, key, n1, n2, np.array(vec[m]) if ok[m] else None,
                                          np.array([vec[i] for i in idx]))
        if wide:
            return _cap_footprint(cv, cap_radius, common)
    ra = np.array([_wrap(lons[i]) for i in idx])
    dec = np.array([lats[i] for i in idx])
    ra.flags.writeable = dec.flags.writeable = False  # shared through the cache
    return Footprint(ra=ra, dec=dec, centre=(cra, cdec), radius=radius,
                     size_arcmin=2.0 * radius * 60.0, **common)


_EMPTY = np.zeros(0)
_EMPTY.flags.writeable = False


def _cap_footprint(c, radius, common) -> Footprint:
    ra, dec = radec(np.asarray(c, dtype=float))
    return Footprint(ra=_EMPTY, dec=_EMPTY, centre=(float(ra), float(dec)), radius=float(radius),
                     size_arcmin=2.0 * float(radius) * 60.0, kind="cap", **common)


def _centre_only(cel, key, method) -> Footprint:
    """No image size: the reference point (CRVAL, in ICRS) when it is a point of the sky."""
    w = getattr(cel, "wcsprm", cel)
    lon, lat = float(w.crval[w.lng]), float(w.crval[w.lat])
    if math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90.0:
        ra, dec = to_icrs(key, [lon], [lat])
        centre = (float(ra[0]), float(dec[0]))
    else:
        centre = (math.nan, math.nan)
    return Footprint(ra=_EMPTY, dec=_EMPTY, centre=centre, radius=math.nan, size_arcmin=math.nan,
                     width_arcmin=math.nan, height_arcmin=math.nan, frame=key[0], method=method,
                     kind="centre")


def _wrap(ra: float) -> float:
    """RA in [0, 360): ``-1e-20 % 360`` is 360.0 in floating point, hence the second test."""
    r = ra % 360.0
    return 0.0 if r >= 360.0 else r


def _cross3(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norm3(v):
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (v[0] / n, v[1] / n, v[2] / n)


def _angle3(a, b):
    """Angle in radians between two unit 3-tuples (stable at 0 and pi)."""
    x, y, z = _cross3(a, b)
    return math.atan2(math.sqrt(x * x + y * y + z * z), a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


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
    num = _dot(v, _cross(p, q))
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
    return (_dot(_cross(p, x), n) >= 0) & (_dot(_cross(x, q), n) >= 0)


def _arcs_cross(a1, a2, b1, b2):
    """Whether arcs a1->a2 and b1->b2 cross (broadcast over leading dimensions)."""
    na = _cross(a1, a2)
    nb = _cross(b1, b2)
    sa1, sa2 = _dot(nb, a1), _dot(nb, a2)
    sb1, sb2 = _dot(na, b1), _dot(na, b2)
    straddle = (sa1 * sa2 <= 0) & (sb1 * sb2 <= 0)
    degenerate = (np.linalg.norm(na, axis=-1) == 0) | (np.linalg.norm(nb, axis=-1) == 0)
    x = _cross(na, nb)
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
    n = _cross(p, q)
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


def parse_angle(tok: str, is_ra: bool) -> float:
    """An angle in degrees from decimal degrees or sexagesimal text (hours for RA: '03:46:48')."""
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
    ra = np.array([_wrap(parse_angle(a, True)) for a, _ in pairs])
    dec = np.array([parse_angle(d, False) for _, d in pairs])
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
    A fast, conservative first pass before the exact ``*_many`` tests: a declination band
    first (two array operations over all rows), the angular distance only inside it.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    radius = np.asarray(radius, dtype=float)
    # relative slack too: the index keeps fov as float32
    lim = (np.nan_to_num(radius, nan=0.0) + qradius) * (1 + 1e-6) + 1e-7
    out = np.abs(dec - qdec) <= lim
    idx = np.flatnonzero(out)
    if len(idx):
        d = np.radians(dec[idx])
        q = math.radians(qdec)
        # haversine is enough here: the exact test follows, and the slack keeps it conservative
        hav = np.sin((d - q) / 2) ** 2 + np.cos(d) * math.cos(q) * np.sin(np.radians(ra[idx] - qra) / 2) ** 2
        sep = 2 * np.arcsin(np.sqrt(np.clip(hav, 0, 1)))
        lim_i = lim if np.ndim(lim) == 0 else lim[idx]
        out[idx] = sep <= np.radians(lim_i)
    return out


def _caps(cra, cdec, radius):
    c = xyz(np.atleast_1d(np.asarray(cra, dtype=float)), np.atleast_1d(np.asarray(cdec, dtype=float)))
    r = np.atleast_1d(np.asarray(radius, dtype=float))
    return c, np.where(np.isfinite(r), r, 180.0)   # unknown size: the whole sky (never dropped)


def caps_contain_point(cra, cdec, radius, ra, dec) -> np.ndarray:
    """For each cap (centre, radius in degrees): does it contain the point?  The footprints
    too wide for a polygon (the index's wide flag) are tested by their cap: conservative,
    exact for the whole sky."""
    c, r = _caps(cra, cdec, radius)
    return np.degrees(_angle(c, xyz(ra, dec))) <= r * (1 + 1e-9) + 1e-9


def caps_overlap_cone(cra, cdec, radius, ra, dec, qradius) -> np.ndarray:
    """For each cap: does it overlap the cone (ra, dec, qradius degrees)?"""
    c, r = _caps(cra, cdec, radius)
    return np.degrees(_angle(c, xyz(ra, dec))) <= (r + qradius) * (1 + 1e-9) + 1e-9


def caps_overlap_polygon(cra, cdec, radius, poly_ra, poly_dec) -> np.ndarray:
    """For each cap: does it overlap the polygon?  (Its centre is inside, or an edge of the
    polygon passes within its radius: right for a cap of any radius.)"""
    P = _poly_xyz(poly_ra, poly_dec)
    _check(P)
    c, r = _caps(cra, cdec, radius)
    inside = _inside(P, c)
    d = _arc_distance(c[:, None, :], P[None, :, :], np.roll(P, -1, axis=0)[None, :, :]).min(axis=1)
    return inside | (np.degrees(d) <= r * (1 + 1e-9) + 1e-9)


def _rows(foot_ra, foot_dec, foot_n=None):
    """``(v, n, valid, c)`` for footprint rows (N, K): vertex vectors (N, K', 3) trimmed to the
    longest row, unused vertices replaced by the row's first vertex (zero-length edges that
    change nothing); vertex counts; the valid mask; each row's centre (mean direction)."""
    fr = np.atleast_2d(np.asarray(foot_ra, dtype=float))
    fd = np.atleast_2d(np.asarray(foot_dec, dtype=float))
    valid = np.isfinite(fr) & np.isfinite(fd)
    if foot_n is not None:
        valid &= np.arange(fr.shape[1])[None, :] < np.asarray(foot_n)[:, None]
    cols = np.flatnonzero(valid.any(axis=0))
    k = int(cols[-1]) + 1 if len(cols) else 1
    fr, fd, valid = fr[:, :k], fd[:, :k], valid[:, :k]
    n = valid.sum(axis=1)
    fr0 = np.where(valid, fr, fr[:, :1])
    fd0 = np.where(valid, fd, fd[:, :1])
    v = xyz(np.nan_to_num(fr0), np.nan_to_num(fd0))
    c = _unit((v * valid[:, :, None]).sum(axis=1))
    return v, n, valid, c


def _inside_many(v, n, c, pts):
    """(N, M) inside tests of M points per row (pts broadcastable to (N, M, 3))."""
    p = v[:, None, :, :]
    q = np.roll(v, -1, axis=1)[:, None, :, :]
    w = _winding(p, q, pts[:, :, None, :])
    front = np.einsum("nmi,ni->nm", np.broadcast_to(pts, (len(v),) + pts.shape[1:]), c) > 0
    return (np.abs(w) > np.pi) & front & (n[:, None] >= 3)


def contains_point_many(foot_ra, foot_dec, foot_n, ra, dec) -> np.ndarray:
    """For each row (N, K) footprint: does it contain the point (ra, dec)?"""
    v, n, _, c = _rows(foot_ra, foot_dec, foot_n)
    p = xyz(ra, dec)
    return _inside_many(v, n, c, p[None, None, :])[:, 0]


def cone_overlaps_many(foot_ra, foot_dec, foot_n, ra, dec, radius) -> np.ndarray:
    """For each row footprint (N, K): does it overlap the cone (ra, dec, radius degrees)?

    Rows with one or two vertices are points or arcs; rows with none are False.
    """
    v, n, _, c = _rows(foot_ra, foot_dec, foot_n)
    if len(v) == 0:
        return np.zeros(0, bool)
    p = xyz(ra, dec)
    hit = _inside_many(v, n, c, p[None, None, :])[:, 0]
    rest = np.flatnonzero(~hit & (n >= 1))
    if len(rest):
        vr = v[rest]
        d = _arc_distance(p[None, None, :], vr, np.roll(vr, -1, axis=1)).min(axis=1)
        hit[rest] = np.degrees(d) <= radius
    return hit & (n >= 1)


def polygon_overlaps_many(foot_ra, foot_dec, foot_n, poly_ra, poly_dec) -> np.ndarray:
    """For each row footprint (N, K): does it overlap the polygon?

    The cheap tests run first; each further test runs only on the rows still undecided.
    """
    P = _poly_xyz(poly_ra, poly_dec)
    _check(P)
    v, n, valid, c = _rows(foot_ra, foot_dec, foot_n)
    if len(v) == 0:
        return np.zeros(0, bool)
    hit = np.zeros(len(v), bool)
    live = n >= 1
    # 1. a row vertex inside the polygon
    ins = _inside(P, v.reshape(-1, 3)).reshape(v.shape[:2]) & valid
    hit |= ins.any(axis=1) & live
    # 2. a polygon vertex, edge mid-point or centre inside the row footprint
    rest = np.flatnonzero(~hit & (n >= 3))
    if len(rest):
        hit[rest] = _inside_many(v[rest], n[rest], c[rest], _probes(P)[None, :, :]).any(axis=1)
    # 3. edges crossing
    rest = np.flatnonzero(~hit & live)
    if len(rest):
        vr = v[rest]
        a1, a2 = vr[:, :, None, :], np.roll(vr, -1, axis=1)[:, :, None, :]
        b1, b2 = P[None, None, :, :], np.roll(P, -1, axis=0)[None, None, :, :]
        hit[rest] = _arcs_cross(a1, a2, b1, b2).any(axis=(1, 2))
    # 4. a row's edge mid-points or centre inside the polygon (footprints sharing edges)
    rest = np.flatnonzero(~hit & live)
    if len(rest):
        vr, ok = v[rest], valid[rest]
        vm = _unit(vr + np.roll(vr, -1, axis=1))
        probes = np.concatenate([vm, c[rest][:, None, :]], axis=1)
        pvalid = np.concatenate([ok, np.ones((len(rest), 1), bool)], axis=1)
        hit[rest] = (_inside(P, probes.reshape(-1, 3)).reshape(probes.shape[:2]) & pvalid).any(axis=1)
    return hit
