"""``sfng find``, ``sfng info``, ``sfng summary``, ``sfng plot``: queries over SFNG-INDEX.fits."""

from __future__ import annotations

import sys

import click

from . import output
from .options import SelectionCommand, format_option, index_option, output_option, selection_options

FIND_FORMATS = ("text", "paths", "csv", "json", "ecsv", "fits", "votable")
#: `sfng summary -o NAME` with these suffixes draws a heatmap (matplotlib picks the format).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg")


def _columns(text, default):
    if not text:
        return list(default)
    return [c.strip() for c in text.split(",") if c.strip()]


def _print_columns(index) -> None:
    from ..index.schema import FILES_COLUMNS

    from ..query.index import VIRTUAL_DESCRIPTIONS

    desc = {c.name: c.description for c in FILES_COLUMNS}
    desc.update(VIRTUAL_DESCRIPTIONS)
    rows = [{"column": n, "unit": u, "description": desc.get(n, "")}
            for n, u in index.where_columns().items()]
    output.table(rows, ["column", "unit", "description"])


def _write_table(table, fmt, out_path):
    """Write an astropy table in ``fmt`` to ``out_path`` or stdout."""
    import io

    astropy_fmt = {"ecsv": "ascii.ecsv", "fits": "fits", "votable": "votable"}[fmt]
    for name in table.colnames:  # text as UTF-8 carries it (file names that are not UTF-8: \xNN)
        if table[name].dtype.kind == "U" and any(not str(v).isascii() for v in table[name]):
            table[name] = [output.shown(v) for v in table[name]]
    if out_path:
        from ..fsutil import atomic_write_bytes

        if fmt == "ecsv":
            text = io.StringIO()
            table.write(text, format=astropy_fmt)
            data = text.getvalue().encode("utf-8")
        else:
            data = _table_bytes(table, astropy_fmt)
        try:
            atomic_write_bytes(out_path, data)
        except FileExistsError as exc:
            from ..errors import SfngError

            raise SfngError(f"{out_path} exists; choose another name (sfng never overwrites)") from exc
        output.info(f"wrote {len(table)} row(s) to {out_path}")
        return
    if fmt == "ecsv":
        buf = io.StringIO()
        table.write(buf, format=astropy_fmt)
        click.echo(buf.getvalue(), nl=False)
        return
    if sys.stdout.isatty():
        raise click.UsageError(f"--format {fmt} is binary: give -o FILE or redirect stdout")
    data = _table_bytes(table, astropy_fmt)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _table_bytes(table, astropy_fmt: str) -> bytes:
    """A binary table output: VOTable as astropy writes it (each FIELD with its unit, ucd and
    DESCRIPTION from the columns' meta); FITS with ``TCOMMn`` (description) and ``TUCDn`` (UCD)
    cards beside ``TUNITn``, the keywords TOPCAT/STIL write and read."""
    import io

    buf = io.BytesIO()
    if astropy_fmt != "fits":
        table.write(buf, format=astropy_fmt)
        return buf.getvalue()
    from astropy.io import fits

    hdu = fits.table_to_hdu(table)
    for i, name in enumerate(table.colnames, 1):
        col = table[name]
        if col.description:
            hdu.header[f"TCOMM{i}"] = str(col.description)   # long: CONTINUE cards (LONGSTRN)
        if col.meta.get("ucd"):
            hdu.header[f"TUCD{i}"] = col.meta["ucd"]
    if any(len(str(table[n].description or "")) > 68 for n in table.colnames):
        hdu.header["LONGSTRN"] = ("OGIP 1.0", "long texts continue on CONTINUE cards")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buf)
    return buf.getvalue()


def _csv(rows, columns) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None or (isinstance(r.get(c), float) and r[c] != r[c])
                    else r[c] for c in columns])
    return buf.getvalue()


def _table_text(rows, columns, units=None) -> str:
    """:func:`output.table` as a string (for -o FILE)."""
    import io

    buf = io.StringIO()
    output.table(rows, columns, file=buf, units=units)
    return buf.getvalue()


def _units() -> dict:
    """Column -> unit of the index's FILES columns and of the virtual ones (``dist`` in Mpc...):
    the table header shows them."""
    from ..index.schema import FILES_COLUMNS
    from ..query.index import VIRTUAL

    return {**{c.name: c.unit for c in FILES_COLUMNS if c.unit}, **VIRTUAL}


