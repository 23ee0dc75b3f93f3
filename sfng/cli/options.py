"""Options shared by the commands, each declared once here.

* ``--store DIR``     :data:`STORE_HELP`; :func:`store_option` (passes a :class:`~sfng.store.Store`)
  or :func:`store_path_option` (passes the path given, for commands where a store is optional);
* ``-o/--output``     :func:`output_option`: where a command's output goes, with hidden, deprecated
  old spellings (``--to``, ``--out``, ``--png``) kept working for one release;
* ``--format``        :func:`format_option`: ``text`` is the human format in every command (the
  old name ``table`` is a hidden, deprecated alias);
* ``-j/--jobs N``     :func:`jobs_option`: an integer from 1 to 64; the help gives each command's default;
* ``-n/--dry-run``    :data:`dry_run_option`;
* ``-v/-q``           :func:`add_verbosity_options`: also accepted after the subcommand;
* the selection of ``find``, ``get`` and ``release bundle``: :func:`selection_options`;
* ``--mask-bits NAMES`` :func:`mask_bits_option`: the SDSS bitmask bits (``sdssMaskbits.par``
  names) that reject data in ``ml prepare`` and ``ml labels``.
"""

from __future__ import annotations

import functools

import click

from . import output
from .completion import from_index


def deprecated(old: str, new: str, how: str = "use") -> None:
    """The one-line note an old spelling prints on stderr (it still works, for one release)."""
    output.warn(f"{old} is deprecated; {how} {new} (the old spelling goes in the next release)")


# -- --store ---------------------------------------------------------------------------------------

STORE_HELP = "Store root (default: the nearest folder upwards holding sfng.yaml, else $SFNG_STORE)."


def store_path_option(dest: str = "store_override"):
    """``--store DIR`` passing the path as given (``dest``; None when not given)."""
    return click.option("--store", dest, type=click.Path(file_okay=False), help=STORE_HELP)


def store_option(f):
    """``--store DIR`` on a command (overrides the group's ``--store``); passes ``store``."""

    @store_path_option()
    @click.pass_obj
    @functools.wraps(f)
    def wrapper(obj, *args, store_override=None, **kwargs):
        return f(*args, store=obj.store(store_override), **kwargs)

    return wrapper


# -- -o/--output -----------------------------------------------------------------------------------

OUTPUT_FLAGS = ("-o", "--output")


def _alias_dest(dest: str, alias: str) -> str:
    return f"{dest}__{alias.lstrip('-').replace('-', '_')}"


def output_option(help: str, *, dest: str = "out", kind: str = "file", metavar: str | None = None,
                  aliases: tuple[str, ...] = (), required: bool = False, **kwargs):
    """``-o/--output PATH``: where the command's output goes, passed as ``dest``.

    ``kind`` is ``"file"`` or ``"dir"``. Each of ``aliases`` (an old spelling, e.g. ``"--to"``) is
    a hidden option that still works, writes to the same ``dest`` and prints a deprecation note;
    giving both spellings is a usage error. ``required`` is checked after the aliases (so the old
    spelling satisfies it); other ``kwargs`` go to :func:`click.option` (``default=`` ...).
    """
    path_type = click.Path(dir_okay=False) if kind == "file" else click.Path(file_okay=False)
    metavar = metavar or ("FILE" if kind == "file" else "DIR")
    text = help + (" Required." if required else "")

    def decorator(f):
        @click.option(*OUTPUT_FLAGS, dest, type=path_type, metavar=metavar, help=text, **kwargs)
        @functools.wraps(f)
        def wrapper(*args, **kw):
            ctx = click.get_current_context()
            given = ctx.get_parameter_source(dest) == click.core.ParameterSource.COMMANDLINE
            for alias in aliases:
                old = kw.pop(_alias_dest(dest, alias), None)
                if old is None:
                    continue
                if given:
                    raise click.UsageError(f"give -o/--output once ({alias} is its old spelling)", ctx)
                deprecated(alias, "-o/--output")
                kw[dest], given = old, True
            if required and kw.get(dest) is None:
                param = next(p for p in ctx.command.params if p.name == dest)
                raise click.MissingParameter(ctx=ctx, param=param)
            return f(*args, **kw)

        for alias in aliases:
            wrapper = click.option(alias, _alias_dest(dest, alias), type=path_type, hidden=True,
                                   metavar=metavar, help="Deprecated spelling of -o/--output.")(wrapper)
        return wrapper

    return decorator


# -- --format --------------------------------------------------------------------------------------

