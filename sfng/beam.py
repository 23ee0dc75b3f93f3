"""The beam (resolution) of a file, from its effective header.

The specification wants ``BMAJ``, ``BMIN`` (FWHM, degrees) and ``BPA`` (degrees east of north)
in the header or the survey README.  AIPS often writes the restoring beam only in a HISTORY card
(``HISTORY AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58``); that card is read too.
Order of precedence, most specific first: the file's own BMAJ, the file's HISTORY card, the
README (the file wins over the README, and the HISTORY card is part of the file).  A CASA cube's
per-channel ``BEAMS`` table (``CASAMBM = T``) is read by :mod:`sfng.beamtable` and wins over
all of these where the caller has one (the index, the validator).

A BMAJ of, say, 15 "degrees" is almost always 15 arcsec written in the wrong unit; such a beam is
returned as written but marked :attr:`Beam.suspect`, so callers can treat it as unknown rather
than guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

HEADER = "header"
README = "readme"
AIPS_HISTORY = "aips-history"
#: Per-channel beams of a CASA ``BEAMS`` table (:mod:`sfng.beamtable`), which win over all of
#: the above: the table is the file's own statement of every channel's beam.
BEAMS_TABLE = "beams-table"

#: Largest BMAJ (degrees) taken at face value.  Single-dish HI surveys reach ~0.6 deg (LAB);
#: anything at or above 1 deg in this collaboration's data is an arcsec value in a degree keyword.
MAX_PLAUSIBLE_DEG = 1.0

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"
#: ``AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58`` (also IMAGR/RESTOR variants).
AIPS_BEAM_RE = re.compile(
    rf"BMAJ\s*=\s*(?P<bmaj>{_NUM})\s+BMIN\s*=\s*(?P<bmin>{_NUM})\s+BPA\s*=\s*(?P<bpa>{_NUM})",
    re.IGNORECASE)


@dataclass(frozen=True)
class Beam:
    """A Gaussian beam.

    Attributes
    ----------
    major, minor : float
        FWHM in arcsec (``minor`` NaN when BMIN is not given).
    pa : float
        Position angle in degrees east of north (NaN when BPA is not given).
    source : str
        ``"header"``, ``"readme"``, ``"aips-history"`` or ``"beams-table"``.
    suspect : str
        Empty when plausible, else why the values should not be trusted (e.g. BMAJ written in
        arcsec, BMIN > BMAJ, a non-positive axis).
    """

    major: float
    minor: float
    pa: float
    source: str
    suspect: str = ""

    @property
    def ok(self) -> bool:
        return not self.suspect

    @property
    def area_arcsec2(self) -> float:
        """Gaussian beam solid angle, arcsec^2 (pi / (4 ln 2) * major * minor)."""
        return math.pi / (4 * math.log(2)) * self.major * self.minor

    def as_dict(self) -> dict:
        return {"bmaj": self.major, "bmin": self.minor, "bpa": self.pa, "source": self.source,
                "suspect": self.suspect}


def _float(value) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(str(value).replace("D", "E").replace("d", "e")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return math.nan


def _history(header) -> list[str]:
    hist = getattr(header, "history", None)
    if isinstance(hist, list):  # sfng.header.EffectiveHeader
        return [str(h) for h in hist]
    try:  # astropy Header: header["HISTORY"] is a list-like of strings
        if "HISTORY" in header:
            got = header["HISTORY"]
            return [got] if isinstance(got, str) else [str(h) for h in got]
    except (KeyError, TypeError):
        pass
    return []


def aips_history_beam(history) -> tuple[float, float, float] | None:
    """``(bmaj deg, bmin deg, bpa deg)`` from the last AIPS CLEAN HISTORY card, or None.

    ``history`` is an iterable of HISTORY card texts.  The last card wins: AIPS appends a new
    one each time the image is restored.
    """
    found = None
    for line in history:
        m = AIPS_BEAM_RE.search(str(line))
        if m:
            found = tuple(_float(m.group(k)) for k in ("bmaj", "bmin", "bpa"))
    return found


def looks_like_arcsec(bmaj_deg: float) -> bool:
    """Whether a BMAJ value (nominally degrees) is really arcsec written as degrees."""
    return math.isfinite(bmaj_deg) and bmaj_deg >= MAX_PLAUSIBLE_DEG


def check(bmaj_deg: float, bmin_deg: float, bpa_deg: float) -> str:
    """Why a beam (degrees) is implausible, or ``""``."""
    if not math.isfinite(bmaj_deg):
        return "BMAJ is not a number"
    if bmaj_deg <= 0:
        return f"BMAJ = {bmaj_deg:g} is not positive"
    if looks_like_arcsec(bmaj_deg):
        return (f"BMAJ = {bmaj_deg:g} deg ({bmaj_deg * 60:g} arcmin) is implausibly large: "
                f"probably {bmaj_deg:g} arcsec written in a degree keyword")
    if math.isfinite(bmin_deg):
        if bmin_deg <= 0:
            return f"BMIN = {bmin_deg:g} is not positive"
        if bmin_deg > bmaj_deg * (1 + 1e-6):
            return f"BMIN = {bmin_deg:g} is larger than BMAJ = {bmaj_deg:g}"
    if math.isfinite(bpa_deg) and abs(bpa_deg) > 360:
        return f"BPA = {bpa_deg:g} deg is outside -360..360"
    return ""


def _make(bmaj, bmin, bpa, source) -> Beam:
    return Beam(major=bmaj * 3600.0, minor=bmin * 3600.0, pa=bpa, source=source,
                suspect=check(bmaj, bmin, bpa))


def beam_from_header(header: Mapping) -> Beam | None:
    """The beam of an effective header (or any header mapping), or None when none is given.

    Parameters
    ----------
    header : sfng.header.EffectiveHeader, astropy.io.fits.Header or mapping
        With BMAJ/BMIN in degrees and BPA in degrees.  An ``EffectiveHeader`` tells whether each
        key came from the file or the README; for other mappings the keys count as the file's.

    Returns
    -------
    Beam or None
        Axes in arcsec, PA in degrees; missing BMIN/BPA are NaN (never assumed).
    """
    origin = getattr(header, "source", None)
    origin = origin if isinstance(origin, Mapping) else {}
    bmaj = _float(header.get("BMAJ"))
    from_file = "BMAJ" in header and origin.get("BMAJ", "file") == "file"
    if from_file:
        return _make(bmaj, _float(header.get("BMIN")), _float(header.get("BPA")), HEADER)
    hist = aips_history_beam(_history(header))
    if hist is not None:
        return _make(*hist, AIPS_HISTORY)
    if "BMAJ" in header:
        # BMAJ from the README; BMIN/BPA are taken from wherever the effective header has them.
        return _make(bmaj, _float(header.get("BMIN")), _float(header.get("BPA")), README)
    return None
