"""``sfng derive``: derived products (convolution to a common resolution, moment maps, Jy/beam to
K) made from ``data/``, landed in ``derived/<SURVEY>/`` through the store's safe path, each with a
machine-readable provenance record (:mod:`.provenance`), remade by :func:`rerun`.

Modules: :mod:`.beams` (targets, radio-beam maths, names' resolution tags), :mod:`.cubeio`
(plane-by-plane reading and writing), :mod:`.convolution`, :mod:`.momentmaps`, :mod:`.products`
(one ``make_<kind>`` per product, from a spec alone), :mod:`.land` (staging and landing),
:mod:`.provenance`, :mod:`.remake`.  The user's page is docs/derive.md.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import SfngError
from .beams import Target, parse_target
from .land import LandReport, Product, land_products, staging_dir
from .provenance import read_record

__all__ = ["LandReport", "Product", "Target", "check_products", "convolve", "jy2k", "land_products",
           "moments", "parse_target", "read_record", "rerun", "rows_of"]

_ROW_COLUMNS = ("path", "tree", "survey", "galaxy", "product", "bunit", "bmaj", "bmin", "bpa", "bmaj_min",
                "bmaj_max", "restfrq", "rms_k", "chan_kms", "dist")


def rows_of(result) -> list[dict]:
    """The selected index rows as plain dicts (the columns derive needs, ``dist_src`` included)."""
    cols = {c: result.column(c) for c in _ROW_COLUMNS}
    srcs = _dist_sources(result.index)
    rows = []
    for i in range(len(result)):
        r = {c: _plain(cols[c][i]) for c in _ROW_COLUMNS}
        r["type"] = r.pop("product")
        r["dist_src"] = srcs.get(r.get("galaxy") or "", "")
        rows.append(r)
    return rows


def _plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape").strip()
    if hasattr(v, "item"):
        v = v.item()
    return v.strip() if isinstance(v, str) else v


def _dist_sources(index) -> dict:
    gal = getattr(index, "galaxies", None)
    if gal is None or "dist_src" not in (gal.dtype.names or ()):
        return {}
    return {_plain(n): _plain(s) for n, s in zip(gal["name"].tolist(), gal["dist_src"].tolist())}


def _make_one(store, kind, spec, command, folder):
    """``(product, None)`` or ``(None, why)``: one input's products, failures as messages."""
    from .products import MAKERS

    try:
        return MAKERS[kind](store, spec, Path(folder), command=command), None
    except SfngError as exc:
        return None, str(exc)
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _make_all(store, kind, specs, command, folder, progress=None, jobs: int = 1):
    """The products of every spec, in the specs' order whatever ``jobs`` (processes: each input
    is read plane by plane, so memory stays one input's planes per process)."""
    results: list = [None] * len(specs)
    if jobs > 1 and len(specs) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(jobs, len(specs))) as pool:
            futures = {pool.submit(_make_one, store, kind, spec, command, str(folder)): i
                       for i, spec in enumerate(specs)}
            for done, fut in enumerate(as_completed(futures), start=1):
                i = futures[fut]
                results[i] = fut.result()
                if progress is not None:
                    progress(done, len(specs), specs[i]["input"])
    else:
        for k, spec in enumerate(specs, start=1):
            results[k - 1] = _make_one(store, kind, spec, command, folder)
            if progress is not None:
                progress(k, len(specs), spec["input"])
    made = [p for p, why in results if p is not None]
    failed = [(spec["input"], why) for spec, (p, why) in zip(specs, results) if p is None]
    return made, failed


def _run(store, kind, specs, refused, *, command=None, reindex=True, dry_run=False, progress=None,
         jobs: int = 1) -> LandReport:
    """Make every product of ``specs`` in a staging folder (``jobs`` inputs at a time), then land
    them; ``progress(done, total, input path)`` after each input's products are made."""
    rep = LandReport()
    rep.failed.extend(refused)
    if dry_run or not specs:
        rep.planned = [s["input"] for s in specs]
        return rep
    with staging_dir() as folder:
        made, failed = _make_all(store, kind, specs, command, folder, progress, jobs)
        rep.failed.extend(failed)
        if made:
            got = land_products(store, made, reindex=reindex)
            rep.landed, rep.skipped, rep.index = got.landed, got.skipped, got.index
            rep.failed.extend(got.failed)
    return rep


def convolve(store, rows: list[dict], target: Target, *, command=None, reindex=True, dry_run=False,
             progress=None, jobs: int = 1, kernel=None) -> LandReport:
    """Convolve each row's file to ``target``; inputs that cannot be (too small a target, no
    beam, no distance, a non-Gaussian PSF without a kernel) are refused one by one in
    ``report.failed``.  ``kernel``: a kernel file (:mod:`.kernels`) taking the inputs' PSF
    (their PSFTYPE) to the Gaussian of ``target``."""
    from .products import convolve_specs, gaussian_psf_problem, kernel_specs

    if kernel is not None:
        specs, refused = kernel_specs(store, rows, target, kernel)
        return _run(store, "convolve", specs, refused, command=command, reindex=reindex, dry_run=dry_run,
                    progress=progress, jobs=jobs)
    from .products import channel_common_beam

    refused0, keep = [], []
    for r in rows:
        why = gaussian_psf_problem(store, r["path"])
        if not why:
            try:
                cc = channel_common_beam(store, r)
            except SfngError as exc:
                why = str(exc)
            else:
                r = {**r, "channel_common": cc} if cc else r
        (refused0 if why else keep).append((r["path"], why) if why else r)
    specs, refused = convolve_specs(keep, target)
    refused = refused0 + refused
    return _run(store, "convolve", specs, refused, command=command, reindex=reindex, dry_run=dry_run,
                progress=progress, jobs=jobs)


def jy2k(store, rows: list[dict], *, command=None, reindex=True, dry_run=False, progress=None,
         jobs: int = 1) -> LandReport:
    """Jy/beam -> K for each row's file (refused per file when not Jy/beam, no beam, no RESTFRQ)."""
    from .cubeio import science_hdu
    from .products import jy2k_spec

    specs, refused = [], []
    for r in rows:
        try:
            from astropy.io import fits

            with fits.open(Path(store.root) / r["path"], memmap=True) as hdul:
                specs.append(jy2k_spec(r, science_hdu(hdul).header))
        except SfngError as exc:
            refused.append((r["path"], str(exc)))
    return _run(store, "jy2k", specs, refused, command=command, reindex=reindex, dry_run=dry_run,
                progress=progress, jobs=jobs)


def moments(store, rows: list[dict], *, mask="strict", which=("0", "1", "2", "tpeak"), command=None,
            reindex=True, dry_run=False, progress=None, jobs: int = 1) -> LandReport:
    """Masked moment maps and their errors for each cube."""
    from .momentmaps import moments_spec

    specs, refused = [], []
    for r in rows:
        try:
            specs.append(moments_spec(store, r, mask=mask, which=which))
        except SfngError as exc:
            refused.append((r["path"], str(exc)))
    return _run(store, "moments", specs, refused, command=command, reindex=reindex, dry_run=dry_run,
                progress=progress, jobs=jobs)


def rerun(store, path):
    from .remake import rerun as _rerun

    return _rerun(store, path)


def check_products(store, index=None):
    from .remake import check_products as _check

    return _check(store, index)


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
