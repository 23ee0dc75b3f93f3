"""``sfng demo``: build a small, realistic store offline and walk the main job end to end.

The demo generates, deterministically, the survey folders as surveys publish them (file names,
units, axis conventions and header habits of THINGS, HERACLES, the Nobeyama CO atlas, BIMA SONG,
PAWS, SINGS/KINGFISH and an H-alpha survey) for real nearby galaxies at their real positions,
the main job then runs on them (:mod:`sfng.demo.steps`).

The galaxy list carries NED preferred names, positions (deg, J2000) and distances (Mpc) from
the literature; it is the demo's only "truth" and the tests check the use-case answers against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..readme import render
from .galaxies import galaxy

# ---------------------------------------------------------------------------------------------
# Surveys and their files, as published.
# ---------------------------------------------------------------------------------------------

HI_HZ = 1.420405752e9
CO10_HZ = 115.2712018e9
CO21_HZ = 230.538e9
ARCSEC = 1 / 3600.0


@dataclass
class DemoFile:
    """One file as a survey publishes it."""

    name: str
    galaxy: str                    # any alias of a GALAXIES entry
    kind: str                      # "cube" or "image"
    header: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    shape: tuple = (40, 40)        # (ny, nx) or (nchan, ny, nx) or (1, nchan, ny, nx)
    pixel_arcsec: float = 6.0
    projection: str = "SIN"
    noise: float = 0.0             # rms per pixel per channel, in BUNIT
    signal: float = 1.0            # peak of the model galaxy, in BUNIT


@dataclass
class DemoSurvey:
    name: str
    tree: str
    readme_meta: dict
    readme_prose: str
    files: list


def _things(name, gal, *, spec="FREQ", aips_beam=False, beam=(6.0, 5.6, 30.0)):
    g = galaxy(gal)
    nchan, dv = 24, 5.2  # km/s
    hdr = {"BUNIT": "JY/BEAM", "OBJECT": gal.replace(" ", ""), "TELESCOP": "VLA",
           "RESTFREQ": HI_HZ, "SPECSYS": "BARYCENT", "EPOCH": 2000.0, "EQUINOX": 2000.0}
    if spec == "FREQ":
        dnu = -dv * 1e3 / 299792458.0 * HI_HZ
        hdr.update({"CTYPE3": "FREQ", "CRVAL3": HI_HZ * (1 - g.vsys / 299792.458),
                    "CDELT3": dnu, "CRPIX3": nchan / 2 + 0.5, "CUNIT3": "HZ"})
    else:  # AIPS velocity axis in m/s, no CUNIT3
        hdr.update({"CTYPE3": "VELO-HEL", "CRVAL3": g.vsys * 1e3, "CDELT3": dv * 1e3,
                    "CRPIX3": nchan / 2 + 0.5})
    history = ["AIPS   IMNAME='" + gal.replace(" ", "") + "' IMCLASS='NA_CUBE'"]
    if aips_beam:
        history.append(f"AIPS   CLEAN BMAJ=  {beam[0] / 3600:.4E} BMIN=  {beam[1] / 3600:.4E} BPA=  {beam[2]:.2f}")
    else:
        hdr.update({"BMAJ": beam[0] / 3600, "BMIN": beam[1] / 3600, "BPA": beam[2]})
    hdr.update({"CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 1.0, "CRPIX4": 1.0})
    return DemoFile(name, gal, "cube", hdr, history, shape=(1, nchan, 40, 40), pixel_arcsec=10.0,
                    noise=5.5e-4, signal=0.02)


def _heracles(name, gal, rms_k=0.022):
    hdr = {"OBJECT": gal, "TELESCOP": "IRAM 30m", "CTYPE3": "VRAD", "CUNIT3": "m/s",
           "CRVAL3": galaxy(gal).vsys * 1e3, "CDELT3": 2600.0, "CRPIX3": 15.5, "RESTFRQ": CO21_HZ,
           "SPECSYS": "LSRK", "REPUNC": rms_k}
    return DemoFile(name, gal, "cube", hdr, shape=(30, 40, 40), pixel_arcsec=6.0, noise=rms_k, signal=0.3)


def _nro(name, gal, rms_k=0.07):
    hdr = {"OBJECT": gal, "TELESCOP": "NRO45", "BUNIT": "K", "BMAJ": 15.0 / 3600, "BMIN": 15.0 / 3600,
           "BPA": 0.0, "CTYPE3": "VELO-LSR", "CRVAL3": galaxy(gal).vsys * 1e3, "CDELT3": 5000.0,
           "CRPIX3": 12.5, "RESTFRQ": CO10_HZ, "REPUNC": rms_k}
    return DemoFile(name, gal, "cube", hdr, shape=(24, 40, 40), pixel_arcsec=7.5, noise=rms_k, signal=0.5)


def _bima(name, gal, rms_jyb=0.05, beam=(6.2, 5.4, 12.0)):
    hdr = {"OBJECT": gal, "TELESCOP": "BIMA", "BUNIT": "JY/BEAM", "BMAJ": beam[0] / 3600,
           "BMIN": beam[1] / 3600, "BPA": beam[2], "CTYPE3": "VELO-LSR", "CUNIT3": "M/S",
           "CRVAL3": galaxy(gal).vsys * 1e3, "CDELT3": 4060.0, "CRPIX3": 15.5, "RESTFRQ": CO10_HZ,
           "REPUNC": rms_jyb}
    return DemoFile(name, gal, "cube", hdr, shape=(30, 48, 48), pixel_arcsec=2.0, noise=rms_jyb, signal=1.0)


def _mips(name, gal):
    hdr = {"OBJECT": gal, "TELESCOP": "Spitzer", "INSTRUME": "MIPS", "WAVELENG": 24.0,
           "BUNIT": "MJy/sr", "BMAJ": 6.0 / 3600, "BMIN": 6.0 / 3600, "BPA": 0.0}
    return DemoFile(name, gal, "image", hdr, shape=(64, 64), pixel_arcsec=1.5, projection="TAN",
                    noise=0.05, signal=5.0)


def _spire(name, gal):
    hdr = {"OBJECT": gal, "TELESCOP": "Herschel", "INSTRUME": "SPIRE", "WAVELENG": 250.0,
           "BUNIT": "MJy/sr", "BMAJ": 18.2 / 3600, "BMIN": 18.2 / 3600, "BPA": 0.0}
    return DemoFile(name, gal, "image", hdr, shape=(40, 40), pixel_arcsec=6.0, projection="TAN",
                    noise=0.5, signal=20.0)


def _halpha(name, gal):
    hdr = {"OBJECT": gal, "TELESCOP": "KPNO 2.1m", "FILTER": "KP1563"}
    return DemoFile(name, gal, "image", hdr, shape=(64, 64), pixel_arcsec=0.9, projection="TAN",
                    noise=2e-18, signal=1e-15)


def _paws(name, gal):
    # PdBI/GILDAS habit: a degenerate Stokes axis written with CDELT4 = 0, which makes the
    # WCS matrix singular (the specification's "I'm looking at you, PdBI").
    hdr = {"OBJECT": "M51", "TELESCOP": "PdBI+30m", "BUNIT": "K", "BMAJ": 1.16 / 3600,
           "BMIN": 0.97 / 3600, "BPA": 73.0, "CTYPE3": "VELO-LSR", "CRVAL3": 463e3, "CDELT3": 5000.0,
           "CRPIX3": 10.5, "RESTFRQ": CO10_HZ, "REPUNC": 0.4,
           "CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 0.0, "CRPIX4": 1.0}
    return DemoFile(name, gal, "cube", hdr, shape=(1, 20, 48, 48), pixel_arcsec=0.3, noise=0.4, signal=3.0)


CITE = {
    "THINGS": "Citation: Walter, F. et al. (2008), AJ, 136, 2563 (2008AJ....136.2563W)\n"
              "URL: http://www.mpia.de/THINGS/Data.html",
    "HERACLES": "Citation: Leroy, A. K. et al. (2009), AJ, 137, 4670 (2009AJ....137.4670L)\n"
                "URL: https://www.iram.fr/ILPA/LP001/",
    "NRO45": "Citation: Kuno, N. et al. (2007), PASJ, 59, 117 (2007PASJ...59..117K)\n"
             "URL: https://www.nro.nao.ac.jp/~nro45mrt/html/COatlas/",
    "BIMASONG": "Citation: Helfer, T. T. et al. (2003), ApJS, 145, 259 (2003ApJS..145..259H)\n"
                "URL: https://ned.ipac.caltech.edu/level5/March02/Helfer/",
    "PAWS": "Citation: Schinnerer, E. et al. (2013), ApJ, 779, 42 (2013ApJ...779...42S)\n"
            "URL: https://www2.mpia-hd.mpg.de/PAWS/",
    "SINGS": "Citation: Kennicutt, R. C. et al. (2003), PASP, 115, 928 (2003PASP..115..928K)\n"
             "URL: https://irsa.ipac.caltech.edu/data/SPITZER/SINGS/",
    "KINGFISH": "Citation: Kennicutt, R. C. et al. (2011), PASP, 123, 1347 (2011PASP..123.1347K)\n"
                "URL: https://irsa.ipac.caltech.edu/data/Herschel/KINGFISH/",
    "HALPHA": "Citation: Kennicutt, R. C. et al. (2008), ApJS, 178, 247 (2008ApJS..178..247K)\n"
              "URL: https://irsa.ipac.caltech.edu/data/SPITZER/LVL/",
}


def surveys() -> list[DemoSurvey]:
    """The demo's survey folders, as published."""
    things = [
        _things("NGC_628_NA_CUBE_THINGS.FITS", "NGC 628"),
        _things("NGC_4826_NA_CUBE_THINGS.FITS", "NGC 4826"),
        _things("NGC_5194_NA_CUBE_THINGS.FITS", "NGC 5194", beam=(5.8, 5.6, -70.0)),
        _things("NGC_2403_NA_CUBE_THINGS.FITS", "NGC 2403", spec="VELO", aips_beam=True, beam=(8.8, 7.7, 25.3)),
        _things("NGC_3184_NA_CUBE_THINGS.FITS", "NGC 3184", beam=(7.5, 6.9, 84.0)),
        _things("NGC_6946_NA_CUBE_THINGS.FITS", "NGC 6946", spec="VELO", beam=(6.0, 5.6, 7.2)),
        _things("NGC_7793_NA_CUBE_THINGS.FITS", "NGC 7793", beam=(15.6, 10.8, 11.4)),
    ]
    heracles = [_heracles(f"{n}_hera_co21.cube.fits", n)
                for n in ("NGC0628", "NGC3184", "NGC3627", "NGC4254", "NGC4736", "NGC5055", "NGC6946")]
    nro = [_nro(f"{n.replace(' ', '').lower()}.co10.fits", n)
           for n in ("NGC 628", "IC 342", "NGC 2403", "NGC 3184", "NGC 3521", "NGC 3627", "NGC 4254",
                     "NGC 4736", "NGC 5055", "NGC 5194", "NGC 6946")]
    bima = [_bima(f"{n.replace(' ', '')}.co.cmmsk.fits", n, rms_jyb=rms)
            for n, rms in (("NGC628", 0.05), ("IC342", 0.06), ("NGC3521", 0.5), ("NGC3627", 0.05),
                           ("NGC4254", 0.04), ("NGC4826", 0.05), ("NGC5194", 0.045), ("NGC6946", 0.05))]
    sings = [_mips(f"{n.replace(' ', '').lower()}_v7.phot.1.fits", n)
             for n in ("NGC 628", "IC 342", "NGC 3184", "NGC 3521", "NGC 3627", "NGC 4254", "NGC 4736",
                       "NGC 4826", "NGC 5055", "NGC 5194", "NGC 6946")]
    kingfish = [_spire(f"{n.replace(' ', '')}_SPIRE_250_scanamorphos_v16.fits", n)
                for n in ("NGC628", "IC342", "NGC3521", "NGC5194", "NGC6946")]
    halpha = [_halpha(f"{n.replace(' ', '')}_HA_SUB_dr4.fits", n)
              for n in ("NGC628", "NGC3184", "NGC3627", "NGC4254", "NGC4736", "NGC5055", "NGC5194",
                        "NGC6946", "NGC7793")]
    paws = [_paws("paws_pdbi+30m_12co10_1as_cube.fits", "NGC 5194")]
    return [
        DemoSurvey("THINGS", "data", {"MAPTYPE": "HI"},
                   "THINGS, The HI Nearby Galaxy Survey: VLA 21-cm line cubes (natural weighting).\n"
                   + CITE["THINGS"] + "\nAIPS wrote these files: some carry the beam only in a HISTORY card.\n", things),
        DemoSurvey("HERACLES", "data",
                   {"BUNIT": "K", "BMAJ": 3.7222e-3, "BMIN": 3.7222e-3, "BPA": 0.0, "MAPTYPE": "CO(2-1)"},
                   "HERACLES: IRAM 30m HERA CO(2-1) cubes, T_mb scale, 13.4 arcsec beam.\n" + CITE["HERACLES"]
                   + "\nUnits and beam are given only here; velocity axes are radio velocities in m/s.\n", heracles),
        DemoSurvey("NRO45", "data", {"MAPTYPE": "CO(1-0)", "SPECRES": 5000.0},
                   "Nobeyama CO Atlas of Nearby Spiral Galaxies: 45m 12CO(1-0) cubes, T_mb, 15 arcsec.\n"
                   + CITE["NRO45"] + "\n", nro),
        DemoSurvey("BIMASONG", "data", {"MAPTYPE": "CO(1-0)"},
                   "BIMA Survey of Nearby Galaxies (BIMA SONG): CO(1-0) interferometer+single-dish cubes.\n"
                   + CITE["BIMASONG"] + "\n", bima),
        DemoSurvey("PAWS", "data", {"MAPTYPE": "CO(1-0)"},
                   "PAWS, the PdBI Arcsecond Whirlpool Survey: CO(1-0) in M51 at 1 arcsec.\n" + CITE["PAWS"]
                   + "\nCaveat: the cube's degenerate Stokes axis has CDELT4 = 0 (singular WCS matrix).\n", paws),
        DemoSurvey("SINGS", "data", {"MAPTYPE": "MIPS24"},
                   "SINGS: Spitzer MIPS 24 micron images, MJy/sr.\n" + CITE["SINGS"] + "\n", sings),
        DemoSurvey("KINGFISH", "data", {},
                   "KINGFISH: Herschel SPIRE 250 micron images (Scanamorphos v16), MJy/sr.\n" + CITE["KINGFISH"]
                   + "\n", kingfish),
        DemoSurvey("HALPHA", "data",
                   {"BUNIT": "erg/s/cm2/arcsec2", "BMAJ": 5.0e-4, "BMIN": 5.0e-4, "BPA": 0.0, "MAPTYPE": "HALPHA"},
                   "Continuum-subtracted H-alpha images (SINGS/LVL ancillary data), surface brightness.\n"
                   + CITE["HALPHA"] + "\nUnits and seeing are given only here.\n", halpha),
    ]


