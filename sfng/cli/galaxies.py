"""``sfng galaxies``: the store's galaxy table (tables/galaxies.ecsv)."""

import click

from . import output
from .options import dry_run_option, format_option, store_option


@click.group()
def galaxies():
    """The galaxy table: NED name, aliases, position and adopted distance of each galaxy.

    The index copies it into its GALAXIES HDU, so `sfng find --dist '<15'` works from the
    index alone. Rebuild the index after changing it.

    \b
    Examples:
        sfng galaxies import sample.csv          merge a CSV/FITS/ECSV table
        sfng galaxies set 'NGC 628' --dist 9.8 --dist-src 'Jacobs+2009 TRGB'
        sfng galaxies list --format json
    """


@galaxies.command("import")
@click.argument("table_file", type=click.Path(dir_okay=False))
@dry_run_option
@format_option()
@store_option
def import_(table_file, dry_run, fmt, store):
    """Merge TABLE_FILE (.csv, .ecsv or .fits) into tables/galaxies.ecsv.

    Columns are found by name, case-insensitively: name (or ned_name, galaxy, object), aliases
    (';'-separated), ra, dec (deg), dist (or dist_mpc, distance; Mpc), dist_src (or dist_ref).
    A galaxy already in the table (by name or alias) is updated with the values given.

    \b
    Example:
        sfng galaxies import distances.csv --dry-run
    """
    from ..galaxies import import_galaxies

    rep = import_galaxies(store, table_file, dry_run=dry_run)
    if fmt == "json":
        output.emit_json(rep)
        return
    verb = "would add" if dry_run else "added"
    click.echo(f"{table_file}: {verb} {len(rep.added)}, updated {len(rep.updated)}, "
               f"{len(rep.unchanged)} unchanged" + (" (dry run: nothing written)" if dry_run else ""))
    for what in ("added", "updated"):
        for n in getattr(rep, what):
            click.echo(f"  {what:8s} {n}")


@galaxies.command("set")
@click.argument("name")
@click.option("--dist", type=float, help="Adopted distance in Mpc.")
@click.option("--dist-src", help="Where the distance comes from (a reference).")
@click.option("--ra", type=float, help="Right ascension, degrees (J2000).")
@click.option("--dec", type=float, help="Declination, degrees (J2000).")
@click.option("--alias", "aliases", multiple=True, help="Another name (repeatable).")
@dry_run_option
@format_option()
@store_option
def set_(name, dist, dist_src, ra, dec, aliases, dry_run, fmt, store):
    """Add galaxy NAME or change its values (NAME may be any alias already known).

    \b
    Example:
        sfng galaxies set 'IC 342' --dist 3.3 --dist-src 'Saha+2002 Cepheids'
    """
    from ..galaxies import set_galaxy

    g, what = set_galaxy(store, name, dist=dist, dist_src=dist_src, ra=ra, dec=dec,
                         aliases=aliases, dry_run=dry_run)
    if fmt == "json":
        output.emit_json({"galaxy": g.as_dict(), "change": what, "dry_run": dry_run})
        return
    click.echo(f"{g.name}: {what}" + (" (dry run: nothing written)" if dry_run else ""))
    output.table([_row(g)])


@galaxies.command("list")
@format_option("text", "json", "csv")
@store_option
def list_(fmt, store):
    """List the galaxy table.

    \b
    Example:
        sfng galaxies list --format csv > galaxies.csv
    """
    import csv
    import sys

    from ..galaxies import read_galaxies

    table = read_galaxies(store)
    rows = [_row(g) for g in table]
    if fmt == "json":
        output.emit_json([g.as_dict() for g in table])
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=["name", "aliases", "ra", "dec", "dist", "dist_src"])
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    elif not rows:
        output.info("the galaxy table is empty; add galaxies with `sfng galaxies import FILE` "
                    "or `sfng galaxies set NAME --dist D`")
    else:
        output.table(rows)


def _row(g):
    d = g.as_dict()
    d["aliases"] = ";".join(d["aliases"])
    return d
