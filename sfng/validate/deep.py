"""``--deep``: checks that read the data (blank pixels, blank planes, measured noise).

Planes are read one at a time (memory-mapped for plain files) so cubes larger than memory pass.
The noise is the median absolute deviation of the finite, non-zero pixels scaled to a Gaussian
sigma (``1.4826 * MAD``), on at most ~2 million regularly strided samples.
"""

from __future__ import annotations

import math

MAD_TO_SIGMA = 1.482602218505602
MOSTLY_BLANK = 0.9
MAX_SAMPLES = 2_000_000


def measure(path, hdu_index: int) -> dict:
    """``{"nan_fraction", "blank_planes", "nplanes", "first_blank", "rms"}`` of an image HDU."""
    import numpy as np
    from astropy.io import fits

    with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
        data = hdul[hdu_index].data
        if data is None:
            return {}
        planes = data.reshape((-1,) + data.shape[-2:]) if data.ndim >= 3 else data.reshape((1,) + data.shape)
        n = planes.shape[0]
        per_plane = max(1, MAX_SAMPLES // max(n, 1))
        blank = total = 0
        blank_planes, first = 0, None
        samples = []
        for k in range(n):
            p = np.asarray(planes[k], dtype=np.float64)
            good = np.isfinite(p) & (p != 0)
            ng = int(good.sum())
            total += p.size
            blank += p.size - ng
            if ng == 0:
                blank_planes += 1
                first = k + 1 if first is None else first
                continue
            vals = p[good]
            step = max(1, vals.size // per_plane)
            samples.append(vals[::step])
        rms = math.nan
        if samples:
            a = np.concatenate(samples)
            if a.size >= 10:
                rms = float(MAD_TO_SIGMA * np.median(np.abs(a - np.median(a))))
    return {"nan_fraction": blank / total if total else math.nan, "blank_planes": blank_planes,
            "nplanes": n, "first_blank": first, "rms": rms}


def findings(stats: dict, eff) -> list:
    """Findings (rule_id, details, keys) from :func:`measure`'s numbers."""
    from .checks import Finding

    out = []
    frac = stats.get("nan_fraction", math.nan)
    if frac == 1.0:
        out.append(Finding("data-blank", {}, ()))
        return out
    if frac > MOSTLY_BLANK:
        out.append(Finding("data-mostly-blank", {"fraction": frac}, ()))
    if stats.get("nplanes", 1) > 1 and stats.get("blank_planes"):
        out.append(Finding("data-blank-planes", {"count": stats["blank_planes"], "nplanes": stats["nplanes"],
                                                 "first": stats["first_blank"]}, ()))
    rms = stats.get("rms", math.nan)
    try:
        repunc = float(eff.get("REPUNC"))
    except (TypeError, ValueError):
        repunc = math.nan
    if math.isfinite(rms) and math.isfinite(repunc) and repunc > 0 and rms > 0:
        if max(rms / repunc, repunc / rms) > 2.0:
            out.append(Finding("repunc-mismatch", {"repunc": repunc, "rms": rms,
                                                   "unit": str(eff.get("BUNIT", ""))}, ("REPUNC",)))
    return out
