"""``sfng validate``."""

import click

from . import output
from .options import format_option, store_path_option


def optional_store(obj, override, needed: bool):
    """The store when there is one; required only when ``needed`` (no PATH given)."""
    from ..errors import NotAStoreError

    try:
        return obj.store(override)
    except NotAStoreError:
        if needed:
            raise
        return None


def rules_filter(only, skip):
    from ..errors import SfngError
    from ..validate.rules import BY_ID

    for rid in (*only, *skip):
        if rid not in BY_ID:
            raise SfngError(f"unknown rule {rid!r}; `sfng validate --rules` lists them")
    if not only and not skip:
        return None
    return lambda rid: (not only or rid in only) and rid not in skip


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--tree", type=click.Choice(["data", "derived", "uncalibrated"]),
              help="Only this tree of the store (default: data/ and derived/).")
@click.option("--survey", help="Only this survey folder (with --tree, default data/).")
@click.option("--deep", is_flag=True, help="Also read the data: blank pixels and planes, measured rms (MAD).")
@click.option("--only", multiple=True, metavar="RULE", help="Report only this rule (repeatable).")
@click.option("--skip", multiple=True, metavar="RULE", help="Do not report this rule (repeatable).")
@click.option("--show", type=click.Choice(["errors", "warnings", "all"]), default="warnings",
              show_default=True, help="Which problems the text report lists per file ('all' adds the "
                                      "info notices, e.g. keys taken from the README).")
@click.option("--rules", "list_rules", is_flag=True, help="List the rules and exit.")
@store_path_option()
@format_option()
@click.pass_obj
@click.pass_context
def validate(ctx, obj, paths, tree, survey, deep, only, skip, show, list_rules, store_override, fmt):
    """Check files against the store's minimum FITS specification (rules 1-3: errors) and its
    desiderata (4-9: warnings), judging each file's header with its survey README's defaults.

    Without PATH: the whole store (data/ and derived/). Header-only unless --deep. Exit code 1
    when any file breaks a minimum rule.

    \b
    Examples:
        sfng validate                              the whole store
        sfng validate --survey THINGS              one survey folder
        sfng validate data/PAWS/*.fits --deep      read the data too
        sfng validate ~/incoming/x.fits            any file, in a store or not
        sfng validate --format json > report.json
        sfng validate --rules                      what is checked
    """
    from ..errors import SfngError
    from ..validate import Summary, validate_paths
    from ..validate.rules import RULES

    if list_rules:
        if fmt == "json":
            output.emit_json([r.__dict__ for r in RULES])
        else:
            output.table([{"rule": r.id, "level": r.level, "spec": r.spec,
                           "checks": r.title + (" (--deep)" if r.deep else ""),
                           "fix": "yes" if r.fix else "-"} for r in RULES])
        return
    store = optional_store(obj, store_override, needed=not paths)
    if survey and not tree:
        tree = "data"
    if survey and store is not None:
        folder = store.survey_dir(survey, tree)   # refuses '..' and '/' in the name
        if not folder.is_dir():
            known = ", ".join(store.surveys(tree)) or "none"
            raise SfngError(f"no survey folder {store.relpath(folder)}/ (surveys in {tree}/: {known})")
    keep = rules_filter(only, skip)
    levels = {"errors": ("error",), "warnings": ("error", "warning"),
              "all": ("error", "warning", "info")}[show]
    summary = Summary()
    reports = []
    # no per-file progress lines: -v prints each file's report below
    with output.Progress("validating", fmt, lines=False) as bar:
        for report in validate_paths(list(paths) or None, store=store, tree=tree, survey=survey, deep=deep,
                                     rules_filter=keep, progress=bar):
            summary.add(report)
            if fmt == "json":
                reports.append(report)
                continue
            if any(p.level in levels for p in report.problems) or (deep and report.stats) \
                    or output.verbosity() >= 2:
                click.echo(report.as_text(hints=False, levels=levels))
    if fmt == "json":
        output.emit_json({"summary": summary, "files": reports})
    else:
        if summary.files == 0:
            output.warn("no files to validate")
        click.echo(summary.as_text())
    if not summary.ok:
        ctx.exit(1)
