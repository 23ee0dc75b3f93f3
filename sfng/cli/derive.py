"""``sfng derive`` (convolve, moments, jy2k, --rerun) and ``sfng provenance``: derived products
with provenance records (the library: :mod:`sfng.derive`; the user's page: docs/derive.md)."""

from __future__ import annotations

import click

from . import output
from .options import (
    SelectionCommand,
    dry_run_option,
    format_option,
    index_option,
    jobs_option,
    output_option,
    selection_options,
    store_path_option,
    target_option,
)


def _rows(index, selection, paths):
    """Index rows of the PATH arguments (store-relative or file paths) and/or the selection."""
    from pathlib import Path

    from ..derive import rows_of
    from ..errors import SfngError
    from ..query import select

    if not paths and selection.is_empty():
        raise SfngError("say which files: give PATHs or a selection (e.g. --line CO10 '--res<15'); "
                        "sfng derive does not run on the whole store")
    result = select(index, selection)
    for note in result.notes:
        output.info(f"note: {note}")
    rows = rows_of(result)
    if paths:
        store = index.store
        want = set()
        for p in paths:
            q = Path(p)
            want.add(store.relpath(q) if q.exists() and store.contains(q) else q.as_posix())
        rows = [r for r in rows if r["path"] in want]
        missing = want - {r["path"] for r in rows}
        if missing:
            raise SfngError("not in the index (or not matching the selection): " + ", ".join(sorted(missing)))
    return rows


def _report(rep, fmt, what):
    if fmt == "json":
        d = rep.as_dict()
        if getattr(rep, "planned", None) is not None:
            d["planned"] = rep.planned
        output.emit_json(d)
    else:
        for p in getattr(rep, "planned", None) or []:
            click.echo(f"would {what}: {p}")
        output.landed_report(rep)
        if rep.index is not None:
            output.info(f"index: {rep.index.rows} row(s)")
    if not rep.ok:
        raise SystemExit(1)


def _store(index):
    if index.store is None:
        from ..store import Store

        index.store = Store.discover()
    return index.store


@click.group(invoke_without_command=True)
@click.option("--rerun", "rerun_path", metavar="PATH",
              help="Remake the product at PATH from its provenance record and say whether it is bit-identical.")
@format_option("text", "json")
@store_path_option()
@click.pass_context
def derive(ctx, rerun_path, fmt, store_override=None):
    """Derived products: convolution to a target beam, moment maps, Jy/beam to K.

    Each product lands in derived/<SURVEY>/ through the safe landing path (validated, in the
    manifest, indexed), named NED_NAME.<origin>_<res tag>_<product>.fits, with a provenance
    record beside it (sfng provenance PATH).

    \b
    Examples:
      sfng derive convolve --line CO10 '--res<15' --to common
      sfng derive convolve --galaxy NGC628 --to 500pc
      sfng derive moments data/PHANGS/NGC_0628.cube.fits --mask strict
      sfng derive --rerun derived/PHANGS/NGC_0628.cube_15as_conv.fits
    """
    if ctx.invoked_subcommand is not None:
        return
    if not rerun_path:
        click.echo(ctx.get_help())
        return
    from ..derive import rerun
    from ..store import Store

    store = ctx.obj.store(store_override) if ctx.obj is not None and hasattr(ctx.obj, "store") \
        else Store.discover(store_override)
    rep = rerun(store, rerun_path)
    if fmt == "json":
        output.emit_json(rep.as_dict())
    else:
        for c in rep.inputs_changed:
            output.warn(f"input changed since the product was made: {c['path']}")
        for f in rep.files:
            click.echo(f"{'identical' if f['identical'] else 'DIFFERENT'}: {f['name']}")
        click.echo("bit-identical" if rep.identical else "not identical")
    if not rep.identical:
        raise SystemExit(1)


@derive.command(cls=SelectionCommand)
@click.argument("paths", metavar="[PATH]...", nargs=-1)
@target_option
@click.option("--beam", metavar="BMAJ,BMIN,BPA", help="Explicit target beam (arcsec, arcsec, deg; non-round allowed).")
@click.option("--round", "round_", is_flag=True, help="Make the target round (BMIN = BMAJ), e.g. with --to common.")
@click.option("--kernel", "kernel", type=click.Path(dir_okay=False), metavar="FILE",
              help="A kernel FITS file (Aniano et al.) from the inputs' non-Gaussian PSF (their PSFTYPE) to the "
                   "Gaussian of --to (docs/derive.md).")
