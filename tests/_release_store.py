"""A small store for the release tests: real FITS files with real keywords, survey READMEs with
citations, and an SFNG-INDEX.fits written by the real index writer (rows as the builder makes
them: path, survey, galaxy, tracer, size, mtime, sha256 from the survey manifest, validity)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sfng.fsutil import sha256_file
from sfng.readme import render

SURVEYS = {
    "THINGS": ({"MAPTYPE": "HI", "BUNIT": "JY/BEAM"},
               "THINGS: VLA HI cubes.\nCitation: Walter, F. et al. (2008), AJ, 136, 2563\n"
               "URL: http://www.mpia.de/THINGS/Data.html\n"),
    "NRO45": ({"MAPTYPE": "CO(1-0)", "BUNIT": "K"},
              "Nobeyama CO atlas.\nCitation: Kuno, N. et al. (2007), PASJ, 59, 117\n"),
}
FILES = [  # (survey, galaxy, original name, tracer)
    ("THINGS", "NGC 0628", "NGC_628_NA_CUBE_THINGS.FITS", "HI"),
    ("THINGS", "IC 0342", "IC_342_NA_CUBE_THINGS.FITS", "HI"),
    ("NRO45", "NGC 0628", "ngc628.co10.fits", "CO(1-0)"),
    ("NRO45", "IC 0342", "ic342.co10.fits", "CO(1-0)"),
    ("NRO45", "MESSIER 051a", "ngc5194.co10.fits", "CO(1-0)"),
]


def fits_file(path: Path, seed: int, n: int = 16) -> None:
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    hdu = fits.PrimaryHDU(rng.normal(size=(4, n, n)).astype(np.float32))
    h = hdu.header
    h.update({"CTYPE1": "RA---SIN", "CRVAL1": 24.17, "CDELT1": -1e-3, "CRPIX1": n / 2, "CUNIT1": "deg",
              "CTYPE2": "DEC--SIN", "CRVAL2": 15.78, "CDELT2": 1e-3, "CRPIX2": n / 2, "CUNIT2": "deg",
              "CTYPE3": "VRAD", "CRVAL3": 6.5e5, "CDELT3": 5e3, "CRPIX3": 1, "CUNIT3": "m/s",
              "BUNIT": "K", "BMAJ": 4e-3, "BMIN": 4e-3, "BPA": 0.0, "RESTFRQ": 1.15271202e11})
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path)


def make_store(store, files=FILES, index=True):
    """Fill ``store`` (an sfng Store) and write its index; returns the list of store paths."""
    paths = []
    for i, (survey, galaxy, original, tracer) in enumerate(files):
        folder = store.root / "data" / survey
        folder.mkdir(parents=True, exist_ok=True)
        readme = folder / f"{survey}_README.txt"
        if not readme.exists():
            meta, prose = SURVEYS[survey]
            readme.write_text(render(meta, prose), encoding="utf-8")
        name = galaxy.replace(" ", "_") + "." + original
        fits_file(folder / name, seed=i)
        paths.append(f"data/{survey}/{name}")
    for survey in {f[0] for f in files}:
        folder = store.root / "data" / survey
        lines = [f"{sha256_file(p)}  {p.name}" for p in sorted(folder.iterdir())
                 if p.suffix.lower() == ".fits"]
        (folder / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")
    if index:
        write_index(store, files, paths)
    return paths


def write_index(store, files, paths, out=None, valid=None):
    """The store index through the real writer; ``valid`` maps path -> False for invalid rows."""
    from sfng.index.io import IndexWriter

    rows = []
    for (survey, galaxy, _, tracer), rel in zip(files, paths):
        st = os.stat(store.root / rel)
        ok = (valid or {}).get(rel, True)
        rows.append({"path": rel, "tree": "data", "survey": survey, "galaxy": galaxy, "tracer": tracer,
                     "product": "cube", "size": st.st_size, "mtime": st.st_mtime,
                     "sha256": sha256_file(store.root / rel), "valid": ok, "n_problems": 0 if ok else 1,
                     "error": "" if ok else "singular WCS matrix", "naxis": 3, "res": 14.4})
    gals = sorted({f[1] for f in files})
    grows = [{"name": g, "aliases": "", "ra": 10.0, "dec": 20.0, "dist": 7.0, "dist_src": "test",
              "n_files": sum(1 for f in files if f[1] == g)} for g in gals]
    target = Path(out or store.index_path)
    if target.exists():
        target.unlink()
    with IndexWriter(target, {"sfng_version": "test", "store": store.name, "built": "2026-01-01T00:00:00Z"}) as w:
        w.add_rows(rows)
        w.finish(grows)
