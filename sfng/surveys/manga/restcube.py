"""The rest-frame cubes of ``sfng ml prepare`` in HDF5, beside their FITS form: the layout, a
reader of either form, and the index rows of the HDF5 one (format ``manga-restcube-hdf5``).

``sfng ml prepare --cube-format hdf5`` writes ``<NED>.manga_<PLATEIFU>_restcube.h5`` with the
content of the FITS product (``..._restcube.fits``), HDU for dataset::

    /        attrs: the FITS primary header's cards (PLATEIFU, MANGAID, OBJRA, IFURA, ... and the
             provenance cards PROVFILE, DERKIND, DERIN1, DERSHA1), SFNG_LAYOUT, FITS_HEADER
    /FLUX    float32 (nwave, ny, nx)  attrs: the FLUX HDU's cards (celestial WCS, the WAVE-LOG
             axis 3, BUNIT, BMAJ/BMIN/BPA, SPECSYS, PLATEIFU, MANGAID, Z_USED, MLSTEP, MASKBITS)
    /IVAR    float32 (nwave, ny, nx)  attrs: the IVAR HDU's cards
    /MASK    int32 (nwave, ny, nx)    attrs: the MASK HDU's cards (MBIT0/MBIT1 name its bits)
    /WAVE    float64 (nwave,)         the rest-frame wavelength of each channel, BUNIT = Angstrom

Every card with a value is an attribute of its own (keyword -> value: str, float, int or bool;
the structural cards, SIMPLE, BITPIX, NAXISn, EXTNAME, TTYPEn ..., are the datasets' shapes and
names); ``FITS_HEADER`` holds the whole HDU header as FITS writes it (80-column cards, comments
included, e.g. ``Z_USED``'s "redshift used (DRPall nsa_z)"), so the FITS headers come back card
for card (:func:`read`).  ``SFNG_LAYOUT`` names this layout (:data:`LAYOUT`).  The arrays are
stored as FITS stores them (no compression, no chunking) and without HDF5 timestamps, so the
same cube gives the same bytes on every run (a rerun finds the landed file unchanged).

h5py is optional (``pip install 'sfng[hdf5]'``): without it, writing and reading HDF5 cubes
fail with :class:`~sfng.errors.SfngError` naming what to install.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ...errors import SfngError

#: ``SFNG_LAYOUT`` of a rest-frame cube in HDF5 (version 1: the layout above).
LAYOUT = "sfng-ml-restcube/1"
#: The suffix prepare writes, and the names this layout may have (``.h5`` or ``.hdf5``).
HDF5_SUFFIX = ".h5"
NAME_RE = re.compile(r"_restcube\.(?:h5|hdf5)$", re.IGNORECASE)
#: The datasets, in the order of the FITS product's extensions.
EXTENSIONS = ("FLUX", "IVAR", "MASK", "WAVE")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Cards that are the layout of the FITS file, not metadata (the datasets' shapes say them).
_STRUCTURAL = re.compile(r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|EXTNAME|EXTVER|TFIELDS"
                         r"|TTYPE\d+|TFORM\d+|TUNIT\d+|TDIM\d+|THEAP|END|COMMENT|HISTORY|)$")


def h5py_or_error(what: str, then: str = ""):
    """The h5py module, or an :class:`SfngError` saying ``what`` needs it and how to install it
    (``then``: what to do after installing it)."""
    try:
        import h5py
    except ImportError as exc:
        raise SfngError(f"{what} needs h5py: pip install 'sfng[hdf5]'"
                        + (f", then {then}" if then else "")) from exc
    return h5py


def is_hdf5_name(name: str) -> bool:
    """Whether ``name`` (a file name or path) is that of a rest-frame cube in HDF5
    (``..._restcube.h5``).  Cheap: the crawler's format look-up asks it for every file."""
    return NAME_RE.search(name if isinstance(name, str) else str(name)) is not None


