"""What the service serves: the catalogue of files and cubes from the index, and the spectra of
cubes read through a cache.

A cube is read once: its science HDU (and, when the HDU-linkage keywords ``ERRDATA`` /
``QUALDATA`` of the FITS HDUCLASS convention name them, its inverse-variance and quality HDUs,
and a ``WAVE`` HDU) are checked against the manifest's SHA-256 and saved transposed, one
spectrum per contiguous row, as ``.npy`` files under ``<cache>/<sha256>/``; later requests
memory-map them.  The cache is keyed by the checksum, so a changed file is never served from a
stale cache: a new checksum is a new folder.  Generic code only: a MaNGA LOGCUBE (FLUX, IVAR,
MASK, WAVE) and a radio line cube (one HDU, velocity or frequency axis) are read by the same
rules.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError
from . import ids

C_KMS = 299792.458
CACHE_VERSION = 1


class NotFound(SfngError):
    """An id or file the service does not have (404)."""


class Unreadable(NotFound):
    """A file the index calls a cube that is not FITS and whose format gives no FITS form
    (:meth:`sfng.formats.Format.as_hdulist`): the service cannot read spectra from it."""


class Changed(SfngError):
    """A file whose bytes no longer match the manifest (409)."""


@dataclass
class Entry:
    """One index row, as the service needs it."""

    key: bytes
    path: str
    row: int
    survey: str
    galaxy: str
    product: str
    tracer: str
    bunit: str
    sha256: str
    size: int
    mtime: float
    ra: float
    dec: float
    fov: float
    naxis: tuple
    ctype3: str
    cunit3: str
    restfrq: float
    spec_unit: str
    locator: str = ""
    hdu: int = 0
    spec_min: float = float("nan")
    spec_max: float = float("nan")
    version: str = ""          # the data version ('' unversioned; docs/versions.md)
    current: bool = True       # False: a superseded version (still served by its id)
    spec_type: str = ""        # the spectral axis type (FREQ, VRAD, ...)
    extra: str = ""            # the index's extra column (key=value;...: vconv, pol, z...)

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def is_fits(self) -> bool:
        n = self.name.lower()
        return n.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz"))

    @property
    def is_cube(self) -> bool:
        return self.product == "cube" and len(self.naxis) >= 3 and self.naxis[2] > 1

    @property
    def is_spectra(self) -> bool:
        """A table of spectra (a BINTABLE with a spectral column) or a one-dimensional spectrum."""
        return self.product == "spectra"

    @property
    def has_spectra(self) -> bool:
        return self.is_cube or self.is_spectra

    def public(self) -> dict:
        return {"file_id": ids.file_id(self.key), "name": Path(self.path).name, "locator": self.locator,
                "survey": self.survey,
                "galaxy": self.galaxy, "product": self.product, "tracer": self.tracer,
                "bunit": self.bunit, "sha256": self.sha256, "size": self.size,
                "ra": self.ra, "dec": self.dec, "shape": list(self.naxis), "version": self.version,
                "current": self.current}


@dataclass
class Cube:
    """A cube's spectra, one row per spaxel (row ``y * nx + x``); or a table's, one row per
    spectrum (``nx`` = the number of spectra, ``ny`` = 1, ``kind`` = "table").

    ``wave`` is the spectral axis the rows share; a table whose rows each have their own holds
    them in ``waves`` (one row per spectrum) and ``wave`` is None.  ``npix``: the pixels of each
    row (a table of variable-length arrays; the rest of the row is padding), else None."""

    entry: Entry
    flux: np.ndarray          # (ny*nx, nspec) float32, memory-mapped
    ivar: np.ndarray | None
    mask: np.ndarray | None
    wave: np.ndarray          # (nspec,) float64
    nx: int
    ny: int
    meta: dict = field(default_factory=dict)
    pix_ra: np.ndarray | None = None
    pix_dec: np.ndarray | None = None
    good: np.ndarray | None = None
    waves: np.ndarray | None = None
    npix: np.ndarray | None = None
    labels: list | None = None

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "cube")

    @property
    def uniform(self) -> bool:
        """Every row on the one shared axis, with no padding (spectra copied as they are)."""
        return self.wave is not None and self.npix is None

    def wave_row(self, k: int) -> np.ndarray:
        """The spectral axis of row ``k`` (its own pixels only)."""
        w = self.wave if self.waves is None else self.waves[k]
        return w if self.npix is None else w[:int(self.npix[k])]

    def row_length(self, k: int) -> int:
        return int(self.npix[k]) if self.npix is not None else self.flux.shape[1]

    def distinct_waves(self, rows) -> list:
        """The different spectral axes of ``rows``."""
        if self.uniform:
            return [self.wave]
        seen: dict = {}
        for k in rows:
            w = self.wave_row(int(k))
            seen.setdefault((len(w), w.tobytes()), w)
        return list(seen.values())

    @property
    def wave_unit(self) -> str:
        return self.meta.get("wave_unit", "")

    @property
    def flux_unit(self) -> str:
        return self.meta.get("flux_unit", "")


def _text(v) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v).strip()


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


class Catalog:
    """The files of a store (or a release) as its index lists them."""

    def __init__(self, root, index_path):
        from ..query import load_index

        self.root = Path(root).resolve()
        self.index_path = Path(index_path)
        self.index = load_index(self.index_path, None, allow_stale=True)
        self.entries: dict[bytes, Entry] = {}
        # Every row is read here, once: as one array (a companion's columns assembled into rows,
        # not a row at a time).
        files = np.asarray(self.index.files)
        names = files.dtype.names
        # FITS logicals ('T'/'F' bytes on disk) through the index's own reader
        current = (np.asarray(self.index.raw("current"), dtype=bool) if "current" in names
                   else np.ones(len(files), dtype=bool))
        for i in range(len(files)):
            r = files[i]
            path = _text(r["path"])
            locator = _text(r["locator"]) if "locator" in names else ""
            # one key per row: a file with several objects (MaNGA DAP maps, HDF5) has a row each
            key = ids.path_key(path + locator)
            if key in self.entries:
                raise SfngError(f"two index rows share the id key of {path + locator!r}")
            naxis = tuple(int(r[f"naxis{k}"]) for k in range(1, int(r["naxis"]) + 1) if f"naxis{k}" in names)
            self.entries[key] = Entry(
                key, path, i, _text(r["survey"]), _text(r["galaxy"]), _text(r["product"]),
                _text(r["tracer"]), _text(r["bunit"]), _text(r["sha256"]), int(r["size"]),
                _num(r["mtime"]), _num(r["ra"]), _num(r["dec"]), _num(r["fov"]), naxis,
                _text(r["ctype3"]), _text(r["cunit3"]), _num(r["restfrq"]), _text(r["spec_unit"]), locator,
                int(r["hdu"]) if "hdu" in names else 0,
                _num(r["spec_min"]) if "spec_min" in names else float("nan"),
                _num(r["spec_max"]) if "spec_max" in names else float("nan"),
                _text(r["version"]) if "version" in names else "",
                bool(current[i]),
                _text(r["spec_type"]) if "spec_type" in names else "",
                _text(r["extra"]) if "extra" in names else "")
        self.by_row = {e.row: e for e in self.entries.values()}

    def entry(self, key: bytes) -> Entry:
        e = self.entries.get(key)
        if e is None:
            raise NotFound("no such spectrum or file in this store")
        return e

    def file_path(self, e: Entry) -> Path:
        """The file's absolute path, refused if it resolves outside the root."""
        p = (self.root / e.path).resolve()
        try:
            p.relative_to(self.root)
        except ValueError:
            raise NotFound("no such file in this store") from None
        if not p.is_file():
            raise NotFound(f"{Path(e.path).name}: the file is missing from the store")
        return p

    def surveys(self) -> list[str]:
        return sorted({e.survey for e in self.entries.values()})


