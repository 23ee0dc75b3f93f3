"""``sfng names``: NED preferred names, the shared cache and manual overrides."""

from __future__ import annotations

import click

from . import output
from .options import dry_run_option, format_option, store_path_option

_COLUMNS = ["input", "ned_name", "ra", "dec", "ned_type", "redshift", "source", "asked"]


def _resolver(obj, store_override, offline, need_store=True):
    """A Resolver on the store; without a store (``need_store`` false) an in-memory one."""
    from ..errors import NotAStoreError
    from ..ned import Resolver

    try:
        store = obj.store(store_override)
    except NotAStoreError:
        if need_store:
            raise
        output.warn("not inside a store: answers are not kept (use --store PATH to keep them "
                    "in its tables/ned_names.csv)")
        store = None
    return Resolver(store=store, offline=True if offline else None)


def _text_row(d: dict) -> dict:
    """Positions with the precision NED gives (degrees, 5 decimals) instead of 4 digits."""
    out = dict(d)
    for key, spec in (("ra", ".5f"), ("dec", "+.5f"), ("redshift", ".6g")):
        v = out.get(key)
        out[key] = None if v is None or v == "" else format(float(v), spec)
    return out


def _flush_warnings(resolver):
    for w in resolver.warnings:
        output.warn(w)


_store_opt = store_path_option()


_offline_opt = click.option("--offline", is_flag=True,
                            help="Never touch the network: answer from overrides and the cache only "
                                 "(also SFNG_OFFLINE=1, or ned.offline: true in sfng.yaml).")


@click.group()
def names():
    """NED preferred names: resolve, list the shared cache, override.

    \b
    Every file in the store is named after the NED preferred name of its galaxy. Answers are
    kept in tables/ned_names.csv (a CSV anyone can read); corrections in
    tables/ned_overrides.csv win over NED.
    \b
    Examples:
        sfng names resolve 'NGC 628' NGC4826 M51      ask NED (or the cache)
        sfng names resolve --offline 'NGC 628'        cache and overrides only
        sfng names list                               what the cache holds
        sfng names near 24.174 15.784                 nearest NED galaxy to a position
        sfng names override 'NGC 4708' 'NGC 4708'     keep a name NED renamed
    """


@names.command("resolve")
@click.argument("name", nargs=-1, required=True)
@_offline_opt
@click.option("--refresh", is_flag=True, help="Ask NED again even for cached names; the new answer "
                                              "replaces the cached one.")
@format_option()
@_store_opt
@click.pass_obj
def resolve(obj, name, offline, refresh, fmt, store_override):
    """Resolve NAME... to NED preferred names (progress on stderr).

    \b
    Example:
        $ sfng names resolve 'NGC 628' ngc4826
        input    ned_name     ra         dec        ned_type  redshift  source  file-name form
        NGC 628  MESSIER 074  24.17395   +15.78364  G         0.002192  ned     MESSIER_074
        ngc4826  MESSIER 064  194.18208  +21.68306  G         0.001361  ned     MESSIER_064

    Exit status 1 when any name could not be resolved (each is reported).
    """
    import sys

    from ..naming import encode_galaxy
    from ..ned import NameRecord

    resolver = _resolver(obj, store_override, offline, need_store=False)
    many = len(name) > 1

    def progress(i, n, nm, result):
        if many and output.verbosity() >= 1:
            what = (f"{result.ned_name} ({result.source})" if isinstance(result, NameRecord)
                    else f"FAILED: {type(result).__name__}")
            output.info(f"[{i}/{n}] {nm} -> {what}")

    results = resolver.resolve_many(name, progress=progress, refresh=refresh)
    _flush_warnings(resolver)
    ok = {k: v for k, v in results.items() if isinstance(v, NameRecord)}
    failed = {k: v for k, v in results.items() if not isinstance(v, NameRecord)}
    if fmt == "json":
        output.emit_json({"resolved": [dict(r.as_dict(), file_name_form=encode_galaxy(r.ned_name))
                                       for r in ok.values()],
                          "failed": [{"input": k, "error": type(e).__name__, "message": str(e)}
                                     for k, e in failed.items()],
                          "ned_queries": resolver.queries})
    else:
        output.table([_text_row(dict(r.as_dict(), **{"file-name form": encode_galaxy(r.ned_name)}))
                      for r in ok.values()],
                     ["input", "ned_name", "ra", "dec", "ned_type", "redshift", "source",
                      "file-name form"])
        for k, e in failed.items():
            output.error(f"{k}: {e}")
    if failed:
        sys.exit(1)


