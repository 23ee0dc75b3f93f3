"""``sfng spec``: talk to an ``sfng serve`` service (logic in :mod:`sfng.client`)."""

import json
import sys

import click

from . import output
from .options import format_option, output_option


def _client_options(f):
    f = click.option("--curl", "show_curl", is_flag=True, help="Print the equivalent curl command and stop.")(f)
    f = click.option("--token", envvar="SFNG_TOKEN", help="Access token (default $SFNG_TOKEN).")(f)
    f = click.option("--url", envvar="SFNG_URL", default="http://127.0.0.1:8770", show_default=True,
                     help="The service (default $SFNG_URL).")(f)
    return f


def _ids(values) -> list:
    out = []
    for v in values:
        if v == "-":
            out += sys.stdin.read().split()
        elif v.startswith("@"):
            with open(v[1:], encoding="utf-8") as f:
                text = f.read().strip()
            out += json.loads(text) if text.startswith("[") else text.split()
        else:
            out.append(v)
    return out


@click.group()
def spec():
    """Query a data service and get spectra, previews and files from it."""


@spec.command("query")
@click.option("--ra", type=float, help="Cone centre RA, degrees.")
@click.option("--dec", type=float, help="Cone centre Dec, degrees.")
@click.option("--size", type=float, help="Cone radius, degrees.")
@click.option("--region", metavar="'RA,DEC RA,DEC ...'", help="Polygon vertices, degrees.")
@click.option("--constraint", metavar="EXPR", help="As sfng find --where: \"survey = 'MANGA'\".")
@click.option("--limit", type=int, help="At most this many ids.")
@click.option("--offset", type=int, help="Skip this many ids first.")
@format_option(help="Output format: text (one id a line) for people; json (a list) for tools.")
@_client_options
def query(ra, dec, size, region, constraint, limit, offset, fmt, url, token, show_curl):
    """Print the ids of the spectra a region and/or constraint selects, one a line.

    \b
    Example:
        sfng spec query --ra 232.5447 --dec 48.6902 --size 0.0005 > ids.txt
    """
    from ..client import Client

    c = Client(url, token=token)
    poly = None
    if region:
        poly = [tuple(float(x) for x in v.split(",")) for v in region.split()]
    if show_curl:
        body = {k: v for k, v in dict(ra=ra, dec=dec, size=size, constraint=constraint, limit=limit,
                                       offset=offset).items() if v is not None}
        if poly:
            body["region"] = [list(p) for p in poly]
        click.echo(c.curl("query", **body))
        return
    got = c.query(poly, ra, dec, size, constraint=constraint, limit=limit, offset=offset)
    if fmt == "json":
        output.emit_json(got)
        return
    for i in got:
        click.echo(i)


@spec.command("get")
@click.argument("ids", nargs=-1, required=True)
@click.option("--fmt", "wire", type=click.Choice(["npz", "npy", "fits", "votable", "ecsv"]), default="fits",
              show_default=True, help="Format of the spectra (npz, npy: np.load(f, allow_pickle=False); npz "
                                      "sends a shared wavelength grid once).")
@click.option("--align", is_flag=True, help="Resample onto one common grid (flux-conserving).")
@click.option("--cutout", metavar="LO-HI", help="Spectral range in the axis' units, e.g. 6500-7200.")
@output_option("Write the spectra here (default: standard output).")
@format_option(help="Output format of the report (with -o): text for people; json for tools.")
@_client_options
def get(ids, wire, align, cutout, out, fmt, url, token, show_curl):
    """Get the spectra IDS (ids, '-' for standard input, @FILE for a file of ids).

    \b
    Example:
        sfng spec query --ra 232.5447 --dec 48.6902 --size 0.0005 | sfng spec get - --align -o spectra.fits
    """
    from ..client import Client

    c = Client(url, token=token)
    id_list = _ids(ids)
    if show_curl:
        body = {"id_list": id_list, "fmt": wire, "align": align}
        if cutout:
            body["cutout"] = cutout
        click.echo(c.curl("getSpec", **body) + (f" -o {out}" if out else ""))
        return
    raw = c.getSpec(id_list, fmt=wire, align=align, cutout=cutout)
    if out:
        with open(out, "wb") as f:
            f.write(raw)
        if fmt == "json":
            output.emit_json({"spectra": len(id_list), "path": out, "bytes": len(raw), "format": wire})
        else:
            output.info(f"{len(id_list)} spectra -> {out} ({len(raw)} bytes)")
    else:
        sys.stdout.buffer.write(raw)


@spec.command("preview")
@click.argument("id")
@output_option("PNG file to write.", required=True)
@format_option()
@_client_options
def preview(id, out, fmt, url, token, show_curl):  # noqa: A002
    """Save a PNG preview of one spectrum."""
    from ..client import Client

    c = Client(url, token=token)
    if show_curl:
        click.echo(c.curl("preview", id=id) + f" -o {out}")
        return
    png = c.preview(id)
    with open(out, "wb") as f:
        f.write(png)
    if fmt == "json":
        output.emit_json({"id": id, "path": out, "bytes": len(png)})
