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
* **per-channel beams** (a CASA multi-beam cube's ``BEAMS`` table, :mod:`sfng.beamtable`): each
  plane is convolved from its own beam to the target, with its own kernel and its own Jy/beam
  area factor, so every output channel has the target beam (the output has one beam, no table).
  A plane whose table row is no usable beam (flagged: NaN or ~0) is written blank.
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


def convolve_file(src: Path, out: Path, cov_out: Path | None, native: dict | None, target: dict, *,
                  cards: dict | None = None, history=(), kernel_file=None, kernel_sha256=None) -> dict:
    """Convolve the image or cube ``src`` (native beam ``native``) to ``target``, writing the
    product to ``out`` and its coverage map to ``cov_out``, one plane at a time.

    Returns what the record needs: ``kernel`` (beam, arcsec/deg, None for none), ``pixscale``,
    ``scale`` (the Jy/beam area factor), ``bunit``, ``planes``.  Raises SfngError when the target
    cannot be reached.
    """
    from astropy.io import fits

    kernel = bm.kernel_beam(native, target) if kernel_file is None else None
    # read plane by plane from the file (no memory map: mapped pages would count as the
    # process's memory, up to the whole cube)
    with fits.open(src, memmap=False, lazy_load_hdus=True) as hdul:
        hdu = science_hdu(hdul)
        header = hdu.header
        pix = pixel_scale_arcsec(header)
        bunit = str(header.get("BUNIT", "")).strip()
        lead, ny, nx = planes_shape(header)
        if kernel_file is not None:
            # a non-Gaussian PSF: the kernel file, surface brightness units (no beam area to scale)
            from .kernels import kernel_at

            kern, scale, plane_beams = kernel_at(kernel_file, pix, kernel_sha256), 1.0, None
        else:
            scale = area_scale(bunit, native, target)
            kern = kernel_array(kernel, pix) if kernel is not None else None
            plane_beams = _plane_beams(src, hdul, lead)
        kernels: dict = {}       # one kernel per distinct channel beam
        flagged = 0
        h_out = out_header(header, beam=target, cards=cards, history=history)
        cov_min = None
        last_mask = None
        last_cov = None
        last_kern = None
        n = 0
        with PlaneWriter(out, h_out, lead + (ny, nx)) as w:
            for idx, plane in iter_planes(hdu):
                k, sc = kern, scale
                if plane_beams is not None:
                    b = plane_beams(idx)
                    if b is None:          # a flagged channel: no beam, nothing to convolve from
                        flagged += 1
                        w.write(np.full((ny, nx), np.nan))
                        n += 1
                        continue
                    key = (round(b["bmaj"], 6), round(b["bmin"], 6), round(b["bpa"], 4))
                    if key not in kernels:
                        kb = bm.kernel_beam(b, target)
                        kernels[key] = (kernel_array(kb, pix) if kb is not None else None,
                                        area_scale(bunit, b, target), kb)
                    k, sc, _ = kernels[key]
                finite = np.isfinite(plane)
                conv = convolve_plane(plane, k)
                if last_mask is not None and k is last_kern and np.array_equal(finite, last_mask):
                    cov = last_cov  # the same blanks and kernel as the last plane: the same coverage
                else:
                    cov = coverage_plane(finite, k)
                last_mask, last_cov, last_kern = finite, cov, k
                if sc != 1.0:
                    conv *= sc
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
    info = {"kernel": kernel, "pixscale_arcsec": pix, "scale": scale, "bunit": bunit, "planes": n}
    if plane_beams is not None:
        info["per_channel"] = {"kernels": [{"beam": kb, "jy_beam_area_factor": sc2}
                                           for (_k, sc2, kb) in kernels.values()],
                               "flagged_planes": flagged}
    return info


def _plane_beams(src: Path, hdul, lead):
    """For a cube with a BEAMS table: a function plane index -> its beam (None: flagged), else
    None.  The table's rows are matched to planes by CHAN (the last leading axis) and POL (the
    one before it, 0 without one)."""
    from ..beamtable import beams_of, promised

    if not promised(h.header for h in hdul):
        return None
    table = beams_of(src)
    rows = {(c, p): i for i, (c, p) in enumerate(zip(table.chan, table.pol))}

    def beam(idx):
        chan = idx[-1] if idx else 0
        pol = idx[-2] if len(idx) >= 2 else 0
        i = rows.get((chan, pol), rows.get((chan, 0)))
        if i is None or not table.valid[i]:
            return None
        pa = table.pa[i]
        return {"bmaj": float(table.major[i]), "bmin": float(table.minor[i]),
                "bpa": float(pa) if math.isfinite(pa) else 0.0}

    return beam
