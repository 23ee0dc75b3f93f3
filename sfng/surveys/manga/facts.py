"""Facts about SDSS MaNGA DR17 products (SDSS data model; Drory et al. 2015, AJ 149, 77 for the
bundles): the numeric constants here, and the declared data of ``data/manga.yaml`` (versions,
where each product kind lands, the SAS path templates, the survey READMEs sfng writes).

Angles are in degrees unless a name says arcsec; wavelengths in Angstrom; velocities in km/s.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: IFU size (fibres) -> bundle diameter in arcsec, vertex to vertex of the hexagon (2.5 arcsec
#: fibre pitch: 19 fibres = 5 along the long diagonal -> 12.5 arcsec).
BUNDLE_DIAMETER = {7: 7.5, 19: 12.5, 37: 17.5, 61: 22.5, 91: 27.5, 127: 32.5}

#: IFU size -> side of the DRP cube's spaxel grid (0.5 arcsec spaxels).
SPAXEL_GRID = {7: 24, 19: 34, 37: 44, 61: 54, 91: 64, 127: 74}

SPAXEL_ARCSEC = 0.5

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

FALLBACK_SOURCE = "manga-fallback"

POSITION_RADIUS_ARCSEC = 3.0


@lru_cache(maxsize=1)
def declared() -> dict:
    """The parsed ``data/manga.yaml`` (read once)."""
    from ... import yamlio

    return yamlio.safe_load((Path(__file__).parent / "data" / "manga.yaml").read_text(encoding="utf-8"))

VERSIONS = declared()["versions"]
#: Where each product lands: kind -> (tree, survey folder).
LANDING = {kind: (v["tree"], v["survey"]) for kind, v in declared()["landing"].items()}
#: survey folder -> (README metadata, README prose) of the README sfng writes there.
READMES = {s: (v["metadata"] or {}, v["prose"]) for s, v in declared()["readmes"].items()}
DR17_DRPVER = VERSIONS["drpver"]
DR17_DAPVER = VERSIONS["dapver"]
DR17_DAPTYPE = VERSIONS["daptype"]
GZ3D_VERSION = VERSIONS["gz3dver"]
