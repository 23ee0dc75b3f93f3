"""SDSS MaNGA and Galaxy Zoo 3D products in the store: recognise them, describe them as index rows,
and say where and under which galaxy name they land.

Products (real layouts in ``docs/manga.md``; the SDSS data model is the reference):

* DRP cubes ``manga-<PLATE>-<IFU>-LOGCUBE.fits.gz`` (and ``LINCUBE``): 24 HDUs (DR17: FLUX, IVAR,
  MASK, LSFPOST, LSFPRE, WAVE, ... ; DR15/16: DISP/PREDISP instead of LSFPOST/LSFPRE).  One index
  row: tracer ``OPTICAL-IFU``.
* DAP maps ``manga-<PLATE>-<IFU>-MAPS-<DAPTYPE>.fits.gz``: 64 HDUs of 2-D maps and multi-channel
  "cubes" whose channels are named by ``C1..Cn`` (``C01..Cnn`` from 10 channels on) with units in
  ``Un``.  One row per tracer of :data:`MAPS_TRACERS` (H-alpha flux, ...), locator
  ``EXTNAME#channel``.
* GZ3D ``gz3d_<MANGAID>_<IFUSIZE>_<SUBJECT>.fits.gz``: 11 HDUs; rows for the image (HDU 0) and the
  centre, star, spiral and bar vote-count masks (HDUs 1-4), locator ``[n]``, with the Galaxy Zoo
  vote fractions of the metadata table (HDU 5).
* Multimodal-Universe HDF5 parent samples (``manga/healpix=<hp>/NNNN-of-MMMM.hdf5``, one group
  per plate-IFU; GZ3D: one dataset per column): one row per object, locator ``#<object>``.

Angles are in degrees unless a name says arcsec; wavelengths in Angstrom.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SfngError

# ---------------------------------------------------------------------------------------------
# Facts about MaNGA (SDSS data model; Drory et al. 2015, AJ 149, 77 for the bundles)
# ---------------------------------------------------------------------------------------------

#: IFU size (fibres) -> bundle diameter in arcsec, vertex to vertex of the hexagon (2.5 arcsec
#: fibre pitch: 19 fibres = 5 along the long diagonal -> 12.5 arcsec).
BUNDLE_DIAMETER = {7: 7.5, 19: 12.5, 37: 17.5, 61: 22.5, 91: 27.5, 127: 32.5}
#: IFU size -> side of the DRP cube's spaxel grid (0.5 arcsec spaxels).
SPAXEL_GRID = {7: 24, 19: 34, 37: 44, 61: 54, 91: 64, 127: 74}
SPAXEL_ARCSEC = 0.5
DR17_DRPVER = "v3_1_1"
DR17_DAPVER = "3.1.0"
DR17_DAPTYPE = "HYB10-MILESHC-MASTARSSP"
GZ3D_VERSION = "v4_0_0"
C_KMS = 299792.458
#: MANGA_DAPPIXMASK bit 30 and MANGA_DRP3PIXMASK bit 10: "do not use".
DAP_DONOTUSE = 1 << 30
DRP_DONOTUSE = 1 << 10

#: DAP MAPS rows: (EXTNAME, channel name or None for a single-channel map, tracer, quantity).
MAPS_TRACERS = [
    ("EMLINE_GFLUX", "Ha-6564", "HALPHA", "flux"),
    ("EMLINE_GFLUX", "Hb-4862", "HBETA", "flux"),
    ("EMLINE_GFLUX", "OIII-5008", "OIII-5008", "flux"),
    ("EMLINE_GFLUX", "NII-6585", "NII-6585", "flux"),
    ("EMLINE_GFLUX", "SII-6718", "SII", "flux"),
    ("EMLINE_GFLUX", "SII-6732", "SII", "flux"),
    ("EMLINE_GFLUX", "OII-3727", "OII", "flux"),
    ("EMLINE_GFLUX", "OII-3729", "OII", "flux"),
    ("EMLINE_GFLUX", "OI-6302", "OI-6302", "flux"),
    ("EMLINE_GVEL", "Ha-6564", "HALPHA-VEL", "velocity"),
    ("EMLINE_GSIGMA", "Ha-6564", "HALPHA-SIGMA", "dispersion"),
    ("STELLAR_VEL", None, "STELLAR-VEL", "velocity"),
    ("STELLAR_SIGMA", None, "STELLAR-SIGMA", "dispersion"),
    ("SPECINDEX", "Dn4000", "DN4000", "index"),
]
#: GZ3D rows: (HDU, tracer, product, what).
GZ3D_HDUS = [
    (0, "GZ3D-IMAGE", "image", "SDSS cutout shown to volunteers (RGB, uint8)"),
    (1, "GZ3D-CENTER", "image", "galaxy-centre vote counts"),
    (2, "GZ3D-STAR", "image", "foreground-star vote counts"),
    (3, "GZ3D-SPIRAL", "image", "spiral-arm vote counts"),
    (4, "GZ3D-BAR", "image", "bar vote counts"),
]
GZ3D_PIXEL_ARCSEC = 0.099

#: Where each product lands: kind -> (tree, survey folder).
LANDING = {
    "cube": ("data", "MANGA"),
    "maps": ("derived", "MANGA-DAP"),
    "gz3d": ("derived", "GZ3D"),
    "hdf5": ("derived", "MMU"),
}

CUBE_RE = re.compile(r"(?:^|\.)manga-(?P<plate>\d{4,5})-(?P<ifu>\d{3,6})-(?P<wave>LOG|LIN)CUBE"
                     r"\.fits(?:\.gz)?$")
MAPS_RE = re.compile(r"(?:^|\.)manga-(?P<plate>\d{4,5})-(?P<ifu>\d{3,6})-MAPS-(?P<daptype>[A-Z0-9]+"
                     r"(?:-[A-Z0-9]+)*)\.fits(?:\.gz)?$")
GZ3D_RE = re.compile(r"(?:^|\.)(?:gz3d_)?(?P<mangaid>\d{1,2}-\d{1,8})_(?P<ifusize>\d{1,3})_"
                     r"(?P<subject>\d{1,12})\.fits(?:\.gz)?$")
HDF5_RE = re.compile(r"\.(?:hdf5|h5)$", re.I)
MMU_NAME_RE = re.compile(r"^\d{3,4}-of-\d{3,4}\.hdf5$")


def ifu_size(ifudsgn) -> int | None:
    """Fibres of an IFU design number: 1901 -> 19, 12703 -> 127, 701 -> 7."""
    try:
        n = int(str(ifudsgn).strip())
    except (TypeError, ValueError):
        return None
    size = n // 100
    return size if size in BUNDLE_DIAMETER else None


def parse_name(filename: str) -> dict | None:
    """What a MaNGA/GZ3D file name says: ``{"kind", "plate", "ifu", "plateifu", ...}`` or None."""
    base = os.path.basename(str(filename))
    m = CUBE_RE.search(base)
    if m:
        return {"kind": "cube", "plate": int(m["plate"]), "ifu": int(m["ifu"]),
                "plateifu": f"{m['plate']}-{m['ifu']}", "wave": m["wave"],
                "original": base[m.start():].lstrip(".")}
    m = MAPS_RE.search(base)
    if m:
        return {"kind": "maps", "plate": int(m["plate"]), "ifu": int(m["ifu"]),
                "plateifu": f"{m['plate']}-{m['ifu']}", "daptype": m["daptype"],
                "original": base[m.start():].lstrip(".")}
    m = GZ3D_RE.search(base)
    if m:
        return {"kind": "gz3d", "mangaid": m["mangaid"], "ifusize": int(m["ifusize"]),
                "subject": int(m["subject"]), "original": base[m.start():].lstrip(".")}
    if HDF5_RE.search(base):
        return {"kind": "hdf5", "original": base}
    return None


# ---------------------------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------------------------

def _header_list(headers) -> list:
    """Normalise what a caller read: HeaderBlocks, mappings, or one mapping -> list of mappings."""
    if headers is None:
        return []
    if hasattr(headers, "keys") and not isinstance(headers, (list, tuple)):
        return [headers]
    return [getattr(h, "header", h) for h in headers]


def recognise(path, headers=None) -> str | None:
    """``"cube"``, ``"maps"``, ``"gz3d"``, ``"hdf5"`` when ``path`` is a MaNGA/GZ3D/MMU product, else None.

    The file name decides when it follows the SDSS conventions (also behind a store's
    ``GALAXY.`` prefix); otherwise the headers, if given (a list of per-HDU mappings or
    :class:`sfng.fitsheader.HeaderBlock`), are asked: ``INSTRUME = 'MaNGA'`` with a ``FLUX``
    cube extension is a DRP cube, with ``DAPFRMT = 'MAPS'`` a DAP maps file.  HDF5 files count
    only when they look like a Multimodal-Universe sample (``healpix=`` folder, ``NNNN-of-MMMM``
    name, or a ``survey``/``object_id`` inside).
    """
    name = os.path.basename(str(path))
    got = parse_name(name)
    if got and got["kind"] != "hdf5":
        return got["kind"]
    if got and got["kind"] == "hdf5":
        return "hdf5" if _looks_mmu(path) else None
    hs = _header_list(headers)
    if hs:
        prim = hs[0]
        if str(prim.get("INSTRUME", "")).strip().upper() == "MANGA":
            if str(prim.get("DAPFRMT", "")).strip().upper() == "MAPS":
                return "maps"
            for h in hs[1:3]:
                if str(h.get("EXTNAME", "")).strip() == "FLUX" and int(h.get("NAXIS", 0) or 0) == 3:
                    return "cube"
    return None


def _looks_mmu(path) -> bool:
    p = Path(path)
    if p.parent.name.startswith("healpix=") or MMU_NAME_RE.match(p.name):
        return True
    try:
        import h5py
    except ImportError:
        return False
    try:
        with h5py.File(p, "r") as f:
            if "survey" in f.attrs or "object_id" in f:
                return True
            for key in list(f.keys())[:1]:
                return isinstance(f[key], h5py.Group) and "object_id" in f[key].attrs
    except (OSError, ValueError):
        return False
    return False


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

def tan_to_sky(ra0: float, dec0: float, xi, eta):
    """Gnomonic (TAN) deprojection: standard coordinates ``xi`` (east), ``eta`` (north) in degrees
    about (ra0, dec0) -> (ra, dec) in degrees (numpy arrays)."""
    import numpy as np

    x = np.radians(np.asarray(xi, dtype=float))
    y = np.radians(np.asarray(eta, dtype=float))
    d0 = math.radians(dec0)
    denom = math.cos(d0) - y * math.sin(d0)
    ra = (ra0 + np.degrees(np.arctan2(x, denom))) % 360.0
    dec = np.degrees(np.arctan2(y * math.cos(d0) + math.sin(d0), np.hypot(x, denom)))
    return ra, dec


def hexagon(ra: float, dec: float, diameter_arcsec: float):
    """Vertices (ra[6], dec[6]) of a MaNGA bundle hexagon centred on (ra, dec).

    The fibre rows of a bundle run east-west, so two vertices lie due east and due west of the
    centre, ``diameter/2`` away; the others at 60 degree steps.  Counter-clockwise on the sky
    as seen from inside (east, north-east, north-west, west, ...).
    """
    import numpy as np

    r = diameter_arcsec / 2.0 / 3600.0
    ang = np.radians(np.arange(6) * 60.0)
    return tan_to_sky(ra, dec, r * np.cos(ang), r * np.sin(ang))


def wcs_corners(h) -> tuple | None:
    """(ra[4], dec[4]) of the outer pixel corners of a 2-D TAN image header (CD or PC+CDELT)."""
    import numpy as np

    try:
        nx, ny = int(h["NAXIS1"]), int(h["NAXIS2"])
        crpix1, crpix2 = float(h["CRPIX1"]), float(h["CRPIX2"])
        ra0, dec0 = float(h["CRVAL1"]), float(h["CRVAL2"])
    except (KeyError, TypeError, ValueError):
        return None
    if not str(h.get("CTYPE1", "")).endswith("TAN") or not str(h.get("CTYPE2", "")).endswith("TAN"):
        return None
    cd = _cd_matrix(h)
    px = np.array([0.5, nx + 0.5, nx + 0.5, 0.5]) - crpix1
    py = np.array([0.5, 0.5, ny + 0.5, ny + 0.5]) - crpix2
    xi = cd[0][0] * px + cd[0][1] * py
    eta = cd[1][0] * px + cd[1][1] * py
    # For RA---TAN/DEC--TAN with the default LONPOLE the intermediate (x, y) are the standard
    # coordinates (xi east, eta north), whatever the signs of the matrix.
    return tan_to_sky(ra0, dec0, xi, eta)


def _cd_matrix(h):
    if "CD1_1" in h or "CD2_2" in h:
        return [[float(h.get("CD1_1", 0.0)), float(h.get("CD1_2", 0.0))],
                [float(h.get("CD2_1", 0.0)), float(h.get("CD2_2", 0.0))]]
    c1, c2 = float(h.get("CDELT1", 1.0)), float(h.get("CDELT2", 1.0))
    return [[c1 * float(h.get("PC1_1", 1.0)), c1 * float(h.get("PC1_2", 0.0))],
            [c2 * float(h.get("PC2_1", 0.0)), c2 * float(h.get("PC2_2", 1.0))]]


def wave_log_axis(h) -> dict:
    """The WAVE-LOG spectral axis of a DRP cube header (FITS paper III, ``-LOG`` algorithm).

    ``lambda(p) = CRVAL3 * exp(CD3_3 / CRVAL3 * (p - CRPIX3))`` for pixel ``p`` (1-based), so the
    constant velocity step is ``c * CD3_3 / CRVAL3``.  Returns ``spec_min``/``spec_max`` (Angstrom,
    centres of the first and last channel), ``spec_unit``, ``chan_kms``, ``cdelt3``.  A linear
    ``WAVE`` axis (LINCUBE) is read the linear way.
    """
    out = {"spec_type": "", "spec_min": math.nan, "spec_max": math.nan, "spec_unit": "",
           "chan_kms": math.nan, "cdelt3": math.nan, "crval3": math.nan}
    ctype = str(h.get("CTYPE3", "")).strip().upper()
    if not ctype.startswith("WAVE"):
        return out
    try:
        n = int(h["NAXIS3"])
        crval = float(h["CRVAL3"])
        crpix = float(h.get("CRPIX3", 1.0))
        step = float(h["CD3_3"]) if "CD3_3" in h else float(h["CDELT3"])
    except (KeyError, TypeError, ValueError):
        return out
    unit = str(h.get("CUNIT3", "")).strip() or "Angstrom"
    scale = _to_angstrom(unit)
    if ctype == "WAVE-LOG":
        lo = crval * math.exp(step / crval * (1 - crpix))
        hi = crval * math.exp(step / crval * (n - crpix))
        kms = C_KMS * step / crval
    else:
        lo = crval + step * (1 - crpix)
        hi = crval + step * (n - crpix)
        mid = 0.5 * (lo + hi)
        kms = C_KMS * abs(step) / mid if mid else math.nan
    out.update(spec_type=ctype, spec_min=min(lo, hi) * scale, spec_max=max(lo, hi) * scale,
               spec_unit="Angstrom", chan_kms=abs(kms), cdelt3=step, crval3=crval)
    return out


def _to_angstrom(unit: str) -> float:
    u = unit.strip().lower()
    return {"angstrom": 1.0, "ang": 1.0, "a": 1.0, "nm": 10.0, "um": 1e4, "m": 1e10}.get(u, 1.0)


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------

def _foot(row: dict, ras, decs) -> None:
    n = len(ras)
    pad = 16 - n
    row["foot_n"] = n
    row["foot_ra"] = [float(x) for x in ras] + [math.nan] * pad
    row["foot_dec"] = [float(x) for x in decs] + [math.nan] * pad


def _fmt_extra(extra: dict, limit: int = 160) -> str:
    """``KEY=VALUE;...`` for the index's ``extra`` column; keys are in priority order and the last
    ones are dropped when the text would not fit ``limit`` characters."""
    parts = []
    for k, v in extra.items():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
            continue
        if isinstance(v, float):
            v = f"{v:.10g}" if k in ("objra", "objdec") else f"{v:.6g}"
        parts.append(f"{k}={v}")
    while parts and len(";".join(parts)) > limit:
        parts.pop()
    return ";".join(parts)


def parse_extra(text: str) -> dict:
    """``"a=1;b=x"`` -> ``{"a": 1, "b": "x"}`` (numbers cast), the inverse of the row's ``extra``."""
    out = {}
    for part in (text or "").split(";"):
        if "=" not in part:
            continue
        k, _, v = part.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def _float(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _base_row(path, store_root) -> dict:
    """The part of a row only this module knows is added by the callers; here: the path.

    Rows hold only the columns this module determines, so the index crawler can lay them over
    its own common part (size, mtime, sha256, validation, galaxy) without clobbering it; use
    :func:`full_row` for a complete row outside the crawler.
    """
    p = Path(path)
    if store_root is not None:
        try:
            return {"path": p.resolve().relative_to(Path(store_root).resolve()).as_posix()}
        except ValueError:
            pass
    return {"path": str(p)}


def full_row(row: dict, store_root=None) -> dict:
    """``row`` completed with the index schema's unknowns, size, mtime, tree, survey and the
    galaxy of the file name (what the crawler adds)."""
    from .header import survey_of
    from .index.schema import null_row

    out = null_row()
    p = Path(row["path"]) if store_root is None else Path(store_root) / row["path"]
    if store_root is not None:
        tree, survey = survey_of(p, store_root)
        out["tree"], out["survey"] = tree or "", survey or ""
    out["galaxy"] = _galaxy_from_name(p.name) or ""
    try:
        st = p.stat()
        out["size"], out["mtime"] = st.st_size, st.st_mtime
    except OSError:
        pass
    out["flag"], out["error"] = 0, ""
    out.update(row)
    return out


def _galaxy_from_name(name: str) -> str | None:
    info = parse_name(name)
    if info is None or info["kind"] == "hdf5":
        return None
    prefix = name[: len(name) - len(info["original"])].rstrip(".")
    if not prefix:
        return None
    try:
        from .naming import decode_galaxy
    except ImportError:
        return prefix.replace("_", " ")
    return decode_galaxy(prefix) or prefix.replace("_", " ")


def _common(row: dict, prim, extra: dict) -> None:
    """Fill what DRP cubes and DAP maps share: position, footprint, PSF, identity."""
    ifura, ifudec = _float(prim.get("IFURA")), _float(prim.get("IFUDEC"))
    objra, objdec = _float(prim.get("OBJRA")), _float(prim.get("OBJDEC"))
    row["ra"], row["dec"] = ifura, ifudec
    size = ifu_size(prim.get("IFUDSGN"))
    if size and not math.isnan(ifura) and not math.isnan(ifudec):
        ras, decs = hexagon(ifura, ifudec, BUNDLE_DIAMETER[size])
        _foot(row, ras, decs)
        row["fov"] = BUNDLE_DIAMETER[size] / 60.0
    rfwhm = _float(prim.get("RFWHM"))
    row["bmaj"] = row["bmin"] = row["res"] = rfwhm
    row["bpa"] = 0.0 if not math.isnan(rfwhm) else math.nan  # a circular PSF
    row["beam_src"] = "plugin"
    for key, col in (("TELESCOP", "telescop"), ("INSTRUME", "instrume")):
        row[col] = str(prim.get(key, "") or "").strip()
    row["object"] = str(prim.get("PLATEIFU", "") or "").strip()
    extra.update({
        "plateifu": str(prim.get("PLATEIFU", "") or "").strip(),
        "mangaid": str(prim.get("MANGAID", "") or "").strip(),
        "ifu": size,
        "objra": objra, "objdec": objdec,
        "gfwhm": _float(prim.get("GFWHM")), "ifwhm": _float(prim.get("IFWHM")),
        "zfwhm": _float(prim.get("ZFWHM")),
    })


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


def _read(path, max_hdus=None):
    from .fitsheader import read_headers

    return [b.header for b in read_headers(path, max_hdus=max_hdus)]


#: Cards a DRP cube row needs from PRIMARY/FLUX; the other HDUs are walked for their names only.
_CUBE_KEYS = frozenset((
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "PCOUNT",
    "GCOUNT", "GROUPS", "EXTNAME", "BUNIT", "TELESCOP", "INSTRUME", "IFURA", "IFUDEC", "OBJRA", "OBJDEC",
    "PLATEIFU", "MANGAID", "IFUDSGN", "GFWHM", "RFWHM", "IFWHM", "ZFWHM", "VERSDRP3", "DAPFRMT",
    "CTYPE1", "CTYPE2", "CTYPE3", "CUNIT1", "CUNIT2", "CUNIT3", "CRVAL1", "CRVAL2", "CRVAL3",
    "CRPIX1", "CRPIX2", "CRPIX3", "CD1_1", "CD1_2", "CD2_1", "CD2_2", "CD3_3", "CDELT1", "CDELT2",
    "CDELT3", "PC1_1", "PC1_2", "PC2_1", "PC2_2"))
_SIZING_KEYS = frozenset(("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3",
                          "NAXIS4", "NAXIS5", "PCOUNT", "GCOUNT", "GROUPS", "EXTNAME"))
_END_CARD = b"END" + b" " * 77


def _card_value(text: str, key: str):
    """The raw value field of the first card ``key`` at a card boundary of ``text``, or None."""
    probe = key.ljust(8) + "= "
    j = text.find(probe)
    while j >= 0 and j % 80:
        j = text.find(probe, j + 1)
    return None if j < 0 else text[j + 10:j + 80]


def _put(h: dict, key: str, raw) -> None:
    if raw is None:
        return
    v = raw.strip()
    if v.startswith("'"):
        h[key] = v[1:].split("'", 1)[0].rstrip()
    else:
        v = v.split("/", 1)[0].strip()
        h[key] = (v == "T") if v in ("T", "F") else int(v)


def scan_headers(path, keys_of=lambda index: _CUBE_KEYS, max_hdus=None) -> list[dict]:
    """Selected cards of the HDUs of a FITS file: ``[{key: value}, ...]``, one dict per HDU.

    ``keys_of(index)`` names the keywords to parse in HDU ``index`` (values are cast by
    :func:`sfng.fitsheader.parse_cards`, so they equal astropy's); the sizing keywords are always
    read so the data can be skipped.  Faster than parsing every card: a DRP cube's 24 headers hold
    ~900 cards of which a row needs ~50.  Plain files are read with ``pread``; a ``.gz`` is
    inflated as far as the last HDU asked for.  Raises :class:`sfng.fitsheader.FitsHeaderError`.
    """
    import gzip

    from .fitsheader import FitsHeaderError, parse_cards

    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    out: list = []
    f = gzip.open(path, "rb") if gz else open(path, "rb")
    try:
        fd = None if gz else f.fileno()
        pos = 0
        while max_hdus is None or len(out) < max_hdus:
            head = bytearray()
            while True:
                if gz:
                    if f.tell() != pos + len(head):
                        f.seek(pos + len(head))
                    blk = f.read(2880)
                else:
                    blk = os.pread(fd, 2880, pos + len(head))
                if len(blk) < 2880:
                    if not out and not head:
                        raise FitsHeaderError(path, "empty or not a FITS file")
                    if not head:
                        return out
                    raise FitsHeaderError(path, f"HDU {len(out)}: truncated header")
                if not head:
                    want_start = b"SIMPLE  =" if not out else b"XTENSION="
                    if blk[:9] != want_start:
                        if not out:
                            raise FitsHeaderError(path, "not a FITS file (does not start with SIMPLE = T)")
                        return out
                head += blk
                j = blk.find(_END_CARD)
                while j >= 0 and j % 80:
                    j = blk.find(_END_CARD, j + 1)
                if j >= 0:
                    end = len(head) - 2880 + j
                    break
            keys = keys_of(len(out))
            text = head[:end].decode("latin-1")
            h: dict = {}
            if keys:
                sel = "".join(text[i:i + 80] for i in range(0, end, 80)
                              if text[i:i + 8].rstrip() in keys or text[i:i + 8].rstrip() in _SIZING_KEYS)
                for k, v in parse_cards(sel):
                    h.setdefault(k, v)
            else:  # names and sizes only: a few aligned finds, parsed in place
                for k in ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "EXTNAME"):
                    _put(h, k, _card_value(text, k))
                for i in range(1, int(h.get("NAXIS", 0) or 0) + 1):
                    _put(h, f"NAXIS{i}", _card_value(text, f"NAXIS{i}"))
            naxis = int(h.get("NAXIS", 0) or 0)
            size = 0
            if naxis:
                size = abs(int(h["BITPIX"])) // 8 * int(h.get("GCOUNT", 1) or 1)
                n = 1
                for i in range(1, naxis + 1):
                    n *= int(h.get(f"NAXIS{i}", 0) or 0)
                size *= int(h.get("PCOUNT", 0) or 0) + n
            out.append(h)
            pos += len(head) + -(-size // 2880) * 2880
    finally:
        f.close()
    return out


def describe_cube(path, headers=None, *, store_root=None, measure_depth=False, catalog=None) -> dict:
    """The index row of a DRP cube (see :func:`describe`)."""
    hs = _header_list(headers)
    gz = _is_gzip(path)
    if len(hs) < 2:
        # PRIMARY and FLUX hold all a row needs (FLUX repeats the primary cards); an uncompressed
        # file is walked on to HDUs 4-5 for their names (DR17 LSFPOST/LSFPRE, DR15-16
        # DISP/PREDISP), a .gz only to FLUX (the rest sits behind ~100 MB of compressed data).
        hs = scan_headers(path, keys_of=lambda i: _CUBE_KEYS if i < 2 else frozenset(),
                          max_hdus=2 if gz and not measure_depth else 6)
    prim = hs[0]
    flux = next((h for h in hs[1:] if str(h.get("EXTNAME", "")).strip() == "FLUX"), None)
    if flux is None:
        raise SfngError(f"{path}: a MaNGA cube without a FLUX extension")
    row = _base_row(path, store_root)
    extra: dict = {}
    _common(row, prim, extra)
    row["product"] = "cube"
    row["tracer"] = "OPTICAL-IFU"
    row["tracer_src"] = "plugin"
    row["bunit"] = str(flux.get("BUNIT", prim.get("BUNIT", "")) or "").strip()
    row["hdu"] = hs.index(flux)
    row["locator"] = "[FLUX]"
    _axes(row, flux, 3)
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
            _flag_depth(row, f"IVAR unreadable: {exc}")
    row["extra"] = _fmt_extra(extra)
    return row


def _flag_depth(row, why):
    from .index.schema import FLAG_DEPTH_ERROR

    row["flag"] = max(int(row.get("flag", 0) or 0), 0) | FLAG_DEPTH_ERROR
    row["error"] = why[:120]


def _is_gzip(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _axes(row: dict, h, naxis: int) -> None:
    row["naxis"] = naxis
    cd = _cd_matrix(h)
    for i in range(1, 5):
        if i <= naxis:
            row[f"naxis{i}"] = int(h.get(f"NAXIS{i}", -1) or -1)
            row[f"ctype{i}"] = str(h.get(f"CTYPE{i}", "") or "").strip()
            row[f"cunit{i}"] = str(h.get(f"CUNIT{i}", "") or "").strip()
            row[f"crval{i}"] = _float(h.get(f"CRVAL{i}"))
            if i <= 2:
                row[f"cdelt{i}"] = cd[i - 1][i - 1]
            else:
                row[f"cdelt{i}"] = _float(h.get(f"CD{i}_{i}", h.get(f"CDELT{i}")))


def open_fits(path):
    """An astropy HDUList of ``path``; a ``.gz`` is inflated once into memory, since astropy
    re-inflates from the start for every backward seek between HDUs."""
    import gzip
    import io

    from astropy.io import fits

    if _is_gzip(path):
        with gzip.open(path, "rb") as f:
            return fits.open(io.BytesIO(f.read()), memmap=False)
    return fits.open(path, memmap=False)


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


# -- DAP maps -----------------------------------------------------------------------------------

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
    hs = _header_list(headers)
    wanted = {e for e, *_ in MAPS_TRACERS}
    if not hs or not wanted <= {str(h.get("EXTNAME", "")).strip() for h in hs}:
        hs = _read(path)
    prim = hs[0]
    by_name = {str(h.get("EXTNAME", "")).strip(): (i, h) for i, h in enumerate(hs)}
    z = _float(prim.get("SCINPVEL")) / C_KMS
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
        row = _base_row(path, store_root)
        extra: dict = {}
        _common(row, prim, extra)
        row["product"] = "image"
        row["tracer"] = tracer
        row["tracer_src"] = "plugin"
        row["locator"] = f"{extname}#{channel}" if channel else extname
        row["hdu"] = index
        row["bunit"] = unit
        _axes(row, h, 2)
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
                _flag_depth(row, f"{extname}_IVAR unreadable: {exc}")
        row["extra"] = _fmt_extra(extra)
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


# -- GZ3D ---------------------------------------------------------------------------------------

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
    total = _float(meta.get("gz_total_classifications"))
    for what in ("spiral", "bar"):
        votes = _float(meta.get(f"gz_{what}_votes"))
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
        row = _base_row(path, store_root)
        row["product"] = product
        row["tracer"] = tracer
        row["tracer_src"] = "plugin"
        row["locator"] = f"[{index}]"
        row["hdu"] = index
        row["bunit"] = "" if index == 0 else "votes"
        naxis = int(h.get("NAXIS", 0) or 0)
        _axes(row, wcs_h, 2)
        row["naxis"] = naxis
        if index == 0 and naxis == 3:  # numpy (525, 525, 3): NAXIS1 is the colour axis
            row["naxis1"], row["naxis2"], row["naxis3"] = (int(h["NAXIS1"]), int(h["NAXIS2"]),
                                                           int(h["NAXIS3"]))
        # the image centre (CRVAL, double precision) is the target; the table's ra/dec are float32
        row["ra"] = _float(wcs_h.get("CRVAL1", meta.get("ra")))
        row["dec"] = _float(wcs_h.get("CRVAL2", meta.get("dec")))
        if corners is not None:
            _foot(row, *corners)
            row["fov"] = int(wcs_h.get("NAXIS1", 0)) * abs(_cd_matrix(wcs_h)[0][0]) * 60.0
        row["object"] = str(meta.get("mangaid", ""))
        extra = {"mangaid": meta.get("mangaid") or info.get("mangaid"),
                 "ifu": int(_float(meta.get("ifudesignsize"))) if not math.isnan(_float(meta.get("ifudesignsize"))) else info.get("ifusize"),
                 "subject": info.get("subject"),
                 "gz_total": meta.get("gz_total_classifications"),
                 "spiral_frac": meta["spiral_frac"], "bar_frac": meta["bar_frac"],
                 "spiral_votes": meta.get("gz_spiral_votes"), "bar_votes": meta.get("gz_bar_votes"),
                 "nsa_id": meta.get("nsa_id")}
        row["extra"] = _fmt_extra(extra)
        rows.append(row)
    return rows


# -- Multimodal-Universe HDF5 ---------------------------------------------------------------------

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
        survey = _attr_str(f.attrs.get("survey", ""))
        groups = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
        if groups:
            for name in groups:
                g = f[name]
                row = _base_row(path, store_root)
                oid = _attr_str(g.attrs.get("object_id", name))
                ra, dec = _float(g.attrs.get("ra")), _float(g.attrs.get("dec"))
                row.update(locator=f"#{name}", product="cube", tracer="OPTICAL-IFU", ra=ra, dec=dec)
                row["tracer_src"] = "plugin"
                row["object"] = oid
                size = ifu_size(g.attrs.get("ifudesign", "")) if "ifudesign" in g.attrs else None
                if size and not math.isnan(ra):
                    _foot(row, *hexagon(ra, dec, BUNDLE_DIAMETER[size]))
                    row["fov"] = BUNDLE_DIAMETER[size] / 60.0
                rfwhm = _float(g.attrs.get("rfwhm"))
                if not math.isnan(rfwhm):
                    row["bmaj"] = row["bmin"] = row["res"] = rfwhm
                    row["bpa"] = 0.0
                    row["beam_src"] = "plugin"
                maps = []
                if "maps" in g:
                    labels = g["maps"]["label"][()] if "label" in g["maps"].dtype.names else []
                    maps = [_attr_str(x) for x in labels]
                extra = {"plateifu": oid, "healpix": int(g.attrs["healpix"]) if "healpix" in g.attrs else None,
                         "z": _float(g.attrs.get("z")), "survey": survey,
                         "halpha": 1 if "emline_gflux_ha_6564" in maps else None}
                row["extra"] = _fmt_extra(extra)
                rows.append(row)
        elif "object_id" in f:
            ids = [_attr_str(x) for x in f["object_id"][()]]
            ra = np.asarray(f["ra"][()], dtype=float) if "ra" in f else np.full(len(ids), np.nan)
            dec = np.asarray(f["dec"][()], dtype=float) if "dec" in f else np.full(len(ids), np.nan)
            seen: dict = {}
            for i, oid in enumerate(ids):
                seen[oid] = seen.get(oid, 0) + 1
                row = _base_row(path, store_root)
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
                row["extra"] = _fmt_extra(extra)
                rows.append(row)
    return rows


def _attr_str(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
    return str(v)


# ---------------------------------------------------------------------------------------------
# Redshifts from a DRPall catalogue kept in the store
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Ingest: where products land, under which galaxy name, with which README
# ---------------------------------------------------------------------------------------------

CITATION_DR17 = ("Citation: Abdurro'uf et al. (2022), ApJS, 259, 35 (2022ApJS..259...35A), SDSS DR17; "
                 "Bundy, K. et al. (2015), ApJ, 798, 7 (2015ApJ...798....7B), MaNGA")

READMES = {
    "MANGA": ({"BUNIT": "1E-17 erg/s/cm^2/Angstrom/spaxel", "CUNIT3": "Angstrom",
               "MAPTYPE": "OPTICAL-IFU", "PSFTYPE": "GAUSSIAN"},
              "SDSS-IV MaNGA DR17 DRP data cubes (manga-PLATE-IFU-LOGCUBE): optical IFU spectroscopy, "
              "3622-10354 Angstrom,\nlog-spaced channels (69 km/s), 0.5 arcsec spaxels, hexagonal fibre "
              "bundles of 12.5-32.5 arcsec.\n"
              + CITATION_DR17 + "\nCitation: Law, D. R. et al. (2016), AJ, 152, 83 (2016AJ....152...83L), DRP\n"
              "URL: https://www.sdss4.org/dr17/manga/\n"
              "Data model: https://data.sdss.org/datamodel/files/MANGA_SPECTRO_REDUX/DRPVER/PLATE4/stack/"
              "manga-CUBE.html\n"
              "Resolution is the reconstructed r-band PSF FWHM (RFWHM); GFWHM/IFWHM/ZFWHM are kept in the\n"
              "index's extra column. The galaxy name is NED's (by position, OBJRA/OBJDEC within 3 arcsec),\n"
              "or 'MaNGA <MANGAID>' where NED has no unique galaxy there.\n"),
    "MANGA-DAP": ({},
                  "SDSS-IV MaNGA DR17 Data Analysis Pipeline maps (manga-PLATE-IFU-MAPS-HYB10-MILESHC-"
                  "MASTARSSP):\nemission-line fluxes, kinematics and spectral indices per spaxel/bin. "
                  "Units differ per extension\nand channel (BUNIT, Un keywords), so none is set here.\n"
                  + CITATION_DR17 + "\nCitation: Westfall, K. B. et al. (2019), AJ, 158, 231 "
                  "(2019AJ....158..231W), DAP\n"
                  "URL: https://www.sdss4.org/dr17/manga/manga-data/data-model/#DataAnalysisPipelineOutput\n"
                  "Data model: https://data.sdss.org/datamodel/files/MANGA_SPECTRO_ANALYSIS/DRPVER/DAPVER/"
                  "DAPTYPE/PLATE/IFU/manga-MAPS-DAPTYPE.html\n"),
    "GZ3D": ({},
             "Galaxy Zoo 3D (GZ3D) DR17 value-added catalogue: per-galaxy SDSS image and volunteer "
             "vote-count masks\n(centre, foreground star, spiral arm, bar), 525x525 pixels of 0.099 "
             "arcsec.\nCitation: Masters, K. L. et al. (2021), MNRAS, 507, 3923 (2021MNRAS.507.3923M)\n"
             + CITATION_DR17 + "\nURL: https://data.sdss.org/sas/dr17/env/MANGA_MORPHOLOGY/galaxyzoo3d/"
             "v4_0_0/\nData model: https://data.sdss.org/datamodel/files/MANGA_MORPHOLOGY/galaxyzoo3d/"
             "GZ3DVER/gz3d.html\n"),
    "MMU": ({},
            "Multimodal Universe parent samples (HDF5, HEALPix nside 16 nested): MaNGA cubes and maps "
            "(one group\nper plate-IFU, padded to 96x96) and GZ3D, written by `sfng export hdf5` or "
            "downloaded.\nCitation: The Multimodal Universe Collaboration (2024), NeurIPS Datasets and "
            "Benchmarks (arXiv:2412.02527)\n" + CITATION_DR17 + "\n"
            "URL: https://github.com/MultimodalUniverse/MultimodalUniverse\n"),
}


def readme_text(survey: str) -> str:
    """The survey README sfng writes for a MaNGA/GZ3D/MMU folder (metadata block + prose)."""
    from .readme import render

    meta, prose = READMES[survey]
    return render(meta, prose)


def landing(path, headers=None) -> tuple[str, str] | None:
    """``(tree, survey)`` where ingest lands a recognised product, else None."""
    kind = recognise(path, headers)
    return LANDING.get(kind) if kind else None


def fallback_name(mangaid: str) -> str:
    """The stable galaxy name used when NED gives none: ``MaNGA 1-209232``."""
    mangaid = str(mangaid).strip()
    if not re.fullmatch(r"\d{1,2}-\d{1,8}", mangaid):
        raise SfngError(f"invalid MaNGA-ID {mangaid!r} (expected like 1-209232)")
    return f"MaNGA {mangaid}"


FALLBACK_SOURCE = "manga-fallback"
POSITION_RADIUS_ARCSEC = 3.0


@dataclass
class NameChoice:
    """A product's galaxy name and how it was found (``ned-position``, ``override``, ``fallback``)."""

    galaxy: str
    how: str
    note: str = ""


def product_identity(path, headers=None) -> dict:
    """``{"mangaid", "ra", "dec", "plateifu"}`` of a product (OBJRA/OBJDEC, else IFURA/IFUDEC)."""
    kind = recognise(path, headers)
    info = parse_name(os.path.basename(str(path))) or {}
    if kind == "gz3d":
        meta = gz3d_metadata(path)
        return {"mangaid": meta.get("mangaid") or info.get("mangaid"), "ra": _float(meta.get("ra")),
                "dec": _float(meta.get("dec")), "plateifu": ""}
    hs = _header_list(headers) or _read(path, max_hdus=1)
    prim = hs[0]
    ra, dec = _float(prim.get("OBJRA")), _float(prim.get("OBJDEC"))
    if math.isnan(ra) or math.isnan(dec):
        ra, dec = _float(prim.get("IFURA")), _float(prim.get("IFUDEC"))
    return {"mangaid": str(prim.get("MANGAID", "") or "").strip(), "ra": ra, "dec": dec,
            "plateifu": str(prim.get("PLATEIFU", "") or info.get("plateifu", "")).strip()}


def galaxy_name(identity: dict, resolver=None, radius_arcsec: float = POSITION_RADIUS_ARCSEC) -> NameChoice:
    """The galaxy name of a MaNGA/GZ3D product.

    Order: a manual override for ``MaNGA <MANGAID>`` (``sfng names override "MaNGA 1-209232"
    "NGC 1234"``) or a cached NED answer for it; NED's nearest galaxy within ``radius_arcsec`` of
    the object position (``Resolver.by_position``, asked once per position per resolver); else
    the fallback ``MaNGA <MANGAID>``, recorded in the name cache with source ``manga-fallback``.
    When NED later answers by position, the cache row of ``MaNGA <MANGAID>`` is replaced by
    NED's name, so every product of that galaxy is renamed consistently on the next ingest.
    """
    fb = fallback_name(identity["mangaid"])
    if resolver is None:
        return NameChoice(fb, "fallback", "no NED resolver")
    from . import ned
    from .naming import normalise

    try:
        ov = resolver.overrides().get(normalise(fb))
        if ov and ov.get("ned_name"):
            return NameChoice(ov["ned_name"], "override")
        row = resolver.lookup(fb)
        if row and row.get("source") != FALLBACK_SOURCE and row.get("ned_name"):
            return NameChoice(row["ned_name"], "cache")
    except (AttributeError, OSError):
        pass
    ra, dec = identity["ra"], identity["dec"]
    note = "no position"
    if not (math.isnan(ra) or math.isnan(dec)):
        memo = resolver.__dict__.setdefault("_manga_positions", {})
        key = (round(ra, 6), round(dec, 6), radius_arcsec)
        if key not in memo:
            try:
                rec = resolver.by_position(ra, dec, radius_arcsec)
                memo[key] = (rec.ned_name if rec is not None else None,
                             f"NED lists no galaxy within {radius_arcsec:g} arcsec")
            except (ned.Unavailable, ned.Ambiguous, SfngError) as exc:
                memo[key] = (None, str(exc))
        name, note = memo[key]
        if name:
            _record(resolver, fb, name, ra, dec, "ned-position")
            return NameChoice(name, "ned-position")
    _record(resolver, fb, fb, ra, dec, FALLBACK_SOURCE)
    return NameChoice(fb, "fallback", note)


def ingest_tree(src_dir, tree: str) -> str:
    """The tree ingest should use for ``src_dir``: ``derived`` when its data files are DAP maps or
    GZ3D files (derived products never belong in ``data/``), else ``tree`` unchanged."""
    kinds = set()
    for p in Path(src_dir).rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            info = parse_name(p.name)
            if info is not None and info["kind"] != "hdf5":
                kinds.add(info["kind"])
    if kinds and kinds <= {"maps", "gz3d"}:
        return "derived"
    return tree


def name_item(item, path, resolver) -> None:
    """Name an ingest plan item (``sfng.ingest.Item``) for a MaNGA/GZ3D product.

    Sets ``galaxy``, ``input_name``, ``how`` (and a note for the fallback); on an unreadable file
    marks the item as an error, as ingest does for its own naming failures.
    """
    if recognise(path) == "hdf5":
        item.fail("error", "a Multimodal-Universe HDF5 file holds many galaxies and its healpix=/ "
                           "folders matter: copy the tree under derived/MMU/ as it is (sfng export "
                           "hdf5 writes there); it is indexed, not ingested")
        return
    try:
        ident = product_identity(path)
        choice = galaxy_name(ident, resolver)
    except (SfngError, OSError, ValueError, KeyError) as exc:
        item.fail("error", f"MaNGA product without a usable MaNGA-ID/position: {exc}")
        return
    item.galaxy = choice.galaxy
    item.input_name = f"MaNGA {ident['mangaid']} at RA {ident['ra']:.5f} Dec {ident['dec']:+.5f}"
    if choice.how == "fallback":
        item.how = (f"MaNGA-ID {ident['mangaid']} -> fallback name {choice.galaxy!r} (recorded in "
                    f"the name cache as {FALLBACK_SOURCE})")
        if choice.note:
            item.notes.append(f"no NED name by position: {choice.note}")
    else:
        item.how = (f"OBJRA/OBJDEC of MaNGA {ident['mangaid']} -> {choice.how} "
                    f"(nearest NED galaxy within {POSITION_RADIUS_ARCSEC:g} arcsec)")


def _record(resolver, fb: str, name: str, ra: float, dec: float, source: str) -> None:
    """Remember ``fb`` (``MaNGA <MANGAID>``) -> ``name`` in the resolver's name cache."""
    try:
        from .ned import _fmt, now_iso

        row = resolver.lookup(fb)
        if row is not None and row.get("ned_name") == name and row.get("source") == source:
            return
        resolver._remember({"input": fb, "ned_name": name, "ra": _fmt(ra), "dec": _fmt(dec),
                            "ned_type": "", "redshift": "", "asked": now_iso(), "source": source})
    except (AttributeError, ImportError, OSError):
        pass  # a resolver without a cache (tests, demo stand-in): nothing to record


# ---------------------------------------------------------------------------------------------
# Demo: a few generated products for real MaNGA targets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoTarget:
    """A real MaNGA target: plate-IFU, MaNGA-ID, IFU and object position (deg, J2000), PSF, z."""

    plateifu: str
    mangaid: str
    ra: float
    dec: float
    rfwhm: float
    z: float
    gz3d_subject: int = 0
    votes: tuple = (0, 0, 0)  # (total, spiral, bar)


#: 8485-1901 is the data model's example galaxy (position, MaNGA-ID, PSF from the real file; z from
#: its DAP input velocity SCINPVEL); 7443-12703 is Marvin's tutorial galaxy (position and MaNGA-ID
#: real; PSF and z approximate).  GZ3D subject numbers and vote counts are generated.
DEMO_TARGETS = [
    DemoTarget("8485-1901", "1-209232", 232.5447, 48.690201, 2.43751, 0.0407447, 20937850, (41, 9, 4)),
    DemoTarget("7443-12703", "12-193481", 229.525575, 42.745853, 2.5, 0.0202, 0, (0, 0, 0)),
]


def write_demo_files(surveys_dir, rng=None) -> dict:
    """Write the demo's MaNGA cubes, DAP maps and GZ3D files under ``surveys_dir``/MANGA,
    MANGA-DAP and GZ3D (deterministic; existing files are kept).  Returns survey -> [names]."""
    from . import mangagen

    return mangagen.write_demo(Path(surveys_dir), DEMO_TARGETS)
