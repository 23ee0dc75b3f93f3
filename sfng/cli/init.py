"""``sfng init``."""

import click

from . import output
from .options import dry_run_option, format_option


@click.command()
@click.argument("path", type=click.Path(), default=".")
@click.option("--name", help="Store name recorded in sfng.yaml and the index header (default: folder name).")
@click.option("--adopt", is_flag=True,
              help="Turn an existing, non-empty tree into a store: adds what is missing, moves and "
                   "changes nothing.")
@dry_run_option
@format_option()
def init(path, name, adopt, dry_run, fmt):
    """Lay out a new store at PATH (default: here) following the SFNG specification.

    Creates code/ data/ derived/ docs/ release/ tables/ uncalibrated/, each with a README stating
    its intent, docs/CONVENTIONS.md and sfng.yaml. Safe to rerun: existing files are kept, never
    overwritten. SFNG-INDEX.fits appears later, with `sfng index build`.
    """
    from ..store import init_store

    report = init_store(path, name=name, adopt=adopt, dry_run=dry_run)
    if fmt == "json":
        output.emit_json(report)
        return
    verb = "would create" if dry_run else "created"
    for rel in report.created:
        click.echo(f"  {verb} {rel}")
    for why in report.skipped:
        output.warn(f"not written: {output.printable(why)}")
    what = "adopted existing tree as" if report.adopted else ("store is complete:" if not report.created
                                                               else "initialised")
    click.echo(f"{what} {report.root} ({len(report.created)} {verb}, {len(report.kept)} kept)")
