"""``sfng export``: write the store's products in other community layouts."""

from __future__ import annotations

import click

from . import output
from .options import dry_run_option, format_option, output_option, store_option


@click.group()
def export():
    """Write the store's products in layouts other tools read.

    \b
    Example:
        sfng export hdf5            # MaNGA cubes + maps as Multimodal-Universe HDF5
    """


@export.command("hdf5")
@output_option("Output folder (default: the store's derived/MMU/); files go to "
               "DIR/manga/healpix=<hp>/NNNN-of-MMMM.hdf5.", kind="dir", aliases=("--out",))
@click.option("--plateifu", "plateifus", multiple=True, metavar="PLATE-IFU",
              help="Export only this plate-IFU (repeatable).")
@click.option("--max-per-file", default=512, show_default=True, type=click.IntRange(1, 100000),
              help="Objects per HDF5 file (more files per HEALPix pixel beyond that).")
@click.option("--replace", is_flag=True,
              help="Replace existing output files (atomically); without it an existing file stops the export.")
@dry_run_option
@format_option()
@store_option
def hdf5(store, out, plateifus, max_per_file, replace, dry_run, fmt):
    """Export MaNGA cubes and DAP maps in the Multimodal-Universe parent-sample layout.

    Each cube of data/MANGA/ with its maps in derived/MANGA-DAP/ becomes one group (named by
    plate-IFU) of OUTPUT/manga/healpix=<hp>/NNNN-of-MMMM.hdf5, hp being the HEALPix pixel (nside 16,
    nested) of IFURA/IFUDEC; spaxels, images and maps are padded to 96 x 96, as pipelines
    written for the Multimodal Universe expect. Needs h5py (pip install 'sfng[hdf5]').

    \b
    Examples:
        sfng export hdf5 --dry-run
        sfng export hdf5 --plateifu 8485-1901 -o /scratch/mmu
        sfng export hdf5 && sfng index build     # the HDF5 objects become findable too
    """
    from ..surveys.manga.export_hdf5 import export_hdf5

    report = export_hdf5(store, out, plateifus=plateifus, max_per_file=max_per_file, replace=replace,
                         dry_run=dry_run,
                         progress=lambda i, n, rel: output.info(f"[{i}/{n}] {rel}"))
    if fmt == "json":
        output.emit_json(report.as_dict())
        return
    for path, why in report.skipped:
        output.warn(f"skipped {path}: {why}")
    if dry_run:
        for rel in report.files:
            click.echo(rel)
    click.echo(report.summary())