# ---------------------------------------------------------------------------------------------
# Writing the files
# ---------------------------------------------------------------------------------------------

def _model(shape, signal, noise, rng):
    """A smooth exponential disc with a Gaussian line profile, plus Gaussian noise."""
    ny, nx = shape[-2], shape[-1]
    y, x = np.mgrid[0:ny, 0:nx]
    r = np.hypot((x - (nx - 1) / 2) / (nx / 6), (y - (ny - 1) / 2) / (ny / 8))
    disc = signal * np.exp(-r)
    if len(shape) == 2:
        data = disc
    else:
        nchan = shape[-3]
        k = np.arange(nchan)
        line = np.exp(-0.5 * ((k - (nchan - 1) / 2) / (nchan / 8)) ** 2)
        line[: nchan // 5] = 0.0  # emission-free end channels, so noise can be measured
        line[-nchan // 5:] = 0.0
        data = line[:, None, None] * disc[None]
        if len(shape) == 4:
            data = data[None]
    data = data + rng.normal(0.0, noise, size=data.shape) if noise else data
    return data.astype(np.float32)


def write_file(df: DemoFile, path: Path, rng) -> None:
    """Write one demo file with astropy (header cards in the order a survey would write them)."""
    from astropy.io import fits

    g = galaxy(df.galaxy)
    data = _model(df.shape, df.signal, df.noise, rng)
    hdu = fits.PrimaryHDU(data)
    h = hdu.header
    ny, nx = df.shape[-2], df.shape[-1]
    h["CTYPE1"] = f"RA---{df.projection}"
    h["CRVAL1"] = g.ra
    h["CDELT1"] = -df.pixel_arcsec * ARCSEC
    h["CRPIX1"] = (nx + 1) / 2
    h["CUNIT1"] = "deg"
    h["CTYPE2"] = f"DEC--{df.projection}"
    h["CRVAL2"] = g.dec
    h["CDELT2"] = df.pixel_arcsec * ARCSEC
    h["CRPIX2"] = (ny + 1) / 2
    h["CUNIT2"] = "deg"
    for key, value in df.header.items():
        h[key] = value
    for line in df.history:
        h.add_history(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, output_verify="silentfix")


@dataclass
class DemoTree:
    """Where the demo put things: ``surveys/`` as published, ``store/`` the sfng store."""

    root: Path
    surveys_dir: Path
    store_dir: Path
    files: dict = field(default_factory=dict)  # survey -> [file names]


def make_surveys(root) -> DemoTree:
    """Write the published survey folders under ``root/surveys`` (deterministic)."""
    root = Path(root).absolute()
    tree = DemoTree(root, root / "surveys", root / "store")
    rng = np.random.default_rng(20081201)
    for s in surveys():
        folder = tree.surveys_dir / s.name
        folder.mkdir(parents=True, exist_ok=True)
        readme = folder / f"{s.name}_README.txt"
        if not readme.exists():
            readme.write_text(render(s.readme_meta, s.readme_prose) if s.readme_meta
                              else s.readme_prose, encoding="utf-8")
        for df in s.files:
            target = folder / df.name
            if not target.exists():
                write_file(df, target, rng)
            else:
                _model(df.shape, df.signal, df.noise, rng)  # keep the random stream the same
        tree.files[s.name] = [f.name for f in s.files]
    # MaNGA: cubes, DAP maps and GZ3D files of real MaNGA targets, as the SAS publishes them.
    from .manga import write_demo_files

    tree.files.update(write_demo_files(tree.surveys_dir))
    return tree
