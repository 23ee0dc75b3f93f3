"""The all-sky map (`sfng summary --sky`, the site's store page): files at their ICRS positions
on a Mollweide WCSAxes grid, RA increasing to the left, one marker set per survey, written
atomically and never over an existing file."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from _demo_store import demo_tree


def test_markers_sit_at_the_files_positions_ra_to_the_left(tmp_path_factory):
    from sfng.query import load_index, select
    from sfng.query.plots import pyplot, sky_figure
    from sfng.select import Selection
    from sfng.store import Store

    tree = demo_tree(tmp_path_factory)
    idx = load_index(store=Store.open(tree.store_dir))
    fig, ax = sky_figure(idx, Selection.build(surveys=("THINGS",)))
    try:
        # every THINGS file centre, as the index has it, is among the markers' world positions
        res = select(idx, Selection.build(surveys=("THINGS",)))
        want = {(round(float(a), 4), round(float(b), 4))
                for a, b in zip(idx.numbers("ra", res.rows), idx.numbers("dec", res.rows))}
        drawn = set()
        for coll in ax.collections:
            off = coll.get_offsets()
            if len(off) and len(off) < 700:           # the Galactic plane has 721 points
                drawn |= {(round(float(a), 4), round(float(b), 4)) for a, b in off}
        assert want and want <= drawn
        # the grid is ICRS Mollweide with RA increasing to the left (east left, as on the sky)
        assert list(ax.wcs.wcs.ctype) == ["RA---MOL", "DEC--MOL"]
        x0, _ = ax.wcs.world_to_pixel_values(0.0, 0.0)
        x6, _ = ax.wcs.world_to_pixel_values(90.0, 0.0)
        assert x6 < x0
        # the whole sky fits the frame: the map's edge (RA 180 +- 1e-6) at the frame's edge
        xl, _ = ax.wcs.world_to_pixel_values(180.0 - 1e-6, 0.0)
        assert xl == pytest.approx(-0.5, abs=1e-3) and ax.get_xlim() == pytest.approx((-0.5, 719.5))
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == [f"THINGS: {len(res)} file(s)", "Galactic plane"]
    finally:
        pyplot().close(fig)


def test_summary_sky_writes_a_png_once(tmp_path_factory, cli, tmp_path):
    tree = demo_tree(tmp_path_factory)
    out = tmp_path / "sky.png"
    r = cli("--store", tree.store_dir, "summary", "--line", "HI", "--sky", out)
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 600 and np.std(img[..., :3]) > 0.02   # not blank
    r = cli("--store", tree.store_dir, "summary", "--sky", out)
    assert r.exit_code == 1 and "exists" in r.output and out.read_bytes() == data
    r = cli("--store", tree.store_dir, "summary", "--sky", tmp_path / "sky.txt")
    assert r.exit_code == 1 and ".png" in r.output
    assert not list(tmp_path.glob(".*tmp*"))          # no temporary left behind