# ---------------------------------------------------------------------------------------------
# The cube cache
# ---------------------------------------------------------------------------------------------

def _open_bytes(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise Changed(f"{path.name}: its bytes differ from the store's checksum; rebuild the index")
    return data


def _open_as_fits(e: Entry, raw: bytes):
    """The file's bytes as an astropy HDUList: FITS as it is, another format through its FITS
    form (the format registry's ``as_hdulist``: an HDF5 rest-frame cube of ``sfng ml prepare``)."""
    from astropy.io import fits

    from .. import formats

    if raw[:6] == b"SIMPLE" or e.is_fits:
        return fits.open(io.BytesIO(raw), memmap=False)
    fmt = formats.claim_name(e.name)
    hdul = None
    if fmt is not None:
        buf = io.BytesIO(raw)
        buf.name = e.name               # for the format's messages
        try:
            hdul = fmt.as_hdulist(buf)
        except (SfngError, OSError, KeyError, ValueError, TypeError) as exc:
            # a damaged file (a dataset or attribute missing, not HDF5 after all, no h5py here):
            # this file has no spectra to give, and the answer says which file and why
            raise Unreadable(f"{e.name}: cannot be read as a {fmt.name} file ({exc})") from None
    if hdul is None:
        raise Unreadable(f"{e.name}: not FITS, and its format ({fmt.name if fmt else 'none claims it'}) "
                         "has no FITS form; the service reads spectra from FITS files")
    return hdul


def _hdu_by_name(hdul, name):
    try:
        return hdul[name]
    except (KeyError, IndexError):
        return None


def _science(hdul, hdu: int = 0):
    """The cube HDU: the index row's own HDU when it is one, else the first cube in the file."""
    if 0 < hdu < len(hdul):
        h = hdul[hdu]
        if h.is_image and h.header.get("NAXIS", 0) >= 3 and h.header.get("NAXIS3", 0) > 1:
            return h
    for h in hdul:
        if h.header.get("NAXIS", 0) >= 3 and h.is_image and h.header.get("NAXIS3", 0) > 1:
            return h
    raise SfngError("no cube HDU (NAXIS >= 3) in the file")


def _spectral_axis(hdr, nspec: int, restfrq: float, n: int = 3) -> tuple[np.ndarray, str, str]:
    """(centres, unit, kind) of axis ``n`` from the WCS: wavelengths keep their unit (Angstrom),
    frequencies become radio velocities at the rest frequency, velocities km/s."""
    ctype = str(hdr.get(f"CTYPE{n}", "")).upper()
    cunit = str(hdr.get(f"CUNIT{n}", "")).strip()
    crval = float(hdr.get(f"CRVAL{n}", 0.0))
    crpix = float(hdr.get(f"CRPIX{n}", 1.0))
    cdelt = float(hdr.get(f"CDELT{n}", hdr.get(f"CD{n}_{n}", 1.0)))
    p = np.arange(nspec, dtype=float) + 1.0
    if ctype.startswith("WAVE") or ctype.startswith("AWAV"):
        if ctype.endswith("-LOG"):
            w = crval * np.exp(cdelt / crval * (p - crpix))
        else:
            w = crval + cdelt * (p - crpix)
        unit = cunit or "m"
        if unit.lower() in ("angstrom", "a"):
            unit = "Angstrom"
        return w, unit, "wavelength"
    lin = crval + cdelt * (p - crpix)
    if ctype.startswith("FREQ"):
        f0 = float(hdr.get("RESTFRQ", hdr.get("RESTFREQ", restfrq if np.isfinite(restfrq) else 0.0)) or 0.0)
        scale = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}.get(cunit.lower() or "hz", 1.0)
        if f0 > 0:
            return C_KMS * (1.0 - lin * scale / f0), "km/s", "velocity"
        return lin * scale, "Hz", "frequency"
    if ctype.startswith(("VRAD", "VELO", "VOPT", "FELO")):
        scale = {"m/s": 1e-3, "km/s": 1.0}.get(cunit.lower() or "m/s", 1e-3)
        return lin * scale, "km/s", "velocity"
    return lin, cunit, "spectral"


