"""The index carries the FITS checksum convention (DATASUM, CHECKSUM), DATE and LONGSTRN, so that
astropy verifies it and fitsverify finds nothing to warn about; sfng.fitschecksum is
cross-checked against astropy's own implementation."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=4000), st.lists(st.integers(1, 97), min_size=1, max_size=8))
def test_streamed_sum_equals_astropys_whatever_the_pieces(data, cuts):
    from sfng.fitschecksum import Sum

    padded = data + b"\0" * (-len(data) % 2880)
    ref = int(fits.PrimaryHDU()._compute_checksum(np.frombuffer(padded, dtype="ubyte"))) if padded else 0
    s, pos, k = Sum(), 0, 0
    while pos < len(data):
        step = cuts[k % len(cuts)]
        s.add(data[pos:pos + step])
        pos, k = pos + step, k + 1
    assert s.total() == ref


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_encoding_equals_astropys(value):
    from sfng.fitschecksum import encode

    # astropy encodes the complement it is given; sfng's encode complements the sum itself
    assert encode(value) == fits.PrimaryHDU()._char_encode(np.uint32(~value & 0xFFFFFFFF))


@pytest.fixture(scope="module")
def index_file(tmp_path_factory):
    from _demo_store import demo_tree

    return demo_tree(tmp_path_factory).store_dir / "SFNG-INDEX.fits"


def test_every_hdu_of_the_index_verifies_in_astropy(index_file):
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # astropy warns on a checksum mismatch
        with fits.open(index_file, checksum=True) as h:
            for hdu in h:
                assert "CHECKSUM" in hdu.header and "DATASUM" in hdu.header, hdu.name
                assert len(hdu.header["CHECKSUM"]) == 16
            assert h[0].header["LONGSTRN"] == "OGIP 1.0"
            assert len(h[0].header["DATE"]) == 19 and h[0].header["DATE"][10] == "T"
            assert h["FILES"].header["DATASUM"] != "0"


def test_a_changed_byte_is_caught(index_file, tmp_path):
    bad = tmp_path / "bad.fits"
    raw = bytearray(index_file.read_bytes())
    with fits.open(index_file) as h:
        start = h["FILES"]._data_offset
    raw[start + 5] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.warns(Warning, match="[Cc]hecksum"):
        with fits.open(bad, checksum=True) as h:
            h["FILES"].data  # noqa: B018


@pytest.mark.skipif(shutil.which("fitsverify") is None,
                    reason="fitsverify (Debian package 'fitsverify') is not installed: .ci/sysdeps installs it")
def test_fitsverify_finds_no_warning_and_no_error(index_file):
    r = subprocess.run(["fitsverify", "-q", str(index_file)], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert "0 warnings and 0 errors" in out or ("OK" in out and "warning" not in out.lower()), out
