"""Synthetic stores for the benchmarks: many FITS files with realistic headers, written fast.

Kinds of file (``KINDS``), modelled on what the collaboration's surveys publish:

* ``image``  2-D image (Spitzer/Herschel/H-alpha style): TAN, sometimes a CD matrix with a
  rotation, MJy/sr, BMAJ/BMIN, a few dozen HISTORY cards;
* ``cube3``  3-D line cube (HERACLES/BIMA style): SIN, VELO-LSR or VRAD in m/s, RESTFRQ, beam;
* ``cube4``  4-D cube (THINGS/AIPS style): RA, DEC, FREQ, STOKES, the beam only in an AIPS
  HISTORY card, ``RESTFREQ``, long CONTINUE strings and HIERARCH keys;
* ``mef``    multi-extension file (HST style): header-only primary, SCI, ERR and DQ images.

Headers are formatted directly as 80-column cards (no astropy in the loop) and the data
sections are sparse holes by default, so a file has its real size while the disk holds only
its headers; ``dense=True`` writes the zeros (small images then, for gzip).  ``gzip_every=k``
compresses every k-th file to ``.fits.gz``.  The same seed gives the same files.

    from benchmarks.common import make_files, make_store
    paths = make_files("/tmp/hdrs", 2000)            # a flat folder
    root = make_store("/tmp/store", 20000)           # an sfng store with surveys and READMEs
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import time
from pathlib import Path

BLOCK = 2880
KINDS = ("image", "cube3", "cube4", "mef")
#: Share of each kind in a generated set (images dominate real stores).
MIX = {"image": 0.45, "cube3": 0.25, "cube4": 0.15, "mef": 0.15}
#: Survey folders of :func:`make_store`: kind of file and README metadata.
SURVEYS = {
    "SINGS": ("image", {"MAPTYPE": "MIPS24"}),
    "KINGFISH": ("image", {"MAPTYPE": "SPIRE250", "BUNIT": "MJy/sr"}),
    "HALPHA": ("image", {"MAPTYPE": "HALPHA", "BUNIT": "erg/s/cm2/arcsec2"}),
    "HERACLES": ("cube3", {"MAPTYPE": "CO(2-1)", "BUNIT": "K", "BMAJ": 3.7222e-3, "BMIN": 3.7222e-3,
                           "BPA": 0.0}),
    "BIMASONG": ("cube3", {"MAPTYPE": "CO(1-0)"}),
    "THINGS": ("cube4", {"MAPTYPE": "HI", "CUNIT3": "Hz"}),
    "HST": ("mef", {}),
}
GALAXIES = ["NGC_0628", "NGC_3184", "NGC_3351", "NGC_3627", "NGC_4254", "NGC_4321", "NGC_5194",
            "NGC_6946", "IC_0342", "MESSIER_033", "NGC_2403", "NGC_0925", "NGC_4736", "NGC_7331"]


def card(key: str, value=None, comment: str = "") -> str:
    """One 80-column card; ``value=None`` makes a commentary card with ``comment`` as text."""
    if value is None:
        return f"{key:<8}{comment}"[:80].ljust(80)
    if isinstance(value, bool):
        v = ("T" if value else "F").rjust(20)
    elif isinstance(value, int):
        v = str(value).rjust(20)
    elif isinstance(value, float):
        v = f"{value:.15G}".rjust(20)
    else:
        v = ("'" + str(value).replace("'", "''").ljust(8) + "'").ljust(20)
    text = f"{key:<8}= {v}"
    if comment:
        text += f" / {comment}"
    return text[:80].ljust(80)


def hierarch(key: str, value) -> str:
    """A HIERARCH card (ESO convention): long or spaced keywords."""
    v = f"'{value}'" if isinstance(value, str) else str(value)
    return f"HIERARCH {key} = {v}"[:80].ljust(80)


def long_string(key: str, value: str) -> list[str]:
    """A string card continued over CONTINUE cards (the long-string convention)."""
    chunks = [value[i : i + 60] for i in range(0, len(value), 60)] or [""]
    out = []
    for i, chunk in enumerate(chunks):
        text = chunk.replace("'", "''") + ("&" if i < len(chunks) - 1 else "")
        out.append((f"{key:<8}= '{text}'" if i == 0 else f"CONTINUE  '{text}'")[:80].ljust(80))
    return out


def header_bytes(cards: list[str]) -> bytes:
    text = "".join(cards) + "END".ljust(80)
    return (text + " " * (-len(text) % BLOCK)).encode("ascii")


def _sky(rng, nx, ny, proj, pix_arcsec, cd=False):
    ra, dec = rng.uniform(0, 360), rng.uniform(-85, 85)
    cards = [card("CTYPE1", f"RA---{proj}"), card("CRVAL1", ra), card("CRPIX1", (nx + 1) / 2),
             card("CUNIT1", "deg"), card("CTYPE2", f"DEC--{proj}"), card("CRVAL2", dec),
             card("CRPIX2", (ny + 1) / 2), card("CUNIT2", "deg")]
    s = pix_arcsec / 3600
    if cd:
        import math

        t = math.radians(rng.uniform(-30, 30))
        cards += [card("CD1_1", -s * math.cos(t)), card("CD1_2", s * math.sin(t)),
                  card("CD2_1", s * math.sin(t)), card("CD2_2", s * math.cos(t))]
    else:
        cards += [card("CDELT1", -s), card("CDELT2", s)]
    return cards + [card("EQUINOX", 2000.0), card("RADESYS", "FK5"), card("LONPOLE", 180.0)]


def _history(rng, n_min=5, n_max=40):
    return [card("HISTORY", None, f"pipeline step {k}: calibrated, regridded, weight {rng.random():.4f}")
            for k in range(rng.randint(n_min, n_max))]


def _identity(rng, i, galaxy):
    return [card("OBJECT", galaxy.replace("_", " ")), card("ORIGIN", "synthetic survey pipeline"),
            card("DATE", "2008-12-01T00:00:00"), card("DATE-OBS", "2004-03-1%dT05:00:00" % (i % 10)),
            card("OBSERVER", "O'Neill & co"), card("FILENUM", i)]


def hdus_for(kind: str, rng: random.Random, i: int, galaxy: str = "NGC_0628", small: bool = False):
    """``[(cards, data_bytes), ...]`` for one file of ``kind``."""
    if kind == "image":
        nx = ny = 64 if small else rng.choice([256, 512, 1024, 2048])
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 2), card("NAXIS1", nx),
                 card("NAXIS2", ny), card("EXTEND", True),
                 *_sky(rng, nx, ny, "TAN", rng.choice([1.5, 2.0, 6.0]), cd=rng.random() < 0.3),
                 card("TELESCOP", "Spitzer"), card("INSTRUME", "MIPS"), card("WAVELENG", 24.0),
                 card("BUNIT", "MJy/sr"), card("BMAJ", 6 / 3600), card("BMIN", 6 / 3600),
                 card("BPA", 0.0), *_identity(rng, i, galaxy), *_history(rng)]
        return [(cards, nx * ny * 4)]
    if kind == "cube3":
        nx = ny = 32 if small else rng.choice([128, 256, 512])
        nz = 8 if small else rng.choice([60, 120, 240])
        vrad = rng.random() < 0.5
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 3), card("NAXIS1", nx),
                 card("NAXIS2", ny), card("NAXIS3", nz), *_sky(rng, nx, ny, "SIN", 2.0),
                 card("CTYPE3", "VRAD" if vrad else "VELO-LSR"), card("CRVAL3", rng.uniform(0, 2e6)),
                 card("CDELT3", 2600.0 if vrad else 4060.0), card("CRPIX3", nz / 2),
                 card("CUNIT3", "m/s"), card("SPECSYS", "LSRK"), card("RESTFRQ", 115.2712018e9),
                 card("BUNIT", "K" if vrad else "JY/BEAM"), card("BMAJ", 6.2 / 3600),
                 card("BMIN", 5.4 / 3600), card("BPA", 12.0), card("REPUNC", 0.05),
                 card("TELESCOP", "IRAM 30m" if vrad else "BIMA"), *_identity(rng, i, galaxy),
                 *_history(rng)]
        return [(cards, nx * ny * nz * 4)]
    if kind == "cube4":
        nx = ny = 32 if small else rng.choice([256, 512, 1024])
        nz = 8 if small else rng.choice([40, 80, 120])
        cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 4), card("NAXIS1", nx),
                 card("NAXIS2", ny), card("NAXIS3", nz), card("NAXIS4", 1),
                 *_sky(rng, nx, ny, "SIN", 1.5),
                 card("CTYPE3", "FREQ"), card("CRVAL3", 1.4190e9), card("CDELT3", -24414.0),
                 card("CRPIX3", nz / 2), card("CUNIT3", "HZ"), card("CTYPE4", "STOKES"),
                 card("CRVAL4", 1.0), card("CDELT4", 1.0), card("CRPIX4", 1.0),
                 card("RESTFREQ", 1.420405752e9), card("BUNIT", "JY/BEAM"), card("TELESCOP", "VLA"),
                 hierarch("SFNG PIPELINE VERSION", "2.1.0"), hierarch("SFNG CLEAN NITER", 5000),
                 *long_string("REFERENC", "Walter et al. 2008, AJ, 136, 2563: THINGS, The HI Nearby "
                                          "Galaxy Survey; natural-weighted cube, it's primary-beam "
                                          "corrected"),
                 *_identity(rng, i, galaxy), *_history(rng, 20, 80),
                 card("HISTORY", None, "AIPS   CLEAN BMAJ=  1.6489E-03 BMIN=  1.5866E-03 BPA=  30.58")]
        return [(cards, nx * ny * nz * 4)]
    if kind == "mef":
        nx = ny = 64 if small else rng.choice([1024, 2048, 4096])
        out = [([card("SIMPLE", True), card("BITPIX", 8), card("NAXIS", 0), card("EXTEND", True),
                 card("TELESCOP", "HST"), card("INSTRUME", "ACS"), card("FILTER", "F658N"),
                 *_identity(rng, i, galaxy), *_history(rng, 30, 90)], 0)]
        sky = _sky(rng, nx, ny, "TAN", 0.05, cd=True)
        for name, bitpix in (("SCI", -32), ("ERR", -32), ("DQ", 16)):
            out.append(([card("XTENSION", "IMAGE"), card("BITPIX", bitpix), card("NAXIS", 2),
                         card("NAXIS1", nx), card("NAXIS2", ny), card("PCOUNT", 0), card("GCOUNT", 1),
                         card("EXTNAME", name), card("EXTVER", 1), *sky,
                         card("BUNIT", "ELECTRONS/S")], nx * ny * abs(bitpix) // 8))
        return out
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def write_file(path, hdus, dense: bool = False, compress: bool = False) -> Path:
    """Write ``hdus`` (from :func:`hdus_for`); data are sparse holes unless ``dense``."""
    path = Path(path)
    if compress:
        with gzip.open(path, "wb", compresslevel=1) as f:
            for cards, nbytes in hdus:
                f.write(header_bytes(cards))
                f.write(bytes(nbytes + (-nbytes % BLOCK)))
        return path
    with open(path, "wb") as f:
        for cards, nbytes in hdus:
            f.write(header_bytes(cards))
            padded = nbytes + (-nbytes % BLOCK)
            if dense:
                f.write(bytes(padded))
            else:
                f.seek(padded, os.SEEK_CUR)
        f.truncate(f.tell())
    return path


def _kinds(n, rng, mix=None):
    mix = mix or MIX
    names = list(mix)
    return rng.choices(names, weights=[mix[k] for k in names], k=n)


def make_files(folder, n: int, seed: int = 5, mix: dict | None = None, gzip_every: int = 0,
               clean: bool = True) -> list[Path]:
    """``n`` files of mixed kinds in one folder; returns their paths.

    ``gzip_every=k`` writes every k-th file as a small dense ``.fits.gz``.  Reuses the folder
    when it already holds the same set (a marker file records n, seed, mix and gzip_every).
    """
    folder = Path(folder)
    marker = folder / ".bench-set"
    key = repr((n, seed, sorted((mix or MIX).items()), gzip_every))
    if marker.is_file() and marker.read_text() == key:
        return sorted(p for p in folder.iterdir() if p.name.endswith((".fits", ".fits.gz")))
    if clean:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i, kind in enumerate(_kinds(n, rng, mix)):
        galaxy = GALAXIES[i % len(GALAXIES)]
        gz = gzip_every and i % gzip_every == gzip_every - 1
        name = f"{galaxy}.{kind}_{i:06d}.fits" + (".gz" if gz else "")
        paths.append(write_file(folder / name, hdus_for(kind, rng, i, galaxy, small=bool(gz)),
                                compress=bool(gz)))
    marker.write_text(key)
    return sorted(paths)


def make_store(root, n: int, seed: int = 5) -> Path:
    """An sfng store of ``n`` files spread over :data:`SURVEYS` (``data/<SURVEY>/``) with READMEs."""
    from sfng.readme import render
    from sfng.store import init_store

    root = Path(root)
    marker = root / ".bench-store"
    if marker.is_file() and marker.read_text() == f"{n},{seed}":
        return root
    shutil.rmtree(root, ignore_errors=True)
    init_store(root, name="bench")
    rng = random.Random(seed)
    names = list(SURVEYS)
    per = n // len(names)
    for si, survey in enumerate(names):
        kind, meta = SURVEYS[survey]
        folder = root / "data" / survey
        folder.mkdir(parents=True, exist_ok=True)
        prose = f"{survey}: synthetic benchmark data.\n"
        (folder / f"{survey}_README.txt").write_text(render(meta, prose) if meta else prose)
        count = per if si < len(names) - 1 else n - per * (len(names) - 1)
        for i in range(count):
            galaxy = GALAXIES[i % len(GALAXIES)]
            write_file(folder / f"{galaxy}.{survey.lower()}_{i:06d}.fits", hdus_for(kind, rng, i, galaxy))
    marker.write_text(f"{n},{seed}")
    return root


def make_cube_fits(path: Path, nbytes: int, seed: int) -> None:
    """A FITS cube of about ``nbytes`` (random float32 data; header written by hand, 2880-byte
    blocks) with a real celestial WCS, beam and units, so that validation passes and naming sees
    a plausible file (the ingest and release benchmarks)."""
    n = max(1, nbytes // (4 * 64 * 64))
    cards = [("SIMPLE", "T"), ("BITPIX", "-32"), ("NAXIS", "3"), ("NAXIS1", "64"), ("NAXIS2", "64"),
             ("NAXIS3", str(n)), ("BUNIT", "'K       '"), ("CTYPE1", "'RA---SIN'"), ("CRVAL1", "24.17"),
             ("CDELT1", "-0.001"), ("CRPIX1", "32.5"), ("CUNIT1", "'deg     '"), ("CTYPE2", "'DEC--SIN'"),
             ("CRVAL2", "15.78"), ("CDELT2", "0.001"), ("CRPIX2", "32.5"), ("CUNIT2", "'deg     '"),
             ("CTYPE3", "'VRAD    '"), ("CRVAL3", "657000.0"), ("CDELT3", "2600.0"), ("CRPIX3", "1.0"),
             ("CUNIT3", "'m/s     '"), ("BMAJ", "0.0037"), ("BMIN", "0.0037"), ("BPA", "0.0"),
             ("RESTFRQ", "230538000000.0"), ("OBJECT", "'NGC 628 '")]
    head = "".join(f"{k:<8}= {v:>20}".ljust(80) for k, v in cards) + "END".ljust(80)
    head = head.ljust(-(-len(head) // 2880) * 2880)
    rng = random.Random(seed)
    data_len = n * 64 * 64 * 4
    with open(path, "wb") as f:
        f.write(head.encode("ascii"))
        block = 4 << 20
        left = data_len
        while left:
            k = min(block, left)
            f.write(rng.randbytes(k))
            left -= k
        pad = -data_len % 2880
        f.write(b"\0" * pad)


def append_to_benchmarks_md(lines: list[str]) -> None:
    """Append ``lines`` (a block of Markdown) to docs/benchmarks.md, creating it if needed."""
    path = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
    head = "" if path.exists() else "# Benchmarks\n\nResults appended by the scripts in `benchmarks/`.\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(head + "\n" + "\n".join(lines) + "\n")


class Clock:
    """Wall seconds and CPU seconds of a block, this process plus its finished child processes
    (CPU time stays fair when other work shares the cores)."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = _cpu() - self.c


def _cpu() -> float:
    import resource

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
