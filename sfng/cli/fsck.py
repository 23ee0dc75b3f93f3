"""``sfng fsck``."""

import click

from . import output
from .options import format_option, store_option


@click.command()
@click.option("--deep", is_flag=True,
              help="Hash every file (store and releases) instead of trusting size and time.")
@click.option("--repair", is_flag=True,
              help="Finish interrupted writers from their journals, rewrite manifest entries a journal "
                   "or a fix backup explains, make landed files read-only, remove leftovers sfng owns.")
@format_option()
@store_option
def fsck(deep, repair, fmt, store):
    """Check the whole store: manifests against files, the index against the tree, releases against
    their manifests, and leftovers (temporary files, unfinished journals, incomplete releases).

    Without --deep a file is hashed only when its time says it changed after it landed. Exit
    status 1 when anything is wrong (after --repair: anything it could not repair, with what to do).

    \b
    Examples:
        sfng fsck                     quick check (size and time)
        sfng fsck --deep              every checksum
        sfng fsck --repair            finish what killed writers left, remove leftovers
        sfng fsck --format json
    """
    from ..fsck import fsck as run

    rep = run(store, deep=deep, repair=repair)
    if fmt == "json":
        output.emit_json(rep)
    else:
        for msg in rep.recovered:
            output.info(output.printable(msg))
        for f in rep.findings:
            line = f"{f.level}: {f.kind}: {output.printable(f.path)}: {output.printable(f.problem)}"
            if f.repaired:
                line += f" -> {output.printable(f.repaired)}"
            elif f.hint:
                line += f" ({output.printable(f.hint)})"
            click.echo(line)
        click.echo(rep.summary())
    if not rep.ok:
        raise SystemExit(1)