@names.command("near", context_settings={"ignore_unknown_options": True})
@click.argument("ra", type=float)
@click.argument("dec", type=float)
@click.option("--radius", type=float, default=30.0, show_default=True,
              help="Search radius in arcsec.")
@format_option()
@_store_opt
@click.pass_obj
def near(obj, ra, dec, radius, fmt, store_override):
    """The NED galaxy nearest to RA DEC (J2000 degrees), as `sfng ingest --by-position` finds it.

    Only NED type G counts; when a second galaxy lies within twice the nearest one's distance the
    answer is ambiguous and sfng says so rather than choosing.

    \b
    Example:
        sfng names near 24.174 15.784 --radius 60
        sfng names near 359.4576 -32.591             a negative Dec needs no quoting
    """
    import sys

    from ..naming import encode_galaxy

    resolver = _resolver(obj, store_override, offline=False, need_store=False)
    rec = resolver.by_position(ra, dec, radius)
    _flush_warnings(resolver)
    if fmt == "json":
        output.emit_json(None if rec is None else dict(rec.as_dict(),
                                                      file_name_form=encode_galaxy(rec.ned_name)))
    elif rec is not None:
        output.table([_text_row(dict(rec.as_dict(), **{"file-name form": encode_galaxy(rec.ned_name)}))],
                     ["ned_name", "ra", "dec", "ned_type", "redshift", "file-name form"])
    if rec is None:
        output.error(f"no NED galaxy within {radius:g} arcsec of RA {ra} Dec {dec}")
        sys.exit(1)


@names.command("list")
@click.argument("pattern", required=False)
@click.option("--overrides", "show_overrides", is_flag=True, help="List the overrides instead.")
@format_option("text", "json", "csv")
@_store_opt
@click.pass_obj
def list_(obj, pattern, show_overrides, fmt, store_override):
    """List the NED cache (or the overrides), optionally only names matching PATTERN.

    PATTERN is a shell-style pattern matched, case-insensitively, against the input and the NED
    name; ra/dec are J2000 degrees.

    \b
    Examples:
        sfng names list
        sfng names list 'MESSIER*'
        sfng names list --overrides --format csv
    """
    import fnmatch

    from ..ned import CACHE_COLUMNS, OVERRIDE_COLUMNS, render_table

    resolver = _resolver(obj, store_override, offline=True)
    if show_overrides:
        rows = list(resolver.overrides().values())
        columns = OVERRIDE_COLUMNS
    else:
        rows = [dict(r.as_dict()) for r in resolver.entries()]
        columns = CACHE_COLUMNS
    if pattern:
        pat = pattern.upper()
        rows = [r for r in rows if fnmatch.fnmatchcase(str(r["input"]).upper(), pat)
                or fnmatch.fnmatchcase(str(r["ned_name"]).upper(), pat)]
    if fmt == "json":
        output.emit_json(rows)
    elif fmt == "csv":
        click.echo(render_table(columns, [{k: ("" if v is None else v) for k, v in r.items()}
                                          for r in rows]), nl=False)
    else:
        if not rows:
            path = resolver.overrides_path if show_overrides else resolver.cache_path
            output.info(f"no entries in {path}" + (f" matching {pattern!r}" if pattern else ""))
            return
        output.table([_text_row(r) for r in rows], columns if show_overrides else _COLUMNS)


