"""MaNGA, GZ3D and Multimodal-Universe products as index rows (real layouts in ``docs/manga.md``; the
SDSS data model is the reference).

* DRP cubes ``manga-<PLATE>-<IFU>-LOGCUBE.fits.gz`` (and ``LINCUBE``): one row, tracer ``OPTICAL-IFU``.
* DAP maps ``manga-<PLATE>-<IFU>-MAPS-<DAPTYPE>.fits.gz``: one row per tracer of
  :data:`~sfng.surveys.manga.facts.MAPS_TRACERS`, locator ``EXTNAME#channel``.
* GZ3D ``gz3d_<MANGAID>_<IFUSIZE>_<SUBJECT>.fits.gz``: rows for the image and the vote-count masks.
* Multimodal-Universe HDF5 parent samples: one row per object, locator ``#<object>``.

Angles in degrees unless a name says arcsec; wavelengths in Angstrom.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ...errors import SfngError
from ...extras import format_extra
from .facts import (
    BUNDLE_DIAMETER,
    C_KMS,
    DAP_DONOTUSE,
    DRP_DONOTUSE,
    GZ3D_HDUS,
    MAPS_TRACERS,
)
from .geometry import cd_matrix, hexagon, wave_log_axis, wcs_corners
from .headers import CUBE_KEYS, is_gzip, open_fits, read_header_dicts, scan_headers
from .recognise import header_list, ifu_size, parse_name, recognise
from .restcube import attr_text
from .rows import (
    as_float,
    base_row,
    fill_common,
    flag_depth,
    set_axes,
    set_footprint,
)


def describe(path, headers=None, *, store_root=None, measure_depth: bool = False,
             catalog=None) -> list[dict]:
    """Index rows (dicts keyed by :data:`sfng.index.schema.FILES_COLUMNS` names) for one product.

    Parameters
    ----------
    path : path
        The file.
    headers : list, optional
        Headers the caller already read (per-HDU mappings or HeaderBlocks); read here if None.
    store_root : path, optional
        Makes ``path``/``tree``/``survey`` store-relative.
    measure_depth : bool
        Read the IVAR data: ``repunc`` becomes the median 1-sigma per spaxel per channel in BUNIT
        (``depth_src = "measured"``); cubes also get ``specres`` (median FWHM in Angstrom from the
        SPECRES extension).  Without it only headers are read.
    catalog : mapping, optional
        plateifu -> redshift (e.g. from a DRPall ``nsa_z``); see :func:`load_redshifts`.

    Raises SfngError when the file is not a recognised product or cannot be read.
    """
    kind = recognise(path, headers)
    if kind is None:
        raise SfngError(f"{path}: not a MaNGA cube, DAP maps, GZ3D or Multimodal-Universe HDF5 file")
    if catalog is None and store_root is not None:
        catalog = load_redshifts(store_root)
    if kind == "cube":
        return [describe_cube(path, headers, store_root=store_root, measure_depth=measure_depth,
                              catalog=catalog)]
    if kind == "maps":
        return describe_maps(path, headers, store_root=store_root, measure_depth=measure_depth)
    if kind == "gz3d":
        return describe_gz3d(path, store_root=store_root)
    return describe_hdf5(path, store_root=store_root)


def describe_cube(path, headers=None, *, store_root=None, measure_depth=False, catalog=None) -> dict:
    """The index row of a DRP cube (see :func:`describe`)."""
    hs = header_list(headers)
    gz = is_gzip(path)
    if len(hs) < 2:
        # PRIMARY and FLUX hold all a row needs (FLUX repeats the primary cards); an uncompressed
        # file is walked on to HDUs 4-5 for their names (DR17 LSFPOST/LSFPRE, DR15-16
        # DISP/PREDISP), a .gz only to FLUX (the rest sits behind ~100 MB of compressed data).
        hs = scan_headers(path, keys_of=lambda i: CUBE_KEYS if i < 2 else frozenset(),
                          max_hdus=2 if gz and not measure_depth else 6)
    prim = hs[0]
    flux = next((h for h in hs[1:] if str(h.get("EXTNAME", "")).strip() == "FLUX"), None)
    if flux is None:
        raise SfngError(f"{path}: a MaNGA cube without a FLUX extension")
    row = base_row(path, store_root)
    extra: dict = {}
    fill_common(row, prim, extra)
    row["product"] = "cube"
    row["tracer"] = "OPTICAL-IFU"
    row["tracer_src"] = "plugin"
    row["bunit"] = str(flux.get("BUNIT", prim.get("BUNIT", "")) or "").strip()
    row["hdu"] = hs.index(flux)
    row["locator"] = "[FLUX]"
    set_axes(row, flux, 3)
    spec = wave_log_axis(flux)
    for k in ("spec_type", "spec_min", "spec_max", "spec_unit", "chan_kms"):
        row[k] = spec[k]
    names = [str(h.get("EXTNAME", "")).strip() for h in hs]
    if "LSFPOST" in names:
        extra["lsf"] = "LSFPOST"
    elif "DISP" in names:
        extra["lsf"] = "DISP"
    extra["z"] = (catalog or {}).get(extra["plateifu"], math.nan)
    extra["drpver"] = str(prim.get("VERSDRP3", "") or "").strip()
    if measure_depth:
        try:
            noise, specres = measure_cube(path, names)
            row["repunc"] = noise
            row["specres"] = specres
            row["depth_src"] = "measured"
        except (OSError, ValueError, KeyError) as exc:
            flag_depth(row, f"IVAR unreadable: {exc}")
    row["extra"] = format_extra(extra)
    return row


def measure_cube(path, extnames=None) -> tuple[float, float]:
    """(median 1-sigma per spaxel per channel in BUNIT from IVAR, median FWHM in Angstrom from
    SPECRES) of a DRP cube; NaN where the data say nothing (no positive IVAR, no SPECRES)."""
    import numpy as np

    with open_fits(path) as hdul:
        ivar = np.asarray(hdul["IVAR"].data, dtype=np.float64)
        good = np.isfinite(ivar) & (ivar > 0)
        if "MASK" in hdul:
            good &= (np.asarray(hdul["MASK"].data) & DRP_DONOTUSE) == 0
        noise = float(np.median(1.0 / np.sqrt(ivar[good]))) if good.any() else math.nan
        specres = math.nan
        if "SPECRES" in hdul and "WAVE" in hdul:
            r = np.asarray(hdul["SPECRES"].data, dtype=np.float64)
            w = np.asarray(hdul["WAVE"].data, dtype=np.float64)
            ok = np.isfinite(r) & (r > 0)
            if ok.any():
                specres = float(np.median(w[ok] / r[ok]))
    return noise, specres


def channels(h) -> list[tuple[str, str]]:
    """``[(name, unit), ...]`` of a multi-channel MaNGA HDU from ``C1..Cn``/``C01..Cnn`` and
    ``U..`` (the unit falls back to BUNIT); ``[]`` for a single-channel map."""
    naxis = int(h.get("NAXIS", 0) or 0)
    if naxis < 3:
        return []
    n = int(h.get("NAXIS3", 0) or 0)
    bunit = str(h.get("BUNIT", "") or "").strip()
    out = []
    for i in range(1, n + 1):
        keys = (f"C{i:02d}", f"C{i}") if n >= 10 else (f"C{i}", f"C{i:02d}")
        name = next((h[k] for k in keys if k in h), None)
        ukeys = (f"U{i:02d}", f"U{i}") if n >= 10 else (f"U{i}", f"U{i:02d}")
        unit = next((h[k] for k in ukeys if k in h), None)
        out.append((str(name).strip() if name is not None else "",
                    str(unit).strip() if unit not in (None, "") else bunit))
    return out


def describe_maps(path, headers=None, *, store_root=None, measure_depth=False) -> list[dict]:
    """Index rows of a DAP MAPS file, one per entry of :data:`MAPS_TRACERS` present."""
    hs = header_list(headers)
    wanted = {e for e, *_ in MAPS_TRACERS}
    if not hs or not wanted <= {str(h.get("EXTNAME", "")).strip() for h in hs}:
        hs = read_header_dicts(path)
    prim = hs[0]
    by_name = {str(h.get("EXTNAME", "")).strip(): (i, h) for i, h in enumerate(hs)}
    z = as_float(prim.get("SCINPVEL")) / C_KMS
    rows = []
    ivar_cache: dict = {}
    for extname, channel, tracer, quantity in MAPS_TRACERS:
        if extname not in by_name:
            continue
        index, h = by_name[extname]
        chans = channels(h)
        if channel is None:
            if chans:
                continue
            cidx, unit = None, str(h.get("BUNIT", "") or "").strip()
        else:
            names = [c for c, _ in chans]
            if channel not in names:
                continue
            cidx = names.index(channel)
            unit = chans[cidx][1]
        row = base_row(path, store_root)
        extra: dict = {}
        fill_common(row, prim, extra)
        row["product"] = "image"
        row["tracer"] = tracer
        row["tracer_src"] = "plugin"
        row["locator"] = f"{extname}#{channel}" if channel else extname
        row["hdu"] = index
        row["bunit"] = unit
        set_axes(row, h, 2)
        extra.update({"z": z, "quantity": quantity,
                      "channel": (cidx + 1) if cidx is not None else None,
                      "dapver": str(prim.get("VERSDAP", "") or "").strip(),
                      "daptype": str(prim.get("DAPTYPE", "") or "").strip()})
        if measure_depth:
            try:
                row["repunc"] = measure_map(path, h.get("ERRDATA") or f"{extname}_IVAR", cidx,
                                            h.get("QUALDATA"), ivar_cache)
                row["depth_src"] = "measured"
            except (OSError, ValueError, KeyError) as exc:
                flag_depth(row, f"{extname}_IVAR unreadable: {exc}")
        row["extra"] = format_extra(extra)
        rows.append(row)
    if "hdul" in ivar_cache:
        ivar_cache["hdul"].close()
    return rows


def measure_map(path, ivar_ext: str, cidx, mask_ext=None, cache=None) -> float:
    """Median 1-sigma of one map channel (in the map's unit) from its IVAR extension."""
    import numpy as np

    cache = {} if cache is None else cache
    if "hdul" not in cache:
        cache["hdul"] = open_fits(path)
    hdul = cache["hdul"]
    ivar = np.asarray(hdul[str(ivar_ext).strip()].data, dtype=np.float64)
    if cidx is not None:
        ivar = ivar[cidx]
    good = np.isfinite(ivar) & (ivar > 0)
    if mask_ext and str(mask_ext).strip() in hdul:
        mask = np.asarray(hdul[str(mask_ext).strip()].data)
        if cidx is not None:
            mask = mask[cidx]
        good &= (mask & DAP_DONOTUSE) == 0
    return float(np.median(1.0 / np.sqrt(ivar[good]))) if good.any() else math.nan


def gz3d_metadata(path) -> dict:
    """The one-row metadata table (HDU 5) of a GZ3D file, lower-case keys, plus vote fractions.

    ``spiral_frac``/``bar_frac`` are votes / total Galaxy Zoo classifications (NaN when the total
    is 0: no vote, not "no bar").
    """
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        if len(hdul) < 6:
            raise SfngError(f"{path}: a GZ3D file has 11 HDUs (metadata in HDU 5); this one has {len(hdul)}")
        t = hdul[5].data
        meta = {}
        for name in t.columns.names:
            v = t[name][0]
            if isinstance(v, bytes):
                v = v.decode("ascii", "replace")
            meta[name.lower().lstrip("#")] = v.strip() if isinstance(v, str) else v.item() if hasattr(v, "item") else v
        headers = [h.header.copy() for h in hdul[:5]]
    total = as_float(meta.get("gz_total_classifications"))
    for what in ("spiral", "bar"):
        votes = as_float(meta.get(f"gz_{what}_votes"))
        meta[f"{what}_frac"] = votes / total if total and total > 0 else math.nan
    meta["_headers"] = headers
    return meta


def describe_gz3d(path, *, store_root=None) -> list[dict]:
    """Index rows of a GZ3D file: the image and the four vote-count masks."""
    info = parse_name(os.path.basename(str(path))) or {}
    meta = gz3d_metadata(path)
    headers = meta.pop("_headers")
    wcs_h = headers[1]  # readers take the WCS from HDU 1 (HDU 0 has the colour axis first)
    corners = wcs_corners(wcs_h)
    rows = []
    for index, tracer, product, what in GZ3D_HDUS:
        if index >= len(headers):
            continue
        h = headers[index]
        row = base_row(path, store_root)
        row["product"] = product
        row["tracer"] = tracer
        row["tracer_src"] = "plugin"
        row["locator"] = f"[{index}]"
        row["hdu"] = index
        row["bunit"] = "" if index == 0 else "votes"
        naxis = int(h.get("NAXIS", 0) or 0)
        set_axes(row, wcs_h, 2)
        row["naxis"] = naxis
        if index == 0 and naxis == 3:  # numpy (525, 525, 3): NAXIS1 is the colour axis
            row["naxis1"], row["naxis2"], row["naxis3"] = (int(h["NAXIS1"]), int(h["NAXIS2"]),
                                                           int(h["NAXIS3"]))
        # the image centre (CRVAL, double precision) is the target; the table's ra/dec are float32
        row["ra"] = as_float(wcs_h.get("CRVAL1", meta.get("ra")))
        row["dec"] = as_float(wcs_h.get("CRVAL2", meta.get("dec")))
        if corners is not None:
            set_footprint(row, *corners)
            row["fov"] = int(wcs_h.get("NAXIS1", 0)) * abs(cd_matrix(wcs_h)[0][0]) * 60.0
        row["object"] = str(meta.get("mangaid", ""))
        extra = {"mangaid": meta.get("mangaid") or info.get("mangaid"),
                 "ifu": int(as_float(meta.get("ifudesignsize"))) if not math.isnan(as_float(meta.get("ifudesignsize"))) else info.get("ifusize"),
                 "subject": info.get("subject"),
                 "gz_total": meta.get("gz_total_classifications"),
                 "spiral_frac": meta["spiral_frac"], "bar_frac": meta["bar_frac"],
                 "spiral_votes": meta.get("gz_spiral_votes"), "bar_votes": meta.get("gz_bar_votes"),
                 "nsa_id": meta.get("nsa_id")}
        row["extra"] = format_extra(extra)
        rows.append(row)
    return rows


def describe_hdf5(path, *, store_root=None) -> list[dict]:
    """One row per object of a Multimodal-Universe parent-sample HDF5 file.

    MaNGA files hold one group per plate-IFU (attrs ``object_id``, ``ra``, ``dec``, ``healpix``,
    ``z``); GZ3D files hold one dataset per column with the objects along the first axis.
    Needs h5py (``pip install sfng[hdf5]``).
    """
    try:
        import h5py
    except ImportError as exc:
        raise SfngError(f"{path}: reading HDF5 needs h5py (pip install 'sfng[hdf5]')") from exc
    import numpy as np

    rows = []
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SfngError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with f:
        survey = attr_text(f.attrs.get("survey", ""))
        groups = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
        if groups:
            for name in groups:
                g = f[name]
                row = base_row(path, store_root)
                oid = attr_text(g.attrs.get("object_id", name))
                ra, dec = as_float(g.attrs.get("ra")), as_float(g.attrs.get("dec"))
                row.update(locator=f"#{name}", product="cube", tracer="OPTICAL-IFU", ra=ra, dec=dec)
                row["tracer_src"] = "plugin"
                row["object"] = oid
                size = ifu_size(g.attrs.get("ifudesign", "")) if "ifudesign" in g.attrs else None
                if size and not math.isnan(ra):
                    set_footprint(row, *hexagon(ra, dec, BUNDLE_DIAMETER[size]))
                    row["fov"] = BUNDLE_DIAMETER[size] / 60.0
                rfwhm = as_float(g.attrs.get("rfwhm"))
                if not math.isnan(rfwhm):
                    row["bmaj"] = row["bmin"] = row["res"] = rfwhm
                    row["bpa"] = 0.0
                    row["beam_src"] = "plugin"
                maps = []
                if "maps" in g:
                    labels = g["maps"]["label"][()] if "label" in g["maps"].dtype.names else []
                    maps = [attr_text(x) for x in labels]
                extra = {"plateifu": oid, "healpix": int(g.attrs["healpix"]) if "healpix" in g.attrs else None,
                         "z": as_float(g.attrs.get("z")), "survey": survey,
                         "halpha": 1 if "emline_gflux_ha_6564" in maps else None}
                row["extra"] = format_extra(extra)
                rows.append(row)
        elif "object_id" in f:
            ids = [attr_text(x) for x in f["object_id"][()]]
            ra = np.asarray(f["ra"][()], dtype=float) if "ra" in f else np.full(len(ids), np.nan)
            dec = np.asarray(f["dec"][()], dtype=float) if "dec" in f else np.full(len(ids), np.nan)
            seen: dict = {}
            for i, oid in enumerate(ids):
                seen[oid] = seen.get(oid, 0) + 1
                row = base_row(path, store_root)
                loc = oid if seen[oid] == 1 else f"{oid}[{seen[oid] - 1}]"
                row.update(locator=f"#{loc}", product="image", tracer="GZ3D", ra=float(ra[i]),
                           dec=float(dec[i]))
                row["tracer_src"] = "plugin"
                row["object"] = oid
                extra = {"mangaid": oid, "index": i,
                         "healpix": int(f["healpix"][i]) if "healpix" in f else None}
                for col, key in (("gz_spiral_votes", "spiral_votes"), ("gz_bar_votes", "bar_votes"),
                                 ("gz_total_classifications", "gz_total")):
                    if col in f:
                        extra[key] = int(f[col][i])
                if "gz_total" in extra and extra["gz_total"] > 0:
                    for what in ("spiral", "bar"):
                        if f"{what}_votes" in extra:
                            extra[f"{what}_frac"] = extra[f"{what}_votes"] / extra["gz_total"]
                row["extra"] = format_extra(extra)
                rows.append(row)
    return rows


_REDSHIFT_CACHE: dict = {}


def load_redshifts(store_root) -> dict:
    """plateifu -> NSA redshift from ``tables/MANGA/drpall-*.fits`` of the store ({} if none).

    ``sfng fetch manga`` lands the DRPall catalogue there; it is read once per process.
    """
    folder = Path(store_root) / "tables" / "MANGA"
    files = sorted(folder.glob("drpall-*.fits")) if folder.is_dir() else []
    if not files:
        return {}
    key = (str(files[-1]), files[-1].stat().st_mtime)
    if key in _REDSHIFT_CACHE:
        return _REDSHIFT_CACHE[key]
    out = {}
    try:
        from astropy.table import Table

        t = Table.read(files[-1], hdu=1)
        cols = {c.lower(): c for c in t.colnames}
        if "plateifu" in cols and "nsa_z" in cols:
            for p, z in zip(t[cols["plateifu"]], t[cols["nsa_z"]]):
                p = p.decode() if isinstance(p, bytes) else str(p)
                z = float(z)
                out[p.strip()] = z if z > -9 else math.nan  # -9999: no NSA redshift
    except (OSError, ValueError, KeyError):
        out = {}
    _REDSHIFT_CACHE[key] = out
    return out

