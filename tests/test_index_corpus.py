"""The real header corpus (tests/data/corpus, BSD-3; provenance in its PROVENANCE.md) indexes
without a crash, with footprints within 0.1 arcsec of astropy.wcs."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

CORPUS = Path(__file__).parent / "data" / "corpus"


def _as_fits(headers, dest: Path) -> None:
    """A FITS file with these headers (astropy Headers), each followed by a sparse data section
    of the size it declares."""
    with open(dest, "wb") as f:
        for h in headers:
            n = int(h.get("NAXIS", 0))
            size = math.prod(int(h[f"NAXIS{i}"]) for i in range(1, n + 1)) if n else 0
            size = abs(int(h.get("BITPIX", 8))) // 8 * int(h.get("GCOUNT", 1)) * (int(h.get("PCOUNT", 0)) + size)
            f.write(h.tostring().encode("ascii"))
            f.seek(size + (-size % 2880), 1)
        f.truncate(f.tell())


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    from sfng.index.build import build_index
    from sfng.index.io import read_index
    from sfng.store import Store, init_store

    root = tmp_path_factory.mktemp("corpus") / "store"
    init_store(root, name="corpus")
    folder = root / "data" / "CORPUS"
    folder.mkdir(parents=True)
    from astropy.io import fits

    headers = {}
    for hdr in sorted((CORPUS / "wcs").rglob("*.hdr")):
        text = hdr.read_bytes().decode("ascii")
        name = f"{hdr.stem}.fits"
        _as_fits([fits.Header.fromstring(text)], folder / name)
        headers[f"data/CORPUS/{name}"] = text
    # the real MaNGA DR17 cube and DAP maps headers (24 and 64 HDUs), as the survey names them
    for d in sorted((CORPUS / "manga" / "headers-dr17").iterdir()):
        _as_fits([fits.Header.fromtextfile(p) for p in sorted(d.glob("*.hdr"))], folder / f"{d.name}.fits")
    rep = build_index(Store.open(root), validate=False)
    files, _, _ = read_index(root / "SFNG-INDEX.fits")
    return rep, files, headers


def test_corpus_indexes_without_crash(corpus_index):
    rep, files, headers = corpus_index
    assert len(headers) == 34 and rep.files == 36 and rep.rows >= 36
    assert not [p for p, m in rep.problems], rep.problems
    kinds = {str(p) for p in files["product"]}
    assert kinds <= {"image", "cube", "spectra", "table"}
    paths = np.asarray(files["path"]).astype(str)
    cube = files[np.flatnonzero(paths == "data/CORPUS/manga-8485-1901-LOGCUBE.fits")]
    assert len(cube) == 1 and str(cube["product"][0]) == "cube"
    assert cube["ra"][0] == pytest.approx(232.5447, abs=1e-3)


def test_footprints_match_astropy(corpus_index):
    from astropy.io import fits
    from astropy.wcs import WCS

    from sfng.footprint import separation

    _, files, headers = corpus_index
    checked = 0
    for row in files:
        path = row["path"].decode() if isinstance(row["path"], bytes) else str(row["path"])
        if path not in headers:
            continue
        h = fits.Header.fromstring(headers[path])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = WCS(h)
            if not w.has_celestial:
                assert row["foot_n"] == 0
                continue
            try:
                cel = w.celestial
            except IndexError:   # astropy cannot take the celestial part of this header
                continue
            n1, n2 = (int(h[f"NAXIS{k}"]) for k in _celestial_axes(w))
            corners = cel.calc_footprint(axes=(n1, n2))
        if not np.isfinite(corners).all():
            continue   # all-sky projections whose corners fall off the sky
        n = int(row["foot_n"])
        assert n >= (4 if min(n1, n2) > 1 else 1), path
        ra, dec = np.asarray(row["foot_ra"][:n]), np.asarray(row["foot_dec"][:n])
        for cra, cdec in corners:
            d = separation(ra, dec, cra % 360, cdec) * 3600
            assert np.nanmin(d) < 0.1, (path, cra, cdec, np.nanmin(d))
        cx, cy = cel.wcs_pix2world([[(n1 - 1) / 2, (n2 - 1) / 2]], 0)[0]
        assert separation(row["ra"], row["dec"], cx % 360, cy) * 3600 < 0.1
        checked += 1
    assert checked >= 20


def _celestial_axes(w):
    return [i + 1 for i, t in enumerate(w.wcs.ctype) if t[:4] in ("RA--", "DEC-", "GLON", "GLAT", "ELON", "ELAT")
            or t[:2] in ("RA", "DE")][:2]