#: old format name -> its name now; accepted (with a deprecation note) wherever the new name is.
FORMAT_ALIASES = {"table": "text"}


class FormatChoice(click.Choice):
    """A :class:`click.Choice` that also takes the deprecated names of :data:`FORMAT_ALIASES`
    (not listed in help or completion)."""

    def __init__(self, choices, aliases=None):
        super().__init__(choices)
        self.aliases = {old: new for old, new in (aliases or FORMAT_ALIASES).items() if new in choices}

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value in self.aliases:
            deprecated(f"--format {value}", f"--format {self.aliases[value]}")
            value = self.aliases[value]
        return super().convert(value, param, ctx)


def _format_help(choices) -> str:
    tools = [c for c in choices if c != "text"]
    return ("Output format: text for people" + (f"; {', '.join(tools)} for tools" if tools else "") + ".")


def format_option(*choices, default="text", help=None):
    """``--format`` with the given choices (``text`` and ``json`` unless told); ``text`` is the
    human format's one name everywhere (``table`` still works, deprecated)."""
    choices = choices or ("text", "json")
    return click.option("--format", "fmt", type=FormatChoice(choices), default=default, show_default=True,
                        help=help or _format_help(choices))


# -- -j/--jobs -------------------------------------------------------------------------------------

JOBS_MAX = 64


class JobsType(click.ParamType):
    """An integer from 1 to :data:`JOBS_MAX`. ``0`` (once index build's "one per core") is taken,
    deprecated, as "the command's default"."""

    name = "integer"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= JOBS_MAX:
            return value
        try:
            n = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an integer", param, ctx)
        if n == 0:
            deprecated("--jobs 0", "--jobs for the default", how="leave out")
            return None
        if not 1 <= n <= JOBS_MAX:
            self.fail(f"{n} is not from 1 to {JOBS_MAX}", param, ctx)
        return n


def jobs_option(what: str, default: int | None = None, default_text: str | None = None, note: str = ""):
    """``-j/--jobs N`` passing ``jobs``: how many of ``what`` run in parallel. The default is
    ``default``, or (None) the library's own, which ``default_text`` describes; the help says
    which, in the same words for every command; ``note`` is appended."""

    def fill_default(ctx, param, value):
        return default if value is None else value

    return click.option("--jobs", "-j", "jobs", type=JobsType(), default=default, metavar="N",
                        callback=fill_default,
                        help=f"{what} in parallel: {jobs_help(default_text or default)}"
                             + (f" {note}" if note else ""))


def jobs_help(default) -> str:
    """The part of ``--jobs``'s help every command shares."""
    return f"an integer from 1 to {JOBS_MAX} (default: {default})."


# -- -n/--dry-run ----------------------------------------------------------------------------------

dry_run_option = click.option("--dry-run", "-n", is_flag=True,
                              help="Show what would be done; change nothing.")


# -- -v/-q after the subcommand --------------------------------------------------------------------

VERBOSE_HELP = "Say more (repeat for debug detail)."
QUIET_HELP = "Only errors and the requested output."


def _set_verbosity(level: int) -> None:
    output.set_verbosity(level)
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if obj is not None and hasattr(obj, "verbosity"):
        obj.verbosity = level


def _verbose_cb(ctx, param, value):
    if value:
        _set_verbosity(output.verbosity() + value)


def _quiet_cb(ctx, param, value):
    if value:
        _set_verbosity(0)


def verbosity_params() -> list[click.Option]:
    """``-v/--verbose`` and ``-q/--quiet`` for a subcommand (as the group's, which they adjust:
    ``sfng find -v`` is ``sfng -v find``)."""
    return [click.Option(["-v", "--verbose"], count=True, expose_value=False, is_eager=True,
                         callback=_verbose_cb, help=VERBOSE_HELP),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                         callback=_quiet_cb, help=QUIET_HELP)]


