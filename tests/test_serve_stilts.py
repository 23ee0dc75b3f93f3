"""What TOPCAT and Aladin see of `sfng serve`, checked with STILTS -- TOPCAT's own command-line
engine (the same STIL readers and DataLink code) -- against a real uvicorn on 127.0.0.1:

- ``stilts datalinklint`` on the service's ``/datalink`` answers, fetched over HTTP with Basic
  authentication (the way TOPCAT sends a token: any user name, the token as the password);
- ``stilts votlint`` on every VOTable the service writes (DataLink, getSpec ``votable``, the
  ObsCore export);
- ``stilts tpipe`` reading the getSpec ``fits``/``votable`` answers as TOPCAT loads them: same
  rows, same values, same units.

STILTS comes from Debian's ``stilts`` package (``make test`` installs it where it can: see
``.ci/sysdeps``); without it these tests skip, saying so."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
STILTS = shutil.which("stilts")
pytestmark = pytest.mark.skipif(STILTS is None, reason="STILTS (Debian package 'stilts', TOPCAT's engine) "
                                                       "is not installed: .ci/sysdeps installs it")

from starlette.testclient import TestClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _serve_store  # noqa: E402

T1901 = 232.5447, 48.690201


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from sfng.serve.app import build
    from sfng.serve.tokens import add_token

    info = _serve_store.build(tmp_path_factory.mktemp("stilts"), nwave=48)
    store = info["store"]
    info["tokens"]["read+download"] = add_token(store.root, "t-rd", ["read", "download"])[0]
    app = build(store.root, store.index_path, store.root)
    info["http"] = TestClient(app)
    info["work"] = tmp_path_factory.mktemp("stilts-out")
    with _serve_store.live_server(app) as url:
        info["url"] = url
        yield info


def H(info, scope="read"):
    return {"X-DL-AuthToken": info["tokens"][scope]}


def stilts(*args, token=None, timeout=240) -> subprocess.CompletedProcess:
    """STILTS, with Basic authentication as TOPCAT would send it, and no proxy."""
    cmd = [STILTS]
    if token is not None:
        cmd[1:1] = [f"-Dstar.basicauth.user=topcat", f"-Dstar.basicauth.password={token}"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "JAVA_TOOL_OPTIONS": "-Djava.net.useSystemProxies=false"}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def _problems(out: str) -> list:
    """The errors and warnings of a lint report: datalinklint's ``E-``/``W-``/``F-`` codes,
    votlint's ``ERROR``/``WARNING`` lines -- all but "Empty character value is questionable",
    which is how a null text cell is written (VOTable 1.3 section 6: an empty TD)."""
    bad = []
    for ln in out.splitlines():
        if ln.startswith(("E-", "W-", "F-")) or ln.startswith(("ERROR", "WARNING")):
            if "Empty character value is questionable" not in ln:
                bad.append(ln)
    return bad


def _files(live) -> dict:
    files = live["http"].get("/files", headers=H(live)).json()
    return {f["survey"] + ("-127" if "12703" in f["name"] else ""): f for f in files}


def test_datalinklint_passes_the_services_datalink_over_http(live):
    files = _files(live)
    for key in ("MANGA", "THINGS", "SINGS"):
        url = f"{live['url']}/datalink?ID={files[key]['file_id']}"
        r = stilts("datalinklint", f"votable={url}", token=live["tokens"]["read+download"])
        report = r.stdout + r.stderr
        assert r.returncode == 0, report
        assert not _problems(report), f"{key}: {report}"
        # datalinklint really read the document and the links in it
        assert "Datalink table rows checked: 3" in report and "service soda invocation" in report, report


def test_datalink_without_a_token_is_refused_to_topcat_too(live):
    fid = _files(live)["MANGA"]["file_id"]
    r = stilts("datalinklint", f"votable={live['url']}/datalink?ID={fid}", token="not-a-token")
    report = r.stdout + r.stderr
    assert "failed 401" in report and _problems(report), report


def _votlint(path: Path) -> str:
    r = stilts("votlint", f"votable={path}")
    report = r.stdout + r.stderr
    assert r.returncode == 0, report
    return report


def test_votlint_finds_nothing_wrong_with_the_votables_we_write(live, tmp_path, cli):
    http = live["http"]
    files = _files(live)
    out = live["work"]
    docs = {}
    docs["datalink"] = http.get("/datalink", params={"ID": files["MANGA"]["file_id"]}, headers=H(live)).content
    ids = http.get("/query", params={"ra": T1901[0], "dec": T1901[1], "size": 1.2 / 3600}, headers=H(live)).json()
    docs["getspec"] = http.post("/getSpec", json={"id_list": ids[:3], "fmt": "votable"}, headers=H(live)).content
    docs["getspec-aligned"] = http.post("/getSpec", json={"id_list": ids[:3], "fmt": "votable", "align": True},
                                        headers=H(live)).content
    docs["datalink-error"] = http.get("/datalink", headers=H(live)).content
    for name, raw in docs.items():
        p = out / f"{name}.vot"
        p.write_bytes(raw)
        report = _votlint(p)
        assert not _problems(report), f"{name}: {report}"
    obscore = tmp_path / "obscore.vot"
    r = cli("find", "--store", str(live["store"].root), "--survey", "MANGA", "--export-obscore", str(obscore),
            "--base-url", live["url"])
    assert r.exit_code == 0, r.output
    report = _votlint(obscore)
    assert not _problems(report), report


def _tpipe_rows(path: Path, fmt: str) -> list:
    r = stilts("tpipe", f"in={path}", f"ifmt={fmt}", "omode=out", "ofmt=csv", "cmd=keepcols 'id npix'")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()


def test_topcats_readers_load_getspec_answers_as_we_wrote_them(live):
    http = live["http"]
    ids = http.get("/query", params={"ra": T1901[0], "dec": T1901[1], "size": 1.2 / 3600}, headers=H(live)).json()[:4]
    ref = np.load(io.BytesIO(http.post("/getSpec", json={"id_list": ids, "fmt": "npy"}, headers=H(live)).content))
    for fmt, stil in (("fits", "fits"), ("votable", "votable")):
        p = live["work"] / f"spec.{fmt}"
        p.write_bytes(http.post("/getSpec", json={"id_list": ids, "fmt": fmt}, headers=H(live)).content)
        rows = _tpipe_rows(p, stil)
        assert rows[0].replace('"', "") == "id,npix"
        assert [ln.split(",")[0].strip('"') for ln in rows[1:]] == ids
        assert [int(ln.split(",")[1]) for ln in rows[1:]] == [int(n) for n in ref["npix"]]
        # the flux of the first spectrum, element by element, and the units TOPCAT shows
        r = stilts("tpipe", f"in={p}", f"ifmt={stil}", "omode=out", "ofmt=csv",
                   "cmd=head 1", "cmd=keepcols flux")
        assert r.returncode == 0, r.stderr
        got = np.array([float(v) for v in r.stdout.strip().splitlines()[1].strip('"()').split(",")])
        np.testing.assert_allclose(got, ref["flux"][0].astype(float), rtol=1e-6)
        r = stilts("tpipe", f"in={p}", f"ifmt={stil}", "omode=meta")
        assert r.returncode == 0, r.stderr
        assert "Angstrom" in r.stdout, r.stdout
