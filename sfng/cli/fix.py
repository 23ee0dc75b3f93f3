"""``sfng fix``."""

import click

from . import output
from .options import dry_run_option, format_option, output_option, store_path_option


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())  # missing: told per file (a
# killed --land moved it already: the rerun finishes that from the journal)
@output_option("Write corrected copies into this folder (never overwrites).", dest="out_dir", kind="dir",
               aliases=("--out",))
@click.option("--in-place", is_flag=True,
              help="Replace each file by its corrected version, keeping the original under "
                   "<store>/.sfng/backup/<time>/ (or --backup-dir).")
@click.option("--backup-dir", type=click.Path(file_okay=False), help="Where --in-place keeps originals.")
@click.option("--land", "land_in_data", is_flag=True,
              help="For files in uncalibrated/<SURVEY>/: once fixed and passing the minimum rules, "
                   "move them into data/<SURVEY>/ (manifest updated).")
@click.option("--drop-stokes", is_flag=True,
              help="Drop a trailing length-1 Stokes axis with CDELT = 0 instead of setting CDELT = 1.")
@click.option("--no-readme-keys", is_flag=True, help="Do not write README-only keys into the headers.")
@click.option("--only", multiple=True, metavar="RULE", help="Repair only this rule's problems (repeatable).")
@store_path_option()
@dry_run_option
@format_option()
@click.pass_obj
@click.pass_context
def fix(ctx, obj, paths, out_dir, in_place, backup_dir, land_in_data, drop_stokes, no_readme_keys, only,
        store_override, dry_run, fmt):
    """Repair what `sfng validate` finds, header cards only, each change in a HISTORY card.

    Copies the beam from an AIPS CLEAN HISTORY card into BMAJ/BMIN/BPA, sets BMIN = BMAJ and
    BPA = 0 where they are missing, renames RESTFREQ to RESTFRQ, normalises CUNITn spellings
    WCSLIB rejects (M/S), writes missing CUNITn, relabels km/s velocity axes, gives degenerate
    Stokes axes CDELT = 1, and writes README-only keys into the header. The data bytes are copied
    unchanged and the copy is verified before it replaces anything.

    \b
    Examples:
        sfng fix data/PAWS/*.fits --dry-run                 show the changes
        sfng fix data/THINGS -o /tmp/things-fixed          corrected copies
        sfng fix data/HERACLES --in-place                   keep a backup, replace
        sfng fix uncalibrated/PAWS --in-place --land        repair and move into data/
    """
    from ..errors import SfngError
    from ..validate.fix import fix_paths
    from .validate import optional_store, rules_filter

    if not dry_run and bool(out_dir) == bool(in_place):
        raise SfngError("choose one of -o/--output DIR or --in-place (or --dry-run to see the changes)")
    if land_in_data and not in_place:
        raise SfngError("--land works with --in-place (the file is repaired, then moved into data/)")
    rules_filter(only, ())
    store = optional_store(obj, store_override, needed=land_in_data)
    results = []
    failed = 0
    # no per-file progress lines: each file's report below (files with nothing to say only with -v)
    with output.Progress("fixing", fmt, lines=False) as bar:
        for res in fix_paths(paths, store, out_dir=out_dir, in_place=in_place, dry_run=dry_run,
                             backup_dir=backup_dir, readme_keys=not no_readme_keys, drop_stokes=drop_stokes,
                             only=only or None, land_in_data=land_in_data, on_recover=output.info,
                             progress=bar):
            results.append(res)
            failed += (not dry_run) and not res.ok
            if fmt != "json":
                _echo_result(res, dry_run)
    if fmt == "json":
        output.emit_json(results)
    else:
        n = sum(bool(r.plan.changes) for r in results)
        verb = "would change" if dry_run else "changed"
        click.echo(f"{len(results)} file(s): {n} {verb}, {failed} still failing a minimum rule")
    if failed:
        ctx.exit(1)


def _echo_result(res, dry_run: bool) -> None:
    """One file's report: its changes, what is left, the outcome."""
    plan = res.plan
    errors = [p for p in plan.remaining if p.level == "error"]
    if not (plan.changes or errors or res.error or plan.note) and output.verbosity() < 2:
        return
    click.echo(f"{plan.path}: {len(plan.changes)} change(s)" + (" (dry run)" if dry_run else ""))
    if plan.note:
        click.echo(f"  {plan.note}")
    for c in plan.changes:
        click.echo(f"  {c.describe()}  [{c.rule_id}]")
    for p in plan.remaining:
        if p.level == "error" or output.verbosity() >= 2:
            click.echo(f"  not fixed: {p.level} {p.rule_id}: {p.message}")
    if res.error:
        output.error(output.printable(res.error))
    elif not dry_run and plan.changes:
        click.echo(f"  {res.message}")
        if res.landed:
            click.echo(f"  landed in {res.landed}")
        if res.after is not None and res.after.errors:
            click.echo(f"  still failing: {', '.join(p.rule_id for p in res.after.errors)}")
