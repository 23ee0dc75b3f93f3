"""SFNG-INDEX.fits: the FITS index of the store's ``data/`` and ``derived/`` trees.

* :mod:`.schema` -- the one declared column list (FILES and GALAXIES), ``SCHEMA_VERSION``;
* :mod:`.describe` -- one file -> its row(s);
* :mod:`.build` -- the crawler (incremental, parallel, Dask, atomic, locked);
* :mod:`.io` -- the streaming writer and :func:`read_index`;
* :mod:`.stats` -- counts and one file's rows.
"""

from .schema import FILES_COLUMNS, GALAXIES_COLUMNS, SCHEMA_VERSION  # noqa: F401


def build_index(*args, **kwargs):
    """See :func:`sfng.index.build.build_index`."""
    from .build import build_index as _build

    return _build(*args, **kwargs)


def read_index(*args, **kwargs):
    """See :func:`sfng.index.io.read_index`."""
    from .io import read_index as _read

    return _read(*args, **kwargs)
