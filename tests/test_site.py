"""``sfng site build``: the static HTML view of the demo store (pages, links, images, HTML)."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from _demo_store import demo_site
from click.testing import CliRunner

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PNG = b"\x89PNG\r\n\x1a\n"


class Checker(HTMLParser):
    """Every tag closed in order (void elements excepted), and every href/src collected."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.links, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.links.append(v)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1] if self.stack else None}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_page(path: Path) -> Checker:
    c = Checker()
    c.feed(path.read_text(encoding="utf-8"))
    c.close()
    assert not c.errors, (path, c.errors)
    assert not c.stack, (path, c.stack)
    return c


@pytest.fixture(scope="module")
def store_site(tmp_path_factory):
    return demo_site(tmp_path_factory, "site")


def _index(tree):
    from sfng.query import load_index
    from sfng.store import Store

    return load_index(store=Store.discover(tree.store_dir))


def test_pages_exist(store_site):
    tree, out = store_site
    idx = _index(tree)
    assert (out / "index.html").is_file() and (out / "style.css").is_file()
    assert (out / ".sfng-site").is_file()
    galaxies = {str(g) for g in idx.file_galaxies() if g}
    assert len(list((out / "galaxies").glob("*.html"))) >= len(galaxies)
    surveys = {s.decode() if isinstance(s, bytes) else str(s) for s in idx.distinct("survey")} - {""}
    assert {p.stem for p in (out / "surveys").glob("*.html")} == surveys
    assert not list(out.parent.glob(".site.tmp-*")), "the temporary folder is gone"


def test_every_page_well_formed_and_links_resolve(store_site):
    _, out = store_site
    pages = list(out.rglob("*.html"))
    assert len(pages) > 10
    n = 0
    for page in pages:
        c = check_page(page)
        for link in c.links:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, (page, link)   # relative only
            assert not link.startswith("/"), (page, link)
            if not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert os.path.exists(target), (page, link)
            n += 1
    assert n > 200


def test_galaxy_pages_list_the_index_files(store_site):
    tree, out = store_site
    idx = _index(tree)
    from sfng.naming import encode_galaxy

    gal = idx.text("galaxy")
    paths = idx.text("path")
    for g in sorted(set(gal) - {""}):
        page = out / "galaxies" / f"{encode_galaxy(g)}.html"
        c = check_page(page)
        resolved = {(page.parent / unquote(urlsplit(x).path)).resolve() for x in c.links}
        for p in paths[gal == g]:
            assert (tree.store_dir / p).resolve() in resolved, (g, p)
        assert g in "".join(c.text)


def test_images_are_png(store_site):
    _, out = store_site
    pngs = list((out / "img").rglob("*.png"))
    assert (out / "img" / "coverage.png") in pngs
    assert list((out / "img" / "foot").glob("*.png"))
    ql = list((out / "img" / "ql").glob("*.png"))
    assert len(ql) > 10
    for p in pngs:
        assert p.read_bytes()[:8] == PNG, p
    # a quick look of M51's cubes and images is on its page
    m51 = (out / "galaxies" / "MESSIER_051a.html").read_text(encoding="utf-8")
    assert "img/ql/" in m51 and "img/foot/" in m51


def test_coverage_matrix_marks_unknown_apart_from_no_data(store_site):
    tree, out = store_site
    from sfng.query import summary

    s = summary(_index(tree))
    html = (out / "index.html").read_text(encoding="utf-8")
    import numpy as np

    n_unknown = int(((s.count > 0) & ~np.isfinite(s.res)).sum())
    n_none = int((s.count == 0).sum())
    assert html.count('<td class="unknown"') == n_unknown
    assert html.count('<td class="none"') == n_none
    assert n_unknown > 0 and n_none > 0
    # readable labels: black on light cells, white on dark ones
    assert "color:black" in html and "color:white" in html


def test_rebuild_reuses_cache_and_replaces_atomically(store_site, tmp_path):
    tree, out = store_site
    from sfng.site import build_site

    idx = _index(tree)
    before = len(list((out / "img" / "ql").glob("*.png")))
    rep = build_site(idx, tree.store_dir, out)
    assert rep.images_cached == before and rep.images_cached > 0
    assert (out / "index.html").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".site.")]
    # a folder that is not a site is never replaced
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    from sfng.errors import SfngError

    with pytest.raises(SfngError, match="not a site"):
        build_site(idx, tree.store_dir, other, images=False)
    assert (other / "keep.txt").is_file()


def test_release_site(tmp_path):
    """--release NAME: the release's own index; links to the release's files, its RELEASE.md."""
    from sfng.cli import main
    from sfng.demo import STEPS, run_demo

    tree = run_demo(tmp_path / "demo", say=lambda m: None, steps=[s for s in STEPS if s[0] != "derive"])
    name = "demo-ic342-co10"
    rel = tree.store_dir / "release" / name
    assert (rel / "RELEASE.md").is_file()
    out = tmp_path / "rsite"
    r = CliRunner().invoke(main, ["--store", str(tree.store_dir), "site", "build", "--release", name,
                                  "--no-images", "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = out / "releases" / f"{name}.html"
    c = check_page(page)
    targets = {(page.parent / unquote(urlsplit(x).path)).resolve() for x in c.links if urlsplit(x).path}
    assert (rel / "RELEASE.md").resolve() in targets
    assert any(str(t).startswith(str(rel.resolve() / "data")) for t in targets)
    for p in out.rglob("*.html"):
        for link in check_page(p).links:
            if urlsplit(link).path:
                assert os.path.exists(p.parent / unquote(urlsplit(link).path)), (p, link)
    # the store's own site lists the release too
    out2 = tmp_path / "ssite"
    r = CliRunner().invoke(main, ["--store", str(tree.store_dir), "site", "build", "--no-images", "-o", str(out2)])
    assert r.exit_code == 0, r.output
    assert (out2 / "releases" / f"{name}.html").is_file()
    assert f"releases/{name}.html" in (out2 / "index.html").read_text(encoding="utf-8")
    r = CliRunner().invoke(main, ["--store", str(tree.store_dir), "site", "build", "--release", "nope",
                                  "-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and "no release" in r.output


def test_markdown_is_escaped():
    from sfng.site.markup import markdown

    html = markdown("# Title <x>\n\n- a `b<c>`\n- d\n\ntext & more\n")
    assert "<h2>Title &lt;x&gt;</h2>" in html
    assert "<li>a <code>b&lt;c&gt;</code></li>" in html and "<p>text &amp; more</p>" in html
    check = Checker()
    check.feed(html)
    assert not check.errors and not check.stack
