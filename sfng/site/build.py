""":func:`build_site`: render the pages of a store or release into a folder, atomically."""

from __future__ import annotations

import datetime
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..errors import SfngError
from ..naming import encode_galaxy, survey_folder, version_key
from ..query import Index, summary
from ..query.values import finite, single
from ..select import Selection
from .markup import markdown, preformatted

#: The file that marks a folder as a site sfng built (a rebuild replaces only such a folder).
SITE_MARKER = ".sfng-site"
#: The columns of a file listed on a galaxy or survey page (name, header, unit key).
FILE_COLUMNS = ("path", "survey", "galaxy", "tracer", "product", "res", "depth_k", "chan_kms",
                "bunit", "size", "sha256", "hdu", "naxis", "bmaj", "bmin", "bpa", "valid", "version",
                "current")


@dataclass
class SiteReport:
    """What :func:`build_site` wrote."""

    path: Path
    pages: list = field(default_factory=list)
    images: int = 0
    images_cached: int = 0
    notes: list = field(default_factory=list)

    def as_dict(self):
        return {"path": str(self.path), "pages": len(self.pages), "images": self.images,
                "images_cached": self.images_cached, "notes": list(self.notes)}


def _env():
    try:
        import jinja2
    except ImportError as exc:
        raise SfngError("sfng site needs Jinja2, an optional extra: pip install 'sfng[site]'") from exc
    env = jinja2.Environment(loader=jinja2.PackageLoader("sfng.site", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]),
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = _num
    env.filters["size"] = _size
    return env


