"""``sfng serve``: a token-protected spectral and cube data service over a store or a release.

- :mod:`~sfng.serve.tokens`: access tokens, kept hashed in ``tables/tokens.json`` (no web
  framework needed: ``sfng token`` uses it alone).
- :mod:`~sfng.serve.ids`: stable, opaque spectrum and file ids.
- :mod:`~sfng.serve.resample`: flux-conserving resampling onto a common grid.
- :mod:`~sfng.serve.data`: the index as a catalogue, cubes and tables of spectra read once into a
  checksum-keyed cache.
- :mod:`~sfng.serve.spectable`: the spectra of a FITS BINTABLE (one per row, or one per table
  with a row per pixel), with units and ICRS positions.
- :mod:`~sfng.serve.service`: queries, spectra (whole, or as a stream of chunks) and pictures,
  without HTTP.
- :mod:`~sfng.serve.wire`: the getSpec formats (npz, npy, fits, ecsv, votable), written chunk by
  chunk.
- :mod:`~sfng.serve.cutout`: SODA cutouts of FITS images and cubes, without HTTP.
- :mod:`~sfng.serve.app`: the Starlette app (the ``serve`` extra); :mod:`~sfng.serve.vo` the
  IVOA DataLink and SODA endpoints beside it.
- :mod:`~sfng.serve.run`: starting uvicorn (``sfng serve``).
"""
