"""``sfng ml prepare``: MaNGA LOGCUBEs onto one rest-frame log-wavelength grid, landed in
``derived/MANGA/`` through the store's safe path (:func:`sfng.derive.land.land_products`) with a
provenance sidecar (inputs with sha256, parameters).

Per cube: spaxel-channels with the MANGA_DRP3PIXMASK bits named (``mask_bits``, default
DONOTUSE; bits read from sdssMaskbits.par by name) or ivar <= 0 are masked; the wavelengths are
de-redshifted with the galaxy's redshift (DRPall nsa_z, else the galaxy table's); flux density
per Angstrom scales by (1+z) (so the line flux is conserved) and ivar by (1+z)^-2; then a
flux-conserving rebinning (exact overlap of pixel edges) onto the output grid.  An output
channel is masked where less than half of it is covered by good input.

Written as FITS (``..._restcube.fits``, the default) or, with ``cube_format="hdf5"``, as HDF5
(``..._restcube.h5``: the same arrays, cards and provenance, layout in
:mod:`sfng.surveys.manga.restcube`); both are made in a staging folder and landed the same way.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SfngError

DEFAULT_GRID = (5000.0, 8000.0, 2040)
#: The forms a prepared cube is written in (``--cube-format``); the first is the default.
CUBE_FORMATS = ("fits", "hdf5")
#: the output mask: bit 0 no good input, bit 1 outside the input coverage (rest frame).
MASK_BITS = {"NODATA": 0, "NOCOV": 1}


@dataclass(frozen=True)
class Grid:
    lo: float = DEFAULT_GRID[0]
    hi: float = DEFAULT_GRID[1]
    n: int = DEFAULT_GRID[2]

    def __post_init__(self):
        if not (0 < self.lo < self.hi) or self.n < 2:
            raise SfngError(f"bad wavelength grid {self.lo}-{self.hi} A in {self.n} channels")

    @property
    def dlnl(self) -> float:
        return math.log(self.hi / self.lo) / (self.n - 1)

    def centres(self) -> np.ndarray:
        return self.lo * np.exp(self.dlnl * np.arange(self.n))

    def edges(self) -> np.ndarray:
        return self.lo * np.exp(self.dlnl * (np.arange(self.n + 1) - 0.5))

    def as_dict(self) -> dict:
        return {"lo_angstrom": self.lo, "hi_angstrom": self.hi, "channels": self.n, "spacing": "log"}


def log_edges(centres) -> np.ndarray:
    """Pixel edges of a (log-spaced) wavelength axis: geometric midpoints, extrapolated at the ends."""
    c = np.asarray(centres, dtype=float)
    mid = np.sqrt(c[1:] * c[:-1])
    first = c[0] ** 2 / mid[0]
    last = c[-1] ** 2 / mid[-1]
    return np.concatenate([[first], mid, [last]])


def overlap_matrix(in_edges, out_edges) -> np.ndarray:
    """W[o, i] = |out_o ∩ in_i| / |out_o| (rows sum to the covered fraction of each output pixel)."""
    rows, cols, vals = overlap_band(in_edges, out_edges)
    W = np.zeros((len(out_edges) - 1, len(in_edges) - 1))
    W[rows, cols] = vals
    return W


def overlap_band(in_edges, out_edges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero entries ``(o, i, W[o, i])`` of :func:`overlap_matrix`, found without
    forming it: output pixel o overlaps only the input pixels from the one holding its lower
    edge to the one holding its upper edge (both axes increase), a band a few pixels wide."""
    in_edges = np.asarray(in_edges, dtype=float)
    out_edges = np.asarray(out_edges, dtype=float)
    n_in = len(in_edges) - 1
    first = np.clip(np.searchsorted(in_edges, out_edges[:-1], side="right") - 1, 0, n_in - 1)
    last = np.clip(np.searchsorted(in_edges, out_edges[1:], side="left") - 1, 0, n_in - 1)
    width = int(max(1, (last - first).max() + 1)) if len(first) else 1
    cols = first[:, None] + np.arange(width)[None, :]
    ok = cols <= np.maximum(last, first)[:, None]
    cols = np.minimum(cols, n_in - 1)
    lo = np.maximum(out_edges[:-1, None], in_edges[cols])
    hi = np.minimum(out_edges[1:, None], in_edges[cols + 1])
    vals = np.clip(hi - lo, 0.0, None) / np.diff(out_edges)[:, None]
    keep = ok & (vals > 0)
    rows = np.broadcast_to(np.arange(len(first))[:, None], cols.shape)
    return rows[keep], cols[keep], vals[keep]


