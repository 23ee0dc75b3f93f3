"""The derivations: each ``make_<kind>(store, spec, folder) -> Product`` writes its files in
``folder`` from ``spec`` alone (the input's store path and every parameter, the native beam and
distance included), so that :func:`sfng.derive.rerun.rerun` remakes a product from its record.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import SfngError
from ..units import brightness_kind
from . import beams as bm
from . import provenance as pv
from .land import Product, input_entry, product_name


def _outputs(files) -> list[dict]:
    from ..fsutil import sha256_file

    return [{"name": name, "role": role, "sha256": sha256_file(path)} for name, path, role in files]


# -- convolve -------------------------------------------------------------------------------------

def make_convolve(store, spec: dict, folder: Path, command: str | None = None) -> Product:
    """Convolve ``spec["input"]`` from ``spec["native"]`` to ``spec["target_beam"]``; writes the
    product (``_conv``) and its coverage map (``_cov``)."""
    from .convolution import convolve_file

    rel, native, target = spec["input"], spec["native"], spec["target_beam"]
    inp = input_entry(store, rel)
    name = product_name(rel, spec.get("galaxy"), spec["tag"], "conv")
    cov_name = product_name(rel, spec.get("galaxy"), spec["tag"], "cov")
    cards = pv.header_cards("convolve", pv.sidecar_name(name), [inp])
    dist = spec.get("distance")
    if dist:
        cards["DIST_MPC"] = (dist["mpc"], "[Mpc] galaxy distance used for the target")
        cards["DISTSRC"] = (str(dist.get("source") or "")[:60], "source of DIST_MPC")
    out, cov = folder / name, folder / cov_name
    kfile = spec.get("kernel_file")
    if kfile:       # (its checksum is checked on the bytes the kernel is read from)
        cards["KERNFILE"] = (Path(kfile["path"]).name[:68], "convolution kernel file (non-Gaussian PSF)")
    info = convolve_file(Path(store.root) / rel, out, cov, native, target, cards=cards,
                         history=pv.history_lines("convolve", spec),
                         kernel_file=kfile["path"] if kfile else None,
                         kernel_sha256=kfile["sha256"] if kfile else None)
    files = [(name, out, "product"), (cov_name, cov, "coverage")]
    kernel = ({"type": "file", "file": kfile["path"], "sha256": kfile["sha256"], "psf_from": spec.get("psftype"),
               "kernel_pixscale_arcsec": kfile["pixscale_arcsec"], "pixscale_arcsec": info["pixscale_arcsec"],
               "method": "kernel file resampled bilinearly to the data's pixels, unit sum; astropy.convolution."
                         "convolve_fft (zero padding, NaN re-imposed)"} if kfile else
              {"type": "gaussian", "beam": info["kernel"], "pixscale_arcsec": info["pixscale_arcsec"],
               "method": "astropy.convolution.convolve_fft (zero padding, unit-sum kernel, NaN re-imposed)"})
    rec = pv.make_record(
        kind="convolve", inputs=[inp], outputs=_outputs(files), parameters=dict(spec),
        beams={"input": native, "target": target}, kernel=kernel,
        distance=dist, extra={"jy_beam_area_factor": info["scale"], "bunit": info["bunit"],
                              "planes": info["planes"], **({"per_channel_beams": info["per_channel"]}
                                                           if "per_channel" in info else {})},
        command=command)
    return Product(survey=spec["survey"], files=files, record=rec, source=rel)


def convolve_specs(rows: list[dict], target: bm.Target) -> tuple[list[dict], list[tuple[str, str]]]:
    """One spec per input row (``path, galaxy, survey, bmaj, bmin, bpa, dist, dist_src, tree``),
    and ``(path, why)`` for each input refused (no beam, too small a target, a product)."""
    specs, refused = [], []
    usable = []
    for r in rows:
        why = _beam_problem(r)
        if why:
            refused.append((r["path"], why))
        else:
            usable.append(r)
    common = None
    if target.kind == "common" and usable:
        common = bm.common_beam([r.get("channel_common") or native_beam(r) for r in usable])
    for r in usable:
        # a cube with per-channel beams: every channel's beam must reach the target, so the
        # check (and --to common) uses the common beam of all its channels, not the largest one
        native = r.get("channel_common") or native_beam(r)
        dist = None
        try:
            if target.kind == "physical":
                d = r.get("dist")
                tb = bm.target_beam(target, dist_mpc=d)
                dist = {"mpc": float(d), "source": r.get("dist_src") or ""}
            else:
                tb = bm.target_beam(target, common=common)
            bm.kernel_beam(native, tb)   # feasibility, per file
        except SfngError as exc:
            refused.append((r["path"], str(exc)))
            continue
        specs.append({"input": r["path"], "galaxy": r.get("galaxy") or None, "survey": r["survey"],
                      "native": native, "target": target.as_dict(), "target_beam": tb,
                      "tag": bm.res_tag(target, tb), "distance": dist})
    return specs, refused


def psf_type(store, rel: str) -> str:
    """PSFTYPE of a file (its header, else its survey README); "" when neither says."""
    from astropy.io import fits

    from ..header import readme_for
    from ..readme import read_readme

    p = Path(store.root) / rel
    try:
        with fits.open(p, memmap=True) as hdul:
            got = hdul[0].header.get("PSFTYPE")
    except (OSError, ValueError):
        got = None
    if got is None:
        rp = readme_for(p, store.root)
        if rp is not None:
            try:
                got = read_readme(rp).metadata.get("PSFTYPE")
            except Exception:  # noqa: BLE001 - an unreadable README says nothing
                got = None
    return str(got or "").strip().upper()


GAUSSIAN_PSFS = ("GAUSSIAN", "GAUSS")


def gaussian_psf_problem(store, rel: str) -> str:
    """Why a file's PSF cannot be treated as a Gaussian (a non-Gaussian PSFTYPE), or ""."""
    t = psf_type(store, rel)
    if t and t not in GAUSSIAN_PSFS:
        return (f"PSFTYPE = {t}: a non-Gaussian PSF needs a kernel file (Aniano et al.): give it with "
                f"--kernel FILE (docs/derive.md); refused rather than treated as a Gaussian")
    return ""