class CubeCache:
    """Cubes read once into ``<folder>/<sha256>/`` and memory-mapped from then on."""

    def __init__(self, catalog: Catalog, folder, keep: int = 64):
        self.catalog = catalog
        self.folder = Path(folder)
        self.keep = keep
        self._open: dict[str, Cube] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def cube(self, e: Entry) -> Cube:
        if not e.has_spectra:
            raise NotFound(f"{Path(e.path).name} is neither a cube nor a table of spectra: it has no spectra")
        # by content when the manifest gives the checksum (identical files share), else by path:
        # files without a checksum must never share one entry
        k = (e.sha256 or "path:" + ids.path_key(e.path + e.locator).hex(), e.hdu)
        c = self._open.get(k)
        if c is not None:
            return self._as_entry(c, e)
        with self._guard:
            lock = self._locks.setdefault(k, threading.Lock())
        with lock:
            c = self._open.get(k)
            if c is None:
                c = self._load(e)
                if len(self._open) >= self.keep:
                    self._open.pop(next(iter(self._open)))
                self._open[k] = c
        return self._as_entry(c, e)

    @staticmethod
    def _as_entry(c: Cube, e: Entry) -> Cube:
        """The cached spectra under ``e``'s own entry: identical files (the same bytes in two
        data versions, say) share one cache but each keeps its own path and version."""
        if c.entry is e:
            return c
        from dataclasses import replace

        return replace(c, entry=e)

    def _dir(self, e: Entry) -> Path:
        """``<sha256>`` of the file, ``-h<n>`` for a cube in HDU n > 0 (one file, several cubes)."""
        return self.folder / ((e.sha256 or ids.path_key(e.path).hex()) + (f"-h{e.hdu}" if e.hdu else ""))

    def _load(self, e: Entry) -> Cube:
        d = self._dir(e)
        if not (d / "meta.json").is_file():
            self._build(e, d)
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("version") != CACHE_VERSION or meta.get("sha256") != e.sha256:
            import shutil

            shutil.rmtree(d, ignore_errors=True)
            self._build(e, d)
            meta = json.loads((d / "meta.json").read_text())

        def load(name, mmap="r"):
            f = d / f"{name}.npy"
            return np.load(f, mmap_mode=mmap, allow_pickle=False) if f.is_file() else None

        labels = json.loads((d / "labels.json").read_text()) if (d / "labels.json").is_file() else None
        return Cube(e, load("flux"), load("ivar"), load("mask"), load("wave", None),
                    meta["nx"], meta["ny"], meta, load("pix_ra", None), load("pix_dec", None),
                    load("good", None), load("waves"), load("npix", None), labels)

    def _build(self, e: Entry, d: Path) -> None:
        import shutil
        import tempfile
        import warnings

        from astropy.io import fits
        from astropy.wcs import WCS

        path = self.catalog.file_path(e)
        raw = _open_bytes(path, e.sha256)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=".build-"))
        try:
            with _open_as_fits(e, raw) as hdul:
                if e.is_spectra:
                    meta = _build_spectra(hdul, e, tmp)
                    self._publish(tmp, d, meta)
                    return
                sci = _science(hdul, e.hdu)
                hdr = sci.header
                data = np.asarray(sci.data)
                while data.ndim > 3:        # a degenerate Stokes axis
                    data = data[0]
                nspec, ny, nx = data.shape
                flux = np.ascontiguousarray(data.reshape(nspec, ny * nx).T, dtype=np.float32)
                np.save(tmp / "flux.npy", flux, allow_pickle=False)
                err = _hdu_by_name(hdul, str(hdr.get("ERRDATA", "")).strip()) if hdr.get("ERRDATA") else None
                qual = _hdu_by_name(hdul, str(hdr.get("QUALDATA", "")).strip()) if hdr.get("QUALDATA") else None
                ivar = mask = None
                if err is not None and np.shape(err.data) == data.shape:
                    ivar = np.ascontiguousarray(np.asarray(err.data).reshape(nspec, ny * nx).T, dtype=np.float32)
                    np.save(tmp / "ivar.npy", ivar, allow_pickle=False)
                if qual is not None and np.shape(qual.data) == data.shape:
                    mask = np.ascontiguousarray(np.asarray(qual.data).reshape(nspec, ny * nx).T, dtype=np.int32)
                else:
                    mask = (~np.isfinite(flux)).astype(np.int32)
                np.save(tmp / "mask.npy", mask, allow_pickle=False)
                wave_hdu = _hdu_by_name(hdul, "WAVE")
                wave, wunit, wkind = _spectral_axis(hdr, nspec, e.restfrq)
                if wave_hdu is not None and np.shape(wave_hdu.data) == (nspec,):
                    wave = np.asarray(wave_hdu.data, dtype=float)
                np.save(tmp / "wave.npy", np.asarray(wave, dtype=np.float64), allow_pickle=False)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cel = WCS(hdr).celestial
                    yy, xx = np.mgrid[0:ny, 0:nx]
                    ra, dec = cel.all_pix2world(xx.ravel().astype(float), yy.ravel().astype(float), 0)
                np.save(tmp / "pix_ra.npy", np.asarray(ra, dtype=np.float64) % 360.0)
                np.save(tmp / "pix_dec.npy", np.asarray(dec, dtype=np.float64))
                bad_bit = 1 << 10 if qual is not None else 1   # DONOTUSE where a quality HDU says so
                good = np.isfinite(flux).any(axis=1) & (np.abs(np.nan_to_num(flux)).sum(axis=1) > 0)
                if qual is not None:
                    good &= ~((mask & bad_bit) != 0).all(axis=1)
                if ivar is not None:
                    good &= (ivar > 0).any(axis=1)
                np.save(tmp / "good.npy", good)
                bunit = str(hdr.get("BUNIT", "") or hdul[0].header.get("BUNIT", "") or e.bunit).strip()
                meta = {"version": CACHE_VERSION, "sha256": e.sha256, "path_key": e.key.hex(),
                        "nx": nx, "ny": ny, "nspec": nspec, "wave_unit": wunit, "axis": wkind,
                        "flux_unit": bunit, "has_ivar": ivar is not None, "has_mask": qual is not None,
                        "ctype3": str(hdr.get("CTYPE3", "")), "log": bool(str(hdr.get("CTYPE3", "")).upper().endswith("-LOG"))}
            self._publish(tmp, d, meta)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @staticmethod
    def _publish(tmp: Path, d: Path, meta: dict) -> None:
        """The built folder renamed into place (its meta.json last written, so a folder without
        one is never read)."""
        import shutil

        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, d)
        except OSError:
            if not (d / "meta.json").is_file():   # another process finished first otherwise
                raise
            shutil.rmtree(tmp, ignore_errors=True)


