"""``sfng site build``: a static, browsable HTML view of a store (or of one release) made from
its index.

Pages (Jinja2 templates, package data under ``templates/``):

- ``index.html``: the store: surveys, galaxies, tracers, counts, the galaxy x tracer coverage
  matrix ("resolution unknown" drawn apart from "no data"), the coverage heatmap, releases;
- ``galaxies/<NAME>.html``: one per galaxy: its files with resolution, depth, channel width,
  units, size, a link to each file; its footprints on an RA/Dec grid with beams; quick-look
  PNGs (an image as it is, a cube's moment-0 map);
- ``surveys/<SURVEY>.html``: the survey's README and its files;
- ``releases/<NAME>.html``: a release's RELEASE.md and manifest.

Every link is a relative path (to the files of the store or release too), so the folder can be
opened from disk or published by any static web server.  No JavaScript is needed; a few lines
filter the galaxy list.  The site is built in a temporary folder next to the target and renamed
into place; quick-look images are cached by the file's sha256 (reused from the previous build).

Modules: :mod:`~sfng.site.quicklook` (PNG of a file's data), :mod:`~sfng.site.markup` (README
and RELEASE.md as HTML), :mod:`~sfng.site.build` (:func:`build_site`).
"""

from .build import SITE_MARKER, SiteReport, build_site

__all__ = ["SITE_MARKER", "SiteReport", "build_site"]
