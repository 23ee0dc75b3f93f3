"""Per-channel beams: the ``BEAMS`` table of a CASA/ALMA multi-beam cube.

A CASA image whose restoring beam varies from plane to plane is exported to FITS
(casacore ``ImageFITSConverter``) with ``CASAMBM = T`` in the primary header, no ``BMAJ``
there, and a binary table extension ``EXTNAME = 'BEAMS'`` of one row per channel and
polarization: ``BMAJ``, ``BMIN`` (``TUNIT`` 'arcsec'), ``BPA`` ('deg'), ``CHAN``, ``POL``
(int32), with header keys ``NCHAN`` and ``NPOL``.

The table is read the way radio-beam's ``Beams.from_fits_bintable`` and spectral-cube's FITS
reader read it: the columns by name, the axes' units from ``TUNITn`` (arcsec when absent, as
CASA <= 4.7 wrote; AIPS' ``DEGREES`` read as degrees), ``BPA`` in degrees unless its ``TUNITn``
says otherwise.  A row is a usable beam when BMAJ and BMIN are finite, positive and
BMIN <= BMAJ (radio-beam's ``Beams.isfinite`` without requiring a finite BPA); CASA writes NaN,
and wsclean-based tools the float32 ``tiny`` (~1e-38), for a flagged channel, so majors below
:data:`MIN_ARCSEC` do not count either.  The tests check every value against radio-beam.

Only the table's own data are read (:func:`sfng.fitsheader.read_data`: ``nchan x npol`` rows of
20 bytes), and only for a file that asks for it (:func:`promised`), so a header-only crawl of
ordinary files costs nothing more; the columns are taken from those bytes with numpy by their
``TFORMn`` (a fraction of a millisecond; astropy's table reader costs a few).  radio-beam is not
a dependency: it would bring matplotlib and scipy into every install for this much reading.

The statistic (``docs/index.md``, *Where each value comes from*): the index describes a cube by
the beam of the channel with the **largest major axis** (ties: the larger area): ``res`` is then
the cube's worst resolution, so ``--res<15`` keeps only cubes sharp enough in every channel,
and ``bmaj``/``bmin``/``bpa`` are one real channel's beam, the one the Jy/beam -> K conversion
of ``rms_k`` uses.  :attr:`BeamTable.major_range` gives ``bmaj_min``/``bmaj_max``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .beam import BEAMS_TABLE, Beam
from .errors import SfngError

EXTNAME = "BEAMS"
#: Majors below this (arcsec) are placeholders for flagged channels, not beams.
MIN_ARCSEC = 1e-6
#: A BEAMS table larger than this (bytes) is not one (CASA: 20 bytes a row).
MAX_BYTES = 64 << 20
#: Header beam vs the table's beam: relative difference of BMAJ or BMIN tolerated.
AGREEMENT = 0.01


class BeamTableError(SfngError):
    """A file's BEAMS table is missing, damaged or holds no usable beam (``reason`` says which)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BeamTable:
    """The beams of a BEAMS table.

    Attributes
    ----------
    major, minor : tuple of float
        FWHM per row, arcsec (NaN where the file gives none).
    pa : tuple of float
        Position angle per row, degrees east of north.
    chan, pol : tuple of int
        The ``CHAN``/``POL`` of each row (the row number and 0 when the table has no such column).
    nchan, npol : int
        ``NCHAN``/``NPOL`` as the table header gives them (-1 when absent).
    valid : tuple of bool
        Which rows are usable beams (see the module).
    """

    major: tuple
    minor: tuple
    pa: tuple
    chan: tuple
    pol: tuple
    nchan: int = -1
    npol: int = -1
    valid: tuple = field(default=())

    @property
    def n_valid(self) -> int:
        return sum(self.valid)

    def _valid_rows(self):
        return [i for i, ok in enumerate(self.valid) if ok]

    @property
    def largest_row(self) -> int:
        """Row of the beam with the largest major axis (ties: the larger area, then the first)."""
        return max(self._valid_rows(), key=lambda i: (self.major[i], self.major[i] * self.minor[i], -i))

    @property
    def largest(self) -> Beam:
        """The beam with the largest major axis, as a :class:`sfng.beam.Beam` (source
        ``beams-table``)."""
        i = self.largest_row
        return Beam(major=self.major[i], minor=self.minor[i], pa=self.pa[i], source=BEAMS_TABLE)

    @property
    def major_range(self) -> tuple[float, float]:
        """``(smallest, largest)`` major axis over the usable beams, arcsec."""
        majors = [self.major[i] for i in self._valid_rows()]
        return min(majors), max(majors)

    def disagreement(self, beam: Beam) -> float:
        """Largest relative difference of ``beam``'s major and minor axes from :attr:`largest`
        (a missing BMIN is not compared); NaN when ``beam`` gives no usable major axis."""
        ref = self.largest
        diffs = [abs(mine - theirs) / theirs for mine, theirs in
                 ((beam.major, ref.major), (beam.minor, ref.minor)) if math.isfinite(mine)]
        return max(diffs) if diffs and math.isfinite(beam.major) else math.nan


