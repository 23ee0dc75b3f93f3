"""``sfng summary``: the galaxy x tracer coverage matrix (best resolution per cell) and its heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..select import Selection
from .index import Index
from .plots import pyplot
from .selecting import select
from .values import single


@dataclass
class Summary:
    """The galaxy x tracer coverage matrix: best (smallest) resolution in arcsec per cell.

    ``res[i, j]`` is NaN when galaxy ``i`` has files of tracer ``j`` but none with a known
    resolution, and ``count[i, j]`` is 0 when it has none at all.
    """

    galaxies: list
    tracers: list
    res: np.ndarray
    count: np.ndarray

    def rows(self) -> list[dict]:
        out = []
        for i, g in enumerate(self.galaxies):
            row = {"galaxy": g}
            for j, t in enumerate(self.tracers):
                row[t] = None if self.count[i, j] == 0 else (
                    single(self.res[i, j]) if np.isfinite(self.res[i, j]) else "?")
            out.append(row)
        return out

    def as_dict(self):
        return {"galaxies": self.galaxies, "tracers": self.tracers,
                "best_res_arcsec": [[None if not np.isfinite(v) else single(v) for v in r] for r in self.res],
                "n_files": self.count.tolist()}

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["galaxy", *self.tracers])
        for row in self.rows():
            w.writerow([row["galaxy"], *("" if row[t] is None else
                                         (row[t] if isinstance(row[t], str) else f"{row[t]:.4g}")
                                         for t in self.tracers)])
        return buf.getvalue()

    def plot(self, path) -> Path:
        """A PNG heatmap (needs matplotlib: the ``plot`` extra)."""
        plt = pyplot()
        fig_w = max(5.0, 1.0 + 0.6 * len(self.tracers))
        fig_h = max(3.0, 1.0 + 0.35 * len(self.galaxies))
        fig, ax = plt.subplots(figsize=(fig_w, fig_h))
        data = np.ma.masked_invalid(np.where(self.count > 0, self.res, np.nan))
        im = ax.imshow(data, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(self.tracers)), self.tracers, rotation=45, ha="right")
        ax.set_yticks(range(len(self.galaxies)), self.galaxies)
        for i in range(len(self.galaxies)):
            for j in range(len(self.tracers)):
                if self.count[i, j]:
                    v = self.res[i, j]
                    ax.text(j, i, f"{v:.3g}" if np.isfinite(v) else "?", ha="center", va="center",
                            fontsize=7, color="w")
        fig.colorbar(im, ax=ax, label="best resolution (arcsec)")
        ax.set_title("SFNG coverage: best resolution per galaxy and tracer")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def summary(index: Index, selection: Selection | None = None) -> Summary:
    """The coverage matrix of the files a selection picks (all files by default)."""
    res = select(index, selection or Selection())
    gal = res.column("galaxy")
    tr = res.column("tracer")
    r = np.asarray(res.column("res"), dtype=float)
    keep = (gal != "") & (tr != "")
    gal, tr, r = gal[keep], tr[keep], r[keep]
    galaxies = sorted(set(gal))
    tracers = sorted(set(tr))
    gi = {g: i for i, g in enumerate(galaxies)}
    ti = {t: j for j, t in enumerate(tracers)}
    best = np.full((len(galaxies), len(tracers)), np.nan)
    count = np.zeros((len(galaxies), len(tracers)), dtype=int)
    for g, t, v in zip(gal, tr, r):
        i, j = gi[g], ti[t]
        count[i, j] += 1
        if np.isfinite(v) and not (best[i, j] <= v):
            best[i, j] = v
    return Summary(galaxies, tracers, best, count)
