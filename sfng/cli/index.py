"""``sfng index``: build, inspect and check SFNG-INDEX.fits."""

import sys

import click

from . import output
from .options import dry_run_option, format_option, jobs_option, output_option, store_option, store_path_option


@click.group()
def index():
    """SFNG-INDEX.fits: the FITS index of data/ and derived/ (see docs/index.md).

    \b
    Examples:
        sfng index build                 incremental: only new or changed files are read
        sfng index build --full -j 2     describe every file again on 2 processes
        sfng index stats --by tracer     rows per tracer
        sfng index check                 files new, changed or gone since the build
        sfng index show data/THINGS/MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS
    """


@index.command("build")
@click.option("--full", is_flag=True, help="Describe every file again (default: reuse the rows of "
                                             "files whose size and mtime are unchanged).")
@jobs_option("Local worker processes", default_text="one per CPU core",
             note="1: no worker processes, all in this one.")
@click.option("--scheduler", metavar="local|tcp://HOST:PORT",
              help="Run on Dask: 'local' starts a LocalCluster of --jobs workers; tcp://... joins a "
                   "running cluster whose workers see the store at the same path (pip install "
                   "'sfng[dask]').")
@click.option("--measure-depth", is_flag=True,
              help="Read data to measure the noise (MAD of emission-free pixels) where no REPUNC "
                   "is given, and use noise companions' maps.")
@click.option("--no-validate", is_flag=True, help="Skip header validation (valid/n_problems unknown).")
@click.option("--fill-galaxies", is_flag=True,
              help="First give galaxies without a hand-set distance one (`sfng galaxies fill`, "
                   "offline: the shipped table, then the Hubble flow at H0 = 70).")
@click.option("--resolve-names", is_flag=True,
              help="Ask NED (through the store's NED cache) for the galaxy of files the store's "
                   "names leave unknown: their OBJECT or file-name galaxy by name, then their "
                   "centre by position (galaxy_src position). Default: offline, from the NED "
                   "cache, overrides and galaxy table only.")
@output_option("Write the index here instead of the store's SFNG-INDEX.fits.", aliases=("--out",))
@dry_run_option
@format_option()
@store_option
def build(full, jobs, scheduler, measure_depth, no_validate, fill_galaxies, resolve_names, out,
          dry_run, fmt, store):
    """Crawl data/ and derived/ (headers only) and write SFNG-INDEX.fits atomically.

    Unchanged files keep their rows; unreadable files get a flagged row and a report line,
    and the build completes. A lock stops two builds at once; a killed build leaves the
    previous index intact.

    \b
    Example:
        sfng index build --jobs 2
        sfng index build --dry-run       what would be described, reused and dropped
        sfng index build --fill-galaxies distances for galaxies that have none, then build
    """
    from ..index.build import build_index

    with output.Progress("indexing", fmt if not dry_run else "json") as bar:
        rep = build_index(store, out=out, full=full, jobs=jobs, measure_depth=measure_depth,
                          progress=bar if bar.bar_wanted else None, scheduler=scheduler,
                          validate=not no_validate, dry_run=dry_run, fill_galaxies=fill_galaxies,
                          resolve_names=resolve_names)
    if fmt == "json":
        output.emit_json(rep)
        return
    if rep.fill is not None:
        from .galaxies import print_fill

        print_fill(rep.fill)
    for line in rep.lines()[1 if rep.fill is not None else 0:]:
        click.echo(line)
    if not dry_run and rep.fill is None:
        _offer_fill(rep.out)


def _offer_fill(index_path) -> None:
    """Say how many of the index's galaxies have no distance, and how to give them one."""
    import math

    from ..index.io import read_index

    try:
        _, gals, _ = read_index(index_path, columns=["path"])
        missing = sum(1 for d in gals["dist"] if not math.isfinite(float(d))) if gals is not None else 0
    except Exception:  # noqa: BLE001 - only a hint: never fail a build over it
        return
    if missing:
        output.info(f"{missing} of {len(gals)} galaxies have no distance (--dist finds none of their "
                    f"files): `sfng galaxies fill` gives them one, or `sfng index build --fill-galaxies`")


#: stats and show read any SFNG-INDEX.fits, a downloaded one too.
_index_file_option = click.option("--index", "index_path", type=click.Path(dir_okay=False),
                                  help="An index file (default: the store's SFNG-INDEX.fits); "
                                       "works without a store.")


@index.command("stats")
@click.option("--by", "by", type=click.Choice(["survey", "tracer", "galaxy", "galaxy_src", "product",
                                               "tree"]),
              multiple=True, help="Count rows by these columns (repeatable; default survey, "
                                  "tracer and galaxy, one table each).")
@_index_file_option
@format_option()
@store_path_option()
@click.pass_obj
def stats(obj, by, index_path, fmt, store_override):
    """Row counts by survey, tracer and galaxy.

    \b
    Example:
        sfng index stats --by tracer --format json
    """
    from ..index.stats import index_stats

    path = index_path or obj.store(store_override).index_path
    got = index_stats(path, by or ("survey", "tracer", "galaxy"))
    if fmt == "json":
        output.emit_json(got)
        return
    click.echo(f"{path}: {got['rows']} rows, built {got['built']} (schema {got['schema_version']})")
    for col, counts in got["by"].items():
        click.echo("")
        if not counts:
            click.echo(f"{col}: no rows")
        output.table([{col: k or "(unknown)", "rows": n} for k, n in counts.items()])


