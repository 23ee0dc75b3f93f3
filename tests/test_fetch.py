"""``sfng fetch manga`` against a local HTTP server on 127.0.0.1 serving a small SAS mirror:
Range resume after a connection dropped mid-file, a corrupted file caught by the published
checksum, parallel downloads, landing through ingest.  No network beyond the loopback."""

import hashlib
import http.server
import os
import re
import threading
from pathlib import Path

import pytest

from sfng.demo import manga as mangagen
from sfng.surveys import manga
from sfng.surveys.manga import fetch

TARGETS = [
    mangagen.DemoTarget("8485-1901", "1-209232", 232.5447, 48.690201, 2.43751, 0.0407447, 20937850, (41, 9, 4)),
    mangagen.DemoTarget("7443-12703", "12-193481", 229.525575, 42.745853, 2.5, 0.0202, 0, (0, 0, 0)),
]


class MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror with byte ranges; misbehaves for the files the server is told to."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        rel = self.path.split("?", 1)[0].lstrip("/")
        path = Path(self.translate_path(self.path))
        srv.requests.append((rel, self.headers.get("Range")))
        if path.is_dir():
            return super().do_GET()  # Apache-like listing: how checksum files are found
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if rel in srv.corrupt:
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng)[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if srv.drops.get(rel, 0) > 0:
            srv.drops[rel] -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture(scope="module")
def mirror_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sas") / "mirror"
    written = mangagen.write_sas_mirror(root, TARGETS, nwave=8, gz3d_size=32)
    # publish sha1 checksums beside the cubes, as an archive would
    for rel in written:
        if rel.endswith("LOGCUBE.fits.gz"):
            p = root / rel
            digest = hashlib.sha1(p.read_bytes()).hexdigest()
            with open(p.parent / f"manga-{p.parent.parent.name}.sha1sum", "a") as f:
                f.write(f"{digest}  {p.name}\n")
    return root, written


@pytest.fixture
def mirror(mirror_tree, tmp_path):
    import shutil

    root = tmp_path / "mirror"
    shutil.copytree(mirror_tree[0], root)
    written = mirror_tree[1]

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    def handler(*args, **kwargs):
        return MirrorHandler(*args, directory=str(root), **kwargs)

    srv = Server(("127.0.0.1", 0), handler)
    srv.requests, srv.drops, srv.corrupt = [], {}, set()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.root = root
    srv.written = written
    yield srv
    srv.shutdown()
    srv.server_close()


def test_sas_paths_follow_the_dr17_layout():
    p = fetch.sas_paths("8485-1901", mangaid="1-209232", ifusize=19, subject=20937850)
    assert p["cubes"] == "dr17/manga/spectro/redux/v3_1_1/8485/stack/manga-8485-1901-LOGCUBE.fits.gz"
    assert p["maps"] == ("dr17/manga/spectro/analysis/v3_1_1/3.1.0/HYB10-MILESHC-MASTARSSP/8485/1901/"
                         "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    assert p["gz3d"] == "dr17/env/MANGA_MORPHOLOGY/galaxyzoo3d/v4_0_0/gz3d_1-209232_19_20937850.fits.gz"
    assert fetch.sas_paths("8485-1901", gz3d_file="1-209232_19_20937850.fits")["gz3d"] == p["gz3d"]
    with pytest.raises(Exception, match="plate-IFU"):
        fetch.sas_paths("../etc")


def test_parse_checksums():
    text = "# comment\n" + "a" * 40 + "  x.fits.gz\n" + "b" * 64 + " *dir/y.fits\nnot a line\n"
    assert fetch.parse_checksums(text) == {"x.fits.gz": ("sha1", "a" * 40), "y.fits": ("sha256", "b" * 64)}


def test_where_selection_over_drpall(mirror, tmp_path):
    cat = fetch.read_catalogue(mirror.root / fetch.DRPALL_PATH)
    got = fetch.select_targets(cat, where="nsa_z < 0.03")
    assert [t.plateifu for t in got] == ["7443-12703"] and got[0].ifusize == 127
    got = fetch.select_targets(cat, where="ifudsgn < 2000 and nsa_z > 0.03", plateifus=["8485-1901"])
    assert [(t.plateifu, t.mangaid) for t in got] == [("8485-1901", "1-209232")]
    with pytest.raises(Exception, match="not in the DRPall"):
        fetch.select_targets(cat, plateifus=["9999-1901"])
    with pytest.raises(Exception, match="unknown column"):
        fetch.select_targets(cat, where="nsaz < 1")


def test_fetch_resume_verify_and_land(mirror, store, tmp_path):
    cube = fetch.sas_paths("8485-1901")["cubes"]
    maps = fetch.sas_paths("8485-1901")["maps"]
    mirror.drops[cube] = 1          # the connection drops a third of the way into the cube
    cache = tmp_path / "cache"
    got_bytes = []
    report = fetch.fetch_manga(store, plateifus=["8485-1901"], products="cubes,maps,gz3d", jobs=3,
                               base_url=mirror.url, cache_dir=cache, offline=True, backoff=0.0,
                               progress=got_bytes.append)
    assert report.ok, report.as_dict()
    status = {f.rel: f for f in report.files}
    assert status[cube].status == "downloaded" and status[cube].attempts == 2
    assert "sha1" in status[cube].verified and "gzip-crc" in status[cube].verified
    assert any(r == (cube, f"bytes={len((mirror.root / cube).read_bytes()) // 3}-")
               for r in mirror.requests), "the second request resumed with a Range"
    assert sum(got_bytes) >= (mirror.root / cube).stat().st_size
    # landed through ingest, under the MaNGA-ID fallback name (offline), byte-identical
    root = store.root
    landed = root / "data" / "MANGA" / "MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz"
    assert landed.read_bytes() == (mirror.root / cube).read_bytes()
    assert (root / "derived" / "MANGA-DAP" / ("MaNGA_1-209232." + Path(maps).name)).is_file()
    assert (root / "derived" / "GZ3D" / "MaNGA_1-209232.gz3d_1-209232_19_20937850.fits.gz").is_file()
    assert "Abdurro'uf" in (root / "data" / "MANGA" / "MANGA_README.txt").read_text()
    assert (root / "tables" / "MANGA" / "drpall-v3_1_1.fits").is_file()
    assert "MaNGA_1-209232.manga-8485-1901-LOGCUBE.fits.gz" in (root / "data" / "MANGA" / "MANIFEST.sha256").read_text()
    # a rerun finds everything verified in the cache and lands nothing twice
    again = fetch.fetch_manga(store, plateifus=["8485-1901"], products="cubes", base_url=mirror.url,
                              cache_dir=cache, offline=True)
    assert [f.status for f in again.files] == ["cached"] and again.ok


def test_partial_file_is_resumed_by_a_later_run(mirror, store, tmp_path):
    cube = fetch.sas_paths("7443-12703")["cubes"]
    data = (mirror.root / cube).read_bytes()
    part = tmp_path / "cache" / (cube + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])   # what a killed earlier run left
    report = fetch.fetch_manga(store, plateifus=["7443-12703"], products="cubes", base_url=mirror.url,
                               cache_dir=tmp_path / "cache", land=False)
    (res,) = report.files
    assert res.status == "resumed" and Path(res.path).read_bytes() == data
    assert (cube, "bytes=1000-") in mirror.requests


def test_corrupted_file_is_caught_and_not_landed(mirror, store, tmp_path):
    cube = fetch.sas_paths("8485-1901")["cubes"]
    mirror.corrupt.add(cube)
    report = fetch.fetch_manga(store, plateifus=["8485-1901"], products="cubes", base_url=mirror.url,
                               cache_dir=tmp_path / "cache", offline=True, backoff=0.0)
    (res,) = report.files
    assert res.status == "failed" and "sha1" in res.message and "differs from the published" in res.message
    assert not report.ok
    assert not (tmp_path / "cache" / cube).exists() and not (tmp_path / "cache" / (cube + ".part")).exists()
    assert not list((store.root / "data").glob("MANGA/*LOGCUBE*"))


def test_corruption_without_published_checksum_caught_by_gzip_crc(mirror, store, tmp_path):
    maps = fetch.sas_paths("8485-1901")["maps"]
    mirror.corrupt.add(maps)
    report = fetch.fetch_manga(store, plateifus=["8485-1901"], products="maps", base_url=mirror.url,
                               cache_dir=tmp_path / "cache", land=False)
    (res,) = report.files
    assert res.status == "failed" and "gzip" in res.message


def test_missing_file_is_reported(mirror, store, tmp_path):
    os.remove(mirror.root / fetch.sas_paths("7443-12703")["maps"])
    report = fetch.fetch_manga(store, plateifus=["7443-12703"], products="maps", base_url=mirror.url,
                               cache_dir=tmp_path / "cache", land=False)
    assert report.files[0].status == "failed" and "404" in report.files[0].message


def test_cli_dry_run_and_json(mirror, store, cli, tmp_path):
    res = cli("fetch", "manga", "--store", store.root, "--base-url", mirror.url, "--cache", tmp_path / "c",
              "--where", "nsa_z < 1", "--product", "cubes,maps", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "manga-8485-1901-LOGCUBE.fits.gz" in res.output and "manga-7443-12703-MAPS" in res.output
    assert not list((store.root / "data").rglob("*.fits.gz"))
    res = cli("fetch", "manga", "--store", store.root, "--base-url", mirror.url, "--cache", tmp_path / "c",
              "--plateifu", "7443-12703", "--offline", "--format", "json")
    assert res.exit_code == 0, res.output
    assert '"status": "downloaded"' in res.output
    res = cli("fetch", "manga", "--store", store.root, "--product", "spectra", "--plateifu", "1-1")
    assert res.exit_code != 0


def test_cli_help_teaches():
    from click.testing import CliRunner

    from sfng.cli import main

    out = CliRunner().invoke(main, ["fetch", "manga", "--help"]).output
    assert "--plateifu" in out and "Examples" in out and "--base-url" in out


def test_file_url_mirror(mirror, store, tmp_path):
    """A mirror on a local or network file system works through file:// as well."""
    report = fetch.fetch_manga(store, plateifus=["8485-1901"], products="cubes",
                               base_url=mirror.root.as_uri() + "/", cache_dir=tmp_path / "c", land=False)
    (res,) = report.files
    assert res.status == "downloaded"
    assert Path(res.path).read_bytes() == (mirror.root / fetch.sas_paths("8485-1901")["cubes"]).read_bytes()
