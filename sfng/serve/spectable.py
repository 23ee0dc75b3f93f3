"""Spectra kept in a FITS BINTABLE (the specification's item 8: "individual spectra should be
grouped by galaxy and stored as FITS BINTABLEs"), read into the service's row-per-spectrum form.

Two layouts are read, both as real archives write them:

- **one row per spectrum**: vector columns ``FLUX(n)`` (and ``IVAR``/``ERR``, ``MASK``), the
  spectral axis as a vector column (``WAVE(n)``, ``LOGLAM(n)``...) or as a ``WAVE`` image HDU of
  length ``n``, and optionally a position per row (``RA``/``DEC``, ``OBJRA``/``OBJDEC``,
  ``PLUG_RA``/``PLUG_DEC``, ``TARGET_RA``/``TARGET_DEC``, ``RAJ2000``/``DEJ2000``) and a label
  (``NAME``, ``OBJID``, ``ID``...).  Variable-length arrays (``1PE``) are padded with NaN and their
  length kept.
- **one row per pixel**, as an SDSS ``spec-PLATE-MJD-FIBER`` COADD HDU: scalar columns ``flux``,
  ``loglam``, ``ivar``, ``and_mask``...; the table is one spectrum, placed at the header's
  position (``PLUG_RA``/``PLUG_DEC``, ``RA``/``DEC``, ``OBJRA``/``OBJDEC``).

Units come from ``TUNITn`` through astropy.units (the flux's, else the header's ``BUNIT``).
Wavelengths are given in Angstrom, whatever their column's length unit; ``LOGLAM`` columns hold
log10 of the wavelength (in Angstrom unless the column's unit says otherwise, the SDSS
convention); frequencies become radio velocities (km/s) where the header gives ``RESTFRQ``, as
for cubes; velocities are km/s.  A spectral column without a unit keeps an unknown unit ("") -- it
is never guessed.  Positions are ICRS: columns in an FK4/FK5 frame (``RADESYS``/``EQUINOX`` of the
header) are converted with astropy.coordinates.  A row without a position has none (NaN): it is
found by constraint, never by a region.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SfngError
from ..spectral import C_KMS

FLUX_COLUMNS = ("FLUX", "SPEC", "SPECTRUM", "FLUX_DENSITY", "FLUXDENS", "FLAM", "FNU", "INTENSITY", "TB")
IVAR_COLUMNS = ("IVAR", "INVVAR", "IVARIANCE", "FLUX_IVAR", "INV_VAR")
ERROR_COLUMNS = ("ERR", "ERROR", "SIGMA", "FLUX_ERR", "FLUX_ERROR", "ERR_FLUX", "NOISE", "STDDEV", "UNC")
MASK_COLUMNS = ("MASK", "AND_MASK", "ANDMASK", "PIXMASK", "FLAG", "FLAGS", "QUALITY", "DQ")
POSITION_COLUMNS = (("RA", "DEC"), ("OBJRA", "OBJDEC"), ("PLUG_RA", "PLUG_DEC"), ("TARGET_RA", "TARGET_DEC"),
                    ("RA_ICRS", "DE_ICRS"), ("RAJ2000", "DEJ2000"), ("RA_DEG", "DEC_DEG"))
POSITION_KEYS = POSITION_COLUMNS[:4] + (("RADEG", "DECDEG"),)
LABEL_COLUMNS = ("NAME", "OBJNAME", "OBJECT", "TARGETID", "OBJID", "SPECOBJID", "ID", "SPEC_ID", "FIBERID")
# The spectral columns (the index's SPECTRAL_COLUMNS), best first: a table with WAVE and LOGLAM
# uses WAVE.
_WAVE_ORDER = ("WAVE", "WAVELENGTH", "LAMBDA", "LOGLAM", "FREQ", "FREQUENCY", "VELO", "VELOCITY")


class NotSpectra(SfngError):
    """A table the service cannot read spectra from (no flux or no spectral column)."""


def _column(names: dict, choices) -> str | None:
    for c in choices:
        if c in names:
            return names[c]
    return None


def _spectral(values: np.ndarray, column: str, tunit: str, restfrq: float) -> tuple[np.ndarray, str, str]:
    """(centres, unit, axis kind) of a spectral column; see the module docstring for the rules."""
    import astropy.units as u

    from ..spectral import parse_axis_unit

    values = np.asarray(values, dtype=np.float64)
    un = parse_axis_unit(tunit)
    upper = column.upper()
    if upper.startswith("LOGLAM"):
        base = un if un is not None and un.physical_type == "length" else u.AA
        return (10.0 ** values * base).to_value(u.AA), "Angstrom", "wavelength"
    if un is None:
        kind = "wavelength" if upper.startswith(("WAVE", "LAMBDA")) else (
            "frequency" if upper.startswith("FREQ") else "velocity" if upper.startswith("VEL") else "spectral")
        return values, "", kind
    ptype = un.physical_type
    if ptype == "length":
        return (values * un).to_value(u.AA), "Angstrom", "wavelength"
    if ptype == "frequency":
        hz = (values * un).to_value(u.Hz)
        if math.isfinite(restfrq) and restfrq > 0:
            return C_KMS * (1.0 - hz / restfrq), "km/s", "velocity"
        return hz, "Hz", "frequency"
    if ptype == "speed":
        return (values * un).to_value(u.km / u.s), "km/s", "velocity"
    return values, un.to_string(), "spectral"


def _vector(data, name: str, nrows: int, width: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A column as an (nrows, width) float array (NaN past each row's end) and each row's length."""
    col = data[name]
    if col.dtype == object:          # variable-length arrays
        lens = np.array([len(np.ravel(v)) for v in col], dtype=np.int64)
        w = int(lens.max()) if width is None and len(lens) else (width or 0)
        out = np.full((nrows, w), np.nan)
        for i, v in enumerate(col):
            v = np.ravel(np.asarray(v, dtype=np.float64))[:w]
            out[i, :len(v)] = v
        return out, np.minimum(lens, w)
    arr = np.asarray(col, dtype=np.float64).reshape(nrows, -1)
    return arr, np.full(nrows, arr.shape[1], dtype=np.int64)


