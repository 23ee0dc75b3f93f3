"""Generate realistic MaNGA DRP cubes, DAP maps and GZ3D files (tests, demo, benchmarks, mirrors).

Headers come from the real DR17 files of 8485-1901 (``sfng/demo/data/manga_headers.json.gz``: every
card of every HDU, in order, from the SDSS data model; see :func:`build_templates`), with the
target's own identity, position and PSF substituted.  Data are a smooth model galaxy inside the
hexagonal bundle with noise, zeros and DONOTUSE masks outside it, as in the real products.
``nwave`` shrinks the spectral axis (the channels are subsampled, so the WAVE-LOG axis keeps
its real 3622-10354 Angstrom coverage with a coarser step).  Output is deterministic: the same
call writes the same bytes (gzip with mtime 0).
"""

from __future__ import annotations

import gzip
import io
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..surveys.manga.facts import (BUNDLE_DIAMETER, C_KMS, DAP_DONOTUSE, DR17_DAPTYPE, DRP_DONOTUSE,
                                   GZ3D_PIXEL_ARCSEC, SPAXEL_ARCSEC, SPAXEL_GRID)
from ..surveys.manga.recognise import ifu_size

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
    return write_demo(Path(surveys_dir), DEMO_TARGETS)


CUBE_KEY = "manga-8485-1901-LOGCUBE"
MAPS_KEY = "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP"
NWAVE_DR17 = 4563
#: DR15/DR16 cubes: DISP/PREDISP where DR17 has LSFPOST/LSFPRE (SDSS data-model changelog).
OLD_LSF = {"LSFPOST": "DISP", "LSFPRE": "PREDISP"}
_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "TFIELDS",
               "DATASUM", "CHECKSUM"}


def build_templates(corpus_dir) -> dict:
    """The header templates from a folder of real per-HDU ``.hdr`` files (one sub-folder per file)."""
    from astropy.io import fits

    out = {}
    for prod in sorted(p for p in Path(corpus_dir).iterdir() if p.is_dir()):
        hdus = []
        for f in sorted(prod.glob("*.hdr")):
            h = fits.Header.fromtextfile(f)
            cards = [[c.keyword, c.value, c.comment] for c in h.cards
                     if c.keyword not in _STRUCTURAL and not c.keyword.startswith("NAXIS")
                     and c.keyword not in ("COMMENT", "HISTORY", "")]
            hdus.append({"extname": h.get("EXTNAME", "PRIMARY"), "xtension": h.get("XTENSION", ""),
                         "bitpix": h["BITPIX"],
                         "shape": [h.get(f"NAXIS{i}") for i in range(1, h.get("NAXIS", 0) + 1)],
                         "cards": cards})
        out[prod.name] = hdus
    return out


