"""Flux-conserving resampling of spectra onto a common grid, and the grids themselves.

Each pixel is a bin whose edges are the midpoints between pixel centres (the outer edges half a
step beyond the end centres, in log for a log grid).  The flux density in an output bin is the
overlap-weighted mean of the input flux densities over it, so the integral of the spectrum over
any union of output bins equals the input's (as SpectRes and specutils'
FluxConservingResampler do).  Variances add with the squared weights:
``var_out = sum(w_i**2 var_i) / (sum w_i)**2``.  The mask is the OR of the masks of every input
pixel an output bin overlaps.

An output bin not entirely inside the input's coverage gets flux NaN, ivar 0 and
:data:`NOCOV` in the mask: no zero padding, no extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Mask bit set where an output bin is not covered by the input spectrum (bit 0, MaNGA's NOCOV).
NOCOV = 1


@dataclass(frozen=True)
class Grid:
    """``n`` pixel centres from ``start`` to ``stop``, spaced evenly in log10 when ``log``."""

    start: float
    stop: float
    n: int
    log: bool
    unit: str

    def centres(self) -> np.ndarray:
        if self.log:
            return np.logspace(np.log10(self.start), np.log10(self.stop), self.n)
        return np.linspace(self.start, self.stop, self.n)

    def as_dict(self) -> dict:
        step = ((np.log10(self.stop) - np.log10(self.start)) if self.log else (self.stop - self.start)) / max(self.n - 1, 1)
        return {"start": self.start, "stop": self.stop, "n": self.n, "log": self.log,
                "step": float(step), "step_kind": "log10" if self.log else "linear", "unit": self.unit}


def edges(centres: np.ndarray, log: bool | None = None) -> np.ndarray:
    """Bin edges of pixel centres (increasing): midpoints, in log10 when ``log``."""
    c = np.asarray(centres, dtype=float)
    if log is None:
        log = is_log(c)
    v = np.log10(c) if log else c
    if len(v) == 1:
        e = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        mid = 0.5 * (v[1:] + v[:-1])
        e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return 10 ** e if log else e


def is_log(c: np.ndarray) -> bool:
    """Whether the centres are evenly spaced in log rather than linearly."""
    c = np.asarray(c, dtype=float)
    if len(c) < 3 or np.any(c <= 0):
        return False
    d, dl = np.diff(c), np.diff(np.log10(c))
    return bool(np.ptp(dl) <= 1e-6 * abs(dl.mean()) < np.ptp(d))


def common_grid(waves: list, unit: str, lo: float | None = None, hi: float | None = None) -> Grid:
    """The grid covering every spectrum (or ``lo``..``hi``), with the finest step among them,
    logarithmic when every input is."""
    logs = [is_log(w) for w in waves]
    log = all(logs)
    mins = [float(np.min(w)) for w in waves]
    maxs = [float(np.max(w)) for w in waves]
    start = min(mins) if lo is None else lo
    stop = max(maxs) if hi is None else hi
    if log:
        step = min(float(np.median(np.diff(np.log10(np.sort(w))))) for w in waves)
        n = int(np.floor((np.log10(stop) - np.log10(start)) / step + 1e-9)) + 1
        stop = 10 ** (np.log10(start) + (n - 1) * step)
    else:
        step = min(float(np.median(np.abs(np.diff(w)))) for w in waves)
        n = int(np.floor((stop - start) / step + 1e-9)) + 1
        stop = start + (n - 1) * step
    return Grid(float(start), float(stop), max(int(n), 1), log, unit)


def resample(wave: np.ndarray, flux: np.ndarray, ivar: np.ndarray | None, mask: np.ndarray | None,
             new_wave: np.ndarray, log: bool | None = None, new_log: bool | None = None):
    """Resample the spectra ``flux`` (rows, shape ``(m, n)``, all on ``wave``) onto ``new_wave``.

    Returns ``(flux, ivar, mask)`` of shape ``(m, len(new_wave))``.
    """
    wave = np.asarray(wave, dtype=float)
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    order = np.argsort(wave) if np.any(np.diff(wave) < 0) else None
    if order is not None:
        wave, flux = wave[order], flux[:, order]
        ivar = None if ivar is None else np.atleast_2d(ivar)[:, order]
        mask = None if mask is None else np.atleast_2d(mask)[:, order]
    m, n = flux.shape
    ein = edges(wave, log)
    eout = edges(np.asarray(new_wave, dtype=float), new_log)
    lo, hi = eout[:-1], eout[1:]
    covered = (lo >= ein[0] - 1e-12 * abs(ein[0])) & (hi <= ein[-1] + 1e-12 * abs(ein[-1]))
    lo_c, hi_c = np.clip(lo, ein[0], ein[-1]), np.clip(hi, ein[0], ein[-1])
    width_in = np.diff(ein)
    # cumulative integral of the piecewise-constant flux density at the input edges
    cum = np.concatenate([np.zeros((m, 1)), np.cumsum(flux * width_in, axis=1)], axis=1)

    def at(x):  # integral from ein[0] to x, exact for piecewise-constant density
        k = np.clip(np.searchsorted(ein, x, side="right") - 1, 0, n - 1)
        return cum[:, k] + flux[:, k] * (x - ein[k])

    width_out = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out_f = (at(hi_c) - at(lo_c)) / width_out
    ka = np.clip(np.searchsorted(ein, lo_c, side="right") - 1, 0, n - 1)
    kb = np.clip(np.searchsorted(ein, hi_c, side="left") - 1, 0, n - 1)
    kb = np.maximum(kb, ka)
    out_i = out_m = None
    if ivar is not None:
        iv = np.atleast_2d(np.asarray(ivar, dtype=float))
        with np.errstate(divide="ignore"):
            var = np.where(iv > 0, 1.0 / np.where(iv > 0, iv, 1.0), np.inf)
        # sum over the input pixels of (overlap**2 * var): whole pixels by a cumulative sum,
        # the partial ones at either end on their own
        full = var * width_in ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            cfull = np.concatenate([np.zeros((m, 1)), np.cumsum(full, axis=1)], axis=1)
            same = ka == kb
            o_a = np.where(same, hi_c - lo_c, np.minimum(ein[ka + 1], hi_c) - lo_c)
            o_b = np.where(same, 0.0, hi_c - np.maximum(ein[kb], lo_c))
            inner = np.where(kb > ka + 1, cfull[:, kb] - cfull[:, np.minimum(ka + 1, kb)], 0.0)
            s = var[:, ka] * o_a ** 2 + np.where(same, 0.0, var[:, kb] * o_b ** 2) + inner
            s = np.where(np.isfinite(s), s, np.inf)
            out_var = s / width_out ** 2
            out_i = np.where(np.isfinite(out_var) & (out_var > 0), 1.0 / out_var, 0.0)
    if mask is not None:
        mk = np.atleast_2d(np.asarray(mask)).astype(np.int64)
        out_m = np.zeros((m, len(lo)), dtype=np.int64)
        span = int((kb - ka).max()) if len(ka) else 0
        for off in range(span + 1):
            idx = np.minimum(ka + off, kb)
            out_m |= mk[:, idx]
    else:
        out_m = np.zeros((m, len(lo)), dtype=np.int64)
    out_f[:, ~covered] = np.nan
    if out_i is not None:
        out_i[:, ~covered] = 0.0
    out_m[:, ~covered] |= NOCOV
    return out_f, out_i, out_m.astype(np.int32)
