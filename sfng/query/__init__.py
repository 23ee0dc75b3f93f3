"""Queries over ``SFNG-INDEX.fits``: load the index, apply a :class:`~sfng.select.Selection`,
galaxy sets (has/lacks), ``info`` on one galaxy, the galaxy x tracer ``summary``, plots.

Everything works from the index file alone (a user who downloaded only ``SFNG-INDEX.fits``)
as well as inside a store.  The FILES table is memory-mapped in its on-disk layout
(:func:`sfng.index.io.open_records`), so a query reads only the bytes of the columns it tests
and only numpy is imported on the way; astropy is loaded only for output formats, unit
conversions and region tests that need it.

Modules, each importing only those above it:

- :mod:`~sfng.query.values`: values read from the index as plain Python (``finite``, ``plain``,
  ``single``, ``strip_text``).
- :mod:`~sfng.query.textmatch`: text columns compared as integer words in the memory map, and
  hashed per row.
- :mod:`~sfng.query.index`: :class:`Index` (an opened index: columns, galaxy and tracer names,
  virtual columns) and :func:`load_index`.
- :mod:`~sfng.query.result`: :class:`Result`, the rows a selection picked.
- :mod:`~sfng.query.selecting`: :func:`select`, :func:`galaxy_set`, :func:`covering_rows`,
  :func:`find`.
- :mod:`~sfng.query.galaxy`: :func:`info`, everything on one galaxy.
- :mod:`~sfng.query.plots`: :func:`plot_footprints`, :func:`plot_sky` (matplotlib, an optional extra).
- :mod:`~sfng.query.coverage`: :class:`Summary` and :func:`summary`, the coverage matrix.
- :mod:`~sfng.query.use_cases`: the specification's three use cases as selections.
"""

from .coverage import Summary, summary
from .galaxy import info
from .index import VIRTUAL, Index, load_index
from .plots import plot_footprints, plot_sky
from .result import DEFAULT_COLUMNS, GALAXY_COLUMNS, Result
from .selecting import covering_rows, find, galaxy_set, select
from .use_cases import USE_CASES, use_case
from .values import finite

__all__ = [
    "DEFAULT_COLUMNS", "GALAXY_COLUMNS", "USE_CASES", "VIRTUAL",
    "Index", "Result", "Summary",
    "covering_rows", "find", "finite", "galaxy_set", "info", "load_index", "plot_footprints", "plot_sky",
    "select", "summary", "use_case",
]
