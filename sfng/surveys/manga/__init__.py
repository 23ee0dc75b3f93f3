"""SDSS MaNGA and Galaxy Zoo 3D products in the store: recognise them, describe them as index rows,
say where and under which galaxy name they land, fetch them from the SAS and export them as
Multimodal-Universe HDF5.

Products (real layouts in ``docs/manga.md``; the SDSS data model is the reference): DRP cubes,
DAP maps, GZ3D files, Multimodal-Universe HDF5 parent samples.  Facts (versions, landing rules,
SAS path templates, README texts) are declared in ``data/manga.yaml``.

Modules: :mod:`.facts` (constants and declared data), :mod:`.recognise` (names and headers),
:mod:`.geometry`, :mod:`.headers` (reading only the needed cards), :mod:`.rows`,
:mod:`.describers` (index rows), :mod:`.identity` (galaxy names, READMEs), :mod:`.formats` (the
registry plugins), :mod:`.fetch` (``sfng fetch manga``), :mod:`.export_hdf5` (``sfng export hdf5``),
:mod:`.restcube` (the rest-frame cubes of ``sfng ml prepare`` in HDF5: layout, reader, index rows).
"""

from ...extras import parse_extra
from .describers import (channels, describe, describe_cube, describe_gz3d, describe_hdf5, describe_maps,
                       gz3d_metadata, load_redshifts, measure_cube, measure_map)
from .facts import (BUNDLE_DIAMETER, C_KMS, DAP_DONOTUSE, DR17_DAPTYPE, DR17_DAPVER, DR17_DRPVER,
                    DRP_DONOTUSE, FALLBACK_SOURCE, GZ3D_HDUS, GZ3D_PIXEL_ARCSEC, GZ3D_VERSION, LANDING,
                    MAPS_TRACERS, POSITION_RADIUS_ARCSEC, READMES, SPAXEL_ARCSEC, SPAXEL_GRID)
from .geometry import hexagon, tan_to_sky, wave_log_axis, wcs_corners
from .headers import is_gzip, open_fits, scan_headers
from .identity import NameChoice, fallback_name, galaxy_name, naming, product_identity, readme_text
from .recognise import ifu_size, landing, parse_name, recognise
from .rows import full_row

__all__ = [
    "BUNDLE_DIAMETER", "C_KMS", "DAP_DONOTUSE", "DR17_DAPTYPE", "DR17_DAPVER", "DR17_DRPVER",
    "DRP_DONOTUSE", "FALLBACK_SOURCE", "GZ3D_HDUS", "GZ3D_PIXEL_ARCSEC", "GZ3D_VERSION", "LANDING",
    "MAPS_TRACERS", "POSITION_RADIUS_ARCSEC", "READMES", "SPAXEL_ARCSEC", "SPAXEL_GRID",
    "NameChoice", "channels", "describe", "describe_cube", "describe_gz3d", "describe_hdf5",
    "describe_maps", "fallback_name", "full_row", "galaxy_name", "gz3d_metadata", "hexagon",
    "ifu_size", "is_gzip", "landing", "load_redshifts", "measure_cube", "measure_map",
    "naming", "open_fits", "parse_extra", "parse_name", "product_identity", "readme_text",
    "recognise", "scan_headers", "tan_to_sky", "wave_log_axis", "wcs_corners",
]
