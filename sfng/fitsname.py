"""What counts as a FITS file name: one rule for ingest, validation and the index.

The rule, as data (:data:`FITS_SUFFIXES`), compared case-insensitively:

* a FITS extension, ``.fits``, ``.fit`` or ``.fts`` (:data:`FITS_EXTENSIONS`),
* optionally followed by a compression suffix (:data:`COMPRESSION_SUFFIXES`):
  ``.gz`` (the whole file gzipped) or ``.fz`` (tile-compressed images, the FITS tiled image
  convention that ``fpack`` writes as ``name.fits.fz``),
* or a bare ``.fz``: ``fpack`` appends ``.fz`` to whatever it compresses, so ``name.fz`` exists
  in the wild;
* after a non-empty stem: ``.fits`` alone (a hidden file) is not a FITS name.

So ``NGC_628.co21.fits``, ``x.FIT.GZ``, ``x.fts``, ``x.fits.fz`` and ``x.fz`` are FITS names;
``x.fits.bz2``, ``x.fits.Z``, ``x.fits.zip``, ``x.hdf5`` and ``x.txt`` are not.  The name only
says what a file claims to be: the readers still check the content (``SIMPLE = T``), and a
gzip file is recognised by its magic bytes, not its name.

Every part of sfng that asks "is this a FITS file name?" asks this module, so what ingest lands
in ``data/`` as a FITS product is what the validator judges and the index lists.

This module imports nothing from sfng (it is a foundation every layer may use).
"""

from __future__ import annotations

#: FITS file extensions (lower case), without compression.
FITS_EXTENSIONS = (".fits", ".fit", ".fts")
#: What may follow a FITS extension: ``.gz`` (gzip, whole file) or ``.fz`` (tile compression).
COMPRESSION_SUFFIXES = (".gz", ".fz")
#: The tile-compression suffix (``fpack``): the data are in a BINTABLE with ``ZIMAGE = T``.
TILE_COMPRESSED_SUFFIX = ".fz"
#: Every suffix (lower case) that makes a name a FITS name, longest first: a FITS extension,
#: optionally compressed, or a bare ``.fz``.
FITS_SUFFIXES = tuple(sorted(
    {ext + comp for ext in FITS_EXTENSIONS for comp in ("", *COMPRESSION_SUFFIXES)}
    | {TILE_COMPRESSED_SUFFIX},
    key=lambda s: (-len(s), s)))


def fits_suffix(name: str) -> str | None:
    """The FITS suffix that ends ``name``, as written (``".FITS.gz"``), or None.

    The longest suffix of :data:`FITS_SUFFIXES` that leaves a non-empty stem: ``x.fits.fz``
    gives ``.fits.fz``; ``x.fz`` gives ``.fz``; ``.fits.fz`` (no stem before ``.fits``) gives
    ``.fz``; ``.fits`` gives None.
    """
    if not isinstance(name, str):
        return None
    low = name.lower()
    for suffix in FITS_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            return name[len(name) - len(suffix):]
    return None


def is_fits_name(name: str) -> bool:
    """True when ``name`` (a file name, not a path) is a FITS file name by the module's rule."""
    return fits_suffix(name) is not None


def fits_stem(name: str) -> str | None:
    """``name`` without its FITS suffix (case-insensitive), or None if it is not a FITS name.

    ``ngc628_co21_noise.fits`` -> ``ngc628_co21_noise``; ``a.noise.FITS.GZ`` -> ``a.noise``;
    ``x.fits.fz`` -> ``x``; ``x.fz`` -> ``x``; ``a.fits.fits`` -> ``a.fits``.
    """
    suffix = fits_suffix(name)
    return None if suffix is None else name[: len(name) - len(suffix)]


def is_compressed_name(name: str) -> bool:
    """True for a tile-compressed FITS name (``.fz``: ``x.fits.fz``, ``x.fz``).

    Only tile compression: a ``.fits.gz`` is a gzipped file, read as a stream (its gzip is found
    by the magic bytes, whatever the name).
    """
    suffix = fits_suffix(name)
    return suffix is not None and suffix.lower().endswith(TILE_COMPRESSED_SUFFIX)


def is_gzip_name(name: str) -> bool:
    """True for a gzipped FITS name (``x.fits.gz``, ``x.fit.gz``, ``x.fts.gz``)."""
    suffix = fits_suffix(name)
    return suffix is not None and suffix.lower().endswith(".gz")