@click.option("--no-index", is_flag=True, help="Do not rebuild the index afterwards.")
@dry_run_option
@jobs_option("Inputs convolved", default=1)
@selection_options
@index_option
@format_option("text", "json")
def convolve(paths, to, beam, round_, kernel, no_index, dry_run, jobs, selection, index, fmt):
    """Convolve images and cubes to a target Gaussian beam (from the original each time).

    A target smaller than a file's beam is refused for that file. Jy/beam maps are scaled by
    the beam area ratio; the blank footprint is kept; a coverage map (_cov) comes beside;
    a physical target (pc) uses the galaxy table's distance, recorded as DIST_MPC. A cube
    with per-channel beams (BEAMS table) is convolved channel by channel from each beam; a
    non-Gaussian PSF (PSFTYPE) needs --kernel FILE (an Aniano et al. kernel to --to's Gaussian).

    \b
    Examples:
        sfng derive convolve --line CO10 '--res<15' --to common
        sfng derive convolve --survey KINGFISH --line SPIRE250 --to 25arcsec \\
            --kernel Kernel_LoRes_SPIRE_250_to_Gauss_25.fits
    """
    from ..derive import convolve as run
    from ..derive import parse_target

    target = parse_target(to, beam, round_)
    rows = _rows(index, selection, paths)
    with output.Progress("convolving", fmt) as bar:
        rep = run(_store(index), rows, target, reindex=not no_index, dry_run=dry_run, progress=bar, jobs=jobs,
                  kernel=kernel)
    _report(rep, fmt, "convolve")


@derive.command(cls=SelectionCommand)
@click.argument("paths", metavar="[CUBE]...", nargs=-1)
@click.option("--mask", type=click.Choice(["strict", "broad", "none"]), default="strict", show_default=True,
              help="strict: >=2 sigma around >=4 sigma cores in 2 channels; broad: >=2 sigma in 2 channels.")
@click.option("--moments", "which", default="0,1,2,tpeak", show_default=True, help="Which maps: 0,1,2,tpeak.")
@click.option("--no-index", is_flag=True, help="Do not rebuild the index afterwards.")
@dry_run_option
@jobs_option("Cubes", default=1)
@selection_options
@index_option
@format_option("text", "json")
def moments(paths, mask, which, no_index, dry_run, jobs, selection, index, fmt):
    """Masked moment maps with error maps (K km/s, km/s, K) of cubes in K."""
    from ..derive import moments as run

    rows = _rows(index, selection, paths)
    with output.Progress("moments", fmt) as bar:
        rep = run(_store(index), rows, mask=mask, which=[w for w in which.split(",") if w.strip()],
                  reindex=not no_index, dry_run=dry_run, progress=bar, jobs=jobs)
    _report(rep, fmt, "make moments of")


@derive.command(cls=SelectionCommand)
@click.argument("paths", metavar="[PATH]...", nargs=-1)
@click.option("--no-index", is_flag=True, help="Do not rebuild the index afterwards.")
@dry_run_option
@jobs_option("Inputs converted", default=1)
@selection_options
@index_option
@format_option("text", "json")
def jy2k(paths, no_index, dry_run, jobs, selection, index, fmt):
    """Jy/beam to K (Rayleigh-Jeans, astropy brightness_temperature at RESTFRQ with the file's beam)."""
    from ..derive import jy2k as run

    rows = _rows(index, selection, paths)
    with output.Progress("converting", fmt) as bar:
        rep = run(_store(index), rows, reindex=not no_index, dry_run=dry_run, progress=bar, jobs=jobs)
    _report(rep, fmt, "convert")


