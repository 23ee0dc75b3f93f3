"""Every reader is error-safe (issue 13, the reader half): hostile input gives one message per
file (or one clear error) and the run goes on; never a traceback.

Each case below failed before the fix (a traceback through the CLI runner, whose
``catch_exceptions=False`` lets it escape, or a wrong answer), and the hypothesis tests at the end
fuzz the readers themselves: only the declared error types may ever come out.
"""

from __future__ import annotations

import gzip
import io
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfng.errors import ReadmeError, SfngError

# -------------------------------------------------------------------------------- builders

CARDS = dict(CTYPE1="RA---TAN", CRVAL1=24.17, CDELT1=-2 / 3600, CRPIX1=8.5, CUNIT1="deg",
             CTYPE2="DEC--TAN", CRVAL2=15.78, CDELT2=2 / 3600, CRPIX2=8.5, CUNIT2="deg",
             BUNIT="MJy/sr", BMAJ=6 / 3600, BMIN=6 / 3600, BPA=0.0, OBJECT="NGC628",
             INSTRUME="MIPS", WAVELENG=24.0)


def image(path, **changes) -> Path:
    """A small image that meets the minimum specification."""
    from astropy.io import fits

    h = fits.Header()
    for k, v in {**CARDS, **changes}.items():
        if v is not None:
            h[k] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.ones((16, 16), "f4"), h).writeto(path)
    return path


def gzip_junk(path) -> Path:
    """A gzip header followed by junk: inflating it raises zlib.error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"SIMPLE  =")[:10] + b"\xff" * 200)
    return path


def survey(root, name="S", readme="BUNIT = MJy/sr\n---\nA test survey.\n") -> Path:
    d = Path(root) / "data" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}_README.txt").write_text(readme, encoding="utf-8")
    return d


def run(cli, store, *args, code=None):
    """``sfng --store ROOT ARGS``; checks the exit code when given."""
    res = cli("--store", store.root, *args)
    if code is not None:
        assert res.exit_code == code, res.output
    return res


def in_child(code: str, limit: int = 2 << 30, timeout: int = 120):
    """Run ``code`` in a Python child whose address space is capped at ``limit`` bytes: a
    reader that reads without bound (``/dev/zero``) fails there with MemoryError instead of
    taking the machine's memory.  Returns the CompletedProcess."""
    import resource
    import subprocess
    import sys

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "SFNG_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], preexec_fn=cap, capture_output=True, text=True,
                          timeout=timeout, env=env)


# ------------------------------------------------------- 1. gzip junk, symlink loops

def test_gzip_junk_validate_store_wide_reports_every_file(cli, store):
    d = survey(store.root)
    gzip_junk(d / "NGC_0628.a_junk.fits.gz")
    image(d / "NGC_0628.b_good.fits")
    res = run(cli, store, "validate", code=1)
    assert "NGC_0628.a_junk.fits.gz" in res.output and "corrupt gzip stream" in res.output
    # the later file is still judged
    assert "2 file(s): 1 meet the minimum specification, 1 with errors" in res.output
    res = run(cli, store, "validate", "--format", "json", code=1)
    assert "NGC_0628.b_good.fits" in res.output


def test_gzip_junk_every_reader_of_headers(tmp_path):
    from sfng.fitsheader import FitsHeaderError, read_data, read_header, read_headers
    from sfng.validate.reader import open_file

    p = gzip_junk(tmp_path / "x.fits.gz")
    for call in (lambda: read_headers(p), lambda: read_headers(p, max_hdus=1),
                 lambda: read_headers(p, until_image=True), lambda: read_header(p)):
        with pytest.raises(FitsHeaderError, match="corrupt gzip stream"):
            call()
    opened = open_file(p)
    assert opened.kind == "bad" and opened.findings[0][0] == "file-unreadable"
    # a header that inflates, then junk where the data should be
    good = image(tmp_path / "g.fits")
    raw = gzip.compress(good.read_bytes())
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(raw[:60] + b"\xff" * (len(raw) - 60))
    with pytest.raises(FitsHeaderError):
        read_headers(cut)
    blocks = read_headers(good)
    junk = tmp_path / "hdr_then_junk.fits.gz"
    junk.write_bytes(gzip.compress(good.read_bytes()[:2880])[:-8] + b"\xff" * 5000)
    with pytest.raises(FitsHeaderError):
        read_data(junk, blocks[0])