# ------------------------------------------------------------------------------ which files

def _text(v) -> str:
    return v.strip().upper() if isinstance(v, str) else ""


def is_beams_header(header: Mapping) -> bool:
    """A BINTABLE extension named BEAMS."""
    return _text(header.get("XTENSION")) == "BINTABLE" and _text(header.get("EXTNAME")) == EXTNAME


def promised(headers) -> bool:
    """Whether a file has per-channel beams to read: its primary header (the first of
    ``headers``, mappings in file order) says ``CASAMBM = T``, or an extension is a BINTABLE
    named ``BEAMS``.  Costs a dictionary look-up or two per HDU."""
    it = iter(headers)
    first = next(it, None)
    if first is None:
        return False
    if first.get("CASAMBM") is True:
        return True
    return any(is_beams_header(h) for h in it)


# ------------------------------------------------------------------------------- reading

#: The last tables read, keyed on the header block they came from: the index crawl validates
#: and then describes a file from the same blocks, and reads the table once.
_RECENT: dict = {}
_RECENT_MAX = 8


def beams_of(path, blocks=None) -> BeamTable:
    """The BEAMS table of a file.

    Parameters
    ----------
    path : str or Path
    blocks : list of sfng.fitsheader.HeaderBlock, optional
        The file's headers, every HDU (the index crawl's read).  Read here when not given, or
        when they stop before the BEAMS table (a validator's read up to the image).

    Raises
    ------
    BeamTableError
        No BEAMS table although ``CASAMBM = T``; a table without BMAJ/BMIN columns, with units
        that are not angles, with fewer or more rows than ``NCHAN x NPOL``, cut short; or
        without a usable beam.  The message names what is wrong.
    """
    block = _beams_block(blocks) if blocks is not None else None
    if block is None:
        from .fitsheader import FitsHeaderError, read_headers

        try:
            block = _beams_block(read_headers(path))
        except FitsHeaderError as exc:
            raise BeamTableError(f"BEAMS table unreadable: {exc.reason}") from None
    if block is None:
        raise BeamTableError("CASAMBM = T but the file has no BEAMS table extension")
    key = (str(path), id(block))
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is block:
        if isinstance(hit[1], BeamTableError):
            raise hit[1]
        return hit[1]
    try:
        got = _read(path, block)
    except BeamTableError as exc:
        got = exc
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.pop(next(iter(_RECENT)))
    _RECENT[key] = (block, got)  # the block is held, so its id names it while cached
    if isinstance(got, BeamTableError):
        raise got
    return got


def _beams_block(blocks):
    for b in blocks[1:]:
        if b.cards and is_beams_header(b.header):
            return b
    return None


#: ``TFORMn``: repeat count and type code; bytes per element of each code (FITS 4.0 table 18).
_TFORM_RE = re.compile(r"^\s*(\d*)\s*([LXBIJKAEDCMPQ])")
_ELEMENT_BYTES = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16,
                  "P": 8, "Q": 16}
#: Numeric scalar codes as numpy types (big-endian, as FITS stores them).
_NUMPY = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
#: Unit text -> factor to arcsec (or to deg for BPA); parsing units costs tens of microseconds.
_FACTORS: dict = {}


def _angle_unit(header, n: int | None, what: str, default: str) -> float:
    """Factor from column ``n``'s ``TUNITn`` (``default`` when absent) to arcsec (BPA: deg)."""
    text = header.get(f"TUNIT{n}") if n is not None else None
    text = text.strip() if isinstance(text, str) and text.strip() else default
    if text.upper() in ("DEGREES", "DEGREE", "DEG"):  # AIPS writes DEGREES
        text = "deg"
    key = (text, what == "BPA")
    factor = _FACTORS.get(key)
    if factor is None:
        import astropy.units as u

        try:
            factor = u.Unit(text).to(u.deg if what == "BPA" else u.arcsec)
        except (ValueError, TypeError, u.UnitsError):
            raise BeamTableError(f"BEAMS table: {what} unit {text!r} is not an angle") from None
        if len(_FACTORS) < 256:
            _FACTORS[key] = factor
    return factor


def _int_card(h, key) -> int:
    v = h.get(key)
    return v if type(v) is int else -1


