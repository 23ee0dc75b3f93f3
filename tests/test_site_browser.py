"""The demo store's site in a real headless browser: Debian's Chromium driven by Selenium
(chromedriver), the site served over HTTP on 127.0.0.1.

Every page is loaded: no console errors, every image decodes (``naturalWidth > 0``), every link
answers 200.  On the store page the key elements are on screen (title, counts, survey table,
galaxy list, coverage matrix and heatmap) and the screenshot holds them: each element's box in
the screenshot is not blank.  The offline search box filters the galaxy list as one types.

Chromium and chromedriver come from Debian's ``chromium`` and ``chromium-driver`` packages
(``.ci/sysdeps``, run by ``make test``); without them these tests skip, saying so."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from _demo_store import demo_site

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra; absent here")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="Debian's chromium and chromium-driver are not installed: .ci/sysdeps "
                                       "installs them")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tree, out = demo_site(tmp_path_factory, "browser")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    # The site links the store's files (and its index) relatively: serve the folder that holds
    # both, as a web server over a store's parent would.
    root = Path(os.path.commonpath([out.resolve(), Path(tree.store_dir).resolve()]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield out, f"http://127.0.0.1:{httpd.server_address[1]}/{out.resolve().relative_to(root).as_posix()}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,2000", "--no-proxy-server"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _console_errors(d) -> list:
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def _status(url: str) -> int:
    req = urllib.request.Request(url, method="HEAD")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=20) as r:
        return r.status


def test_every_page_loads_without_console_errors_images_decode_links_resolve(site, browser):
    out, base = site
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert len(pages) > 10
    checked_links, checked_images = set(), 0
    origin = "/".join(base.split("/")[:3])
    for rel in pages:
        browser.get(f"{base}/{rel}")
        errors = _console_errors(browser)
        assert not errors, (rel, errors)
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert not broken, (rel, broken)
        checked_images += browser.execute_script("return document.images.length")
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for href in links:
            url = href.split("#")[0]
            if not url.startswith(origin) or url in checked_links:
                continue
            try:
                code = _status(url)
            except urllib.error.HTTPError as exc:
                code = exc.code
            assert code == 200, (rel, href, code)
            checked_links.add(url)
    assert checked_images > 10 and len(checked_links) > 20
    assert any(u.endswith("SFNG-INDEX.fits") for u in checked_links)     # links into the store resolve too
    assert any("/data/" in u for u in checked_links)


def _screenshot(d) -> np.ndarray:
    from matplotlib.image import imread

    return imread(io.BytesIO(d.get_screenshot_as_png()), format="png")


def test_store_page_shows_its_key_elements_and_the_screenshot_holds_them(site, browser, tmp_path):
    out, base = site
    browser.get(f"{base}/index.html")
    key = {"title": "h1", "counts": "p.counts", "surveys": "h2#surveys + table", "galaxies": "#galaxy-list",
           "search": "#filter", "matrix": "table.matrix", "heatmap": "img.coverage"}
    shot = _screenshot(browser)
    (tmp_path / "store.png").write_bytes(browser.get_screenshot_as_png())
    if os.environ.get("SFNG_SITE_SCREENSHOT"):       # how docs/img/site.png is made
        Path(os.environ["SFNG_SITE_SCREENSHOT"]).write_bytes(browser.get_screenshot_as_png())
    ratio = browser.execute_script("return window.devicePixelRatio") or 1
    for name, css in key.items():
        el = browser.find_element("css selector", css)
        assert el.is_displayed(), name
        r = el.rect
        assert r["width"] > 10 and r["height"] > 10, (name, r)
        y0, x0 = int(r["y"] * ratio), int(r["x"] * ratio)
        if y0 >= shot.shape[0]:
            continue   # below the fold of the window: present, not in this screenshot
        box = shot[y0:int((r["y"] + r["height"]) * ratio), x0:int((r["x"] + r["width"]) * ratio), :3]
        assert box.size and float(box.std()) > 0.01, f"{name}: blank in the screenshot"
    assert "files" in browser.find_element("css selector", "p.counts").text


def test_search_box_filters_the_galaxy_list_offline(site, browser):
    out, base = site
    browser.get(f"{base}/index.html")
    rows = browser.find_elements("css selector", "#galaxy-list tbody tr")
    assert len(rows) >= 5
    box = browser.find_element("css selector", "#filter")
    box.send_keys("051")
    visible = [r.text for r in rows if r.is_displayed()]
    assert visible and all("051" in t or "M51" in t.upper() or "5194" in t for t in visible), visible
    assert len(visible) < len(rows)
    box.clear()
    box.send_keys("co(2-1)")
    co = [r for r in rows if r.is_displayed()]
    assert 0 < len(co) < len(rows)
    box.send_keys("\b" * 20)
    assert sum(r.is_displayed() for r in rows) == len(rows)
    assert not _console_errors(browser)
