"""BUNIT as written by surveys -> an astropy unit, and whether it is a calibrated sky unit.

Surveys write units in many spellings: ``JY/BEAM``, ``K (Tmb)``, ``JY/B*M/S`` (AIPS moment maps),
``K KM/S``, ``Jy/beam.km/s``, ``erg/s/cm2/A``, ``1E-17 erg/s/cm^2/Angstrom/spaxel``.  Each factor is
read by :mod:`astropy.units` after mapping upper-case spellings; the factors are combined strictly
left to right (``Jy/beam km/s`` is ``(Jy/beam)*(km/s)``, which is what authors mean and not how a
FITS unit parser reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: Upper-case or informal factor spellings -> astropy spelling.
_FACTOR = {
    "JY": "Jy", "MJY": "mJy", "UJY": "uJy", "KJY": "kJy", "B": "beam", "BEAM": "beam", "BM": "beam",
    "K": "K", "MK": "mK", "KELVIN": "K", "KM": "km", "M": "m", "CM": "cm", "S": "s", "SEC": "s",
    "HZ": "Hz", "KHZ": "kHz", "MHZ": "MHz", "GHZ": "GHz", "SR": "sr", "STER": "sr", "STERAD": "sr",
    "PIX": "pix", "PIXEL": "pix", "PIXELS": "pix", "SPAXEL": "spaxel", "ERG": "erg", "ERGS": "erg",
    "W": "W", "WATT": "W", "A": "Angstrom", "AA": "Angstrom", "ANGSTROM": "Angstrom",
    "ANGSTROMS": "Angstrom", "ANG": "Angstrom", "ARCSEC": "arcsec", "ARCMIN": "arcmin", "DEG": "deg",
    "MAG": "mag", "NANOMAGGIES": "nanomaggy", "NANOMAGGY": "nanomaggy", "NMGY": "nanomaggy",
    "PHOTON": "ph", "PHOTONS": "ph", "COUNTS": "count", "COUNT": "count", "CTS": "count",
    "ADU": "adu", "DN": "DN", "ELECTRONS": "electron", "E-": "electron", "MSUN": "solMass",
    "PC": "pc", "KPC": "kpc", "YR": "yr", "UM": "um", "MICRON": "um", "NM": "nm",
}
#: Qualifiers in parentheses that name a temperature scale, not a unit: ``K (Tmb)``, ``K (TA*)``.
_QUALIFIER = re.compile(r"\s*[\(\[]\s*(T[_ ]?\w*\*?|main[- ]beam|antenna)[^\)\]]*[\)\]]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class UnitInfo:
    """What a BUNIT string means.

    Attributes
    ----------
    text : str
        As written.
    unit : astropy.units.UnitBase or None
        None when it cannot be read.
    sky : bool
        A calibrated sky quantity: brightness temperature, flux density (per beam, pixel or solid
        angle), surface brightness or flux, optionally times a velocity or frequency (moment maps).
    what : str
        A short description (``brightness temperature``, ``counts`` ...).
    """

    text: str
    unit: object
    sky: bool
    what: str


_SPAXEL = None


def spaxel():
    """A unit for integral-field spaxels (MaNGA writes '.../spaxel'); astropy has none."""
    global _SPAXEL
    if _SPAXEL is None:
        import astropy.units as u

        _SPAXEL = u.def_unit("spaxel", doc="a spatial pixel of an integral-field cube")
    return _SPAXEL


_SCAN = re.compile(r"""
    (?P<scale>10\*\*\(?[-+]?\d+\)?)
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][-+]?\d+)?(?![A-Za-z]))
  | (?P<factor>[A-Za-z_]+(?:(?:\*\*|\^)?[-+]?\d+)?)
  | (?P<op>[*/.])
  | (?P<space>\s+)
