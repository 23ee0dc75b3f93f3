"""The demo's validation step: validate the store, show what is caught, fix it, validate again."""

from __future__ import annotations


def _rel(store, p) -> str:
    try:
        return store.relpath(p)
    except ValueError:
        return str(p)


def run(tree, say) -> None:
    from ..store import Store
    from . import store_files, summarize, validate_paths
    from .fix import fix_paths
    from .reader import is_fits_name

    store = Store.open(tree.store_dir)
    reports = list(validate_paths(store=store))
    summary = summarize(reports)
    say("validate: " + summary.as_text().splitlines()[0])
    say("      $ sfng validate")
    for rid, n in summary.sorted_rules():
        say(f"  {rid}: {n} file(s)")

    quarantined = [p for p in store_files(store, tree="uncalibrated") if is_fits_name(p.name)]
    q_reports = list(validate_paths(quarantined, store=store)) if quarantined else []

    def first(pred, pool):
        return next((r for r in pool if pred(r)), None)

    shown = []
    paws = first(lambda r: "paws" in r.path.name.lower() and r.has("wcs-singular"), reports + q_reports)
    if paws:
        p = next(x for x in paws.problems if x.rule_id == "wcs-singular")
        say(f"  caught: {paws.display}: {p.message}")
        shown.append(paws)
    bima = first(lambda r: r.has("wcs-unreadable"), reports + q_reports)
    if bima:
        p = next(x for x in bima.problems if x.rule_id == "wcs-unreadable")
        say(f"  caught: {bima.display}: {p.message}")
    for survey in ("HERACLES", "HALPHA"):
        r = first(lambda r, s=survey: f"/{s}/" in f"/{r.display}" and "BMAJ" in r.from_readme, reports)
        if r:
            say(f"  caught: {r.display}: beam only in {survey}_README.txt "
                f"({', '.join(k for k in r.from_readme if k in ('BUNIT', 'BMAJ', 'BMIN', 'BPA'))})")
            shown.append(r)
    aips = first(lambda r: r.has("beam-aips-history"), reports)
    if aips:
        p = next(x for x in aips.problems if x.rule_id == "beam-aips-history")
        say(f"  caught: {aips.display}: {p.message}")
        shown.append(aips)

    # Fix in place (backup under .sfng/backup/, outside data/): every data/ file with an error,
    # the README-only beams of HERACLES and HALPHA, and the AIPS-history beam.
    targets = [r.path for r in reports if r.errors]
    targets += [r.path for r in reports if "BMAJ" in r.from_readme or r.has("beam-aips-history")]
    targets = list(dict.fromkeys(targets))
    n_changes = 0
    highlights = {r.path for r in shown}
    for res in fix_paths(targets, store, in_place=True):
        n_changes += len(res.plan.changes)
        if res.plan.path in highlights:
            key = {"wcs-singular", "beam-aips-history", "readme-keys"}
            edits = [c.describe().split(":")[0] for c in res.plan.changes if c.rule_id in key
                     and c.key in ("CDELT4", "BMAJ", "BUNIT", "BMIN", "BPA")]
            say(f"  fixed: {_rel(store, res.plan.path)}: {'; '.join(edits)}")
    if targets:
        folders = sorted({_rel(store, p).rsplit('/', 1)[0] for p in targets})
        say(f"fix: {len(targets)} file(s) in data/ fixed in place ({n_changes} header edits, each in a "
            f"HISTORY card; originals kept under .sfng/backup/)")
        say(f"      $ sfng fix FILE... --in-place      (the {len(targets)} files, in {', '.join(folders)})")
    landed = []
    failing = [r.path for r in q_reports if r.errors]
    for res in fix_paths(failing, store, in_place=True, land_in_data=True):
        if res.landed:
            landed.append(res.landed)
    if failing:
        say(f"fix: {len(landed)} of {len(failing)} quarantined file(s) repaired and landed in data/ "
            f"({', '.join(sorted({_rel(store, p).split('/')[1] for p in landed}))})")

    after = list(validate_paths(store=store))
    s2 = summarize(after)
    say("validate again: " + s2.as_text().splitlines()[0])
    for r in after:
        for p in r.errors:
            say(f"  still failing: {r.display}: {p.rule_id}: {p.message}")
