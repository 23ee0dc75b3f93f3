"""Reading a product plane by plane and writing one plane by plane (bounded memory).

Inputs are opened without a memory map (``memmap=False, lazy_load_hdus=True``) and read through
``hdu.section`` one 2-D plane at a time, each read from the file by offset (mapped pages would
count as the process's memory, up to the whole cube); outputs are written with
``astropy.io.fits.StreamingHDU``, so a cube larger than RAM works.  Output
headers hold nothing time-dependent: rerunning a derivation gives the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import SfngError

#: Cards not copied from an input header (data structure, checksums, the old beam).
_DROP = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "BSCALE", "BZERO",
         "BLANK", "CHECKSUM", "DATASUM", "DATAMIN", "DATAMAX", "END", "CASAMBM"}


def science_hdu(hdul):
    """The first HDU holding an image of 2 or more axes."""
    for h in hdul:
        if getattr(h, "is_image", False) and h.header.get("NAXIS", 0) >= 2:
            return h
    raise SfngError("no image HDU with 2 or more axes")


def planes_shape(header) -> tuple[tuple[int, ...], int, int]:
    """``(leading shape, ny, nx)`` of an image header (NAXIS3.. as the leading shape)."""
    n = int(header["NAXIS"])
    dims = [int(header[f"NAXIS{i}"]) for i in range(1, n + 1)]
    lead = tuple(reversed(dims[2:]))
    return lead, dims[1], dims[0]


def pixel_scale_arcsec(header) -> float:
    """Pixel size in arcsec of a celestial image; SfngError for non-square or missing pixels."""
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        w = WCS(header).celestial
        scales = proj_plane_pixel_scales(w) * 3600.0
    except Exception as exc:  # noqa: BLE001
        raise SfngError(f"no celestial WCS: {exc}") from None
    if len(scales) != 2 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise SfngError("no celestial pixel scale in the header (CDELT1/2 or CD matrix)")
    if not math.isclose(scales[0], scales[1], rel_tol=1e-3):
        raise SfngError(f"pixels are not square ({scales[0]:.4g}\" x {scales[1]:.4g}\"); reproject first")
    return float(np.sqrt(scales[0] * scales[1]))


def out_header(header, *, bunit: str | None = None, beam: dict | None = None, drop_spectral: bool = False,
               cards: dict | None = None, history: list[str] = ()):
    """A clean output header from an input one: structure cards dropped, beam and BUNIT set,
    sfng's cards (``cards``) and HISTORY lines added."""
    from astropy.io import fits

    h = fits.Header()
    for card in header.cards:
        key = card.keyword
        if key in _DROP or key.startswith("NAXIS"):
            continue
        if drop_spectral and _is_axis_card(key, (3, 4)):
            continue
        if key in ("HISTORY", "COMMENT", ""):
            continue
        h.append(card, end=True)
    if drop_spectral:
        h["WCSAXES"] = 2
        for k in ("SPECSYS", "VELREF", "SSYSOBS"):
            h.remove(k, ignore_missing=True)
    if bunit is not None:
        h["BUNIT"] = bunit
    if beam is not None:
        h["BMAJ"] = (beam["bmaj"] / 3600.0, "[deg] beam FWHM, major axis")
        h["BMIN"] = (beam["bmin"] / 3600.0, "[deg] beam FWHM, minor axis")
        h["BPA"] = (beam["bpa"], "[deg] beam position angle, east of north")
    for k, v in (cards or {}).items():
        h[k] = v
    for line in history:
        h.add_history(line)
    return h


def _is_axis_card(key: str, axes) -> bool:
    import re

    m = re.match(r"^(CTYPE|CRVAL|CDELT|CRPIX|CUNIT|CROTA)(\d)$", key)
    if m:
        return int(m.group(2)) in axes
    m = re.match(r"^(PC|CD)(\d)_(\d)$", key)
    if m:
        return int(m.group(2)) in axes or int(m.group(3)) in axes
    return key in ("RESTFRQ", "RESTFREQ", "SPECSYS")


class PlaneWriter:
    """Write an image of ``shape`` (numpy order) as float32 to ``path``, one plane at a time."""

    def __init__(self, path: Path, header, shape: tuple[int, ...]):
        from astropy.io import fits

        h = fits.Header()
        h["SIMPLE"] = True
        h["BITPIX"] = -32
        h["NAXIS"] = len(shape)
        for i, n in enumerate(reversed(shape), 1):
            h[f"NAXIS{i}"] = int(n)
        h.extend(header, strip=True, update=False, end=True)
        self.shape = shape
        self._s = fits.StreamingHDU(str(path), h)
        self.written = 0

    def write(self, plane: np.ndarray) -> None:
        self._s.write(np.ascontiguousarray(plane, dtype=">f4"))
        self.written += 1

    def close(self) -> None:
        self._s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def iter_planes(hdu):
    """``(index tuple, plane as float64)`` for every 2-D plane of an image HDU, in file order."""
    lead, _ny, _nx = planes_shape(hdu.header)
    if not lead:
        yield (), np.asarray(hdu.section[:, :], dtype=np.float64)
        return
    for idx in np.ndindex(*lead):
        yield idx, np.asarray(hdu.section[idx + (slice(None), slice(None))], dtype=np.float64)
