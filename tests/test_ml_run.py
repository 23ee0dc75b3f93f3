"""sfng ml: the patch normalisations, PCA fitted on the training split only, the logistic
baseline, and training runs from `ml split`'s folder (checkpoint, baseline beside it, metrics
reproduced by evaluate, class-map pictures, a run folder that appears whole)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sfng.errors import SfngError
from sfng.ml import baseline as B
from sfng.ml import pca as P
from sfng.ml.splits import normalise


def test_normalisations_by_hand():
    rng = np.random.default_rng(0)
    cube = rng.uniform(1, 5, (6, 4, 5)).astype(np.float32)
    cube[:, 0, 0] = np.nan                                    # a spaxel without data
    g = normalise(cube, "global")
    assert np.nanmedian(g[g > 0]) == pytest.approx(1.0, rel=1e-6)
    s = normalise(cube, "spatial")
    for c in range(6):
        v = s[c][np.isfinite(s[c])]
        assert v.mean() == pytest.approx(0.0, abs=1e-5) and v.std() == pytest.approx(1.0, rel=1e-5)
    sp = normalise(cube, "spectral")
    med = np.nanmedian(sp, axis=0)
    assert np.allclose(med[np.isfinite(med)], 1.0, rtol=1e-6) and np.isnan(sp[:, 0, 0]).all()
    assert normalise(cube, "none") is not None and np.array_equal(normalise(cube, "none"), cube, equal_nan=True)
    with pytest.raises(SfngError, match="ml split --pca"):
        normalise(cube, "pca")


def test_pca_matches_the_covariance_eigenvectors_and_ignores_other_splits():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3, 12))
    train = (rng.normal(size=(40, 3)) @ base)[:, :, None, None] * np.ones((1, 1, 3, 3)) \
        + rng.normal(0, 0.01, (40, 12, 3, 3))
    fit = P.fit(train, 3, seed=0)
    spectra = train.transpose(0, 2, 3, 1).reshape(-1, 12)
    w, v = np.linalg.eigh(np.cov(spectra, rowvar=False, bias=True))
    order = np.argsort(w)[::-1]
    for k in range(3):
        assert abs(float(np.dot(fit.components[k], v[:, order[k]]))) == pytest.approx(1.0, abs=1e-6)
    assert fit.explained == pytest.approx(w[order[:3]] / w.sum(), rel=1e-6)
    full = P.fit(train, 12)
    back = np.einsum("kcij,cw->kwij", P.project(train, full), full.components) + full.mean[None, :, None, None]
    assert np.allclose(back, train, atol=1e-4)                # all components: lossless
    assert np.array_equal(P.fit(train, 3, seed=0).components, fit.components)   # deterministic


def _patchset(path, n_gal=16, per=15, bands=10, patch=5, seed=0):
    """Two classes of spectral slope; each galaxy its own amplitude, plate-IFU and spaxels."""
    rng = np.random.default_rng(seed)
    w = np.linspace(-1, 1, bands)
    xs, ys, gs, ps, cs = [], [], [], [], []
    for g in range(n_gal):
        amp = rng.uniform(0.5, 2.0)
        for k in range(per):
            c = int(rng.integers(0, 2))
            spec = amp * (1 + (0.6 if c else -0.6) * w)
            xs.append(spec[:, None, None] * np.ones((bands, patch, patch)) + rng.normal(0, 0.3, (bands, patch, patch)))
            ys.append(c)
            gs.append(f"1-{g:05d}")
            ps.append(f"{8000 + g}-1901")
            cs.append((k // 5, k % 5))
    np.savez(path, x=np.array(xs, np.float32), y=np.array(ys), code=np.array(ys) + 1, galaxy=np.array(gs),
             plateifu=np.array(ps), centre=np.array(cs, np.int32), classes=np.array(["neg", "pos"]),
             size=np.int64(patch), norm=np.array("global"), task=np.array("test"))
    return path


def test_split_pca_is_fitted_on_train_only(cli, tmp_path):
    data = _patchset(tmp_path / "p.npz")
    r = cli("ml", "split", data, "--seed", "2", "--pca", "4", "-o", tmp_path / "s1", "--format", "json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)
    assert rec["pca"]["components"] == 4 and rec["pca"]["fitted_on"] == "train"
    tr = np.load(tmp_path / "s1" / "train.npz")
    assert tr["x"].shape[1] == 4 and str(tr["norm"]) == "global+pca4"
    # change every test galaxy's patches: the components (fitted on train) stay the same
    d = dict(np.load(data))
    test_gal = {g for g, s in rec["galaxies"].items() if s == "test"}
    hit = np.isin(d["galaxy"], list(test_gal))
    assert hit.any()
    d["x"][hit] *= -7.0
    np.savez(tmp_path / "p2.npz", **d)
    assert cli("ml", "split", tmp_path / "p2.npz", "--seed", "2", "--pca", "4", "-o", tmp_path / "s2").exit_code == 0
    a, b = np.load(tmp_path / "s1" / "pca.npz"), np.load(tmp_path / "s2" / "pca.npz")
    assert np.array_equal(a["components"], b["components"]) and np.array_equal(a["mean"], b["mean"])
    assert not np.array_equal(np.load(tmp_path / "s1" / "test.npz")["x"], np.load(tmp_path / "s2" / "test.npz")["x"])
    # training on components keeps all 4 (never averaged into --bands 2), as run.json records
    r = cli("ml", "train", tmp_path / "s1", "--model", "logreg", "--bands", "2", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["bands"] == 4
    r = cli("ml", "evaluate", tmp_path / "run" / "logreg.npz", tmp_path / "s1", "--format", "json")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert json.loads(r.stdout)["kappa"] == metrics["kappa"] and metrics["n"] > 0


def test_baseline_learns_and_is_deterministic(tmp_path):
    d = np.load(_patchset(tmp_path / "p.npz"))
    x, y = d["x"], d["y"]
    m1 = B.fit(x[:150], y[:150], ["neg", "pos"])
    m2 = B.fit(x[:150], y[:150], ["neg", "pos"])
    assert np.array_equal(m1["W"], m2["W"])
    assert np.mean(B.predict(m1, x[150:]) == y[150:]) > 0.9
    assert m1["loss"][-1] < m1["loss"][0]
    B.save(tmp_path / "b.npz", m1)
    assert np.array_equal(B.predict(B.load(tmp_path / "b.npz"), x), B.predict(m1, x))


def test_logreg_run_needs_no_torch_and_lands_in_derived_ml(cli, store, tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch here")
        return real(name, *a, **k)

    data = _patchset(tmp_path / "p.npz")
    assert cli("ml", "split", data, "--seed", "1", "-o", tmp_path / "splits").exit_code == 0
    monkeypatch.setattr(builtins, "__import__", no_torch)
    r = cli("--store", store.root, "ml", "train", tmp_path / "splits", "--model", "logreg", "--bands", "10")
    assert r.exit_code == 0, r.output
    run = store.root / "derived" / "ML" / "splits-logreg-seed0"
    assert {"logreg.npz", "baseline.npz", "metrics.json", "baseline_metrics.json", "split.json", "run.json",
            "history.json"} <= {p.name for p in run.iterdir()}
    m = json.loads((run / "metrics.json").read_text())
    assert m["overall_accuracy"] > 0.8
    rec = json.loads((run / "run.json").read_text())
    assert rec["model"] == "logreg" and len(rec["inputs"]) == 3 and all(len(h) == 64 for h in rec["inputs"].values())
    # a run is never replaced; no temporary is left beside it
    r = cli("--store", store.root, "ml", "train", tmp_path / "splits", "--model", "logreg")
    assert r.exit_code == 1 and "never replaced" in r.output
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]
    r = cli("ml", "evaluate", run / "logreg.npz", tmp_path / "splits", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output) == m


def test_ssftt_run_from_split_folder_beats_chance_and_evaluate_reproduces(cli, tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed (optional extra sfng[ml]): training tests skipped")
    data = _patchset(tmp_path / "p.npz", n_gal=20)
    assert cli("ml", "split", data, "--seed", "0", "-o", tmp_path / "splits").exit_code == 0
    r = cli("ml", "train", tmp_path / "splits", "--epochs", "5", "--bands", "10", "--batch", "32",
            "-o", tmp_path / "run", "--format", "json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    run = tmp_path / "run"
    hist = json.loads((run / "history.json").read_text())
    assert hist["loss"][-1] < hist["loss"][0]
    m = json.loads((run / "metrics.json").read_text())
    assert m == rep["metrics"] and m["overall_accuracy"] > 0.6          # two balanced classes: chance 0.5
    assert json.loads((run / "baseline_metrics.json").read_text()) == rep["baseline"]
    split = json.loads((run / "split.json").read_text())
    test_gal = {g for g, s in split["galaxies"].items() if s == "test"}
    assert test_gal and not test_gal & {g for g, s in split["galaxies"].items() if s == "train"}
    r = cli("ml", "evaluate", run / "ssftt.pt", tmp_path / "splits", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output) == m                # from the checkpoint alone
    te = np.load(tmp_path / "splits" / "test.npz")
    pifu = str(te["plateifu"][0])
    r = cli("ml", "evaluate", run / "ssftt.pt", tmp_path / "splits", "--map", pifu, "-o", tmp_path / "maps")
    assert r.exit_code == 0, r.output
    png = tmp_path / "maps" / f"{pifu}_test_pred.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if __import__("importlib").util.find_spec("matplotlib"):
        assert (run / "history.png").is_file()


def test_pca_splits_are_never_band_averaged_and_need_their_folder(cli, tmp_path):
    data = _patchset(tmp_path / "p.npz")
    assert cli("ml", "split", data, "--seed", "1", "--pca", "4", "-o", tmp_path / "s").exit_code == 0
    r = cli("ml", "train", tmp_path / "s", "--model", "logreg", "--bands", "2", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert len(np.load(tmp_path / "run" / "logreg.npz")["mean"]) == 4      # 4 components, not 2 averages
    r = cli("ml", "evaluate", tmp_path / "run" / "logreg.npz", data)          # a patch set: channels, not PCs
    assert r.exit_code == 1 and "PCA" in r.output
    r = cli("ml", "evaluate", tmp_path / "run" / "logreg.npz", tmp_path / "s", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output) == json.loads((tmp_path / "run" / "metrics.json").read_text())
    with pytest.raises(SfngError, match="training spectra"):
        P.fit(np.zeros((1, 6, 1, 1)), 3)