def _json_text(obj) -> str:
    import json

    return json.dumps(_shown(obj), indent=2, default=output._default) + "\n"


def _shown(obj):
    """``obj`` with every text as :func:`output.shown` writes it (a file name that is not UTF-8
    as ``\\xNN``, not as a lone surrogate no strict JSON reader takes)."""
    if isinstance(obj, str):
        return output.shown(obj)
    if isinstance(obj, dict):
        return {k: _shown(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_shown(v) for v in obj]
    return obj


def _emit_text(text: str, out_path) -> None:
    """Text output to stdout, or to ``out_path`` (atomic, never overwriting); UTF-8 either way
    (the bytes of a file name that is not UTF-8 shown as ``\\xNN``)."""
    text = output.shown(text)
    if not out_path:
        click.echo(text, nl=False)
        return
    from ..errors import SfngError
    from ..fsutil import atomic_write_text

    try:
        atomic_write_text(out_path, text)
    except FileExistsError as exc:
        raise SfngError(f"{out_path} exists; choose another name (sfng never overwrites)") from exc
    output.info(f"wrote {out_path}")


#: Files of a result checked against the index's size and mtime (one stat each).
CHANGED_CHECK = 1000


def _warn_changed(index, rows) -> None:
    """One warning when files the answer names changed since the index was built."""
    checked, changed = index.changed_files(rows, CHANGED_CHECK)
    if changed:
        some = f"the first {checked}" if len(rows) > CHANGED_CHECK else f"the {checked}"
        output.warn(f"{changed} of {some} file(s) found changed since the index was built (size or "
                    f"modification time; edited in place or removed): their rows may be stale; "
                    f"run `sfng index build`")


@click.command(cls=SelectionCommand)
@selection_options
@index_option
@format_option(*FIND_FORMATS, help="Output format: text (an aligned table) for people; paths, one per "
                                   "line; csv, json, ecsv, fits, votable for tools.")
@click.option("--galaxies/--files", "as_galaxies", default=None,
              help="List galaxies (default with --has/--lacks) or files (default otherwise).")
@click.option("--count", is_flag=True, help="Print only the number of files (or galaxies).")
@click.option("--columns", metavar="A,B,...",
              help="Columns to show (--columns help lists them; virtual: dist, res_pc, depth).")
@click.option("--sort", "sort", metavar="A,-B", help="Sort by columns; a leading '-' sorts descending.")
@output_option("Write the output to this file instead of stdout (never overwrites).", dest="out_path")
@click.option("--export-obscore", "obscore", type=click.Path(dir_okay=False), metavar="FILE.xml",
              help="Write the selection as an IVOA ObsCore VOTable (for TOPCAT, pyvo, astropy).")
@click.option("--base-url", metavar="URL",
              help="With --export-obscore: the URL of an `sfng serve` service; access_url = URL/files/<id>, "
                   "plus DataLink links (datalink_url, a service descriptor).")
def find(selection, index, fmt, as_galaxies, count, columns, sort, out_path, obscore, base_url):
    """Find files (or galaxies) in SFNG-INDEX.fits.

    Numbers take a comparison, quoted so the shell does not read '<' and '>' as
    redirections: '<15', '<=15', '>1', 5..15, with optional units (15arcsec, 0.25arcmin,
    15Mpc, 1K, 2.5kms). Unknown values never pass a numeric test.

    \b
    The specification's use cases:
      sfng find --line CO10 --res '<15' --dist '<15' --depth '<=1K'
      sfng find --line CO10 '--res<15' '--dist<15' '--depth<=1'     (same, glued)
      sfng find --has CO10 --has MIPS24 --lacks HALPHA
      sfng find --galaxy 'IC 342'            (then: sfng get 'IC 342' -o ic342/)
    \b
    More:
      sfng find --index ~/Downloads/SFNG-INDEX.fits --line HI --format paths
      sfng find --where "res < 10arcsec and (depth_k < 0.5 or survey = 'PAWS')"
      sfng find --cone 56.70 68.10 5arcmin --format json
      sfng find --line CO21 --galaxies --sort dist
      sfng find --line CO10 --export-obscore co10.xml
      sfng find --survey MANGA --export-obscore m.xml --base-url http://127.0.0.1:8770
    """
    from ..errors import SfngError
    from ..query import DEFAULT_COLUMNS, GALAXY_COLUMNS, select

    if columns == "help":
        _print_columns(index)
        return
    result = select(index, selection)
    if sort:
        result.sort([s.strip() for s in sort.split(",") if s.strip()])
    for note in result.notes:
        output.info(f"note: {note}")
    galaxies_mode = as_galaxies if as_galaxies is not None else selection.is_galaxy_set

    if obscore:
        from ..obscore import write_obscore

        try:
            write_obscore(result, obscore, base_url=base_url)
        except FileExistsError as exc:
            raise SfngError(f"{obscore} exists; choose another name (sfng never overwrites)") from exc
        output.info(f"wrote {len(result)} row(s) as an ObsCore VOTable to {obscore}")
        return

    if galaxies_mode:
        what = "galaxies"
        cols = _columns(columns, GALAXY_COLUMNS)
        bad = [c for c in cols if c not in GALAXY_COLUMNS]
        if bad:
            raise SfngError(f"--galaxies: unknown column(s) {', '.join(bad)}; galaxy lists have "
                            f"{', '.join(GALAXY_COLUMNS)}")
        if result.galaxies is not None and (count or fmt == "paths" or cols == ["galaxy"]) \
                and not (result.sorted and not count):
            rows = [{"galaxy": g} for g in result.galaxies]     # names only: no file look-up
        else:
            rows = [{c: r[c] for c in cols} for r in result.galaxy_rows()]
        n = len(rows)
    else:
        n = len(result)
        what = "files"
        cols = _columns(columns, DEFAULT_COLUMNS)
        rows = None
        _warn_changed(index, result.rows)
    if count:
        _emit_text(f"{n}\n", out_path)
        if n == 0:
            output.info(f"no {what} match the selection")
        return
    if n == 0:
        output.info(f"no {what} match the selection")
        if fmt == "json":
            _emit_text(_json_text([]), out_path)
        return

    if fmt == "paths":
        names = [r.get("galaxy", "") for r in rows] if galaxies_mode else result.paths()
        _emit_text("".join(f"{p}\n" for p in names), out_path)
        return
    if rows is None and fmt in ("text", "csv", "json"):
        rows = result.records(cols)
    if fmt == "text":
        units = _units()
        if out_path:
            _emit_text(_table_text(rows, cols, units), out_path)
        else:
            output.table(rows, cols, units=units)
        output.info(f"{n} {what if n != 1 else what.rstrip('s').replace('galaxie', 'galaxy')}")
    elif fmt == "csv":
        _emit_text(_csv(rows, cols), out_path)
    elif fmt == "json":
        _emit_text(_json_text(rows), out_path)
    else:
        if galaxies_mode:
            from astropy.table import Table

            table = Table(rows=[[r[c] for c in cols] for r in rows], names=cols)
        else:
            table = result.to_table(cols)
        _write_table(table, fmt, out_path)


@click.command()
@click.argument("galaxy")
@index_option
@format_option()
def info(galaxy, index, fmt):
    """Everything the store holds on one GALAXY (any alias).

    Its NED name, aliases, position, distance and the distance's source, then its files by
    tracer with resolution, depth, size and whether each footprint covers the galaxy's centre.

    \b
    Examples:
      sfng info 'IC 342'
      sfng info ngc628 --format json
      sfng info M51 --index SFNG-INDEX.fits
    """
    from ..query import info as query_info

    rec = query_info(index, galaxy)
    if fmt == "json":
        output.emit_json(rec)
        return
    pos = "unknown" if rec["ra"] is None else f"RA {rec['ra']:.5f} deg, Dec {rec['dec']:+.5f} deg"
    dist = "unknown" if rec["dist"] is None else f"{rec['dist']:.3g} Mpc" + (
        f" ({rec['dist_src']})" if rec["dist_src"] else "")
    click.echo(f"{rec['galaxy']}")
    click.echo(f"  aliases:  {', '.join(rec['aliases']) or '-'}")
    click.echo(f"  position: {pos}")
    click.echo(f"  distance: {dist}")
    click.echo(f"  files:    {len(rec['files'])}")
    if rec["files"]:
        click.echo("")
        from ..get import human_size

        rows = [{**f, "size": human_size(f["size"]),
                 "covers": {True: "yes", False: "no", None: "?"}[f["covers"]],
                 "offset": None if f["offset"] is None else round(f["offset"], 2)}
                for f in rec["files"]]
        output.table(rows, ["tracer", "survey", "product", "res", "depth_k", "size", "covers", "offset", "path"])
        output.info("res in arcsec, depth_k in K (1 km/s channel), offset of the field centre in arcmin")
    if rec["covering"]:
        click.echo("")
        click.echo(f"  also covering its position ({len(rec['covering'])} file(s) named for other galaxies):")
        output.table(rec["covering"], ["galaxy", "tracer", "survey", "res", "path"])


@click.command(cls=SelectionCommand)
@selection_options
@index_option
@format_option("text", "csv", "json")
@output_option("Write the matrix to this file instead of stdout (never overwrites); a .png, .pdf or "
               ".svg name draws it as a heatmap instead, the table still on stdout (needs "
               "matplotlib: pip install 'sfng[plot]').", aliases=("--png",))
@click.option("--sky", "sky", metavar="FILE.png", type=click.Path(dir_okay=False),
              help="Also draw where the selected files lie on the whole sky (Mollweide, ICRS, one marker "
                   "per survey; .png, .pdf or .svg; never overwrites; needs matplotlib).")
def summary(selection, index, fmt, out, sky):
    """The galaxy x tracer coverage matrix: the best resolution (arcsec) in each cell.

    '-' means no file, '?' files of unknown resolution. Any find selection narrows it.

    \b
    Examples:
      sfng summary
      sfng summary --format csv > coverage.csv
      sfng summary --format csv -o coverage.csv
      sfng summary --dist '<10' -o coverage.png
      sfng summary --line HI --sky hi-sky.png
    """
    from pathlib import Path

    from ..errors import SfngError
    from ..query import summary as query_summary

    if sky:
        from ..query import plot_sky

        if Path(sky).suffix.lower() not in IMAGE_SUFFIXES:
            raise SfngError(f"--sky {sky}: give a .png, .pdf or .svg name")
        plot_sky(index, sky, selection)
        output.info(f"wrote {sky}")
    s = query_summary(index, selection)
    if out and Path(out).suffix.lower() in IMAGE_SUFFIXES:
        s.plot(out)
        output.info(f"wrote {out}")
        out = None      # the table still goes to stdout
    if not s.galaxies:
        output.info("no files match the selection")
        if fmt == "json":
            _emit_text(_json_text(s.as_dict()), out)
        return
    if fmt == "json":
        _emit_text(_json_text(s.as_dict()), out)
    elif fmt == "csv":
        _emit_text(s.to_csv(), out)
    elif out:
        _emit_text(_table_text(s.rows(), ["galaxy", *s.tracers]), out)
    else:
        output.table(s.rows(), ["galaxy", *s.tracers])
        output.info(f"{len(s.galaxies)} galaxies x {len(s.tracers)} tracers; best resolution in arcsec")


@click.group()
def plot():
    """Pictures of the index (PNG; needs matplotlib: pip install 'sfng[plot]')."""


@plot.command("footprints")
@click.argument("galaxy_arg", metavar="[GALAXY]", required=False)
@click.option("--galaxy", metavar="NAME", help="The galaxy (any alias), as GALAXY.")
@output_option("The PNG to write (default: <GALAXY>_footprints.png).", metavar="FILE.png")
@index_option
def plot_footprints(galaxy_arg, galaxy, out, index):
    """Draw the footprints of all data on GALAXY (any alias) around its position.

    \b
    Examples:
      sfng plot footprints 'IC 342'                   writes IC_0342_footprints.png
      sfng plot footprints --galaxy M51 -o m51.png    --galaxy as in sfng find
    """
    from ..naming import encode_galaxy
    from ..query import plot_footprints as draw

    if galaxy and galaxy_arg and galaxy != galaxy_arg:
        raise click.UsageError("give the galaxy once: GALAXY or --galaxy NAME")
    galaxy = galaxy or galaxy_arg
    if not galaxy:
        raise click.UsageError("which galaxy? e.g. sfng plot footprints 'IC 342'")
    canon = index.resolve_galaxy(galaxy) or galaxy
    out = out or f"{encode_galaxy(canon)}_footprints.png"
    draw(index, galaxy, out)
    output.info(f"wrote {out}")


@plot.command("coverage")
@output_option("The PNG to write.", metavar="FILE.png", default="coverage.png", show_default=True)
@index_option
def plot_coverage(out, index):
    """Draw the galaxy x tracer matrix of `sfng summary` as a heatmap.

    \b
    Example:
      sfng plot coverage -o coverage.png
    """
    from ..query import summary as query_summary

    query_summary(index).plot(out)
    output.info(f"wrote {out}")
