"""Option decorators shared by several commands, declared once."""

from __future__ import annotations

import functools

import click


def store_option(f):
    """``--store PATH`` on a command (overrides the group's ``--store``); passes ``store``."""

    @click.option("--store", "store_override", type=click.Path(file_okay=False),
                  help="Store root (default: discovered from the current folder or $SFNG_STORE).")
    @click.pass_obj
    @functools.wraps(f)
    def wrapper(obj, *args, store_override=None, **kwargs):
        return f(*args, store=obj.store(store_override), **kwargs)

    return wrapper


def format_option(*choices, default="text"):
    """``--format`` with the given choices (``text`` and ``json`` unless told)."""
    choices = choices or ("text", "json")
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format: text for people, json (etc.) for tools.")


dry_run_option = click.option("--dry-run", "-n", is_flag=True,
                              help="Show what would be done; change nothing.")


# -- the selection shared by find, get and release bundle ----------------------------------------

class SelectionCommand(click.Command):
    """A command taking :func:`selection_options`: also accepts the glued form ``'--res<15'``."""

    def parse_args(self, ctx, args):
        from ..select import unglue

        return super().parse_args(ctx, unglue(list(args)))


_SELECTION_KEYS = ("tracers", "res", "dist", "depth", "depth_chan", "chan", "res_pc", "galaxies",
                   "surveys", "trees", "types", "bunits", "valid", "near", "radius", "cone",
                   "polygon", "where", "has", "lacks")


def selection_options(f):
    """The selection options; the command receives one ``selection=`` (:class:`sfng.select.Selection`).

    Use with ``@click.command(cls=SelectionCommand)`` so that ``'--res<15'`` works too.
    """
    opts = [
        click.option("--line", "--tracer", "tracers", multiple=True, metavar="TRACER",
                     help="Tracer, any alias: CO10, 'CO(1-0)', 12CO10, HI, HALPHA, MIPS24 ... (repeat = or)."),
        click.option("--res", metavar="CMP",
                     help="Angular resolution, arcsec unless a unit is given: '<15', '<=15', 5..15, '<0.25arcmin'."),
        click.option("--dist", metavar="CMP", help="Galaxy distance, Mpc: '<15', 5..20, '<15000kpc'."),
        click.option("--depth", metavar="CMP",
                     help="rms in K in a 1 km/s channel (or --depth-chan): '<=1', '<=1K', '<50mK'."),
        click.option("--depth-chan", "depth_chan", metavar="WIDTH",
                     help="Channel width for --depth, km/s unless a unit is given: 2.5kms, 5."),
        click.option("--chan", metavar="CMP", help="Native channel width, km/s: '<=5', '<2.5kms'."),
        click.option("--res-pc", "res_pc", metavar="CMP",
                     help="Physical resolution at the galaxy's distance, pc: '<300', '<0.5kpc'."),
        click.option("--galaxy", "galaxies", multiple=True, metavar="NAME",
                     help="Galaxy, any alias ('IC 342', IC0342, ic342) (repeat = or)."),
        click.option("--survey", "surveys", multiple=True, metavar="NAME", help="Survey folder (repeat = or)."),
        click.option("--tree", "trees", multiple=True, type=click.Choice(["data", "derived"]),
                     help="Store tree."),
        click.option("--type", "types", multiple=True, metavar="TYPE",
                     help="Product type: image, cube, spectra, table (repeat = or)."),
        click.option("--bunit", "bunits", multiple=True, metavar="UNIT", help="BUNIT, e.g. K, 'Jy/beam'."),
        click.option("--valid/--invalid", "valid", default=None,
                     help="Only files that passed (failed) validation."),
        click.option("--near", metavar="NAME", help="Footprint overlaps a cone around this galaxy ..."),
        click.option("--radius", metavar="ANGLE", help="... of this radius, arcmin unless a unit is given (default 1arcmin)."),
        click.option("--cone", nargs=3, metavar="RA DEC RADIUS", default=None,
                     help="Footprint overlaps this cone: RA, Dec in degrees (or 03:46:48 +68:05:46), radius arcmin unless a unit is given."),
        click.option("--polygon", metavar="'RA,DEC RA,DEC ...'",
                     help="Footprint overlaps this polygon (degrees, at least 3 vertices)."),
        click.option("--where", metavar="EXPR",
                     help="Expression over index columns: \"res < 15arcsec and (depth_k <= 1K or survey = 'PAWS')\"."),
        click.option("--has", multiple=True, metavar="TERM",
                     help="Galaxies with files of this tracer, optionally constrained: --has CO10 --has 'MIPS24 res<10'."),
        click.option("--lacks", multiple=True, metavar="TERM", help="Galaxies without files of this tracer: --lacks HALPHA."),
    ]

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from ..select import Selection

        values = {k: kwargs.pop(k, None) for k in _SELECTION_KEYS}
        kwargs["selection"] = Selection.build(**values)
        return f(*args, **kwargs)

    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def index_option(f):
    """``--index PATH`` (a downloaded SFNG-INDEX.fits), ``--store`` and ``--allow-stale``; passes
    ``index`` (a :class:`sfng.query.Index`; ``index.store`` is None for an index used without
    its store)."""

    @click.option("--index", "index_path", type=click.Path(dir_okay=False),
                  help="Query this SFNG-INDEX.fits (default: the store's). Works without a store.")
    @click.option("--store", "store_override", type=click.Path(file_okay=False),
                  help="Store root (default: discovered from the current folder or $SFNG_STORE).")
    @click.option("--allow-stale", is_flag=True,
                  help="Query the index even if the store changed after it was built.")
    @click.pass_obj
    @functools.wraps(f)
    def wrapper(obj, *args, index_path=None, store_override=None, allow_stale=False, **kwargs):
        import os

        # A query does no linear algebra, and OpenBLAS starting a thread per core when numpy is
        # imported costs more CPU than a query on a million rows (a user's setting wins).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from ..query import load_index

        store = _store_for(obj, index_path, store_override)
        kwargs["index"] = load_index(index_path, store, allow_stale=allow_stale)
        return f(*args, **kwargs)

    return wrapper


def _store_for(obj, index_path, store_override):
    """The store, when there is one: required without --index, optional with it."""
    from pathlib import Path

    from ..errors import NotAStoreError
    from ..store import CONFIG_NAME, Store

    if index_path is None:
        try:
            return obj.store(store_override)
        except NotAStoreError as exc:
            raise NotAStoreError(f"{exc}; or query a downloaded index with --index PATH") from exc
    if store_override:
        return Store.discover(store_override)
    parent = Path(index_path).resolve().parent
    if (parent / CONFIG_NAME).is_file():
        try:
            return Store.open(parent)
        except NotAStoreError:
            return None
    return None
