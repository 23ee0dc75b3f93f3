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


def test_labels_mask_bits_reject_unreliable_spaxels(cli, tmp_path):
    """--mask-bits DONOTUSE,UNRELIABLE: spaxels whose Ha carries UNRELIABLE become UNKNOWN (0),
    every other spaxel keeps its label; the default leaves them labelled; the header names the
    bits used."""
    from astropy.io import fits

    from sfng.ml.maskbits import bitmask

    t = mangagen.DEMO_TARGETS[0]
    m = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    plain = cli("ml", "labels", m, "-o", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    with fits.open(next((tmp_path / "plain").glob("*_bpt.fits"))) as h:
        base = h[0].data.copy()
        assert h[0].header["MASKBITS"] == "DONOTUSE"
    spots = [(y, x) for y, x in zip(*np.nonzero(base > 0))][:5]
    assert len(spots) == 5
    with fits.open(m, mode="update") as h:
        chans = {str(v).strip(): int(k[1:]) - 1 for k, v in h["EMLINE_GFLUX"].header.items()
                 if k.startswith("C") and k[1:].isdigit()}
        ha = chans["Ha-6564"]
        for y, x in spots:
            h["EMLINE_GFLUX_MASK"].data[ha, y, x] |= bitmask("MANGA_DAPPIXMASK", "UNRELIABLE")
    again = cli("ml", "labels", m, "-o", tmp_path / "again")
    strict = cli("ml", "labels", m, "--mask-bits", "donotuse,UNRELIABLE", "-o", tmp_path / "strict")
    assert again.exit_code == 0 and strict.exit_code == 0, strict.output
    with fits.open(next((tmp_path / "again").glob("*_bpt.fits"))) as h:
        assert (h[0].data == base).all()
    with fits.open(next((tmp_path / "strict").glob("*_bpt.fits"))) as h:
        want = base.copy()
        for y, x in spots:
            want[y, x] = 0
        assert (h[0].data == want).all()
        assert h[0].header["MASKBITS"] == "DONOTUSE|UNRELIABLE"


def test_unknown_mask_bit_names_are_usage_errors(cli, store, tmp_path):
    """An unknown --mask-bits name is a usage error (exit 2) naming it and listing the mask's
    names from sdssMaskbits.par, before any file is read or written; no traceback."""
    from sfng.ml.maskbits import bits

    t = mangagen.DEMO_TARGETS[0]
    m = mangagen.write_maps(tmp_path / mangagen.maps_name(t.plateifu), t)
    bad = cli("ml", "labels", m, "--mask-bits", "DONOTUSE,NOSUCHBIT", "-o", tmp_path / "bad")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "Invalid value for '--mask-bits'" in bad.stderr and "MANGA_DAPPIXMASK has no bit named 'NOSUCHBIT'" in bad.stderr
    assert all(name in bad.stderr for name in bits("MANGA_DAPPIXMASK"))     # UNRELIABLE, NOVALUE, ...
    assert not (tmp_path / "bad").exists()
    bad = cli("--store", store.root, "ml", "prepare", "--mask-bits", "DONOTUSE,LOWCOVER")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "MANGA_DRP3PIXMASK has no bit named 'LOWCOVER'" in bad.stderr
    assert all(name in bad.stderr for name in ("LOWCOV", "DEADFIBER", "FORESTAR", "DONOTUSE"))
    assert "UNRELIABLE" not in bad.stderr                                  # a DAP bit, not a cube's
    assert cli("ml", "labels", m, "--mask-bits", ",", "-o", tmp_path / "bad").exit_code == 2
    assert not (tmp_path / "bad").exists()
