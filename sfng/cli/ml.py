"""``sfng ml``: the MaNGA hyperspectral pipeline (the library: :mod:`sfng.ml`; the page: docs/ml.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import output
from .options import format_option, mask_bits_option, output_option, store_option, store_path_option


def _grid(text: str):
    from ..errors import SfngError
    from ..ml.prepare import Grid

    try:
        lo, hi, n = text.split(",")
        return Grid(float(lo), float(hi), int(n))
    except ValueError:
        raise SfngError(f"--grid wants LO,HI,N (Angstrom, Angstrom, channels), not {text!r}") from None


@click.group()
def ml():
    """MaNGA hyperspectral data sets: rest-frame cubes, BPT/metallicity labels, SSFTT training."""


@ml.command()
@click.argument("paths", nargs=-1)
@click.option("--grid", "grid", default="5000,8000,2040", show_default=True,
              help="Rest-frame log-wavelength grid LO,HI,N (Angstrom, channels).")
@mask_bits_option("MANGA_DRP3PIXMASK", "DONOTUSE,LOWCOV,DEADFIBER,FORESTAR")
@click.option("--cube-format", "cube_format", type=click.Choice(["fits", "hdf5"]), default="fits",
              show_default=True,
              help="Write each cube as FITS (..._restcube.fits) or HDF5 (..._restcube.h5: the same arrays, "
                   "cards as attributes; needs h5py).")
@format_option("text", "json")
@store_option
def prepare(paths, grid, mask_bits, cube_format, fmt, store):
    """Rest-frame, resampled, masked copies of MaNGA LOGCUBEs (PATHS; default all) into derived/MANGA/.

    \b
    Examples:
        sfng ml prepare                                   # every LOGCUBE of data/MANGA/, as FITS
        sfng ml prepare --mask-bits DONOTUSE,LOWCOV,DEADFIBER,FORESTAR
        sfng ml prepare --cube-format hdf5                # the same cubes as HDF5
    """
    from ..ml.prepare import prepare as run

    rep = run(store, list(paths), _grid(grid), mask_bits=mask_bits, cube_format=cube_format)
    if fmt == "json":
        output.emit_json(rep.as_dict())
    else:
        output.landed_report(rep)
    if not rep.ok:
        raise SystemExit(1)


@ml.command()
@click.argument("maps", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--task", type=click.Choice(["bpt", "logoh"]), default="bpt", show_default=True)
@click.option("--snr", type=float, default=3.0, show_default=True, help="S/N cut on every line used.")
@click.option("--scheme", type=click.Choice(["nii", "kewley06"]), default="nii", show_default=True,
              help="BPT: nii classifies on [NII] and splits AGN by [SII]/[OI]; kewley06 needs all three "
                   "diagrams to agree (as marvin's bpt_kewley06).")
@click.option("--calibration", default="M13-O3N2", show_default=True,
              help="12+log(O/H) calibration: PP04-N2, PP04-O3N2, M13-N2, M13-O3N2 (cut and labels).")
@click.option("--edges", default="8.0,8.2,8.3,8.4,8.5,8.7", show_default=True, help="12+log(O/H) bin edges.")
@mask_bits_option("MANGA_DAPPIXMASK", "DONOTUSE,UNRELIABLE")
@output_option("Folder for the label maps (FITS) and their metadata (JSON).", kind="dir", required=True)
@format_option("text", "json")
@store_path_option()
def labels(maps, task, snr, scheme, calibration, edges, mask_bits, out, fmt, store_override=None):
    """Label maps (FITS with WCS, CLASSn cards) from DAP MAPS files."""
    from ..fsutil import atomic_write_text
    from ..ml import labels as L

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for m in maps:
        lm = L.read_maps(m, mask_bits)
        values = None
        if task == "bpt":
            cls, meta = L.bpt_labels(lm, snr, scheme=scheme)
        else:
            cls, values, meta = L.logoh_labels(lm, calibration, [float(e) for e in edges.split(",")], snr)
        name = Path(m).name.split(".fits")[0] + f"_{task}.fits"
        L.write_label_map(out / name, cls, meta, L.celestial_header(m), values)
        atomic_write_text(out / (name + ".json"), json.dumps({"maps": str(m), **meta}, indent=2) + "\n",
                          overwrite=True)
        made.append(str(out / name))
    if fmt == "json":
        output.emit_json({"made": made})
    else:
        for p in made:
            click.echo(f"made: {p}")


@ml.command()
@click.argument("cubes", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", "label_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of label maps (sfng ml labels -o DIR), matched to each cube by its plate-IFU.")
@click.option("--size", type=click.IntRange(1, 31), default=7, show_default=True,
              help="Patch side in spaxels (odd: 7, 9, 13; MaNGA's PSF spans about 5).")
@click.option("--norm", type=click.Choice(["global", "spatial", "spectral", "none"]), default="global",
              show_default=True,
              help="global: each cube / its median positive flux; spatial: each channel standardised over "
                   "the cube's spaxels; spectral: each spectrum / its own median; none: as prepared. "
                   "PCA: `sfng ml split --pca N` (fitted on the training split only).")
@output_option("The patch set (.npz: x, y, galaxy, plateifu, centre, code, classes).", required=True)
@format_option("text", "json")
@store_path_option()
def patches(cubes, label_dir, size, norm, out, fmt, store_override=None):
    """Patches around every labelled spaxel of prepared CUBES, in one compact file.

    CUBES are FITS (..._restcube.fits) or HDF5 (..._restcube.h5, `ml prepare --cube-format hdf5`).

    \b
    Example:
        sfng ml labels derived/MANGA-DAP/*MAPS*.fits -o labels/
        sfng ml patches derived/MANGA/*_restcube.fits --labels labels/ --size 7 -o patches.npz
        sfng ml split patches.npz --seed 1 -o splits/
    """
    from ..ml.patchset import make_patchset, save

    ps = make_patchset(cubes, label_dir, size=size, norm=norm)
    if ps.arrays.get("x") is not None:
        save(out, ps.arrays)
    n = int(len(ps.arrays["y"]))
    if fmt == "json":
        output.emit_json({"out": str(out) if n else None, "patches": n, "made": ps.made, "failed": ps.failed,
                          "classes": [str(c) for c in ps.arrays.get("classes", [])]})
    else:
        for cube, lmap, k in ps.made:
            output.debug(f"{k} patches: {cube} ({lmap})")
        for path, why in ps.failed:
            output.warn(f"{path}: {why}")
        if n:
            click.echo(f"made: {out} ({n} patches of {size}x{size} spaxels from {len(ps.made)} cube(s); "
                       f"classes {', '.join(str(c) for c in ps.arrays['classes'])})")
    if not ps.ok:
        raise SystemExit(1)


@ml.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", type=click.Choice(["galaxy"]), default="galaxy", show_default=True,
              help="The unit no split may share (a galaxy: its MaNGA-ID).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True, help="train,val,test")
@click.option("--pca", "pca", type=click.IntRange(1, None), metavar="N",
              help="Project every split's spectra onto N principal components fitted on the training "
                   "split only (the SSFTT paper uses 30); pca.npz records them.")
@output_option("Folder for train.npz, val.npz, test.npz and split.json.", kind="dir", required=True)
@format_option("text", "json")
@store_path_option()
def split(data, by, seed, fractions, pca, out, fmt, store_override=None):
    """Split a patch set (DATA, from sfng ml patches) by galaxy: one file per split.

    Whole galaxies go to exactly one split (stratified by each galaxy's dominant class, seeded,
    reproducible; no galaxy dropped), and the leakage check fails loudly otherwise.
    """
    import numpy as np

    from ..fsutil import atomic_write_text
    from ..ml.patchset import save, split_patchset

    arrays = dict(np.load(data, allow_pickle=False))
    per, assign = split_patchset(arrays, [float(f) for f in fractions.split(",")], seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pca_info = None
    if pca:
        from ..ml import pca as P

        fitted = P.fit(per["train"]["x"], pca, seed=seed)
        for name in per:
            per[name] = {**per[name], "x": P.project(per[name]["x"], fitted), "norm": np.array(
                f"{per[name].get('norm', '')}+pca{pca}")}
        save(out / "pca.npz", fitted.as_arrays())
        pca_info = {"components": pca, "fitted_on": "train", "explained": float(fitted.explained.sum())}
    counts = {}
    for name, a in per.items():
        save(out / f"{name}.npz", a)
        counts[name] = {"patches": int(len(a["y"])), "galaxies": len(set(a["galaxy"].tolist()))}
    record = {"data": str(data), "by": by, "seed": seed, "fractions": fractions, "counts": counts,
              "galaxies": assign, "leakage_check": "passed", "pca": pca_info}
    atomic_write_text(out / "split.json", json.dumps(record, indent=2) + "\n")
    if fmt == "json":
        output.emit_json(record)
    else:
        for name, c in counts.items():
            click.echo(f"{name}: {c['patches']} patches from {c['galaxies']} galaxies -> {out / (name + '.npz')}")


@ml.command()
@click.argument("data", type=click.Path(exists=True))
@click.option("--model", "model", type=click.Choice(["ssftt", "logreg"]), default="ssftt", show_default=True,
              help="ssftt (PyTorch) or logreg (the baseline alone; numpy, no PyTorch).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True,
              help="train,val,test, when DATA is a patch set (a split folder keeps its split).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam's learning rate.")
@click.option("--bands", type=int, default=30, show_default=True,
              help="Average the spectra into N bands (no change when they have N or fewer, e.g. after --pca).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps ...")
@output_option("Run folder (never replaced; default in a store: derived/ML/<DATA>-<model>-seed<N>/).",
               kind="dir")
@format_option("text", "json")
@store_path_option()
@click.pass_obj
def train(obj, data, model, seed, fractions, epochs, batch, lr, bands, device, out, fmt, store_override=None):
    """Train SSFTT (or the baseline alone) on DATA: the folder of `sfng ml split` (train.npz,
    val.npz, test.npz), or a patch set .npz that is split by galaxy here (seeded, leakage-checked).

    Writes the model, the logistic-regression baseline fitted on the same splits, the metrics of
    both on the test split, the history and its picture, and run.json (inputs and their SHA-256,
    options, versions). The folder appears whole at the end (built under a temporary name).

    \b
    Examples:
        sfng ml split patches.npz --seed 1 --pca 30 -o splits/
        sfng ml train splits/ --epochs 20                    # -> derived/ML/splits-ssftt-seed0/
        sfng ml train splits/ --model logreg -o runs/baseline
    """
    from ..errors import NotAStoreError, SfngError
    from ..ml.run import default_run_dir, train_run

    if out is None:
        try:
            out = default_run_dir(obj.store(store_override), data, model, seed)
        except NotAStoreError:
            raise SfngError("outside a store: give the run folder with -o/--output DIR") from None
    rep = train_run(data, out, model=model, seed=seed, fractions=[float(f) for f in fractions.split(",")],
                    epochs=epochs, bands=bands, device=device, batch=batch, lr=lr)
    if fmt == "json":
        output.emit_json(rep.as_dict())
        return
    click.echo(f"run: {rep.path}")
    _show(rep.metrics, fmt, label=rep.model)
    _show(rep.baseline, fmt, label="baseline (logistic regression, central spectrum)")


@ml.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True))
@click.option("--split", "which", default="test", show_default=True, help="Evaluate this split.")
@click.option("--bands", type=int, help="Bands (default: what the model was trained on).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--map", "maps", multiple=True, metavar="PLATEIFU",
              help="Draw this cube's predicted and true class maps (PNG into -o DIR; repeatable).")
@output_option("Folder for the --map pictures.", kind="dir")
@format_option("text", "json")
@store_path_option()
def evaluate(checkpoint, data, which, bands, device, maps, out, fmt, store_override=None):
    """Metrics of a run's model (ssftt.pt, or a baseline's .npz) on one split: DATA is the split
    folder, or the patch set the run split (its split.json says which galaxy is where)."""
    from ..ml.run import evaluate_run

    m = evaluate_run(checkpoint, data, split=which, bands=bands, device=device, maps=maps, maps_dir=out)
    _show(m, fmt)


def _show(m: dict, fmt: str, label: str = "") -> None:
    if fmt == "json":
        output.emit_json(m)
        return
    aa = m.get("average_accuracy")
    click.echo((f"{label}: " if label else "") + f"n={m['n']}  overall accuracy={m['overall_accuracy']:.4f}  "
               f"average accuracy={aa if aa is None else round(aa, 4)}  kappa={m['kappa']:.4f}")
    for c, d in m["per_class"].items():
        click.echo(f"  {c}: precision={d['precision']}  recall={d['recall']}  support={d['support']}")
    for p in m.get("maps", []):
        click.echo(f"  map: {p}")
