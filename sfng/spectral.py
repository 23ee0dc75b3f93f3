"""The spectral axis of a FITS header: which axis, what kind, its unit, channel width, coverage.

CTYPE classification follows FITS WCS Paper III (Greisen et al. 2006) for the standard types
(``FREQ ENER WAVN VRAD WAVE VOPT ZOPT AWAV VELO BETA`` with optional algorithm codes such as
``-F2W`` or ``-LOG``) and the AIPS convention (``VELO-LSR``, ``VELO-HEL``, ``FELO-HEL``,
``FREQ-LSR`` ...: type plus reference frame) that radio surveys such as THINGS still write.

Units come from ``CUNITn`` through :mod:`astropy.units` (also in the upper-case spellings AIPS
writes, ``HZ``, ``M/S``, ``KM/S``); without ``CUNITn`` the FITS default of the type applies (Hz,
m/s, m, J, 1/m).  A velocity axis whose numbers look like km/s while its unit says m/s (or the
reverse) is flagged in :attr:`SpectralAxis.scale_suspect` rather than silently reinterpreted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

FREQUENCY, VELOCITY, WAVELENGTH = "frequency", "velocity", "wavelength"
C_KMS = 299792.458
C_MS = 299792458.0
#: Names (upper case) of a table column that holds a spectrum's spectral axis: a table with one
#: is a table of spectra (the index's ``product = spectra``; ``sfng serve`` reads its rows).
SPECTRAL_COLUMNS = frozenset({"WAVE", "WAVELENGTH", "LAMBDA", "FREQ", "FREQUENCY", "VELO", "VELOCITY",
                              "LOGLAM"})


@dataclass(frozen=True)
class SpectralType:
    """What a CTYPE base code means.  ``default_unit`` is the FITS default (a unit string)."""

    code: str
    kind: str
    convention: str   # radio | optical | relativistic | aips | "" (frequency-like / wavelength)
    default_unit: str
    description: str


#: The standard types of Paper III and the AIPS ones, in one declared list.
TYPES = {t.code: t for t in [
    SpectralType("FREQ", FREQUENCY, "", "Hz", "frequency"),
    SpectralType("ENER", FREQUENCY, "", "J", "photon energy"),
    SpectralType("WAVN", FREQUENCY, "", "1/m", "wavenumber"),
    SpectralType("VRAD", VELOCITY, "radio", "m/s", "radio velocity"),
    SpectralType("WAVE", WAVELENGTH, "", "m", "vacuum wavelength"),
    SpectralType("VOPT", VELOCITY, "optical", "m/s", "optical velocity"),
    SpectralType("ZOPT", VELOCITY, "optical", "", "redshift"),
    SpectralType("AWAV", WAVELENGTH, "", "m", "air wavelength"),
    SpectralType("VELO", VELOCITY, "relativistic", "m/s", "apparent radial velocity"),
    SpectralType("BETA", VELOCITY, "relativistic", "", "beta factor v/c"),
    SpectralType("FELO", VELOCITY, "optical", "m/s", "AIPS optical velocity (linear in frequency)"),
]}

#: AIPS reference frames written as the CTYPE suffix (``VELO-LSR``): not algorithm codes.
AIPS_FRAMES = {"LSR": "LSRK", "LSRK": "LSRK", "LSRD": "LSRD", "HEL": "BARYCENT", "BAR": "BARYCENT",
               "OBS": "TOPOCENT", "GEO": "GEOCENTR", "TOP": "TOPOCENT", "GAL": "GALACTOC",
               "LGR": "LOCALGRP", "CMB": "CMBDIPOL"}
#: Paper III algorithm codes (non-linear axes and tables).
ALGORITHMS = {"F2W", "F2V", "F2A", "W2F", "W2V", "W2A", "V2F", "V2W", "V2A", "A2F", "A2W", "A2V",
              "LOG", "TAB", "GRI", "GRA"}
#: Non-standard spellings seen in the wild, mapped to the type they mean.
ALIASES = {"VELOCITY": "VELO", "VELO_LSR": "VELO", "VLSR": "VELO", "VELOLSR": "VELO",
           "VRAD_LSR": "VRAD", "FREQUENCY": "FREQ", "LAMBDA": "WAVE", "WAVELENGTH": "WAVE"}

#: Upper-case unit spellings (AIPS, IRAF) -> astropy spelling.
_UNIT_SPELLING = {"HZ": "Hz", "KHZ": "kHz", "MHZ": "MHz", "GHZ": "GHz", "M/S": "m/s", "KM/S": "km/s",
                  "M S-1": "m/s", "KM S-1": "km/s", "M": "m", "CM": "cm", "MM": "mm", "UM": "um",
                  "MICRON": "um", "MICRONS": "um", "NM": "nm", "ANGSTROM": "Angstrom",
                  "ANGSTROMS": "Angstrom", "A": "Angstrom", "EV": "eV", "J": "J", "/M": "1/m",
                  "1/M": "1/m", "DEG": "deg", "DEGREE": "deg", "DEGREES": "deg", "RAD": "rad",
                  "ARCSEC": "arcsec", "ARCMIN": "arcmin"}


@dataclass(frozen=True)
class CtypeInfo:
    """A CTYPE split into its parts and classified."""

    ctype: str
    code: str              # the type (FREQ, VRAD, VELO, ...), "" when not spectral
    suffix: str            # what follows the dash: an algorithm code or an AIPS frame
    algorithm: str         # Paper III algorithm code, or ""
    frame: str             # SPECSYS-style frame from an AIPS suffix, or ""
    standard: bool         # whether the spelling is a FITS/AIPS one (False for aliases)
    stype: SpectralType | None

    @property
    def spectral(self) -> bool:
        return self.stype is not None


@lru_cache(maxsize=512)
def classify_ctype(ctype) -> CtypeInfo:
    """Classify a CTYPE value: ``"VELO-LSR"`` -> VELO, AIPS frame LSRK; ``"WAVE-LOG"`` -> WAVE, LOG."""
    raw = str(ctype or "").strip().upper()
    base, _, suffix = raw.partition("-")
    suffix = suffix.strip("-")
    if base in TYPES and (not suffix or suffix in ALGORITHMS or suffix in AIPS_FRAMES):
        return CtypeInfo(raw, base, suffix, suffix if suffix in ALGORITHMS else "",
                         AIPS_FRAMES.get(suffix, ""), True, TYPES[base])
    alias = ALIASES.get(raw) or ALIASES.get(base)
    if alias:
        frame = AIPS_FRAMES.get(suffix, "") or ("LSRK" if "LSR" in raw else "")
        return CtypeInfo(raw, alias, suffix, "", frame, False, TYPES[alias])
    return CtypeInfo(raw, "", suffix, "", "", False, None)


@lru_cache(maxsize=512)
def parse_axis_unit(text):
    """An astropy unit for a CUNITn string (``"HZ"``, ``"KM/S"``, ``"Angstrom"`` ...), or None."""
    import astropy.units as u

    s = str(text).strip()
    if not s:
        return None
    for cand in (s, _UNIT_SPELLING.get(s.upper()), s.lower()):
        if not cand:
            continue
        for fmt in ("fits", None):
            try:
                return u.Unit(cand, format=fmt, parse_strict="raise")
            except (ValueError, TypeError):
                continue
    return None


#: astropy's equivalency for each velocity convention (``SpectralType.convention``).
_DOPPLER = {"radio": "doppler_radio", "optical": "doppler_optical", "relativistic": "doppler_relativistic"}


def velocity_convention(spec_type: str, extra: str = "") -> str:
    """The velocity convention of an index row's spectral axis: the ``vconv`` the indexer wrote
    in ``extra`` (from the header: VELREF for an AIPS ``VELO-xxx`` axis), else the one its
    ``spec_type`` implies (VRAD radio; VOPT, ZOPT, FELO optical; BETA relativistic); ``""``
    unknown, as for a ``VELO`` axis of an index written before ``vconv`` (Paper III's
    relativistic VELO and AIPS's radio-or-optical VELO-xxx are the same code there)."""
    from .extras import parse_extra

    v = parse_extra(str(extra or "")).get("vconv")
    if v is not None:
        return "" if str(v) == "unknown" else str(v)
    code = str(spec_type or "").strip().upper()
    if code == "VELO" or code not in TYPES:
        return ""
    return TYPES[code].convention


def band_metres(restfrq, spec_min, spec_max, spec_unit, tracer=None,
                redshift: float = math.nan, convention: str = "radio") -> tuple[float, float] | None:
    """The observed band of an index row as (shortest, longest) wavelength in metres, or None.

    In order of trust: the spectral-axis coverage ``spec_min..spec_max`` in ``spec_unit``
    (frequencies and wavelengths through ``u.spectral()``, velocities at ``restfrq`` (Hz) in
    their ``convention``: ``radio``, ``optical`` or ``relativistic``; an unknown convention
    (any other value) gives the band all of them allow, from the radio one's ends to the
    optical one's); else the rest frequency (a
    single-channel line map); else the
    ``tracer`` (a :class:`sfng.tracers.Tracer`): a band's ``wavelength`` (micron, observed
    frame), an optical line's rest vacuum wavelength(s) ``restwav`` (micron) times ``1 + redshift``
    (unknown without a redshift: a rest wavelength is not where the line was observed), a line's
    ``restfrq``."""
    import astropy.units as u

    f0 = float(restfrq) if restfrq is not None and math.isfinite(float(restfrq)) and float(restfrq) > 0 else None
    ends = (float(spec_min), float(spec_max))
    unit = parse_axis_unit(spec_unit) if spec_unit is not None else None
    if unit is not None and all(math.isfinite(e) for e in ends):
        q = u.Quantity(ends, unit)
        waves = None
        try:
            if unit.physical_type in ("frequency", "length"):
                waves = q.to_value(u.m, equivalencies=u.spectral())
            elif unit.physical_type == "speed" and f0:
                # an unknown convention: the band every convention allows (the relativistic
                # one lies between the radio and the optical), an honest bound, not a guess
                convs = [convention] if convention in _DOPPLER else ["radio", "optical"]
                waves = [w for c in convs
                         for w in q.to_value(u.m, equivalencies=getattr(u, _DOPPLER[c])(f0 * u.Hz)).tolist()]
        except u.UnitConversionError:
            waves = None
        if waves is not None and all(math.isfinite(w) and w > 0 for w in waves):
            return float(min(waves)), float(max(waves))
    if f0:
        lam = C_KMS * 1e3 / f0
        return lam, lam
    if tracer is None:
        return None
    if getattr(tracer, "wavelength", None):
        lam = tracer.wavelength * 1e-6
        return lam, lam
    rest = getattr(tracer, "restwav", None) or ()
    if rest:
        z = float(redshift)
        if not math.isfinite(z) or z <= -1:
            return None
        waves = [w * 1e-6 * (1 + z) for w in rest]
        return min(waves), max(waves)
    if getattr(tracer, "restfrq", None):
        lam = C_KMS * 1e3 / tracer.restfrq
        return lam, lam
    return None


@dataclass
class SpectralAxis:
    """The spectral axis of a header.

    Attributes
    ----------
    axis : int
        1-based FITS axis number.
    ctype : str
        The CTYPEn value as written.
    code : str
        Classified type: FREQ, ENER, WAVN, VRAD, VOPT, ZOPT, VELO, FELO, BETA, WAVE, AWAV.
    kind : str
        ``"frequency"``, ``"velocity"`` or ``"wavelength"``.
    convention : str
        Velocity convention: radio, optical, relativistic, or "" (not a velocity).
    standard : bool
        False when the CTYPE is a non-standard spelling (``VELOCITY``, ``VLSR``).
    algorithm, frame : str
        Paper III algorithm code (``LOG``, ``F2W``...) and AIPS frame (``LSRK``...), or "".
    unit : str
        The axis unit (astropy string, e.g. ``"m / s"``), "" when unknown or dimensionless.
    unit_source : str
        ``"CUNITn"``, ``"FITS default"`` or ``"unparseable CUNITn"``.
    cunit : str
        The CUNITn value as written ("" when absent).
    unit_mismatch : str
        Why CUNITn does not fit the type (e.g. ``m/s`` on a FREQ axis), or "".
    scale_suspect : str
        For velocity axes: ``"km/s"`` when the numbers look like km/s under an m/s unit,
        ``"m/s"`` for the reverse; for frequency axes ``"not Hz"`` when far below 1 MHz; else "".
    naxis : int
        Number of channels (0 when unknown).
    crval, cdelt, crpix : float
        In the axis unit; ``cdelt`` is the diagonal CD or CDELT*PC element.
    restfrq : float
        Rest frequency, Hz (RESTFRQ, RESTFREQ or c/RESTWAV), NaN when unknown.
    restfrq_key : str
        Which keyword gave it ("" when none).
    chan_kms : float
        Channel width, km/s, positive; NaN when it cannot be known.
    coverage : tuple
        ``(min, max, unit)`` over the channel centres, in the axis unit; NaNs when unknown.
    """

    axis: int
    ctype: str
    code: str
    kind: str
    convention: str = ""
    standard: bool = True
    algorithm: str = ""
    frame: str = ""
    unit: str = ""
    unit_source: str = "FITS default"
    cunit: str = ""
    unit_mismatch: str = ""
    scale_suspect: str = ""
    naxis: int = 0
    crval: float = math.nan
    cdelt: float = math.nan
    crpix: float = math.nan
    restfrq: float = math.nan
    restfrq_key: str = ""
    chan_kms: float = math.nan
    coverage: tuple = field(default=(math.nan, math.nan, ""))

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _float(value) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        try:
            return float(str(value).replace("D", "E"))
        except ValueError:
            return math.nan


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


#: The most WCS axes a header may have (Paper I's WCSAXES; WCSLIB refuses more).
MAX_WCSAXES = 99


def find_spectral_axis(header: Mapping) -> int | None:
    """1-based number of the first axis whose CTYPEn is spectral, or None."""
    # bounded as the standard bounds them (NAXIS <= 999, as fitsheader.MAX_NAXIS; WCSAXES):
    # a hostile WCSAXES = 1E300 is not a loop of 1E300 look-ups
    n = max(min(_int(header.get("NAXIS")), 999), min(_int(header.get("WCSAXES")), MAX_WCSAXES))
    n = max(n, 4) if n <= 0 else n  # header-only mappings without NAXIS
    for i in range(1, n + 1):
        ct = header.get(f"CTYPE{i}")
        if ct is not None and classify_ctype(str(ct)).spectral:
            return i
    return None


def rest_frequency(header: Mapping) -> tuple[float, str]:
    """``(Hz, keyword)`` from RESTFRQ, RESTFREQ (AIPS) or RESTWAV (m); ``(nan, "")`` when absent."""
    for key in ("RESTFRQ", "RESTFREQ"):
        v = _float(header.get(key))
        if math.isfinite(v) and v > 0:
            return v, key
    w = _float(header.get("RESTWAV"))
    if math.isfinite(w) and w > 0:
        return C_MS / w, "RESTWAV"
    return math.nan, ""


def _increment(header, i) -> float:
    cd = header.get(f"CD{i}_{i}")
    if cd is not None:
        return _float(cd)
    cdelt = _float(header.get(f"CDELT{i}", 1.0))
    pc = _float(header.get(f"PC{i}_{i}", header.get(f"PC{i:03d}{i:03d}", 1.0)))
    return cdelt * (pc if math.isfinite(pc) else 1.0)


def _scale_suspect(kind, scale, crval, cdelt) -> str:
    """Whether the numbers of an axis contradict its unit (``scale``: axis unit -> Hz or m/s)."""
    if not (math.isfinite(scale) and math.isfinite(cdelt)) or scale <= 0:
        return ""
    v0 = abs(crval * scale) if math.isfinite(crval) else 0.0
    if kind == VELOCITY:
        dv = abs(cdelt * scale)
        # No line survey has channels narrower than 50 m/s; a "5.2 m/s" channel is 5.2 km/s.
        if 0 < dv < 50.0 and v0 < 3.0e5:
            return "km/s"
        # Faster than light, or a 1000 km/s channel: the numbers are m/s under a km/s label.
        if v0 > C_MS or dv > 1.0e6:
            return "m/s"
    if kind == FREQUENCY and 0 < v0 < 1.0e6:
        return "not Hz"
    return ""


def _world_wcslib(header, ax: SpectralAxis) -> list:
    """Channel-centre world values at both ends of a non-linear axis (``-F2W``, ``-V2F`` ...),
    through WCSLIB on the spectral axis alone; NaNs when WCSLIB cannot do it (e.g. ``-TAB``)."""
    import warnings

    from astropy.wcs import WCS

    cards = {"CTYPE1": ax.ctype, "CRVAL1": ax.crval, "CDELT1": ax.cdelt, "CRPIX1": ax.crpix}
    if ax.cunit:
        cards["CUNIT1"] = ax.cunit
    for key in ("RESTFRQ", "RESTWAV", "SPECSYS"):
        if key in header:
            cards[key] = header[key]
    if "RESTFRQ" not in cards and math.isfinite(ax.restfrq):
        cards["RESTFRQ"] = ax.restfrq
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = WCS(cards)
            world = w.wcs_pix2world([[0.0], [ax.naxis - 1.0]], 0)
            # WCSLIB answers in SI; back to the axis unit
            factor = 1.0 / _unit_facts(ax.cunit, classify_ctype(ax.ctype).code).scale
        return [float(world[0][0]) * factor, float(world[1][0]) * factor]
    except Exception:  # an axis WCSLIB cannot evaluate: the coverage stays unknown
        return [math.nan, math.nan]


def _world(info: CtypeInfo, crval, cdelt, crpix, p):
    """World coordinate at 1-based pixel ``p`` for linear and -LOG axes (NaN for others)."""
    w = cdelt * (p - crpix)
    if info.algorithm == "LOG":
        try:
            return crval * math.exp(w / crval) if crval else math.nan
        except OverflowError:   # a hostile CRVAL/CDELT pair: the coverage stays unknown
            return math.nan
    if info.algorithm in ("", ):
        return crval + w
    return math.nan


def spectral_axis(header: Mapping) -> SpectralAxis | None:
    """The spectral axis of a header mapping (effective header, astropy Header or dict), or None.

    Never guesses: a FREQ axis without a rest frequency has ``chan_kms`` NaN.  A wavelength
    axis without a rest wavelength uses the observed wavelength at the reference pixel (the
    usual per-pixel velocity width of optical spectra, exact for ``-LOG`` axes).
    """
    i = find_spectral_axis(header)
    if i is None:
        return None
    info = classify_ctype(str(header.get(f"CTYPE{i}")))
    st = info.stype
    out = SpectralAxis(axis=i, ctype=str(header.get(f"CTYPE{i}")).strip(), code=info.code, kind=st.kind,
                       convention=st.convention, standard=info.standard, algorithm=info.algorithm,
                       frame=info.frame or str(header.get("SPECSYS", "") or "").strip())
    cunit = header.get(f"CUNIT{i}")
    if info.code == "VELO" and info.frame:
        # AIPS: VELREF > 256 marks a radio velocity, 1..3 an optical one; otherwise unknown.
        velref = _int(header.get("VELREF"))
        out.convention = "radio" if velref > 256 else ("optical" if 0 < velref < 256 else "")
    out.cunit = str(cunit).strip() if cunit is not None else ""
    facts = _unit_facts(out.cunit, st.code)
    out.unit, scale, out.unit_mismatch = facts.unit, facts.scale, facts.mismatch
    if out.cunit:
        out.unit_source = f"CUNIT{i}" if facts.parsed else "unparseable CUNITn"
        if out.unit_mismatch:
            out.unit_mismatch = f"CUNIT{i} = {out.cunit!r} {out.unit_mismatch}"

    out.naxis = _int(header.get(f"NAXIS{i}"))
    out.crval = _float(header.get(f"CRVAL{i}", 0.0))
    out.crpix = _float(header.get(f"CRPIX{i}", 0.0))
    out.cdelt = _increment(header, i)
    out.restfrq, out.restfrq_key = rest_frequency(header)
    if facts.parsed and not out.unit_mismatch:
        if st.default_unit:  # redshift and beta are dimensionless: no scale to doubt
            out.scale_suspect = _scale_suspect(st.kind, scale, out.crval, out.cdelt)
        out.chan_kms = float(_chan_kms(info, scale, out))
        if out.naxis > 0 and math.isfinite(out.cdelt):
            if info.algorithm in ("", "LOG"):
                ends = [_world(info, out.crval, out.cdelt, out.crpix, p) for p in (1, out.naxis)]
            else:
                ends = _world_wcslib(header, out)
            if all(math.isfinite(e) for e in ends):
                out.coverage = (float(min(ends)), float(max(ends)), out.unit)
    return out


class _UnitFacts(NamedTuple):
    unit: str         # astropy string of the axis unit ("" when unknown)
    parsed: bool      # a unit is known (CUNITn read, or the FITS default of the type)
    mismatch: str     # why CUNITn does not suit the type ("" when it does)
    scale: float      # axis unit -> SI of the kind (Hz, m/s, m); 1 for dimensionless types


@lru_cache(maxsize=256)
def _unit_facts(cunit: str, code: str) -> _UnitFacts:
    """What a CUNITn means for a spectral type (cached: a store has few distinct spellings)."""
    import astropy.units as u

    st = TYPES[code]
    default = u.Unit(st.default_unit) if st.default_unit else u.dimensionless_unscaled
    unit = parse_axis_unit(cunit) if cunit else default
    if unit is None:
        return _UnitFacts("", False, "", math.nan)
    if not unit.is_equivalent(default):
        return _UnitFacts(unit.to_string(), True,
                          f"is not a {st.description} unit (expected something like "
                          f"{default.to_string() or 'dimensionless'})", math.nan)
    si = {FREQUENCY: u.Hz, VELOCITY: u.m / u.s, WAVELENGTH: u.m}[st.kind]
    if default == u.dimensionless_unscaled:
        scale = float(unit.to(u.dimensionless_unscaled))
    else:
        scale = float((1 * unit).to_value(si, equivalencies=u.spectral()))
    return _UnitFacts(unit.to_string(), True, "", scale)


def _chan_kms(info: CtypeInfo, scale: float, ax: SpectralAxis) -> float:
    """Channel width in km/s.

    Frequency axes use the radio convention at the rest frequency, v = c (1 - nu/nu0), so
    dv = c dnu / nu0 (what ``astropy.units.doppler_radio`` gives); wavelength axes the optical
    one, v = c (lambda - lambda0) / lambda0, so dv = c dlambda / lambda0 (``doppler_optical``).
    Both are linear, hence exact for a linear axis.  ``scale`` converts the axis unit to Hz,
    m/s or m.
    """
    d, c0 = ax.cdelt, ax.crval
    if not (math.isfinite(d) and math.isfinite(c0) and math.isfinite(scale)) or d == 0:
        return math.nan
    kind = info.stype.kind
    if kind == VELOCITY:
        if info.code in ("ZOPT", "BETA"):
            return abs(d) * C_KMS
        return abs(d * scale) / 1000.0
    if kind == FREQUENCY:
        # FREQ, and ENER and WAVN which are proportional to it: dnu = cdelt * scale in Hz.
        if not math.isfinite(ax.restfrq):
            return math.nan
        return C_KMS * abs(d * scale) / ax.restfrq
    if kind == WAVELENGTH:
        if info.algorithm == "LOG":
            # lambda = crval * exp(w / crval): d(ln lambda) per pixel = cdelt / crval.
            return abs(d / c0) * C_KMS if c0 else math.nan
        lam0 = (C_MS / ax.restfrq) if math.isfinite(ax.restfrq) else c0 * scale
        return C_KMS * abs(d * scale) / lam0 if lam0 else math.nan
    return math.nan