@index.command("check")
@format_option()
@store_option
def check(fmt, store):
    """Compare the index with the tree: files new, changed (size/mtime) or gone since the build,
    and derived products whose inputs changed since they were made (their provenance records).

    Exits 1 when they differ (rebuild with `sfng index build`).

    \b
    Example:
        sfng index check || sfng index build
    """
    from ..derive import check_products
    from ..index.build import check_index

    d = check_index(store)
    stale = check_products(store)   # derived products whose inputs changed since they were made
    if fmt == "json":
        payload = d.as_dict() if hasattr(d, "as_dict") else dict(vars(d))
        payload["stale_products"] = stale
        output.emit_json(payload)
    else:
        for what in ("new", "changed", "missing"):
            for p in getattr(d, what):
                click.echo(f"{what:8s} {p}")
        click.echo(f"{len(d.new)} new, {len(d.changed)} changed, {len(d.missing)} missing, "
                   f"{d.unchanged} unchanged" + ("" if not d.clean else ": the index is up to date"))
        for s_ in stale:
            click.echo(f"stale    {s_['product']}: {s_['problem']} ({s_['input']}); remake it with "
                       f"sfng derive --rerun")
    if not d.clean or stale:
        sys.exit(1)


@index.command("show")
@click.argument("path")
@_index_file_option
@format_option()
@store_path_option()
@click.pass_obj
def show(obj, path, index_path, fmt, store_override):
    """Show the index row(s) of PATH (store-relative, or a path inside the store), with units.

    \b
    Example:
        sfng index show data/NRO45/IC_0342.ic342.co10.fits
    """
    from ..index.stats import rows_for
    from ..index.schema import FILES_COLUMNS

    if index_path:
        ipath, rel = index_path, path
    else:
        store = obj.store(store_override)
        ipath = store.index_path
        from pathlib import Path

        p = Path(path)
        rel = store.relpath(p) if (p.is_absolute() or p.exists()) and store.contains(p) else path
    rows = rows_for(ipath, rel)
    if fmt == "json":
        output.emit_json(rows)
        return
    units = {c.name: c.unit for c in FILES_COLUMNS}
    for row in rows:
        width = max(len(k) for k in row)
        for k, v in row.items():
            unit = units.get(k, "") if v not in (None, "") else ""
            if k == "mtime" and isinstance(v, float) and v == v:
                text = _iso(v)          # a Unix time is read as a date, not as 1.796e+09 s
                unit = ""
            else:
                text = output._cell(v, k)
            click.echo(f"{k.ljust(width)}  {text}{' ' + unit if unit else ''}")
        click.echo("")


def _iso(unix_s: float) -> str:
    """A Unix time (s) as an ISO 8601 UTC date and time, to the microsecond it was kept to."""
    import datetime as dt

    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc).isoformat().replace("+00:00", "Z")


@index.command("migrate")
@_index_file_option
@output_option("Write the migrated index here (default: rewrite it in place, atomically).")
@format_option()
@store_path_option()
@click.pass_obj
def migrate(obj, index_path, out, fmt, store_override):
    """Rewrite an index of an older schema version to the current one, losslessly.

    Every value is kept; columns the old version lacked are unknown (NaN, '', -1; galaxy_src ''
    means unknown). Readers read an older index too (with a note), through the frozen schemas
    in sfng/index/schemas/; migrating saves that work on every read. An index of a newer or
    unknown version is refused.

    \b
    Example:
        sfng index migrate --index old/SFNG-INDEX.fits -o SFNG-INDEX.fits
    """
    from ..index.migrate import migrate_index

    store = None
    if index_path:
        path = index_path
    else:
        store = obj.store(store_override)
        path = store.index_path
    rep = migrate_index(path, out, store=store)
    if fmt == "json":
        output.emit_json(rep.as_dict())
        return
    for line in rep.lines():
        click.echo(line)


@index.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--all-versions", is_flag=True,
              help="Compare every data version (keyed by version too), not only the current ones.")
@format_option()
@store_path_option()
@click.pass_obj
def diff(obj, old, new, all_versions, fmt, store_override):
    """Products added, removed and changed from the index OLD to NEW (or to the tree now).

    A product is its survey, its name inside the survey folder without the version
    (data/THINGS@v2/x.fits and data/THINGS/x.fits are one product) and its locator; each change
    is shown as old -> new. Without NEW the store's tree is indexed into a temporary file
    (the store's SFNG-INDEX.fits is not touched). Exit code 0 when nothing differs, 1 otherwise.

    \b
    Examples:
        sfng index diff old/SFNG-INDEX.fits SFNG-INDEX.fits
        sfng index diff SFNG-INDEX.fits                     what a build would change
        sfng index diff a.fits b.fits --format json
    """
    from ..index.diff import diff_indexes, diff_with_tree

    if new is not None:
        rep = diff_indexes(old, new, all_versions=all_versions)
    else:
        rep = diff_with_tree(obj.store(store_override), old, all_versions=all_versions)
    if fmt == "json":
        output.emit_json(rep.as_dict())
    else:
        for line in rep.lines():
            click.echo(output.printable(line))
    sys.exit(0 if rep.same else 1)