def _products(W, sparse: bool):
    """``(W @ M, W**2 @ M)`` as functions of the banded ``W = ((rows, cols, vals), shape)``:
    each output pixel overlaps two or three input pixels, so as a scipy CSR matrix the products
    cost a small fraction of the dense ones (the same sums; ``tests/test_ml_prepare.py`` compares
    both).  Dense without scipy."""
    (rows, cols, vals), shape = W
    if sparse:
        try:
            from scipy import sparse as sp
        except ImportError:
            sparse = False
    if not sparse:
        dense = np.zeros(shape)
        dense[rows, cols] = vals
        return (lambda m: dense @ m), (lambda m: (dense ** 2) @ m)
    ws = sp.csr_matrix((vals, (rows, cols)), shape=shape)
    ws2 = sp.csr_matrix((vals ** 2, (rows, cols)), shape=shape)
    return (lambda m: np.asarray(ws @ m)), (lambda m: np.asarray(ws2 @ m))


def resample(wave, flux, ivar, good, grid: Grid, z: float = 0.0, *, sparse: bool = True):
    """``(flux, ivar, mask)`` on ``grid`` (rest frame) from spectra ``flux[nwave, ...]``."""
    wave = np.asarray(wave, dtype=float)
    rest_edges = log_edges(wave) / (1.0 + z)
    out_edges = grid.edges()
    keep = (rest_edges[1:] > out_edges[0]) & (rest_edges[:-1] < out_edges[-1])
    idx = np.flatnonzero(keep)
    shape = flux.shape[1:]
    nsp = int(np.prod(shape)) if shape else 1
    if idx.size == 0:
        return (np.zeros((grid.n,) + shape, np.float32), np.zeros((grid.n,) + shape, np.float32),
                np.full((grid.n,) + shape, (1 << MASK_BITS["NOCOV"]) | 1, np.int32))
    i0, i1 = idx[0], idx[-1] + 1
    band = overlap_band(rest_edges[i0:i1 + 1], out_edges)
    W = (band, (grid.n, i1 - i0))
    f = np.asarray(flux[i0:i1], dtype=float).reshape(i1 - i0, nsp) * (1.0 + z)
    iv = np.asarray(ivar[i0:i1], dtype=float).reshape(i1 - i0, nsp) / (1.0 + z) ** 2
    g = np.asarray(good[i0:i1]).reshape(i1 - i0, nsp) & (iv > 0) & np.isfinite(f)
    gf = g.astype(float)
    cover = np.bincount(band[0], weights=band[2], minlength=grid.n)[:, None]
    mul, mul2 = _products(W, sparse)
    wg = mul(gf)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(g, 1.0 / np.where(iv > 0, iv, 1.0), 0.0)
        fo = mul(np.where(g, f, 0.0)) / wg
        vo = mul2(var) / wg ** 2
        ivo = np.where(vo > 0, 1.0 / vo, 0.0)
    mask = np.zeros((grid.n, nsp), np.int32)
    mask |= np.where(cover < 0.999, 1 << MASK_BITS["NOCOV"], 0).astype(np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = ~(wg / np.maximum(cover, 1e-300) >= 0.5) | ~np.isfinite(fo)
    mask |= np.where(bad, 1 << MASK_BITS["NODATA"], 0).astype(np.int32)
    fo = np.where(bad, 0.0, fo)
    ivo = np.where(bad, 0.0, ivo)
    out = (grid.n,) + shape
    return fo.reshape(out).astype(np.float32), ivo.reshape(out).astype(np.float32), mask.reshape(out)


def redshift_of(store, plateifu: str, galaxy: str | None) -> tuple[float, str]:
    """``(z, source)``: DRPall nsa_z, else the galaxy table's redshift."""
    from ..surveys.manga.describers import load_redshifts

    z = load_redshifts(store.root).get(plateifu)
    if z is not None and math.isfinite(z):
        return float(z), "DRPall nsa_z"
    if galaxy:
        from ..galaxies import read_galaxies

        g = read_galaxies(store).find(galaxy)
        if g is not None and g.redshift == g.redshift:
            return float(g.redshift), "galaxy table"
    raise SfngError(f"{plateifu}: no redshift (no DRPall nsa_z, and galaxy {galaxy or '?'} has none in the "
                    "galaxy table); land a DRPall with `sfng fetch manga` or set it")


def cube_paths(store, paths=()) -> list[str]:
    """Store-relative LOGCUBE paths: ``paths`` filtered, or every LOGCUBE in data/MANGA/."""
    from ..surveys.manga.recognise import parse_name

    if not paths:
        folder = Path(store.root) / "data" / "MANGA"
        paths = [store.relpath(p) for p in sorted(folder.glob("*"))] if folder.is_dir() else []
    out = []
    for p in paths:
        info = parse_name(Path(p).name)
        if info and info["kind"] == "cube" and info["wave"] == "LOG":
            out.append(p)
    return out


def _check_cube_format(cube_format: str) -> None:
    if cube_format not in CUBE_FORMATS:
        raise SfngError(f"cube format {cube_format!r}: choose one of {', '.join(CUBE_FORMATS)}")
    if cube_format == "hdf5":
        from ..surveys.manga.restcube import h5py_or_error

        h5py_or_error("sfng ml prepare --cube-format hdf5")


def product_for(store, rel: str, grid: Grid, workdir: Path, z: float | None = None,
                mask_bits=("DONOTUSE",), cube_format: str = "fits"):
    """Make one rest-frame cube in ``workdir``: a :class:`sfng.derive.land.Product`.
    ``mask_bits``: the MANGA_DRP3PIXMASK bits (names) that reject a spaxel-channel;
    ``cube_format``: ``fits`` or ``hdf5`` (the same content)."""
    from astropy.io import fits

    from ..derive import provenance as pv
    from ..derive.land import Product, input_entry, origin_of
    from ..naming import encode_galaxy
    from ..surveys.manga.recognise import parse_name
    from .maskbits import bitmask

    _check_cube_format(cube_format)
    info = parse_name(Path(rel).name)
    galaxy, _ = origin_of(rel)
    if z is None:
        z, zsrc = redshift_of(store, info["plateifu"], galaxy)
    else:
        zsrc = "given"
    mask_names = tuple(mask_bits)
    donotuse = bitmask("MANGA_DRP3PIXMASK", mask_names)
    with fits.open(Path(store.root) / rel, memmap=False) as hdul:
        flux = np.asarray(hdul["FLUX"].data, dtype=np.float32)
        ivar = np.asarray(hdul["IVAR"].data, dtype=np.float32)
        mask = np.asarray(hdul["MASK"].data).astype(np.int64)
        wave = np.asarray(hdul["WAVE"].data, dtype=float)
        hdr = hdul["FLUX"].header.copy()
        primary = hdul[0].header
        mangaid = str(primary.get("MANGAID", "")).strip()
    good = (mask & donotuse) == 0
    fo, ivo, mo = resample(wave, flux, ivar, good, grid, z)
    h = fits.Header()
    for k in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2",
              "CUNIT1", "CUNIT2", "RADESYS", "EQUINOX", "BUNIT"):
        if k in hdr:
            h[k] = hdr[k]
    h["CTYPE3"] = ("WAVE-LOG", "rest-frame vacuum wavelength, log-spaced")
    h["CUNIT3"] = "Angstrom"
    h["CRPIX3"] = 1.0
    h["CRVAL3"] = grid.lo
    h["CD3_3"] = grid.lo * grid.dlnl   # the cube's celestial axes are CD-matrix ones
    if "RFWHM" in primary:   # the reconstructed r-band PSF FWHM (arcsec): the cube's beam
        h["BMAJ"] = h["BMIN"] = (float(primary["RFWHM"]) / 3600.0, "r-band PSF FWHM (RFWHM)")
        h["BPA"] = 0.0
    h["SPECSYS"] = ("SOURCE", "de-redshifted to the galaxy rest frame")
    h["PLATEIFU"] = info["plateifu"]
    h["MANGAID"] = mangaid
    h["Z_USED"] = (z, f"redshift used ({zsrc})")
    h["MLSTEP"] = ("sfng ml prepare", "rest-frame flux-conserving resampling")
    h["MASKBITS"] = ("|".join(mask_names), "MANGA_DRP3PIXMASK bits rejected")
    prim = fits.PrimaryHDU()
    for k in ("PLATEIFU", "MANGAID", "OBJRA", "OBJDEC", "IFURA", "IFUDEC", "PLATE", "IFUDSGN"):
        if k in primary:
            prim.header[k] = primary[k]
    hm = h.copy()
    hm["BUNIT"] = ""
    for b, v in MASK_BITS.items():
        hm[f"MBIT{v}"] = (b, "output mask bit")
    hdus = [prim, fits.ImageHDU(fo, h, name="FLUX"), fits.ImageHDU(ivo, h, name="IVAR"),
            fits.ImageHDU(mo, hm, name="MASK"),
            fits.BinTableHDU.from_columns([fits.Column("WAVE", "D", array=grid.centres(), unit="Angstrom")],
                                          name="WAVE")]
    del hdus[2].header["BUNIT"]
    prefix = encode_galaxy(galaxy) + "." if galaxy else ""
    if cube_format == "hdf5":
        from ..surveys.manga.restcube import HDF5_SUFFIX

        name = f"{prefix}manga_{info['plateifu']}_restcube{HDF5_SUFFIX}"
    else:
        name = f"{prefix}manga_{info['plateifu']}_restcube.fits"
    path = workdir / name
    params = {"grid": grid.as_dict(), "redshift": z, "redshift_source": zsrc,
              "mask": f"MANGA_DRP3PIXMASK {'|'.join(mask_names)} ({donotuse:#x}) or ivar<=0",
              "resampling": "flux-conserving (exact pixel-edge overlap), flux*(1+z), ivar/(1+z)^2",
              "cube_format": cube_format}
    inputs = [input_entry(store, rel)]
    for k, v in pv.header_cards("ml-prepare", pv.sidecar_name(name), inputs).items():
        prim.header[k] = v
    if cube_format == "hdf5":   # the same HDUs, as HDF5 datasets and attributes
        from ..surveys.manga.restcube import write_hdf5

        write_hdf5(path, fits.HDUList(hdus))
    else:
        fits.HDUList(hdus).writeto(path, overwrite=True)
    from ..fsutil import sha256_file

    record = pv.make_record(kind="ml-prepare", inputs=inputs,
                            outputs=[{"name": name, "role": "product", "sha256": sha256_file(path)}],
                            parameters=params)
    return Product("MANGA", [(name, path, "product")], record, source=rel)


