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
            # numbers only: no file and "files of unknown resolution" are both empty (the JSON
            # form's n_files tells them apart), never a '?' among the numbers
            w.writerow([row["galaxy"], *("" if row[t] is None or isinstance(row[t], str)
                                         else repr(float(row[t])) for t in self.tracers)])
        return buf.getvalue()

    def plot(self, path) -> Path:
        """A PNG heatmap (needs matplotlib: the ``plot`` extra)."""
        plt = pyplot()
        fig_w = max(5.0, 1.0 + 0.6 * len(self.tracers))
        fig_h = max(3.0, 1.0 + 0.35 * len(self.galaxies))
        fig, ax = plt.subplots(figsize=(fig_w, fig_h))
        data = np.ma.masked_invalid(np.where(self.count > 0, self.res, np.nan))
        cmap = plt.get_cmap("viridis_r").with_extremes(bad="white")
        im = ax.imshow(data, cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(self.tracers)), self.tracers, rotation=45, ha="right")
        ax.set_yticks(range(len(self.galaxies)), self.galaxies)
        from matplotlib.patches import Patch, Rectangle

        from .plots import contrast_colour

        unknown = False
        for i in range(len(self.galaxies)):
            for j in range(len(self.tracers)):
                if not self.count[i, j]:
                    continue
                v = self.res[i, j]
                if np.isfinite(v):
                    colour = contrast_colour(im.cmap(im.norm(v)))
                    ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color=colour)
                else:   # files, but none of known resolution: hatched grey, never like "no data"
                    unknown = True
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", edgecolor="0.45",
                                           hatch="///", lw=0))
                    ax.text(j, i, "?", ha="center", va="center", fontsize=8, color="black",
                            fontweight="bold")
        handles = [Patch(facecolor="white", edgecolor="0.5", label="no data")]
        if unknown:
            handles.append(Patch(facecolor="0.85", edgecolor="0.45", hatch="///", label="resolution unknown"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.1 - 0.011 * max(
            len(t) for t in self.tracers) if self.tracers else -0.12), fontsize=7, ncol=2, frameon=False)
        fig.colorbar(im, ax=ax, label="best resolution (arcsec)")
        ax.set_title("SFNG coverage: best resolution per galaxy and tracer")
        path = Path(path)
        fig.savefig(path, dpi=100, bbox_inches="tight")
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
