"""The polish that came with the site: plots (footprints on a sky grid, the heatmap's unknowns,
label contrast), ?-free summary CSV, load_index() finding the store from the current folder."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from _demo_store import demo_tree

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from sfng.query import load_index
    from sfng.store import Store

    return load_index(store=Store.discover(demo_tree(tmp_path_factory).store_dir))


def test_load_index_discovers_the_store_from_cwd(tmp_path_factory, monkeypatch):
    from sfng.errors import SfngError
    from sfng.query import load_index

    tree = demo_tree(tmp_path_factory)
    monkeypatch.delenv("SFNG_STORE", raising=False)
    monkeypatch.chdir(tree.store_dir / "data")
    idx = load_index()
    assert idx.store is not None and idx.store.root.resolve() == tree.store_dir.resolve()
    assert len(idx) > 0
    assert len(load_index(store=str(tree.store_dir))) == len(idx)   # a path as the store
    monkeypatch.chdir(tmp_path_factory.mktemp("nowhere"))
    with pytest.raises(SfngError, match="no index"):
        load_index()


def test_summary_csv_has_only_numbers(index):
    from sfng.query import summary

    s = summary(index)
    assert ((s.count > 0) & ~np.isfinite(s.res)).any(), "the demo has cells of unknown resolution"
    rows = list(csv.reader(io.StringIO(s.to_csv())))
    assert rows[0][0] == "galaxy"
    for row in rows[1:]:
        for cell in row[1:]:
            assert cell == "" or float(cell) == float(cell), row
    assert "?" not in s.to_csv()
    assert any(c == "6.2" for r in rows[1:] for c in r[1:])   # as written, not 6.2000000477


def test_contrast_colour():
    from sfng.query.plots import contrast_colour

    assert contrast_colour((1.0, 1.0, 0.0)) == "black"      # yellow: black labels
    assert contrast_colour((0.27, 0.0, 0.33)) == "white"    # viridis' dark purple: white
    assert contrast_colour((1.0, 1.0, 1.0)) == "black"


def test_coverage_heatmap(index, tmp_path):
    pytest.importorskip("matplotlib")
    from sfng.query import summary

    out = summary(index).plot(tmp_path / "c.png")
    assert out.read_bytes()[:8] == PNG


def test_footprints_on_a_sky_grid(index, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    from sfng.query import plot_footprints

    seen = {}
    real = matplotlib.figure.Figure.savefig

    def spy(fig, *a, **k):
        seen["fig"] = fig
        return real(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    out = plot_footprints(index, "M51", tmp_path / "m51.png")
    assert out.read_bytes()[:8] == PNG
    ax = seen["fig"].axes[0]
    assert type(ax).__name__ == "WCSAxes"                        # a real RA/Dec grid
    assert "RA" in ax.coords[0].get_axislabel() and "Dec" in ax.coords[1].get_axislabel()
    assert ax.wcs.wcs.cdelt[0] < 0                               # RA increases to the left
    leg = ax.get_legend()
    anchor = leg.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 > 1.0                                       # the legend is outside the axes
    from matplotlib.patches import Ellipse

    assert any(isinstance(p, Ellipse) for p in ax.patches)       # beams
    # identical footprints do not hide each other: a second one is drawn in another style
    styles = {ln.get_linestyle() for ln in ax.lines}
    assert len(styles) >= 2
