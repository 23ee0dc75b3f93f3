"""Printing for the CLI: human text on stdout, messages on stderr, JSON for tools."""

from __future__ import annotations

import codecs
import json
import sys

import click

from ..numbers import value_text

_VERBOSITY = 1


def set_verbosity(level: int) -> None:
    global _VERBOSITY
    _VERBOSITY = level


def verbosity() -> int:
    return _VERBOSITY


def info(msg: str) -> None:
    """A progress or status message (stderr; hidden by --quiet)."""
    if _VERBOSITY >= 1:
        click.echo(msg, err=True)


def debug(msg: str) -> None:
    if _VERBOSITY >= 2:
        click.echo(msg, err=True)


class Progress:
    """The one progress display of every long command (ingest, validate, index, get, fetch,
    export): a bar on stderr when stderr is a terminal and the output is for people (``text``,
    no ``--quiet``); one line per item instead with ``-v``; nothing at all on a pipe or a file
    unless ``-v`` asks for the lines (``lines=False``: the command prints its own per-item
    lines with ``-v``).  Call it with ``(done, total[, item])``; use it as a context manager so
    the bar is closed whatever happens."""

    def __init__(self, label: str, fmt: str = "text", lines: bool = True):
        self.label = label
        self.lines = lines and fmt == "text" and _VERBOSITY >= 2
        self.bar_wanted = fmt == "text" and _VERBOSITY == 1 and sys.stderr.isatty()
        self._bar = None

    def __call__(self, done: int, total: int | None, item=None) -> None:
        if self.lines:
            if item is not None:
                click.echo(printable(f"[{done}/{total}] {item}"), err=True)
            return
        if not self.bar_wanted:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(int(total or 0), 1), label=self.label, file=sys.stderr,
                                          show_pos=True)
            self._bar.__enter__()
        self._bar.update(max(0, int(done) - self._bar.pos))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def warn(msg: str) -> None:
    click.echo(click.style("warning: ", fg="yellow") + msg, err=True)


def error(msg: str) -> None:
    click.echo(click.style("error: ", fg="red") + msg, err=True)


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=_default, sort_keys=False))


def _default(o):
    import math
    from pathlib import Path

    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "as_dict"):
        return o.as_dict()
    if hasattr(o, "item"):  # numpy scalars
        v = o.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def table(rows: list[dict], columns: list[str] | None = None, file=None, units: dict | None = None) -> None:
    """An aligned text table of ``rows`` (dicts) on stdout; ``units`` (column -> unit) go into
    the header as ``res (arcsec)``.  Floats are shown as written (:func:`_cell`), positions to
    1e-6 degree."""
    if not rows:
        return
    columns = columns or list(rows[0])
    units = units or {}
    heads = [f"{c} ({units[c]})" if units.get(c) else c for c in columns]
    cells = [[_cell(r.get(c), c) for c in columns] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    out = file or sys.stdout
    click.echo("  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip(), file=out)
    click.echo("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=out)


def _shown_errors(exc):
    """Codec error handler: a surrogate escape (a file name's byte that is not UTF-8) as
    ``\\xNN``, anything else the stream cannot encode as ``\\uNNNN``."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF
                   else c.encode("ascii", "backslashreplace").decode("ascii") for c in bad), exc.end


#: The ``errors`` the CLI gives stdout and stderr (see :func:`_shown_errors`).
SHOWN_ERRORS = "sfng-shown"
codecs.register_error(SHOWN_ERRORS, _shown_errors)


def shown(text) -> str:
    """``text`` as UTF-8 can carry it (:func:`sfng.naming.shown`: the bytes of a file name that
    is not UTF-8 as ``\\xNN``)."""
    from ..naming import shown as _shown

    return _shown(text)


def printable(text) -> str:
    """``text`` for a terminal line: control characters (a newline in a file name) shown as
    escapes, so that a hostile name cannot fake or break lines of a report; the bytes of a
    name that is not UTF-8 as ``\\xNN``."""
    text = str(text)
    if text.isprintable():
        return text
    text = shown(text)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)




def _cell(v, column: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        return value_text(v, column)
    if isinstance(v, (list, tuple)):
        return ",".join(_cell(x, column) for x in v)
    return printable(v)




def landed_report(rep) -> None:
    """Print a landing report (``.landed``, ``.skipped``, ``.failed``) of the commands that make
    products (derive, ml): one line a file, failures on stderr."""
    for p in rep.landed:
        click.echo(f"made: {p}")
    for p, why in rep.skipped:
        click.echo(f"already there: {p} ({why})")
    for p, why in rep.failed:
        warn(f"{p}: {why}")