@names.command("override")
@click.argument("input_name", metavar="INPUT")
@click.argument("ned_name", required=False)
@click.option("--ra", type=float, help="J2000 RA in degrees (when NED lacks the object).")
@click.option("--dec", type=float, help="J2000 Dec in degrees.")
@click.option("--type", "ned_type", help="Object type (NED's codes: G, GPair, ...).")
@click.option("--note", default="", help="Why (kept in the table).")
@click.option("--remove", is_flag=True, help="Remove the override for INPUT instead.")
@dry_run_option
@format_option()
@_store_opt
@click.pass_obj
def override(obj, input_name, ned_name, ra, dec, ned_type, note, remove, dry_run, fmt,
             store_override):
    """Make INPUT resolve to NED_NAME, whatever NED says (tables/ned_overrides.csv).

    An override matches INPUT in any spelling (NGC 628, NGC0628, ngc628) and also applies when
    NED answers with INPUT as its preferred name, so it can undo a NED rename for every alias.

    \b
    Examples:
        sfng names override 'SN 2005bo HOST' 'NGC 4708' --note 'NED renamed it in 2019'
        sfng names override 'MyDwarf 1' 'MyDwarf 1' --ra 150.1 --dec 2.2 --type G
        sfng names override --remove 'SN 2005bo HOST'
        sfng names override -n 'NGC 628' 'MESSIER 074'   show what would change
    """
    from ..errors import SfngError

    resolver = _resolver(obj, store_override, offline=True)
    if remove:
        if ned_name:
            raise SfngError("--remove takes only INPUT")
        old = resolver.remove_override(input_name, dry_run=dry_run)
        if fmt == "json":
            output.emit_json({"removed": old, "dry_run": dry_run})
        else:
            verb = "would remove" if dry_run else "removed"
            click.echo(f"{verb} override {old['input']!r} -> {old['ned_name']!r} "
                       f"from {resolver.overrides_path}")
        return
    if not ned_name:
        raise SfngError("give INPUT and NED_NAME (or --remove INPUT); "
                        "e.g. sfng names override 'NGC 4708' 'NGC 4708'")
    old, new = resolver.set_override(input_name, ned_name, ra=ra, dec=dec, ned_type=ned_type,
                                     note=note, dry_run=dry_run)
    if fmt == "json":
        output.emit_json({"old": old, "new": new, "dry_run": dry_run})
        return
    verb = "would set" if dry_run else "set"
    was = f" (was {old['ned_name']!r})" if old else ""
    click.echo(f"{verb} override {new['input']!r} -> {new['ned_name']!r}{was} "
               f"in {resolver.overrides_path}")


@names.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@dry_run_option
@format_option()
@_store_opt
@click.pass_obj
def import_(obj, source, dry_run, fmt, store_override):
    """Add the answers of another NED cache CSV (same columns) that this store lacks.

    Existing answers are kept. Useful to share a cache between stores, or to work offline.

    \b
    Example:
        sfng names import /other/store/tables/ned_names.csv
        sfng names import -n /other/store/tables/ned_names.csv    count first
    """
    from ..naming import normalise
    from ..ned import CACHE_COLUMNS, read_table

    resolver = _resolver(obj, store_override, offline=True)
    rows = read_table(source, CACHE_COLUMNS)
    if dry_run:
        have = {normalise(r.input) for r in resolver.entries()}
        n = len({normalise(r["input"]) for r in rows} - have)
    else:
        n = resolver.import_cache(source)
        _flush_warnings(resolver)
    if fmt == "json":
        output.emit_json({"source": source, "rows": len(rows), "added": n, "dry_run": dry_run,
                          "cache": resolver.cache_path})
        return
    verb = "would add" if dry_run else "added"
    click.echo(f"{verb} {n} of {len(rows)} answers to {resolver.cache_path}")