def _build_spectra(hdul, e: Entry, tmp: Path) -> dict:
    """A table of spectra (:mod:`sfng.serve.spectable`) or a one-dimensional spectrum image saved
    into ``tmp`` in the cache's row-per-spectrum form; its meta.json values returned."""
    from .resample import is_log
    from .spectable import NotSpectra, read

    k = e.hdu if 0 <= e.hdu < len(hdul) else 0
    try:
        if getattr(hdul[k], "columns", None) is not None:
            t = read(hdul, k)
        else:
            t = _one_spectrum(hdul[k], e)
    except NotSpectra as exc:
        raise NotFound(f"{e.name}: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:   # a column of text where numbers belong...
        raise NotFound(f"{e.name}: its spectra cannot be read: {' '.join(str(exc).split())[:200]}") from None
    n = len(t["flux"])
    for name in ("flux", "ivar", "mask"):
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(t[name]), allow_pickle=False)
    if "wave" in t:
        np.save(tmp / "wave.npy", np.asarray(t["wave"], dtype=np.float64), allow_pickle=False)
    else:
        np.save(tmp / "waves.npy", np.asarray(t["waves"], dtype=np.float64), allow_pickle=False)
    width = t["flux"].shape[1]
    if np.any(t["npix"] != width):
        np.save(tmp / "npix.npy", t["npix"], allow_pickle=False)
    np.save(tmp / "pix_ra.npy", np.asarray(t["ra"], dtype=np.float64))
    np.save(tmp / "pix_dec.npy", np.asarray(t["dec"], dtype=np.float64))
    with np.errstate(all="ignore"):
        good = np.isfinite(t["flux"]).any(axis=1)
        if t["meta"].get("has_ivar"):
            good &= (t["ivar"] > 0).any(axis=1)
    np.save(tmp / "good.npy", good)
    if any(t["labels"]):
        (tmp / "labels.json").write_text(json.dumps(t["labels"]))
    meta = dict(t["meta"], version=CACHE_VERSION, sha256=e.sha256, path_key=e.key.hex(), nx=n, ny=1,
                nspec=width, kind="table")
    meta["flux_unit"] = meta["flux_unit"] or e.bunit
    meta["log"] = bool("wave" in t and is_log(np.asarray(t["wave"])))
    return meta