def kernel_specs(store, rows: list[dict], target: bm.Target, kernel) -> tuple[list[dict], list[tuple[str, str]]]:
    """Specs for convolving with the kernel file ``kernel`` to the Gaussian ``target`` (an
    angle or an explicit beam): each input's PSFTYPE must be the kernel's starting PSF, and its
    values not Jy/beam (:mod:`.kernels`)."""
    from .kernels import kernel_fits_psf, kernel_header

    if target.kind not in ("angle", "beam"):
        raise SfngError("--kernel needs the Gaussian it ends at as --to ANGLE (Aniano's Gauss_25: --to 25arcsec) "
                        "or --beam")
    info = kernel_header(kernel)
    tb = bm.target_beam(target)
    specs, refused = [], []
    for r in rows:
        psf = psf_type(store, r["path"])
        why = ""
        if r.get("tree") == "derived" and Path(r["path"]).stem.endswith(("_conv", "_cov")):
            why = "a convolved product: sfng convolves from the original each time (select data/ files)"
        elif not psf or psf in GAUSSIAN_PSFS:
            why = (f"PSFTYPE is {psf or 'not given'}: a kernel file is for a non-Gaussian PSF named by PSFTYPE; "
                   f"convolve a Gaussian beam without --kernel")
        elif brightness_kind(r.get("bunit"))[0] == "Jy/beam":
            why = "Jy/beam with a non-Gaussian PSF: no beam area to rescale by (convert to MJy/sr first)"
        else:
            why = kernel_fits_psf(info, psf, tb["bmaj"] if abs(tb["bmaj"] - tb["bmin"]) <= 1e-6 * tb["bmaj"]
                                  else None)
        if why:
            refused.append((r["path"], why))
            continue
        native = native_beam(r) if r.get("bmaj") is not None and math.isfinite(float(r["bmaj"])) else None
        specs.append({"input": r["path"], "galaxy": r.get("galaxy") or None, "survey": r["survey"],
                      "native": native, "psftype": psf, "target": target.as_dict(), "target_beam": tb,
                      "tag": bm.res_tag(target, tb), "distance": None, "kernel_file": info})
    return specs, refused


def channel_common_beam(store, r: dict) -> dict | None:
    """The common beam of every usable channel of a cube with a BEAMS table (None for a file
    with one beam)."""
    lo, hi = r.get("bmaj_min"), r.get("bmaj_max")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) or math.isclose(lo, hi, rel_tol=1e-4):
        return None
    from ..beamtable import beams_of

    t = beams_of(Path(store.root) / r["path"])
    rows = [i for i, ok in enumerate(t.valid) if ok]
    return bm.common_beam([{"bmaj": t.major[i], "bmin": t.minor[i],
                            "bpa": t.pa[i] if math.isfinite(t.pa[i]) else 0.0} for i in rows])


def native_beam(r: dict) -> dict:
    bmaj, bmin, bpa = float(r["bmaj"]), float(r.get("bmin", math.nan)), float(r.get("bpa", math.nan))
    return {"bmaj": bmaj, "bmin": bmin if math.isfinite(bmin) else bmaj, "bpa": bpa if math.isfinite(bpa) else 0.0}


