"""``sfng site build``: a static, browsable HTML view of the store or of one release."""

from __future__ import annotations

import click

from . import output
from .completion import releases
from .options import SelectionCommand, format_option, output_option, selection_options, store_path_option


@click.group()
def site():
    """A static HTML view of the store (needs Jinja2: pip install 'sfng[site]')."""


@site.command("build", cls=SelectionCommand)
@output_option("The folder to write the site to (replaced when it is a site sfng built before).",
               kind="dir", metavar="DIR", default="site", show_default=True)
@store_path_option()
@click.option("--release", "release", metavar="NAME", shell_complete=releases,
              help="Build the site of this release of the store (its own index and files).")
@click.option("--title", metavar="TEXT", help="The site's title (default: the store's or release's name).")
@click.option("--no-images", is_flag=True, help="No quick-look, footprint or coverage PNGs (faster).")
@click.option("--allow-stale", is_flag=True, help="Build even if the store changed after its index was built.")
@selection_options
@format_option("text", "json", help="What to print when done: text (a line for people) or json (path, "
                                    "pages, images made and reused, notes).")
@click.pass_obj
def build(obj, out, store_override, release, title, no_images, allow_stale, selection, fmt):
    """Write a static site: an index page (surveys, galaxies, tracers, the coverage matrix), one
    page per galaxy (files, footprints, quick-look images), per survey (README, files) and per
    release (RELEASE.md, manifest).

    Every link is a relative path, so the folder opens from disk or from any static web server
    (python -m http.server -d DIR).

    The site shows the current data version of each survey; --all-versions shows every version
    (superseded files marked), --data-version V one. The options of `sfng find` narrow it to a
    selection (a survey, some tracers...).

    \b
    Examples:
      sfng site build -o site/
      sfng site build --release demo-ic342-co10 -o release-site/
      sfng site build --survey THINGS --all-versions -o things-site/
      python -m http.server -d site 8000       then open http://localhost:8000/
    """
    from ..errors import SfngError
    from ..query import Index
    from ..release import list_releases
    from ..site import build_site

    store = obj.store(store_override)
    if release:
        rel = next((r for r in list_releases(store) if r.name == release and r.complete), None)
        if rel is None:
            names = ", ".join(r.name for r in list_releases(store) if r.complete) or "none"
            raise SfngError(f"no release {release!r} in {store.root} (releases: {names})")
        index = Index.open(rel.path / "SFNG-INDEX.fits")
        root, releases = rel.path, [(rel.name, rel.path)]
    else:
        index = Index.open(store=store, allow_stale=allow_stale)
        root = store.root
        releases = [(r.name, r.path) for r in list_releases(store) if r.complete]
    report = build_site(index, root, out, title=title, releases=releases, release_name=release,
                        images=not no_images, selection=selection, say=output.info)
    if fmt == "json":
        output.emit_json(report.as_dict())
        return
    for note in report.notes:
        output.info(f"note: {note}")
    output.info(f"wrote {len(report.pages)} page(s) and {report.images + report.images_cached} image(s) "
                f"to {report.path}; open {report.path / 'index.html'}")