def test_gzip_junk_fix_every_mode(cli, store, tmp_path):
    d = survey(store.root)
    junk = gzip_junk(d / "NGC_0628.junk.fits.gz")
    for mode in (["--dry-run"], ["-o", tmp_path / "out"], ["--in-place"]):
        res = run(cli, store, "fix", junk, *mode)
        assert res.exit_code in (0, 1), res.output
        assert "corrupt gzip stream" in res.output and "0 change(s)" in res.output
    assert not (tmp_path / "out" / junk.name).exists()


def test_gzip_junk_ingest_never_lands_in_data(cli, store, tmp_path):
    src = tmp_path / "JUNKS"
    gzip_junk(src / "ngc628.junk.fits.gz")
    (src / "JUNKS_README.txt").write_text("BUNIT = K\n---\njunk\n")
    res = run(cli, store, "ingest", src, "--offline")
    assert res.exit_code in (0, 1), res.output
    assert not (store.root / "data" / "JUNKS" / "ngc628.junk.fits.gz").exists()
    assert (store.root / "uncalibrated" / "JUNKS" / "ngc628.junk.fits.gz").exists()


def test_gzip_junk_release_bundle_allow_invalid(cli, store, tmp_path):
    d = survey(store.root)
    gzip_junk(d / "NGC_0628.junk.fits.gz")
    image(d / "NGC_0628.good.fits")
    run(cli, store, "index", "build", code=0)
    listing = tmp_path / "list.txt"
    listing.write_text("data/S/NGC_0628.junk.fits.gz\ndata/S/NGC_0628.good.fits\n")
    res = run(cli, store, "release", "bundle", "r1", "--from-file", listing, code=1)
    assert "fail the minimum specification" in res.output and "corrupt gzip stream" in res.output
    res = run(cli, store, "release", "bundle", "r2", "--from-file", listing, "--allow-invalid", code=0)
    assert (store.root / "release" / "r2").is_dir()


def test_gzip_junk_fetch_drpall(cli, store, tmp_path):
    from sfng.surveys.manga.fetch import read_catalogue, verify_file

    junk = gzip_junk(tmp_path / "drpall-v3_1_1.fits")
    with pytest.raises(SfngError, match="cannot read the DRPall catalogue"):
        read_catalogue(junk)
    res = run(cli, store, "fetch", "manga", "--drpall", junk, "--where", "nsa_z < 0.1",
              "--dry-run", "--offline", code=1)
    assert "cannot read the DRPall catalogue" in res.output
    assert "corrupt gzip stream" in verify_file(gzip_junk(tmp_path / "c.fits.gz"))


def _loops(tmp_path) -> Path:
    d = tmp_path / "loops"
    d.mkdir()
    os.symlink("x", d / "x")                 # a link to itself
    os.symlink(d, d / "up")                  # a folder linking to its parent
    return d


def test_symlink_loop_validate(cli, store, tmp_path):
    d = _loops(tmp_path)
    for target in (d, d / "x"):
        res = run(cli, store, "validate", target, code=1)
        assert "file-unreadable" in res.output and "symbolic links" in res.output
    os.symlink("loop.fits", survey(store.root) / "loop.fits")
    image(store.root / "data" / "S" / "NGC_0628.good.fits")
    res = run(cli, store, "validate", code=0)  # store-wide: links are not data
    assert "1 file(s): 1 meet" in res.output


def test_symlink_loop_find_index(cli, tmp_path):
    d = _loops(tmp_path)
    res = cli("find", "--index", d / "x")
    assert res.exit_code == 1 and "symbolic link loop" in res.output


# ------------------------------------------------------------- 2. names: UTF-8, bytes, length

def test_non_ascii_galaxy_name_index_and_queries(cli, store, tmp_path):
    image(survey(store.root) / "NGC_0628.img.fits")
    table = tmp_path / "gal.csv"
    table.write_text("name,aliases,ra,dec,dist,dist_src\n"
                     "NGC 0628,Phœnix galaxy;M74,24.17,15.78,9.8,Kreckel+2017 — TRGB\n", encoding="utf-8")
    run(cli, store, "galaxies", "import", table, code=0)
    run(cli, store, "index", "build", code=0)
    res = run(cli, store, "find", "--galaxy", "Phœnix galaxy", code=0)
    assert "data/S/NGC_0628.img.fits" in res.output
    res = run(cli, store, "info", "M74", code=0)
    assert "Phœnix galaxy" in res.output and "Kreckel+2017 — TRGB" in res.output
    run(cli, store, "summary", code=0)
    run(cli, store, "index", "build", "--full", code=0)
    from sfng.index.io import read_index
    from sfng.query import load_index

    _, gal, _ = read_index(store.index_path)
    assert "Phœnix galaxy" in list(gal["aliases"])[0]
    assert load_index(None, store).galaxy_record("NGC 0628")["dist_src"] == "Kreckel+2017 — TRGB"


