"""The baseline beside SSFTT: multinomial logistic regression on each patch's central spectrum.

So that a number means something: the same splits, the same band-averaged spectra, but only
the labelled spaxel's own spectrum (no spatial context) and a linear model.  numpy only (no
PyTorch): features standardised with the training mean and spread, softmax cross-entropy with
an L2 penalty, full-batch Adam for ``steps`` steps from zero weights (deterministic: the same
data give the same model).  The model is saved as an ``.npz`` (no pickles) that
:func:`load` reads back and ``sfng ml evaluate`` accepts like a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SfngError

KIND = "logreg"


def features(patches) -> np.ndarray:
    """The central spaxel's spectrum of each patch (k, bands, p, p) -> (k, bands)."""
    x = np.asarray(patches, dtype=np.float64)
    c = x.shape[2] // 2
    return x[:, :, c, c]


def fit(patches, y, classes, *, steps: int = 500, lr: float = 0.05, l2: float = 1e-3) -> dict:
    """The fitted model as a dict of arrays (``W``, ``b``, ``mean``, ``scale``, ``classes``)."""
    f = features(patches)
    y = np.asarray(y, dtype=np.int64)
    if not len(y):
        raise SfngError("the baseline needs training samples")
    k = len(classes)
    mean = f.mean(axis=0)
    scale = f.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (f - mean) / scale
    onehot = np.eye(k)[y]
    W, b = np.zeros((z.shape[1], k)), np.zeros(k)
    m = [np.zeros_like(W), np.zeros_like(b)]
    v = [np.zeros_like(W), np.zeros_like(b)]
    losses = []
    for t in range(1, steps + 1):
        p = _softmax(z @ W + b)
        losses.append(float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)) + 0.5 * l2 * np.sum(W * W)))
        g = (p - onehot) / len(y)
        grads = [z.T @ g + l2 * W, g.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((W, b), grads)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            param -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return {"kind": np.array(KIND), "W": W, "b": b, "mean": mean, "scale": scale,
            "classes": np.array([str(c) for c in classes]), "loss": np.array(losses)}


def _softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def predict(model: dict, patches) -> np.ndarray:
    f = features(patches)
    if f.shape[1] != len(model["mean"]):
        raise SfngError(f"the baseline was fitted on {len(model['mean'])} bands, these patches have {f.shape[1]}")
    return np.argmax(((f - model["mean"]) / model["scale"]) @ model["W"] + model["b"], axis=1)


def save(path, model: dict) -> Path:
    import io

    from ..fsutil import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **model)
    return atomic_write_bytes(path, buf.getvalue())


def load(path) -> dict:
    d = dict(np.load(path, allow_pickle=False))
    if str(d.get("kind", "")) != KIND:
        raise SfngError(f"{path}: not a baseline model of sfng ml train")
    return d
