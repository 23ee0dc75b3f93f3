"""``sfng links``: link views of the store (logic in :mod:`sfng.links`)."""

import sys

import click

from . import output
from .options import dry_run_option, format_option, store_option


@click.group()
def links():
    """Link views of the store, e.g. data/bygalaxy/."""


@links.command("bygalaxy")
@dry_run_option
@format_option()
@store_option
def bygalaxy(dry_run, fmt, store):
    """Build data/bygalaxy/<GALAXY>/ with relative links to every file of that galaxy.

    Covers data/ and derived/. A file's galaxy is the index's when the index has the file as
    it is now, else found as the index finds it, offline (the file name's NED prefix, the
    manifest, the format's identifier or OBJECT looked up in the NED cache; docs/naming.md);
    files of galaxy pairs (recorded by ingest, or declared in tables/pairs.csv) are linked for
    both galaxies. Rerun it after any ingest: it adds new links,
    repoints changed ones and removes stale ones; it never touches a file that is not a link.

    \b
    Example:
        sfng links bygalaxy --dry-run
        sfng links bygalaxy && ls data/bygalaxy/IC_0342/
    """
    from ..index.io import galaxies_by_path
    from ..links import build_bygalaxy

    known = galaxies_by_path(store.index_path) if store.index_path.is_file() else None
    report = build_bygalaxy(store, dry_run=dry_run, known=known)
    if fmt == "json":
        output.emit_json(report)
    else:
        verb = "would " if dry_run else ""
        for rel in report.created:
            output.debug(f"  {verb}create {rel}")
        for rel in report.updated:
            click.echo(f"  {verb}update {rel}")
        for rel in report.removed:
            click.echo(f"  {verb}remove stale {rel}")
        for p in report.problems:
            output.warn(p)
        for u in report.unnamed[:10]:
            output.debug(f"  not linked (galaxy unknown): {u}")
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)
