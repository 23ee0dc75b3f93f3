"""``sfng fetch``: download survey products from their archives into the store."""

from __future__ import annotations

import click

from ..errors import SfngError
from . import output
from .options import dry_run_option, format_option, jobs_option, store_option


@click.group()
def fetch():
    """Download products from their public archives and land them in the store.

    \b
    Example:
        sfng fetch manga --plateifu 8485-1901 --product cubes,maps,gz3d
    """


@fetch.command("manga")
@click.option("--plateifu", "plateifus", multiple=True, metavar="PLATE-IFU",
              help="A MaNGA plate-IFU to fetch (repeatable), e.g. 8485-1901.")
@click.option("--drpall", type=click.Path(dir_okay=False, exists=True),
              help="A local DRPall catalogue (drpall-v3_1_1.fits) instead of downloading it.")
@click.option("--where", "where", metavar="EXPR",
              help="Select targets by the DRPall columns, e.g. \"nsa_z < 0.03 and ifudsgn >= 12700\".")
@click.option("--product", "products", default="cubes", show_default=True,
              help="What to fetch: any of cubes,maps,gz3d (comma-separated).")
@jobs_option("Downloads", default=4)
@click.option("--base-url", default="https://data.sdss.org/sas/", show_default=True,
              help="Root of the SAS tree (a mirror's URL works the same).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Download cache mirroring the SAS tree (default ~/.cache/sfng/sas); partial "
                   "files there are resumed.")
@click.option("--no-land", is_flag=True, help="Only download and verify; do not ingest.")
@click.option("--offline", is_flag=True, help="Do not ask NED for names (MaNGA-ID fallback names).")
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 20),
              help="Retries after a dropped connection (each resumes where it stopped).")
@dry_run_option
@format_option()
@store_option
def manga(store, plateifus, drpall, where, products, jobs, base_url, cache_dir, no_land, offline,
          retries, dry_run, fmt):
    """Download SDSS MaNGA DR17 cubes, DAP maps and Galaxy Zoo 3D files, verify and ingest them.

    Files come from the SAS layout (dr17/manga/spectro/redux/v3_1_1/PLATE/stack/...,
    .../analysis/v3_1_1/3.1.0/HYB10-MILESHC-MASTARSSP/PLATE/IFU/..., and
    dr17/env/MANGA_MORPHOLOGY/galaxyzoo3d/v4_0_0/). Interrupted downloads resume (HTTP Range);
    every file is verified (size, published checksums, gzip CRC). Cubes land in data/MANGA/,
    maps in derived/MANGA-DAP/, GZ3D in derived/GZ3D/, named after their NED galaxy.

    \b
    Examples:
        sfng fetch manga --plateifu 8485-1901 --product cubes,maps
        sfng fetch manga --where "nsa_z < 0.01" --product cubes,maps,gz3d -j 8
        sfng fetch manga --drpall drpall-v3_1_1.fits --where "ifudsgn >= 12700" --dry-run
    """
    from ..surveys.manga.fetch import fetch_manga, parse_products

    prods = parse_products(products)
    state = {"n": 0, "done": 0}

    # no per-file progress lines: -v prints each file's status and checks below
    with output.Progress("fetching", fmt if not dry_run else "json", lines=False) as bar:
        def on_plan(n):
            state["n"] = n

        def on_file(res):
            state["done"] += 1
            bar(state["done"], state["n"], res.rel)

        report = fetch_manga(store, plateifus=plateifus, drpall=drpall, where=where, products=prods,
                             jobs=jobs, base_url=base_url, cache_dir=cache_dir, dry_run=dry_run,
                             land=not no_land, offline=offline or None, retries=retries,
                             on_plan=on_plan, on_file=on_file)
    if fmt == "json":
        output.emit_json(report.as_dict())
    else:
        if dry_run:
            for product, rel in report.planned:
                click.echo(f"{product:6s} {base_url.rstrip('/')}/{rel}")
        for f in report.files:
            if not f.ok:
                output.error(f"{f.rel}: {f.message}")
            else:
                output.debug(f"{f.status}: {f.rel} ({f.size} bytes; verified: {', '.join(f.verified) or '-'})")
        for plateifu, why in report.skipped:
            output.warn(f"{plateifu}: {why}")
        for landed in report.landed:
            output.info(f"ingest {landed['tree']}/{landed['survey']}: {landed['summary']}")
            for p in landed["problems"]:
                output.error(p)
        click.echo(report.summary())
    if not report.ok:
        raise SfngError("some files were not fetched, verified or landed (see above); rerun to resume")
