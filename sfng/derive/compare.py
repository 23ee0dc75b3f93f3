"""``sfng compare A B``: two images or two cubes of the same tracer put on one grid at one
resolution, then compared (the collaboration's ``sfng_cube_compare.pro``, without its forced
round beams).  Both inputs are held in memory (float64) with their convolved and reprojected
copies: compare is for maps and cubes that fit, unlike ``sfng derive``.

1. **Resolution.** The common beam of the two (radio-beam's ``common_beam``: the smallest
   beam both can be convolved to); each is convolved to it from its own beam, plane by plane
   (:mod:`.convolution`: the same kernels, Jy/beam area scaling and blank footprint as
   ``sfng derive convolve``).  ``--beam`` gives a larger target instead.
2. **Grid.** B is reprojected onto A's pixel grid (``reproject.reproject_interp``, bilinear, on
   the celestial axes; each plane of a cube onto the same plane of A), so A is the reference:
   its pixels, its spectral channels.  Cubes must have the same number of channels on the same
   spectral axis (``CTYPE3``/``CRVAL3``/``CDELT3`` equal to 1e-6 of a channel); spectral
   regridding is not done here.
3. **Statistics** over the voxels measured in both (finite after both steps, and at least 99.9% of
   their kernel weight on measured pixels in both maps: the convolution's zero padding at edges
   and blanks would bias the rest), in A's units
   (both must have the same ``BUNIT``; ``sfng derive jy2k`` first when one is Jy/beam):

   * ``flux_ratio``: sum(B) / sum(A) over the common voxels;
   * ``difference``: mean, median, standard deviation and rms of B - A;
   * ``noise_a``, ``noise_b``: the rms of each one's negative values (emission is positive, so
     the negatives are noise; reflected about zero), null with fewer than 100 negatives;
   * ``correlation``: Pearson's r of A and B;
   * ``fidelity``: the median over the voxels where A > 3 noise_a of |A| / max(|A - B|,
     0.7 noise_a) (the ALMA definition, A as the model), null without such voxels.

The report is JSON; ``png`` draws A, B, B - A (each summed over channels for a cube) and B
against A with the 1:1 line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError


#: Pixels compared: those with at least this fraction of their kernel weight on measured pixels
#: in both maps (the convolution's zero padding biases the rest).
COVERAGE_MIN = 0.999

#: Units per pixel: interpolating them onto another grid would need the pixel areas' ratio.
_PER_PIXEL = re.compile(r"/\s*(pix(el)?s?|px)\b", re.IGNORECASE)


@dataclass
class Comparison:
    a: str
    b: str
    beam: dict                       # the common beam (arcsec, arcsec, deg)
    beam_a: dict
    beam_b: dict
    bunit: str
    shape: list
    n_voxels: int
    flux_ratio: float | None
    difference: dict
    noise_a: float | None
    noise_b: float | None
    correlation: float | None
    fidelity: float | None
    notes: list = field(default_factory=list)
    png: str | None = None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _beam_of(header, path) -> dict:
    from ..beam import beam_from_header

    b = beam_from_header(header)
    if b is None or not b.ok:
        raise SfngError(f"{path}: no usable beam (BMAJ/BMIN/BPA) in its header; `sfng fix` or the survey "
                        f"README can give it one")
    return {"bmaj": float(b.major), "bmin": float(b.minor), "bpa": float(b.pa)}


def _read(path):
    """(data float64, header) of the science HDU, its leading length-1 axes (a single Stokes
    plane, a single channel) dropped: a (1, 1, ny, nx) continuum image is an image."""
    from astropy.io import fits

    from .cubeio import science_hdu

    with fits.open(path, memmap=True) as hdul:
        hdu = science_hdu(hdul)
        header = hdu.header.copy()
        data = np.asarray(hdu.data, dtype=np.float64)
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim > 3:
        raise SfngError(f"{path}: {data.ndim} axes of more than one pixel; compare handles images and cubes")
    return data, header


def _convolved(data, header, native: dict, target: dict):
    """``(convolved data, coverage)``: coverage is each pixel's fraction of kernel weight on
    measured pixels (1 where the map's edge and blanks do not reach)."""
    from . import beams as bm
    from .convolution import area_scale, convolve_plane, coverage_plane, kernel_array
    from .cubeio import pixel_scale_arcsec

    kernel = bm.kernel_beam(native, target)
    planes = data.reshape((-1,) + data.shape[-2:])
    if kernel is None:
        return data, np.isfinite(data).astype(np.float64)
    kern = kernel_array(kernel, pixel_scale_arcsec(header))
    scale = area_scale(str(header.get("BUNIT", "")), native, target)
    out = np.stack([convolve_plane(p, kern) for p in planes]).reshape(data.shape)
    cov = np.stack([coverage_plane(np.isfinite(p), kern) for p in planes]).reshape(data.shape)
    return out * scale, cov


def _check_spectral(ha, hb, da, db, a, b) -> None:
    if da.ndim != db.ndim:
        raise SfngError(f"{a} has {da.ndim} axes and {b} {db.ndim}: compare an image with an image, a cube "
                        f"with a cube")
    if da.ndim < 3:
        return
    if da.shape[0] != db.shape[0]:
        raise SfngError(f"{a} has {da.shape[0]} channels and {b} {db.shape[0]}: regrid one spectrally first")
    for key in ("CTYPE3", "CUNIT3"):
        if str(ha.get(key, "")).strip().upper() != str(hb.get(key, "")).strip().upper():
            raise SfngError(f"{key} differs ({ha.get(key)!r} vs {hb.get(key)!r}): the spectral axes are not "
                            f"the same; regrid one spectrally first")
    step = abs(float(ha.get("CDELT3", 0.0)) or 1.0)
    for n in range(0, da.shape[0], max(1, da.shape[0] - 1)):
        wa = float(ha.get("CRVAL3", 0.0)) + (n + 1 - float(ha.get("CRPIX3", 1.0))) * float(ha.get("CDELT3", 0.0))
        wb = float(hb.get("CRVAL3", 0.0)) + (n + 1 - float(hb.get("CRPIX3", 1.0))) * float(hb.get("CDELT3", 0.0))
        if abs(wa - wb) > 1e-6 * step:
            raise SfngError(f"channel {n + 1} is at {wa:g} in {a} and {wb:g} in {b}: the spectral axes differ; "
                            f"regrid one spectrally first")


def _reprojected(db, hb, ha, shape):
    """B's planes on A's celestial grid (bilinear; NaN outside B)."""
    try:
        from reproject import reproject_interp
    except ImportError:
        raise SfngError("compare needs reproject: pip install 'sfng[derive]'") from None
    from astropy.wcs import WCS

    wa, wb = WCS(ha).celestial, WCS(hb).celestial
    planes = db.reshape((-1,) + db.shape[-2:])
    out = [reproject_interp((p, wb), wa, shape_out=shape[-2:], return_footprint=False, order="bilinear")
           for p in planes]
    return np.stack(out).reshape((db.shape[0],) + tuple(shape[-2:]) if db.ndim == 3 else tuple(shape[-2:]))


def _neg_rms(x) -> float | None:
    neg = x[x < 0]
    return float(np.sqrt(np.mean(neg ** 2))) if len(neg) >= 100 else None


def compare(a, b, *, beam: dict | None = None, png=None) -> Comparison:
    """Compare the FITS images or cubes ``a`` and ``b`` (see the module's doc)."""
    from . import beams as bm

    a, b = str(a), str(b)
    da, ha = _read(a)
    db, hb = _read(b)
    ua, ub = str(ha.get("BUNIT", "")).strip(), str(hb.get("BUNIT", "")).strip()
    from ..units import brightness_kind

    for u, p in ((ua, a), (ub, b)):
        if _PER_PIXEL.search(u):
            raise SfngError(f"{p}: BUNIT {u!r} is per pixel: reprojecting it needs the pixel areas; convert "
                            f"to a surface brightness (per sr, per beam) first")
    (ka, fa), (kb, fb) = brightness_kind(ua), brightness_kind(ub)
    if ka and ka == kb:
        db = db * (fb / fa)          # mK against K, say: B in A's units
    elif ka or kb or ua.lower() != ub.lower():
        raise SfngError(f"the units differ ({ua!r} vs {ub!r}): convert one first (sfng derive jy2k for Jy/beam "
                        f"to K)")
    _check_spectral(ha, hb, da, db, a, b)
    beam_a, beam_b = _beam_of(ha, a), _beam_of(hb, b)
    common = bm.common_beam([beam_a, beam_b])
    if beam is not None:
        bm.kernel_beam(common, beam)          # refuses a target smaller than the common beam
        common = dict(beam)
    ca, cov_a = _convolved(da, ha, beam_a, common)
    cb, cov_b = _convolved(db, hb, beam_b, common)
    rb = _reprojected(cb, hb, ha, ca.shape)
    rcov_b = _reprojected(cov_b, hb, ha, ca.shape)
    # only pixels whose convolution the map's edge and blanks did not reach (they would be
    # biased low in the map convolved more)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(ca) & np.isfinite(rb) & (cov_a >= COVERAGE_MIN) & (np.nan_to_num(rcov_b) >= COVERAGE_MIN)
    notes = []
    n = int(ok.sum())
    if n == 0:
        raise SfngError(f"{a} and {b} have no measured pixel in common away from their edges and blanks "
                        f"(do they overlap on the sky by more than a few beams?)")
    x, y = ca[ok], rb[ok]
    d = y - x
    sa = float(np.sum(x))
    noise_a, noise_b = _neg_rms(x), _neg_rms(y)
    if noise_a is None:
        notes.append("fewer than 100 negative values in A: its noise (and the fidelity) are not estimated")
    fid = None
    if noise_a is not None:
        strong = x > 3 * noise_a
        if strong.any():
            fid = float(np.median(np.abs(x[strong]) / np.maximum(np.abs(d[strong]), 0.7 * noise_a)))
    corr = None
    if n > 2 and np.std(x) > 0 and np.std(y) > 0:
        corr = float(np.corrcoef(x, y)[0, 1])
    rep = Comparison(a=a, b=b, beam=common, beam_a=beam_a, beam_b=beam_b, bunit=ua, shape=list(ca.shape),
                     n_voxels=n, flux_ratio=(float(np.sum(y)) / sa) if sa != 0 and math.isfinite(sa) else None,
                     difference={"mean": float(np.mean(d)), "median": float(np.median(d)), "std": float(np.std(d)),
                                 "rms": float(np.sqrt(np.mean(d ** 2)))},
                     noise_a=noise_a, noise_b=noise_b, correlation=corr, fidelity=fid, notes=notes)
    if png is not None:
        rep.png = str(_draw(ca, rb, ok, rep, png))
    return rep


def _draw(ca, rb, ok, rep: Comparison, path) -> Path:
    from ..query.plots import pyplot, save_figure

    plt = pyplot()

    def flat(c):
        m = np.where(ok, c, np.nan)
        return np.nansum(m, axis=0) if m.ndim == 3 else m

    ma, mb = flat(ca), flat(rb)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    vmin, vmax = np.nanpercentile(np.r_[ma[np.isfinite(ma)], mb[np.isfinite(mb)]], [1, 99.5])
    for ax, m, title in ((axes[0], ma, "A"), (axes[1], mb, "B on A's grid")):
        im = ax.imshow(m, origin="lower", vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8, label=rep.bunit + (" (summed over channels)" if ca.ndim == 3 else ""))
    diff = mb - ma
    lim = np.nanpercentile(np.abs(diff[np.isfinite(diff)]), 99) if np.isfinite(diff).any() else 1.0
    im = axes[2].imshow(diff, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("B - A", fontsize=9)
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    x, y = ca[ok], rb[ok]
    if len(x) > 20000:
        pick = np.random.default_rng(0).choice(len(x), 20000, replace=False)
        x, y = x[pick], y[pick]
    axes[3].plot(x, y, ",", alpha=0.5)
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    axes[3].plot([lo, hi], [lo, hi], "k--", lw=0.8)
    axes[3].set_xlabel(f"A ({rep.bunit})")
    axes[3].set_ylabel(f"B ({rep.bunit})")
    ratio = "n/a" if rep.flux_ratio is None else f"{rep.flux_ratio:.3g}"
    r = "n/a" if rep.correlation is None else f"{rep.correlation:.3f}"
    axes[3].set_title(f"ratio {ratio}, r = {r}", fontsize=9)
    fig.suptitle(f"{Path(rep.a).name} vs {Path(rep.b).name} at {rep.beam['bmaj']:.3g}\" x {rep.beam['bmin']:.3g}\"",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)