@click.command()
@click.argument("path")
@format_option("text", "json")
@store_path_option()
@click.pass_obj
def provenance(obj, path, fmt, store_override=None):
    """Show the provenance record of a derived product (or of its .prov.json sidecar).

    PATH is a file, or a path relative to the store root (derived/<SURVEY>/...).
    """
    from pathlib import Path

    from ..derive import read_record

    p = Path(path)
    if not p.exists() and not p.is_absolute():
        try:
            p = Path(obj.store(store_override).root) / p
        except Exception:  # noqa: BLE001, S110 - no store: the record reader says the file is missing
            pass
    rec = read_record(p)
    if fmt == "json":
        output.emit_json(rec)
        return
    click.echo(f"kind: {rec.get('kind')}")
    for i in rec.get("inputs", []):
        click.echo(f"input: {i['path']}  sha256 {i['sha256']}")
    for o in rec.get("outputs", []):
        click.echo(f"output: {o['name']} ({o.get('role')})  sha256 {o['sha256']}")
    beams = rec.get("beams") or {}
    for k, b in beams.items():
        if b:
            click.echo(f"beam {k}: {b['bmaj']:.4g}\" x {b['bmin']:.4g}\" PA {b['bpa']:.4g} deg")
    k = (rec.get("kernel") or {}).get("beam")
    if k:
        click.echo(f"kernel: {k['bmaj']:.4g}\" x {k['bmin']:.4g}\" PA {k['bpa']:.4g} deg")
    d = rec.get("distance")
    if d:
        click.echo(f"distance: {d['mpc']:g} Mpc ({d.get('source') or 'source unknown'})")
    click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in (rec.get("parameters") or {}).items()
                                          if k not in ("native", "target_beam")))
    click.echo("versions: " + ", ".join(f"{k} {v}" for k, v in (rec.get("versions") or {}).items()))
    click.echo(f"command: {rec.get('command')}")
    click.echo(f"time: {rec.get('time')}")


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--beam", metavar="BMAJ,BMIN,BPA",
              help="Compare at this beam (arcsec, arcsec, deg) instead of the two files' common beam.")
@output_option("Also draw the comparison page (A, B on A's grid, B - A, B against A) into this PNG "
               "(never overwritten).")
@format_option("text", "json")
@store_path_option()
@click.pass_obj
def compare(obj, a, b, beam, out, fmt, store_override=None):
    """Compare two images or two cubes of one tracer: both convolved to their common beam, B
    reprojected onto A's grid, then flux ratio, difference statistics, the noise of each,
    correlation and fidelity over the pixels measured in both.

    A and B are files, or paths relative to the store root. Cubes must share their spectral
    axis; units must agree (`sfng derive jy2k` first for Jy/beam against K).

    \b
    Examples:
        sfng compare data/NRO45/MESSIER_051a.ngc5194.co10.fits data/BIMASONG/MESSIER_051a.NGC5194.co.cmmsk.fits
        sfng compare A.fits B.fits --beam 20,20,0 -o a-vs-b.png --format json
    """
    from pathlib import Path

    from ..derive.beams import parse_target
    from ..derive.compare import compare as run

    def resolve(p):
        q = Path(p)
        if not q.exists() and not q.is_absolute():
            try:
                alt = Path(obj.store(store_override).root) / q
                if alt.exists():
                    return alt
            except Exception:  # noqa: BLE001, S110 - no store: the reader says the file is missing
                pass
        return q

    target = None
    if beam:
        t = parse_target(None, beam)
        target = {"bmaj": t.bmaj, "bmin": t.bmin, "bpa": t.bpa}
    rep = run(resolve(a), resolve(b), beam=target, png=out)
    if fmt == "json":
        output.emit_json(rep.as_dict())
        return
    d = rep.difference
    click.echo(f"A: {rep.a}\nB: {rep.b}")
    click.echo(f"common beam {rep.beam['bmaj']:.4g}\" x {rep.beam['bmin']:.4g}\" PA {rep.beam['bpa']:.4g} deg; "
               f"{rep.n_voxels} pixels measured in both ({rep.bunit})")
    click.echo(f"flux ratio B/A: {rep.flux_ratio}")
    click.echo(f"B - A: mean {d['mean']:.4g}, median {d['median']:.4g}, std {d['std']:.4g}, rms {d['rms']:.4g}")
    click.echo(f"noise A: {rep.noise_a}  noise B: {rep.noise_b}  correlation: {rep.correlation}  "
               f"fidelity: {rep.fidelity}")
    for n in rep.notes:
        output.info(f"note: {n}")
    if rep.png:
        output.info(f"wrote {rep.png}")
