"""Convolution kernels supplied as files, for PSFs that are not Gaussian (Aniano et al. 2011,
PASP 123, 1218: the field's standard kernels from the Spitzer, Herschel, WISE, GALEX... PSFs to
Gaussians and to each other, distributed as FITS images).

The convention sfng reads (Aniano's files follow it):

* the kernel is the primary HDU's 2-D image, centred on its central pixel (odd sides; an even
  side is padded by one row or column of zeros at the far end);
* its pixel scale comes from ``CD1_1``/``CD2_2`` or ``CDELT1``/``CDELT2`` (degrees), else from
  ``PIXSCALE`` (arcsec), and must be square;
* which PSF it starts from and ends at: the ``PSFFROM``/``PSFTO`` cards when there are, else the
  file's name in Aniano's form ``Kernel_<LoRes|HiRes>_<FROM>_to_<TO>.fits``; the input's
  ``PSFTYPE`` (header or survey README) must equal FROM, compared without case and punctuation
  (``SPIRE250`` is ``SPIRE_250``; the TO half never counts), so a kernel is never applied to
  data of another PSF;
* TO must be the Gaussian of ``--to`` (Aniano's ``Gauss_25``: ``--to 25arcsec``; a kernel to
  another instrument's PSF is refused); the product's BMAJ/BMIN are that Gaussian's.

The kernel is resampled to the data's pixel scale (bilinear, ``scipy.ndimage.map_coordinates``,
its central pixel onto the central pixel) and normalised to unit sum, so surface brightness units (MJy/sr) keep their meaning; Jy/beam data
are refused (the beam area of a non-Gaussian PSF is not a Gaussian's).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SfngError


def _squash(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(text).upper())


def _read(path) -> tuple[bytes, "object"]:
    """``(bytes, HDUList)`` of a kernel file, read once: its checksum and its content are of
    the same bytes."""
    import io

    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise SfngError(f"--kernel {path}: no such file")
    raw = path.read_bytes()
    try:
        return raw, fits.open(io.BytesIO(raw), memmap=False)
    except (OSError, ValueError) as exc:
        raise SfngError(f"--kernel {path}: not a FITS image ({exc})") from None


def kernel_header(path) -> dict:
    """The kernel file's pixel scale (arcsec), the PSF it starts from, its shape and SHA-256."""
    raw, hdul = _read(path)
    with hdul:
        return _describe(Path(path), raw, hdul)


def _describe(path: Path, raw: bytes, hdul) -> dict:
    import hashlib

    try:
        h = hdul[0].header
        shape = tuple(np.shape(hdul[0].data))
    except (OSError, ValueError) as exc:
        raise SfngError(f"--kernel {path}: not a FITS image ({exc})") from None
    if len(shape) != 2 or min(shape) < 3:
        raise SfngError(f"--kernel {path}: the primary HDU is not a 2-D image (shape {shape})")
    sx = h.get("CD1_1", h.get("CDELT1"))
    sy = h.get("CD2_2", h.get("CDELT2"))
    if sx is not None and sy is not None:
        px, py = abs(float(sx)) * 3600.0, abs(float(sy)) * 3600.0
    elif h.get("PIXSCALE") is not None:
        px = py = float(h["PIXSCALE"])
    else:
        raise SfngError(f"--kernel {path}: no pixel scale (CD1_1/CD2_2, CDELT1/CDELT2 in degrees, or PIXSCALE "
                        f"in arcsec)")
    if not (px > 0 and abs(px - py) <= 1e-3 * px):
        raise SfngError(f"--kernel {path}: pixels of {px:.4g}\" x {py:.4g}\" (square ones needed)")
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(raw).hexdigest(), "pixscale_arcsec": px,
            "psf_from": str(h.get("PSFFROM", "")).strip(), "psf_to": str(h.get("PSFTO", "")).strip(),
            "shape": list(shape)}


#: Aniano et al.'s file names: ``Kernel_<LoRes|HiRes>_<FROM>_to_<TO>.fits``.
_ANIANO = re.compile(r"^(?:kernel[_-]?)?(?:(?:lo|hi)res[_-]?)?(?P<src>.+?)[_-]to[_-](?P<dst>.+?)(?:\.fits?)?(?:\.gz)?$",
                     re.IGNORECASE)
_GAUSS = re.compile(r"^gauss(?:ian)?[_-]?(?P<fwhm>\d+(?:[.p]\d+)?)$", re.IGNORECASE)