""", re.VERBOSE)


def _factor(tok: str):
    import astropy.units as u

    m = re.fullmatch(r"([A-Za-z_]+\*?)(?:(?:\*\*|\^)?([-+]?\d+))?", tok)
    base, power = (m.group(1), int(m.group(2)) if m.group(2) else 1) if m else (tok, 1)
    base = base.rstrip("*")
    cands = []
    # FITS headers shout: an upper-case 'S' is seconds, 'A' Angstrom, 'B' beam, never Siemens,
    # ampere or byte in a brightness unit.
    if base.upper() in _FACTOR and (base.isupper() or len(base) == 1):
        cands.append(_FACTOR[base.upper()])
    cands.append(base)
    if base.upper() in _FACTOR:
        cands.append(_FACTOR[base.upper()])
    if base.isupper():
        cands.append(base.lower())
    for cand in cands:
        if cand.lower() == "spaxel":
            return spaxel() ** power
        try:
            return u.Unit(cand, parse_strict="raise") ** power
        except (ValueError, TypeError):
            continue
    raise ValueError(f"unknown unit {tok!r}")


def _left_to_right(s: str):
    """Combine factors left to right: each '/' divides by the next factor only."""
    import astropy.units as u

    result, op, pos = None, "*", 0
    while pos < len(s):
        m = _SCAN.match(s, pos)
        if not m:
            raise ValueError(f"cannot read {s[pos:]!r}")
        pos = m.end()
        kind, tok = m.lastgroup, m.group()
        if kind in ("space", "op"):
            op = "/" if tok == "/" else ("*" if op != "/" or kind == "op" else op)
            continue
        if kind == "scale":
            f = 10.0 ** int(tok[4:].strip("()"))
        elif kind == "num":
            f = float(tok.replace("D", "E").replace("d", "e"))
        else:
            f = _factor(tok)
        result = f if result is None else (result * f if op == "*" else result / f)
        op = "*"
    if result is None:
        raise ValueError("empty unit")
    return result if isinstance(result, u.UnitBase) else u.Unit(result)


@lru_cache(maxsize=1024)
def parse_bunit(text) -> UnitInfo:
    """Read a BUNIT value (cached: a store has few distinct spellings)."""
    import astropy.units as u

    raw = str(text).strip()
    s = _QUALIFIER.sub(" ", raw).strip()
    unit = None
    if s:
        # '10**(-17) erg/s' style scale factors are written without parentheses for our tokenizer
        s2 = s
        try:
            if re.search(r"\((?![-+]?\d+\))", s2):
                unit = u.Unit(s2, parse_strict="raise")
            else:
                unit = _left_to_right(s2)
        except (ValueError, TypeError, ZeroDivisionError):
            unit = None
    if unit is None:
        return UnitInfo(raw, None, False, "unreadable")
    sky, what = classify(unit)
    return UnitInfo(raw, unit, sky, what)


def _templates():
    import astropy.units as u

    base = [(u.K, "brightness temperature"), (u.Jy, "flux density"), (u.W / u.m ** 2, "flux"),
            (u.erg / u.s / u.cm ** 2 / u.AA, "flux density (per wavelength)"),
            (u.ph / u.s / u.cm ** 2, "photon flux"), (u.ph / u.s / u.cm ** 2 / u.AA, "photon flux density"),
            (u.nanomaggy, "flux density (maggies)"), (u.mag, "magnitudes")]
    per = [(u.dimensionless_unscaled, ""), (u.beam, " per beam"), (u.pix, " per pixel"),
           (u.sr, " per solid angle"), (spaxel(), " per spaxel")]
    times = [(u.dimensionless_unscaled, ""), (u.km / u.s, " times velocity (moment map)"),
             (u.Hz, " times frequency")]
    return [(b / p * t, w + pw + tw) for t, tw in times for b, w in base for p, pw in per]


_TEMPLATES = None


def classify(unit) -> tuple[bool, str]:
    """``(is a sky unit, description)`` of an astropy unit."""
    import astropy.units as u

    global _TEMPLATES
    if _TEMPLATES is None:
        _TEMPLATES = _templates()
    for tmpl, what in _TEMPLATES:
        try:
            if unit.is_equivalent(tmpl):
                return True, what
        except Exception:
            continue
    for bad, what in ((u.count, "counts"), (u.adu, "detector units"), (u.DN, "detector units"),
                      (u.electron, "electrons")):
        for denom in (1, u.s, u.pix, u.s * u.pix):
            if unit.is_equivalent(bad / denom if denom != 1 else bad):
                return False, what + (" (uncalibrated)" if what != "counts" else ", uncalibrated")
    if unit == u.dimensionless_unscaled:
        return False, "dimensionless"
    try:
        return False, str(unit.physical_type)
    except Exception:
        return False, unit.to_string()