def prepare(store, paths=(), grid: Grid | None = None, *, redshifts: dict | None = None, reindex: bool = True,
            mask_bits=("DONOTUSE",), cube_format: str = "fits"):
    """Prepare the LOGCUBEs (``paths``, store-relative; default every one in data/MANGA/).
    ``mask_bits``: the MANGA_DRP3PIXMASK bits that reject a spaxel-channel (names from
    sdssMaskbits.par: DONOTUSE, or e.g. DONOTUSE, LOWCOV, DEADFIBER, FORESTAR);
    ``cube_format``: ``fits`` (default) or ``hdf5`` (needs h5py)."""
    from ..derive.land import LandReport, land_products
    from .maskbits import bitmask

    bitmask("MANGA_DRP3PIXMASK", tuple(mask_bits))   # unknown names: one error, before any cube
    _check_cube_format(cube_format)                  # no h5py: one error, before any cube
    grid = grid or Grid()
    rels = cube_paths(store, paths)
    rep = LandReport()
    if not rels:
        rep.failed.append(("(selection)", "no MaNGA LOGCUBE selected"))
        return rep
    with tempfile.TemporaryDirectory(prefix="sfng-ml-") as tmp:
        products = []
        for rel in rels:
            try:
                from ..surveys.manga.recognise import parse_name

                z = (redshifts or {}).get(parse_name(Path(rel).name)["plateifu"])
                products.append(product_for(store, rel, grid, Path(tmp), z, mask_bits=mask_bits,
                                            cube_format=cube_format))
            except (SfngError, OSError, KeyError, ValueError) as exc:
                rep.failed.append((rel, str(exc)))
        if products:
            r = land_products(store, products, reindex=reindex)
            rep.landed, rep.skipped, rep.index = r.landed, r.skipped, r.index
            rep.failed += r.failed
    return rep
