"""SSFTT: metrics without torch; a tiny CPU training run (skipped when PyTorch is absent)."""

import numpy as np
import pytest

from sfng.ml import model as M
from sfng.ml.splits import check_leakage, split_by_galaxy


def test_metrics_by_hand():
    m = M.metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["overall_accuracy"] == pytest.approx(0.6)
    assert m["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["c"]["recall"] == 0.0 and m["per_class"]["c"]["precision"] is None
    pe = (2 * 2 + 2 * 3 + 1 * 0) / 25
    assert m["kappa"] == pytest.approx((0.6 - pe) / (1 - pe))


def test_reduce_bands():
    x = np.arange(2 * 6 * 1 * 1, dtype=float).reshape(2, 6, 1, 1)
    r = M.reduce_bands(x, 3)
    assert r.shape == (2, 3, 1, 1) and r[0, :, 0, 0].tolist() == [0.5, 2.5, 4.5]
    assert M.reduce_bands(x, None).shape == (2, 6, 1, 1) and M.reduce_bands(x, 9).shape == (2, 6, 1, 1)
    assert M.reduced_shape(x.shape, 3) == r.shape and M.reduced_shape(x.shape, None) == x.shape


def test_without_torch_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "torch":
            raise ImportError("no torch")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    from sfng.errors import SfngError

    with pytest.raises(SfngError, match=r"sfng\[ml\]"):
        M.require_torch()


def _synthetic(n_gal=24, per=20, bands=12, patch=7, seed=0):
    """Two classes with different spectral slopes; galaxies carry a random amplitude."""
    rng = np.random.default_rng(seed)
    xs, ys, gs = [], [], []
    w = np.linspace(-1, 1, bands)
    for g in range(n_gal):
        amp = rng.uniform(0.5, 2.0)
        for _ in range(per):
            c = int(rng.integers(0, 2))
            spec = amp * (1 + (0.6 if c else -0.6) * w)
            x = spec[:, None, None] * np.ones((bands, patch, patch)) + rng.normal(0, 0.3, (bands, patch, patch))
            xs.append(x)
            ys.append(c)
            gs.append(f"g{g}")
    return np.array(xs, np.float32), np.array(ys), np.array(gs)


def test_tiny_cpu_training_beats_chance_on_held_out_galaxies(tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed (optional extra sfng[ml]): training tests skipped")
    x, y, g = _synthetic()
    assign = split_by_galaxy({k: "all" for k in sorted(set(g))}, (0.75, 0.0, 0.25), seed=3, stratify=False)
    split = np.array([assign[k] for k in g])
    check_leakage(g, split)
    tr, te = split == "train", split == "test"
    ck = tmp_path / "ssftt.pt"
    hist = M.train(x[tr], y[tr], ["neg", "pos"], epochs=6, batch=32, seed=0, checkpoint=ck, heads=4, dim=32)
    assert hist["loss"][-1] < hist["loss"][0]
    m = M.evaluate(ck, x[te], y[te])
    assert m["overall_accuracy"] > 0.8 and m["n"] == int(te.sum())
    again = M.evaluate(ck, x[te], y[te])                 # evaluate reproduces from the checkpoint
    assert again == m
