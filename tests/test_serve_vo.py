"""The IVOA face of `sfng serve`: DataLink {links} and SODA sync cutouts, with pyvo's own DataLink
and SODA clients against a real uvicorn on 127.0.0.1, with raw HTTP, and the ObsCore export's
links into the service.  Cutouts are checked against the original files (astropy's Cutout2D for
the header's WCS, the pixels and channels recomputed here independently)."""

from __future__ import annotations

import io
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pyvo = pytest.importorskip("pyvo")
requests = pytest.importorskip("requests")

import astropy.units as u  # noqa: E402
from astropy.coordinates import SkyCoord  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.io.votable import parse as vo_parse  # noqa: E402
from astropy.wcs import WCS  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import _serve_store  # noqa: E402

T1901 = 232.5447, 48.690201
NGC628 = 24.173946, 15.783662


@pytest.fixture(autouse=True)
def _no_vocabulary_downloads(monkeypatch):
    """pyvo fetches the datalink/core vocabulary from ivoa.net for 'narrower' semantics: never here."""
    from pyvo.utils import vocabularies

    monkeypatch.setattr(vocabularies, "get_vocabulary", lambda *a, **k: {"terms": {}})


@pytest.fixture(scope="module")
def vo(tmp_path_factory):
    from sfng.serve.app import build
    from sfng.serve.tokens import add_token

    info = _serve_store.build(tmp_path_factory.mktemp("servevo"))
    store = info["store"]
    info["tokens"]["read+download"] = add_token(store.root, "t-rd", ["read", "download"])[0]
    app = build(store.root, store.index_path, store.root)
    info["app"], info["svc"] = app, app.state.service
    info["http"] = TestClient(app)
    files = info["http"].get("/files", headers=H(info)).json()
    info["files"] = {f["survey"] + ("-127" if "12703" in f["name"] else ""): f for f in files}
    return info


@pytest.fixture(scope="module")
def live(vo):
    """The same app under a real uvicorn on 127.0.0.1 (a thread of this process)."""
    with _serve_store.live_server(vo["app"]) as url:
        yield url


def H(info, scope="read"):
    return {"X-DL-AuthToken": info["tokens"][scope]}


def session(vo, scope="read+download"):
    s = requests.Session()
    s.trust_env = False                      # no proxy between us and 127.0.0.1
    s.headers["X-DL-AuthToken"] = vo["tokens"][scope]
    return s


def original(vo, key):
    return vo["store"].root / vo["svc"].catalog.entry(
        __import__("sfng.serve.ids", fromlist=["decode"]).decode(vo["files"][key]["file_id"])[1]).path


def cut(vo, key, **params):
    r = vo["http"].get("/soda/sync", params=dict(ID=vo["files"][key]["file_id"], **params), headers=H(vo))
    return r


# ------------------------------------------------------------------------------- DataLink

def test_datalink_links_through_pyvo(vo, live):
    from pyvo.dal.adhoc import SODA_SYNC_IVOID, DatalinkResults

    s = session(vo)
    fid = vo["files"]["MANGA"]["file_id"]
    dl = DatalinkResults.from_result_url(f"{live}/datalink?ID={fid}", session=s)
    sem = {r.semantics: r for r in dl}
    assert set(sem) == {"#this", "#preview", "#cutout"}
    this = sem["#this"]
    assert this.access_url == f"{live}/files/{fid}" and this.content_type == "application/fits"
    assert this.content_length == vo["files"]["MANGA"]["size"]
    assert next(dl.bysemantics("#this", include_narrower=False)).id == fid
    # #this downloads the file (download scope), byte for byte
    got = s.get(this.access_url)
    assert got.status_code == 200 and got.content == original(vo, "MANGA").read_bytes()
    png = s.get(sem["#preview"].access_url)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # the SODA descriptor: standardID, accessURL, ID from the links' ID column, limits
    soda = dl.get_adhocservice_by_ivoid(SODA_SYNC_IVOID)
    params = {p.name: p for p in soda.params}
    assert params["accessURL"].value == f"{live}/soda/sync"
    assert sem["#cutout"].service_def == "soda"
    names = {p.name for p in sem["#cutout"].input_params}
    assert {"ID", "CIRCLE", "POLYGON", "BAND"} <= names