def _to_icrs(ra: np.ndarray, dec: np.ndarray, hdr, prim) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) in degrees of positions in the header's frame: RADESYS / EQUINOX / MJD-OBS
    of the table (else the primary header) read by the index's own rules
    (:func:`sfng.footprint.frame_key`), converted exactly (FK5 J2000 too)."""
    from ..footprint import FootprintError, frame_key, to_icrs

    def get(*keys):
        for key in keys:
            for h in (hdr, prim):
                if h.get(key) is not None:
                    return h.get(key)
        return None

    try:
        key = frame_key("RA", str(get("RADESYS", "RADECSYS") or "").strip(), get("EQUINOX", "EPOCH"),
                        get("MJD-OBS"))
    except FootprintError as exc:
        raise NotSpectra(f"positions: {exc}") from None
    ok = np.isfinite(ra) & np.isfinite(dec)
    out_ra, out_dec = np.full(ra.shape, np.nan), np.full(dec.shape, np.nan)
    if ok.any():
        out_ra[ok], out_dec[ok] = to_icrs(key, ra[ok], dec[ok], exact=True)
    return out_ra, out_dec


def _header_position(hdr, prim) -> tuple[float, float]:
    for kra, kdec in POSITION_KEYS:
        for h in (hdr, prim):
            try:
                ra, dec = float(h[kra]), float(h[kdec])
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90:
                return ra, dec
    return float("nan"), float("nan")


def _restfrq(hdr, prim) -> float:
    """Hz, from the table's header, else the primary's (:func:`sfng.spectral.rest_frequency`)."""
    from ..spectral import rest_frequency

    f = rest_frequency(hdr)[0]
    return f if math.isfinite(f) else rest_frequency(prim)[0]


def read(hdul, index: int) -> dict:
    """The spectra of the BINTABLE ``hdul[index]``.

    Returns a dict: ``flux``, ``ivar`` (float32, NaN where the table has no uncertainty),
    ``mask`` (int32; non-finite flux flagged 1 where the table has no mask), each
    (nspectra, npix); ``wave`` (npix,) when the rows share their spectral axis, else ``waves``
    (nspectra, npix); ``npix`` (nspectra,) pixels in each row; ``ra``/``dec`` (ICRS degrees,
    NaN where unknown); ``labels``; and ``meta`` (``wave_unit``, ``axis``, ``flux_unit``,
    ``layout``, ``columns``).  :class:`NotSpectra` when the table holds no spectra sfng can read.
    """
    hdu = hdul[index]
    if not getattr(hdu, "columns", None) or not hasattr(hdu, "data"):
        raise NotSpectra("not a table")
    hdr, prim = hdu.header, hdul[0].header
    data = hdu.data
    nrows = 0 if data is None else len(data)
    if nrows == 0:
        raise NotSpectra("the table has no rows")
    names = {c.name.upper(): c.name for c in hdu.columns}
    units = {c.name: (c.unit or "") for c in hdu.columns}
    fcol = _column(names, FLUX_COLUMNS)
    wcol = _column(names, _WAVE_ORDER)
    wave_hdu = None
    if wcol is None:
        for h in hdul[1:]:
            if h.is_image and str(h.header.get("EXTNAME", "")).strip().upper() in ("WAVE", "WAVELENGTH", "LOGLAM"):
                wave_hdu = h
                break
    if fcol is None:
        raise NotSpectra(f"no flux column (one of {', '.join(FLUX_COLUMNS)})")
    if wcol is None and wave_hdu is None:
        raise NotSpectra("no spectral column (" + ", ".join(_WAVE_ORDER) + ") or WAVE image HDU")
    restfrq = _restfrq(hdr, prim)
    per_pixel = data[fcol].dtype != object and np.asarray(data[fcol]).ndim == 1
    ivcol, ercol, mkcol = _column(names, IVAR_COLUMNS), _column(names, ERROR_COLUMNS), _column(names, MASK_COLUMNS)
    with np.errstate(all="ignore"):
        if per_pixel:
            # One spectrum, a row per pixel (SDSS spec COADD).
            flux = np.asarray(data[fcol], dtype=np.float64)[None, :]
            npix = np.array([flux.shape[1]])

            def vec(name):
                return np.asarray(data[name], dtype=np.float64)[None, :]
        else:
            flux, npix = _vector(data, fcol, nrows, None)

            def vec(name):
                return _vector(data, name, nrows, flux.shape[1])[0]
        n, width = flux.shape
        if ivcol is not None:
            ivar = vec(ivcol)
        elif ercol is not None:
            err = vec(ercol)
            ivar = np.where(err > 0, 1.0 / err ** 2, 0.0)
        else:
            ivar = np.full(flux.shape, np.nan)
        if mkcol is not None:
            mraw = vec(mkcol)
            mask = np.where(np.isfinite(mraw), mraw, 0).astype(np.int64).astype(np.int32)
        else:
            mask = (~np.isfinite(flux)).astype(np.int32)
        if wcol is not None:
            waves, wunit, axis = _spectral(vec(wcol), wcol, units.get(wcol, ""), restfrq)
        else:
            raw_w = np.asarray(wave_hdu.data, dtype=np.float64).ravel()
            if len(raw_w) != width:
                raise NotSpectra(f"the WAVE HDU has {len(raw_w)} values, the flux column {width}")
            name = str(wave_hdu.header.get("EXTNAME", "WAVE")).strip()
            w1, wunit, axis = _spectral(raw_w, name, wave_hdu.header.get("BUNIT", wave_hdu.header.get("CUNIT1", "")),
                                        restfrq)
            waves = np.broadcast_to(w1, flux.shape)
    # Pixels past a row's end (variable-length rows) hold no data.
    cols = np.arange(width)
    past = cols[None, :] >= npix[:, None]
    flux[past], ivar[past], mask[past] = np.nan, 0.0, 0
    waves = np.array(waves, dtype=np.float64)
    shared = bool(np.all(npix == width)) and all(np.array_equal(waves[0], waves[i], equal_nan=True) for i in range(n))
    # Positions: per row, else the header's (one spectrum per table, or the table's target).
    ra = dec = None
    for kra, kdec in POSITION_COLUMNS:
        if kra in names and kdec in names and not per_pixel:
            ra = np.asarray(data[names[kra]], dtype=np.float64).reshape(n, -1)[:, 0]
            dec = np.asarray(data[names[kdec]], dtype=np.float64).reshape(n, -1)[:, 0]
            break
    if ra is None:
        r0, d0 = _header_position(hdr, prim)
        ra, dec = np.full(n, r0), np.full(n, d0)
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90))
    ra, dec = np.where(bad, np.nan, ra), np.where(bad, np.nan, dec)
    ra, dec = _to_icrs(ra, dec, hdr, prim)
    lcol = _column(names, LABEL_COLUMNS)
    labels = [""] * n
    if lcol is not None and not per_pixel:
        labels = [(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)).strip()
                  for v in np.asarray(data[lcol]).reshape(n, -1)[:, 0]]
    flux_unit = str(units.get(fcol, "") or hdr.get("BUNIT", "") or prim.get("BUNIT", "")).strip()
    out = {"flux": flux.astype(np.float32), "ivar": ivar.astype(np.float32), "mask": mask,
           "npix": npix.astype(np.int32), "ra": ra, "dec": dec, "labels": labels,
           "meta": {"wave_unit": wunit, "axis": axis, "flux_unit": flux_unit,
                    "layout": "pixel-rows" if per_pixel else "spectrum-rows",
                    "columns": {"flux": fcol, "spectral": wcol or f"HDU {wave_hdu.name}", "ivar": ivcol,
                                "error": ercol if ivcol is None else None, "mask": mkcol},
                    "has_ivar": ivcol is not None or ercol is not None, "has_mask": mkcol is not None}}
    if shared:
        out["wave"] = waves[0]
    else:
        out["waves"] = waves
    return out