def _beam_problem(r: dict) -> str:
    if r.get("tree") == "derived" and Path(r["path"]).stem.endswith(("_conv", "_cov")):
        return "a convolved product: sfng convolves from the original each time (select data/ files)"
    bmaj = r.get("bmaj")
    if bmaj is None or not math.isfinite(float(bmaj)) or float(bmaj) <= 0:
        return "no beam (BMAJ) known for this file"
    if str(r.get("type", "image")) not in ("image", "cube", ""):
        return f"a {r.get('type')}, not an image or cube"
    return ""


# -- jy2k -----------------------------------------------------------------------------------------

def jy2k_factor(freq_hz: float, beam: dict) -> float:
    """K per Jy/beam (astropy ``brightness_temperature``, Rayleigh-Jeans) for a Gaussian beam."""
    import astropy.units as u

    omega = bm.area_arcsec2(beam) * u.arcsec ** 2
    return float((1 * u.Jy / omega).to(u.K, equivalencies=u.brightness_temperature(freq_hz * u.Hz)).value)


def make_jy2k(store, spec: dict, folder: Path, command: str | None = None) -> Product:
    """Jy/beam -> K: every plane times the factor at the rest frequency and the file's beam."""
    from astropy.io import fits

    from .cubeio import PlaneWriter, iter_planes, out_header, planes_shape, science_hdu

    rel = spec["input"]
    inp = input_entry(store, rel)
    factor = jy2k_factor(spec["restfrq_hz"], spec["beam"]) * spec["unit_scale"]
    name = product_name(rel, spec.get("galaxy"), "", "k")
    cards = pv.header_cards("jy2k", pv.sidecar_name(name), [inp])
    cards["JY2K"] = (factor, "K per input BUNIT, applied")
    out = folder / name
    with fits.open(Path(store.root) / rel, memmap=False, lazy_load_hdus=True) as hdul:   # plane by plane
        hdu = science_hdu(hdul)
        lead, ny, nx = planes_shape(hdu.header)
        h = out_header(hdu.header, bunit="K", beam=spec["beam"], cards=cards, history=pv.history_lines("jy2k", spec))
        with PlaneWriter(out, h, lead + (ny, nx)) as w:
            for _, plane in iter_planes(hdu):
                w.write(plane * factor)
    files = [(name, out, "product")]
    rec = pv.make_record(kind="jy2k", inputs=[inp], outputs=_outputs(files), parameters=dict(spec),
                         beams={"input": spec["beam"]}, extra={
                             "factor_k_per_input_unit": factor,
                             "method": "astropy.units.brightness_temperature (Rayleigh-Jeans), "
                                       "Gaussian beam area pi/(4 ln 2) bmaj bmin, at RESTFRQ"},
                         command=command)
    return Product(survey=spec["survey"], files=files, record=rec, source=rel)


def jy2k_spec(row: dict, header) -> dict:
    kind, scale = brightness_kind(row.get("bunit") or header.get("BUNIT"))
    if kind != "Jy/beam":
        raise SfngError(f"BUNIT {row.get('bunit')!r} is not Jy/beam")
    if _beam_problem(row):
        raise SfngError(_beam_problem(row))
    lo, hi = row.get("bmaj_min"), row.get("bmaj_max")
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi) and \
            not math.isclose(lo, hi, rel_tol=1e-4):
        # one factor per channel would leave a K cube whose beam changes per channel and no
        # table saying so: convolve to one beam first
        raise SfngError(f"per-channel beams ({lo:.3g}\" to {hi:.3g}\", a BEAMS table): convolve to one beam "
                        f"first (sfng derive convolve --to {math.ceil(hi)}arcsec), then jy2k")
    freq = row.get("restfrq")
    if freq is None or not math.isfinite(freq) or freq <= 0:
        freq = float(header.get("RESTFRQ", header.get("RESTFREQ", math.nan)) or math.nan)
    if not math.isfinite(freq) or freq <= 0:
        raise SfngError("no rest frequency (RESTFRQ) known")
    return {"input": row["path"], "galaxy": row.get("galaxy") or None, "survey": row["survey"],
            "beam": native_beam(row), "restfrq_hz": float(freq), "unit_scale": float(scale)}


def _make_moments(store, spec, folder, command=None):
    from .momentmaps import make_moments

    return make_moments(store, spec, folder, command=command)


MAKERS = {"convolve": make_convolve, "jy2k": make_jy2k, "moments": _make_moments}


def register(kind: str, maker) -> None:
    MAKERS[kind] = maker
