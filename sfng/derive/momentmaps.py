"""Masked moment maps and their error maps, channel by channel (bounded memory).

Noise ``sigma`` (cube units, one value per cube): the index's ``rms_k`` for a cube in K, else
measured (:func:`sfng.units.measure_rms` over up to 32 evenly spaced channels).  Masks, over the
signal-to-noise ``T / sigma``:

* ``strict``: pixels at ``>= lo`` (2) that are, or are next to (``grow_chan`` = 1 channel),
  a core: ``>= hi`` (4) in ``nchan`` (2) consecutive channels;
* ``broad``: pixels at ``>= lo`` in ``nchan`` consecutive channels;
* ``none``: every finite pixel.

With ``dv`` the channel width (km/s), ``v`` the channel velocities and sums over the masked
channels of a pixel (``N`` of them):

* mom0 = sum T dv [K km/s], emom0 = sigma dv sqrt(N);
* mom1 = sum T v / sum T [km/s], emom1 = sigma sqrt(sum (v - mom1)^2) / sum T;
* mom2 = sqrt(sum T (v - mom1)^2 / sum T) [km/s],
  emom2 = sigma sqrt(sum ((v - mom1)^2 - mom2^2)^2) / (2 mom2 sum T);
* tpeak = max T [K], etpeak = sigma.

The sums over ``v`` need only the running sums of ``v^k`` (k <= 4), so a window of 5 channels
is all that is held in memory.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

import numpy as np

from ..errors import SfngError
from ..fsutil import sha256_file
from ..units import brightness_kind, measure_rms
from . import provenance as pv
from .land import Product, input_entry, product_name

MASKS = {"strict": {"hi": 4.0, "lo": 2.0, "nchan": 2, "grow_chan": 1},
         "broad": {"lo": 2.0, "nchan": 2},
         "none": {}}
MOMENTS = ("0", "1", "2", "tpeak")
_NAMES = {"0": "mom0", "1": "mom1", "2": "mom2", "tpeak": "tpeak"}
_UNITS = {"0": "K km/s", "1": "km/s", "2": "km/s", "tpeak": "K"}


def velocities_kms(header) -> np.ndarray:
    """Channel velocities (km/s, radio convention) along axis 3."""
    import astropy.units as u
    from astropy.wcs import WCS

    n = int(header.get("NAXIS3", 0))
    if n < 2:
        raise SfngError("not a cube (fewer than 2 channels)")
    w = WCS(header)
    if not w.has_spectral:
        raise SfngError("no spectral axis in the WCS")
    spec = w.spectral
    world = spec.pixel_to_world(np.arange(n))
    rest = header.get("RESTFRQ", header.get("RESTFREQ"))
    try:
        q = world.quantity if hasattr(world, "quantity") else world
        if q.unit.physical_type == "speed":
            return np.asarray(q.to_value(u.km / u.s), dtype=np.float64)
        if not rest:
            raise SfngError("a frequency axis needs RESTFRQ to give velocities")
        return np.asarray(q.to(u.km / u.s, equivalencies=u.doppler_radio(float(rest) * u.Hz)).value)
    except u.UnitConversionError as exc:
        raise SfngError(f"cannot express the spectral axis as velocity: {exc}") from None


def moments_spec(store, row: dict, *, mask="strict", which=MOMENTS) -> dict:
    from astropy.io import fits

    from .cubeio import science_hdu

    if mask not in MASKS:
        raise SfngError(f"--mask {mask!r}: choose one of {', '.join(MASKS)}")
    which = [str(m).strip().lower() for m in which]
    bad = [m for m in which if m not in MOMENTS]
    if bad:
        raise SfngError(f"--moments: unknown {', '.join(bad)}; choose among 0,1,2,tpeak")
    if str(row.get("type")) != "cube":
        raise SfngError("not a cube")
    kind, scale = brightness_kind(row.get("bunit"))
    if kind != "K":
        raise SfngError(f"BUNIT {row.get('bunit')!r}: moments are made from cubes in K "
                        f"(sfng derive jy2k converts a Jy/beam cube first)")
    rms, src = row.get("rms_k"), "index (rms_k)"
    if rms is None or not math.isfinite(rms) or rms <= 0:
        with fits.open(Path(store.root) / row["path"], memmap=True) as hdul:
            rms, src = measure_cube_rms(science_hdu(hdul)) * scale, "measured (MAD of emission-free pixels)"
        if not math.isfinite(rms):
            raise SfngError("no noise: the index has no rms_k and it could not be measured")
    else:
        rms = float(rms)
    tag = "" if Path(row["path"]).stem.endswith(("_conv",)) else "native"
    return {"input": row["path"], "galaxy": row.get("galaxy") or None, "survey": row["survey"],
            "mask": mask, "mask_params": MASKS[mask], "moments": which, "rms_k": rms, "rms_src": src,
            "unit_scale": float(scale), "tag": tag}


def measure_cube_rms(hdu, max_planes: int = 32) -> float:
    from .cubeio import planes_shape

    lead, _ny, _nx = planes_shape(hdu.header)
    n = int(np.prod(lead)) if lead else 1
    picks = np.unique(np.linspace(0, n - 1, min(n, max_planes)).astype(int))
    idx = list(np.ndindex(*lead)) if lead else [()]
    sample = np.stack([np.asarray(hdu.section[idx[i] + (slice(None), slice(None))], dtype=np.float64)
                       for i in picks])
    return measure_rms(sample)


def _masks(planes: deque, kind: str, p: dict):
    """The mask of the middle plane of a 5-plane window of S/N planes (None where absent)."""
    mid = planes[2]
    if kind == "none":
        return np.isfinite(mid)

    def at(i, thr):
        q = planes[i]
        return np.zeros(mid.shape, bool) if q is None else (np.nan_to_num(q, nan=-np.inf) >= thr)

    if kind == "broad":
        lo = p["lo"]
        return at(2, lo) & (at(1, lo) | at(3, lo))
    hi, lo = p["hi"], p["lo"]
    high = [at(i, hi) for i in range(5)]
    core = [None] + [high[i] & (high[i - 1] | high[i + 1]) for i in (1, 2, 3)] + [None]
    near = core[1] | core[2] | core[3]
    return at(2, lo) & near


def moment_maps(src: Path, spec: dict):
    """``{name: 2-D array}`` for the moments and their errors, and the header of the cube."""
    from astropy.io import fits

    from .cubeio import iter_planes, planes_shape, science_hdu

    sigma = spec["rms_k"]
    kind, p = spec["mask"], spec["mask_params"]
    with fits.open(src, memmap=False, lazy_load_hdus=True) as hdul:   # plane by plane, unmapped
        hdu = science_hdu(hdul)
        header = hdu.header.copy()
        lead, ny, nx = planes_shape(header)
        if len(lead) > 1 and int(np.prod(lead[:-1])) != 1:
            raise SfngError("more than one plane along axis 4 (Stokes): not supported")
        v = velocities_kms(header)
        dv = float(np.median(np.abs(np.diff(v))))
        s = {k: np.zeros((ny, nx)) for k in ("T", "Tv", "Tv2", "n", "v1", "v2", "v3", "v4")}
        tmax = np.full((ny, nx), -np.inf)
        seen = np.zeros((ny, nx), bool)
        window: deque = deque([None, None], maxlen=5)
        chans: deque = deque([None, None], maxlen=5)

        def take(plane, vel):
            m = _masks(window, kind, p) & np.isfinite(plane)
            t = np.where(m, plane, 0.0)
            s["T"] += t
            s["Tv"] += t * vel
            s["Tv2"] += t * vel * vel
            mf = m.astype(np.float64)
            s["n"] += mf
            for k in (1, 2, 3, 4):
                s[f"v{k}"] += mf * vel ** k
            np.maximum(tmax, np.where(m, plane, -np.inf), out=tmax)

        planes = iter_planes(hdu)
        for (_, plane), vel in zip(planes, v):
            plane = plane * spec["unit_scale"]
            seen |= np.isfinite(plane)
            window.append(plane / sigma)
            chans.append((plane, vel))
            if len(window) == 5 and chans[2] is not None:
                take(*chans[2])
        for _ in range(2):   # flush the last two planes
            window.append(None)
            chans.append(None)
            if chans[2] is not None:
                take(*chans[2])
    return _finish(s, tmax, seen, sigma, dv), header, dv


def _finish(s, tmax, seen, sigma, dv):
    with np.errstate(invalid="ignore", divide="ignore"):
        T, n = s["T"], s["n"]
        has = (n > 0) & (T > 0)
        m0 = T * dv
        e0 = sigma * dv * np.sqrt(n)
        m1 = np.where(has, s["Tv"] / T, np.nan)
        sv2 = s["v2"] - 2 * m1 * s["v1"] + n * m1 ** 2                       # sum (v - m1)^2
        e1 = np.where(has, sigma * np.sqrt(np.maximum(sv2, 0)) / T, np.nan)
        var = np.where(has, s["Tv2"] / T - m1 ** 2, np.nan)
        m2 = np.sqrt(np.maximum(var, 0))
        sv4 = (s["v4"] - 4 * m1 * s["v3"] + 6 * m1 ** 2 * s["v2"] - 4 * m1 ** 3 * s["v1"] + n * m1 ** 4)
        quad = sv4 - 2 * m2 ** 2 * sv2 + n * m2 ** 4
        e2 = np.where(has & (m2 > 0), sigma * np.sqrt(np.maximum(quad, 0)) / (2 * m2 * T), np.nan)
        tp = np.where(n > 0, tmax, np.nan)
        et = np.where(seen, sigma, np.nan)
    out = {"mom0": np.where(seen, m0, np.nan), "emom0": np.where(seen, e0, np.nan),
           "mom1": m1, "emom1": e1, "mom2": np.where(has, m2, np.nan), "emom2": e2,
           "tpeak": tp, "etpeak": et}
    return out


def make_moments(store, spec: dict, folder: Path, command: str | None = None) -> Product:
    from .cubeio import PlaneWriter, out_header

    rel = spec["input"]
    inp = input_entry(store, rel)
    maps, header, dv = moment_maps(Path(store.root) / rel, spec)
    files = []
    names = []
    for m in spec["moments"]:
        base = _NAMES[m]
        names += [(base, m), ("e" + base, m)]
    first = product_name(rel, spec.get("galaxy"), spec["tag"], names[0][0])
    cards = pv.header_cards("moments", pv.sidecar_name(first), [inp])
    cards["MASK"] = spec["mask"]
    cards["NOISE"] = (spec["rms_k"], "[K] channel rms used")
    hist = pv.history_lines("moments", spec)
    for base, m in names:
        name = product_name(rel, spec.get("galaxy"), spec["tag"], base)
        beam = None
        if "BMAJ" in header:
            beam = {"bmaj": float(header["BMAJ"]) * 3600, "bmin": float(header.get("BMIN", header["BMAJ"])) * 3600,
                    "bpa": float(header.get("BPA", 0.0))}
        h = out_header(header, bunit=_UNITS[m], beam=beam, drop_spectral=True,
                       cards=dict(cards, DERKIND=("moments:" + base)), history=hist)
        out = folder / name
        with PlaneWriter(out, h, maps[base].shape) as w:
            w.write(maps[base])
        files.append((name, out, base))
    rec = pv.make_record(kind="moments", inputs=[inp], outputs=[
        {"name": n, "role": r, "sha256": sha256_file(p)}
        for n, p, r in files], parameters=dict(spec), extra={
            "noise": {"rms_k": spec["rms_k"], "source": spec["rms_src"]}, "channel_kms": dv,
            "units": {_NAMES[m]: _UNITS[m] for m in spec["moments"]}}, command=command)
    return Product(survey=spec["survey"], files=files, record=rec, source=rel)
