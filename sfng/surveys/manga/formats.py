"""The SDSS MaNGA product formats as registered with :mod:`sfng.formats`: DRP cubes, DAP maps,
Galaxy Zoo 3D files, the rest-frame cubes of ``sfng ml prepare`` in HDF5 and Multimodal-Universe
HDF5 samples.

Registered through the ``sfng.formats`` entry point (``pyproject.toml``), like any third-party
format; generic code never imports this module.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from ...formats import Format
from .facts import LANDING, READMES, declared
from .recognise import HDF5_RE, kind_from_headers, parse_name, recognise
from .restcube import is_hdf5_name


@lru_cache(maxsize=8192)
def _kind_by_name(name: str) -> str | None:
    """The product kind a file name announces (``hdf5`` for any HDF5 name), else None."""
    info = parse_name(name)
    return info["kind"] if info else None


_last_headers: list = [None, None]  # [headers, kind]: the object itself, so never a reused id


def _kind_of_headers(headers) -> str | None:
    """:func:`kind_from_headers`, once per file: the registry asks each MaNGA format in turn
    with the same headers."""
    if _last_headers[0] is not headers:
        _last_headers[:] = [headers, kind_from_headers(headers)]
    return _last_headers[1]


class _MangaFormat(Format):
    kind = ""

    def claims_name(self, name: str) -> bool:
        return _kind_by_name(os.path.basename(name)) == self.kind

    def recognise(self, path, headers=None) -> bool:
        kind = _kind_by_name(os.path.basename(str(path)))
        if kind is not None and kind != "hdf5":
            return kind == self.kind
        if kind is None:
            return headers is not None and _kind_of_headers(headers) == self.kind
        return False

    def landing(self, path):
        return LANDING[self.kind]

    def name_galaxy(self, path, resolver):
        from .identity import naming

        return naming(path, resolver)

    def identify(self, path, row=None):
        from .identity import identify

        return identify(path, row)

    def header_defaults(self, path, primary_header):
        """The reconstructed r-band PSF FWHM (RFWHM, arcsec) is a cube's and its maps' resolution:
        a circular beam for the minimum FITS rules."""
        try:
            fwhm = float(primary_header.get("RFWHM"))
        except (TypeError, ValueError):
            return None
        if not fwhm > 0:
            return None
        return {"BMAJ": fwhm / 3600.0, "BMIN": fwhm / 3600.0, "BPA": 0.0}

    def describe(self, path, headers=None, *, store_root=None, measure_depth: bool = False) -> list[dict]:
        from .describers import describe

        return describe(path, headers, store_root=store_root, measure_depth=measure_depth)

    def readme_text(self, survey: str) -> str | None:
        if survey not in READMES:
            return None
        from .identity import readme_text

        return readme_text(survey)


class DrpCube(_MangaFormat):
    name = "manga-drp-cube"
    description = "SDSS MaNGA DRP data cube (manga-PLATE-IFU-LOGCUBE.fits.gz, 24 HDUs)"
    kind = "cube"

    def index_headers(self, path, *, measure_depth: bool = False):
        """PRIMARY and FLUX parsed (the later HDUs walked for their sizes, as the validator reads
        them), plus, unless the cube is gzipped and no depth is measured, the names of HDUs 2-5
        (the LSF extension names :func:`describe_cube` looks for): one read for both."""
        from ...fitsheader import read_headers
        from .headers import is_gzip, scan_headers

        try:
            blocks = read_headers(path, until_image=True)
        except Exception:  # noqa: BLE001 - the validator and the describer read it again and say why
            return None, None
        if len(blocks) != 2 or str(blocks[1].header.get("EXTNAME", "")).strip() != "FLUX":
            return None, None
        headers = [b.header for b in blocks]
        if measure_depth or not is_gzip(path):
            try:
                later = scan_headers(path, keys_of=lambda i: frozenset(), max_hdus=6)
            except Exception:  # noqa: BLE001
                return blocks, None
            headers += later[2:]
        return blocks, headers


class DapMaps(_MangaFormat):
    name = "manga-dap-maps"
    description = "SDSS MaNGA DAP maps (manga-PLATE-IFU-MAPS-DAPTYPE.fits.gz, one row per line tracer)"
    kind = "maps"

    def science_hdu(self, path):
        # HDU 1 (SPX_SKYCOO) holds on-sky offsets in arcsec; the science is the line fluxes.
        return "EMLINE_GFLUX"


class Gz3d(_MangaFormat):
    name = "gz3d"
    description = "Galaxy Zoo 3D image and vote-count masks (gz3d_MANGAID_IFUSIZE_SUBJECT.fits.gz)"
    kind = "gz3d"

    def header_defaults(self, path, primary_header):
        return None


class RestCubeHdf5(Format):
    """``<NED>.manga_<PLATEIFU>_restcube.h5``: a rest-frame cube of ``sfng ml prepare
    --cube-format hdf5`` (layout: :mod:`.restcube`).  Asked before :class:`MmuHdf5`, which would
    otherwise claim every HDF5 name.  Its FITS twin (``..._restcube.fits``) is a plain FITS cube
    no format claims; this one is described from its attributes into the same columns."""

    name = "manga-restcube-hdf5"
    description = ("Rest-frame MaNGA cube of sfng ml prepare in HDF5 (NED.manga_PLATEIFU_restcube.h5: "
                   "FLUX, IVAR, MASK, WAVE, FITS cards as attributes)")

    def claims_name(self, name: str) -> bool:
        return is_hdf5_name(name)

    def landing(self, path):
        return ("derived", "MANGA")

    def describe(self, path, headers=None, *, store_root=None, measure_depth: bool = False) -> list[dict]:
        from .restcube import describe_hdf5

        return describe_hdf5(path, store_root=store_root)

    def as_hdulist(self, source):
        from .restcube import read, to_hdulist

        return to_hdulist(read(source))


class MmuHdf5(_MangaFormat):
    name = "mmu-hdf5"
    description = "Multimodal-Universe HDF5 parent sample (healpix=N/NNNN-of-MMMM.hdf5, one row per object)"
    kind = "hdf5"

    def claims_name(self, name: str) -> bool:
        return HDF5_RE.search(name) is not None

    def recognise(self, path, headers=None) -> bool:
        return HDF5_RE.search(os.path.basename(str(path))) is not None and recognise(path) == "hdf5"

    def ingest_refusal(self, path) -> str | None:
        return ("a Multimodal-Universe HDF5 file holds many galaxies and its healpix=/ folders "
                "matter: copy the tree under derived/MMU/ as it is (sfng export hdf5 writes "
                "there); it is indexed, not ingested")

    def name_galaxy(self, path, resolver):
        return None

    def identify(self, path, row=None):
        # one row per object, of many galaxies: each row names its own (GZ3D columns: the
        # MaNGA-ID); the file as a whole names none
        from .identity import identify

        return identify(path, row) if row is not None else []


class Catalogue(Format):
    """DRPall, DAPall and the GZ3D metadata table: survey catalogues, not sky products."""

    name = "manga-catalogue"
    description = "SDSS MaNGA DRPall/DAPall and GZ3D metadata catalogues (companion tables)"
    indexed = False

    def _match(self, name: str):
        for entry in declared()["catalogues"].values():
            if re.match(entry["pattern"], name):
                return entry
        return None

    def claims_name(self, name: str) -> bool:
        return self._match(os.path.basename(name)) is not None

    def landing(self, path):
        entry = self._match(os.path.basename(str(path)))
        return ("tables", entry["survey"]) if entry else None


#: What the ``sfng.formats`` entry point names.
FORMATS = (DrpCube, DapMaps, Gz3d, RestCubeHdf5, MmuHdf5, Catalogue)
