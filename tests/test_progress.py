"""One progress display for every long command (sfng.cli.output.Progress): a bar on a terminal,
a line per item only with -v, nothing on a pipe."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from astropy.io import fits


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def verbosity():
    from sfng.cli import output

    old = output.verbosity()
    yield output.set_verbosity
    output.set_verbosity(old)


def _run(monkeypatch, tty: bool, level: int, fmt="text", n=40) -> str:
    from sfng.cli import output

    err = _Tty() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    output.set_verbosity(level)
    with output.Progress("working", fmt) as bar:
        for i in range(1, n + 1):
            bar(i, n, f"file{i}.fits")
    return err.getvalue()


def test_a_bar_on_a_terminal_lines_with_v_nothing_on_a_pipe(monkeypatch, verbosity):
    on_tty = _run(monkeypatch, True, 1)
    assert "working" in on_tty and "40/40" in on_tty and "file1.fits" not in on_tty
    lines = _run(monkeypatch, True, 2)
    assert lines.splitlines()[0] == "[1/40] file1.fits" and len(lines.splitlines()) == 40
    assert _run(monkeypatch, False, 1) == ""                    # a pipe: nothing
    assert _run(monkeypatch, False, 2).count("\n") == 40        # -v on a pipe: the lines
    assert _run(monkeypatch, True, 0) == ""                     # --quiet
    assert _run(monkeypatch, True, 1, fmt="json") == ""         # machine output: no bar


def _survey(tmp_path, n=25):
    src = tmp_path / "SRC"
    src.mkdir()
    for i in range(n):
        h = fits.Header()
        h.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=24.17 + i * 0.01, CRVAL2=15.78, CRPIX1=5, CRPIX2=5,
                 CDELT1=-1e-3, CDELT2=1e-3, BUNIT="MJy/sr", BMAJ=1e-3, BMIN=1e-3, BPA=0.0, OBJECT="NGC 628")
        fits.PrimaryHDU(np.ones((10, 10), np.float32), h).writeto(src / f"ngc628_field{i:02d}.fits")
    (src / "SRC_README.txt").write_text("Fields of NGC 628.\n")
    return src


def test_ingest_of_many_files_prints_no_line_per_file_unless_asked(cli, tmp_path):
    store = tmp_path / "store"
    assert cli("init", store).exit_code == 0
    src = _survey(tmp_path)
    r = cli("--store", store, "ingest", src, "--survey", "SRC", "--offline")
    assert r.exit_code == 0, r.output
    assert "] landed " not in r.output and r.output.count("\n") < 15, r.output
    store2 = tmp_path / "store2"
    assert cli("init", store2).exit_code == 0
    r = cli("--store", store2, "ingest", src, "--survey", "SRC", "--offline", "-v")
    assert r.exit_code == 0, r.output
    import re

    per_file = re.findall(r"^\[(\d+)/(\d+)\] landed ", r.output, re.M)
    assert len(per_file) >= 25 and per_file[-1][0] == per_file[-1][1]     # the data files and the README


def test_validate_and_get_are_quiet_on_a_pipe(cli, tmp_path):
    store = tmp_path / "store"
    cli("init", store)
    cli("--store", store, "ingest", _survey(tmp_path, 5), "--survey", "SRC", "--offline")
    assert cli("--store", store, "index", "build").exit_code == 0
    r = cli("--store", store, "get", "--survey", "SRC", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "[1/5]" not in r.output
    r = cli("--store", store, "get", "--survey", "SRC", "-o", tmp_path / "out2", "-v")
    assert "[1/5]" in r.output
    r = cli("--store", store, "validate", "--survey", "SRC")
    assert "validating" not in r.output


# -- fix, release and derive report progress through the same callback -------------------------

def _recorder():
    calls = []
    return calls, lambda done, total, item=None: calls.append((done, total, item))


def test_fix_paths_reports_each_file_and_the_cli_hides_clean_files(tmp_path, cli, verbosity):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_validate import good_header, write

    from sfng.validate.fix import fix_paths

    folder = tmp_path / "in"
    write(folder / "good.fits")
    write(folder / "bad.fits", good_header(RESTFRQ=None, RESTFREQ=1.15e11))
    calls, rec = _recorder()
    results = list(fix_paths([folder], dry_run=True, progress=rec))
    assert len(results) == 2
    assert [c[:2] for c in calls] == [(0, 2), (1, 2), (2, 2)] and calls[-1][2] is None
    r = cli("fix", folder, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "bad.fits: 1 change(s)" in r.output and "good.fits" not in r.output    # nothing to say
    assert "2 file(s): 1 would change" in r.output
    r = cli("-v", "fix", folder, "--dry-run")
    assert "good.fits: 0 change(s)" in r.output                                   # -v: every file


def test_release_bundle_and_verify_report_each_file(store, cli):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    import sfng.release as R
    from _release_store import make_store

    paths = make_store(store)
    calls, rec = _recorder()
    plan = R.plan_bundle(store, "p1", paths=paths)
    R.bundle(store, plan, progress=rec)
    n = len(plan.files)
    assert [c[:2] for c in calls] == [(k, n) for k in range(1, n + 1)]
    assert {c[2] for c in calls} == {f.rel for f in plan.files}
    calls.clear()
    rep = R.verify("p1", store, progress=rec)
    assert rep.ok and len(calls) == rep.n_files and calls[-1][:2] == (rep.n_files, rep.n_files)
    r = cli("--store", store.root, "release", "verify", "p1", "-v")
    assert r.exit_code == 0 and f"[{rep.n_files}/{rep.n_files}]" in r.output, r.output
    r = cli("--store", store.root, "release", "verify", "p1")
    assert "[1/" not in r.output                                                   # a pipe: no lines


def test_derive_reports_each_input(store, tmp_path):
    pytest.importorskip("radio_beam")
    pytest.importorskip("scipy")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from _derive_store import gaussian2d, header, land, write

    from sfng.derive import convolve, parse_target, rows_of
    from sfng.query import load_index, select
    from sfng.select import Selection

    for i in range(3):
        write(tmp_path / "src" / f"ngc628_co_img{i}.fits", gaussian2d(33, 33, 5.0), header(33, 33, bmaj=5.0))
    land(store, tmp_path / "src")
    rows = rows_of(select(load_index(store=store), Selection.build(trees=("data",))))
    calls, rec = _recorder()
    rep = convolve(store, rows, parse_target("10arcsec"), command="test", progress=rec)
    assert rep.ok, rep.as_dict()
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(c[2] for c in calls) == sorted(r["path"] for r in rows)