def kernel_ends(info: dict) -> tuple[str, str]:
    """``(from, to)``: the PSFs the kernel goes between, from its ``PSFFROM``/``PSFTO`` cards
    or else its file name (Aniano's ``Kernel_LoRes_SPIRE_250_to_Gauss_25.fits``); "" unknown."""
    src, dst = info.get("psf_from", ""), info.get("psf_to", "")
    m = _ANIANO.match(Path(info["path"]).name)
    if m:
        src = src or m.group("src")
        dst = dst or m.group("dst")
    return src, dst


def kernel_fits_psf(info: dict, psftype: str, target_fwhm: float | None = None) -> str:
    """Why the kernel is not the one from ``psftype`` to the Gaussian of ``target_fwhm``
    arcsec ("" when it is).  The starting PSF must equal the PSFTYPE (compared without case and
    punctuation: ``SPIRE_250`` is ``SPIRE250``; the target half of the name never counts); when
    the kernel says where it ends (``Gauss_25``, or a ``PSFTO`` card), that must be the target."""
    src, dst = kernel_ends(info)
    name = Path(info["path"]).name
    if not src:
        return (f"the kernel {name} does not say which PSF it starts from (a PSFFROM card, or an Aniano "
                f"name Kernel_..._<FROM>_to_<TO>.fits)")
    if _squash(src) != _squash(psftype):
        return f"PSFTYPE = {psftype}, but the kernel {name} starts from {src}: give the kernel for {psftype}"
    if dst and target_fwhm is not None:
        g = _GAUSS.match(dst.strip())
        if g is None:
            return (f"the kernel {name} ends at {dst}, not at a Gaussian: sfng convolves to a Gaussian "
                    f"(--to); use a ..._to_Gauss_NN kernel")
        fwhm = float(g.group("fwhm").replace("p", "."))
        if abs(fwhm - target_fwhm) > 1e-3 * max(fwhm, target_fwhm):
            return (f"the kernel {name} ends at a {fwhm:g}\" Gaussian, not at --to {target_fwhm:g}\": "
                    f"give --to {fwhm:g}arcsec or the kernel for {target_fwhm:g}\"")
    return ""


def _resampled_axis(n_in: int, f: float) -> np.ndarray:
    """Input pixel coordinates, about the central pixel, of the output pixel centres along an
    axis of ``n_in`` (odd) input pixels when output pixels are ``1/f`` input pixels wide."""
    # (a scale read from degrees is off by an ulp: 0.5" is 0.49999999999999994, and 30 x f must
    # still give 15 output pixels each side, not 14)
    half = int(np.floor((n_in // 2) * f + 1e-9))
    n = 2 * max(half, 1) + 1
    return (np.arange(n) - n // 2) / f + n_in // 2


def kernel_at(path, pixscale_arcsec: float, sha256: str | None = None) -> np.ndarray:
    """The kernel image resampled to ``pixscale_arcsec``, odd-sided, unit sum.  ``sha256``: the
    checksum the kernel had when it was chosen (SfngError if the file now differs), checked
    on the very bytes the kernel is read from."""
    from scipy.ndimage import map_coordinates

    raw, hdul = _read(path)
    with hdul:
        info = _describe(Path(path), raw, hdul)
        if sha256 is not None and info["sha256"] != sha256:
            raise SfngError(f"the kernel {path} changed since it was chosen (its SHA-256 differs)")
        k = np.nan_to_num(np.asarray(hdul[0].data, dtype=np.float64))
    ny, nx = k.shape
    k = np.pad(k, ((0, 1 - ny % 2), (0, 1 - nx % 2)))          # odd sides, centre kept
    f = info["pixscale_arcsec"] / pixscale_arcsec
    if abs(f - 1.0) > 1e-9:
        # resample about the centre: sample the kernel's continuous image at the data's pixel
        # centres (bilinear), the central pixel onto the central pixel
        yy, xx = np.meshgrid(_resampled_axis(k.shape[0], f), _resampled_axis(k.shape[1], f), indexing="ij")
        k = map_coordinates(k, [yy, xx], order=1, mode="constant", cval=0.0)
    s = k.sum()
    if not np.isfinite(s) or s <= 0:
        raise SfngError(f"--kernel {path}: the kernel sums to {s}: not a convolution kernel")
    return k / s
