"""`sfng ml prepare --cube-format hdf5`: the rest-frame cube as HDF5 (sfng.surveys.manga.restcube)
holds what the FITS product holds, array for array and card for card; it lands the same way
(staging, hashing copy, no-clobber rename, manifest, provenance sidecar; a rerun finds the same
bytes); it is indexed into the same columns as its FITS twin; and the steps downstream (patches,
split, train) give byte-identical results from either form."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pytest

from sfng.demo import manga as mangagen
from sfng.ml import prepare as P

try:
    import h5py  # noqa: F401
except ImportError:
    HAVE_H5PY = False
else:
    HAVE_H5PY = True

needs_h5py = pytest.mark.skipif(not HAVE_H5PY,
                                reason="h5py not installed (pip install 'sfng[hdf5]'): the HDF5 cubes of "
                                       "sfng ml prepare are not tested")
GRID = "6000,7000,60"


@pytest.fixture
def cubes(store):
    """The two demo LOGCUBEs in data/MANGA/ with their DRPall redshifts."""
    from astropy.table import Table

    (store.root / "data" / "MANGA").mkdir(parents=True, exist_ok=True)
    rels = []
    for t in mangagen.DEMO_TARGETS:
        rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
        mangagen.write_cube(store.root / rel, t, nwave=256)
        rels.append(rel)
    (store.root / "tables" / "MANGA").mkdir(parents=True, exist_ok=True)
    Table({"plateifu": [t.plateifu for t in mangagen.DEMO_TARGETS],
           "nsa_z": [t.z for t in mangagen.DEMO_TARGETS]}).write(store.root / "tables" / "MANGA" / "drpall-v3_1_1.fits")
    return store, rels


def _prepared(cli, store, fmt):
    r = cli("--store", store.root, "ml", "prepare", "--grid", GRID, "--cube-format", fmt, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@needs_h5py
def test_hdf5_cube_equals_the_fits_cube(cli, cubes):
    import h5py
    from astropy.io import fits

    from sfng import manifest as mf
    from sfng.surveys.manga import restcube as RC

    store, rels = cubes
    fits_rep, h5_rep = _prepared(cli, store, "fits"), _prepared(cli, store, "hdf5")
    assert len(fits_rep["landed"]) == len(h5_rep["landed"]) == 2
    assert all(p.endswith("_restcube.h5") and p.startswith("derived/MANGA/") for p in h5_rep["landed"])
    folder = store.root / "derived" / "MANGA"
    entries = mf.read_manifest(folder)
    for f_rel, h_rel in zip(sorted(fits_rep["landed"]), sorted(h5_rep["landed"])):
        fpath, hpath = store.root / f_rel, store.root / h_rel
        assert hpath.name == fpath.name.replace(".fits", ".h5")
        assert not hpath.stat().st_mode & 0o222                      # landed read-only, as the FITS
        assert entries[hpath.name].sha256 == hashlib.sha256(hpath.read_bytes()).hexdigest()
        with fits.open(fpath) as hf, h5py.File(hpath, "r") as h5:
            assert list(h5) == ["FLUX", "IVAR", "MASK", "WAVE"]
            for ext in ("FLUX", "IVAR", "MASK"):
                a, b = hf[ext].data, h5[ext][()]
                assert a.dtype.newbyteorder("=") == b.dtype and a.shape == b.shape
                assert np.array_equal(a, b), ext                  # exactly, not approximately
            assert np.array_equal(hf["WAVE"].data["WAVE"], h5["WAVE"][()])
            assert h5["WAVE"].attrs["BUNIT"] == "Angstrom"
            assert h5.attrs["SFNG_LAYOUT"] == RC.LAYOUT
            # every card with a value is an attribute (the provenance cards of the primary too) ...
            for hdu, obj in ((hf[0], h5), (hf["FLUX"], h5["FLUX"]), (hf["IVAR"], h5["IVAR"]),
                             (hf["MASK"], h5["MASK"])):
                for card in hdu.header.cards:
                    if card.keyword in ("SIMPLE", "BITPIX", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "EXTNAME") \
                            or card.keyword.startswith("NAXIS"):
                        continue
                    want = card.value if card.keyword != "PROVFILE" else card.value.replace(".prov.json",
                                                                                           ".h5.prov.json")
                    assert obj.attrs[card.keyword] == want, card.keyword
            # ... and the headers come back card for card, comments included
            for key in ("DERKIND", "DERIN1", "DERSHA1", "PLATEIFU", "MANGAID"):
                assert h5.attrs[key] == hf[0].header[key]
        rc_f, rc_h = RC.read(fpath), RC.read(hpath)
        assert (rc_f.form, rc_h.form) == ("fits", "hdf5")

        def cards(header):
            return [(c.keyword, c.value, c.comment) for c in header.cards if c.keyword != "PROVFILE"]

        for ext in ("FLUX", "IVAR", "MASK", "WAVE"):
            assert np.array_equal(rc_f.data[ext], rc_h.data[ext])
            assert cards(rc_f.headers[ext]) == cards(rc_h.headers[ext]), ext
        assert cards(rc_f.primary) == cards(rc_h.primary)
        assert rc_h.headers["FLUX"].comments["Z_USED"] == "redshift used (DRPall nsa_z)"
        assert rc_h.headers["FLUX"]["MASKBITS"] == "DONOTUSE"
        # the provenance sidecars: the same inputs and parameters; each names its own output
        side_f = json.loads((folder / rc_f.primary["PROVFILE"]).read_text())
        side_h = json.loads((folder / rc_h.primary["PROVFILE"]).read_text())
        assert rc_h.primary["PROVFILE"] == hpath.name + ".prov.json" and rc_h.primary["PROVFILE"] in entries
        assert side_f["inputs"] == side_h["inputs"] and side_h["kind"] == "ml-prepare"
        assert side_h["parameters"] == {**side_f["parameters"], "cube_format": "hdf5"}
        assert side_h["outputs"] == [{"name": hpath.name, "role": "product",
                                      "sha256": hashlib.sha256(hpath.read_bytes()).hexdigest()}]
    # the same bytes on a rerun: nothing lands twice, nothing conflicts
    again = _prepared(cli, store, "hdf5")
    assert again["landed"] == [] and len(again["skipped"]) == 2 and again["ok"]


@needs_h5py
def test_hdf5_cube_is_indexed_like_its_fits_twin(cli, cubes):
    from sfng.index.io import read_index

    store, _ = cubes
    _prepared(cli, store, "fits")
    _prepared(cli, store, "hdf5")
    r = cli("index", "build", "--store", store.root, "--full")
    assert r.exit_code == 0 and "0 flagged" in r.output, r.output
    files = read_index(store.root / "SFNG-INDEX.fits")[0]
    rows = {str(x["path"]): x for x in files}
    h5 = sorted(p for p in rows if p.endswith("_restcube.h5"))
    assert len(h5) == 2
    # what only the form changes: the file itself, the HDU number, the sidecar's name, validation
    # (the minimum FITS rules judge FITS files)
    own = {"path", "size", "mtime", "sha256", "hdu", "prov", "valid", "n_problems"}
    for p in h5:
        a, b = rows[p.replace(".h5", ".fits")], rows[p]
        assert b["flag"] == 0 and b["error"] == "" and b["product"] == "cube" and b["foot_n"] == 4
        assert b["prov"] == p + ".prov.json" and b["derived_from"].startswith("data/MANGA/")
        for col in files.dtype.names:
            if col in own:
                continue
            va, vb = np.asarray(a[col]), np.asarray(b[col])
            same = np.array_equal(va, vb, equal_nan=True) if va.dtype.kind == "f" else np.array_equal(va, vb)
            assert same, (col, a[col], b[col])


@needs_h5py
def test_downstream_steps_give_identical_results_from_either_form(cli, cubes, tmp_path):
    store, _ = cubes
    _prepared(cli, store, "fits")
    _prepared(cli, store, "hdf5")
    maps = [mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t) for t in mangagen.DEMO_TARGETS]
    assert cli("ml", "labels", *maps, "-o", tmp_path / "labels").exit_code == 0
    out = {}
    for fmt, suffix in (("fits", ".fits"), ("hdf5", ".h5")):
        made = sorted((store.root / "derived" / "MANGA").glob("*_restcube" + suffix))
        assert len(made) == 2
        d = tmp_path / fmt
        r = cli("ml", "patches", *made, "--labels", tmp_path / "labels", "--size", "5", "--norm", "spectral",
                "-o", d / "patches.npz")
        assert r.exit_code == 0, r.output
        r = cli("ml", "split", d / "patches.npz", "--seed", "1", "--fractions", "0.5,0,0.5", "-o", d / "split")
        assert r.exit_code == 0, r.output
        r = cli("ml", "train", d / "split", "--model", "logreg", "--bands", "6", "-o", d / "run")
        assert r.exit_code == 0, r.output
        out[fmt] = d
    with np.load(out["fits"] / "patches.npz") as a, np.load(out["hdf5"] / "patches.npz") as b:
        assert len(a["y"]) > 50 and sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    for rel in ("patches.npz", "split/train.npz", "split/val.npz", "split/test.npz", "run/logreg.npz",
                "run/baseline.npz", "run/metrics.json"):
        assert (out["fits"] / rel).read_bytes() == (out["hdf5"] / rel).read_bytes(), rel
    sf, sh = (json.loads((out[f] / "split" / "split.json").read_text()) for f in ("fits", "hdf5"))
    assert {**sf, "data": ""} == {**sh, "data": ""}


@needs_h5py
def test_index_build_without_h5py_flags_the_hdf5_cube_and_goes_on(cli, cubes, monkeypatch):
    """Where h5py is missing, the crawl meets the HDF5 cube, flags its row with what to install,
    and indexes the rest: no traceback, exit 0."""
    from sfng.index.io import read_index

    store, _ = cubes
    _prepared(cli, store, "hdf5")
    monkeypatch.setitem(sys.modules, "h5py", None)     # import h5py -> ImportError
    r = cli("index", "build", "--store", store.root, "--full", "-j", "1")
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    assert "2 flagged" in r.output and "needs h5py" in r.output
    rows = {str(x["path"]): x for x in read_index(store.root / "SFNG-INDEX.fits")[0]}
    h5 = [x for p, x in rows.items() if p.endswith("_restcube.h5")]
    assert len(h5) == 2 and len(rows) == 4
    for x in h5:
        assert x["flag"] != 0 and "needs h5py: pip install 'sfng[hdf5]'" in x["error"]
        assert x["error"].endswith("then sfng index build --full")


def test_hdf5_without_h5py_is_one_clear_error(cli, store, monkeypatch):
    from sfng.errors import SfngError

    monkeypatch.setitem(sys.modules, "h5py", None)
    t = mangagen.DEMO_TARGETS[0]
    rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
    mangagen.write_cube(store.root / rel, t, nwave=64)
    with pytest.raises(SfngError, match=r"--cube-format hdf5 needs h5py: pip install 'sfng\[hdf5\]'"):
        P.prepare(store, [rel], P.Grid(6000.0, 7000.0, 20), reindex=False, cube_format="hdf5")
    r = cli("--store", store.root, "ml", "prepare", "--cube-format", "hdf5")
    assert r.exit_code == 1 and "needs h5py" in r.stderr and "Traceback" not in r.output
    assert not list((store.root / "derived").glob("**/*_restcube*"))        # nothing half-made
    r = cli("--store", store.root, "ml", "prepare", "--cube-format", "netcdf")
    assert r.exit_code == 2 and "netcdf" in r.stderr


@needs_h5py
def test_hdf5_cube_is_served_and_released_like_its_fits_twin(cli, cubes, monkeypatch):
    """`sfng serve` reads the HDF5 cube through its format's FITS form (the registry's
    ``as_hdulist``): the same spaxels, and at each the same spectrum, as from the FITS twin; its
    preview is drawn.  A release of the derived cubes carries each one's provenance record, and
    verifies."""
    from astropy.io import fits

    from sfng import formats
    from sfng.serve import ids as sid
    from sfng.serve.service import Service

    store, _ = cubes
    _prepared(cli, store, "fits")
    _prepared(cli, store, "hdf5")
    assert cli("index", "build", "--store", store.root, "--full").exit_code == 0
    derived = store.root / "derived" / "MANGA"
    for h5 in sorted(derived.glob("*_restcube.h5")):
        fmt = formats.claim_name(h5.name)
        assert fmt.name == "manga-restcube-hdf5"
        with open(h5, "rb") as f, fmt.as_hdulist(f) as a, fits.open(str(h5).replace(".h5", ".fits")) as b:
            diff = fits.FITSDiff(a, b, ignore_keywords=["PROVFILE"])     # each names its own record
            assert diff.identical, diff.report()
            assert a[0].header["PROVFILE"] == h5.name + ".prov.json"

    svc = Service(store.root, store.index_path)
    found, total = svc.query(constraint="tree = 'derived'", all_spaxels=True)
    by_form: dict = {".fits": {}, ".h5": {}}
    for i in found:
        _, key, x, y = sid.decode(i)
        e = svc.catalog.entry(key)
        by_form[".h5" if e.path.endswith(".h5") else ".fits"][(e.path.replace(".h5", ".fits"), x, y)] = i
    assert len(by_form[".h5"]) > 1000 and by_form[".h5"].keys() == by_form[".fits"].keys()
    pick = sorted(by_form[".h5"])[::97]
    a = svc.spectra([by_form[".fits"][k] for k in pick])
    b = svc.spectra([by_form[".h5"][k] for k in pick])
    for field in ("flux", "ivar", "mask", "wave"):
        for u, v in zip(getattr(a, field), getattr(b, field)):
            assert np.array_equal(u, v, equal_nan=True), field
    assert (a.wave_unit, a.flux_unit) == (b.wave_unit, b.flux_unit)
    h5_entry = svc.catalog.entry(sid.decode(by_form[".h5"][pick[0]])[1])
    assert svc.file_preview(h5_entry)[:8] == b"\x89PNG\r\n\x1a\n"

    # a format without a FITS form: its cubes are left out of answers, never a failure
    monkeypatch.setattr(type(formats.by_name("manga-restcube-hdf5")), "as_hdulist", lambda self, source: None)
    fresh = Service(store.root, store.index_path, cache_dir=store.root.parent / "cache2")
    only, _ = fresh.query(constraint="tree = 'derived'", all_spaxels=True)
    assert sorted(only) == sorted(by_form[".fits"].values())
    monkeypatch.undo()

    r = cli("--store", store.root, "release", "bundle", "ml1", "--tree", "derived", "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["provenance"] == 4 and got["n_files"] == 4
    rel = store.root / "release" / "ml1" / "derived" / "MANGA"
    for h5 in sorted(derived.glob("*_restcube.h5")):
        for name in (h5.name, h5.name + ".prov.json", h5.name.replace(".h5", ".prov.json")):
            assert (rel / name).read_bytes() == (derived / name).read_bytes(), name
    r = cli("--store", store.root, "release", "verify", "ml1")
    assert r.exit_code == 0 and "OK" in r.output, r.output
    gone = sorted(derived.glob("*_restcube.h5.prov.json"))[0]
    gone.unlink()                                       # a record lost from the store: a note, not a refusal
    assert cli("index", "build", "--store", store.root).exit_code == 0
    r = cli("--store", store.root, "release", "bundle", "ml2", "--tree", "derived", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["provenance"] == 3
    md = (store.root / "release" / "ml2" / "RELEASE.md").read_text()
    assert f"its provenance record derived/MANGA/{gone.name} is not in the store" in md
    assert cli("--store", store.root, "release", "verify", "ml2").exit_code == 0


@needs_h5py
def test_a_damaged_hdf5_cube_is_unreadable_by_name_never_a_crash(cli, cubes, tmp_path, monkeypatch):
    """The service's reader of non-FITS cubes turns whatever a damaged file raises (a dataset
    or its FITS_HEADER attribute gone, not HDF5 at all, no h5py) into Unreadable naming the
    file: a query leaves such a cube out, a request for it is a 404 with the reason."""
    import h5py

    from sfng.serve import data as D

    store, _ = cubes
    _prepared(cli, store, "hdf5")
    good = sorted((store.root / "derived" / "MANGA").glob("*_restcube.h5"))[0]
    e = type("E", (), {"name": good.name, "is_fits": False})()
    with D._open_as_fits(e, good.read_bytes()) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "FLUX", "IVAR", "MASK", "WAVE"]
    for what in ("IVAR", "FITS_HEADER", "garbage"):
        bad = tmp_path / f"{what}_restcube.h5"
        if what == "garbage":
            bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
        else:
            bad.write_bytes(good.read_bytes())
            with h5py.File(bad, "r+") as f:
                if what == "IVAR":
                    del f["IVAR"]
                else:
                    del f["FLUX"].attrs["FITS_HEADER"]
        with pytest.raises(D.Unreadable, match=rf"^{bad.name}: cannot be read as a manga-restcube-hdf5 file"):
            D._open_as_fits(type("E", (), {"name": bad.name, "is_fits": False})(), bad.read_bytes())
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(D.Unreadable, match="needs h5py"):
        D._open_as_fits(e, good.read_bytes())


def test_release_takes_only_true_provenance_records(store):
    """A row's ``prov`` naming a data file, a file that is not a .prov.json, a path outside the
    store or a link is a warning and is not released; a record named twice (``./`` or not) is
    released once, with its checksum taken at planning."""
    import os

    from sfng.derive.provenance import SIDECAR_SUFFIX
    from sfng.release.layout import PROV_SUFFIX
    from sfng.release.plan import BundlePlan, PlanFile, _attach_provenance

    assert PROV_SUFFIX == SIDECAR_SUFFIX            # what release takes is what derive writes

    d = store.root / "derived" / "X"
    d.mkdir(parents=True)
    for n in ("a.fits", "b.fits", "c.fits", "d.fits", "e.fits", "f.fits", "a.prov.json", "notes.txt"):
        (d / n).write_bytes(n.encode())
    os.symlink("a.prov.json", d / "link.prov.json")
    plan = BundlePlan(name="r", path=store.root / "release" / "r")
    for n in ("a", "b", "c", "d", "e", "f"):
        p = d / f"{n}.fits"
        plan.files.append(PlanFile(rel=f"derived/X/{n}.fits", src=p, size=p.stat().st_size, mtime=p.stat().st_mtime))
    plan.provenance = {"derived/X/a.fits": "derived/X/a.prov.json", "derived/X/b.fits": "derived/X/./a.prov.json",
                       "derived/X/c.fits": "derived/X/d.fits", "derived/X/d.fits": "derived/X/notes.txt",
                       "derived/X/e.fits": "/etc/hostname.prov.json", "derived/X/f.fits": "derived/X/link.prov.json"}
    _attach_provenance(store, plan)
    recs = [f for f in plan.files if f.role == "provenance"]
    assert [f.rel for f in recs] == ["derived/X/a.prov.json"] and len(recs[0].sha256) == 64
    notes = "\n".join(plan.warnings)
    assert "derived/X/c.fits: its provenance record derived/X/d.fits is a data file" in notes
    assert "notes.txt is not a .prov.json file" in notes
    assert "/etc/hostname.prov.json" in notes and "link.prov.json is a link" in notes
    assert len(plan.warnings) == 4