def test_non_utf8_file_name_is_indexed_and_shown_escaped(cli, store, tmp_path):
    d = survey(store.root)
    good = image(d / "NGC_0628.plain.fits")
    raw = os.path.join(os.fsencode(d), b"NGC_0628.caf\xe9.fits")
    try:
        os.link(good, raw)
    except OSError:
        pytest.skip("this file system refuses a name that is not UTF-8")
    res = run(cli, store, "index", "build", code=0)
    res = run(cli, store, "find", "--galaxy", "NGC 628", code=0)
    assert "data/S/NGC_0628.caf\\xe9.fits" in res.output
    for fmt in ("paths", "csv", "json", "ecsv"):
        res = run(cli, store, "find", "--galaxy", "NGC 628", "--format", fmt, code=0)
        assert "caf\\xe9" in res.output.replace("\\\\", "\\"), fmt
    for fmt in ("votable", "fits"):
        run(cli, store, "find", "--galaxy", "NGC 628", "--format", fmt, "-o", tmp_path / f"t.{fmt}", code=0)
    run(cli, store, "find", "--galaxy", "NGC 628", "--export-obscore", tmp_path / "o.xml", code=0)
    assert b"caf\\xe9.fits" in (tmp_path / "o.xml").read_bytes()
    run(cli, store, "index", "show", os.fsdecode(b"data/S/NGC_0628.caf\xe9.fits"), code=0)
    # stored as its bytes on disk: reversible
    from sfng.index.io import open_records
    from sfng.query import load_index

    paths = {bytes(p) for p in open_records(store.index_path)["path"]}
    assert b"data/S/NGC_0628.caf\xe9.fits" in paths
    idx = load_index(None, store)
    assert os.fsdecode(b"data/S/NGC_0628.caf\xe9.fits") in set(idx.text("path").tolist())
    assert "1 file(s)" not in run(cli, store, "find", "--galaxy", "NGC 628").output  # no stale warning


def test_long_file_name_refused_at_ingest_and_reported_by_the_index(cli, store, tmp_path):
    src = tmp_path / "LONG"
    long_name = "n" * 245 + ".fits"                      # 250 characters; the stored path 260
    image(src / long_name)
    image(src / "short.fits")
    (src / "LONG_README.txt").write_text("BUNIT = MJy/sr\n---\nlong\n")
    res = run(cli, store, "ingest", src, "--offline", "--force", code=1)
    assert "more than the 240 the index holds" in res.output
    assert not (store.root / "data" / "LONG" / long_name).exists()
    assert (store.root / "data" / "LONG" / "short.fits").exists()
    # a file put there by hand: the build says what happened to its row
    image(store.root / "data" / "LONG" / long_name)
    res = run(cli, store, "index", "build", code=0)
    assert "path of 260 bytes cut to the 240 the index holds" in res.output


def test_hidden_survey_name_refused(cli, store, tmp_path):
    src = tmp_path / ".hidden"
    image(src / "ngc628.fits")
    res = run(cli, store, "ingest", src, "--offline", code=1)
    assert "reserved" in res.output and "'.'" in res.output
    res = run(cli, store, "ingest", src, "--survey", ".quiet", "--offline", code=1)
    assert "reserved" in res.output
    assert not (store.root / "data" / ".hidden").exists() and not (store.root / "data" / ".quiet").exists()


def test_text_codec_round_trip():
    from sfng.index.io import _cut_utf8, decode_text, encode_text

    for text in ("plain", "Phœnix", "caf" + os.fsdecode(b"\xe9"), "日本語", ""):
        assert decode_text(encode_text(text)) == text
    raw = "aé日😀".encode()
    for width in range(len(raw) + 1):
        cut = _cut_utf8(raw, width)
        assert len(cut) <= width and raw.startswith(cut)
        cut.decode("utf-8")                              # never half a character


