"""``sfng ml``: the MaNGA hyperspectral pipeline (the library: :mod:`sfng.ml`; the page: docs/ml.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import output
from .options import format_option, output_option, store_option, store_path_option


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
@format_option("text", "json")
@store_option
def prepare(paths, grid, fmt, store):
    """Rest-frame, resampled, masked copies of MaNGA LOGCUBEs (PATHS; default all) into derived/MANGA/."""
    from ..ml.prepare import prepare as run

    rep = run(store, list(paths), _grid(grid))
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
@click.option("--calibration", default="M13-O3N2", show_default=True,
              help="12+log(O/H) calibration: PP04-N2, PP04-O3N2, M13-N2, M13-O3N2 (cut and labels).")
@click.option("--edges", default="8.0,8.2,8.3,8.4,8.5,8.7", show_default=True, help="12+log(O/H) bin edges.")
@output_option("Folder for the label maps (FITS) and their metadata (JSON).", kind="dir", required=True)
@format_option("text", "json")
@store_path_option()
def labels(maps, task, snr, calibration, edges, out, fmt, store_override=None):
    """Label maps (FITS with WCS, CLASSn cards) from DAP MAPS files."""
    from ..fsutil import atomic_write_text
    from ..ml import labels as L

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for m in maps:
        lm = L.read_maps(m)
        values = None
        if task == "bpt":
            cls, meta = L.bpt_labels(lm, snr)
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
@click.option("--norm", type=click.Choice(["global", "none"]), default="global", show_default=True,
              help="global: divide each cube by its median positive flux; none: as prepared.")
@output_option("The patch set (.npz: x, y, galaxy, plateifu, centre, code, classes).", required=True)
@format_option("text", "json")
@store_path_option()
def patches(cubes, label_dir, size, norm, out, fmt, store_override=None):
    """Patches around every labelled spaxel of prepared CUBES, in one compact file.

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
@output_option("Folder for train.npz, val.npz, test.npz and split.json.", kind="dir", required=True)
@format_option("text", "json")
@store_path_option()
def split(data, by, seed, fractions, out, fmt, store_override=None):
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
    counts = {}
    for name, a in per.items():
        save(out / f"{name}.npz", a)
        counts[name] = {"patches": int(len(a["y"])), "galaxies": len(set(a["galaxy"].tolist()))}
    record = {"data": str(data), "by": by, "seed": seed, "fractions": fractions, "counts": counts,
              "galaxies": assign, "leakage_check": "passed"}
    atomic_write_text(out / "split.json", json.dumps(record, indent=2) + "\n")
    if fmt == "json":
        output.emit_json(record)
    else:
        for name, c in counts.items():
            click.echo(f"{name}: {c['patches']} patches from {c['galaxies']} galaxies -> {out / (name + '.npz')}")


def _load_npz(path):
    import numpy as np

    d = np.load(path, allow_pickle=False)
    return d["x"], d["y"], d["galaxy"], [str(c) for c in d["classes"]]


@ml.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--bands", type=int, default=30, show_default=True, help="Average the spectra into N bands.")
@click.option("--device", default="cpu", show_default=True)
@output_option("Run folder: checkpoint, split, history and metrics.", kind="dir", required=True)
@format_option("text", "json")
@store_path_option()
def train(data, seed, fractions, epochs, bands, device, out, fmt, store_override=None):
    """Train SSFTT on DATA (.npz: x[n,nwave,p,p], y, galaxy, classes), split by galaxy."""
    import numpy as np

    from ..ml import model as M
    from ..ml.splits import check_leakage, split_by_galaxy

    x, y, g, classes = _load_npz(data)
    dom = {k: int(np.bincount(y[g == k]).argmax()) for k in sorted(set(g.tolist()))}
    assign = split_by_galaxy(dom, [float(f) for f in fractions.split(",")], seed=seed)
    split = np.array([assign[k] for k in g.tolist()])
    check_leakage(g.tolist(), split.tolist())
    x = M.reduce_bands(x, bands)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tr, va, te = (split == s for s in ("train", "val", "test"))
    hist = M.train(x[tr], y[tr], classes, x_val=x[va], y_val=y[va], epochs=epochs, seed=seed, device=device,
                   checkpoint=out / "ssftt.pt")
    hist.pop("model")
    (out / "split.json").write_text(json.dumps({"seed": seed, "fractions": fractions, "galaxies": assign},
                                               indent=2) + "\n")
    (out / "history.json").write_text(json.dumps(hist, indent=2) + "\n")
    m = M.evaluate(out / "ssftt.pt", x[te], y[te], device)
    (out / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
    _show(m, fmt)


@ml.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", "which", default="test", show_default=True, help="Evaluate this split of split.json.")
@click.option("--bands", type=int, default=30, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@format_option("text", "json")
@store_path_option()
def evaluate(checkpoint, data, which, bands, device, fmt, store_override=None):
    """Metrics (JSON) of a checkpoint on the galaxies of one split (split.json beside it)."""
    import numpy as np

    from ..ml import model as M

    x, y, g, _ = _load_npz(data)
    assign = json.loads((Path(checkpoint).parent / "split.json").read_text())["galaxies"]
    sel = np.array([assign.get(k) == which for k in g.tolist()])
    _show(M.evaluate(checkpoint, M.reduce_bands(x[sel], bands), y[sel], device), fmt)


def _show(m: dict, fmt: str) -> None:
    if fmt == "json":
        output.emit_json(m)
        return
    click.echo(f"n={m['n']}  overall accuracy={m['overall_accuracy']:.4f}  kappa={m['kappa']:.4f}")
    for c, d in m["per_class"].items():
        click.echo(f"  {c}: precision={d['precision']}  recall={d['recall']}  support={d['support']}")