def _one_spectrum(hdu, e: Entry) -> dict:
    """A one-dimensional spectrum image (one axis longer than 1, on the spectral WCS axis)."""
    from .spectable import NotSpectra

    hdr = hdu.header
    data = np.asarray(hdu.data, dtype=np.float64) if hdu.data is not None else None
    if data is None:
        raise NotSpectra("no data")
    sizes = [int(hdr.get(f"NAXIS{n}", 1)) for n in range(1, int(hdr.get("NAXIS", 0)) + 1)]
    long_axes = [n + 1 for n, s in enumerate(sizes) if s > 1]
    if len(long_axes) != 1:
        raise NotSpectra("not a one-dimensional spectrum")
    flux = data.ravel()[None, :]
    wave, unit, kind = _spectral_axis(hdr, flux.shape[1], e.restfrq, long_axes[0])
    return {"flux": flux.astype(np.float32), "ivar": np.full(flux.shape, np.nan, np.float32),
            "mask": (~np.isfinite(flux)).astype(np.int32), "npix": np.array([flux.shape[1]], np.int32),
            "wave": wave, "ra": np.array([e.ra]), "dec": np.array([e.dec]), "labels": [""],
            "meta": {"wave_unit": unit, "axis": kind, "flux_unit": str(hdr.get("BUNIT", "") or e.bunit).strip(),
                     "layout": "image", "has_ivar": False, "has_mask": False}}
