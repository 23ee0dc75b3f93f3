"""`sfng serve`: endpoints, tokens, limits, hostile ids and ranges, aligned and cut spectra
(against an independent resampling), downloads, the client, and one real server on a socket."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from astropy.io import fits  # noqa: E402
from astropy.table import Table  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _serve_store  # noqa: E402

T1901 = 232.5447, 48.690201


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from sfng.serve.app import build

    info = _serve_store.build(tmp_path_factory.mktemp("serve"))
    store = info["store"]
    app = build(store.root, store.index_path, store.root)
    info["app"] = app
    info["http"] = TestClient(app)
    info["svc"] = app.state.service
    return info


def H(info, scope="read"):
    return {"X-DL-AuthToken": info["tokens"][scope]}


def cone_ids(served, size=1.2 / 3600):
    r = served["http"].get("/query", params={"ra": T1901[0], "dec": T1901[1], "size": size}, headers=H(served))
    assert r.status_code == 200, r.text
    return r.json()


def read_cube(served, survey="MANGA", name="1901"):
    store = served["store"]
    path = next(p for p in (store.root / "data" / survey).iterdir() if name in p.name and "README" not in p.name
                and "MANIFEST" not in p.name)
    return fits.open(path)


# ------------------------------------------------------------------------------- describing

def test_alive_needs_no_token_and_reports_limits(served):
    r = served["http"].get("/")
    assert r.status_code == 200
    j = r.json()
    assert j["alive"] and j["limits"]["max_ids"] > 0 and "max_bytes" in j["limits"] and "max_seconds" in j["limits"]


def test_contexts_and_catalogs(served):
    c = served["http"].get("/contexts", headers=H(served)).json()
    assert set(c["surveys"]) == {"MANGA", "HERACLES", "THINGS", "SINGS"} and c["surveys"]["MANGA"]["cubes"] == 2
    cat = served["http"].get("/catalogs", headers=H(served)).json()
    assert any(col["name"] == "res" for col in cat["FILES"]["columns"])


# ------------------------------------------------------------------------------- tokens

def test_token_refusals(served):
    http = served["http"]
    assert http.get("/contexts").status_code == 401
    assert http.get("/contexts", headers={"X-DL-AuthToken": "sfng_00000000_" + "A" * 43}).status_code == 401
    assert http.get("/contexts", headers={"X-DL-AuthToken": "nonsense"}).status_code == 401
    assert http.get("/contexts", headers={"Authorization": "Bearer " + served["tokens"]["read"]}).status_code == 200
    assert http.get("/contexts", headers=H(served, "download")).status_code == 403
    assert http.get("/admin/stats", headers=H(served)).status_code == 403
    assert http.get("/admin/stats").status_code == 401
    assert http.get("/admin/stats", headers=H(served, "admin")).status_code == 200
    assert http.get("/shutdown").status_code == 404          # specserver's open door: none here
    fid = http.get("/files", headers=H(served)).json()[0]["file_id"]
    assert http.get(f"/files/{fid}", headers=H(served)).status_code == 403
    assert http.get(f"/files/{fid}", headers=H(served, "download")).status_code == 200


def test_tokens_are_kept_hashed_and_revocation_takes_effect(served, cli):
    from sfng.serve.tokens import add_token, tokens_path

    store = served["store"]
    res = cli("token", "add", "bob", "--scope", "read", "--format", "json", "--store", store.root)
    tok = json.loads(res.output)["token"]
    text = tokens_path(store.root).read_text()
    secret = tok.split("_", 2)[2]   # sfng_<hex key>_<urlsafe secret>, which may hold '_' itself
    assert tok not in text and secret not in text
    listed = cli("token", "list", "--format", "json", "--store", store.root).output
    assert "bob" in listed and "hash" not in listed and "salt" not in listed
    http = served["http"]
    assert http.get("/contexts", headers={"X-DL-AuthToken": tok}).status_code == 200
    cli("token", "revoke", "bob", "--store", store.root)
    assert http.get("/contexts", headers={"X-DL-AuthToken": tok}).status_code == 401
    with pytest.raises(Exception):
        add_token(store.root, "x", ["root"])


# ------------------------------------------------------------------------------- queries

def test_cone_polygon_and_constraint_queries(served):
    from sfng import footprint

    http = served["http"]
    ids = cone_ids(served)
    assert ids and len(ids) == len(set(ids))
    svc = served["svc"]
    for i in ids:   # every id is a spaxel within the cone
        c, x, y, _ = svc.resolve(i)
        k = y * c.nx + x
        assert footprint.separation(c.pix_ra[k], c.pix_dec[k], *T1901) <= 1.2 / 3600 + 1e-12
    # RA given past 360 wraps; coord= is the same cone
    assert cone_ids(served) == http.get("/query", params={"ra": T1901[0] + 360, "dec": T1901[1], "size": 1.2 / 3600},
                                        headers=H(served)).json()
    assert http.get("/query", params={"coord": f"{T1901[0]},{T1901[1]}", "size": 1.2 / 3600},
                    headers=H(served)).json() == ids
    d = 1.0 / 3600
    poly = [[T1901[0] - d, T1901[1] - d], [T1901[0] + d, T1901[1] - d], [T1901[0] + d, T1901[1] + d],
            [T1901[0] - d, T1901[1] + d]]
    r = http.post("/query", json={"region": poly}, headers=H(served))
    assert r.status_code == 200 and 0 < len(r.json())
    r = http.post("/query", json={"constraint": "survey = 'MANGA' and naxis1 > 50"}, headers=H(served))
    assert r.status_code == 200 and len(r.json()) == 1   # the 127-fibre cube's centre spaxel
    r = http.post("/query", json={"constraint": "survey = 'MANGA'", "all": True, "limit": 5, "offset": 2},
                  headers=H(served))
    assert len(r.json()) == 5 and int(r.headers["X-SFNG-Total"]) > 100


@pytest.mark.parametrize("bad", ["1=1; DROP TABLE files", "survey = 'x' or 1 --", "__import__('os')",
                                 "nosuchcolumn > 3", "(" * 200 + "res<1"])
def test_constraint_is_the_selection_language_never_sql(served, bad):
    r = served["http"].post("/query", json={"constraint": bad}, headers=H(served))
    assert r.status_code == 400 and "error" in r.json()


def test_query_limits(served, tmp_path):
    from sfng.serve.service import Service, TooLarge

    store = served["store"]
    svc = Service(store.root, store.index_path, config={"serve": {"limits": {"max_ids": 10}}},
                  cache_dir=served["svc"].cache.folder)
    assert svc.alive()["limits"]["max_ids"] == 10
    with pytest.raises(TooLarge):
        svc.query(ra=T1901[0], dec=T1901[1], size=3 / 3600)
    assert len(svc.query(ra=T1901[0], dec=T1901[1], size=3 / 3600, limit=10)[0]) == 10
    r = served["http"].post("/query", json={"ra": 1, "dec": 95, "size": 1}, headers=H(served))
    assert r.status_code == 400
    r = served["http"].post("/query", json={}, headers=H(served))
    assert r.status_code == 400


# ------------------------------------------------------------------------------- spectra

def test_getspec_npy_matches_the_cube(served):
    ids = cone_ids(served)[:4]
    r = served["http"].post("/getSpec", json={"id_list": ids, "fmt": "npy"}, headers=H(served))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-npy")
    arr = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert arr.dtype.names == ("id", "npix", "wave", "flux", "ivar", "mask") and list(arr["id"]) == ids
    assert r.headers["X-SFNG-Wave-Unit"] == "Angstrom"
    svc = served["svc"]
    with read_cube(served) as h:
        for row in arr:
            _, x, y, _ = svc.resolve(str(row["id"]))
            np.testing.assert_array_equal(row["flux"], h["FLUX"].data[:, y, x])
            np.testing.assert_array_equal(row["ivar"], h["IVAR"].data[:, y, x])
            np.testing.assert_array_equal(row["mask"], h["MASK"].data[:, y, x])
            np.testing.assert_array_equal(row["wave"], h["WAVE"].data)


@pytest.mark.parametrize("fmt, astropy_format", [("fits", "fits"), ("votable", "votable"), ("ecsv", "ascii.ecsv")])
def test_getspec_tables(served, fmt, astropy_format):
    ids = cone_ids(served)[:3]
    r = served["http"].post("/getSpec", json={"id_list": ids, "fmt": fmt}, headers=H(served))
    assert r.status_code == 200, r.text
    t = Table.read(io.BytesIO(r.content), format=astropy_format)
    ref = np.load(io.BytesIO(served["http"].post("/getSpec", json={"id_list": ids}, headers=H(served)).content))
    assert [str(s) for s in t["id"]] == ids
    np.testing.assert_allclose(np.asarray(t["flux"]), ref["flux"])
    assert str(t["wave"].unit) in ("Angstrom", "Angstrom ")


def test_line_cube_spectra_are_in_velocity(served):
    http = served["http"]
    for survey in ("HERACLES", "THINGS"):
        ids = http.post("/query", json={"constraint": f"survey = '{survey}'"}, headers=H(served)).json()
        assert len(ids) == 1
        span = http.post("/listSpan", json={"id_list": ids}, headers=H(served)).json()[0]
        assert span["unit"] == "km/s" and 500 < span["min"] < span["max"] < 800
        arr = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids}, headers=H(served)).content))
        c, x, y, _ = served["svc"].resolve(ids[0])
        with read_cube(served, survey, "") as h:
            data = h[0].data
            while data.ndim > 3:
                data = data[0]
            np.testing.assert_array_equal(arr["flux"][0], data[:, y, x])


def _brute_resample(w_in, f_in, ivar_in, w_out):
    """Independent oracle: explicit bin edges, explicit overlaps, loops."""
    def edges_of(c):
        lg = np.log10(c)
        mid = (lg[1:] + lg[:-1]) / 2
        return 10 ** np.concatenate([[lg[0] - (mid[0] - lg[0])], mid, [lg[-1] + (lg[-1] - mid[-1])]])

    ei, eo = edges_of(w_in), edges_of(w_out)
    out_f, out_v = np.full(len(w_out), np.nan), np.full(len(w_out), np.inf)
    for j in range(len(w_out)):
        lo, hi = eo[j], eo[j + 1]
        if lo < ei[0] or hi > ei[-1]:
            continue
        num = var = 0.0
        for k in range(len(w_in)):
            o = max(0.0, min(hi, ei[k + 1]) - max(lo, ei[k]))
            num += o * f_in[k]
            var += o * o / ivar_in[k] if o else 0.0
        out_f[j] = num / (hi - lo)
        out_v[j] = var / (hi - lo) ** 2
    return out_f, out_v


def test_align_onto_a_grid_is_flux_conserving(served):
    ids = cone_ids(served)[:3]
    http = served["http"]
    native = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids}, headers=H(served)).content))
    grid = {"start": 4000.0, "stop": 9000.0, "n": 37, "log": True}
    r = http.post("/getSpec", json={"id_list": ids, "align": True, "grid": grid}, headers=H(served))
    assert r.status_code == 200, r.text
    g = json.loads(r.headers["X-SFNG-Grid"])
    assert g["n"] == 37 and g["resampled"] and g["log"]
    arr = np.load(io.BytesIO(r.content))
    w_out = np.logspace(np.log10(4000), np.log10(9000), 37)
    for row, nat in zip(arr, native):
        np.testing.assert_allclose(row["wave"], w_out)
        f, v = _brute_resample(nat["wave"], nat["flux"].astype(float), nat["ivar"].astype(float), w_out)
        np.testing.assert_allclose(row["flux"], f, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(row["ivar"], 1 / v, rtol=2e-5)
    # a grid past the data: NaN, ivar 0 and the NOCOV bit, never zero padding
    grid = {"start": 3000.0, "stop": 11000.0, "n": 50, "log": True}
    arr = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids, "align": True, "grid": grid},
                                       headers=H(served)).content))
    assert np.isnan(arr["flux"][0][0]) and arr["ivar"][0][0] == 0 and arr["mask"][0][0] & 1
    assert np.isfinite(arr["flux"][0][25])


def test_align_conserves_the_integral(served):
    from sfng.serve.resample import edges, resample

    w = np.logspace(np.log10(5000), np.log10(6000), 200)
    rng = np.random.default_rng(3)
    f = rng.normal(1.0, 0.3, (2, 200))
    new = np.logspace(np.log10(5000), np.log10(6000), 61)
    out, _, _ = resample(w, f, np.ones_like(f), None, new)
    ei, eo = edges(w), edges(new)
    ok = np.isfinite(out[0])
    # integrate both over the covered output bins
    lo, hi = eo[:-1][ok][0], eo[1:][ok][-1]
    total_out = (out[:, ok] * np.diff(eo)[ok]).sum(axis=1)
    ov = np.clip(np.minimum(ei[1:], hi) - np.maximum(ei[:-1], lo), 0, None)
    total_in = (f * ov).sum(axis=1)
    np.testing.assert_allclose(total_out, total_in, rtol=1e-10)


def test_cutout_native_and_aligned(served):
    ids = cone_ids(served)[:2]
    http = served["http"]
    arr = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids, "cutout": "6500-7200"},
                                       headers=H(served)).content))
    assert arr["wave"].min() >= 6500 and arr["wave"].max() <= 7200 and arr["npix"][0] == arr["wave"].shape[1]
    native = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids}, headers=H(served)).content))
    keep = (native["wave"][0] >= 6500) & (native["wave"][0] <= 7200)
    np.testing.assert_array_equal(arr["flux"][0], native["flux"][0][keep])
    r = http.post("/getSpec", json={"id_list": ids, "cutout": "6500-7200", "align": True}, headers=H(served))
    g = json.loads(r.headers["X-SFNG-Grid"])
    assert g["start"] == 6500 and g["stop"] <= 7200 and g["resampled"]
    for bad in ("7200-6500", "red", "1-2-3"):
        assert http.post("/getSpec", json={"id_list": ids, "cutout": bad}, headers=H(served)).status_code == 400
    mixed = ids[:1] + http.post("/query", json={"constraint": "survey = 'HERACLES'"}, headers=H(served)).json()
    assert http.post("/getSpec", json={"id_list": mixed, "align": True}, headers=H(served)).status_code == 400


def test_getspec_refuses_pickle_and_unknown_formats(served):
    ids = cone_ids(served)[:1]
    for fmt in ("pickle", "pandas", "../x"):
        r = served["http"].post("/getSpec", json={"id_list": ids, "fmt": fmt}, headers=H(served))
        assert r.status_code == 400


def _forge(kind, key, *nums):
    form = {1: ">B8sHH", 2: ">B8s", 3: ">B8sHHH"}[kind]
    return base64.urlsafe_b64encode(struct.pack(form, kind, key, *nums)).rstrip(b"=").decode()


@pytest.mark.parametrize("bad, status", [
    ("../../etc/passwd", 400), ("data/MANGA/x.fits", 400), ("", 400), ("A" * 5000, 400), ("%00", 400),
    ("AXwHh1lARGq-AA8ADg=", 400),
])
def test_hostile_ids(served, bad, status):
    r = served["http"].post("/getSpec", json={"id_list": [bad]}, headers=H(served))
    assert r.status_code == status, r.text


def test_forged_ids_reach_nothing_outside(served):
    from sfng.serve import ids as idmod

    http = served["http"]
    good = cone_ids(served)[0]
    kind, key, x, y = idmod.decode(good)
    for sid, status in ((_forge(1, b"\0" * 8, 1, 1), 404), (_forge(1, key, 60000, 1), 404),
                        (_forge(2, key), 400), (_forge(1, idmod.path_key("../../etc/passwd"), 0, 0), 404)):
        assert http.post("/getSpec", json={"id_list": [sid]}, headers=H(served)).status_code == status
    assert http.post("/getSpec", json={"id_list": [good, 3]}, headers=H(served)).status_code == 400
    assert http.post("/getSpec", json={"id_list": "not a list at all ../"}, headers=H(served)).status_code == 400
    assert http.post("/getSpec", json={"id_list": [good] * 20000}, headers=H(served)).status_code == 413
    assert http.post("/getSpec", content=b"{not json", headers=dict(H(served), **{"content-type": "application/json"})
                     ).status_code == 400
    assert http.get("/files/..%2F..%2Fetc%2Fpasswd", headers=H(served, "download")).status_code in (400, 404)


# ------------------------------------------------------------------------------- pictures

def test_pictures_and_spans(served):
    http = served["http"]
    ids = cone_ids(served)[:6]
    r = http.get("/preview", params={"id": ids[0]}, headers=H(served))
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = http.post("/plotGrid", json={"id_list": ids, "nx": 2, "ny": 2, "page": 1}, headers=H(served))
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    assert http.post("/plotGrid", json={"id_list": ids, "nx": 2, "ny": 2, "page": 5},
                     headers=H(served)).status_code == 400
    r = http.post("/stackedImage", json={"id_list": ids, "fmt": "npy"}, headers=H(served))
    img = np.load(io.BytesIO(r.content), allow_pickle=False)
    native = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids}, headers=H(served)).content))
    np.testing.assert_array_equal(img, native["flux"])
    flipped = np.load(io.BytesIO(http.post("/stackedImage", json={"id_list": ids, "fmt": "npy", "yflip": True},
                                           headers=H(served)).content))
    np.testing.assert_array_equal(flipped, img[::-1])
    assert http.post("/stackedImage", json={"id_list": ids}, headers=H(served)).content[:4] == b"\x89PNG"
    spans = http.post("/listSpan", json={"id_list": ids}, headers=H(served)).json()
    assert spans[0]["unit"] == "Angstrom" and spans[0]["min"] < 3700 and spans[0]["max"] > 10000


# ------------------------------------------------------------------------------- downloads

def test_download_etag_is_the_manifest_sha256_and_ranges_resume(served):
    from sfng.manifest import read_manifest

    http = served["http"]
    hd = H(served, "download")
    entry = next(e for e in http.get("/files", headers=H(served)).json() if e["survey"] == "HERACLES")
    path = next((served["store"].root / "data" / "HERACLES").glob("*.fits"))
    sha = read_manifest(path.parent)[path.name].sha256
    r = http.get(f"/files/{entry['file_id']}", headers=hd)
    assert r.status_code == 200 and r.headers["etag"] == f'"{sha}"' and r.content == path.read_bytes()
    assert http.get(f"/files/{entry['file_id']}", headers=dict(hd, **{"If-None-Match": f'"{sha}"'})).status_code == 304
    r = http.get(f"/files/{entry['file_id']}", headers=dict(hd, Range="bytes=100-199"))
    assert r.status_code == 206 and r.content == path.read_bytes()[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{path.stat().st_size}"
    r = http.get(f"/files/{entry['file_id']}", headers=dict(hd, Range="bytes=-10"))
    assert r.content == path.read_bytes()[-10:]
    r = http.get(f"/files/{entry['file_id']}", headers=dict(hd, Range="bytes=2800-", **{"If-Range": '"other"'}))
    assert r.status_code == 200 and len(r.content) == path.stat().st_size
    for bad in ("bytes=999999999-", "bytes=5-1", "bytes=0-1,5-6", "chars=0-1", "bytes=-0", "bytes=x-y"):
        r = http.get(f"/files/{entry['file_id']}", headers=dict(hd, Range=bad))
        assert r.status_code == 416, bad
    assert http.head(f"/files/{entry['file_id']}", headers=hd).headers["content-length"] == str(path.stat().st_size)


# ------------------------------------------------------------------------------- one real server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_client_cli_and_sigterm(served, tmp_path, cli):
    from sfng.client import Client, ServiceError

    store = served["store"]
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "sfng", "serve", "--store", str(store.root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        c = Client(url, token=served["tokens"]["read"])
        for _ in range(600):    # up to a minute: the suite may share the cores with other work
            if c.isAlive():
                break
            time.sleep(0.1)
        assert c.alive()["limits"]["max_ids"] > 0
        ids = c.query(ra=T1901[0], dec=T1901[1], size=1.2 / 3600)
        assert ids == cone_ids(served)
        sp = c.getSpec(ids[:3], align=True)
        assert sp.grid and sp.grid["resampled"] and sp["flux"].shape[0] == 3
        t = c.getSpec(ids[:2], fmt="table")
        assert len(t) == 2 and str(t["wave"].unit) == "Angstrom"
        assert c.preview(ids[0])[:4] == b"\x89PNG"
        assert c.plotGrid(ids[:4], 2, 2)[:4] == b"\x89PNG"
        assert c.stackedImage(ids[:4], fmt="npy").shape[0] == 4
        assert c.listSpan(ids[:2])[0]["unit"] == "Angstrom"
        curl = c.curl("getSpec", id_list=ids[:2], fmt="npy")
        assert curl.startswith("curl ") and "X-DL-AuthToken: $SFNG_TOKEN" in curl and "/getSpec" in curl
        with pytest.raises(ServiceError) as err:
            Client(url, token="sfng_deadbeef_" + "x" * 43).query(ra=1, dec=1, size=1)
        assert err.value.status == 401
        # downloads resume
        dl = Client(url, token=served["tokens"]["download"])
        heracles = next(e for e in c.files() if e["survey"] == "HERACLES")
        fid = heracles["file_id"]
        src = next((store.root / "data" / "HERACLES").glob("*.fits")).read_bytes()
        dest = tmp_path / "cube.fits"
        dest.write_bytes(src[:1000])
        Path(str(dest) + ".etag").write_text(f'"{heracles["sha256"]}"')
        assert dl.download(fid, dest) == f'"{heracles["sha256"]}"'
        assert dest.read_bytes() == src
        assert dl.last_headers.get("Content-Range") == f"bytes 1000-{len(src) - 1}/{len(src)}"
        dest.write_bytes(b"x" * 1000)    # a partial copy of another version: If-Range sends it all
        Path(str(dest) + ".etag").write_text('"0000"')
        dl.download(fid, dest)
        assert dest.read_bytes() == src
        # the command line
        res = cli("spec", "query", "--url", url, "--token", served["tokens"]["read"], "--ra", T1901[0], "--dec",
                  T1901[1], "--size", 1.2 / 3600)
        assert res.output.split() == ids
        out = tmp_path / "s.fits"
        res = cli("spec", "get", *ids[:2], "--url", url, "--token", served["tokens"]["read"], "-o", out)
        assert len(Table.read(out)) == 2
        res = cli("spec", "get", *ids[:2], "--url", url, "--curl")
        assert res.output.startswith("curl ")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        log = proc.stdout.read().decode()
    # uvicorn finishes the requests in flight and shuts down, then re-raises SIGTERM (exit -15)
    assert rc in (0, -signal.SIGTERM), log
    assert "POST /getSpec 200" in log and "Application shutdown complete" in log and "Traceback" not in log


# ------------------------------------------------------------------------------- streamed answers

def test_npz_sends_a_shared_grid_once(served):
    from sfng.client import read_npz

    http = served["http"]
    ids = cone_ids(served)[:5]
    r = http.post("/getSpec", json={"id_list": ids, "fmt": "npz"}, headers=H(served))
    assert r.status_code == 200 and r.headers["X-SFNG-Shared-Wave"] == "true"
    z = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert set(z.files) == {"meta.json", "wave", "spectra"}
    assert "wave" not in z["spectra"].dtype.names and z["wave"].shape == (64,)
    ref = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids, "fmt": "npy"}, headers=H(served)).content))
    for f in ("id", "npix", "flux", "ivar", "mask"):
        np.testing.assert_array_equal(z["spectra"][f], ref[f])
    np.testing.assert_array_equal(z["wave"], ref["wave"][0])
    sp = read_npz(r.content)
    assert sp.wave_unit == "Angstrom" and sp.grid["n"] == 64 and not sp.grid["resampled"]
    np.testing.assert_array_equal(sp["wave"], ref["wave"])            # a broadcast view, no copy
    assert sp["wave"].base is not None and sp[:2].wave is sp.wave
    # spectra of different grids (MaNGA in Angstrom, a CO cube in km/s): wave in every row
    co = http.post("/query", json={"constraint": "survey = 'HERACLES'"}, headers=H(served)).json()
    r = http.post("/getSpec", json={"id_list": ids[:2] + co, "fmt": "npz"}, headers=H(served))
    z = np.load(io.BytesIO(r.content))
    assert "wave" not in z.files and "wave" in z["spectra"].dtype.names
    assert list(z["spectra"]["npix"]) == [64, 64, 30] and np.isnan(z["spectra"]["wave"][2][30:]).all()
    assert (z["spectra"]["mask"][2][30:] == 1).all()


@pytest.mark.parametrize("fmt", ["npz", "npy", "fits", "ecsv"])
def test_answers_stream_in_chunks_and_match(served, monkeypatch, fmt):
    """Many small chunks (a few spectra each) give the same answer as one."""
    from sfng.client import read_npz
    from sfng.serve import service, wire

    http = served["http"]
    ids = cone_ids(served, size=2.5 / 3600)
    assert len(ids) > 20
    whole = http.post("/getSpec", json={"id_list": ids, "fmt": fmt}, headers=H(served))
    monkeypatch.setattr(service, "CHUNK_BYTES", 3000)     # two spectra of 64 channels a chunk
    monkeypatch.setattr(wire, "PIECE", 1000)
    parts = http.post("/getSpec", json={"id_list": ids, "fmt": fmt}, headers=H(served))
    assert parts.status_code == 200
    if fmt in ("npy", "fits"):
        assert int(parts.headers["content-length"]) == len(parts.content)
    if fmt == "npz":
        a, b = read_npz(whole.content), read_npz(parts.content)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        return
    assert parts.content == whole.content or fmt == "ecsv"
    if fmt == "ecsv":
        t = Table.read(io.BytesIO(parts.content), format="ascii.ecsv")
        ref = Table.read(io.BytesIO(whole.content), format="ascii.ecsv")
        assert len(t) == len(ids) and list(t["id"]) == ids
        np.testing.assert_array_equal(np.asarray(t["flux"]), np.asarray(ref["flux"]))
    if fmt == "fits":
        with fits.open(io.BytesIO(parts.content)) as h:
            assert h[1].header["NAXIS2"] == len(ids) and list(h[1].data["id"]) == ids


def test_streaming_memory_is_bounded(served, monkeypatch):
    """10,000 spectra stream through chunks: the peak Python memory while the answer is made
    stays near a chunk's size, far below the answer's."""
    import tracemalloc

    from sfng.serve import service, wire

    svc = served["svc"]
    pool = served["http"].post("/query", json={"constraint": "survey = 'MANGA'", "all": True},
                               headers=H(served)).json()
    monkeypatch.setattr(service, "CHUNK_BYTES", 256 << 10)

    def peak_of(n, fmt):
        st = svc.spectra_stream([pool[i % len(pool)] for i in range(n)])
        pieces, _, _ = wire.encode(st, fmt)
        total = 0
        tracemalloc.start()
        for p in pieces:
            total += len(p) if not isinstance(p, memoryview) else p.nbytes
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return total, peak

    for fmt in ("npz", "npy"):
        total, peak = peak_of(10000, fmt)
        small_total, small_peak = peak_of(2000, fmt)
        assert total > 8 * 2**20 and small_total < total / 4, total  # an answer of 8+ MB ...
        assert peak < 6 * 2**20, (fmt, peak)                      # ... made in a few chunks' worth
        assert peak < small_peak * 1.5 + 2**20, (fmt, peak, small_peak)   # whatever the count


def test_aligned_and_cut_answers_stream_too(served, monkeypatch):
    from sfng.client import read_npz
    from sfng.serve import service

    http = served["http"]
    ids = cone_ids(served)[:7]
    body = {"id_list": ids, "align": True, "cutout": "6500-7200", "fmt": "npz"}
    whole = read_npz(http.post("/getSpec", json=body, headers=H(served)).content)
    monkeypatch.setattr(service, "CHUNK_BYTES", 500)
    parts = read_npz(http.post("/getSpec", json=body, headers=H(served)).content)
    assert whole.grid["resampled"] and whole.wave is not None and whole.wave[0] >= 6500
    np.testing.assert_array_equal(np.asarray(whole), np.asarray(parts))
    np.testing.assert_array_equal(whole.wave, parts.wave)
    ref = served["svc"].spectra(ids, align=True, cutout="6500-7200")
    np.testing.assert_allclose(whole["flux"], np.vstack(ref.flux))


def test_workers_share_the_port(served):
    """--workers N: uvicorn's factory (sfng.serve.app:app_from_env) in N processes."""
    from sfng.client import Client

    store = served["store"]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sfng", "serve", "--store", str(store.root), "--port", str(port),
                             "--workers", "2", "--log-level", "warning"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        c = Client(f"http://127.0.0.1:{port}", token=served["tokens"]["admin"])
        for _ in range(600):
            if c.isAlive():
                break
            time.sleep(0.1)
        assert c.alive()["alive"]
        pids = {c._json("GET", "/admin/stats")["pid"] for _ in range(12)}
        assert proc.pid not in pids                      # answered by the worker processes
        sp = c.getSpec(cone_ids(served)[:3])
        assert sp["flux"].shape[0] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    log = proc.stdout.read().decode()
    assert rc in (0, -signal.SIGTERM) and "Traceback" not in log, log


def test_time_limit_counts_work_not_reading(served):
    svc = served["svc"]
    ids = cone_ids(served)[:4]
    old = svc.limits["max_seconds"]
    try:
        svc.limits["max_seconds"] = -1.0          # no work at all allowed: refused before any byte
        r = served["http"].post("/getSpec", json={"id_list": ids, "fmt": "npz"}, headers=H(served))
        assert r.status_code == 503 and "limit" in r.json()["error"]
        svc.limits["max_seconds"] = 30.0
        st = svc.spectra_stream(ids)
        time.sleep(0.05)                           # a slow reader: not counted
        assert sum(len(rec) for rec in st.records()) == 4 and st.work_s < 30
    finally:
        svc.limits["max_seconds"] = old
