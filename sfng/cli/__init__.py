"""The ``sfng`` command line: a thin layer of click commands over the library.

Each command group lives in its own module of this package and is imported only when it is
called (:class:`LazyGroup`), so that ``sfng find`` does not pay for astropy or astroquery
unless the query needs them.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import SfngError
from . import output
from .options import QUIET_HELP, VERBOSE_HELP, add_verbosity_options, store_path_option

#: command name -> "module:attribute" (modules under sfng.cli), in --help order.
COMMANDS = {
    "init": "init:init",
    "readme": "readme:readme",
    "names": "names:names",
    "ingest": "ingest:ingest",
    "links": "links:links",
    "validate": "validate:validate",
    "fix": "fix:fix",
    "galaxies": "galaxies:galaxies",
    "index": "index:index",
    "find": "find:find",
    "info": "find:info",
    "summary": "find:summary",
    "plot": "find:plot",
    "get": "get:get",
    "release": "release:release",
    "fsck": "fsck:fsck",
    "fetch": "fetch:fetch",
    "export": "export:export",
    "serve": "serve:serve",
    "derive": "derive:derive",
    "ml": "ml:ml",
    "site": "site:site",
    "provenance": "derive:provenance",
    "compare": "derive:compare",
    "token": "token:token",
    "spec": "spec:spec",
    "demo": "demo:demo",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return list(self.lazy) + sorted(set(super().list_commands(ctx)) - set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            mod, _, attr = self.lazy[name].partition(":")
            # -v/-q work after the subcommand too (sfng find -v ...), as before it
            return add_verbosity_options(getattr(importlib.import_module(f"sfng.cli.{mod}"), attr))
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SfngError as exc:
            output.error(str(exc))
            sys.exit(exc.exit_code)
        except OSError as exc:
            # Permission denied, read-only file system, full disk, file-size limit...: one clear
            # message, never a traceback (the writers leave nothing half-written: temporary names).
            from ..fsutil import os_error_message

            output.error(output.printable(os_error_message(exc)))
            sys.exit(1)


class Context:
    """What the group passes to every command: store choice and verbosity."""

    def __init__(self, store=None, verbosity=1):
        self.store_path = store
        self.verbosity = verbosity
        self._store = None

    def store(self, override=None):
        """The :class:`~sfng.store.Store` (discovered on first use)."""
        from ..store import Store

        if override:
            return Store.discover(override)
        if self._store is None:
            self._store = Store.discover(self.store_path)
        return self._store


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@store_path_option("store")
@click.option("-v", "--verbose", count=True, help=VERBOSE_HELP)
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
@click.version_option(__version__, "--version", prog_name="sfng")
@click.pass_context
def main(ctx, store, verbose, quiet):
    """sfng: find, trust and release the data of a Star Formation in Nearby Galaxies store.

    \b
    The main job, end to end, on a generated demo store:
        sfng demo demo-store
    \b
    Typical use:
        sfng init /data/sfng --name sfng         lay out a new store
        sfng ingest THINGS/ --ned-rename         bring a survey in under NED names
        sfng validate                            check the minimum FITS specification
        sfng index build                         (re)build SFNG-INDEX.fits
        sfng find --line CO10 '--res<15' '--dist<15'
        sfng release bundle NAME --galaxy 'IC 342'
    """
    ctx.obj = Context(store=store, verbosity=0 if quiet else 1 + verbose)
    output.set_verbosity(ctx.obj.verbosity)
    _ignore_file_size_signal()


def _ignore_file_size_signal() -> None:
    """A file-size limit (``ulimit -f``) then fails a write with EFBIG, which the writers report
    and clean up after, instead of SIGXFSZ killing sfng mid-write."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread (an embedding program)
            pass
    for stream in (sys.stdout, sys.stderr):
        # a file name that is not UTF-8 reaching a message is shown as \xNN (what `sfng find`
        # writes), never a traceback nor a byte that is not UTF-8
        if getattr(stream, "errors", None) in ("strict", "surrogateescape", "backslashreplace") \
                and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=output.SHOWN_ERRORS)