def is_hdf5_file(path) -> bool:
    """Whether the file (a path, or a binary file object: read from and rewound) starts with the
    HDF5 signature (a file without a user block)."""
    if hasattr(path, "read"):
        at = path.tell()
        try:
            return path.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
        finally:
            path.seek(at)
    try:
        with open(path, "rb") as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def _attr_value(value):
    """A FITS card value as an HDF5 attribute value (None: not stored as an attribute)."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, (int, np.integer)):
        return np.int64(value)
    if isinstance(value, (float, np.floating)):
        return np.float64(value)
    if isinstance(value, str):
        return value
    return None   # undefined values, complex numbers: in FITS_HEADER only


def _put_header(obj, header) -> None:
    from astropy.io import fits

    text = header.tostring()
    # the values as the FITS file holds them (its 20-column text: BMAJ's 0.000677086111111111, not
    # the float it was computed as), so an attribute equals what a FITS reader of the twin gets
    for card in fits.Header.fromstring(text).cards:
        if _STRUCTURAL.match(card.keyword):
            continue
        v = _attr_value(card.value)
        if v is not None:
            obj.attrs[card.keyword] = v
    obj.attrs["FITS_HEADER"] = text


def write_hdf5(path, hdul) -> Path:
    """Write the FITS product ``hdul`` (an astropy HDUList: PRIMARY, FLUX, IVAR, MASK, WAVE, as
    prepare makes it) as a rest-frame cube in HDF5 at ``path`` (a staging file: the store's
    safe path lands it, as it lands the FITS product)."""
    import numpy as np

    h5py = h5py_or_error("writing a rest-frame cube in HDF5 (sfng ml prepare --cube-format hdf5)")
    path = Path(path)
    names = [h.name for h in hdul]
    missing = [e for e in EXTENSIONS if e not in names]
    if missing:
        raise SfngError(f"{path.name}: the cube has no {', '.join(missing)} extension")
    with h5py.File(path, "w", track_order=True) as f:
        _put_header(f, hdul[0].header)
        f.attrs["SFNG_LAYOUT"] = LAYOUT
        for ext in EXTENSIONS:
            hdu = hdul[ext]
            data = np.asarray(hdu.data["WAVE"] if ext == "WAVE" else hdu.data)
            ds = f.create_dataset(ext, data=data, track_times=False)
            _put_header(ds, hdu.header)
            if ext == "WAVE":
                ds.attrs["BUNIT"] = str(hdu.columns["WAVE"].unit or "Angstrom")
    return path


@dataclass
class RestCube:
    """A rest-frame cube read from either form: the headers (astropy Headers, as in the FITS
    product) and the arrays asked for (``WAVE``: the wavelengths, a 1-D array)."""

    path: str
    form: str                                      # "fits" or "hdf5"
    primary: object = None                         # astropy.io.fits.Header
    headers: dict = field(default_factory=dict)    # extension -> astropy.io.fits.Header
    data: dict = field(default_factory=dict)       # extension -> numpy array

    @property
    def plateifu(self) -> str:
        return str(self.primary.get("PLATEIFU", "")).strip()

    @property
    def mangaid(self) -> str:
        return str(self.primary.get("MANGAID", "")).strip()


def read(path, arrays=EXTENSIONS) -> RestCube:
    """A prepared cube, FITS or HDF5 (told apart by the content), with the arrays ``arrays``;
    ``path``: a path, or a binary file object (as h5py and astropy read them)."""
    from astropy.io import fits
    import numpy as np

    stream = hasattr(path, "read")
    if not stream:
        path = Path(path)
    name = getattr(path, "name", None) or "the cube"
    name = Path(name).name if isinstance(name, str) else "the cube"
    arrays = tuple(arrays)
    if is_hdf5_file(path):
        h5py = h5py_or_error(f"{name}: reading a rest-frame cube in HDF5")
        out = RestCube(name if stream else str(path), "hdf5")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise SfngError(f"{name}: not a readable HDF5 file ({exc})") from None
        with f:
            if attr_text(f.attrs.get("SFNG_LAYOUT", "")) != LAYOUT:
                raise SfngError(f"{name}: not a rest-frame cube of sfng ml prepare (no SFNG_LAYOUT "
                                f"{LAYOUT!r})")
            out.primary = fits.Header.fromstring(attr_text(f.attrs["FITS_HEADER"]))
            for ext in EXTENSIONS:
                if ext not in f:
                    raise SfngError(f"{name}: no {ext} dataset")
                out.headers[ext] = fits.Header.fromstring(attr_text(f[ext].attrs["FITS_HEADER"]))
                if ext in arrays:
                    out.data[ext] = np.asarray(f[ext][()])
        return out
    out = RestCube(name if stream else str(path), "fits")
    with fits.open(path, memmap=False) as h:
        out.primary = h[0].header.copy()
        for ext in EXTENSIONS:
            if ext not in h:
                continue
            out.headers[ext] = h[ext].header.copy()
            if ext in arrays:
                out.data[ext] = np.asarray(h[ext].data["WAVE"] if ext == "WAVE" else h[ext].data)
    return out


def to_hdulist(rc: RestCube):
    """The FITS product (PRIMARY, FLUX, IVAR, MASK, WAVE) a rest-frame cube holds, as an astropy
    HDUList in memory: each HDU's header as written whole into the HDF5 file, with its array
    (``rc`` read with every array).  Equal to the FITS twin card for card and array for array."""
    from astropy.io import fits

    missing = [e for e in EXTENSIONS if e not in rc.data]
    if missing:
        raise SfngError(f"{rc.path}: read without {', '.join(missing)}")
    hdus = [fits.PrimaryHDU(header=rc.primary.copy())]
    for ext in ("FLUX", "IVAR", "MASK"):
        hdus.append(fits.ImageHDU(rc.data[ext], header=rc.headers[ext].copy(), name=ext))
    hw = rc.headers["WAVE"]
    unit = str(hw.get("TUNIT1", "") or "").strip() or None
    col = fits.Column("WAVE", str(hw.get("TFORM1", "D")).strip(), array=rc.data["WAVE"], unit=unit)
    hdus.append(fits.BinTableHDU.from_columns([col], header=hw.copy(), name="WAVE"))
    return fits.HDUList(hdus)


def attr_text(v) -> str:
    """An HDF5 attribute (bytes, a numpy scalar, text) as text."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
    return str(v)


