"""Convolution to a target Gaussian beam, from the original, plane by plane.

For each 2-D plane: the kernel is the Gaussian that takes the native beam to the target
(radio-beam ``deconvolve``), drawn in pixels by ``Beam.as_kernel`` and applied with
``astropy.convolution.convolve_fft`` (zero padding, blanks treated as zero, the kernel
normalised to unit sum).  Then:

* **Jy/beam** values are multiplied by the beam area ratio ``target / native`` (a point source
  keeps its peak; the flux ``sum * pixel area / beam area`` is conserved); K and other surface
  brightness units are left as they are.
* **the NaN footprint** of the input is re-imposed on the output (``preserve_nan``);
* **coverage**: the blank mask convolved with the same kernel, the fraction of each output
  pixel's kernel weight that fell on measured pixels (1 inside, falling towards the edges); the
  coverage map written beside the product is its minimum over the channels of a cube.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..units import brightness_kind
from . import beams as bm
from .cubeio import (
    PlaneWriter,
    iter_planes,
    out_header,
    pixel_scale_arcsec,
    planes_shape,
    science_hdu,
)


def kernel_array(kernel: dict, pixscale_arcsec: float) -> np.ndarray:
    """The kernel image (unit sum) for a kernel beam in arcsec at this pixel scale."""
    import astropy.units as u

    b = bm.radio_beam(**kernel)
    # 8 sigma each side: the Gaussian's tail is below 1e-14 of the peak there.
    sigma_pix = kernel["bmaj"] / pixscale_arcsec / (2 * math.sqrt(2 * math.log(2)))
    half = max(3, math.ceil(8 * sigma_pix))
    k = b.as_kernel(pixscale_arcsec * u.arcsec, x_size=2 * half + 1, y_size=2 * half + 1)
    arr = np.asarray(k.array, dtype=np.float64)
    return arr / arr.sum()


def _fft(a: np.ndarray, kern: np.ndarray) -> np.ndarray:
    from astropy.convolution import convolve_fft

    return convolve_fft(a, kern, boundary="fill", fill_value=0.0, nan_treatment="fill",
                        normalize_kernel=False, allow_huge=True)


def convolve_plane(plane: np.ndarray, kern: np.ndarray | None) -> np.ndarray:
    """One plane convolved with ``kern`` (None: unchanged); blanks count as zero and stay NaN."""
    finite = np.isfinite(plane)
    if kern is None:
        return plane.copy()
    out = _fft(np.where(finite, plane, 0.0), kern)
    out[~finite] = np.nan
    return out


def coverage_plane(finite: np.ndarray, kern: np.ndarray | None) -> np.ndarray:
    """The fraction of each output pixel's kernel weight on measured pixels."""
    if kern is None:
        return finite.astype(np.float64)
    return _fft(finite.astype(np.float64), kern)


def area_scale(bunit, native: dict, target: dict) -> float:
    """Factor applied after convolution: the beam area ratio for Jy/beam, else 1."""
    kind, _ = brightness_kind(bunit)
    return bm.area_arcsec2(target) / bm.area_arcsec2(native) if kind == "Jy/beam" else 1.0


def convolve_file(src: Path, out: Path, cov_out: Path | None, native: dict, target: dict, *,
                  cards: dict | None = None, history=()) -> dict:
    """Convolve the image or cube ``src`` (native beam ``native``) to ``target``, writing the
    product to ``out`` and its coverage map to ``cov_out``, one plane at a time.

    Returns what the record needs: ``kernel`` (beam, arcsec/deg, None for none), ``pixscale``,
    ``scale`` (the Jy/beam area factor), ``bunit``, ``planes``.  Raises SfngError when the target
    cannot be reached.
    """
    from astropy.io import fits

    kernel = bm.kernel_beam(native, target)
    with fits.open(src, memmap=True, lazy_load_hdus=True) as hdul:
        hdu = science_hdu(hdul)
        header = hdu.header
        pix = pixel_scale_arcsec(header)
        bunit = str(header.get("BUNIT", "")).strip()
        scale = area_scale(bunit, native, target)
        kern = kernel_array(kernel, pix) if kernel is not None else None
        lead, ny, nx = planes_shape(header)
        h_out = out_header(header, beam=target, cards=cards, history=history)
        cov_min = None
        last_mask = None
        last_cov = None
        n = 0
        with PlaneWriter(out, h_out, lead + (ny, nx)) as w:
            for _, plane in iter_planes(hdu):
                finite = np.isfinite(plane)
                conv = convolve_plane(plane, kern)
                if last_mask is not None and np.array_equal(finite, last_mask):
                    cov = last_cov  # the same blanks as the last plane: the same coverage
                else:
                    cov = coverage_plane(finite, kern)
                last_mask, last_cov = finite, cov
                if scale != 1.0:
                    conv *= scale
                w.write(conv)
                cov_min = cov if cov_min is None else np.minimum(cov_min, cov)
                n += 1
        if cov_out is not None:
            ch = out_header(header, bunit="", beam=target, drop_spectral=bool(lead),
                            cards=dict(cards or {}, DERKIND=("coverage", "sfng derive product kind")),
                            history=history)
            ch["BUNIT"] = ("", "fraction of the kernel weight on measured pixels")
            with PlaneWriter(cov_out, ch, (ny, nx)) as w:
                w.write(np.clip(cov_min, 0.0, 1.0) if cov_min is not None else np.zeros((ny, nx)))
    return {"kernel": kernel, "pixscale_arcsec": pix, "scale": scale, "bunit": bunit, "planes": n}