def test_soda_cutout_through_pyvo_matches_the_cube(vo, live):
    from pyvo.dal.adhoc import DatalinkResults

    s = session(vo)
    fid = vo["files"]["MANGA"]["file_id"]
    dl = DatalinkResults.from_result_url(f"{live}/datalink?ID={fid}", session=s)
    rec = next(dl.bysemantics("#cutout", include_narrower=False))
    # processed() makes its SodaQuery without the record's session: hand it the one with the token
    stream = rec.processed(circle=[T1901[0], T1901[1], 2.0 / 3600] * u.deg, band=[6500, 7200] * u.AA, session=s)
    data = stream.read()
    with fits.open(io.BytesIO(data)) as got, fits.open(original(vo, "MANGA")) as orig:
        assert got[1].name == "FLUX" and got[0].header.get("MANGAID") == orig[0].header.get("MANGAID")
        # independently: the spaxels whose centres are within 2", the channels overlapping the band
        w = WCS(orig["FLUX"].header).celestial
        ny, nx = orig["FLUX"].data.shape[1:]
        yy, xx = np.mgrid[0:ny, 0:nx]
        c = w.pixel_to_world(xx.ravel(), yy.ravel())
        inside = (c.separation(SkyCoord(*T1901, unit="deg")).arcsec <= 2.0).reshape(ny, nx)
        ys, xs = np.nonzero(inside)
        wave = orig["WAVE"].data
        lg = np.log10(wave)
        e = 10 ** np.concatenate([[lg[0] - (lg[1] - lg[0]) / 2], (lg[1:] + lg[:-1]) / 2,
                                  [lg[-1] + (lg[-1] - lg[-2]) / 2]])
        chans = np.nonzero((e[1:] >= 6500) & (e[:-1] <= 7200))[0]
        sl = (slice(chans[0], chans[-1] + 1), slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        for ext in ("FLUX", "IVAR", "MASK"):
            np.testing.assert_array_equal(got[ext].data, orig[ext].data[sl])
        np.testing.assert_array_equal(got["WAVE"].data, wave[sl[0]])
        np.testing.assert_array_equal(got["GIMG"].data, orig["GIMG"].data[sl[1:]])
        # the header's WCS: every pixel of the cutout is where it was in the cube
        wc, wo = WCS(got["FLUX"].header), WCS(orig["FLUX"].header)
        a = wc.pixel_to_world_values(0, 0, 0)
        b = wo.pixel_to_world_values(sl[2].start, sl[1].start, sl[0].start)
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert got["FLUX"].header["ORIGSEC"] == (f"[{sl[2].start + 1}:{sl[2].stop},{sl[1].start + 1}:{sl[1].stop},"
                                                 f"{sl[0].start + 1}:{sl[0].stop}]")
        assert got["FLUX"].header["ORIGSHA"] == vo["files"]["MANGA"]["sha256"]
        assert got["FLUX"].verify_checksum() == 1 and got["FLUX"].verify_datasum() == 1


def test_image_cutout_is_cutout2d(vo):
    from astropy.nddata import Cutout2D

    r = cut(vo, "SINGS", CIRCLE=f"{NGC628[0]} {NGC628[1]} {10 / 3600}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/fits"
    with fits.open(io.BytesIO(r.content)) as got, fits.open(original(vo, "SINGS")) as orig:
        assert len(got) == 1 and got[0].header["BUNIT"] == orig[0].header["BUNIT"]
        w = WCS(orig[0].header)
        (x0, x1), (y0, y1) = _section(got[0].header)
        ref = Cutout2D(orig[0].data, ((x0 - 1 + x1 - 1) / 2, (y0 - 1 + y1 - 1) / 2), (y1 - y0 + 1, x1 - x0 + 1),
                       wcs=w, mode="strict")
        np.testing.assert_array_equal(got[0].data, ref.data)
        np.testing.assert_allclose(WCS(got[0].header).wcs.crpix, ref.wcs.wcs.crpix)
        # 1.5" pixels, a 10" circle: about 13-14 pixels across
        assert 12 <= got[0].data.shape[0] <= 15 and 12 <= got[0].data.shape[1] <= 15
    # BAND on an image: MIPS 24 micron overlaps 20-30 micron, not the optical
    assert cut(vo, "SINGS", CIRCLE=f"{NGC628[0]} {NGC628[1]} 0.003", BAND="2e-5 3e-5").status_code == 200
    assert cut(vo, "SINGS", CIRCLE=f"{NGC628[0]} {NGC628[1]} 0.003", BAND="6e-7 7e-7").status_code == 204


def _section(hdr):
    return [tuple(int(v) for v in s.split(":")) for s in hdr["ORIGSEC"].strip("[]").split(",")]


def test_polygon_and_range(vo):
    from shapely.geometry import Point, Polygon

    d = 5 / 3600
    verts = [(NGC628[0] - d, NGC628[1] - d), (NGC628[0] + d, NGC628[1] - d), (NGC628[0], NGC628[1] + d)]
    r = cut(vo, "SINGS", POLYGON=" ".join(f"{a!r} {b!r}" for a, b in verts))
    assert r.status_code == 200
    got = fits.open(io.BytesIO(r.content))[0]
    # independently: shapely on the tangent plane at the galaxy (a 10" triangle is flat enough)
    with fits.open(original(vo, "SINGS")) as orig:
        w = WCS(orig[0].header)
        ny, nx = orig[0].data.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        c = w.pixel_to_world(xx.ravel(), yy.ravel())
        cosd = np.cos(np.radians(NGC628[1]))
        tri = Polygon([((a - NGC628[0]) * cosd, b - NGC628[1]) for a, b in verts])
        inside = np.array([tri.contains(Point((ra - NGC628[0]) * cosd, de - NGC628[1]))
                           for ra, de in zip(c.ra.deg, c.dec.deg)]).reshape(ny, nx)
        ys, xs = np.nonzero(inside)
        assert _section(got.header) == [(xs.min() + 1, xs.max() + 1), (ys.min() + 1, ys.max() + 1)]
        np.testing.assert_array_equal(got.data, orig[0].data[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
    r = cut(vo, "SINGS", POS=f"RANGE {NGC628[0] - d} {NGC628[0] + d} {NGC628[1] - d} {NGC628[1] + d}")
    assert r.status_code == 200 and fits.open(io.BytesIO(r.content))[0].data.shape[0] in (6, 7)
    r = cut(vo, "SINGS", POS=f"CIRCLE {NGC628[0]} {NGC628[1]} {d}")
    assert r.status_code == 200


def test_line_cubes_cut_in_wavelength(vo):
    # HERACLES: a VRAD axis (m/s) at the CO(2-1) rest frequency; THINGS: FREQ and a Stokes axis
    f_co = 230.538e9
    c = 299792458.0
    for key, f0, v_lo, v_hi in (("HERACLES", f_co, 640e3, 660e3), ("THINGS", 1.420405752e9, 640e3, 660e3)):
        lam = sorted([c / (f0 * (1 - v_lo / c)), c / (f0 * (1 - v_hi / c))])   # radio convention
        r = cut(vo, key, CIRCLE=f"{NGC628[0]} {NGC628[1]} 0.01", BAND=f"{lam[0]!r} {lam[1]!r}")
        assert r.status_code == 200, r.text
        with fits.open(io.BytesIO(r.content)) as got, fits.open(original(vo, key)) as orig:
            data = got[0].data
            assert data.ndim == orig[0].data.ndim               # the Stokes axis kept
            wo, wc = WCS(orig[0].header), WCS(got[0].header)
            spec = wo.wcs.spec
            n = orig[0].header[f"NAXIS{spec + 1}"]
            pix = np.zeros((n, wo.naxis))
            pix[:, spec] = np.arange(n)
            world = wo.wcs_pix2world(pix, 0)[:, spec]
            step = abs(world[1] - world[0])
            if key == "HERACLES":
                vel = world
            else:
                vel = c * (1 - world / f0)
            keep = np.nonzero((vel + step * (c / f0 if key == "THINGS" else 1) / 2 >= v_lo)
                              & (vel - step * (c / f0 if key == "THINGS" else 1) / 2 <= v_hi))[0]
            assert data.shape[-3] == len(keep)
            px = np.zeros((1, wc.naxis))
            a = wc.wcs_pix2world(px, 0)[0]
            px2 = np.zeros((1, wo.naxis))
            sec = got[0].header["ORIGSEC"].strip("[]").split(",")
            for i, sct in enumerate(sec):
                px2[0, i] = int(sct.split(":")[0]) - 1
            np.testing.assert_allclose(a, wo.wcs_pix2world(px2, 0)[0], rtol=1e-12)
            assert int(sec[spec].split(":")[0]) - 1 == keep[0]
    # a band off the line: nothing
    assert cut(vo, "HERACLES", BAND="1e-3 1.1e-3").status_code == 204


def test_soda_errors_are_text(vo):
    http = vo["http"]
    fid = vo["files"]["SINGS"]["file_id"]

    def get(params, headers=None):
        return http.get("/soda/sync", params=params, headers=H(vo) if headers is None else headers)

    r = get({"CIRCLE": "1 2 3"})
    assert r.status_code == 400 and r.text.startswith("UsageError: ID") and r.headers["content-type"].startswith(
        "text/plain")
    for bad in ("1 2", "a b c", "1 95 1", "1 2 -1", "nan 1 1"):
        r = get({"ID": fid, "CIRCLE": bad})
        assert r.status_code == 400 and r.text.startswith("UsageError:"), bad
    assert get({"ID": fid, "POLYGON": "1 2 3 4"}).text.startswith("UsageError:")
    assert get({"ID": fid, "BAND": "7e-7 6e-7"}).text.startswith("UsageError:")
    assert get({"ID": fid, "POS": "BOX 1 2 3 4"}).text.startswith("UsageError:")
    assert get({"ID": fid, "CIRCLE": "1 2 0.1", "POLYGON": "1 2 3 4 5 6"}).text.startswith("UsageError:")
    assert get({"ID": fid, "TIME": "55000 56000"}).text.startswith("UsageError:")
    assert get({"ID": fid, "RESPONSEFORMAT": "image/png"}).text.startswith("UsageError:")
    r = http.get(f"/soda/sync?ID={fid}&CIRCLE=1+2+0.1&CIRCLE=3+4+0.1", headers=H(vo))
    assert r.status_code == 422 and r.text.startswith("MultiValuedParamNotSupported:")
    r = get({"ID": "AgAAAAAAAAAA", "CIRCLE": "1 2 0.1"})
    assert r.status_code == 404 and r.text.startswith("NotFoundError:")
    for hostile in ("ivo://sfng/x?../../../etc/passwd", "ivo://sfng/x?data/SINGS/nope.fits", "../etc/passwd",
                    "ivo://elsewhere/x?data/SINGS/ngc628_v7.phot.1.fits"):
        r = get({"ID": hostile, "CIRCLE": "1 2 0.1"})
        assert r.status_code in (400, 404) and r.text.split(":")[0] in ("UsageError", "NotFoundError"), hostile
    spec = http.get("/query", params={"ra": T1901[0], "dec": T1901[1], "size": 1 / 3600}, headers=H(vo)).json()[0]
    assert get({"ID": spec, "CIRCLE": "1 2 0.1"}).text.startswith("UsageError:")
    # no overlap: 204, no body
    r = get({"ID": fid, "CIRCLE": "180 -30 0.01"})
    assert r.status_code == 204 and r.content == b""
    # tokens: the SODA words, and Basic with the token as password (what TOPCAT and Aladin send)
    r = get({"ID": fid, "CIRCLE": "1 2 0.1"}, headers={})
    assert r.status_code == 401 and r.text.startswith("AuthenticationError:")
    assert any(v.startswith("Basic") for v in r.headers.get_list("www-authenticate"))
    r = get({"ID": fid, "CIRCLE": "1 2 0.1"}, headers=H(vo, "download"))
    assert r.status_code == 403 and r.text.startswith("AuthorizationError:")
    basic = httpx_basic("topcat", vo["tokens"]["read"])
    assert get({"ID": fid, "CIRCLE": f"{NGC628[0]} {NGC628[1]} 0.003"}, headers=basic).status_code == 200
    assert get({"ID": fid}, headers=httpx_basic("topcat", "wrong")).status_code == 401


def httpx_basic(user, password):
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_post_form_and_case_insensitive_names(vo):
    fid = vo["files"]["SINGS"]["file_id"]
    r = vo["http"].post("/soda/sync", data={"id": fid, "circle": f"{NGC628[0]} {NGC628[1]} 0.003"}, headers=H(vo))
    assert r.status_code == 200 and r.content[:6] == b"SIMPLE"
    r = vo["http"].post("/datalink", data={"ID": [fid, vo["files"]["THINGS"]["file_id"], "AgAAAAAAAAAA"]},
                        headers=H(vo))
    assert r.status_code == 200
    t = vo_parse(io.BytesIO(r.content)).get_first_table().to_table()
    assert list(t["ID"]).count(fid) == 3 and "NotFoundFault" in str(t["error_message"][-1])


def test_datalink_errors_and_authorization(vo):
    http = vo["http"]
    r = http.get("/datalink", headers=H(vo))
    assert r.status_code == 400
    v = vo_parse(io.BytesIO(r.content))
    assert any(i.name == "QUERY_STATUS" and i.value == "ERROR" for i in v.resources[0].infos)
    assert http.get("/datalink", params={"ID": "x"}).status_code == 401
    fid = vo["files"]["MANGA"]["file_id"]
    t = vo_parse(io.BytesIO(http.get("/datalink", params={"ID": fid}, headers=H(vo)).content)).get_first_table()
    t = t.to_table()
    this = list(t["semantics"]).index("#this")
    assert t["link_auth"][this] == "true" and not t["link_authorized"][this]       # read only: no download
    t = vo_parse(io.BytesIO(http.get("/datalink", params={"ID": fid}, headers=H(vo, "read+download")).content))
    assert t.get_first_table().to_table()["link_authorized"][this]
    assert http.get(f"/files/{fid}", headers=H(vo)).status_code == 403
    # the document is valid VOTable (astropy, strictly)
    vo_parse(io.BytesIO(http.get("/datalink", params={"ID": fid}, headers=H(vo)).content), verify="exception")


def test_publisher_did_and_obscore_export(vo, live, tmp_path, cli):
    """`sfng find --export-obscore --base-url` points every row at the service; pyvo follows the
    export's DataLink descriptor to each row's links, and its access_url downloads the file."""
    from pyvo.dal import TAPResults

    from sfng.obscore import service_file_id
    from sfng.serve import ids

    store = vo["store"]
    out = tmp_path / "o.xml"
    r = cli("find", "--store", store.root, "--survey", "MANGA", "--survey", "SINGS", "--export-obscore", out,
            "--base-url", live + "/")
    assert r.exit_code == 0, r.output
    vo_parse(str(out), verify="exception")            # valid VOTable, the descriptor included
    s = session(vo)
    res = TAPResults(vo_parse(str(out)), session=s)   # what an ObsTAP service would answer
    assert len(res) == 3
    tab = res.to_table()
    for row in tab:
        fid = str(row["access_url"]).rsplit("/", 1)[1]
        path = str(row["obs_publisher_did"]).split("?", 1)[1]
        e = vo["svc"].dataset(str(row["obs_publisher_did"]))
        assert ids.file_id(e.key) == fid == service_file_id(e.path, e.locator)
        assert path == e.path + e.locator
        assert str(row["access_format"]) == "image/fits"
        assert str(row["datalink_url"]) == f"{live}/datalink?ID=" + urllib.parse.quote(str(row["obs_publisher_did"]),
                                                                                      safe="")
    got = s.get(str(tab["access_url"][0]))
    assert got.status_code == 200 and got.headers["etag"].strip('"') in {f["sha256"] for f in vo["files"].values()}
    links = list(res.iter_datalinks())
    assert len(links) == 3
    for dl in links:
        this = next(dl.bysemantics("#this", include_narrower=False))
        assert this.access_url == str(dl.original_row["access_url"])
        assert {r.semantics for r in dl} == {"#this", "#preview", "#cutout"}
    # the SODA service through a DID
    sings = next(row for row in tab if row["obs_collection"] == "SINGS")
    r = vo["http"].get("/soda/sync", params={"ID": str(sings["obs_publisher_did"]),
                                             "CIRCLE": f"{NGC628[0]} {NGC628[1]} 0.003"}, headers=H(vo))
    assert r.status_code == 200


def test_cutout_limits(vo):
    from sfng.serve import cutout

    fid = vo["files"]["MANGA-127"]["file_id"]
    svc = vo["svc"]
    old = svc.limits["max_bytes"]
    svc.limits["max_bytes"] = 10000
    try:
        r = vo["http"].get("/soda/sync", params={"ID": fid}, headers=H(vo))
        assert r.status_code == 413 and r.text.startswith("UsageError:")
    finally:
        svc.limits["max_bytes"] = old
    # a circle across RA = 0 and one around the pole are cut as they lie on the sky
    reg = cutout.parse_circle("359.999 10 0.01")
    ra, dec = reg.boundary()
    assert (ra > 359).any() and (ra < 1).any() and reg.contains(0.001, 10.0)
    assert cutout.parse_circle("0 89.99 0.1").covers_a_pole
    box = cutout.parse_pos("RANGE 359 361 -1 1")
    assert box.contains(0.5, 0.0) and box.contains(359.5, 0.0) and not box.contains(180.0, 0.0)


def test_preview_of_an_image_and_a_cube(vo):
    for key in ("SINGS", "THINGS"):
        r = vo["http"].get("/preview", params={"id": vo["files"][key]["file_id"]}, headers=H(vo))
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG"


def test_vosi_capabilities_and_availability_through_pyvo(vo, live):
    from pyvo.io.vosi import parse_availability, parse_capabilities

    s = session(vo, "read")
    r = s.get(f"{live}/capabilities")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    caps = {c.standardid: c for c in parse_capabilities(io.BytesIO(r.content))}
    assert set(caps) == {"ivo://ivoa.net/std/VOSI#capabilities", "ivo://ivoa.net/std/VOSI#availability",
                         "ivo://ivoa.net/std/DataLink#links-1.1", "ivo://ivoa.net/std/SODA#sync-1.0"}
    soda = caps["ivo://ivoa.net/std/SODA#sync-1.0"].interfaces[0]
    assert soda.accessurls[0].content == f"{live}/soda/sync"
    assert {m.standardid for m in soda.securitymethods} == {"ivo://ivoa.net/sso#BasicAA", "ivo://ivoa.net/sso#token"}
    dl = caps["ivo://ivoa.net/std/DataLink#links-1.1"].interfaces[0].accessurls[0].content
    assert s.get(dl, params={"ID": vo["files"]["MANGA"]["file_id"]}).status_code == 200   # the URL works
    r = s.get(f"{live}/availability")
    assert r.status_code == 200 and parse_availability(io.BytesIO(r.content)).available is True
    # like every call but GET /, they need a token
    assert vo["http"].get("/capabilities").status_code == 401