def _columns(h, wanted: dict, data: bytes) -> dict:
    """``{name: float64 array}`` of the scalar numeric columns ``wanted`` (name -> column
    number) of a BINTABLE's data, with ``TSCALn``/``TZEROn`` applied (the first element of a
    vector column)."""
    import numpy as np

    nrows, width = _int_card(h, "NAXIS2"), _int_card(h, "NAXIS1")
    if nrows < 0 or width < 0 or len(data) < nrows * width:
        raise BeamTableError(f"BEAMS table: NAXIS1 x NAXIS2 = {width} x {nrows} bytes, "
                             f"{len(data)} in the file")
    layout, offset = {}, 0
    for n in range(1, _int_card(h, "TFIELDS") + 1):
        form = h.get(f"TFORM{n}")
        m = _TFORM_RE.match(form) if isinstance(form, str) else None
        if m is None:
            raise BeamTableError(f"BEAMS table: TFORM{n} = {form!r} is not a FITS column format")
        repeat, code = int(m.group(1) or 1), m.group(2)
        layout[n] = (offset, repeat, code, form.strip())
        offset += (repeat + 7) // 8 if code == "X" else repeat * _ELEMENT_BYTES[code]
    if offset != width:
        raise BeamTableError(f"BEAMS table: the TFORMn add up to {offset} bytes a row, "
                             f"NAXIS1 = {width}")
    names, formats, offsets = [], [], []
    for name, n in wanted.items():
        at, repeat, code, form = layout[n]
        if code not in _NUMPY or repeat < 1:
            raise BeamTableError(f"BEAMS table: {name} has TFORM{n} = {form!r}, not a number")
        names.append(name)
        formats.append(_NUMPY[code])
        offsets.append(at)
    rows = np.frombuffer(data, dtype=np.dtype({"names": names, "formats": formats, "offsets": offsets,
                                               "itemsize": max(width, 1)}), count=nrows)
    out = {}
    for name, n in wanted.items():
        col = rows[name].astype(float)
        scale, zero = h.get(f"TSCAL{n}"), h.get(f"TZERO{n}")
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            col = col * scale
        if isinstance(zero, (int, float)) and not isinstance(zero, bool):
            col = col + zero
        out[name] = col
    return out


def _read(path, block) -> BeamTable:
    """Read and check the table's data (one read of ``block.data_size`` bytes).

    The columns are read in place with numpy from ``TFORMn`` (``tests/test_beamtable.py``
    checks them against astropy's and radio-beam's reading): astropy's table machinery costs
    milliseconds a file, which a store of ALMA cubes would feel in every crawl."""
    import numpy as np

    from .fitsheader import FitsHeaderError, read_data

    h = block.header
    names = {}
    for n in range(1, _int_card(h, "TFIELDS") + 1):
        name = _text(h.get(f"TTYPE{n}"))
        if name:
            names.setdefault(name, n)
    missing = [c for c in ("BMAJ", "BMIN") if c not in names]
    if missing:
        have = ", ".join(sorted(names)) or "none"
        raise BeamTableError(f"BEAMS table has no {' or '.join(missing)} column (columns: {have})")
    maj_f = _angle_unit(h, names["BMAJ"], "BMAJ", "arcsec")
    min_f = _angle_unit(h, names["BMIN"], "BMIN", "arcsec")
    pa_f = _angle_unit(h, names.get("BPA"), "BPA", "deg")
    try:
        data = read_data(path, block, MAX_BYTES)
    except FitsHeaderError as exc:
        raise BeamTableError(f"BEAMS table unreadable: {exc.reason}") from None
    cols = _columns(h, {k: names[k] for k in ("BMAJ", "BMIN", "BPA", "CHAN", "POL") if k in names}, data)
    n = len(cols["BMAJ"])
    major, minor = cols["BMAJ"] * maj_f, cols["BMIN"] * min_f
    pa = cols["BPA"] * pa_f if "BPA" in cols else np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        chan = (np.where(np.isfinite(cols["CHAN"]), cols["CHAN"], -1).astype(int) if "CHAN" in cols
                else np.arange(n))
        pol = (np.where(np.isfinite(cols["POL"]), cols["POL"], -1).astype(int) if "POL" in cols
               else np.zeros(n, int))
    nchan, npol = _int_card(h, "NCHAN"), _int_card(h, "NPOL")
    if nchan >= 0 and npol >= 0 and nchan * npol != n:
        raise BeamTableError(f"BEAMS table holds {n} rows, but NCHAN x NPOL = {nchan} x {npol} "
                             f"= {nchan * npol}")
    if nchan > 0 and n and (chan.min() < 0 or chan.max() >= nchan):
        raise BeamTableError(f"BEAMS table: CHAN runs {chan.min()}..{chan.max()}, outside "
                             f"0..{nchan - 1} (NCHAN = {nchan})")
    with np.errstate(invalid="ignore"):
        valid = (np.isfinite(major) & np.isfinite(minor) & (major >= MIN_ARCSEC) & (minor > 0)
                 & (minor <= major * (1 + 1e-6)))
    if not valid.any():
        raise BeamTableError(f"BEAMS table holds no usable beam ({n} rows: "
                             f"{'none' if not n else 'all NaN, non-positive or BMIN > BMAJ'})")
    return BeamTable(major=tuple(major.tolist()), minor=tuple(minor.tolist()), pa=tuple(pa.tolist()),
                     chan=tuple(chan.tolist()), pol=tuple(pol.tolist()), nchan=nchan, npol=npol,
                     valid=tuple(valid.tolist()))
