"""CASA/ALMA multi-beam cubes, as ``exportfits`` writes them (casacore ``ImageFITSConverter``).

A cube whose restoring beam varies from channel to channel is written with ``CASAMBM = T``
(comment "CASA multiple BEAMS table present") in the primary header, no ``BMAJ``/``BMIN``/``BPA``
there, and after the image a BINTABLE extension::

    EXTNAME = 'BEAMS'   EXTVER = 1   NCHAN = n   NPOL = p
    TTYPE1 = 'BMAJ'  TFORM1 = '1E'  TUNIT1 = 'arcsec'
    TTYPE2 = 'BMIN'  TFORM2 = '1E'  TUNIT2 = 'arcsec'
    TTYPE3 = 'BPA'   TFORM3 = '1E'  TUNIT3 = 'deg'
    TTYPE4 = 'CHAN'  TFORM4 = '1J'
    TTYPE5 = 'POL'   TFORM5 = '1J'

one row per channel and polarization, channels varying fastest.  The image is RA---SIN,
DEC--SIN, FREQ (Hz), STOKES in Jy/beam, as CASA exports an ALMA line cube.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CO21 = 230.538e9


def beams_table(majors, minors=None, pas=None, *, npol: int = 1, nchan: int | None = None,
                units=("arcsec", "arcsec", "deg")):
    """The ``BEAMS`` BinTableHDU for ``majors``/``minors`` (arcsec) and ``pas`` (deg), one per
    row (``len(majors) = nchan x npol``); ``nchan`` overrides the ``NCHAN`` card (a damaged
    table), ``units`` the ``TUNITn`` of BMAJ, BMIN, BPA (None leaves one out)."""
    from astropy.io import fits

    n = len(majors)
    per_pol = n // npol if npol else n
    minors = [m * 0.8 for m in majors] if minors is None else minors
    pas = [30.0] * n if pas is None else pas
    cols = [fits.Column("BMAJ", "1E", units[0], array=np.asarray(majors, "f4")),
            fits.Column("BMIN", "1E", units[1], array=np.asarray(minors, "f4")),
            fits.Column("BPA", "1E", units[2], array=np.asarray(pas, "f4")),
            fits.Column("CHAN", "1J", array=(np.arange(n) % max(per_pol, 1)).astype("i4")),
            fits.Column("POL", "1J", array=(np.arange(n) // max(per_pol, 1)).astype("i4"))]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdu.header["EXTNAME"] = "BEAMS"
    hdu.header["EXTVER"] = 1
    hdu.header["NCHAN"] = per_pol if nchan is None else nchan
    hdu.header["NPOL"] = npol
    return hdu


def write_cube(path, majors, minors=None, pas=None, *, header_beam=None, npol: int = 1,
               table=None, casambm: bool = True, restfrq: float = CO21, repunc: float | None = 2e-3,
               obj: str = "NGC 628", ra: float = 24.174, dec: float = 15.783, size: int = 16,
               seed: int = 1) -> Path:
    """Write a CASA multi-beam ALMA cube (Jy/beam, FREQ, ``npol`` Stokes planes) of
    ``len(majors) // npol`` channels.

    ``header_beam`` ``(bmaj", bmin", bpa deg)`` also writes BMAJ/BMIN/BPA (degrees) in the
    primary header; ``table`` replaces the BEAMS HDU (a damaged one, or False for none);
    ``repunc`` (Jy/beam) is written as REPUNC, so the index has a depth without reading data.
    """
    from astropy.io import fits

    nchan = len(majors) // npol
    rng = np.random.default_rng(seed)
    data = rng.normal(0, repunc or 1e-3, (npol, nchan, size, size)).astype("f4")
    prim = fits.PrimaryHDU(data)
    h = prim.header
    chan = 488281.25  # Hz: 0.635 km/s at 230.5 GHz
    for key, value in [("BSCALE", 1.0), ("BZERO", 0.0), ("BTYPE", "Intensity"), ("OBJECT", obj),
                       ("BUNIT", "Jy/beam"), ("RADESYS", "ICRS"), ("LONPOLE", 180.0),
                       ("LATPOLE", dec), ("CTYPE1", "RA---SIN"), ("CRVAL1", ra),
                       ("CDELT1", -0.1 / 3600), ("CRPIX1", size / 2 + 1), ("CUNIT1", "deg"),
                       ("CTYPE2", "DEC--SIN"), ("CRVAL2", dec), ("CDELT2", 0.1 / 3600),
                       ("CRPIX2", size / 2 + 1), ("CUNIT2", "deg"), ("CTYPE3", "FREQ"),
                       ("CRVAL3", restfrq - nchan // 2 * chan), ("CDELT3", chan), ("CRPIX3", 1.0),
                       ("CUNIT3", "Hz"), ("CTYPE4", "STOKES"), ("CRVAL4", 1.0), ("CDELT4", 1.0),
                       ("CRPIX4", 1.0), ("CUNIT4", ""), ("PV2_1", 0.0), ("PV2_2", 0.0),
                       ("RESTFRQ", restfrq), ("SPECSYS", "LSRK"), ("SPECRES", chan),
                       ("ALTRVAL", 0.0), ("ALTRPIX", 1.0), ("VELREF", 257),
                       ("TELESCOP", "ALMA"), ("OBSERVER", "sfng"), ("DATE-OBS", "2019-01-09T07:12:05"),
                       ("TIMESYS", "UTC"), ("OBSRA", ra), ("OBSDEC", dec), ("ORIGIN", "CASA 6.5.4-9")]:
        h[key] = value
    if repunc is not None:
        h["REPUNC"] = repunc
    if header_beam is not None:
        h["BMAJ"], h["BMIN"], h["BPA"] = header_beam[0] / 3600, header_beam[1] / 3600, header_beam[2]
    if casambm:
        h["CASAMBM"] = (True, "CASA multiple BEAMS table present")
    hdus = [prim]
    if table is None:
        hdus.append(beams_table(majors, minors, pas, npol=npol))
    elif table is not False:
        hdus.append(table)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path
