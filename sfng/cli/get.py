"""``sfng get``: copy or link selected files out of the store, verified against the manifest."""

from __future__ import annotations

import click

from . import output
from .options import (SelectionCommand, dry_run_option, format_option, index_option, output_option,
                      selection_options)


@click.command(cls=SelectionCommand)
@click.argument("galaxy_args", metavar="[GALAXY]...", nargs=-1)
@output_option("Destination folder (created; the store's layout is kept under it).", dest="dest",
               kind="dir", aliases=("--to",), required=True)
@click.option("--link", is_flag=True, help="Hard-link instead of copying (same file system; else copy).")
@selection_options
@index_option
@dry_run_option
@format_option()
def get(galaxy_args, dest, link, selection, index, dry_run, fmt):
    """Copy the files of GALAXY (any alias), or of any find selection, into DIR.

    Each file keeps its place in the store's layout (data/<SURVEY>/...), its survey README
    comes along, and DIR/data/<SURVEY>/MANIFEST.sha256 lists what was fetched. Every file's
    SHA-256 is checked against the store's manifest; a rerun resumes and skips files already
    there with the right checksum. Nothing in DIR is ever overwritten.

    \b
    Examples:
      sfng get 'IC 342' -o ic342/                    all the data on IC 342
      sfng get --line CO10 '--res<15' -o co/ -n      what would come (dry run)
      sfng get M51 --survey PAWS -o paws/ --link
    """
    from ..errors import SfngError
    from ..get import get_files
    from ..query import select

    if galaxy_args:
        selection.galaxies = tuple(selection.galaxies) + tuple(galaxy_args)
    if selection.is_empty():
        raise SfngError("sfng get needs a galaxy or a selection (e.g. `sfng get 'IC 342' -o DIR`); "
                        "it does not fetch the whole store")
    if index.store is None:
        from ..store import Store

        index.store = Store.discover()   # the files come from a store even if the index does not
    store = index.store
    result = select(index, selection)
    for note in result.notes:
        output.info(f"note: {note}")
    if not len(result):
        output.info("no files match the selection; nothing to fetch")
        if fmt == "json":
            output.emit_json({"dest": dest, "ok": True, "planned": [], "copied": []})
        return

    with output.Progress("copying" if not link else "linking", fmt if not dry_run else "json") as bar:
        report = get_files(result, store, dest, link=link, dry_run=dry_run, progress=bar)
    if fmt == "json":
        output.emit_json(report.as_dict())
    else:
        for path, action in report.planned:
            click.echo(f"would {action}: {path}")
        for path, _ in report.copied:
            click.echo(f"copied: {path}")
        for path, _ in report.linked:
            click.echo(f"linked: {path}")
        for path, why in report.present:
            click.echo(f"skipped (already there, checksum ok): {path}")
        for path, why in report.warnings:
            output.warn(f"{path}: {why}")
        for path in report.unverified:
            output.warn(f"{path}: not in the survey's MANIFEST.sha256 nor the index; copied unverified")
        for path, action in report.readmes:
            output.debug(f"{path}: {action}")
        for path, why in report.failed:
            output.error(f"{path}: {why}")
        output.info(f"get: {report.summary()} -> {report.dest}")
    if not report.ok:
        raise SystemExit(1)
