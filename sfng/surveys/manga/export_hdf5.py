"""Export the store's MaNGA cubes and DAP maps in the Multimodal-Universe parent-sample layout.

The layout is the one of ``MultimodalUniverse/scripts/manga/build_parent_sample.py`` (see
``docs/manga.md``), so pipelines written for that data set read sfng's output unchanged::

    <out>/manga/healpix=<hp>/<i:04d>-of-<N:04d>.hdf5     hp = HEALPix nside 16 NESTED of IFURA/IFUDEC
      attrs: project='SDSS', survey='MaNGA', release='DR17'
      /<plateifu>/                   one group per object (track_order)
          object_id, ra, dec, healpix, z, spaxel_size, spaxel_size_unit   (attrs and scalar datasets)
          spaxels   9216 rows (96 x 96 grid): flux, ivar, mask, lsf_sigma, lambda, x, y, spaxel_idx,
                    flux_units, lambda_units, skycoo_x/y, ellcoo_r/rre/rkpc/theta and their units
          images    4 rows (g, r, i, z): image_band, image_array, image_array_units, image_psf,
                    image_psf_units, image_scale, image_scale_units
          maps      one row per DAP channel (no IVAR/MASK HDUs): group, label, array, ivar, mask,
                    array_units

Everything is padded to 96 x 96 spaxels, ``(96 - n) // 2`` on each side: zeros, and the masks
with their DONOTUSE bit (1024 for the cube, 2**30 for the maps).  sfng adds two group attrs the
originals lack, ``ifudesign`` and ``rfwhm`` (arcsec), so the index gives each object its bundle
footprint and resolution.  Files are written under a temporary name and renamed (never half
written); an existing file is replaced only with ``replace=True``.

A rerun after a kill finishes the job: the export holds a lock and keeps a journal
(``<store>/.sfng/journal/export-hdf5-<out>.jsonl``: ``write`` before each file, ``written`` with its
SHA-256 after its rename), so the rerun keeps the files the killed run finished (same objects, same
bytes), rewrites the one it had under way, removes its temporaries and writes the rest; the same
export once more, complete, still stops at the first existing file.  (On a store that cannot be
written there is no journal: the export runs as before, and a rerun after a kill needs ``--replace``.)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import SfngError

GRID = 96
NSIDE = 16
MAX_PER_FILE = 512
SPAXEL_SIZE = 0.5
FILE_ATTRS = {"project": "SDSS", "survey": "MaNGA", "release": "DR17"}
BANDS = ("g", "r", "i", "z")


@dataclass
class ExportItem:
    plateifu: str
    cube: str
    maps: str | None
    ra: float = math.nan
    dec: float = math.nan
    healpix: int = -1
    z: float = math.nan


@dataclass
class ExportReport:
    items: list = field(default_factory=list)       # ExportItem
    files: list = field(default_factory=list)       # written paths (relative to out)
    skipped: list = field(default_factory=list)     # (path, why)
    out: str = ""
    dry_run: bool = False
    resumed: list = field(default_factory=list)     # files an interrupted run of this export had finished

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        return (f"{verb} {len(self.items)} object(s) in {len(self.files)} file(s) under {self.out}"
                + (f" ({len(self.resumed)} finished by the interrupted run)" if self.resumed else "")
                + (f"; {len(self.skipped)} skipped" if self.skipped else ""))

    def as_dict(self):
        return {"out": self.out, "dry_run": self.dry_run,
                "objects": [{"plateifu": i.plateifu, "healpix": i.healpix, "cube": i.cube, "maps": i.maps}
                            for i in self.items],
                "files": self.files, "resumed": self.resumed,
                "skipped": [{"path": p, "why": w} for p, w in self.skipped]}


def find_products(store, plateifus=()) -> tuple[list[ExportItem], list]:
    """Cubes of ``data/MANGA/`` paired with their maps in ``derived/MANGA-DAP/`` by plate-IFU."""
    from .recognise import parse_name

    root = Path(store.root)
    cubes, maps = {}, {}
    skipped = []
    for folder, want, into in ((root / "data" / "MANGA", "cube", cubes),
                               (root / "derived" / "MANGA-DAP", "maps", maps)):
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            info = parse_name(p.name)
            if info and info["kind"] == want and (want != "cube" or info["wave"] == "LOG"):
                into.setdefault(info["plateifu"], str(p))
    keep = set(plateifus or ())
    items = []
    for pifu, cube in sorted(cubes.items()):
        if keep and pifu not in keep:
            continue
        if pifu not in maps:
            skipped.append((cube, "no DAP maps file in derived/MANGA-DAP/ (the parent sample pairs "
                                  "every cube with its maps)"))
            continue
        items.append(ExportItem(pifu, cube, maps[pifu]))
    missing = keep - set(cubes)
    for pifu in sorted(missing):
        skipped.append((pifu, "no LOGCUBE of this plate-IFU in data/MANGA/"))
    return items, skipped


def _pad(a, fill, grid=GRID):
    """Pad the last two axes of ``a`` to ``grid`` x ``grid`` (centred, MMU's integer padding)."""
    import numpy as np

    ny, nx = a.shape[-2:]
    if ny > grid or nx > grid:
        raise SfngError(f"a {nx}x{ny} spaxel grid does not fit the {grid}x{grid} parent-sample grid")
    py, px = (grid - ny) // 2, (grid - nx) // 2
    pad = [(0, 0)] * (a.ndim - 2) + [(py, grid - ny - py), (px, grid - nx - px)]
    return np.pad(a, pad, mode="constant", constant_values=fill)


def _label(channel: str) -> str:
    return channel.replace("-", "_").replace(". ", "").replace(" ", "_").lower()


def object_arrays(item: ExportItem):
    """The ``(attrs, spaxels, images, maps)`` of one plate-IFU, as numpy arrays/records."""
    import numpy as np

    from .describers import channels
    from .facts import DAP_DONOTUSE, DRP_DONOTUSE
    from .headers import open_fits

    with open_fits(item.cube) as cube:
        prim = cube[0].header
        flux_h = cube["FLUX"].header
        flux = _pad(np.asarray(cube["FLUX"].data, dtype=np.float32), 0)
        ivar = _pad(np.asarray(cube["IVAR"].data, dtype=np.float32), 0)
        mask = _pad(np.asarray(cube["MASK"].data, dtype=np.int32), DRP_DONOTUSE)
        lsf_name = "LSFPOST" if "LSFPOST" in cube else "DISP"
        lsf = _pad(np.asarray(cube[lsf_name].data, dtype=np.float32), 0)
        wave = np.asarray(cube["WAVE"].data, dtype=np.float32)
        images = []
        for b in BANDS:
            img = _pad(np.asarray(cube[f"{b.upper()}IMG"].data, dtype=np.float32), 0)
            psf = _pad(np.asarray(cube[f"{b.upper()}PSF"].data, dtype=np.float32), 0)
            images.append((b, img, str(cube[f"{b.upper()}IMG"].header.get("BUNIT", "")), psf,
                           str(cube[f"{b.upper()}PSF"].header.get("BUNIT", ""))))
    nwave = wave.size
    with open_fits(item.maps) as maps:
        mprim = maps[0].header
        sky = _pad(np.asarray(maps["SPX_SKYCOO"].data, dtype=np.float32), 0)
        ell = _pad(np.asarray(maps["SPX_ELLCOO"].data, dtype=np.float32), 0)
        sky_u = str(maps["SPX_SKYCOO"].header.get("BUNIT", "arcsec"))
        ell_units = [u or "" for _, u in channels(maps["SPX_ELLCOO"].header)] or [""] * 4
        map_rows = []
        for hdu in maps[1:]:
            name = hdu.name
            if name.endswith("IVAR") or name.endswith("MASK") or hdu.data is None:
                continue
            data = np.asarray(hdu.data, dtype=np.float32)
            errname = str(hdu.header.get("ERRDATA", "")).strip()
            qualname = str(hdu.header.get("QUALDATA", "")).strip()
            iv = np.asarray(maps[errname].data, dtype=np.float32) if errname in maps else None
            mk = np.asarray(maps[qualname].data) if qualname in maps else None
            chans = channels(hdu.header) if data.ndim == 3 else []
            planes = range(data.shape[0]) if data.ndim == 3 else [None]
            for k in planes:
                arr = data[k] if k is not None else data
                ivk = (iv[k] if k is not None else iv) if iv is not None else np.zeros_like(arr)
                mkk = ((mk[k] if k is not None else mk).astype(np.float32) if mk is not None
                       else np.full(arr.shape, DAP_DONOTUSE, np.float32))
                label = name.lower() + (f"_{_label(chans[k][0])}" if k is not None else "")
                unit = chans[k][1] if k is not None else str(hdu.header.get("BUNIT", ""))
                map_rows.append((name.lower(), label, _pad(arr, 0), _pad(ivk, 0),
                                 _pad(mkk, float(DAP_DONOTUSE)), unit))
    # spaxels: one row per spaxel of the padded grid, fields in MMU's order
    n = GRID * GRID
    sdt = np.dtype([
        ("flux", np.float32, (nwave,)), ("ivar", np.float32, (nwave,)), ("mask", np.int64, (nwave,)),
        ("lsf_sigma", np.float32, (nwave,)), ("lambda", np.float32, (nwave,)),
        ("x", np.int64), ("y", np.int64), ("spaxel_idx", np.int64),
        ("flux_units", "S40"), ("lambda_units", "S20"),
        ("skycoo_x", np.float32), ("skycoo_y", np.float32), ("ellcoo_r", np.float32),
        ("ellcoo_rre", np.float32), ("ellcoo_rkpc", np.float32), ("ellcoo_theta", np.float32),
        ("skycoo_units", "S20"), ("ellcoo_r_units", "S20"), ("ellcoo_rre_units", "S20"),
        ("ellcoo_rkpc_units", "S20"), ("ellcoo_theta_units", "S20"),
    ])
    sp = np.zeros(n, dtype=sdt)
    yy, xx = np.mgrid[0:GRID, 0:GRID]
    sp["flux"] = flux.reshape(nwave, n).T
    sp["ivar"] = ivar.reshape(nwave, n).T
    sp["mask"] = mask.reshape(nwave, n).T
    sp["lsf_sigma"] = lsf.reshape(nwave, n).T
    sp["lambda"] = wave[None, :]
    sp["x"], sp["y"], sp["spaxel_idx"] = xx.ravel(), yy.ravel(), np.arange(n)
    sp["flux_units"] = str(flux_h.get("BUNIT", "")).encode()
    sp["lambda_units"] = str(flux_h.get("CUNIT3", "Angstrom")).encode()
    sp["skycoo_x"], sp["skycoo_y"] = sky[0].ravel(), sky[1].ravel()
    for j, col in enumerate(("ellcoo_r", "ellcoo_rre", "ellcoo_rkpc", "ellcoo_theta")):
        sp[col] = ell[j].ravel()
        sp[col + "_units"] = (ell_units[j] if j < len(ell_units) else "").encode()
    sp["skycoo_units"] = sky_u.encode()

    idt = np.dtype([("image_band", "S5"), ("image_array", np.float32, (GRID, GRID)),
                    ("image_array_units", "S20"), ("image_psf", np.float32, (GRID, GRID)),
                    ("image_psf_units", "S20"), ("image_scale", np.float32), ("image_scale_units", "S10")])
    im = np.zeros(len(images), dtype=idt)
    for j, (b, img, u, psf, pu) in enumerate(images):
        im[j] = (b.encode(), img, u.encode(), psf, pu.encode(), SPAXEL_SIZE, b"arcsec")

    mdt = np.dtype([("group", "S40"), ("label", "S80"), ("array", np.float32, (GRID, GRID)),
                    ("ivar", np.float32, (GRID, GRID)), ("mask", np.float32, (GRID, GRID)),
                    ("array_units", "S40")])
    mp = np.zeros(len(map_rows), dtype=mdt)
    for j, (g, lab, arr, iv, mk, u) in enumerate(map_rows):
        mp[j] = (g.encode(), lab.encode(), arr, iv, mk, u.encode())

    attrs = {"object_id": item.plateifu, "ra": float(prim["IFURA"]), "dec": float(prim["IFUDEC"]),
             "healpix": int(item.healpix), "z": float(item.z), "spaxel_size": SPAXEL_SIZE,
             "spaxel_size_unit": b"arcsec"}
    extra = {"ifudesign": int(prim.get("IFUDSGN", 0) or 0),
             "rfwhm": float(prim.get("RFWHM", math.nan)),
             "mangaid": str(prim.get("MANGAID", "")).strip()}
    if math.isnan(item.z):
        v = mprim.get("SCINPVEL")
        attrs["z"] = float(v) / 299792.458 if v is not None else math.nan
    return attrs, extra, sp, im, mp


def plan_export(store, out=None, plateifus=(), max_per_file: int = MAX_PER_FILE) -> tuple[Path, dict, ExportReport]:
    """``(out, {relative file: [ExportItem]}, report)`` without writing anything."""
    from ...fitsheader import read_header
    from ...healpix import ang2pix_nest
    from .describers import load_redshifts

    if max_per_file < 1:
        raise SfngError("--max-per-file must be at least 1")
    out = Path(out) if out else Path(store.root) / "derived" / "MMU"
    items, skipped = find_products(store, plateifus)
    zs = load_redshifts(store.root)
    for it in items:
        h = read_header(it.cube, 0)
        it.ra, it.dec = float(h["IFURA"]), float(h["IFUDEC"])
        it.healpix = int(ang2pix_nest(NSIDE, it.ra, it.dec))
        it.z = zs.get(it.plateifu, math.nan)
    by_hp: dict = {}
    for it in items:
        by_hp.setdefault(it.healpix, []).append(it)
    files = {}
    for hp, group in sorted(by_hp.items()):
        chunks = [group[i:i + max_per_file] for i in range(0, len(group), max_per_file)]
        for i, chunk in enumerate(chunks, 1):
            files[f"manga/healpix={hp}/{i:04d}-of-{len(chunks):04d}.hdf5"] = chunk
    report = ExportReport(items=items, files=sorted(files), skipped=skipped, out=str(out))
    return out, files, report


def job_name(store, out) -> str:
    """The name of an export's lock and journal: ``hdf5-MMU`` for the store's ``derived/MMU/``,
    else ``hdf5-<12 hex digits of the output folder's path>``."""
    import hashlib

    out = Path(out).resolve()
    if out == (Path(store.root) / "derived" / "MMU").resolve():
        return "hdf5-MMU"
    return "hdf5-" + hashlib.sha1(os.fsencode(out)).hexdigest()[:12]


def _group_key(group) -> list:
    return [[it.plateifu, os.path.basename(it.cube), os.path.basename(it.maps or "")] for it in group]


def _interrupted(jpath) -> tuple[dict, dict]:
    """What a killed export left in its journal: ``({rel: (group, sha256)} finished,
    {rel: group} under way or finished)``."""
    from ...journal import Journal

    finished, intents = {}, {}
    for r in Journal.read(jpath):
        rel = r.get("rel")
        if r["op"] == "write" and rel:
            intents[rel] = r.get("objects")
            finished.pop(rel, None)
        elif r["op"] == "written" and rel and rel in intents:
            finished[rel] = (intents[rel], r.get("sha256"))
    return finished, intents


def export_hdf5(store, out=None, *, plateifus=(), max_per_file: int = MAX_PER_FILE,
                replace: bool = False, dry_run: bool = False, progress=None) -> ExportReport:
    """Write the parent-sample files (see the module docstring); returns an :class:`ExportReport`."""
    try:
        import h5py
    except ImportError as exc:
        raise SfngError("sfng export hdf5 needs h5py: pip install 'sfng[hdf5]'") from exc
    out, files, report = plan_export(store, out, plateifus, max_per_file)
    report.dry_run = dry_run
    if dry_run:
        return report
    if not report.items:
        raise SfngError(f"nothing to export: no MaNGA LOGCUBE with its DAP maps in {store.root}/data/MANGA "
                        f"and derived/MANGA-DAP" + (f" ({report.skipped[0][1]})" if report.skipped else ""))
    import contextlib

    from ...journal import Lock, state_dir

    name = job_name(store, out)
    with contextlib.ExitStack() as held:
        try:
            locks, jdir = state_dir(store.root, "locks"), state_dir(store.root, "journal")
        except SfngError:
            jpath = None  # a store that cannot be written: no journal (the output may be elsewhere)
        else:
            held.enter_context(Lock(locks / f"export-{name}.lock", f"the export to {out}"))
            jpath = jdir / f"export-{name}.jsonl"
        finished, intents = _interrupted(jpath) if jpath is not None else ({}, {})
        return _write(h5py, store, out, files, report, replace, progress, jpath, finished, intents)


def _write(h5py, store, out: Path, files: dict, report: ExportReport, replace: bool, progress, jpath,
           finished: dict, intents: dict) -> ExportReport:
    from ...fsutil import (atomic_write_text, fault_point, fsync_dir, make_read_only, remove_stale_temporaries,
                           sha256_file, temp_path)
    from ...journal import Journal
    from .identity import readme_text

    keep, ours = set(), set()
    for rel, group in files.items():
        dest = out / rel
        if not dest.exists():
            continue
        if rel in finished and finished[rel][0] == _group_key(group) and sha256_file(dest) == finished[rel][1]:
            keep.add(rel)   # finished by the interrupted run of this export: kept
        elif rel in intents:
            ours.add(rel)   # landed by the interrupted run, not recorded: written again
        elif not replace:
            raise SfngError(f"{dest} exists; sfng never overwrites a file (use --replace to replace it "
                            f"atomically, or -o/--output DIR)")
    for folder in sorted({out} | {(out / rel).parent for rel in files}):
        remove_stale_temporaries(folder)  # those of killed exports (their process is gone)
    journal = None
    if jpath is not None:
        journal = Journal(jpath).open(out=str(out), files=sorted(files), replace=replace)
    try:
        if out.resolve() == (Path(store.root) / "derived" / "MMU").resolve():
            readme = out / "MMU_README.txt"
            if not readme.exists():  # the survey README of the store folder (citation, layout)
                atomic_write_text(readme, readme_text("MMU"))
        for n, (rel, group) in enumerate(files.items(), 1):
            dest = out / rel
            if rel in keep:
                report.resumed.append(rel)
                if progress:
                    progress(n, len(files), rel)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if journal is not None:
                journal.record("write", rel=rel, objects=_group_key(group))
            tmp = temp_path(dest.parent, ".hdf5")  # .sfng-tmp-<pid>-...: a rerun knows a dead writer's
            try:
                with h5py.File(tmp, "w") as f:
                    f.attrs.update(FILE_ATTRS)
                    for it in group:
                        attrs, extra, sp, im, mp = object_arrays(it)
                        g = f.create_group(it.plateifu, track_order=True)
                        for k, v in attrs.items():
                            g.attrs[k] = v
                            g.create_dataset(k, data=v)
                        for k, v in extra.items():
                            g.attrs[k] = v
                        g.create_dataset("spaxels", data=sp)
                        g.create_dataset("images", data=im)
                        g.create_dataset("maps", data=mp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                make_read_only(tmp)  # landed content is read-only (sfng writes anew, never edits)
                digest = sha256_file(tmp) if journal is not None else None
                fault_point(f"export {rel}: temporary written")
                if replace or rel in ours:
                    os.replace(tmp, dest)
                else:
                    os.link(tmp, dest)
                    tmp.unlink()
                fsync_dir(dest.parent)
                fault_point(f"export {rel}: renamed")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if journal is not None:
                journal.record("written", rel=rel, sha256=digest)
            if progress:
                progress(n, len(files), rel)
    except BaseException:
        if journal is not None:
            journal.close(remove=False)  # kept: the rerun finishes the job
        raise
    if journal is not None:
        journal.done()
    return report
