"""Quick-look PNGs of a file's data: an image as it is, a cube's moment-0 (sum over channels
times the channel width) or, when that is empty, its peak map."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

#: Files larger than this are not opened for a quick look (bytes).
MAX_BYTES = 2 * 1024**3
#: The longest side of the array drawn (pixels; larger data are sampled by a stride).
MAX_SIDE = 600


def science_array(path, hdu: int = 0):
    """(2-D array, what it is) of the science data in FITS ``path`` (HDU ``hdu`` or the first image
    with 2 or more axes), or (None, why not)."""
    from astropy.io import fits

    with fits.open(path, memmap=True, lazy_load_hdus=True) as h:
        cand = [h[hdu]] if 0 <= hdu < len(h) else []
        cand += [x for x in h]
        img = next((x for x in cand if x.is_image and int(x.header.get("NAXIS", 0)) >= 2), None)
        if img is None:
            return None, "no image in the file"
        data = img.data
        if data is None:
            return None, "no data"
        # FITS order reversed: (..., spectral, y, x); a Stokes (4th) axis: the first plane
        while data.ndim > 3:
            data = data[0]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if data.ndim == 3:
                step = max(1, math.ceil(max(data.shape[1:]) / MAX_SIDE))
                cube = np.asarray(data[:, ::step, ::step], dtype=np.float32)
                dv = abs(float(img.header.get("CDELT3", 1.0) or 1.0))
                mom0 = np.nansum(cube, axis=0) * dv
                mom0[np.all(~np.isfinite(cube), axis=0)] = np.nan
                if np.isfinite(mom0).any() and np.nanmax(np.abs(mom0)) > 0:
                    return mom0, f"moment-0 over {cube.shape[0]} channels"
                return np.nanmax(cube, axis=0), f"peak over {cube.shape[0]} channels"
            step = max(1, math.ceil(max(data.shape) / MAX_SIDE))
            return np.asarray(data[::step, ::step], dtype=np.float32), "image"


def quicklook_png(path, out, *, hdu: int = 0, title: str = "", unit: str = "") -> str | None:
    """Write the quick-look PNG of FITS ``path`` to ``out``; None when written, else why not."""
    from ..query.plots import pyplot

    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            return "too large for a quick look"
        arr, what = science_array(path, hdu)
    except Exception as exc:  # noqa: BLE001 - a damaged or unusual file: the page says so, the build goes on
        return f"cannot read the data ({type(exc).__name__})"
    if arr is None:
        return what
    plt = pyplot()
    finite = arr[np.isfinite(arr)]
    if not finite.size:
        return "no finite data"
    vmin, vmax = np.percentile(finite, [1.0, 99.5])
    if vmax <= vmin:
        vmax = vmin + 1.0
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    im = ax.imshow(arr, origin="lower", cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    label = what if what == "image" else what.split(" over ")[0]
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=(f"{label} ({unit})" if unit else label))
    ax.set_title(f"{title}\n{what}" if title else what, fontsize=8)
    ax.set_xlabel("x (pixel)", fontsize=8)
    ax.set_ylabel("y (pixel)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return None