def _python(v):
    """An attribute value as a plain Python value (what a FITS header mapping holds)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v.item() if hasattr(v, "item") else v


@lru_cache(maxsize=1)
def _vocabulary():
    from ...tracers import vocabulary

    return vocabulary()


def describe_hdf5(path, *, store_root=None) -> list[dict]:
    """The index row of a rest-frame cube in HDF5, from its attributes only: the columns the
    generic FITS row of its FITS twin has, computed by the same foundations (footprint, beam,
    spectral axis, tracer vocabulary) from the same cards (the primary's under FLUX's, as the
    crawler lays an extension over its primary header); ``derived_from``/``prov`` from the
    provenance cards.  Not validated (the minimum FITS rules judge FITS files)."""
    import posixpath

    from ...beam import beam_from_header
    from ...footprint import outline
    from ...index.schema import FOOT_MAX
    from ...spectral import rest_frequency, spectral_axis
    from .rows import as_float, base_row, set_axes, set_footprint

    # the message goes to the row's 120-character error column: short, and the file is the row's
    h5py = h5py_or_error("an HDF5 rest-frame cube", then="sfng index build --full")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SfngError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if attr_text(f.attrs.get("SFNG_LAYOUT", "")) != LAYOUT or "FLUX" not in f:
            raise SfngError(f"{Path(path).name}: not a rest-frame cube of sfng ml prepare (no SFNG_LAYOUT "
                            f"{LAYOUT!r} or no FLUX dataset)")
        h = {k: _python(v) for k, v in f.attrs.items() if k not in ("FITS_HEADER", "SFNG_LAYOUT")}
        h.update({k: _python(v) for k, v in f["FLUX"].attrs.items() if k != "FITS_HEADER"})
        shape = f["FLUX"].shape
    h["NAXIS"] = len(shape)
    for i, n in enumerate(reversed(shape), 1):
        h[f"NAXIS{i}"] = int(n)
    row = base_row(path, store_root)
    row.update(product="cube", object=str(h.get("OBJECT", "") or "").strip(),
               telescop=str(h.get("TELESCOP", "") or "").strip(),
               instrume=str(h.get("INSTRUME", "") or "").strip(),
               bunit=str(h.get("BUNIT", "") or "").strip())
    set_axes(row, h, len(shape))
    if h.get("PROVFILE"):
        inputs = []
        for n in range(1, 100):
            if h.get(f"DERIN{n}") is None:
                break
            inputs.append(str(h[f"DERIN{n}"]).strip())
        row["derived_from"] = ";".join(inputs)
        row["prov"] = posixpath.join(posixpath.dirname(row["path"]), str(h["PROVFILE"]).strip())
    beam = beam_from_header(h)
    if beam is not None:
        if beam.ok:
            row.update(bmaj=beam.major, bmin=beam.minor, bpa=beam.pa, beam_src="file", res=beam.major,
                       bmaj_min=beam.major, bmaj_max=beam.major)
        else:
            row["beam_src"] = "suspect"
    spec = spectral_axis(h)
    if spec is not None:
        row.update(spec_type=spec.code, chan_kms=spec.chan_kms, restfrq=spec.restfrq)
        lo, hi, unit = spec.coverage
        row.update(spec_min=lo, spec_max=hi, spec_unit=unit)
    else:
        row["restfrq"] = rest_frequency(h)[0]
    restfrq = as_float(row.get("restfrq"))
    tracer, how = _vocabulary().infer(h, restfrq=restfrq if math.isfinite(restfrq) else None)
    row["tracer"], row["tracer_src"] = tracer or "", how
    try:
        fp = outline(h)
    except Exception:  # noqa: BLE001 - a broken WCS: no footprint, as for a FITS file
        fp = None
    if fp is not None:
        row["frame"] = fp.frame
        ra0, dec0 = fp.centre
        if math.isfinite(ra0) and math.isfinite(dec0):
            row.update(ra=float(ra0), dec=float(dec0))
        if fp.kind == "polygon":
            row["fov"] = float(fp.size_arcmin)
            ras, decs = list(fp.ra), list(fp.dec)
            if len(ras) > FOOT_MAX:
                step = len(ras) / FOOT_MAX
                keep = [int(i * step) for i in range(FOOT_MAX)]
                ras, decs = [ras[i] for i in keep], [decs[i] for i in keep]
            set_footprint(row, ras, decs)
    return [row]
