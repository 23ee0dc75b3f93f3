"""sfng index build: rows, incremental reuse, parallel and Dask runs, lock, atomicity, CLI."""

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sfng.errors import SfngError
from sfng.index import build as B
from sfng.index.io import read_index
from sfng.index.schema import FLAG_UNREADABLE

CO10 = 115.2712018e9


def _fits(path, shape, hdr, data=None, history=()):
    from astropy.io import fits

    rng = np.random.default_rng(len(str(path)))
    a = rng.normal(0, hdr.pop("_NOISE", 1.0), size=shape).astype("f4") if data is None else data
    h = fits.PrimaryHDU(a).header
    ny, nx = shape[-2], shape[-1]
    h.update({"CTYPE1": "RA---TAN", "CRVAL1": hdr.pop("_RA", 24.17), "CDELT1": -2 / 3600,
              "CRPIX1": (nx + 1) / 2, "CUNIT1": "deg", "CTYPE2": "DEC--TAN",
              "CRVAL2": hdr.pop("_DEC", 15.78), "CDELT2": 2 / 3600, "CRPIX2": (ny + 1) / 2,
              "CUNIT2": "deg"})
    for k, v in hdr.items():
        h[k] = v
    for line in history:
        h.add_history(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(a, h).writeto(path)
    return path


def _populate(root):
    d = root / "data"
    (d / "BIMA").mkdir(parents=True)
    (d / "BIMA" / "BIMA_README.txt").write_text("MAPTYPE = CO(1-0)\n---\nBIMA SONG\n")
    cube = {"BUNIT": "JY/BEAM", "BMAJ": 6.2 / 3600, "BMIN": 5.4 / 3600, "BPA": 12.0,
            "CTYPE3": "VELO-LSR", "CUNIT3": "km/s", "CRVAL3": 657.0, "CDELT3": 4.06, "CRPIX3": 5,
            "RESTFRQ": CO10, "REPUNC": 0.05, "OBJECT": "NGC628"}
    _fits(d / "BIMA" / "MESSIER_074.ngc628.co.fits", (10, 20, 20), dict(cube))
    nore = dict(cube)
    nore.pop("REPUNC")
    nore["_NOISE"] = 0.03
    _fits(d / "BIMA" / "NGC_6946.ngc6946.co.fits", (10, 20, 20), dict(nore), )
    _fits(d / "BIMA" / "NGC_6946.ngc6946.co_noise.fits", (10, 20, 20), {},
          data=np.full((10, 20, 20), 0.04, "f4"))
    (d / "BIMA" / "IC_0342.broken.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"garbage")
    (d / "SINGS").mkdir()
    (d / "SINGS" / "SINGS_README.txt").write_text("BUNIT = MJy/sr\n---\nSINGS\n")
    mips = _fits(d / "SINGS" / "MESSIER_074.ngc628_mips24.fits", (30, 30),
                 {"INSTRUME": "MIPS", "WAVELENG": 24.0, "BMAJ": 6 / 3600, "BMIN": 6 / 3600, "BPA": 0.0})
    digest = hashlib.sha256(mips.read_bytes()).hexdigest()
    (d / "SINGS" / "MANIFEST.sha256").write_text(f"{digest}  {mips.name}\n")
    (d / "SINGS" / "notes.txt").write_text("not indexed")
    (root / "derived" / "THINGS").mkdir(parents=True)
    _fits(root / "derived" / "THINGS" / "NGC_2403.ngc2403_mom0.fits", (20, 20),
          {"BUNIT": "JY/B*M/S", "RESTFREQ": 1.420405752e9, "_RA": 114.21, "_DEC": 65.6},
          history=["AIPS   CLEAN BMAJ=  2.4444E-03 BMIN=  2.1389E-03 BPA=  25.30"])


@pytest.fixture
def small(store):
    _populate(store.root)
    from sfng.galaxies import Galaxy, merge_galaxies

    merge_galaxies(store, [Galaxy("MESSIER 074", ("NGC 628",), 24.17, 15.78, 7.3, "TRGB"),
                           Galaxy("NGC 6946", (), 308.7, 60.15, 5.9, "THINGS")])
    return store


def _rows(index):
    files, gal, meta = read_index(index)
    out = {}
    for r in files:
        d = {c: (r[c].decode() if isinstance(r[c], bytes) else r[c]) for c in files.colnames}
        out[d["path"]] = d
    return out, gal, meta


def test_build_rows(small):
    rep = B.build_index(small, measure_depth=True)
    assert rep.files == 6 and rep.rows == 6 and rep.described == 6 and rep.reused == 0
    rows, gal, meta = _rows(small.index_path)
    co = rows["data/BIMA/MESSIER_074.ngc628.co.fits"]
    assert co["product"] == "cube" and co["tracer"] == "CO(1-0)" and co["tracer_src"] == "maptype"
    assert co["galaxy"] == "MESSIER 074" and co["survey"] == "BIMA" and co["tree"] == "data"
    assert co["bmaj"] == pytest.approx(6.2, abs=1e-4) and co["res"] == pytest.approx(6.2, abs=1e-4)
    assert co["chan_kms"] == pytest.approx(4.06, rel=1e-5)
    hand = 1.222e6 * 0.05 / (115.2712018 ** 2 * 6.2 * 5.4)
    assert co["rms_k"] == pytest.approx(hand, rel=1e-3)
    assert co["depth_k"] == pytest.approx(hand * math.sqrt(4.06), rel=1e-3)
    assert co["depth_src"] == "repunc" and co["from_readme"] == "MAPTYPE"
    assert co["naxis"] == 3 and co["naxis3"] == 10 and co["naxis4"] == -1 and co["ctype3"] == "VELO-LSR"
    assert co["foot_n"] >= 4 and co["ra"] == pytest.approx(24.17, abs=1e-6) and co["fov"] > 0
    # noise companion: linked both ways; the product's depth comes from the noise map's median
    prod = rows["data/BIMA/NGC_6946.ngc6946.co.fits"]
    noise = rows["data/BIMA/NGC_6946.ngc6946.co_noise.fits"]
    assert prod["noise_path"] == noise["path"] and noise["noise_path"] == prod["path"]
    assert noise["role"] == "noise" and prod["role"] == "product" and prod["depth_src"] == "noise"
    assert prod["rms_k"] == pytest.approx(1.222e6 * 0.04 / (115.2712018 ** 2 * 6.2 * 5.4), rel=1e-3)
    # unreadable file: flagged row and a report line; the build completed
    bad = rows["data/BIMA/IC_0342.broken.fits"]
    assert bad["flag"] & FLAG_UNREADABLE and bad["error"]
    assert any(p == bad["path"] for p, _ in rep.problems)
    mips = rows["data/SINGS/MESSIER_074.ngc628_mips24.fits"]
    assert mips["tracer"] == "MIPS24" and mips["product"] == "image" and mips["bunit"] == "MJy/sr"
    assert mips["sha256"] == hashlib.sha256((small.root / mips["path"]).read_bytes()).hexdigest()
    assert math.isnan(mips["depth_k"])
    mom0 = rows["derived/THINGS/NGC_2403.ngc2403_mom0.fits"]
    assert mom0["tree"] == "derived" and mom0["tracer"] == "HI" and mom0["beam_src"] == "history"
    assert mom0["bmaj"] == pytest.approx(8.8, abs=0.01)
    # GALAXIES: the table's galaxies with distances, plus those only named by files
    g = {n: (d, k) for n, d, k in zip(gal["name"], gal["dist"], gal["n_files"])}
    assert g["MESSIER 074"][0] == pytest.approx(7.3) and g["MESSIER 074"][1] == 2
    assert "NGC 2403" in g and math.isnan(g["NGC 2403"][0])
    assert meta["n_files"] == 6 and meta["store"] == "test-store"


def test_incremental(small):
    B.build_index(small)
    before, data = small.index_path.stat(), small.index_path.read_bytes()
    time.sleep(0.01)
    rep = B.build_index(small)
    assert rep.reused == 6 and rep.described == 0 and rep.rows == 6
    assert rep.unchanged and "up to date" in rep.lines()[0]   # nothing rewritten ...
    after = small.index_path.stat()
    assert after.st_ino == before.st_ino and small.index_path.read_bytes() == data
    assert after.st_mtime_ns > before.st_mtime_ns              # ... but marked as checked now
    from sfng.galaxies import set_galaxy

    set_galaxy(small, "NGC 6946", dist=7.7)                    # GALAXIES differs: rewritten
    rep = B.build_index(small)
    assert not rep.unchanged and rep.reused == 6
    _, gal, _ = _rows(small.index_path)
    assert 7.7 == pytest.approx(float(gal["dist"][list(gal["name"]).index("NGC 6946")]))
    f = small.root / "data/SINGS/MESSIER_074.ngc628_mips24.fits"
    os.utime(f, (time.time(), time.time() + 5))
    (small.root / "data/BIMA/MESSIER_074.ngc628.co.fits").unlink()
    rep = B.build_index(small)
    assert rep.described == 1 and rep.reused == 4 and rep.removed == 1 and rep.rows == 5
    rows, _, _ = _rows(small.index_path)
    assert rows[f.relative_to(small.root).as_posix()]["mtime"] == pytest.approx(os.stat(f).st_mtime)
    rep = B.build_index(small, full=True)
    assert rep.described == 5 and rep.reused == 0
    # editing a survey README re-describes its survey (its metadata may have changed)
    time.sleep(1.1)
    (small.root / "data/SINGS/SINGS_README.txt").write_text("BUNIT = MJy/sr\nMAPTYPE = MIPS24\n---\n")
    rep = B.build_index(small)
    assert rep.described == 1
    rows, _, _ = _rows(small.index_path)
    assert rows["data/SINGS/MESSIER_074.ngc628_mips24.fits"]["tracer_src"] == "maptype"


def test_parallel_and_serial_agree(small):
    B.build_index(small, out=small.root / "serial.fits", full=True)
    rep = B.build_index(small, out=small.root / "par.fits", full=True, jobs=2)
    assert "2 local" in rep.workers
    a, _, _ = read_index(small.root / "serial.fits")
    b, _, _ = read_index(small.root / "par.fits")
    for col in a.colnames:
        x, y = np.asarray(a[col]), np.asarray(b[col])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), col


def test_dask_local_cluster(small):
    pytest.importorskip("dask.distributed")
    B.build_index(small, out=small.root / "serial.fits", full=True)
    rep = B.build_index(small, out=small.root / "dask.fits", full=True, scheduler="local", jobs=1)
    assert rep.workers.startswith("dask local")
    a, _, _ = read_index(small.root / "serial.fits")
    b, _, _ = read_index(small.root / "dask.fits")
    assert list(a["path"]) == list(b["path"]) and np.array_equal(a["depth_k"], b["depth_k"], equal_nan=True)


def test_dask_cluster_of_two_workers_gives_the_serial_rows(small, monkeypatch):
    """Past one machine: the crawl on a running Dask cluster (two worker processes, joined at its
    tcp:// address as a real cluster would be) gives the serial build's rows, value for value,
    and both workers describe files."""
    distributed = pytest.importorskip("dask.distributed")
    B.build_index(small, out=small.root / "serial.fits", full=True)
    monkeypatch.setattr(B, "CHUNK", 2)   # several chunks, so that both workers get some
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            rep = B.build_index(small, out=small.root / "dask.fits", full=True,
                                scheduler=cluster.scheduler_address)
        workers = {t["worker"] for t in stream.data if t["key"].startswith("describe_chunk")}
    assert rep.workers == f"dask {cluster.scheduler_address} (2 workers)"
    assert len(workers) == 2, workers
    a, _, _ = read_index(small.root / "serial.fits")
    b, _, _ = read_index(small.root / "dask.fits")
    assert len(a) == len(b) > 4
    for col in a.colnames:
        x, y = np.asarray(a[col]), np.asarray(b[col])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), col