@lru_cache(maxsize=1)
def templates() -> dict:
    from importlib import resources

    raw = (resources.files("sfng.demo") / "data" / "manga_headers.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def _header(cards, subs: dict):
    from astropy.io import fits

    h = fits.Header()
    for key, value, comment in cards:
        if key in subs:
            value = subs[key]
        h.append(fits.Card(key, value, comment), end=True)
    return h


def _hexmask(grid: int, size: int) -> np.ndarray:
    """True inside the bundle hexagon on a grid of 0.5 arcsec spaxels centred at CRPIX."""
    c = grid // 2  # CRPIX - 1 (0-based): 34 -> 17, as the real cubes
    y, x = np.mgrid[0:grid, 0:grid]
    dx = (x - c) * SPAXEL_ARCSEC
    dy = (y - c) * SPAXEL_ARCSEC
    r = BUNDLE_DIAMETER[size] / 2.0
    # a hexagon with vertices east and west: |dy| <= r*sqrt(3)/2 and the slanted sides
    return (np.abs(dy) <= r * math.sqrt(3) / 2) & (np.abs(dy) <= math.sqrt(3) * (r - np.abs(dx)))


def _identity_subs(t, grid) -> dict:
    plate, ifu = (int(x) for x in t.plateifu.split("-"))
    return {"IFURA": t.ra, "IFUDEC": t.dec, "OBJRA": t.ra, "OBJDEC": t.dec, "CENRA": round(t.ra, 5),
            "CENDEC": round(t.dec, 5), "PLATEID": plate, "IFUDSGN": ifu, "PLATEIFU": t.plateifu,
            "MANGAID": t.mangaid, "GFWHM": round(t.rfwhm * 1.0005, 5), "RFWHM": t.rfwhm,
            "IFWHM": round(t.rfwhm * 0.9964, 5), "ZFWHM": round(t.rfwhm * 0.9883, 5),
            "CRVAL1": t.ra, "CRVAL2": t.dec, "CRPIX1": float(grid // 2 + 1),
            "CRPIX2": float(grid // 2 + 1), "LATPOLE": t.dec}


def _restore_cards(data: bytes, tmpl) -> bytes:
    """Put back the cards astropy drops on writing (``BSCALE = 1.0``/``BZERO = 0.0`` of the real
    headers), at their real place, re-padding each header; data units are copied unchanged."""
    from astropy.io import fits

    out = io.BytesIO()
    blocks = _blocks_of(data)
    for block, h in zip(blocks, tmpl):
        text = data[block[0]:block[1]].decode("latin-1")
        cards = [text[i:i + 80] for i in range(0, len(text), 80)]
        end = next(i for i, c in enumerate(cards) if c.startswith("END     ") or c.rstrip() == "END")
        cards = cards[:end]
        have = {c[:8].rstrip() for c in cards}
        keys = [k for k, _, _ in h["cards"]]
        for k, v, com in h["cards"]:
            if k in ("BSCALE", "BZERO") and k not in have:
                prev = keys[keys.index(k) - 1]
                at = next((i + 1 for i, c in enumerate(cards) if c[:8].rstrip() == prev), len(cards))
                cards.insert(at, str(fits.Card(k, v, com)).ljust(80))
                have.add(k)
        head = "".join(cards) + "END".ljust(80)
        head += " " * (-len(head) % 2880)
        out.write(head.encode("latin-1"))
        out.write(data[block[1]:block[2]])
    return out.getvalue()


def _blocks_of(data: bytes):
    """``(header start, data start, next HDU start)`` of every HDU of a FITS byte string."""
    out = []
    pos = 0
    n = len(data)
    while pos < n and data[pos:pos + 8] in (b"SIMPLE  ", b"XTENSION"):
        i = pos
        while True:
            block = data[i:i + 2880]
            cards = [block[j:j + 80] for j in range(0, 2880, 80)]
            i += 2880
            if any(c[:8] == b"END     " for c in cards):
                break
        head = data[pos:i].decode("latin-1")
        kv = {}
        for j in range(0, len(head), 80):
            c = head[j:j + 80]
            if c[8:10] == "= ":
                kv[c[:8].rstrip()] = c[10:].split("/")[0].strip()
        naxis = int(kv.get("NAXIS", 0))
        size = 0
        if naxis:
            size = abs(int(kv["BITPIX"])) // 8 * int(kv.get("GCOUNT", 1)) * (
                int(kv.get("PCOUNT", 0)) + math.prod(int(kv[f"NAXIS{k}"]) for k in range(1, naxis + 1)))
        end = i + -(-size // 2880) * 2880
        out.append((pos, i, end))
        pos = end
    return out


def _gzip_bytes(hdul, path: Path, tmpl=None) -> None:
    buf = io.BytesIO()
    hdul.writeto(buf, output_verify="silentfix")
    data = buf.getvalue()
    if tmpl is not None:
        data = _restore_cards(data, tmpl)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def cube_name(plateifu: str, wave: str = "LOG") -> str:
    return f"manga-{plateifu}-{wave}CUBE.fits.gz"


def maps_name(plateifu: str, daptype: str = DR17_DAPTYPE) -> str:
    return f"manga-{plateifu}-MAPS-{daptype}.fits.gz"


def gz3d_name(mangaid: str, ifusize: int, subject: int) -> str:
    return f"gz3d_{mangaid}_{ifusize}_{subject}.fits.gz"


def write_cube(path, target, *, nwave: int = 128, release: str = "DR17", seed: int = 0,
               noise: float = 0.05) -> Path:
    """A DRP LOGCUBE for ``target`` (a :class:`DemoTarget`) with every real HDU and keyword.

    ``noise`` is the 1-sigma per spaxel per channel in BUNIT (IVAR = 1/noise**2 in the bundle).
    ``release='DR15'`` writes DISP/PREDISP instead of LSFPOST/LSFPRE and VERSDRP3 v2_4_3.
    """
    from astropy.io import fits

    path = Path(path)
    rng = np.random.default_rng(seed)
    size = ifu_size(target.plateifu.split("-")[1])
    grid = SPAXEL_GRID[size]
    tmpl = templates()[CUBE_KEY]
    crval3 = next(v for k, v, _ in tmpl[1]["cards"] if k == "CRVAL3")
    cd33 = next(v for k, v, _ in tmpl[1]["cards"] if k == "CD3_3")
    step = -(-NWAVE_DR17 // nwave)  # subsampling keeps the coverage
    nwave = -(-NWAVE_DR17 // step)
    lnstep = cd33 / crval3 * step
    wave = crval3 * np.exp(lnstep * np.arange(nwave))
    subs = _identity_subs(target, grid)
    subs["CD3_3"] = round(crval3 * lnstep, 12)
    if release != "DR17":
        subs.update(VERSDRP2="v2_4_3", VERSDRP3="v2_4_3")
    inside = _hexmask(grid, size)
    y, x = np.mgrid[0:grid, 0:grid]
    c = grid // 2
    r = np.hypot(x - c, y - c) * SPAXEL_ARCSEC
    disc = np.exp(-r / 3.0)
    zline = 6564.61 * (1 + target.z)
    spec = 1.0 + 0.3 * (wave / 5000.0) + 4.0 * np.exp(-0.5 * ((wave - zline) / 3.0) ** 2)
    flux = (spec[:, None, None] * disc[None]).astype(np.float32)
    flux += rng.normal(0.0, noise, flux.shape).astype(np.float32)
    flux[:, ~inside] = 0.0
    ivar = np.where(inside[None], np.float32(1.0 / noise ** 2), np.float32(0.0)) * np.ones((nwave, 1, 1), np.float32)
    mask = np.where(inside[None], 0, 1 | DRP_DONOTUSE).astype(np.int32) * np.ones((nwave, 1, 1), np.int32)
    lsf = np.where(inside[None], (wave / 2000.0 / 2.355)[:, None, None], 0.0).astype(np.float32)
    specres = np.full(nwave, 2000.0) * (wave / 6000.0) ** 0.5

    hdus = []
    for i, h in enumerate(tmpl):
        ext = h["extname"]
        name = OLD_LSF.get(ext, ext) if release != "DR17" else ext
        hdr = _header(h["cards"], subs)
        if name != ext:
            hdr["EXTNAME"] = name
        if i == 0:
            hdus.append(fits.PrimaryHDU(header=hdr))
            continue
        if ext in ("FLUX", "IVAR", "MASK", "LSFPOST", "LSFPRE"):
            data = {"FLUX": flux, "IVAR": ivar, "MASK": mask}.get(ext, lsf if ext == "LSFPOST" else lsf * 0.98)
            hdus.append(fits.ImageHDU(data=data, header=hdr))
        elif ext in ("WAVE", "SPECRES", "SPECRESD", "PRESPECRES", "PRESPECRESD"):
            data = {"WAVE": wave, "SPECRES": specres, "SPECRESD": specres * 0.02,
                    "PRESPECRES": specres * 1.01, "PRESPECRESD": specres * 0.02}[ext]
            hdus.append(fits.ImageHDU(data=np.asarray(data, dtype=np.float64), header=hdr))
        elif ext == "OBSINFO":
            hdus.append(_obsinfo(hdr, target, rng))
        elif ext.endswith("IMG") or ext.endswith("PSF"):
            band = ext[0]
            if ext.endswith("IMG"):
                img = (disc * 5.0 * {"G": 0.6, "R": 1.0, "I": 1.3, "Z": 1.5}[band]).astype(np.float32)
                img[~inside] = 0.0
            else:
                img = np.exp(-0.5 * (r / (target.rfwhm / 2.355)) ** 2).astype(np.float32)
                img /= img.sum()
            hdus.append(fits.ImageHDU(data=img, header=hdr))
        elif ext.endswith("CORREL"):
            hdus.append(_correl(hdr, grid))
    _gzip_bytes(fits.HDUList(hdus), path, tmpl)
    return path


def _obsinfo(hdr, target, rng):
    from astropy.io import fits

    n = 9
    plate, ifu = (int(x) for x in target.plateifu.split("-"))
    cols = [
        fits.Column("SLITFILE", "20A", array=[f"slitmap-{plate}-57132-01.par"] * n),
        fits.Column("METFILE", "20A", array=["ma060-56887-3.par"] * n),
        fits.Column("HARNAME", "8A", array=["ma060"] * n),
        fits.Column("IFUDESIGN", "J", array=[ifu] * n),
        fits.Column("FRLPLUG", "J", array=[29] * n),
        fits.Column("MANGAID", "12A", array=[target.mangaid] * n),
        fits.Column("MGDPOS", "1A", array=list("NSENSENSE"[:n])),
        fits.Column("MGDRA", "D", array=np.round(rng.normal(0, 0.3, n), 3)),
        fits.Column("MGDDEC", "D", array=np.round(rng.normal(0, 0.3, n), 3)),
        fits.Column("IFURA", "D", array=[target.ra] * n),
        fits.Column("IFUDEC", "D", array=[target.dec] * n),
        fits.Column("DRP2QUAL", "J", array=[0] * n),
        *[fits.Column(f"PF_FWHM_{b}", "E", array=[target.rfwhm * 0.6] * n) for b in "GRIZ"],
    ]
    return fits.BinTableHDU.from_columns(cols, header=hdr)


def _correl(hdr, grid):
    from astropy.io import fits

    n = grid * grid
    i = np.arange(min(n, 64), dtype=np.int32)
    cols = [fits.Column("INDXI_C1", "J", array=i % grid), fits.Column("INDXI_C2", "J", array=i // grid),
            fits.Column("INDXJ_C1", "J", array=(i + 1) % grid), fits.Column("INDXJ_C2", "J", array=(i + 1) // grid),
            fits.Column("RHOIJ", "D", array=np.full(len(i), 0.8))]
    hdr = hdr.copy()
    hdr["COVSHAPE"] = f"({n},{n})"
    return fits.BinTableHDU.from_columns(cols, header=hdr)


def write_maps(path, target, *, seed: int = 0) -> Path:
    """A DAP MAPS file (64 HDUs, real keywords and channel names) for ``target``."""
    from astropy.io import fits

    path = Path(path)
    rng = np.random.default_rng(seed + 1)
    size = ifu_size(target.plateifu.split("-")[1])
    grid = SPAXEL_GRID[size]
    tmpl = templates()[MAPS_KEY]
    subs = _identity_subs(target, grid)
    subs["SCINPVEL"] = round(target.z * C_KMS, 4)
    inside = _hexmask(grid, size)
    y, x = np.mgrid[0:grid, 0:grid]
    c = grid // 2
    dx, dy = (x - c) * SPAXEL_ARCSEC, (y - c) * SPAXEL_ARCSEC
    r = np.hypot(dx, dy)
    disc = np.exp(-r / 3.0)
    hdus = []
    chan_names: dict = {}
    for i, h in enumerate(tmpl):
        ext = h["extname"]
        hdr = _header(h["cards"], subs)
        if i == 0:
            hdus.append(fits.PrimaryHDU(header=hdr))
            continue
        shape = h["shape"]
        nchan = shape[2] if len(shape) == 3 else None
        np_shape = (nchan, grid, grid) if nchan else (grid, grid)
        dtype = np.int32 if h["bitpix"] == 32 else np.float32
        if nchan:
            chan_names[ext] = [hdr.get(f"C{k:02d}" if nchan >= 10 else f"C{k}", "") for k in range(1, nchan + 1)]
        base = ext.removesuffix("_IVAR").removesuffix("_MASK")
        data = np.zeros(np_shape, dtype=dtype)
        if ext.endswith("_MASK"):
            data[..., ~inside] = DAP_DONOTUSE
        elif ext.endswith("_IVAR"):
            data[..., inside] = 1.0 / _noise_of(base) ** 2
        elif ext == "EMLINE_GFLUX":
            for k, name in enumerate(chan_names[ext]):
                peak = {"Ha-6564": 10.0, "Hb-4862": 3.0, "NII-6585": 3.5, "OIII-5008": 1.5,
                        "SII-6718": 1.2, "SII-6732": 0.9}.get(name, 0.2)
                data[k] = (peak * disc + rng.normal(0, _noise_of(base), disc.shape)) * inside
        elif ext in ("STELLAR_VEL", "EMLINE_GVEL"):
            vel = 150.0 * np.tanh(dx / 4.0)
            data[...] = (vel * inside) if not nchan else (vel * inside)[None]
        elif ext in ("STELLAR_SIGMA", "EMLINE_GSIGMA"):
            sig = 60.0 + 40.0 * disc
            data[...] = (sig * inside) if not nchan else (sig * inside)[None]
        elif ext == "SPX_SKYCOO":
            data[0], data[1] = -dx, dy
        elif ext == "SPX_ELLCOO":
            data[0], data[1], data[2], data[3] = r, r / 1.33067, r * 0.6, np.degrees(np.arctan2(dy, dx)) % 360
        elif ext == "BINID":
            data[...] = np.where(inside, np.arange(grid * grid).reshape(grid, grid), -1)[None]
        elif ext == "SPECINDEX":
            data[...] = (1.5 * inside)[None]
        elif ext in ("SPX_MFLUX", "BIN_MFLUX"):
            data[...] = disc * inside
        hdus.append(fits.ImageHDU(data=data, header=hdr))
    _gzip_bytes(fits.HDUList(hdus), path, tmpl)
    return path


def _noise_of(ext: str) -> float:
    """1-sigma of the generated maps, in their units (tests check describe's depth against it)."""
    return {"EMLINE_GFLUX": 0.25, "STELLAR_VEL": 12.0, "STELLAR_SIGMA": 15.0, "EMLINE_GVEL": 8.0,
            "EMLINE_GSIGMA": 10.0}.get(ext, 0.5)


def gz3d_wcs_header(ra: float, dec: float, size: int = 525):
    """The GZ3D WCS (GZ3D_production ``define_wcs``): TAN, 0.099 arcsec pixels, both axes negative."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.crpix = [size / 2.0, size / 2.0]
    w.wcs.crval = [ra, dec]
    w.wcs.cd = np.array([[-1.0, 0.0], [0.0, -1.0]]) * GZ3D_PIXEL_ARCSEC / 3600.0
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cunit = ["deg", "deg"]
    return w.to_header()


def write_gz3d(path, target, *, size: int = 525, seed: int = 0) -> Path:
    """A GZ3D file (11 HDUs) for ``target``: image, 4 masks, metadata and classification tables."""
    from astropy.io import fits

    path = Path(path)
    rng = np.random.default_rng(seed + 2)
    ifu = ifu_size(target.plateifu.split("-")[1])
    wcs_h = gz3d_wcs_header(target.ra, target.dec, size)
    y, x = np.mgrid[0:size, 0:size]
    c = size / 2.0
    r = np.hypot(x - c, y - c)
    img = np.clip(255 * np.exp(-r / (size / 10)), 0, 255).astype(np.uint8)
    rgb = np.stack([img, (img * 0.8).astype(np.uint8), (img * 0.6).astype(np.uint8)], axis=-1)
    center = np.where(r < size / 40, 15.0, 0.0)
    star = np.zeros((size, size))
    sx, sy = int(size * 0.8), int(size * 0.25)
    star[max(sy - 6, 0):sy + 6, max(sx - 6, 0):sx + 6] = 7.0
    theta = np.arctan2(y - c, x - c)
    spiral = np.where((r > size / 12) & (r < size / 3) & (np.cos(2 * theta - r / (size / 20)) > 0.6), 9.0, 0.0)
    bar = np.where((np.abs(y - c) < size / 60) & (np.abs(x - c) < size / 10), 11.0, 0.0)
    hdus = [fits.PrimaryHDU(data=rgb, header=wcs_h.copy())]
    for m in (center, star, spiral, bar):
        hdus.append(fits.ImageHDU(data=m.astype(np.float64), header=wcs_h.copy()))
    total, spiral_v, bar_v = target.votes
    meta = [
        fits.Column("ra", "E", array=[target.ra]), fits.Column("dec", "E", array=[target.dec]),
        fits.Column("MANGAID", "11A", array=[target.mangaid]),
        fits.Column("IAUNAME", "19A", array=[_iauname(target.ra, target.dec)]),
        fits.Column("IFUDESIGNSIZE", "D", array=[float(ifu)]),
        fits.Column("MANGA_TILEID", "D", array=[float(target.plateifu.split("-")[0])]),
        fits.Column("nsa_id", "K", array=[int(rng.integers(1, 700000))]),
        fits.Column("explorer_link", "90A", array=["http://skyserver.sdss.org/dr14/en/tools/explore/"
                                                     f"summary.aspx?ra={target.ra:.5f}&dec={target.dec:.5f}"]),
        fits.Column("GZ_total_classifications", "I", array=[total]),
        fits.Column("GZ_bar_votes", "I", array=[bar_v]), fits.Column("GZ_spiral_votes", "I", array=[spiral_v]),
        fits.Column("sample", "70A", array=["MaNGA"]),
    ]
    hdus.append(fits.BinTableHDU.from_columns(meta))
    for n_cl in (1, 1):
        hdus.append(fits.BinTableHDU.from_columns([
            fits.Column(k, "D", array=[v] * n_cl) for k, v in
            (("x", c), ("y", c), ("var_x", 4.0), ("var_y", 4.0), ("var_x_y", 0.0), ("ra", target.ra),
             ("dec", target.dec), ("var_ra", 1e-9), ("var_dec", 1e-9), ("var_ra_dec", 0.0), ("count", 15.0))]))
    for cols in (("center_points", "star_points"), ("spiral_paths",), ("bar_paths",)):
        n = 3
        table = [fits.Column("classification_id", "K", array=np.arange(n) + 1000),
                 fits.Column("time_stamp", "24A", array=["2017-05-01T12:00:00.000Z"] * n)]
        table += [fits.Column(cname, "40A", array=["[]"] * n) for cname in cols]
        hdus.append(fits.BinTableHDU.from_columns(table))
    _gzip_bytes(fits.HDUList(hdus), path)
    return path


def _iauname(ra: float, dec: float) -> str:
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    s = SkyCoord(ra * u.deg, dec * u.deg).to_string("hmsdms", sep="", precision=1, pad=True)
    hms, dms = s.split()
    return ("J" + hms[:9] + dms[:9]).replace(" ", "")[:19]


def write_demo(surveys_dir: Path, targets) -> dict:
    """The demo's MANGA, MANGA-DAP and GZ3D survey folders (READMEs included); keeps existing files."""
    from ..surveys.manga.identity import readme_text

    out = {"MANGA": [], "MANGA-DAP": [], "GZ3D": []}
    for survey in out:
        folder = surveys_dir / survey
        folder.mkdir(parents=True, exist_ok=True)
        readme = folder / f"{survey}_README.txt"
        if not readme.exists():
            readme.write_text(readme_text(survey), encoding="utf-8")
    for k, t in enumerate(targets):
        jobs = [("MANGA", cube_name(t.plateifu), lambda p, t=t, k=k: write_cube(p, t, nwave=64, seed=k)),
                ("MANGA-DAP", maps_name(t.plateifu), lambda p, t=t, k=k: write_maps(p, t, seed=k))]
        if t.gz3d_subject:
            ifu = ifu_size(t.plateifu.split("-")[1])
            jobs.append(("GZ3D", gz3d_name(t.mangaid, ifu, t.gz3d_subject),
                         lambda p, t=t, k=k: write_gz3d(p, t, size=525, seed=k)))
        for survey, name, write in jobs:
            target = surveys_dir / survey / name
            if not target.exists():
                write(target)
            out[survey].append(name)
    return out


def write_sas_mirror(root, targets, *, products=("cubes", "maps", "gz3d"), nwave: int = 32,
                     gz3d_size: int = 64) -> dict:
    """A small SDSS SAS mirror under ``root`` (``dr17/manga/...``) with a DRPall catalogue.

    Returns ``{relative path: bytes size}``.  Small (nwave, gz3d_size) so tests stay fast.
    """
    from astropy.table import Table

    from ..surveys.manga.fetch import sas_paths

    root = Path(root)
    written = {}
    rows = []
    for k, t in enumerate(targets):
        plate, ifu = t.plateifu.split("-")
        paths = sas_paths(t.plateifu, mangaid=t.mangaid, ifusize=ifu_size(ifu), subject=t.gz3d_subject)
        if "cubes" in products:
            write_cube(root / paths["cubes"], t, nwave=nwave, seed=k)
            written[paths["cubes"]] = (root / paths["cubes"]).stat().st_size
        if "maps" in products:
            write_maps(root / paths["maps"], t, seed=k)
            written[paths["maps"]] = (root / paths["maps"]).stat().st_size
        if "gz3d" in products and t.gz3d_subject:
            write_gz3d(root / paths["gz3d"], t, size=gz3d_size, seed=k)
            written[paths["gz3d"]] = (root / paths["gz3d"]).stat().st_size
        rows.append((t.plateifu, t.mangaid, int(plate), int(ifu), t.ra, t.dec, t.ra, t.dec, t.z, 0,
                     ifu_size(ifu)))
    t = Table(rows=rows, names=("plateifu", "mangaid", "plate", "ifudsgn", "objra", "objdec", "ifura",
                                "ifudec", "nsa_z", "drp3qual", "ifusize"))
    from ..surveys.manga.fetch import DRPALL_PATH, GZ3D_METADATA

    if "gz3d" in products:
        with_gz = [t_ for t_ in targets if t_.gz3d_subject]
        meta = Table({"file_name": [gz3d_name(t_.mangaid, ifu_size(t_.plateifu.split("-")[1]),
                                              t_.gz3d_subject)[5:-3] for t_ in with_gz],
                      "MANGAID": [t_.mangaid for t_ in with_gz],
                      "ra": [t_.ra for t_ in with_gz], "dec": [t_.dec for t_ in with_gz]})
        dst = root / GZ3D_METADATA
        dst.parent.mkdir(parents=True, exist_ok=True)
        meta.write(dst, overwrite=True)
        written[GZ3D_METADATA] = dst.stat().st_size

    dst = root / DRPALL_PATH
    dst.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    t.write(buf, format="fits")
    from astropy.io import fits

    hdul = fits.HDUList.fromstring(buf.getvalue())
    hdul[1].name = "MANGA"
    hdul.writeto(dst, overwrite=True)
    written[DRPALL_PATH] = dst.stat().st_size
    return written
