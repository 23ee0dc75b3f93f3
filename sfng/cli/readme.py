"""``sfng readme``: survey README metadata."""

import click

from . import output
from .options import dry_run_option, format_option, store_option


@click.group()
def readme():
    """Survey README metadata (the KEYWORD = VALUE lines before '---')."""


def _parse_sets(sets):
    from ..readme import cast_value

    values = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        values[key.strip()] = cast_value(value)
    return values


@readme.command("new")
@click.argument("survey")
@click.option("--tree", type=click.Choice(["data", "derived"]), default="data", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Set a metadata keyword (repeatable), e.g. --set BUNIT=K --set BMAJ=4.1667e-3.")
@dry_run_option
@format_option()
@store_option
def readme_new(survey, tree, sets, dry_run, fmt, store):
    """Write a template <SURVEY>_README.txt for SURVEY (never overwrites one).

    \b
    Examples:
        sfng readme new HERACLES --set BUNIT=K --set BMAJ=3.7e-3 --dry-run
        sfng readme new MOM0 --tree derived
    """
    from ..errors import SfngError
    from ..fsutil import atomic_write_text
    from ..readme import template

    path = store.readme_path(survey, tree)
    try:
        text = template(survey, _parse_sets(sets))
    except ValueError as exc:
        raise SfngError(str(exc)) from exc
    if path.exists():
        try:
            same = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise SfngError(f"{path} exists; edit it, or remove it first (sfng never overwrites a file)")
    already = path.exists()  # the same text: a rerun (after a kill, say) has nothing to do
    if not dry_run and not already:
        from ..fsutil import remove_stale_temporaries

        if path.parent.is_dir():
            remove_stale_temporaries(path.parent)  # a killed earlier run's
        atomic_write_text(path, text)
    if fmt == "json":
        output.emit_json({"path": store.relpath(path), "written": not dry_run and not already, "text": text})
    elif dry_run:
        click.echo(text, nl=False)
    elif already:
        click.echo(f"{store.relpath(path)} is already there as asked; nothing written")
    else:
        click.echo(f"wrote {store.relpath(path)}")


@readme.command("show")
@click.argument("survey")
@click.option("--tree", type=click.Choice(["data", "derived"]), default="data", show_default=True)
@format_option()
@store_option
def readme_show(survey, tree, fmt, store):
    """Show the metadata of SURVEY's README, with types and line numbers.

    \b
    Examples:
        sfng readme show THINGS
        sfng readme show MOM0 --tree derived --format json
    """
    from ..errors import SfngError
    from ..readme import read_readme

    path = store.readme_path(survey, tree)
    if not path.is_file():
        raise SfngError(f"no README for survey {survey!r} in {tree}/ (expected {path}); "
                        f"write one with `sfng readme new {survey}`")
    doc = read_readme(path)
    if fmt == "json":
        output.emit_json({"path": str(path), "has_metadata_block": doc.has_metadata_block,
                          "metadata": doc.metadata, "lines": doc.lines})
        return
    click.echo(f"{store.relpath(path)}")
    if not doc.has_metadata_block:
        click.echo("  no metadata block (no '---' line): the README supplies no keywords")
        return
    rows = [{"line": doc.lines[k], "keyword": k, "value": repr(v) if isinstance(v, str) else v,
             "type": type(v).__name__} for k, v in doc.metadata.items()]
    output.table(rows)
