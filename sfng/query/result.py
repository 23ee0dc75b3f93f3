"""The rows a selection picked (:class:`Result`): columns, records, sorting, the galaxy list, tables."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SfngError
from ..select import Selection
from .index import VIRTUAL, VIRTUAL_DESCRIPTIONS, Index
from .textmatch import row_hash
from .values import finite, plain, strip_text

#: Default columns of the text table.
DEFAULT_COLUMNS = ["galaxy", "tracer", "survey", "res", "depth_k", "dist", "path"]
#: Default columns when listing galaxies.
GALAXY_COLUMNS = ["galaxy", "dist", "n_files", "tracers"]


@dataclass
class Result:
    """The rows a selection picked.

    Attributes
    ----------
    index : Index
    rows : numpy int array
        FILES row numbers, in index order (or sorted by :meth:`sort`).
    galaxies : list of str or None
        For a galaxy-set query (--has/--lacks): the galaxies, sorted.
    notes : list of str
        Things the user should know (e.g. rows left out because a value is unknown).
    sorted : bool
        True once :meth:`sort` ordered the rows; :meth:`galaxy_rows` then lists the galaxies
        in the order of their first file (``--galaxies --sort dist``), else by name.
    """

    index: Index
    rows: np.ndarray
    selection: Selection
    galaxies: list | None = None
    notes: list = field(default_factory=list)
    sorted: bool = False

    def __getattribute__(self, name):
        # ``rows`` may be deferred (a callable): a galaxy-set answer printed as names never
        # needs the galaxies' files, and finding them costs a pass over the whole table.
        value = object.__getattribute__(self, name)
        if name == "rows" and callable(value):
            value = value()
            object.__setattr__(self, "rows", value)
        return value

    def __len__(self):
        return len(self.rows)

    def column(self, name: str):
        """Values of a real or virtual column for the selected rows (text decoded)."""
        if name in VIRTUAL:
            return self.index.values(name, self.rows, self.selection.depth_chan_kms
                                     if self.selection.depth_chan else 1.0)[0]
        if name == "tracers":
            raise SfngError("'tracers' is a column of the galaxy list (--galaxies)")
        kind = self.index.files.dtype[name].kind if name in self.index.files.dtype.names else None
        if kind is None:
            known = ", ".join(list(self.index.columns) + list(VIRTUAL))
            raise SfngError(f"unknown column {name!r}; known: {known}")
        if kind == "S" or kind == "U":
            return self.index.text(name, self.rows)
        return np.asarray(self.index.raw(name, self.rows))

    def paths(self) -> list[str]:
        """Store-relative paths of the selected files (as the index keeps them)."""
        return [str(p) for p in self.column("path")]

    def abspaths(self) -> list:
        """Absolute paths (:class:`pathlib.Path`): under the store's root, or, for an index
        read outside a store, beside the index file (where a release unpacks its data)."""
        from pathlib import Path

        root = self.index.store.root if self.index.store is not None else Path(self.index.path).resolve().parent
        return [Path(root) / p for p in self.paths()]

    def open(self, i: int = 0, **kw):
        """The ``i``-th selected file opened with astropy (``fits.open``; ``kw`` passed on):
        ``with result.open(0) as hdul: ...``."""
        from astropy.io import fits

        paths = self.abspaths()
        if not paths:
            raise SfngError("the selection is empty: no file to open")
        return fits.open(paths[i], **kw)

    def unit(self, column: str) -> str:
        """The unit of a real or virtual column ('' when it has none)."""
        return VIRTUAL.get(column) or self.index.units.get(column) or ""

    def _repr_html_(self, limit: int = 20) -> str:
        """The first ``limit`` rows as an HTML table for notebooks: units in the header, every
        float as written, positions to 1e-6 degree, text escaped."""
        from html import escape

        from .values import html_cell

        cols = DEFAULT_COLUMNS
        head = "".join(f"<th>{escape(c)}" + (f" ({escape(self.unit(c))})" if self.unit(c) else "") + "</th>"
                       for c in cols)
        body = []
        for rec in replace(self, rows=self.rows[:limit]).records(cols):   # only the rows shown are read
            body.append("<tr>" + "".join(f"<td>{html_cell(rec[c], c)}</td>" for c in cols) + "</tr>")
        more = (f"<p>{len(self) - limit} more rows (of {len(self)}); <code>result.to_table()</code> "
                f"has them all</p>" if len(self) > limit else f"<p>{len(self)} file(s)</p>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"

    def records(self, columns=None) -> list[dict]:
        columns = columns or DEFAULT_COLUMNS
        cols = {c: self.column(c) for c in columns}
        out = []
        for i in range(len(self.rows)):
            row = {}
            for c in columns:
                row[c] = plain(cols[c][i])
            out.append(row)
        return out

    def sort(self, keys) -> "Result":
        """Sort rows by columns (``-name`` descending); unknown values last."""
        if not keys or not len(self.rows):
            return self
        order = np.arange(len(self.rows))
        for key in reversed(list(keys)):
            desc = key.startswith("-")
            name = key.lstrip("-+")
            vals = self.column(name)[order]
            if vals.dtype.kind in "fiub":
                v = vals.astype(float)
                nan = ~np.isfinite(v)
                v = np.where(nan, np.inf, -v if desc else v)
                o = np.argsort(v, kind="stable")
            else:
                o = np.argsort(vals, kind="stable")
                if desc:
                    o = o[::-1]
            order = order[o]
        self.rows = self.rows[order]
        self.sorted = True
        return self

    def galaxy_rows(self) -> list[dict]:
        """One row per galaxy of the result: name, distance, number of files, tracers."""
        gal = np.asarray(self.index.raw("galaxy", self.rows))
        tr = np.asarray(self.index.raw("tracer", self.rows))
        count: dict = {}
        tracers: dict = {}
        first_row: dict = {}
        if len(gal):
            # Group by a hash of the name in numpy: no Python loop over the rows.
            gh = row_hash(self.index.byte_words("galaxy", self.rows))
            ug, first, inv, n = np.unique(gh, return_index=True, return_inverse=True, return_counts=True)
            if not np.array_equal(gal, gal[first][inv.reshape(-1)]):
                # Two names with one hash (never seen; 2**-64 per pair): group exactly instead.
                codes = {v: i for i, v in enumerate(dict.fromkeys(gal.tolist()))}
                gh = np.fromiter((codes[v] for v in gal.tolist()), dtype=np.uint64, count=len(gal))
                ug, first, n = np.unique(gh, return_index=True, return_counts=True)
            name_of = {h: strip_text(gal[i]) for h, i in zip(ug.tolist(), first.tolist())}
            count = {name_of[h]: k for h, k in zip(ug.tolist(), n.tolist())}
            first_row = {name_of[h]: i for h, i in zip(ug.tolist(), first.tolist())}
            for t in np.unique(tr).tolist():
                label = strip_text(t)
                if label:
                    for h in np.unique(gh[tr == t]).tolist():
                        tracers.setdefault(name_of[h], set()).add(label)
        names = self.galaxies if self.galaxies is not None else sorted(n for n in count if n)
        if self.sorted:
            names = sorted(names, key=lambda g: first_row.get(g, len(gal)))
        dist = {r["name"]: r.get("dist") for r in self.index.galaxy_table()}
        out = []
        for n in names:
            d = dist.get(n)
            out.append({"galaxy": n, "dist": None if not finite(d) else float(plain(np.float32(d))),
                        "n_files": count.get(n, 0), "tracers": ",".join(sorted(tracers.get(n, ())))})
        return out

    def to_table(self, columns=None):
        """An astropy Table of the selected rows: units, descriptions (the schema's) and IVOA
        UCDs (``col.meta['ucd']``, which astropy's VOTable writer puts on the FIELD) attached."""
        from astropy.table import Table

        from ..index.schema import FILES_COLUMNS, UCDS

        about = {c.name: c.description for c in FILES_COLUMNS}
        about.update(VIRTUAL_DESCRIPTIONS)
        columns = columns or DEFAULT_COLUMNS
        t = Table()
        for c in columns:
            vals = self.column(c)
            if vals.dtype.kind == "b" or c == "valid":
                vals = vals.astype(bool)
            t[c] = vals
            unit = self.unit(c)
            if unit:
                t[c].unit = unit
            if about.get(c):
                t[c].description = about[c]
            if UCDS.get(c):
                t[c].meta["ucd"] = UCDS[c]
        return t