def _num(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


def _size(n) -> str:
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return ""


def _slug(text: str, used: set) -> str:
    base = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "x"
    slug, k = base, 2
    while slug.lower() in used:
        slug, k = f"{base}_{k}", k + 1
    used.add(slug.lower())
    return slug


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return single(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace").strip()
    return v


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(255 * float(c)):02x}" for c in list(rgb)[:3])


def _cell_colours(values):
    """(background, text colour) for each finite resolution: viridis_r, black or white text."""
    from ..query.plots import contrast_colour

    vals = [v for v in values if np.isfinite(v)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    try:
        import matplotlib

        cmap = matplotlib.colormaps["viridis_r"]
    except ImportError:  # a grey ramp
        def cmap(t):
            g = 0.9 - 0.7 * t
            return (g, g, g)

    def colour(v):
        t = 0.5 if hi <= lo else (v - lo) / (hi - lo)
        rgb = cmap(t)
        return _hex(rgb), contrast_colour(rgb)

    return colour


def build_site(index: Index, root, out, *, title: str | None = None, releases=(),
               release_name: str | None = None, images: bool = True, selection: Selection | None = None,
               say=None) -> SiteReport:
    """Render the site of ``index`` (its files under ``root``, a store's or release's folder) into
    the folder ``out``; ``releases``: (name, folder) of the releases to give a page each.

    ``selection`` (default: everything) picks the files shown, as ``sfng find`` does: the
    current data version of each survey unless it asks for ``all_versions`` or ``versions``
    (docs/versions.md); the coverage matrix and the footprints follow it.

    ``out`` is built under a temporary name next to it and renamed into place; an existing
    ``out`` is replaced only when it is a site sfng built (it holds :data:`SITE_MARKER`).
    """
    say = say or (lambda msg: None)
    root = Path(root).absolute()
    final = Path(os.path.abspath(out))
    if final.exists() and not (final / SITE_MARKER).is_file() and (
            not final.is_dir() or any(final.iterdir())):
        raise SfngError(f"{final} exists and is not a site sfng built; choose another -o DIR")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    report = SiteReport(final)
    try:
        _render(index, root, final, tmp, report, title=title, releases=releases,
                release_name=release_name, images=images, selection=selection or Selection(), say=say)
        (tmp / SITE_MARKER).write_text("sfng site\n", encoding="utf-8")
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _render(index, root, final, tmp, report, *, title, releases, release_name, images, selection, say):
    env = _env()
    has_mpl = True
    if images:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            has_mpl = False
            report.notes.append("no images: matplotlib is not installed (pip install 'sfng[plot]')")
    images = images and has_mpl

    from ..query import select

    cols = [c for c in FILE_COLUMNS if c in index.columns]
    res = select(index, selection)
    for note in res.notes:
        report.notes.append(note)
    res.sort(["galaxy", "tracer", "survey", "path"])
    files = [{k: _plain(v) for k, v in r.items()} for r in res.records(cols)]
    for f in files:
        f.setdefault("chan_kms", None)
        f.setdefault("bunit", "")
        f.setdefault("version", "")
        f.setdefault("current", True)
    versioned = any(f["version"] for f in files)

    # names and pages
    used_g, used_s, used_r = set(), set(), set()
    gal_table = {g["name"]: g for g in index.galaxy_table()}
    gal_names = sorted(set(gal_table) | {f["galaxy"] for f in files if f["galaxy"]})
    gal_page = {g: f"galaxies/{_slug(encode_galaxy(g), used_g)}.html" for g in gal_names}
    surveys = sorted({f["survey"] for f in files if f["survey"]})
    survey_page = {s: f"surveys/{_slug(s, used_s)}.html" for s in surveys}
    release_page = {name: f"releases/{_slug(name, used_r)}.html" for name, _ in releases}

    def link(page: str, target: Path) -> str:
        """The relative URL of ``target`` seen from page ``page`` of the final site."""
        rel = os.path.relpath(target, (final / page).parent)
        return rel.replace(os.sep, "/")

    def file_url(page, path):

        return quote(link(page, root / path))

    # quick-look images, cached by sha256 (the previous build's, when there is one)
    ql_dir = tmp / "img" / "ql"
    ql_dir.mkdir(parents=True)
    quick = {}
    if images:
        from .quicklook import quicklook_png

        for f in files:
            sha = f.get("sha256") or ""
            if not re.fullmatch(r"[0-9a-f]{64}", sha) or sha in quick:
                continue
            name = f"{sha}.png"
            old = final / "img" / "ql" / name
            if old.is_file() and not old.is_symlink():
                shutil.copyfile(old, ql_dir / name)
                quick[sha] = (f"img/ql/{name}", None)
                report.images_cached += 1
                continue
            why = quicklook_png(root / f["path"], ql_dir / name, hdu=int(f.get("hdu") or 0),
                                title=f"{f['galaxy']} {f['survey']} {f['tracer']}".strip(),
                                unit=f.get("bunit") or "")
            quick[sha] = (f"img/ql/{name}", None) if why is None else (None, why)
            report.images += why is None
        say(f"quick-look images: {report.images} made, {report.images_cached} from the cache")

    # the coverage matrix
    s = summary(index, selection)
    colour = _cell_colours([v for v in s.res.ravel()])
    matrix = []
    for i, g in enumerate(s.galaxies):
        cells = []
        for j, t in enumerate(s.tracers):
            n = int(s.count[i, j])
            v = s.res[i, j]
            if n == 0:
                cells.append({"kind": "none", "text": "", "title": f"{g} {t}: no data"})
            elif not np.isfinite(v):
                cells.append({"kind": "unknown", "text": "?", "n": n,
                              "title": f"{g} {t}: {n} file(s), resolution unknown"})
            else:
                bg, fg = colour(v)
                cells.append({"kind": "res", "text": _num(single(v), 3), "n": n, "bg": bg, "fg": fg,
                              "title": f"{g} {t}: {n} file(s), best {single(v)} arcsec"})
        matrix.append({"galaxy": g, "cells": cells})
    coverage_png = None
    if images and s.galaxies:
        (tmp / "img").mkdir(exist_ok=True)
        s.plot(tmp / "img" / "coverage.png")
        coverage_png = "img/coverage.png"
        report.images += 1
    sky_png = None
    if images and len(res):
        from ..query import plot_sky

        (tmp / "img").mkdir(exist_ok=True)
        plot_sky(index, tmp / "img" / "sky.png", selection, dpi=90, overwrite=True)
        sky_png = "img/sky.png"
        report.images += 1

    meta = {"title": title or (f"SFNG release {release_name}" if release_name else
                               f"SFNG store {getattr(index.store, 'name', '') or root.name}"),
            "built": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "n_files": len(files), "n_galaxies": len(gal_names), "n_surveys": len(surveys),
            "n_tracers": len(s.tracers), "bytes": sum(int(f["size"] or 0) for f in files),
            "index": link("index.html", index.path)}

    def write(page: str, template: str, **ctx):
        depth = page.count("/")
        up = "../" * depth
        html = env.get_template(template).render(meta=meta, up=up, page=page, **ctx)
        p = tmp / page
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(html, encoding="utf-8")
        report.pages.append(page)

    def file_rows(page, subset):
        out = []
        for f in subset:
            ql = quick.get(f.get("sha256") or "", (None, "no quick look" if images else None))
            out.append({**f, "url": file_url(page, f["path"]),
                        "galaxy_url": (f"../{gal_page[f['galaxy']]}" if f["galaxy"] in gal_page else None),
                        "survey_url": (f"../{survey_page[f['survey']]}" if f["survey"] in survey_page else None),
                        "name": Path(f["path"]).name,
                        "quicklook": ("../" + ql[0]) if ql[0] else None, "quicklook_note": ql[1]})
        return out

    # galaxy pages
    by_gal = {}
    for f in files:
        by_gal.setdefault(f["galaxy"], []).append(f)
    galaxies = []
    for g in gal_names:
        rec = {k: _plain(v) for k, v in gal_table.get(g, {"name": g}).items()}
        page = gal_page[g]
        mine = by_gal.get(g, [])
        foot = None
        if images and mine:
            from ..query import plot_footprints

            fp = tmp / "img" / "foot" / (Path(page).stem + ".png")
            fp.parent.mkdir(parents=True, exist_ok=True)
            try:
                plot_footprints(index, g, fp, selection, dpi=80)
                foot = f"../img/foot/{fp.name}"
                report.images += 1
            except SfngError as exc:
                report.notes.append(str(exc))
        tracers = sorted({f["tracer"] for f in mine if f["tracer"]})
        gal = {"name": g, "url": page, "aliases": [a for a in str(rec.get("aliases") or "").split(";") if a],
               "ra": rec.get("ra") if finite(rec.get("ra")) else None,
               "dec": rec.get("dec") if finite(rec.get("dec")) else None,
               "dist": rec.get("dist") if finite(rec.get("dist")) else None,
               "dist_src": rec.get("dist_src") or "", "n_files": len(mine), "tracers": tracers,
               "surveys": sorted({f["survey"] for f in mine if f["survey"]})}
        galaxies.append(gal)
        write(page, "galaxy.html", galaxy=gal, files=file_rows(page, mine), footprints=foot,
              versioned=versioned)

    # survey pages
    survey_list = []
    for sv in surveys:
        page = survey_page[sv]
        mine = [f for f in files if f["survey"] == sv]
        readmes = []
        for version in sorted({f["version"] for f in mine}, key=version_key, reverse=True):
            folder = survey_folder(sv, version)
            for tree in ("data", "derived"):
                p = root / tree / folder / f"{folder}_README.txt"
                if p.is_file():
                    readmes.append({"version": version, "name": p.name, "url": link(page, p),
                                    "text": preformatted(p.read_text(encoding="utf-8", errors="replace"))})
                    break
        entry = {"name": sv, "url": page, "n_files": len(mine),
                 "versions": sorted({f["version"] for f in mine if f["version"]}, key=version_key),
                 "n_galaxies": len({f["galaxy"] for f in mine if f["galaxy"]}),
                 "tracers": sorted({f["tracer"] for f in mine if f["tracer"]}),
                 "bytes": sum(int(f["size"] or 0) for f in mine)}
        survey_list.append(entry)
        write(page, "survey.html", survey=entry, readmes=readmes, files=file_rows(page, mine),
              versioned=versioned)

    # release pages
    release_list = []
    for name, folder in releases:
        folder = Path(folder).absolute()
        page = release_page[name]
        notes = folder / "RELEASE.md"
        text = markdown(notes.read_text(encoding="utf-8", errors="replace")) if notes.is_file() else None
        manifest = []
        mpath = folder / "MANIFEST.sha256"
        if mpath.is_file():
            for line in mpath.read_text(encoding="utf-8", errors="replace").splitlines():
                sha, _, path = line.strip().partition("  ")
                if not path:
                    sha, _, path = line.strip().partition(" ")
                path = path.lstrip("*")
                if path:
                    target = folder / path
                    manifest.append({"sha256": sha, "path": path,
                                     "url": (quote(link(page, target))
                                             if target.exists() else None)})
        entry = {"name": name, "url": page, "n_files": len(manifest),
                 "notes_url": link(page, notes) if notes.is_file() else None,
                 "manifest_url": link(page, mpath) if mpath.is_file() else None}
        release_list.append(entry)
        write(page, "release.html", release=entry, notes=text, manifest=manifest)

    # the search index for the filter box (works offline: data in the page, no fetch)
    write("index.html", "index.html", galaxies=galaxies, surveys=survey_list, tracers=s.tracers,
          matrix=matrix, coverage_png=coverage_png, sky_png=sky_png, releases=release_list,
          gal_page=gal_page)
    (tmp / "style.css").write_text(env.get_template("style.css").render(), encoding="utf-8")
    # the page's icon: browsers ask for one, and a 404 for it is a console error
    (tmp / "favicon.svg").write_text(env.get_template("favicon.svg").render(), encoding="utf-8")