def test_subset_paths_and_out(small):
    B.build_index(small)
    keep = ["data/SINGS/MESSIER_074.ngc628_mips24.fits", "data/BIMA/MESSIER_074.ngc628.co.fits"]
    out = small.root / "release" / "r1" / "SFNG-INDEX.fits"
    out.parent.mkdir(parents=True)
    rep = B.build_index(small, out=out, paths=keep)
    assert rep.rows == 2 and rep.reused == 2
    # no lock, no temporary; the columnar companion (sfng.index.columns) beside it
    assert sorted(p.name for p in out.parent.iterdir()) == [".sfng-columns", "SFNG-INDEX.fits"]
    files, _, _ = read_index(out)
    assert sorted(p if isinstance(p, str) else p.decode() for p in files["path"]) == sorted(keep)


def test_lock_refuses_second_build(small):
    with B.BuildLock(small.index_path, small):
        with pytest.raises(SfngError, match="another index build is running"):
            B.build_index(small)
    B.build_index(small)  # released


def test_failed_build_keeps_previous_index(small, monkeypatch):
    B.build_index(small)
    before = small.index_path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(B, "describe_chunk", boom)
    with pytest.raises(RuntimeError):
        B.build_index(small, full=True)
    assert small.index_path.read_bytes() == before
    assert not list(small.root.glob(".sfng-tmp-*"))