# ---------------------------------------------------------------------- 3. limits

@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A store with two files and an index (shared by the read-only query tests)."""
    from click.testing import CliRunner

    from sfng.cli import main
    from sfng.store import Store, init_store

    root = tmp_path_factory.mktemp("q") / "store"
    init_store(root, name="q")
    d = survey(root)
    image(d / "NGC_0628.img.fits")
    image(d / "NGC_0628.cube.fits", BUNIT="K")
    res = CliRunner().invoke(main, ["--store", str(root), "index", "build"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return Store.open(root)


@pytest.mark.parametrize("option, expr", [
    ("--where", "(" * 250 + "res < 1" + ")" * 250),
    ("--where", "not " * 1000 + "valid"),
    ("--where", "!" * 1000 + "valid"),
    ("--has", "MIPS24 " + "(" * 250 + "res < 1" + ")" * 250),
    ("--lacks", "MIPS24 " + "not " * 1000 + "valid"),
])
def test_deep_expressions_are_refused_with_a_message(cli, indexed, option, expr):
    res = run(cli, indexed, "find", option, expr)
    assert res.exit_code in (1, 2), res.output
    assert "nested more than 64 levels deep" in res.output


def test_long_expression_is_refused_with_a_message(cli, indexed):
    res = run(cli, indexed, "find", "--where", "res < 1 and " * 1000 + "valid")
    assert res.exit_code in (1, 2) and "more than the 10000 read" in res.output


def test_limits_leave_ordinary_expressions_alone():
    from sfng.select import MAX_WHERE_DEPTH, WhereError, parse_where

    parse_where("(" * MAX_WHERE_DEPTH + "res < 1" + ")" * MAX_WHERE_DEPTH)
    parse_where("not " * MAX_WHERE_DEPTH + "valid")
    with pytest.raises(WhereError, match="nested"):
        parse_where("(" * (MAX_WHERE_DEPTH + 1) + "res < 1" + ")" * (MAX_WHERE_DEPTH + 1))
    with pytest.raises(WhereError) as err:
        parse_where("res < 1 and (" * 70 + "valid" + ")" * 70)
    assert err.value.pos == len("res < 1 and (") * (MAX_WHERE_DEPTH + 1) - 1   # at the 65th '('


def test_columns_whose_units_do_not_convert(cli, indexed):
    res = run(cli, indexed, "find", "--where", "res < depth_k", code=1)
    assert "cannot compare 'res' (in arcsec) with 'depth_k' (in K)" in res.output
    res = run(cli, indexed, "find", "--has", "MIPS24 res<depth_k", code=1)
    assert "cannot compare" in res.output
    run(cli, indexed, "find", "--where", "bmaj <= res", code=0)   # same kind: still compared


def test_ned_cache_field_over_the_csv_limit(cli, store):
    from sfng.ned import CACHE_COLUMNS

    cache = store.root / "tables" / "ned_names.csv"
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(",".join(CACHE_COLUMNS) + "\n" + "ngc628,NGC 0628,24.17,15.78,G,0.002,2024,"
                     + "x" * (130 * 1024) + "\n")
    res = run(cli, store, "names", "list", code=1)
    assert "ned_names.csv, line 2: cannot read the table" in res.output
    assert "field larger than field limit" in res.output


def test_fix_refuses_reserved_and_absurd_readme_values(cli, store, tmp_path):
    from astropy.io import fits

    d = survey(store.root, readme="BMAJ = 1e999\nXTENSION = 'IMAGE'\nEND = 1\nNAXIS3 = 7\n"
                                  "PCOUNT = 0\nOBJECT = 'NGC\x00628'\nTELESCOP = 'Caf\u00e9'\n"
                                  "ORIGIN = 'tab\there'\nBUNIT = MJy/sr\n---\nhostile\n")
    f = image(d / "NGC_0628.img.fits", BUNIT=None, BMAJ=None, OBJECT=None)
    res = run(cli, store, "fix", f, "-o", tmp_path / "out", code=0)
    for key, why in (("BMAJ", "not a finite number"), ("XTENSION", "structure"), ("END", "structure"),
                     ("NAXIS3", "structure"), ("PCOUNT", "structure"), ("OBJECT", "NUL"),
                     ("TELESCOP", "printable ASCII"), ("ORIGIN", "printable ASCII")):
        assert f"README {key} = " in res.output and why in res.output, key
    assert "BUNIT = 'MJy/sr'" in res.output
    with fits.open(tmp_path / "out" / f.name) as hdul:          # a sound file came out
        h = hdul[0].header
        assert h["BUNIT"] == "MJy/sr" and "XTENSION" not in h and "NAXIS3" not in h
        assert "OBJECT" not in h and "TELESCOP" not in h and len(hdul) == 1


def test_readme_over_the_limit_is_refused_quickly_in_bounded_memory(cli, store, tmp_path):
    from sfng.readme import MAX_README_BYTES, parse_text, read_readme

    big = tmp_path / "BIG_README.txt"
    big.write_bytes(b"BUNIT = K\n---\n" + b"prose " * (5 * 1024 * 1024 // 6))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ReadmeError, match="larger than"):
            read_readme(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0 and peak < 3 * MAX_README_BYTES
    with pytest.raises(ReadmeError):
        parse_text("x" * (MAX_README_BYTES + 1))
    child = in_child("from sfng.readme import read_readme\n"
                     "from sfng.errors import ReadmeError\n"
                     "try:\n    read_readme('/dev/zero')\nexcept ReadmeError as exc:\n    print(exc)\n")
    assert child.returncode == 0 and "larger than" in child.stdout, child.stderr[-2000:]
    d = survey(store.root)
    (d / "S_README.txt").write_bytes(big.read_bytes())
    image(d / "NGC_0628.img.fits")
    res = run(cli, store, "validate", code=0)   # a warning: the file's own header still counts
    assert "readme-invalid" in res.output and "larger than" in res.output


def test_from_file_dev_zero_and_oversized_lists_are_refused(cli, store, tmp_path, monkeypatch):
    from sfng.release import sources

    child = in_child("from click.testing import CliRunner\nfrom sfng.cli import main\n"
                     f"r = CliRunner().invoke(main, ['--store', {str(store.root)!r}, 'release', 'bundle', "
                     "'z', '--from-file', '/dev/zero'], catch_exceptions=False)\n"
                     "print(r.exit_code, r.output)\n")
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.startswith("1 ") and "not a file list (a NUL byte at offset 0)" in child.stdout
    monkeypatch.setattr(sources, "MAX_FILE_LIST_BYTES", 1000)
    listing = tmp_path / "big.txt"
    listing.write_text("data/S/x.fits\n" * 200)
    with pytest.raises(SfngError, match="larger than 1000 bytes"):
        sources.read_file_list(listing)
    (tmp_path / "latin1.txt").write_bytes(b"data/S/caf\xe9.fits\n")
    with pytest.raises(SfngError, match="cannot read the file list"):
        sources.read_file_list(tmp_path / "latin1.txt")


# --------------------------------------------------------------------- 4. stale rows

def test_find_warns_when_a_returned_file_changed_in_place(cli, store):
    d = survey(store.root)
    f = image(d / "NGC_0628.img.fits")
    image(d / "NGC_0628.other.fits")
    run(cli, store, "index", "build", code=0)
    res = run(cli, store, "find", "--galaxy", "NGC 628", code=0)
    assert "changed since the index was built" not in res.stderr
    with open(f, "r+b") as fh:                   # an in-place edit: same size, new bytes
        fh.seek(2880 + 4)
        fh.write(b"\x7f")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    res = run(cli, store, "find", "--galaxy", "NGC 628", code=0)
    assert "1 of the 2 file(s) found changed since the index was built" in res.stderr
    assert "sfng index build" in res.stderr
    f.unlink()                                    # gone counts too (the folder changed: allow it)
    res = run(cli, store, "find", "--galaxy", "NGC 628", "--allow-stale", code=0)
    assert "1 of the 2 file(s) found changed" in res.stderr
    run(cli, store, "index", "build", code=0)
    res = run(cli, store, "find", "--galaxy", "NGC 628", code=0)
    assert "changed since" not in res.stderr


def test_changed_files_checks_at_most_the_limit(store):
    from sfng.query import load_index

    d = survey(store.root)
    for i in range(5):
        image(d / f"NGC_0628.f{i}.fits")
    from sfng.index.build import build_index

    build_index(store)
    for i in range(5):
        os.utime(d / f"NGC_0628.f{i}.fits", (1, 1))
    idx = load_index(None, store, allow_stale=True)
    assert idx.changed_files(np.arange(len(idx)), limit=3) == (3, 3)
    assert load_index(store.index_path).changed_files(np.arange(len(idx))) == (0, 0)  # no store


# ---------------------------------------------------------------------- 5. fuzzing
#
# Only the declared error types may come out of a reader, whatever the bytes.  Fast: 200
# examples each, no deadline (the first examples import astropy); a longer run:
#   SFNG_FUZZ_EXAMPLES=5000 pytest tests/test_readers_hostile.py -k fuzz --hypothesis-show-statistics

FUZZ = settings(max_examples=int(os.environ.get("SFNG_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fits_bytes(tmp_path_factory):
    """A valid two-HDU FITS file (image + table), as bytes."""
    from astropy.io import fits

    h = fits.Header()
    for k, v in CARDS.items():
        h[k] = v
    h["LONGSTR"] = "x" * 100                       # CONTINUE cards
    hdul = fits.HDUList([fits.PrimaryHDU(np.arange(64, dtype="f4").reshape(8, 8), h),
                         fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.ones(3))])])
    buf = io.BytesIO()
    hdul.writeto(buf)
    return buf.getvalue()


def _read_all_ways(path):
    from sfng.fitsheader import FitsHeaderError, read_headers
    from sfng.validate.reader import open_file

    for kw in ({}, {"max_hdus": 1}, {"until_image": True}):
        try:
            read_headers(path, **kw)
        except FitsHeaderError:
            pass
    opened = open_file(path)                     # never raises at all
    assert opened.kind in ("fits", "bad", "other")


def _mutate(data: bytes, cut: int, flips) -> bytes:
    b = bytearray(data[: max(0, min(cut, len(data)))] if cut >= 0 else data)
    for pos, bit in flips:
        if b:
            b[pos % len(b)] ^= 1 << bit
    return bytes(b)


_flips = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), max_size=8)


@FUZZ
@given(cut=st.integers(-1, 2 * 2880 + 400), flips=_flips)
def test_fuzz_fits_header_blocks(tmp_path, fits_bytes, cut, flips):
    p = tmp_path / "f.fits"
    p.write_bytes(_mutate(fits_bytes, cut, flips))
    _read_all_ways(p)


@FUZZ
@given(cut=st.integers(-1, 3000), flips=_flips, raw=st.booleans())
def test_fuzz_gzip_streams(tmp_path, fits_bytes, cut, flips, raw):
    p = tmp_path / "f.fits.gz"
    stream = gzip.compress(fits_bytes, mtime=0)
    p.write_bytes(_mutate(stream, cut, flips) if raw else stream[:10] + _mutate(stream[10:], cut, flips))
    _read_all_ways(p)


@FUZZ
@given(data=st.binary(max_size=6000))
def test_fuzz_random_bytes_as_fits(tmp_path, data):
    for name, body in (("r.fits", data), ("s.fits", b"SIMPLE  =                    T" + data),
                       ("z.fits.gz", b"\x1f\x8b" + data)):
        p = tmp_path / name
        p.write_bytes(body)
        _read_all_ways(p)


_README_LINES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["---", "BUNIT = K", "BMAJ = 1e999", "X = 'a''b'", "= 3", "bunit = K",
                     "TOOLONGKEY = 1", "# comment", "BUNIT = K", "A = \"q\"", "\x00 = \x00", "B =  "]))


@FUZZ
@given(lines=st.lists(_README_LINES, max_size=12), nl=st.sampled_from(["\n", "\r\n", "\r"]))
def test_fuzz_readme_text(tmp_path, lines, nl):
    from sfng.readme import parse_text, read_readme

    text = nl.join(lines)
    try:
        parse_text(text)
    except ReadmeError:
        pass
    p = tmp_path / "S_README.txt"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        read_readme(p)
    except ReadmeError:
        pass


_CSV_CELLS = st.one_of(st.text(max_size=12), st.sampled_from(['"', '""', ',', '\n', '"a,b"', "\x00", "ngc628"]))


@FUZZ
@given(header=st.sampled_from(["input,ned_name,ra,dec,ned_type,redshift,asked,source", "input,ned_name",
                               "", "x,y"]),
       rows=st.lists(st.lists(_CSV_CELLS, max_size=9), max_size=6), big=st.booleans())
def test_fuzz_csv_tables(tmp_path, header, rows, big):
    from sfng.ned import CACHE_COLUMNS, read_table

    body = "\n".join(",".join(r) for r in rows)
    if big:
        body += "\na," + "y" * 140_000
    p = tmp_path / "t.csv"
    p.write_bytes((header + "\n" + body).encode("utf-8", "surrogatepass"))
    try:
        read_table(p, CACHE_COLUMNS)
    except SfngError:
        pass


_WHERE_TOKENS = st.sampled_from([
    "res", "depth_k", "dist", "valid", "survey", "tracer", "naxis", "nope", "<", "<=", ">", ">=", "=",
    "==", "!=", "=<", "and", "or", "not", "&&", "||", "!", "(", ")", "15", "15arcsec", "1K", "0.5",
    "-3", "'PAWS'", '"CO(1-0)"', "true", "false", "1e999", "2kms", "3Mpc", "4furlong", "'", "$", " "])


@FUZZ
@given(tokens=st.lists(_WHERE_TOKENS, max_size=40), junk=st.text(max_size=8))
def test_fuzz_where_expressions(tokens, junk):
    from sfng.select import parse_where

    n = 4
    known = {"res": "arcsec", "depth_k": "K", "dist": "Mpc", "valid": "", "survey": "", "tracer": "",
             "naxis": ""}
    values = {"res": (np.array([1.0, 20.0, np.nan, 5.0]), "arcsec"),
              "depth_k": (np.array([0.1, 2.0, 0.5, np.nan]), "K"),
              "dist": (np.array([3.0, 9.8, np.nan, 20.0]), "Mpc"),
              "valid": (np.array([True, False, True, True]), ""),
              "survey": (np.array([b"PAWS", b"THINGS", b"", b"X"]), ""),
              "tracer": (np.array(["CO(1-0)", "HI", "", "HALPHA"]), ""),
              "naxis": (np.array([2, 3, 3, 2]), "")}
    for text in (" ".join(tokens), "".join(tokens) + junk):
        try:
            expr = parse_where(text)
            expr.check(known)
            mask = np.asarray(expr.evaluate(lambda name: values[name]))
            assert mask.shape in ((), (n,))
        except SfngError:
            pass


def test_where_column_against_column_of_another_kind_is_a_message():
    """Found by the fuzz test above: a number column compared with a text column."""
    from sfng.select import parse_where

    values = {"res": (np.array([1.0, 20.0]), "arcsec"), "survey": (np.array([b"PAWS", b"HI"]), ""),
              "tracer": (np.array(["CO(1-0)", "HI"]), "")}
    known = {"res": "arcsec", "survey": "", "tracer": ""}
    for text in ("res >= survey", "survey < res", "survey > tracer"):
        expr = parse_where(text)
        expr.check(known)
        with pytest.raises(SfngError, match="cannot be compared|take only = or !="):
            expr.evaluate(lambda name: values[name])
    expr = parse_where("survey = tracer")
    assert list(expr.evaluate(lambda name: values[name])) == [False, True]


@pytest.mark.parametrize("wcsaxes", ["1E300", "3000", "-7"])
def test_absurd_wcsaxes_is_judged_quickly(tmp_path, wcsaxes):
    """WCSAXES bounds loops over the axes (the spectral axis search, the WCS matrix): a hostile
    value is weighed as the standard's limit allows (99 axes), not looped over for ever."""
    from sfng.footprint import FootprintError, outline
    from sfng.fitsheader import read_headers
    from sfng.spectral import spectral_axis
    from sfng.validate import validate_file

    cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
             "NAXIS1  =                    4", "NAXIS2  =                    4", f"WCSAXES = {wcsaxes:>20}",
             "CTYPE1  = 'RA---TAN'", "CTYPE2  = 'DEC--TAN'", "CRVAL1  =                 10.0",
             "CRVAL2  =                 20.0", "CD1_1   =               -0.001", "CD2_2   =                0.001"]
    text = "".join(c.ljust(80) for c in cards) + "END".ljust(80)
    path = tmp_path / "absurd.fits"
    path.write_bytes(text.ljust(2880).encode() + bytes(2880))
    t = time.perf_counter()
    report = validate_file(path)
    header = read_headers(path)[0].header
    spectral_axis(header)
    try:
        outline(header)
    except FootprintError:
        pass
    assert time.perf_counter() - t < 10
    rules = {p.rule_id for p in report.problems}
    if wcsaxes != "-7":
        assert rules & {"wcs-singular", "wcs-unreadable"}, rules
