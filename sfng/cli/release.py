"""``sfng release``: bundle, verify, list, diff, tar and clean community releases."""

from __future__ import annotations

import sys

import click

from . import output
from .options import (SelectionCommand, dry_run_option, format_option, selection_options, store_option,
                      store_path_option)


@click.group()
def release():
    """Make and check immutable community releases under release/.

    \b
    sfng release bundle NAME --galaxy 'IC 342' --tar    everything on IC 342, plus a tarball
    sfng release verify NAME                            every checksum, missing/extra/changed files
    sfng release list                                   releases in this store
    sfng release diff NAME NAME-v2                      what changed between two releases
    """


def _command_line(name, selection, from_file, mode, tar, allow_invalid, new_version, rehash) -> str:
    """The bundle command as given, in canonical form (recorded in RELEASE.md)."""
    import shlex

    args = ["sfng", "release", "bundle", name]
    if selection is not None:
        args += list(selection.to_args())
    if from_file:
        args += ["--from-file", str(from_file)]
    for flag, on in (("--copy", mode == "copy"), ("--tar", tar), ("--allow-invalid", allow_invalid),
                     ("--version", new_version), ("--rehash", rehash)):
        if on:
            args.append(flag)
    return shlex.join(args)


@release.command(cls=SelectionCommand)
@click.argument("name")
@selection_options(version_alias=False)
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Release the store paths listed in this file (one per line, '#' comments; '-' for stdin).")
@click.option("--link", "mode", flag_value="link", default=True,
              help="Hard-link the store's files (default; instant, no extra space).")
@click.option("--copy", "mode", flag_value="copy", help="Copy the files (independent of the store).")
@click.option("--tar", is_flag=True, help="Also write release/NAME.tar.gz (reproducible) and its .sha256.")
@click.option("--allow-invalid", is_flag=True,
              help="Release files that fail the minimum specification (RELEASE.md lists them).")
@click.option("--version", "new_version", is_flag=True,
              help="NAME exists: make the next version NAME-v2, NAME-v3... (RELEASE.md says what changed).")
@click.option("--rehash", is_flag=True, help="Hash every file even when the index knows its checksum.")
@dry_run_option
@format_option()
@store_option
def bundle(name, selection, from_file, mode, tar, allow_invalid, new_version, rehash, dry_run, fmt, store):
    """Make release/NAME from the selected files: the files laid out as in the store, their survey
    READMEs, an SFNG-INDEX.fits of exactly those files, MANIFEST.sha256 and RELEASE.md.

    Select with the options of `sfng find`, with --from-file LIST, or both (their union).
    Files are checked against the minimum specification first; the store index must be
    up to date (`sfng index build`).

    \b
    Examples:
        sfng release bundle ic342 --galaxy 'IC 342' --tar
        sfng release bundle co10-maps --from-file co10.txt --copy
        sfng release bundle ic342 --galaxy 'IC 342' --version     # makes ic342-v2
        sfng release bundle ic342 --galaxy 'IC 342' --dry-run
    """
    from ..release import bundle as do_bundle, plan_bundle

    if selection.is_empty():
        selection = None
    if selection is None and not from_file:
        raise click.UsageError("choose the files: selection options (as for `sfng find`) and/or "
                               "--from-file LIST")
    plan = plan_bundle(store, name, selection=selection, from_file=from_file, mode=mode,
                       allow_invalid=allow_invalid, new_version=new_version, rehash=rehash,
                       exist_ok=not dry_run,  # the same bundle again: nothing to do, exit 0
                       command=_command_line(name, selection, from_file, mode, tar, allow_invalid,
                                             new_version, rehash))
    for w in plan.warnings:
        output.warn(w)
    if plan.invalid:
        output.warn(f"{len(plan.invalid)} file(s) fail the minimum specification; released because of "
                    f"--allow-invalid (recorded in RELEASE.md)")
    if dry_run:
        if fmt == "json":
            output.emit_json(plan)
            return
        click.echo(f"would make release/{plan.name} ({plan.mode}): {len(plan.data_files)} files, "
                   f"{len(plan.files) - len(plan.data_files)} READMEs, {plan.bytes / 1e6:.1f} MB"
                   + (f"; previous version {plan.parent}" if plan.parent else "") + (", and a tarball" if tar else ""))
        for f in plan.files:
            click.echo(f"  {f.rel}")
        return
    with output.Progress("releasing", fmt) as bar:
        result = do_bundle(store, plan, tar=tar, say=output.info, progress=bar)
    if fmt == "json":
        output.emit_json(result)
        return
    if result.resumed and not (result.linked or result.copied or result.readmes or result.provenance):
        click.echo(f"{result.path} is complete ({len(plan.data_files)} files); nothing left to do")
    else:
        click.echo(f"made {result.path} ({len(plan.data_files)} files: {result.linked} linked, "
                   f"{result.copied} copied; {result.readmes} survey READMEs"
                   + (f"; {result.provenance} provenance records" if result.provenance else "")
                   + f"; {result.seconds:.1f} s)")
    if result.tarball:
        click.echo(f"tarball {result.tarball} sha256 {result.tar_sha256}")
    click.echo(f"check it with: sfng release verify {plan.name}")


