"""One function per check.  Each takes a :class:`Subject` and yields :class:`Finding` objects
naming a rule of :mod:`sfng.validate.rules`; the engine turns findings into report lines.

Checks judge the *effective* header (README defaults overlaid by the file's header) and list
the keys they looked at, so that a report can say which of them came from the README.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..beam import AIPS_BEAM_RE, AIPS_HISTORY, beam_from_header
from ..beamtable import AGREEMENT as BEAM_AGREEMENT
from ..spectral import FREQUENCY, MAX_WCSAXES, VELOCITY, classify_ctype, spectral_axis

CELESTIAL_PREFIXES = ("RA--", "DEC-", "GLON", "GLAT", "ELON", "ELAT", "SLON", "SLAT", "HLON", "HLAT")
_POSITION_COLUMNS = ("RA", "DEC", "RA_DEG", "DEC_DEG", "RAJ2000", "DEJ2000", "DECJ2000", "OBJRA",
                     "OBJDEC", "IFURA", "IFUDEC", "PLUG_RA", "PLUG_DEC", "GLON", "GLAT", "RA_J2000",
                     "DEC_J2000", "SKY_RA", "SKY_DEC", "ALPHA", "DELTA")


class Finding(NamedTuple):
    rule_id: str
    details: dict
    keys: tuple = ()


@dataclass
class Subject:
    """What the checks look at: one HDU of one file, through its effective header.

    Attributes
    ----------
    eff : sfng.header.EffectiveHeader
    text : str
        The HDU's card images up to and including END ("" when not available).
    xtension : str or None
        None for the primary HDU, else IMAGE, BINTABLE ...
    shape : tuple
        ``(NAXIS1, NAXIS2, ...)``.
    tree : str or None
        ``data``, ``derived`` or None outside a store.
    beams : sfng.beamtable.BeamTable, str or None
        A CASA cube's per-channel beams; the reason when the file promises a BEAMS table
        (``CASAMBM = T`` or a BEAMS extension) that cannot be read; None when it has none.
    """

    eff: object
    text: str = ""
    xtension: str | None = None
    shape: tuple = ()
    tree: str | None = None
    beams: object = None
    _spectral: object = field(default=None, repr=False)
    _spectral_done: bool = field(default=False, repr=False)
    _beam: object = field(default=None, repr=False)
    _beam_done: bool = field(default=False, repr=False)

    @property
    def is_image(self) -> bool:
        return self.xtension in (None, "IMAGE") and len(self.shape) >= 1

    @property
    def is_table(self) -> bool:
        return self.xtension in ("BINTABLE", "TABLE")

    @property
    def naxis(self) -> int:
        return len(self.shape)

    @property
    def spectral(self):
        if not self._spectral_done:
            self._spectral = spectral_axis(self.eff) if self.is_image else None
            self._spectral_done = True
        return self._spectral

    @property
    def header_beam(self):
        """:func:`sfng.beam.beam_from_header` of the effective header (computed once)."""
        if not self._beam_done:
            self._beam = beam_from_header(self.eff)
            self._beam_done = True
        return self._beam

    @property
    def single_spectrum(self) -> bool:
        """An image whose only non-degenerate axis is spectral (or a 1-axis image)."""
        if not self.is_image:
            return False
        big = [i + 1 for i, n in enumerate(self.shape) if n > 1]
        if self.naxis == 1:
            return True
        ax = self.spectral
        return len(big) == 1 and ax is not None and big[0] == ax.axis

    def ctype(self, i: int) -> str:
        return str(self.eff.get(f"CTYPE{i}", "") or "").strip().upper()


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


# ----------------------------------------------------------------------------- 1 and 4: units

def check_bunit(s: Subject):
    if not s.is_image:
        return
    if "BUNIT" not in s.eff or not str(s.eff["BUNIT"]).strip():
        yield Finding("bunit-missing", {}, ("BUNIT",))
        return
    from .bunit import parse_bunit

    info = parse_bunit(str(s.eff["BUNIT"]))
    if info.unit is None:
        yield Finding("bunit-unparseable", {"bunit": info.text}, ("BUNIT",))
    elif not info.sky and s.tree != "derived":
        # derived/ holds physical quantities (SFR, surface densities, velocity fields).
        yield Finding("bunit-not-sky", {"bunit": info.text, "what": info.what}, ("BUNIT",))


# ----------------------------------------------------------------------------- 5: beam

_WHERE = {"header": "file", "readme": "survey README", AIPS_HISTORY: "AIPS HISTORY card"}


def check_beam(s: Subject):
    if not s.is_image or s.single_spectrum:
        return
    beam = s.header_beam
    table = s.beams if s.beams is not None and not isinstance(s.beams, str) else None
    if isinstance(s.beams, str):
        yield Finding("beam-table-unreadable", {"reason": s.beams}, ())
        if beam is None:
            return  # the beam is missing because the table is: one finding says so
    if beam is None:
        if table is None:
            yield Finding("beam-missing", {}, ())
        return
    if table is not None and beam.ok:
        diff = table.disagreement(beam)
        if diff > BEAM_AGREEMENT:
            ref, row = table.largest, table.largest_row
            yield Finding("beam-table-mismatch",
                          {"hmaj": beam.major, "hmin": beam.minor, "where": _WHERE.get(beam.source, beam.source),
                           "diff": diff, "tmaj": ref.major, "tmin": ref.minor, "chan": table.chan[row]},
                          ("BMAJ", "BMIN") if beam.source != AIPS_HISTORY else ())
    keys = ("BMAJ", "BMIN", "BPA")
    if beam.source == AIPS_HISTORY:
        card = next((h for h in reversed(s.eff.history) if AIPS_BEAM_RE.search(str(h))), "")
        yield Finding("beam-aips-history", {"card": "HISTORY " + str(card).strip()}, ())
    if beam.suspect:
        yield Finding("beam-implausible", {"reason": beam.suspect}, keys)
    if beam.source != AIPS_HISTORY:
        missing = [k for k in ("BMIN", "BPA") if k not in s.eff]
        if missing:
            yield Finding("beam-incomplete", {"missing": " and ".join(missing)}, ("BMAJ",))


# ----------------------------------------------------------------------------- 3: WCS

def _linear_matrix(eff, n: int):
    """``(matrix, uses_cd)``: the pixel-to-intermediate matrix of the first ``n`` axes."""
    d = eff.values if isinstance(getattr(eff, "values", None), dict) else eff   # plain dict: quicker
    terms = _matrix_terms(n)
    uses_cd = any(cd in d or cd00 in d for _, _, cd, cd00, _, _, _ in terms)
    m = np.zeros((n, n))
    if uses_cd:  # CDi_j, or the old CD00i00j form (WCSLIB reads it)
        for i, j, cd, cd00, _, _, _ in terms:
            m[i, j] = _f(d.get(cd, d.get(cd00, 0.0)))
        return m, True
    for i, j, _, _, pc, pc00, cdelt in terms:
        m[i, j] = _f(d.get(cdelt, 1.0)) * _f(d.get(pc, d.get(pc00, 1.0 if i == j else 0.0)))
    return m, False


@lru_cache(maxsize=16)
def _matrix_terms(n: int) -> tuple:
    """``(i, j, CDi_j, CD00i00j, PCi_j, PC00i00j, CDELTi)`` of an ``n``-axis matrix (0-based
    i, j; the keywords 1-based), made once per axis count."""
    return tuple((i - 1, j - 1, f"CD{i}_{j}", f"CD{i:03d}{j:03d}", f"PC{i}_{j}", f"PC{i:03d}{j:03d}",
                  f"CDELT{i}") for i in range(1, n + 1) for j in range(1, n + 1))


@lru_cache(maxsize=1024)
def _card_image(key, value) -> str:
    from astropy.io import fits

    try:
        return fits.Card(key, value).image
    except Exception:  # a README value FITS cannot hold: WCSLIB does not see it
        return ""


#: Keywords WCSLIB's image-header parser reads (``wcspih.l``: its rules by keyword stem, with
#: alternates ``a``; the solar ``*_OBS``, ``RSUN_REF``, ``C_RADIUS`` and ``JD-REF*`` of WCSLIB
#: 7.1-8.6): a card whose keyword starts otherwise is skipped by the parser (its ``^.`` rule),
#: so it is left out of the text WCSLIB sees, which halves the parse of a long header.  A
#: superset is harmless.
_WCSLIB_KEYWORD_RE = re.compile(
    r"NAXIS|WCSAXES|CRPIX|PC|CD|CROTA|CUNIT|CTYPE|CRVAL|LONPOLE|LATPOLE|REST|PV|PROJP|PS|VELREF"
    r"|CNAME|CRDER|CSYER|CZPHS|CPERI|WCSNAME|TIME|TIMSYER|TIMRDER|TREF|PLEPHEM|DATEREF|MJDREF"
    r"|JDREF|DATE-|MJD-|JEPOCH|BEPOCH|TSTART|TSTOP|XPOSURE|TELAPSE|OBSGEO-|OBSORBIT|RADESYS"
    r"|RADECSYS|EPOCH|EQUINOX|SPECSYS|SSYS|VELOSYS|VSOURCE|ZSOURCE|VELANGL|CPDIS|CQDIS|DP|DQ"
    r"|CPERR|CQERR|DVERR|A_|B_|AP_|BP_|CNPIX|PPO|XPIXELSZ|YPIXELSZ|PLT|PLATEID|AMD|WAT|DSUN"
    r"|CRLN|CRLT|HGLN|HGLT|RSUN|BDIS|BLAT|BLON|C_RADIUS|JD-")
_WCSLIB_KEYWORD = _WCSLIB_KEYWORD_RE.match
#: Their first two letters: most skipped cards (HISTORY, COMMENT) fail this set look-up first.
_WCSLIB_FIRST2 = frozenset(stem[:2] for stem in _WCSLIB_KEYWORD_RE.pattern.split("|"))


def _wcs_cards(s: Subject) -> list:
    """The card images WCSLIB reads: the file's WCS cards plus README-supplied keys.

    Cards WCSLIB's parser skips (HISTORY, COMMENT, OBJECT ...: :data:`_WCSLIB_KEYWORD`) are
    left out: the parsing cost grows with the number of cards.
    """
    body = s.text
    first2, match = _WCSLIB_FIRST2, _WCSLIB_KEYWORD
    cards = [body[i : i + 80] for i in range(0, len(body) - 79, 80)
             if body[i : i + 2] in first2 and match(body, i)]
    cards += [_card_image(key, s.eff[key]) for key in s.eff.from_readme()]
    return cards


#: WCSLIB's verdicts on the grids seen most recently (:func:`_verdict_key`).
_VERDICTS: collections.OrderedDict = collections.OrderedDict()
_VERDICTS_MAX = 1024
#: Dates of the observation (8-column keyword fields): WCSLIB keeps them (``fix()`` reports
#: on their form, never raises) and no check reads them but the FK4 frame's epoch.
_OBSERVATION_DATES = frozenset(("DATE-OBS", "DATE-BEG", "DATE-AVG", "DATE-END", "MJD-OBS ",
                                "MJD-BEG ", "MJD-AVG ", "MJD-END ", "JEPOCH  ", "BEPOCH  ",
                                "TSTART  ", "TSTOP   ", "XPOSURE ", "TELAPSE "))


#: Spectral types of Paper III on a linear axis (no algorithm code): WCSLIB's spcset() takes
#: any finite CRVAL for them.
_LINEAR_SPECTRAL = frozenset(("FREQ", "ENER", "WAVN", "VRAD", "WAVE", "VOPT", "ZOPT", "AWAV", "VELO",
                              "BETA"))
#: AIPS spectral types (``FREQ``, ``VELO`` or ``FELO`` and a frame code: WCSLIB's spcaips()):
#: WCSLIB translates them, whatever CRVAL they start at, to one of Paper III's types (VOPT,
#: VRAD, VOPT-F2W ...) or refuses them alike (measured on every code, VELREF and rest value).
_AIPS_SPECTRAL = frozenset(f"{stem}-{frame}" for stem in ("FREQ", "VELO", "FELO")
                           for frame in ("LSR", "HEL", "OBS", "LSD", "GEO", "SOU", "GAL"))


def _verdict_key(cards: list) -> str:
    """What WCSLIB's verdict on ``cards`` depends on, for the checks here: the cards without
    the dates of observation (unless the frame may be FK4, whose epoch they give) and, for a
    zenithal projection whose reference point is a finite position off the poles, without the
    sky axes' CRVAL (the pole is the reference point: any such CRVAL sets up alike, and
    ``fix()`` reads CRVAL only for NCP, GLS and cylindrical projections) and their own PC or
    CD terms when :func:`_turn_of` allows (a turned mosaic), and without the
    finite CRVAL of a linear or AIPS spectral axis.  The files of one
    grid share one parse; ``tests/test_validate_fast.py`` checks the findings against a
    parse of every file."""
    from ..footprint import _celestial_axes, _entry_value, _fk4_frame, shared_pointing

    def value(k8):
        return _entry_value(by_key[k8], None)

    by_key: dict = {}
    repeated = set()
    for c in cards:
        k = c[:8]
        if k in by_key:
            repeated.add(k)   # WCSLIB takes the last one: such keys are never dropped
        by_key[k] = c
    sysname = "RADESYS " if "RADESYS " in by_key else "RADECSYS"
    system = by_key.get(sysname)
    equinox = by_key.get("EQUINOX ") or by_key.get("EPOCH   ")
    if repeated & {"RADESYS ", "RADECSYS", "EQUINOX ", "EPOCH   "}:
        return "".join(cards)
    fk4 = _fk4_frame(value(sysname) if system else None,
                     value(equinox[:8]) if equinox and not system else None)
    drop = set() if fk4 else _OBSERVATION_DATES - repeated
    ctypes = {}
    for k, c in by_key.items():
        if k[:5] == "CTYPE" and k[5:].rstrip().isdigit():
            ctypes[int(k[5:])] = "" if k in repeated else str(value(k) or "").strip()
    axes = _celestial_axes([ctypes.get(i + 1, "") for i in range(max(ctypes, default=0))])
    if axes is not None:
        names = {a + 1: f"CRVAL{a + 1}".ljust(8) for a in axes}
        crvals = {n: (by_key[k], None) for n, k in names.items() if k in by_key and k not in repeated}
        pv_axes = {int(k[2:].split("_")[0]) for k in by_key if k[:2] == "PV" and k[2:].split("_")[0].isdigit()}
        if shared_pointing(ctypes, axes, crvals, pv_axes) is not None:
            drop = drop | set(names.values()) | _turn_of(by_key, repeated, axes)
    for n, c in ctypes.items():   # a linear spectral axis sets up alike wherever it starts
        if c.upper() in _LINEAR_SPECTRAL or c.upper() in _AIPS_SPECTRAL:
            name = f"CRVAL{n}".ljust(8)
            v = value(name) if name in by_key and name not in repeated else None
            if type(v) in (int, float) and math.isfinite(v):
                drop = drop | {name}
    return "".join(c for c in cards if c[:8] not in drop) if drop else "".join(cards)


def _turn_of(by_key: dict, repeated: set, axes) -> set:
    """The keys (8 columns) of the sky axes' own PC or CD terms when any values of them set up
    alike (:func:`sfng.footprint.sky_matrix`: one family of finite numbers, invertible) and no
    term couples a sky axis to another (then the whole matrix is singular exactly when the
    rest, kept in the key, is), else none: mosaics turned each their own way share a parse."""
    from ..footprint import _MATRIX_STEMS, _split_key, sky_matrix

    sky = (axes[0] + 1, axes[1] + 1)
    block = []
    for k, card in by_key.items():
        if k[:2] != "PC" and k[:2] != "CD":
            continue
        sk = _split_key(k.rstrip())
        if sk is None or sk[0] not in _MATRIX_STEMS:
            continue
        i, j = sk[1], int(sk[2])
        if (i in sky) != (j in sky) or (i in sky and k in repeated):
            return set()   # coupled to another axis, or given twice
        if i in sky:
            block.append((sk, card, None))
    return {card[:8] for _, card, _ in block} if sky_matrix(block, sky) else set()


def _wcslib(s: Subject):
    """``(Wcsprm or None, error text or "", singular: bool)``.

    The Wcsprm is shared by the files of one grid (:func:`_verdict_key`): read only its axes
    (``lng``, ``lat``, ``ctype``) and frame (``radesys``, ``equinox``, ``mjdobs``)."""
    if s.text:
        cards = _wcs_cards(s)
    else:
        from astropy.io import fits

        h = fits.Header()
        for k, v in s.eff.items():
            try:
                h[k] = v
            except (ValueError, TypeError):
                continue
        t = h.tostring()
        cards = [t[i : i + 80] for i in range(0, len(t) - 79, 80) if not t.startswith("END     ", i)]
    key = _verdict_key(cards)
    got = _VERDICTS.get(key)
    if got is None:
        text = ("".join(cards) + "END".ljust(80)).encode("latin-1", "replace")
        got = _VERDICTS[key] = _wcslib_verdict(text)
        if len(_VERDICTS) > _VERDICTS_MAX:
            _VERDICTS.popitem(last=False)   # the grid seen longest ago
    else:
        _VERDICTS.move_to_end(key)
    return got


def _wcslib_verdict(text: bytes):
    import warnings

    from astropy import wcs as awcs

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = awcs.Wcsprm(header=text, relax=True)
            w.fix()
            w.set()
        return w, "", False
    except awcs.SingularMatrixError as exc:
        return None, _first_line(exc), True
    except Exception as exc:  # WCSLIB raises many types; each is a reason the WCS is unusable
        w = _astropy_wcsprm(text)
        return (w, "", False) if w is not None else (None, _first_line(exc), False)


def _astropy_wcsprm(text):
    """The Wcsprm of ``astropy.wcs.WCS`` on the header text, or None: astropy reads some
    headers WCSLIB alone refuses (TPV written as TAN by SCAMP before 2012 becomes TPV)."""
    import warnings

    from astropy import wcs as awcs
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = awcs.WCS(fits.Header.fromstring(text.decode("latin-1"))).wcs
            w.set()
        return w
    except Exception:  # noqa: BLE001 - astropy cannot either: the WCSLIB reason stands
        return None


def _first_line(exc) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # WCSLIB: "ERROR 6 in wcs_units() at line ... of file ...:" then the useful line
    useful = [ln for ln in lines if not ln.startswith("ERROR ")]
    return (useful[0] if useful else (lines[0] if lines else type(exc).__name__)).rstrip(".")


def check_wcs(s: Subject):
    if not s.is_image:
        return
    n = s.naxis
    nw = max(n, int(_f(s.eff.get("WCSAXES", 0)) or 0) if math.isfinite(_f(s.eff.get("WCSAXES", 0))) else n)
    # Paper I allows at most 99 WCS axes (WCSLIB refuses more: wcs-unreadable below); a hostile
    # WCSAXES = 1E300 would otherwise ask for a matrix of 1E600 terms
    nw = min(nw, MAX_WCSAXES)
    m, uses_cd = _linear_matrix(s.eff, nw)
    singular = ""
    if not uses_cd:
        for i in range(1, nw + 1):
            if _f(s.eff.get(f"CDELT{i}", 1.0)) == 0:
                length = s.shape[i - 1] if i <= n else 1
                singular = (f"axis {i} ({s.ctype(i) or 'no CTYPE'}, length {length}) has CDELT{i} = 0")
                break
    if not singular and nw and np.all(np.isfinite(m)) and abs(np.linalg.det(m)) == 0:
        singular = f"the {'CD' if uses_cd else 'PC'} matrix of the {nw} axes has determinant 0"
    if singular:
        yield Finding("wcs-singular", {"reason": singular}, ())
    w, err, wsing = _wcslib(s)
    if w is None:
        if not singular:
            yield Finding("wcs-singular" if wsing else "wcs-unreadable", {"reason": err}, ())
        return
    if s.single_spectrum:
        return
    lng, lat = int(w.lng), int(w.lat)
    if lng < 0 or lat < 0:
        types = ", ".join(f"CTYPE{i} = {s.ctype(i)!r}" for i in range(1, nw + 1)) or "no CTYPEn"
        yield Finding("wcs-celestial", {"reason": f"WCSLIB finds no longitude/latitude pair ({types})"}, ())
        return
    if sorted((lng, lat)) != [0, 1]:
        yield Finding("wcs-idl-axes", {"axes": f"{lng + 1} and {lat + 1}"}, ())
    yield from _check_frame(w)
    # a DSS plate solution (PLTSCALE, AMDXn: WCSLIB translates it) gives the scale itself
    dss = "PLTSCALE" in s.eff and "AMDX1" in s.eff
    for ax in (lng + 1, lat + 1):
        has = (f"CDELT{ax}" in s.eff or dss or any(f"CD{ax}_{j}" in s.eff or f"CD{ax:03d}{j:03d}" in s.eff
                                                   for j in range(1, nw + 1)))
        if not has:
            yield Finding("pixel-scale", {"axis": ax, "ctype": s.ctype(ax),
                                          "reason": f"neither CDELT{ax} nor CD{ax}_j is given "
                                                    "(WCSLIB would assume 1 degree per pixel)"}, ())
            return
    if not singular:
        cols = [abs(np.hypot(m[lng, j], m[lat, j])) for j in (lng, lat)]
        dx, dy = cols[0] * 3600, cols[1] * 3600
        if dx > 0 and dy > 0 and abs(dx - dy) > 1e-3 * max(dx, dy):
            yield Finding("pixel-nonsquare", {"dx": dx, "dy": dy}, ())


def _check_frame(w):
    """INFO when the sky axes are not ICRS (or FK5 J2000, taken as ICRS): the index converts;
    a warning when no conversion exists (GAPPT, solar-system frames)."""
    from ..footprint import AS_ICRS, FootprintError, frame_key

    try:
        key = frame_key(w.ctype[w.lng], w.radesys, w.equinox, getattr(w, "mjdobs", None))
    except FootprintError as exc:
        yield Finding("wcs-frame-unknown", {"reason": str(exc)}, ())
        return
    if key[0] not in AS_ICRS:
        yield Finding("wcs-frame", {"frame": key[0]}, ())


# ----------------------------------------------------------------------------- spectral axis

def check_spectral(s: Subject):
    if not s.is_image:
        return
    ax = s.spectral
    if ax is None:
        # A cube's third real axis with a CTYPE nobody knows.
        for i in range(1, s.naxis + 1):
            ct = s.ctype(i)
            if s.shape[i - 1] > 1 and ct and not ct.startswith(CELESTIAL_PREFIXES) and ct != "STOKES" \
                    and i > 2 and not classify_ctype(ct).spectral:
                yield Finding("spectral-type", {"reason": f"axis {i}: CTYPE{i} = {ct!r} is not a known "
                                                          f"spectral type"}, (f"CTYPE{i}",))
        return
    i = ax.axis
    if not ax.standard:
        yield Finding("spectral-type", {"reason": f"CTYPE{i} = {ax.ctype!r} is not a standard spectral "
                                                  f"type (read as {ax.code})"}, (f"CTYPE{i}",))
    if ax.unit_source == "unparseable CUNITn":
        yield Finding("spectral-unit", {"reason": f"CUNIT{i} = {ax.cunit!r} is not a unit astropy can "
                                                  f"read"}, (f"CUNIT{i}",))
    elif ax.unit_mismatch:
        yield Finding("spectral-unit", {"reason": ax.unit_mismatch}, (f"CUNIT{i}",))
    elif ax.scale_suspect == "not Hz":
        yield Finding("spectral-unit", {"reason": f"CRVAL{i} = {ax.crval:g} {ax.unit} is below 1 MHz: "
                                                  f"the values are probably not in Hz"}, (f"CUNIT{i}",))
    elif ax.scale_suspect in ("km/s", "m/s"):
        why = ("looks like km/s (no channel is that narrow)" if ax.scale_suspect == "km/s"
               else "looks like m/s (that channel or velocity is impossible in km/s)")
        unit = ax.unit + ("" if ax.cunit else " (FITS default)")
        yield Finding("velocity-scale", {"axis": i, "ctype": ax.ctype, "cdelt": ax.cdelt, "unit": unit,
                                         "why": why}, (f"CUNIT{i}", f"CDELT{i}"))
    line = ax.kind in (FREQUENCY, VELOCITY) and ax.naxis > 1
    if not line:
        return
    if not ax.restfrq_key:
        yield Finding("restfrq-missing", {}, ("RESTFRQ",))
    else:
        if ax.restfrq_key == "RESTFREQ" and "RESTFRQ" not in s.eff:
            yield Finding("restfrq-keyword", {}, ("RESTFREQ",))
        raw = _f(s.eff.get(ax.restfrq_key))
        if ax.restfrq_key != "RESTWAV" and 0 < raw < 1e6:
            yield Finding("restfrq-implausible", {"key": ax.restfrq_key, "value": raw}, (ax.restfrq_key,))
    if "SPECRES" not in s.eff:
        yield Finding("specres-missing", {}, ("SPECRES",))


# ----------------------------------------------------------------------------- 9: CUNITn

def check_cunit(s: Subject):
    if not s.is_image:
        return
    missing, defaults = [], []
    ax = s.spectral
    for i in range(1, s.naxis + 1):
        ct = s.ctype(i)
        if not ct or ct == "STOKES" or f"CUNIT{i}" in s.eff:
            continue
        if ct.startswith(CELESTIAL_PREFIXES):
            missing.append(str(i))
            defaults.append(f"CUNIT{i} = deg")
        elif ax is not None and ax.axis == i and ax.unit:
            missing.append(str(i))
            defaults.append(f"CUNIT{i} = {ax.unit.replace(' ', '')}")
    if missing:
        yield Finding("cunit-missing", {"axes": ", ".join(missing), "defaults": ", ".join(defaults)},
                      tuple(f"CUNIT{i}" for i in missing))


# ----------------------------------------------------------------------------- 8: spectra

def check_spectra(s: Subject):
    if s.single_spectrum:
        yield Finding("spectrum-as-image", {"naxis": s.naxis}, ())
        return
    if s.xtension != "BINTABLE":
        return
    nfields = int(_f(s.eff.get("TFIELDS", 0)) or 0)
    names, vector = [], False
    for i in range(1, nfields + 1):
        names.append(str(s.eff.get(f"TTYPE{i}", "")).strip().upper())
        form = str(s.eff.get(f"TFORM{i}", "")).strip().upper()
        digits = "".join(ch for ch in form.split("P")[0] if ch.isdigit()) if form else ""
        if (digits and int(digits) > 1 and not form.endswith("A")) or "P" in form or "Q" in form:
            vector = True
    if vector and not any(n in _POSITION_COLUMNS for n in names):
        yield Finding("spectra-positions", {"columns": ", ".join(n for n in names if n) or "none"}, ())


#: The checks, in report order.
CHECKS = [check_bunit, check_wcs, check_beam, check_spectral, check_cunit, check_spectra]
