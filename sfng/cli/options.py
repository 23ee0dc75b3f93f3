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