def test_kill_9_mid_build_leaves_previous_index(small):
    B.build_index(small)
    before = small.index_path.read_bytes()
    script = (
        "import time, sys\n"
        "import sfng.index.build as b\n"
        "from sfng.store import Store\n"
        "orig = b.describe_chunk\n"
        "def slow(*a, **k):\n"
        "    time.sleep(0.3)\n"
        "    return orig(*a, **k)\n"
        "b.describe_chunk = slow\n"
        "b.CHUNK = 1\n"
        "b.build_index(Store.open(sys.argv[1]), full=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(small.root)])
    deadline = time.time() + 30
    while not list(small.root.glob(".sfng-tmp-index-*")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert small.index_path.read_bytes() == before
    read_index(small.index_path)
    rep = B.build_index(small)   # the dead build's lock is gone, its temporary is cleaned
    assert rep.rows == 6 and not list(small.root.glob(".sfng-tmp-index-*"))


def test_check_detects_drift(small):
    B.build_index(small)
    assert B.check_index(small).clean
    (small.root / "data/BIMA/NGC_6946.ngc6946.co_noise.fits").unlink()
    f = small.root / "data/SINGS/MESSIER_074.ngc628_mips24.fits"
    os.utime(f, (time.time(), time.time() + 5))
    _fits(small.root / "data/SINGS/NGC_6946.n6946_mips24.fits", (10, 10), {})
    d = B.check_index(small)
    assert d.new == ["data/SINGS/NGC_6946.n6946_mips24.fits"]
    assert d.changed == ["data/SINGS/MESSIER_074.ngc628_mips24.fits"]
    assert d.missing == ["data/BIMA/NGC_6946.ngc6946.co_noise.fits"]


def test_cli(small, cli):
    r = cli("index", "build", "--store", small.root, "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["rows"] == 6 and got["flagged"] >= 1 and got["problems"]
    r = cli("index", "build", "--dry-run", "--store", small.root)
    assert "would write" in r.output and "0 to describe" in r.output
    r = cli("--store", small.root, "index", "stats", "--by", "tracer", "--format", "json")
    assert json.loads(r.output)["by"]["tracer"]["CO(1-0)"] == 3   # 2 cubes + 1 noise companion
    r = cli("--store", small.root, "index", "show", "data/BIMA/MESSIER_074.ngc628.co.fits")
    assert "depth_k" in r.output and " K" in r.output and "arcsec" in r.output
    r = cli("--store", small.root, "index", "show", "data/nope.fits")
    assert r.exit_code == 1 and "not in the index" in r.output
    r = cli("index", "check", "--store", small.root)
    assert r.exit_code == 0 and "up to date" in r.output
    (small.root / "data/SINGS/MESSIER_074.ngc628_mips24.fits").unlink()
    r = cli("index", "check", "--store", small.root)
    assert r.exit_code == 1 and "missing" in r.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from sfng import demo

    root = tmp_path_factory.mktemp("demo")
    steps = [s for s in demo.STEPS if s[0] in ("init", "ingest", "index")]
    lines = []
    tree = demo.run_demo(root, say=lines.append, steps=steps)
    return tree, lines


def test_demo_step_and_use_case_1_from_columns(demo):
    tree, lines = demo
    assert any(line.startswith("index:") for line in lines)
    files, gal, _ = read_index(tree.store_dir / "SFNG-INDEX.fits")
    dist = {str(n): d for n, d in zip(gal["name"], gal["dist"])}
    assert dist["IC 0342"] == pytest.approx(3.3)
    tracer = np.asarray(files["tracer"]).astype(str)
    galaxy = np.asarray(files["galaxy"]).astype(str)
    near = np.array([dist.get(g, np.nan) < 15 for g in galaxy])
    sel = (tracer == "CO(1-0)") & (np.asarray(files["res"]) < 15) & near \
        & (np.asarray(files["depth_k"]) <= 1.0)
    got = sorted(np.asarray(files["path"]).astype(str)[sel])
    surveys = {p.split("/")[1] for p in got}
    assert surveys == {"BIMASONG", "PAWS"}
    # BIMA SONG: all but NGC 3521 (0.5 Jy/beam: 2.8 K) and NGC 4254 (16.7 Mpc); NRO45 is 15"
    assert len(got) == 7
    assert not any("NGC_3521" in p or "MESSIER_099" in p for p in got)


def test_product_plugin_dispatch(small, monkeypatch):
    """Files a product describer claims (a registered format: sfng.surveys.manga) become its rows, one per object."""
    from sfng import formats

    class Objects(formats.Format):
        name = "test-objects"

        def recognise(self, path, headers=None):
            return "ngc628_mips24" in str(path)

        def describe(self, path, headers=None, *, store_root=None, measure_depth=False):
            return [{"locator": f"#obj{i}", "product": "spectra", "tracer": "OPTICAL-IFU",
                     "tracer_src": "plugin", "extra": f"plateifu=8485-190{i}"} for i in range(2)]

    monkeypatch.setattr(formats, "_registered", formats.registered())  # a copy, restored after
    formats.register(Objects, first=True)
    rep = B.build_index(small, validate=False)
    assert rep.rows == 7 and rep.files == 6
    files, _, _ = read_index(small.index_path)
    paths = np.asarray(files["path"]).astype(str)
    sel = np.flatnonzero(paths == "data/SINGS/MESSIER_074.ngc628_mips24.fits")
    assert [str(files["locator"][i]) for i in sel] == ["#obj0", "#obj1"]
    assert str(files["extra"][sel[1]]) == "plateifu=8485-1901" and files["size"][sel[0]] > 0

    def broken(*a, **k):
        raise ValueError("bad product")

    monkeypatch.setattr(Objects, "describe", broken)
    B.build_index(small, full=True, validate=False)
    files, _, _ = read_index(small.index_path)
    paths = np.asarray(files["path"]).astype(str)
    i = int(np.flatnonzero(paths == "data/SINGS/MESSIER_074.ngc628_mips24.fits")[0])
    assert files["flag"][i] & 16 and str(files["tracer"][i]) == "MIPS24"   # generic row, flagged


def test_measure_depth_reads_data_only_when_asked(store):
    cube = {"BUNIT": "K", "BMAJ": 15 / 3600, "BMIN": 15 / 3600, "BPA": 0.0, "CTYPE3": "VRAD",
            "CUNIT3": "m/s", "CRVAL3": 5e5, "CDELT3": 2600.0, "CRPIX3": 1, "RESTFRQ": 230.538e9,
            "_NOISE": 0.07}
    _fits(store.root / "data" / "HERA" / "NGC_3184.n3184_co21.fits", (30, 24, 24), cube)
    B.build_index(store)
    rows, _, _ = _rows(store.index_path)
    row = rows["data/HERA/NGC_3184.n3184_co21.fits"]
    assert math.isnan(row["rms_k"]) and row["depth_src"] == "" and row["tracer"] == "CO(2-1)"
    B.build_index(store, full=True, measure_depth=True)
    rows, _, _ = _rows(store.index_path)
    row = rows["data/HERA/NGC_3184.n3184_co21.fits"]
    assert row["depth_src"] == "measured" and row["rms_k"] == pytest.approx(0.07, rel=0.05)
    assert row["depth_k"] == pytest.approx(row["rms_k"] * math.sqrt(2.6), rel=1e-5)


def test_incremental_fills_what_the_previous_build_skipped(small):
    B.build_index(small, validate=False)
    rep = B.build_index(small)                      # now validating: unvalidated rows redone
    assert rep.described == 5 and rep.reused == 1   # the unreadable file's row is kept
    rep = B.build_index(small, measure_depth=True)  # the cube without REPUNC gets its depth
    assert rep.described == 1
    rows, _, _ = _rows(small.index_path)
    assert rows["data/BIMA/NGC_6946.ngc6946.co.fits"]["depth_src"] == "noise"


def test_unwritable_destination_is_a_clear_error(small, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SfngError, match="cannot write the index there"):
        B.build_index(small, out=blocker / "SFNG-INDEX.fits", validate=False)


def test_bad_readme_flags_its_rows_and_the_build_completes(store):
    from sfng.index.schema import FLAG_README_ERROR

    folder = store.root / "data" / "BAD"
    _fits(folder / "NGC_628.x.fits", (10, 10), {"BUNIT": "K"})
    (folder / "BAD_README.txt").write_text("BUNIT K\n---\nno equals sign above\n")
    rep = B.build_index(store, validate=False)
    rows, _, _ = _rows(store.index_path)
    row = rows["data/BAD/NGC_628.x.fits"]
    assert row["flag"] & FLAG_README_ERROR and "BAD_README.txt" in row["error"]
    assert row["bunit"] == "K" and rep.rows == 1 and rep.problems
