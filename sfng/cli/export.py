"""``sfng export``: write the store's products in other community layouts."""

from __future__ import annotations

import click

from . import output
from .options import (SelectionCommand, dry_run_option, format_option, index_option, output_option,
                      selection_options, store_option)


@click.group()
def export():
    """Write the store's products in layouts other tools read.

    \b
    Example:
        sfng export hdf5            # MaNGA cubes + maps as Multimodal-Universe HDF5
        sfng export moc --line HI -o hi.moc.fits   # the sky the HI cubes cover, as a MOC
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

    with output.Progress("exporting", fmt if not dry_run else "json") as bar:
        report = export_hdf5(store, out, plateifus=plateifus, max_per_file=max_per_file, replace=replace,
                             dry_run=dry_run, progress=bar)
    if fmt == "json":
        output.emit_json(report.as_dict())
        return
    for path, why in report.skipped:
        output.warn(f"skipped {path}: {why}")
    if dry_run:
        for rel in report.files:
            click.echo(rel)
    click.echo(report.summary())


@export.command("moc", cls=SelectionCommand)
@click.argument("galaxy_args", metavar="[GALAXY]...", nargs=-1)
@output_option("The MOC FITS file (IVOA MOC 2.0: Aladin, TOPCAT, mocpy read it).", required=True)
@click.option("--order", default=10, show_default=True, type=click.IntRange(0, 29),
              help="HEALPix order of the MOC (10: cells of 3.4 arcmin; 14: 13 arcsec).")
@click.option("--by", type=click.Choice(["survey", "tracer"]),
              help="Also write one MOC per survey (or tracer): FILE's name with -<VALUE> before "
                   "the suffix.")
@click.option("--space-frequency", "space_frequency", is_flag=True,
              help="A space-frequency MOC (SF-MOC): each file's sky cells with its frequency range "
                   "(its channels, its line's rest frequency or its band).")
@click.option("--frequency-order", default=25, show_default=True, type=click.IntRange(0, 51),
              help="With --space-frequency: the frequency order (25: cells of 2-4e-6 in relative "
                   "frequency, about 1 km/s).")
@click.option("--replace", is_flag=True, help="Replace existing output files (atomically).")
@selection_options
@index_option
@format_option()
def moc(galaxy_args, out, order, by, space_frequency, frequency_order, replace, selection, index, fmt):
    """Write the sky coverage of the selected files (all by default) as a MOC.

    Each file's footprint polygon becomes the HEALPix cells it touches at --order; a wide
    footprint (flag 256) is its cap of radius fov/2 (the whole sky for an all-sky map); files
    without a footprint are left out. Needs mocpy (pip install 'sfng[moc]').

    \b
    Examples:
      sfng export moc -o store.moc.fits
      sfng export moc --line CO10 --by survey --order 12 -o co.moc.fits
      sfng find --moc co.moc.fits --line HI      HI cubes overlapping the CO coverage
      sfng export moc --line HI --line CO10 --space-frequency -o lines.sfmoc.fits
    """
    from pathlib import Path

    from ..errors import SfngError
    from ..query import select
    from ..query.moc import selection_moc, selection_sfmoc, write_moc

    if galaxy_args:
        selection.galaxies = tuple(selection.galaxies) + tuple(galaxy_args)
    if space_frequency and by:
        raise SfngError("--space-frequency writes one SF-MOC of the selection; select a survey or "
                        "tracer instead of --by")
    result = select(index, selection)
    for note in result.notes:
        output.info(f"note: {note}")
    if space_frequency:
        sf, used, no_band = selection_sfmoc(result, order, frequency_order)
        if no_band:
            output.info(f"note: {no_band} file(s) with a footprint but no known band left out")
        if sf is None:
            raise SfngError("no selected file has both a footprint and a known band: no SF-MOC to write")
        path = write_moc(sf, Path(out), overwrite=replace)
        fmin, fmax = sf.min_frequency.to_value("Hz"), sf.max_frequency.to_value("Hz")
        if fmt == "json":
            output.emit_json({"order": order, "frequency_order": frequency_order, "rows": len(result),
                              "files": [{"file": str(path), "kind": "space-frequency", "rows": used,
                                         "no_band": no_band, "min_frequency_hz": fmin,
                                         "max_frequency_hz": fmax}]})
            return
        click.echo(f"{path}: space-frequency MOC of {used} file(s), {fmin:.6g} to {fmax:.6g} Hz, "
                   f"orders {order} (space) and {frequency_order} (frequency)")
        return
    union = selection_moc(result, order)
    if union is None:
        raise SfngError("no footprint among the selected files: no MOC to write")
    out = Path(out)
    written = [{"file": str(write_moc(union, out, overwrite=replace)), "group": None,
                "sky_fraction": float(union.sky_fraction)}]
    if by:
        from ..naming import encode_galaxy

        for key, m in selection_moc(result, order, by=by).items():
            name = f"{out.name.split('.')[0]}-{encode_galaxy(key or 'unknown')}{''.join(out.suffixes)}"
            written.append({"file": str(write_moc(m, out.with_name(name), overwrite=replace)),
                            "group": key, "sky_fraction": float(m.sky_fraction)})
    if fmt == "json":
        output.emit_json({"order": order, "rows": len(result), "files": written})
        return
    for w in written:
        what = f"{by} {w['group'] or '(unknown)'}" if w["group"] is not None else "all selected files"
        click.echo(f"{w['file']}: {what}, {100 * w['sky_fraction']:.6f}% of the sky at order {order}")
