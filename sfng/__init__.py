"""sfng: curation toolkit for the Star Formation in Nearby Galaxies data store.

The package is a library first; the ``sfng`` command line is a thin layer over it.
Heavy modules (astropy, fitsio, astroquery) are imported lazily inside the functions
that need them so that ``sfng find`` answers quickly.
"""

__version__ = "0.1.0"

#: Version of the store layout and of ``sfng.yaml``.
STORE_SCHEMA_VERSION = 1
