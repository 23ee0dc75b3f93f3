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
