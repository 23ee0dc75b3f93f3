"""Training runs: ``sfng ml train`` and ``sfng ml evaluate`` as functions.

A run trains on the splits of ``sfng ml split`` (a folder with ``train.npz``, ``val.npz``,
``test.npz`` and ``split.json``: nothing is split again, so the leakage check that made them
holds), or on a patch set ``.npz`` that it splits by galaxy itself (seeded, leakage-checked).
It writes one folder: the model (``ssftt.pt``, or ``logreg.npz`` for ``--model logreg``), the
baseline beside it (``baseline.npz``: :mod:`.baseline` on the same splits), ``split.json``,
``history.json``, ``metrics.json`` (the model on the test split), ``baseline_metrics.json``,
``run.json`` (what was run: data, its SHA-256, options, versions) and ``history.png`` when
matplotlib is there.  The folder is built under a temporary name beside the target and renamed
into place at the end: a killed run leaves no half run, and an existing run is never replaced.
In a store the default target is ``derived/ML/<data>-<model>-seed<N>/``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SfngError
from . import baseline as B

SPLITS = ("train", "val", "test")


@dataclass
class RunReport:
    path: Path
    model: str
    metrics: dict
    baseline: dict
    files: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"path": str(self.path), "model": self.model, "metrics": self.metrics,
                "baseline": self.baseline, "files": self.files}


def load_splits(data, *, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[dict, dict]:
    """``({split: arrays}, record)`` from a split folder, or from a patch set split here."""
    from .patchset import split_patchset

    data = Path(data)
    if data.is_dir():
        missing = [s for s in SPLITS if not (data / f"{s}.npz").is_file()]
        if missing:
            raise SfngError(f"{data}: no {', '.join(m + '.npz' for m in missing)}; make the splits with "
                            f"`sfng ml split PATCHES.npz -o {data}`")
        per = {s: dict(np.load(data / f"{s}.npz", allow_pickle=False)) for s in SPLITS}
        record = json.loads((data / "split.json").read_text()) if (data / "split.json").is_file() else {}
        from .splits import check_leakage

        gal = np.concatenate([np.asarray(per[s]["galaxy"]).astype(str) for s in SPLITS])
        which = np.concatenate([np.full(len(per[s]["y"]), s) for s in SPLITS])
        check_leakage(gal.tolist(), which.tolist())     # the files may have been edited since
        record.setdefault("galaxies", {str(g): str(w) for g, w in zip(gal, which)})
        record["from"] = str(data)
        return per, record
    arrays = dict(np.load(data, allow_pickle=False))
    per, assign = split_patchset(arrays, fractions, seed=seed)
    return per, {"from": str(data), "seed": seed, "fractions": list(fractions), "galaxies": assign}


def _classes(per: dict) -> list[str]:
    for s in SPLITS:
        if "classes" in per[s]:
            return [str(c) for c in per[s]["classes"]]
    raise SfngError("the data name no classes")


def default_run_dir(store, data, model: str, seed: int) -> Path:
    stem = Path(data).name.removesuffix(".npz") or "data"
    return Path(store.root) / "derived" / "ML" / f"{stem}-{model}-seed{seed}"


def train_run(data, out, *, model: str = "ssftt", seed: int = 0, fractions=(0.8, 0.1, 0.1), epochs: int = 10,
              bands: int = 30, device: str = "cpu", batch: int = 64, lr: float = 1e-3,
              baseline_steps: int = 500) -> RunReport:
    from . import model as M

    if model not in ("ssftt", "logreg"):
        raise SfngError(f"--model {model!r}: ssftt or logreg")
    if model == "ssftt":
        M.require_torch()          # before any work: say at once that the extra is missing
    out = Path(out)
    if out.exists():
        raise SfngError(f"{out} exists; a run is never replaced: give another -o/--output")
    per, record = load_splits(data, fractions=fractions, seed=seed)
    classes = _classes(per)
    # principal components are not neighbouring channels: they are never averaged into bands
    keep = None if record.get("pca") else bands
    x = {s: M.reduce_bands(per[s]["x"], keep) if len(per[s]["y"]) else
         np.zeros((0, *M.reduced_shape(per[s]["x"].shape, keep)[1:]), np.float32) for s in SPLITS}
    bands = int(x["train"].shape[1])     # what the model sees, as run.json records it
    y = {s: np.asarray(per[s]["y"], dtype=np.int64) for s in SPLITS}
    if not len(y["train"]):
        raise SfngError("no training samples")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        base = B.fit(x["train"], y["train"], classes, steps=baseline_steps)
        B.save(tmp / "baseline.npz", base)
        base_m = M.metrics(y["test"], B.predict(base, x["test"]), classes)
        if model == "ssftt":
            hist = M.train(x["train"], y["train"], classes, x_val=x["val"], y_val=y["val"], epochs=epochs,
                           batch=batch, lr=lr, seed=seed, device=device, checkpoint=tmp / "ssftt.pt")
            hist.pop("model")
            ck = tmp / "ssftt.pt"
        else:
            hist = {"loss": base["loss"].tolist()[::max(1, baseline_steps // 50)], "val_accuracy": []}
            shutil.copyfile(tmp / "baseline.npz", tmp / "logreg.npz")
            ck = tmp / "logreg.npz"
        m = evaluate_arrays(ck, x["test"], y["test"], device)
        _write_json(tmp / "split.json", record)
        _write_json(tmp / "history.json", hist)
        _write_json(tmp / "metrics.json", m)
        _write_json(tmp / "baseline_metrics.json", base_m)
        _write_json(tmp / "run.json", _run_record(data, model, seed, fractions, epochs, bands, device, batch, lr,
                                                    {s: int(len(y[s])) for s in SPLITS}))
        try:
            from .plots import plot_history

            plot_history(hist, tmp / "history.png", title=f"{model}, seed {seed}")
        except SfngError:
            pass       # no matplotlib: no picture, the numbers are in history.json
        _fsync_all(tmp)
        if out.exists():
            raise SfngError(f"{out} appeared while training; the run stays in {tmp}")
        os.rename(tmp, out)
        from ..fsutil import fsync_dir

        fsync_dir(out.parent)       # the rename itself on disk: a finished run stays finished
    except BaseException:
        if tmp.exists() and not out.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RunReport(out, model, m, base_m, sorted(p.name for p in out.iterdir()))


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_plain) + "\n", encoding="utf-8")


def _plain(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _fsync_all(folder: Path) -> None:
    from ..fsutil import fsync_dir

    for p in folder.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    fsync_dir(folder)


def _run_record(data, model, seed, fractions, epochs, bands, device, batch, lr, counts) -> dict:
    from .. import __version__

    data = Path(data)
    files = [data / f"{s}.npz" for s in SPLITS] if data.is_dir() else [data]
    from ..fsutil import sha256_file

    rec = {"data": str(data), "inputs": {str(p): sha256_file(p) for p in files}, "model": model, "seed": seed,
           "fractions": list(fractions), "epochs": epochs, "bands": bands, "device": device, "batch": batch,
           "lr": lr, "samples": counts, "sfng": __version__}
    try:
        import torch

        rec["torch"] = torch.__version__
    except ImportError:
        pass
    return rec


def evaluate_arrays(checkpoint, x, y, device: str = "cpu") -> dict:
    """Metrics of ``checkpoint`` (``.pt``: SSFTT; ``.npz``: the baseline) on band-reduced ``x``."""
    from . import model as M

    checkpoint = Path(checkpoint)
    if checkpoint.suffix == ".npz":
        base = B.load(checkpoint)
        return M.metrics(y, B.predict(base, x), [str(c) for c in base["classes"]])
    return M.evaluate(checkpoint, x, y, device)


def checkpoint_bands(checkpoint) -> int:
    """How many bands the model was trained on (its input)."""
    checkpoint = Path(checkpoint)
    if checkpoint.suffix == ".npz":
        return int(len(B.load(checkpoint)["mean"]))
    from .model import require_torch

    torch = require_torch()
    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["config"]["bands"])


def evaluate_run(checkpoint, data, *, split: str = "test", bands: int | None = None, device: str = "cpu",
                 maps=(), maps_dir=None) -> dict:
    """Metrics of ``checkpoint`` on one split: of a split folder, or of a patch set split as the
    run's ``split.json`` (beside the checkpoint) says.  ``maps``: plate-IFUs whose predicted and
    true class maps to draw into ``maps_dir`` (PNG)."""
    from . import model as M

    data = Path(data)
    if split not in SPLITS:
        raise SfngError(f"--split {split!r}: one of {', '.join(SPLITS)}")
    if data.is_dir():
        per, _ = load_splits(data)
        arrays = per[split]
    else:
        arrays = dict(np.load(data, allow_pickle=False))
        rec = Path(checkpoint).parent / "split.json"
        if not rec.is_file():
            raise SfngError(f"no split.json beside {checkpoint}: give the split folder instead of a patch set")
        run_split = json.loads(rec.read_text())
        if run_split.get("pca"):
            raise SfngError(f"{checkpoint} was trained on PCA components (ml split --pca); a patch set has "
                            f"channels: give the split folder ({run_split.get('from', 'the one it was trained on')})")
        assign = run_split["galaxies"]
        sel = np.array([assign.get(str(k)) == split for k in np.asarray(arrays["galaxy"]).astype(str)])
        arrays = {k: (np.asarray(v)[sel] if np.ndim(v) and len(v) == len(sel) else v) for k, v in arrays.items()}
    nb = bands or checkpoint_bands(checkpoint)
    x = M.reduce_bands(arrays["x"], nb)
    y = np.asarray(arrays["y"], dtype=np.int64)
    m = evaluate_arrays(checkpoint, x, y, device)
    if maps:
        if maps_dir is None:
            raise SfngError("--map needs -o/--output DIR for the pictures")
        from .plots import plot_prediction

        pred = _predict(checkpoint, x, device)
        Path(maps_dir).mkdir(parents=True, exist_ok=True)
        pifu = np.asarray(arrays.get("plateifu", np.full(len(y), ""))).astype(str)
        m["maps"] = []
        for p in maps:
            sel = pifu == p
            if not sel.any():
                raise SfngError(f"--map {p}: no patch of that plate-IFU in the {split} split")
            out = plot_prediction(arrays["centre"][sel], y[sel], pred[sel], m["classes"],
                                  Path(maps_dir) / f"{p}_{split}_pred.png", title=f"{p} ({split})")
            m["maps"].append(str(out))
    return m


def _predict(checkpoint, x, device):
    from . import model as M

    if Path(checkpoint).suffix == ".npz":
        return B.predict(B.load(checkpoint), x)
    model, _ = M.load(checkpoint, device)
    return M.predict(model, x, device=device)
