"""``sfng token``: access tokens of ``sfng serve`` (logic in :mod:`sfng.serve.tokens`)."""

import click

from . import output
from .options import format_option, store_option


@click.group()
def token():
    """Access tokens of the data service, kept hashed in tables/tokens.json."""


@token.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, default=("read",), show_default=True,
              type=click.Choice(["read", "download", "admin"]),
              help="What the token may do (repeat): read (queries, spectra), download (whole files), admin.")
@click.option("--note", default="", help="A note kept with the token.")
@format_option()
@store_option
def add(name, scopes, note, fmt, store):
    """Make a token NAME and print it once: it is stored only as a salted hash.

    \b
    Example:
        export SFNG_TOKEN=$(sfng token add alice --scope read --format json | jq -r .token)
    """
    from ..serve.tokens import add_token

    tok, rec = add_token(store.root, name, scopes, note)
    if fmt == "json":
        output.emit_json({"token": tok, **rec.public()})
    else:
        click.echo(tok)
        output.info(f"token {rec.name!r} ({', '.join(rec.scopes)}): shown once, keep it; "
                    f"`sfng token revoke {rec.name}` withdraws it")


@token.command("list")
@format_option()
@store_option
def list_(fmt, store):
    """The tokens (names, scopes, dates; never the tokens themselves)."""
    from ..serve.tokens import read_tokens

    rows = [r.public() for r in read_tokens(store.root).records]
    if fmt == "json":
        output.emit_json(rows)
    else:
        output.table([dict(r, scopes=",".join(r["scopes"]), revoked=r["revoked"] or "") for r in rows],
                     ["name", "key", "scopes", "created", "revoked", "note"])


@token.command("revoke")
@click.argument("name")
@format_option()
@store_option
def revoke(name, fmt, store):
    """Revoke the token NAME (or its key): a running server refuses it at once."""
    from ..serve.tokens import revoke_token

    rec = revoke_token(store.root, name)
    if fmt == "json":
        output.emit_json(rec.public())
        return
    click.echo(f"revoked token {rec.name!r} ({rec.key})")