@release.command()
@click.argument("target")
@format_option()
@store_path_option("store_path")
@click.pass_obj
def verify(obj, target, fmt, store_path):
    """Check every checksum of release TARGET (a name in release/, a release folder or a
    tarball) and report missing, extra, changed or unsafe files. Exit status 1 unless all is well.

    A tarball is checked member by member straight from the stream: nothing is extracted. A
    release folder or tarball given by its path needs no store.

    \b
    Examples:
        sfng release verify ic342
        sfng release verify /downloads/ic342.tar.gz
    """
    from ..errors import NotAStoreError
    from ..release import verify as do_verify

    try:
        store = obj.store(store_path)
    except NotAStoreError:
        store = None
    with output.Progress("verifying", fmt) as bar:
        rep = do_verify(target, store, progress=bar)
    if fmt == "json":
        output.emit_json(rep)
    else:
        for key in ("missing", "extra", "changed", "unsafe", "problems"):
            for item in getattr(rep, key):
                click.echo(f"  {key}: {item}")
        click.echo(f"{rep.target}: {'OK' if rep.ok else 'FAILED'} ({rep.n_files} files in the manifest"
                   + (f"; {len(rep.missing)} missing, {len(rep.extra)} extra, {len(rep.changed)} changed, "
                      f"{len(rep.unsafe)} unsafe" if not rep.ok else "") + ")")
    if not rep.ok:
        sys.exit(1)


@release.command(name="list")
@format_option()
@store_option
def list_(fmt, store):
    """List the releases of this store (incomplete ones, from interrupted bundles, too).

    \b
    Example:
        sfng release list --format json
    """
    from ..release import list_releases

    infos = list_releases(store)
    if fmt == "json":
        output.emit_json(infos)
        return
    if not infos:
        click.echo("no releases yet (make one with `sfng release bundle NAME ...`)")
        return
    output.table([{"name": i.name, "state": "complete" if i.complete else "INCOMPLETE",
                   "created": i.created or None, "files": i.n_files if i.complete else None,
                   "MB": round(i.bytes / 1e6, 1) if i.complete else None, "tarball": i.tarball,
                   "previous": i.parent} for i in infos])


@release.command()
@click.argument("a")
@click.argument("b")
@format_option()
@store_option
def diff(a, b, fmt, store):
    """Files added, removed and changed from release A to release B (names, folders or tarballs).

    \b
    Example:
        sfng release diff ic342 ic342-v2
    """
    from ..release import diff as do_diff

    out = do_diff(store, a, b)
    if fmt == "json":
        output.emit_json(out)
        return
    for key, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
        for p in out[key]:
            click.echo(f"{sign} {p}")
    click.echo(f"{a} -> {b}: {len(out['added'])} added, {len(out['removed'])} removed, "
               f"{len(out['changed'])} changed")


@release.command()
@click.argument("name")
@format_option()
@store_option
def tar(name, fmt, store):
    """Write release/NAME.tar.gz and NAME.tar.gz.sha256 for an existing release.

    The tarball is reproducible: sorted members, the release's creation time as every mtime,
    owner 0, normalised modes; the same release always gives the same bytes.

    \b
    Example:
        sfng release tar ic342 && cd release && sha256sum -c ic342.tar.gz.sha256
    """
    from ..release import make_tarball

    path, digest = make_tarball(store, name)
    if fmt == "json":
        output.emit_json({"tarball": str(path), "sha256": digest})
    else:
        click.echo(f"{path} sha256 {digest}")


@release.command()
@click.argument("name")
@dry_run_option
@format_option()
@store_option
def clean(name, dry_run, fmt, store):
    """Remove the incomplete release NAME left by an interrupted bundle (release/.NAME.partial).

    Complete releases are immutable and never removed by sfng. Rerunning the same bundle command
    instead finishes the incomplete release.

    \b
    Example:
        sfng release clean ic342 --dry-run
    """
    from ..release import clean as do_clean

    part = do_clean(store, name, dry_run=dry_run)
    if fmt == "json":
        output.emit_json({"name": name, "incomplete": None if part is None else str(part),
                          "removed": part is not None and not dry_run, "dry_run": dry_run})
    elif part is None:
        click.echo(f"no incomplete release {name}")
    else:
        click.echo(f"{'would remove' if dry_run else 'removed'} {part}")
