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
        sfng galaxies fill --dry-run             distances for every galaxy, not hand-set
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
@click.option("--dist-method", help="How it was measured: TRGB, Cepheid, SBF, TF, group, ...")
@click.option("--ra", type=float, help="Right ascension, degrees (J2000).")
@click.option("--dec", type=float, help="Declination, degrees (J2000).")
@click.option("--alias", "aliases", multiple=True, help="Another name (repeatable).")
@dry_run_option
@format_option()
@store_option
def set_(name, dist, dist_src, dist_method, ra, dec, aliases, dry_run, fmt, store):
    """Add galaxy NAME or change its values (NAME may be any alias already known).

    A distance set here is hand-set: `sfng galaxies fill` never replaces it.

    \b
    Example:
        sfng galaxies set 'IC 342' --dist 3.3 --dist-src 'Saha+2002' --dist-method Cepheid
    """
    from ..galaxies import set_galaxy

    g, what = set_galaxy(store, name, dist=dist, dist_src=dist_src, ra=ra, dec=dec,
                         aliases=aliases, dist_method=dist_method, dry_run=dry_run)
    if fmt == "json":
        output.emit_json({"galaxy": g.as_dict(), "change": what, "dry_run": dry_run})
        return
    click.echo(f"{g.name}: {what}" + (" (dry run: nothing written)" if dry_run else ""))
    output.table([_row(g)])


@galaxies.command("fill")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--online", is_flag=True,
              help="Also ask the Updated Nearby Galaxy Catalog (Karachentsev+2013) and "
                   "Cosmicflows-3 (Tully+2016) through VizieR, and NED for galaxies not in the "
                   "name cache (default: offline, the shipped table and the NED cache only).")
@click.option("--h0", type=float, default=70.0, show_default=True,
              help="Hubble constant for Hubble-flow distances, km/s/Mpc (stated in their source).")
@click.option("--from-cache", is_flag=True,
              help="Also every galaxy of the NED name cache, not only those with files or a row.")
@dry_run_option
@format_option()
@store_option
def fill(names, online, h0, from_cache, dry_run, fmt, store):
    """Give every galaxy of the store a position, redshift and distance (not hand-set ones).

    The galaxies are those of the galaxy table, those the store's files are stored under and
    those of the last index (or only NAME...); positions and redshifts come from the NED name
    cache. Each distance comes from the first source that has one, and says which (dist_src,
    dist_method, dist_origin; docs/index.md, "Filling distances"):

    \b
      1. hand-set (galaxies set / import)   always kept, never replaced
      2. the shipped table                   published TRGB/Cepheid/SBF/TF/... distances of
                                             THINGS, HERACLES, KINGFISH, PHANGS galaxies, cited
      3. --online: UNGC, then Cosmicflows-3  VizieR J/AJ/145/101, J/AJ/152/50
      4. Hubble flow                         cz/H0 from the NED redshift (method hubble-flow)

    A galaxy with none of these stays unknown. Rebuild the index afterwards (or use
    `sfng index build --fill-galaxies`).

    \b
    Examples:
        sfng galaxies fill --dry-run
        sfng galaxies fill --online --h0 73
        sfng galaxies fill 'NGC 628' --format json
    """
    from ..distances import fill_galaxies

    rep = fill_galaxies(store, names, online=online, h0=h0, dry_run=dry_run, from_cache=from_cache)
    if fmt == "json":
        output.emit_json(rep)
        return
    print_fill(rep)


def print_fill(rep) -> None:
    """The text report of a fill (also after `index build --fill-galaxies`)."""
    rows = [{"galaxy": output.printable(g.name), "action": g.action,
             "dist": None if g.dist != g.dist else round(g.dist, 3), "method": g.dist_method,
             "origin": g.dist_origin, "redshift": None if g.redshift != g.redshift else g.redshift}
            for g in rep.galaxies]
    output.table(rows)
    for g in rep.galaxies:
        if g.action in ("filled", "replaced", "unknown") or output.verbosity() >= 2:
            click.echo(f"  {output.printable(g.name)}: {output.printable(g.message)}")
    for note in rep.notes:
        output.warn(output.printable(note))
    click.echo(rep.summary())


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
        w = csv.DictWriter(sys.stdout, fieldnames=["name", "aliases", "ra", "dec", "dist", "dist_src",
                                                   "dist_method", "dist_origin", "redshift"])
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    elif not rows:
        output.info("the galaxy table is empty; add galaxies with `sfng galaxies import FILE` "
                    "or `sfng galaxies set NAME --dist D`, or fill them with `sfng galaxies fill`")
    else:
        output.table(rows)


def _row(g):
    d = g.as_dict()
    d["aliases"] = ";".join(d["aliases"])
    return d