def add_verbosity_options(cmd: click.Command) -> click.Command:
    """Give ``cmd`` and, for a group, every command under it ``-v`` and ``-q`` (once)."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_verbosity_options(sub)
        return cmd
    names = {p.name for p in cmd.params}
    if "verbose" not in names and "quiet" not in names:
        cmd.params.extend(verbosity_params())
    return cmd


# -- --mask-bits -----------------------------------------------------------------------------------

def mask_bits_option(flag: str, example: str, default: str = "DONOTUSE"):
    """``--mask-bits NAME[,NAME...]``: the bits of the SDSS bitmask ``flag`` (e.g.
    ``MANGA_DAPPIXMASK``; names from the shipped ``sdssMaskbits.par``, case-insensitive) that
    reject data; passes ``mask_bits``, a tuple of upper-case names.  An unknown name is a usage
    error (exit 2) listing the mask's names."""

    def names(ctx, param, value):
        from ..errors import SfngError
        from ..ml.maskbits import bitmask

        got = tuple(dict.fromkeys(v.strip().upper() for v in str(value).split(",") if v.strip()))
        if not got:
            raise click.BadParameter(f"name at least one {flag} bit (e.g. {default})", ctx, param)
        try:
            bitmask(flag, got)
        except SfngError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
        return got

    return click.option("--mask-bits", "mask_bits", default=default, show_default=True, metavar="NAMES",
                        callback=names,
                        help=f"{flag} bits that reject data: comma-separated names from sdssMaskbits.par "
                             f"(e.g. {example}); recorded in the product's MASKBITS card.")


# -- the selection shared by find, get and release bundle ----------------------------------------

class SelectionCommand(click.Command):
    """A command taking :func:`selection_options`: also accepts the glued form ``'--res<15'``."""

    def parse_args(self, ctx, args):
        from ..select import unglue

        return super().parse_args(ctx, unglue(list(args)))


_SELECTION_KEYS = ("tracers", "res", "dist", "depth", "depth_chan", "chan", "res_pc", "date", "galaxies",
                   "surveys", "trees", "types", "bunits", "valid", "near", "radius", "cone",
                   "polygon", "moc", "where", "has", "lacks", "versions", "all_versions")


def selection_options(f=None, *, version_alias: bool = True):
    """The selection options; the command receives one ``selection=`` (:class:`sfng.select.Selection`).

    Use with ``@click.command(cls=SelectionCommand)`` so that ``'--res<15'`` works too.
    ``version_alias=False`` leaves out the short ``--version V`` spelling of ``--data-version``
    (``sfng release bundle`` has its own ``--version`` flag).
    """
    if f is None:
        return functools.partial(selection_options, version_alias=version_alias)
    opts = [
        click.option("--line", "--tracer", "tracers", multiple=True, metavar="TRACER",
                     shell_complete=from_index("tracer"),
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
        click.option("--date", metavar="CMP",
                     help="Observation start (mjd_obs, UTC): '>2015-01-01', '<=2015-06-30T12:00', "
                          "2015..2016, '>MJD57000', '=2015-03-01' (that day)."),
        click.option("--galaxy", "galaxies", multiple=True, metavar="NAME", shell_complete=from_index("galaxy"),
                     help="Galaxy, any alias ('IC 342', IC0342, ic342) (repeat = or)."),
        click.option("--survey", "surveys", multiple=True, metavar="NAME", shell_complete=from_index("survey"),
                     help="Survey folder (repeat = or)."),
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
        click.option("--moc", metavar="FILE",
                     help="Footprint overlaps this MOC (MOC FITS, e.g. from `sfng export moc`, "
                          "Aladin or TOPCAT; needs 'sfng[moc]')."),
        click.option("--where", metavar="EXPR",
                     help="Expression over index columns: \"res < 15arcsec and (depth_k <= 1K or survey = 'PAWS')\"."),
        click.option("--has", multiple=True, metavar="TERM",
                     help="Galaxies with files of this tracer, optionally constrained: --has CO10 --has 'MIPS24 res<10'."),
        click.option("--lacks", multiple=True, metavar="TERM", help="Galaxies without files of this tracer: --lacks HALPHA."),
        click.option(*(("--data-version", "--version") if version_alias else ("--data-version",)),
                     "versions", multiple=True, metavar="V",
                     help="Data version of the survey (data/SURVEY@V/; '' the unversioned folder) "
                          "instead of the current one (repeat = or; docs/versions.md)."),
        click.option("--all-versions", "all_versions", is_flag=True, default=None,
                     help="Every data version, not only the current one of each survey."),
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
    @store_path_option()
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
    try:
        parent = Path(index_path).resolve().parent
    except (OSError, RuntimeError):  # a symlink loop: Index.open says what is wrong with the path
        return None
    if (parent / CONFIG_NAME).is_file():
        try:
            return Store.open(parent)
        except NotAStoreError:
            return None
    return None


def target_option(f):
    """``--to RES`` of ``sfng derive convolve``: the target resolution (15arcsec, 500pc, common).
    Not an output: the one ``--to`` that is no old spelling of ``-o/--output``."""
    return click.option("--to", "to", metavar="RES",
                        help="Target resolution: 15arcsec, 0.5arcmin, 500pc, 1kpc or common.")(f)

