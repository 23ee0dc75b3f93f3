"""A damaged MaNGA cube is still flagged by the index build (the one-read fast path falls back)."""

import numpy as np

from sfng.demo import manga as mangagen
from sfng.surveys import manga
from sfng.index.build import build_index
from sfng.index.io import read_index


def test_truncated_manga_cubes_are_flagged_invalid(store):
    d = store.root / "data" / "MANGA"
    d.mkdir(parents=True)
    target = mangagen.DEMO_TARGETS[0]
    good = mangagen.write_cube(d / "manga-8485-1901-LOGCUBE.fits", target, nwave=32)
    raw = good.read_bytes()
    # One cut inside the data (headers intact), one cut inside the second header.
    (d / "manga-8485-1902-LOGCUBE.fits").write_bytes(raw[: len(raw) - 5000])
    (d / "manga-8485-1903-LOGCUBE.fits").write_bytes(raw[: 2880 * 2 + 1000])
    build_index(store, full=True, jobs=1)
    files, _, _ = read_index(store.index_path)
    paths = [p.decode() if isinstance(p, bytes) else str(p) for p in np.asarray(files["path"])]
    row = {p.rsplit("/", 1)[-1]: i for i, p in enumerate(paths)}
    valid = np.asarray(files["valid"])
    assert valid[row["manga-8485-1901-LOGCUBE.fits"]]
    flag = np.asarray(files["flag"])
    assert not valid[row["manga-8485-1902-LOGCUBE.fits"]]          # data cut: fails the size rule
    broken = row["manga-8485-1903-LOGCUBE.fits"]                     # header cut: unreadable
    assert not valid[broken] and int(flag[broken]) != 0
