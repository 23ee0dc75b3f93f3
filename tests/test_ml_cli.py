"""``sfng ml labels`` / ``prepare`` / ``train`` / ``evaluate`` from the command line."""

import json

import numpy as np
import pytest

from sfng.demo import manga as mangagen


def test_labels_cli_writes_fits_with_class_cards(cli, tmp_path):
    from astropy.io import fits

    t = mangagen.DEMO_TARGETS[0]
    m = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    r = cli("ml", "labels", "--task", "logoh", "--calibration", "PP04-O3N2", m, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    f = next((tmp_path / "out").glob("*_logoh.fits"))
    with fits.open(f) as h:
        assert h[0].header["CLASS0"] == "UNKNOWN" and h[0].header["CALIB"] == "PP04-O3N2"
        assert "CTYPE1" in h[0].header and h[0].data.shape == (34, 34) and (h[0].data > 0).any()
    r = cli("ml", "labels", m, "-o", tmp_path / "out")
    with fits.open(next((tmp_path / "out").glob("*_bpt.fits"))) as h:
        assert h[0].header["CLASS1"] == "SF" and h[0].header["CLASS2"] == "COMP"


def test_prepare_cli(cli, store):
    t = mangagen.DEMO_TARGETS[1]
    rel = "data/MANGA/MaNGA_" + t.mangaid + "." + mangagen.cube_name(t.plateifu)
    mangagen.write_cube(store.root / rel, t, nwave=64)
    r = cli("ml", "prepare", "--store", store.root, "--grid", "6000,7000,40", "--format", "json", rel)
    # no redshift anywhere: a clear failure, nothing landed
    assert r.exit_code == 1 and "no redshift" in r.output


def test_train_and_evaluate_cli(cli, tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed (optional extra sfng[ml]): training tests skipped")
    from tests.test_ml_model import _synthetic

    x, y, g = _synthetic(n_gal=20, per=12)
    np.savez(tmp_path / "d.npz", x=x, y=y, galaxy=g, classes=np.array(["neg", "pos"]))
    r = cli("ml", "train", tmp_path / "d.npz", "--epochs", "4", "--bands", "6", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    r = cli("ml", "evaluate", tmp_path / "run" / "ssftt.pt", tmp_path / "d.npz", "--bands", "6", "--format", "json")
    assert json.loads(r.output) == m
