"""``sfng ingest SRC_DIR``: bring a survey folder into the store (logic in :mod:`sfng.ingest`)."""

import sys

import click

from . import output
from .options import dry_run_option, format_option, jobs_option, store_option


@click.command()
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--survey", help="Survey name, the folder under data/ (default: SRC_DIR's name).")
@click.option("--ned-rename", is_flag=True,
              help="Store files as <NED_NAME>.<original name>, the galaxy found from OBJECT or the "
                   "file name and resolved through NED (and its cache in tables/).")
@click.option("--tree", type=click.Choice(["data", "derived"]), default="data", show_default=True,
              help="data/ for observations, derived/ for products made from them.")
@click.option("--copy", "mode", flag_value="copy", default=True, help="Copy the files (default).")
@click.option("--move", "mode", flag_value="move",
              help="Move the files: each source is removed only after its landed copy is verified.")
@click.option("--link", "mode", flag_value="link",
              help="Hard-link the files where possible (same file system), else copy.")
@click.option("--readme", type=click.Path(exists=True, dir_okay=False),
              help="The survey README to land as <SURVEY>_README.txt (default: the one in SRC_DIR; "
                   "a template is created when there is none).")
@click.option("--version", "version", metavar="V",
              help="Land this data version of the survey in data/<SURVEY>@V/, beside the others "
                   "(default: the README's VERSION, else unversioned data/<SURVEY>/; "
                   "docs/versions.md).")
@jobs_option("Files landed", default=1)
@click.option("--offline", is_flag=True, default=None,
              help="Never ask NED; names must be in the store's NED cache or overrides.")
@click.option("--by-position", is_flag=True,
              help="For files giving no name, ask NED for the galaxy at the image centre (30 arcsec).")
@click.option("--force", is_flag=True,
              help="Land files failing a minimum validation rule in data/ anyway (default: they go "
                   "to uncalibrated/<SURVEY>/ with their report).")
@dry_run_option
@format_option()
@store_option
def ingest(src_dir, survey, ned_rename, tree, mode, readme, version, jobs, offline, by_position,
           force, dry_run, fmt, store):
    """Bring the survey folder SRC_DIR into the store, safely.

    Plans first (every file: destination, NED name and how it was found, problems), then lands
    each file through a temporary name, fsync, SHA-256 check and atomic rename, recording it in
    the folder's MANIFEST.sha256 (check with `sha256sum -c`). Nothing is ever overwritten: a
    rerun skips what is already there, a different file under the same name is a conflict.
    READMEs, PDFs and tables go to docs/<SURVEY>/ and tables/<SURVEY>/. A rerun after a crash
    (even kill -9) finishes or rolls back the interrupted work. Exit code 0 only when every file
    landed (or was already there).

    \b
    Examples:
        sfng ingest ~/downloads/THINGS --ned-rename --dry-run     see the plan
        sfng ingest ~/downloads/THINGS --ned-rename               land it in data/THINGS/
        sfng ingest mom0/ --survey THINGS --tree derived --ned-rename --jobs 4
        sfng ingest PAWS/ --ned-rename --offline --format json
        sfng ingest THINGS-v2/ --survey THINGS --version v2       land data/THINGS@v2/
    """
    from ..ingest import execute, plan_ingest

    def planned(i, n, what, stage="files"):
        if fmt == "text" and n >= 20 and (i == n or i % 50 == 0):
            output.info(f"planning: {i}/{n} {stage}")

    plan = plan_ingest(store, src_dir, survey=survey, tree=tree, ned_rename=ned_rename,
                       by_position=by_position, readme=readme, offline=offline, force=force,
                       progress=planned, version=version)
    if dry_run:
        if fmt == "json":
            output.emit_json(plan)
        else:
            _print_plan(plan, store)
        sys.exit(0 if plan.ok else 1)
    if fmt == "text" and output.verbosity() >= 2:
        _print_plan(plan, store)
    total = sum(1 for i in plan.items if i.action in ("land", "skip"))
    done = [0]

    with output.Progress("landing", fmt) as bar:
        def landed(outcome):
            if outcome.item.action not in ("land", "skip"):
                return
            done[0] += 1
            bar(done[0], total, f"{outcome.status} {outcome.item.dest}")

        report = execute(plan, mode=mode, jobs=jobs, progress=landed)
    if fmt == "json":
        output.emit_json(report)
    else:
        _print_report(report)
    sys.exit(0 if report.ok else 1)


def _dest_or_dash(item):
    return output.printable(item.dest) if item.dest else "-"


def _print_plan(plan, store):
    verb = {"land": "land", "skip": "same", "create": "create", "keep": "keep", "conflict": "CONFLICT",
            "error": "ERROR", "ignore": "ignore"}
    click.echo(f"plan: {plan.src_dir} -> {plan.tree}/{plan.survey}/ in {store.root} "
               f"({'NED names' if plan.ned_rename else 'names kept'}; validation {plan.validation})")
    for item in plan.items:
        rel = output.printable(item.rel) if item.rel else "(new)"
        line = f"  {verb.get(item.action, item.action):8s} {rel} -> {_dest_or_dash(item)}"
        if item.galaxy:
            line += f"  [{item.galaxy}"
            if item.companions:
                line += " + " + ", ".join(item.companions)
            line += "]"
        click.echo(line)
        if item.how and output.verbosity() >= 1 and item.kind == "data":
            click.echo(f"           found: {item.how}")
        for p in item.problems:
            click.echo(f"           problem: {p}")
        for n in item.notes:
            click.echo(f"           note: {n}")
    c = plan.counts()
    click.echo(f"{plan.survey}: {c['land']} to land ({c['to_uncalibrated']} to uncalibrated/), "
               f"{c['skip']} already there, {c['conflict']} conflict(s), {c['error']} error(s), "
               f"{c['ignore']} left in the source" + ("" if plan.ok else " -- not everything can land"))


def _print_report(report):
    for line in report.recovered:
        click.echo(f"  recovered: {line}")
    for o in report.outcomes:
        if not o.ok:
            click.echo(f"  {o.status.upper()}: {output.printable(o.item.rel or o.item.dest)}: {o.message}")
        elif o.status == "ignored" and output.verbosity() >= 1:
            click.echo(f"  left in source: {output.printable(o.item.rel)}: {o.message}")
        elif o.status == "created":
            click.echo(f"  created {output.printable(o.item.dest)}: {o.message}")
    click.echo(report.summary())
