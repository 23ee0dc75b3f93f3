"""Pictures of a training run: the training curves and predicted-vs-true class maps (PNG;
matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_history(history: dict, path, title: str = "") -> Path:
    """Loss per epoch (left) and validation accuracy per epoch (right) of ``history``."""
    from ..query.plots import pyplot, save_figure

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    loss = history.get("loss") or []
    a.plot(np.arange(1, len(loss) + 1), loss, "o-", ms=3)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss (cross-entropy)")
    acc = history.get("val_accuracy") or []
    if acc:
        b.plot(np.arange(1, len(acc) + 1), acc, "o-", ms=3, color="C1")
        b.set_ylim(0, 1)
    b.set_xlabel("epoch")
    b.set_ylabel("validation accuracy")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def class_map(centres, values, shape=None) -> np.ndarray:
    """A (ny, nx) map holding ``values`` at the spaxels ``centres`` (y, x); -1 elsewhere."""
    centres = np.asarray(centres, dtype=int).reshape(-1, 2)
    if shape is None:
        shape = tuple(int(v) + 1 for v in centres.max(axis=0)) if len(centres) else (1, 1)
    out = np.full(shape, -1, dtype=int)
    out[centres[:, 0], centres[:, 1]] = np.asarray(values, dtype=int)
    return out


def plot_prediction(centres, y_true, y_pred, classes, path, title: str = "") -> Path:
    """True (left) and predicted (right) classes of one cube's labelled spaxels, one colour
    per class, unlabelled spaxels blank; the fraction right in the title."""
    from matplotlib.colors import ListedColormap

    from ..query.plots import pyplot, save_figure

    plt = pyplot()
    truth, pred = class_map(centres, y_true), class_map(centres, y_pred, None)
    k = max(len(classes), 1)
    cmap = ListedColormap([plt.get_cmap("tab10")(i % 10) for i in range(k)])
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.8))
    for ax, m, what in ((axes[0], truth, "true"), (axes[1], pred, "predicted")):
        ax.imshow(np.ma.masked_less(m, 0), origin="lower", cmap=cmap, vmin=-0.5, vmax=k - 0.5,
                  interpolation="nearest")
        ax.set_title(what, fontsize=9)
        ax.set_xlabel("spaxel x")
        ax.set_ylabel("spaxel y")
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(k)]
    fig.legend(handles, [str(c) for c in classes], loc="center right", fontsize=8, frameon=False)
    right = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")
    fig.suptitle(f"{title}  ({100 * right:.1f}% right, {len(y_true)} spaxels)".strip(), fontsize=9)
    fig.subplots_adjust(right=0.82, wspace=0.3)
    return save_figure(fig, path, dpi=90, overwrite=True)     # a rerun redraws the same map
