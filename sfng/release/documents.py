"""The documents a release carries about itself: ``RELEASE.md`` (:func:`render_notes`) and
``RELEASE.json`` (:func:`json_record`, :func:`read_record`), and the UTC time they are dated with."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..get import human_size
from .layout import RECORD
from .plan import BundlePlan


def utc_now() -> str:
    """Now in UTC, to the second, as ``2026-01-31T12:00:00Z`` (a release's ``created``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def json_record(plan: BundlePlan, created: str) -> dict:
    """The content of ``RELEASE.json``."""
    return {"name": plan.name, "version": plan.version, "parent": plan.parent, "created": created,
            "sfng_version": __version__, "store": plan.store_name, "command": plan.command,
            "mode": plan.mode, "tar": plan.tar, "allow_invalid": plan.allow_invalid, "invalid": plan.invalid,
            "validated": plan.validated, "changes": plan.changes, "n_files": len(plan.data_files),
            "bytes": plan.bytes, "files": [f.as_dict() for f in plan.files]}


def render_notes(plan: BundlePlan, created: str) -> str:
    """The text of ``RELEASE.md``."""
    from ..readme import read_readme, citation_lines
    from ..errors import ReadmeError

    data = plan.data_files
    galaxies = sorted({f.galaxy or "(unknown galaxy)" for f in data})
    surveys = sorted({f"{f.rel.split('/')[0]}/{f.rel.split('/')[1]}" for f in data})
    out = [f"# Release {plan.name}", "",
           f"- Created: {created}",
           f"- sfng version: {__version__}",
           f"- Store: {plan.store_name}",
           f"- Version: {plan.version}" + (f" (previous: {plan.parent})" if plan.parent else ""),
           f"- Contents: {len(data)} files ({human_size(sum(f.size for f in data))}) on {len(galaxies)} "
           f"galaxies from {len(surveys)} survey folders",
           f"- Files are {'hard links to' if plan.mode == 'link' else 'copies of'} the store's files",
           "", "Made by (run it in the store to remake this release under a new name):", "",
           "```", plan.command, "```", ""]
    out += ["## Validation", ""]
    if plan.invalid:
        out.append(f"**{len(plan.invalid)} file(s) fail the minimum specification and were released with "
                   f"`--allow-invalid`:**")
        out.append("")
        for rel, errs in sorted(plan.invalid.items()):
            out.append(f"- `{rel}`: " + "; ".join(errs))
    else:
        how = "sfng validate" if plan.validated == "validate" else "the store index's validation record"
        out.append(f"Every file passes the minimum specification (checked with {how}).")
    out.append("")
    if plan.changes is not None:
        out += [f"## Changes since {plan.parent}", ""]
        for key in ("added", "removed", "changed"):
            items = plan.changes[key]
            out.append(f"- {key.capitalize()}: {len(items)}")
            out += [f"  - `{p}`" for p in items]
        out.append("")
    out += ["## Contents by galaxy and tracer", ""]
    for gal in galaxies:
        out.append(f"### {gal}")
        out.append("")
        out.append("| tracer | survey | file | size |")
        out.append("| --- | --- | --- | --- |")
        for f in sorted((f for f in data if (f.galaxy or "(unknown galaxy)") == gal),
                        key=lambda f: (f.tracer or "~", f.rel)):
            out.append(f"| {f.tracer or 'unknown'} | {f.survey or f.rel.split('/')[1]} | `{f.rel}` | "
                       f"{human_size(f.size)} |")
        out.append("")
    out += ["## Citations", "",
            "Cite the surveys whose data you use (from each survey's README, included in this release):", ""]
    for f in (f for f in plan.files if f.role == "readme"):
        try:
            cites = citation_lines(read_readme(f.src))
        except ReadmeError:
            cites = []
        out.append(f"### {f.survey}")
        out.append("")
        out += [f"- {c}" for c in cites] or [f"- (no citation found in `{f.rel}`)"]
        out.append("")
    for w in plan.warnings:
        out.append(f"Note: {w}")
    out += ["## Checking this release", "",
            "Inside this folder: `sha256sum -c MANIFEST.sha256` (every file but the manifest itself), or "
            f"`sfng release verify {plan.name}` in the store.", ""]
    return "\n".join(out)


def read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
