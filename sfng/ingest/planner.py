""":func:`plan_ingest`: look at every file of a survey folder and decide, writing nothing, where
it goes, under which name, and what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import formats
from .. import manifest as mf
from ..errors import SfngError
from ..fsutil import TMP_PREFIX, sha256_file
from ..pairs import read_pairs
from .plan import (
    QUARANTINE_TREE,
    TARGET_TREES,
    Item,
    Plan,
    classify,
    is_fits_name,
    looks_like_fits,
)
from .sources import (
    SourceNames,
    dest_name,
    format_names,
    name_item,
    names_offered,
    read_source_headers,
)
from .validation import validation_hook


def _walk(src_dir: Path, store_root: Path):
    """``(path, rel, why_ignored)`` for every file under ``src_dir``, sorted, not entering the store."""
    for dirpath, dirnames, filenames in os.walk(src_dir, followlinks=False):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            p = d / name
            if p.resolve() == store_root or store_root in p.resolve().parents:
                yield p, p.relative_to(src_dir).as_posix(), "the store itself is inside the source folder"
            elif name.startswith("."):
                yield p, p.relative_to(src_dir).as_posix(), "hidden folder"
            elif p.is_symlink():
                yield p, p.relative_to(src_dir).as_posix(), "linked folder (not followed)"
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = d / name
            yield p, p.relative_to(src_dir).as_posix(), None


def _escapes(path: Path, src_dir: Path) -> bool:
    """Is ``path`` a symbolic link (at any depth of its own name) leading out of ``src_dir``?"""
    if not path.is_symlink():
        return False
    try:
        real = path.resolve()
    except OSError:
        return True
    base = src_dir.resolve()
    return real != base and base not in real.parents


def _path_too_long(dest: str) -> str | None:
    """Why the store path ``dest`` cannot be indexed whole (the index's ``path`` column holds a
    fixed number of UTF-8 bytes), or None."""
    from ..naming import STORED_PATH_MAX

    width, size = STORED_PATH_MAX, len(dest.encode("utf-8", "surrogateescape"))
    if size <= width:
        return None
    return (f"{dest}: the stored path would be {size} bytes, more than the {width} the index holds "
            f"(SFNG-INDEX.fits would cut it); shorten the file name by {size - width} bytes")


def compare_existing(item: Item, dest: Path, entries: dict) -> None:
    """A target exists: same bytes -> ``skip``; other bytes -> ``conflict``."""
    try:
        st = dest.stat()
    except OSError as exc:
        item.fail("conflict", f"{dest} exists but cannot be read ({exc.strerror}); left alone")
        return
    if item.size is not None and st.st_size != item.size:
        item.fail("conflict", f"{item.dest} already exists with other content ({st.st_size} bytes, "
                              f"the source has {item.size}); sfng never overwrites a file: rename "
                              f"the source or remove the stored file deliberately")
        return
    try:
        item.sha256 = item.sha256 or sha256_file(item.source)
    except OSError as exc:
        item.fail("error", f"cannot read the source: {exc.strerror or exc}")
        return
    entry = entries.get(dest.name)
    stored = entry.sha256 if entry is not None and entry.size in (None, st.st_size) else None
    if stored is None:
        try:
            stored = sha256_file(dest)
        except OSError as exc:
            item.fail("conflict", f"{item.dest} exists but cannot be read ({exc.strerror}); left alone")
            return
        item.manifest_missing = item.kind != "readme"
    if stored == item.sha256:
        item.action = "skip"
        item.notes.append("the same bytes are already in the store" +
                          ("; will be recorded in the manifest" if item.manifest_missing else ""))
    else:
        item.fail("conflict", f"{item.dest} already exists with other content (SHA-256 "
                              f"{stored[:12]}..., the source {item.sha256[:12]}...); sfng never "
                              f"overwrites a file: rename the source or remove the stored file "
                              f"deliberately")


def plan_ingest(store, src_dir, survey: str | None = None, tree: str = "data",
                ned_rename: bool = False, resolver=None, by_position: bool = False,
                readme=None, offline: bool | None = None, force: bool = False,
                validate: bool = True, progress=None, version: str | None = None) -> Plan:
    """Plan the ingest of the survey folder ``src_dir`` into ``store``; writes nothing.

    Parameters
    ----------
    store : sfng.store.Store
    src_dir : path
        The survey folder as published (sub-folders are walked; their files land flat).
    survey : str, optional
        Survey name, the folder name in the store (default: ``src_dir``'s name).
    tree : {"data", "derived"}
    ned_rename : bool
        Store files as ``<NED_NAME>.<original>`` (names resolved through ``resolver``).
    resolver : sfng.ned.Resolver, optional
        Default: ``Resolver(store=store, offline=offline)``.
    by_position : bool
        When a file gives no name (no OBJECT, no galaxy in its file name), ask NED for the
        galaxy nearest the image centre (within :data:`BY_POSITION_RADIUS_ARCSEC`).
    readme : path, optional
        The survey README to use (default: ``<SURVEY>_README.txt`` or a single ``README*`` in
        the folder; else a template is created).
    force : bool
        Land files that fail a minimum validation rule in ``tree`` anyway (reported).
    validate : bool
        Run :func:`validation_hook` (when sfng.validate exists).
    progress : callable, optional
        ``progress(i, n, what, stage)`` after each file is looked at (``stage == "files"``) and
        each name is resolved (``"names"``).
    version : str, optional
        The data version landed: files go to ``<tree>/<SURVEY>@<VERSION>/`` beside the other
        versions (docs/versions.md).  Default: the source README's ``VERSION``, else none
        (``<tree>/<SURVEY>/``).
    """
    from .. import naming

    if tree not in TARGET_TREES:
        raise SfngError(f"cannot ingest into {tree!r}: choose one of {', '.join(TARGET_TREES)}")
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise SfngError(f"{src_dir}: not a folder (ingest takes a survey folder)")
    if not os.access(src_dir, os.R_OK | os.X_OK):
        raise SfngError(f"{src_dir}: permission denied; cannot read the survey folder")
    src_dir = src_dir.resolve()
    root = Path(store.root).resolve()
    if src_dir == root or root in src_dir.parents:
        raise SfngError(f"{src_dir} is inside the store {root}; ingest takes a folder from "
                        f"outside the store (files already in the store are indexed, not ingested)")
    explicit_survey = survey is not None
    survey = survey or src_dir.name
    naming.check_component(survey, what="survey name")
    if naming.VERSION_SEP in survey:   # a folder named SURVEY@VERSION
        survey, named = naming.split_survey_folder(survey)
        if version and version != named:
            raise SfngError(f"--version {version} disagrees with the folder name "
                            f"{survey}{naming.VERSION_SEP}{named}")
        version = version or named
    if survey in ("bygalaxy",) or survey.startswith(TMP_PREFIX) or survey.startswith("."):
        raise SfngError(f"{survey!r} is reserved and cannot be a survey name (a name starting with "
                        f"'.' would be hidden from validation and the index); use --survey NAME")
    if ned_rename and resolver is None:
        from ..ned import Resolver

        resolver = Resolver(store=store, offline=offline)
    names = SourceNames(resolver) if ned_rename else None
    pairs = read_pairs(store)
    do_validate = validate and not force
    plan = Plan(store=store, src_dir=src_dir, survey=survey, tree=tree, ned_rename=ned_rename,
                items=[], force=force,
                validation="on" if do_validate else "off (--force)" if force else "off")

    files = list(_walk(src_dir, root))
    readme_src = Path(readme).resolve() if readme else None
    if readme_src is not None and not readme_src.is_file():
        raise SfngError(f"{readme}: --readme must name a readable README file")
    if readme_src is None:
        tops = [p for p, rel, why in files if why is None and "/" not in rel and classify(p.name) == "readme"
                and not _escapes(p, src_dir)]
        exact = [p for p in tops if p.name.lower() == f"{survey}_readme.txt".lower()
                 or p.name.lower() == f"{src_dir.name}_readme.txt".lower()]
        readme_src = exact[0] if exact else (tops[0] if len(tops) == 1 else None)
        readme_src = readme_src.resolve() if readme_src is not None else None
    if version is None:
        version = _readme_version(readme_src)
    if version:
        version = naming.check_version(str(version))
        survey = naming.survey_folder(survey, version)   # every store path below: SURVEY@VERSION
    plan.survey, plan.version = survey, version or ""
    base_dir = store.survey_dir(survey, tree)
    base_readme_meta = _governing_readme_metadata(store.readme_path(survey, tree), readme_src) \
        if do_validate else {}

    # Where each data file goes: a product a format claims lands in the tree its format says
    # (derived products never in data/) and, unless --survey was given, in the format's survey
    # folder, file by file whatever folder it arrives in (a mixed folder, an SAS mirror).
    target_of: dict = {}

    def target(item, path) -> tuple[str, str]:
        got = target_of.get(id(item))
        if got is None:
            fmt = formats.claim_name(path.name)
            at = fmt.landing(path) if fmt is not None and fmt.ingest_refusal(path) is None else None
            if at is None:
                got = (tree, survey)
            else:
                got = ("derived" if at[0] == "derived" else tree,
                       survey if explicit_survey else naming.survey_folder(at[1], version))
                naming.check_component(got[1], what="survey name")
            target_of[id(item)] = got
        return got

    def folder_of(item, path) -> Path:
        t_, s_ = target(item, path)
        return store.survey_dir(s_, t_)

    metas: dict = {}

    def readme_meta_of(item, path) -> dict:
        t_, s_ = target(item, path)
        if (t_, s_) == (tree, survey):
            return base_readme_meta
        if (t_, s_) not in metas:
            fmt_readme = _format_readme([item], s_)
            metas[(t_, s_)] = _governing_readme_metadata(store.readme_path(s_, t_), None,
                                                         fmt_readme[1] if fmt_readme else None)
        return metas[(t_, s_)]

    manifests: dict = {}

    def entries_of(folder: Path):
        if folder not in manifests:
            manifests[folder] = mf.read_manifest(folder)
        return manifests[folder]

    n = len(files)
    to_name: list = []  # (item, path, primary header, image header) of data files to name
    for i, (path, rel, why) in enumerate(files, 1):
        item = Item(source=str(path), rel=rel, kind="other")
        plan.items.append(item)
        if progress:
            progress(i, n, rel, "files")
        if why:
            item.action = "ignore"
            item.notes.append(why + "; not entered")
            continue
        name = path.name
        if name.startswith("."):
            item.action = "ignore"
            item.notes.append("hidden file; left in the source folder")
            continue
        if readme_src is not None and path.resolve() == readme_src:
            plan.items.pop()  # the README is planned below
            continue
        try:
            st = path.stat()
        except OSError as exc:
            item.fail("error", f"cannot read the source: {exc.strerror or exc}")
            continue
        if path.is_symlink() and (root == path.resolve() or root in path.resolve().parents):
            item.fail("error", f"links into the store ({path.resolve()}); a source inside the store "
                               f"is not ingested")
            continue
        if _escapes(path, src_dir):
            item.fail("error", f"a symbolic link to {path.resolve()}, outside the source folder; not "
                               f"ingested (ingest the folder that holds the file, or copy it in)")
            continue
        if not path.is_file():
            item.action = "ignore"
            item.notes.append("not a regular file; left in the source folder")
            continue
        item.size = st.st_size
        if not os.access(path, os.R_OK):
            item.fail("error", "cannot read the source: permission denied")
            continue
        kind = classify(name)
        if kind == "other" and (looks_like_fits(path) or _compressed_fits_name(name)):
            # Landed, it would be data the validator and the index never see (sfng.fitsname).
            item.kind = "data"
            item.fail("error", "FITS content without a FITS file name: rename it to end in .fits "
                               "(sfng judges and indexes FITS products by name)"
                      if looks_like_fits(path) else
                      f"compressed as {Path(name).suffix} (sfng reads FITS as .fits, .fits.gz or "
                      f".fits.fz): recompress it with gzip or fpack, then ingest it")
            continue
        item.kind = kind
        try:
            naming.check_component(name, what="file name")
        except SfngError as exc:
            item.fail("error", str(exc))
            continue
        if kind == "other":
            item.action = "ignore"
            item.notes.append("neither a data file (FITS, HDF5) nor a document or table; left in "
                              "the source folder (move it by hand if it belongs in the store)")
            continue
        if kind in ("doc", "readme", "table"):
            folder = store.survey_dir(survey, "tables" if kind == "table" else "docs")
            item.kind = "table" if kind == "table" else "doc"
            item.dest = f"{folder.relative_to(root).as_posix()}/{name}"
            item.notes.append(f"companion {'table' if kind == 'table' else 'document'}: "
                              f"landed unchanged in {folder.relative_to(root).as_posix()}/")
            continue
        # A catalogue or document a format knows (e.g. MaNGA's DRPall): a companion of its survey.
        fmt = formats.claim_name(name)
        at = fmt.landing(path) if fmt is not None else None
        if at is not None and at[0] in ("tables", "docs"):
            folder = store.survey_dir(survey if explicit_survey else at[1], at[0],
                                      None if explicit_survey else version)
            item.kind = "table" if at[0] == "tables" else "doc"
            item.dest = f"{folder.relative_to(root).as_posix()}/{name}"
            item.notes.append(f"{fmt.description or fmt.name}: landed unchanged in "
                              f"{folder.relative_to(root).as_posix()}/")
            continue
        # data
        is_fits = is_fits_name(name)
        primary = image = None
        if is_fits and (ned_rename or do_validate):
            primary, image, problem = read_source_headers(path)
            if problem:
                item.notes.append(problem)
        if ned_rename:
            to_name.append((item, path, primary, image))
        else:
            # The galaxy stays unknown: a raw survey name (ngc4826.co10.fits) would parse as
            # galaxy "ngc4826", so nothing is guessed without NED.
            item.how = "name kept (no --ned-rename); galaxy not determined"
            item.dest = f"{folder_of(item, path).relative_to(root).as_posix()}/{name}"

    # Names: one batch question to the resolver, then each file named from the answers; a
    # product a format claims is named by its format (e.g. NED by position) unless it declines.
    claimed = {id(item): formats.claim(path) for item, path, primary, image in to_name}
    if to_name:
        names.prefetch([n for item, path, primary, image in to_name if claimed[id(item)] is None
                        for n in names_offered(primary, path.name)], progress=progress)
    for item, path, primary, image in to_name:
        fmt = claimed[id(item)]
        if fmt is None or not format_names(item, path, fmt, names.resolver):
            name_item(item, primary, image, names, by_position, pairs)
        if item.action == "error":
            continue
        try:
            item.dest = f"{folder_of(item, path).relative_to(root).as_posix()}/{dest_name(item, path.name)}"
        except SfngError as exc:
            item.fail("error", str(exc))

    # Two sources wanting one target: none of them lands.
    by_dest: dict = {}
    for item in plan.items:
        if item.dest and item.action in ("land",):
            by_dest.setdefault(item.dest, []).append(item)
    for dest, group in by_dest.items():
        if len(group) > 1:
            for item in group:
                others = ", ".join(o.rel for o in group if o is not item)
                item.fail("conflict", f"{dest} is also the target of {others}; none of them lands "
                                      f"(rename the sources or ingest them separately)")

    # Targets already present; validation of what will land.
    for item in plan.items:
        if item.action != "land" or not item.dest:
            continue
        if item.kind == "data" and (why := _path_too_long(item.dest)):
            item.fail("error", why)
            continue
        dest = root / item.dest
        if dest.exists() or dest.is_symlink():
            compare_existing(item, dest, entries_of(dest.parent))
            continue
        if item.kind == "data" and is_fits_name(Path(item.rel).name) and do_validate:
            t_, s_ = target(item, Path(item.source))
            _validate_item(item, t_, s_, store, root, entries_of, readme_meta_of(item, Path(item.source)))
        elif item.kind == "data" and force:
            item.notes.append("not validated (--force)")

    # The survey READMEs, one per folder data land in: kept, landed, the format's, or the
    # template (a folder with no data: the survey's own folder, for its documents).
    groups: dict = {}
    for i in plan.items:
        if i.kind == "data" and i.action in ("land", "skip") and i.dest:
            groups.setdefault((root / i.dest).parent, []).append(i)
    for folder in (list(groups) or [base_dir]):
        own = folder.name == survey and folder.parent.name in (tree, QUARANTINE_TREE)
        plan.items.append(_readme_item(store, root, folder, folder.name, readme_src if own else None,
                                       _format_readme(groups.get(folder, []), folder.name)))
    trees = {target(i, Path(i.source))[0] for i in plan.items if i.kind == "data" and id(i) in target_of}
    if len(trees) == 1:
        plan.tree = trees.pop()  # e.g. a folder of DAP maps: all derived

    if resolver is not None and hasattr(resolver, "flush"):
        try:
            resolver.flush()
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation
            plan.items[-1].notes.append(f"NED cache not written: {exc}")
    return plan


def _readme_version(readme_src: Path | None) -> str | None:
    """The ``VERSION`` the source README declares, or None."""
    if readme_src is None:
        return None
    from ..errors import ReadmeError
    from ..readme import read_readme

    try:
        got = read_readme(readme_src).metadata.get("VERSION")
    except (ReadmeError, OSError):
        return None
    return None if got in (None, "") else str(got)


def _compressed_fits_name(name: str) -> bool:
    """``x.fits.bz2``, ``x.fits.Z``, ``x.fits.xz``, ``x.fits.zip``: FITS under a compression sfng
    does not read."""
    low = name.lower()
    stem, dot, ext = low.rpartition(".")
    return bool(dot) and ext in ("bz2", "z", "xz", "zip", "lz", "zst") and is_fits_name(stem)


def _governing_readme_metadata(store_readme: Path, readme_src: Path | None, text: str | None = None) -> dict:
    """README defaults that will apply to the landed files: the store's README when it exists
    (it is kept), else the source README being landed, else the README ``text`` sfng will
    write; unreadable metadata count as none (the README item reports it)."""
    from ..errors import ReadmeError
    from ..readme import parse_text, read_readme

    try:
        if store_readme.is_file():
            return dict(read_readme(store_readme).metadata)
        if readme_src is not None:
            return dict(read_readme(readme_src).metadata)
        if text:
            return dict(parse_text(text).metadata)
    except (ReadmeError, OSError):
        pass
    return {}


def _validate_item(item, tree, survey, store, root, entries_of, readme_meta):
    """Judge a source bound for ``tree``/``survey``; a file failing a minimum rule goes to
    ``uncalibrated/<survey>/`` with its report."""
    try:
        got = validation_hook(Path(item.source), readme_meta, tree)
    except Exception as exc:  # noqa: BLE001 - a validator crash must not block ingest
        item.notes.append(f"validation failed to run ({type(exc).__name__}: {exc}); not checked")
        return
    errors, report = got
    if not errors:
        return
    item.validation = report
    name = Path(item.dest).name
    quarantine_dir = store.survey_dir(survey, QUARANTINE_TREE)
    item.dest = f"{quarantine_dir.relative_to(root).as_posix()}/{name}"
    item.notes.append(f"fails {len(errors)} minimum rule(s) of the specification: "
                      + "; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else "")
                      + f" -> {QUARANTINE_TREE}/{survey}/ with its report (use --force to land "
                        f"it in {tree}/ anyway)")
    dest = root / item.dest
    if dest.exists():
        compare_existing(item, dest, entries_of(dest.parent))


def _format_readme(items, survey: str) -> tuple[str, str] | None:
    """``(format name, README text)`` when the data files that land are all of one format and it
    has a README for ``survey`` (e.g. MaNGA's DR17 README), else None."""
    found = {formats.claim_name(Path(i.rel).name) for i in items
             if i.kind == "data" and i.action in ("land", "skip")}
    if len(found) != 1 or None in found:
        return None
    fmt = found.pop()
    text = fmt.readme_text(survey)
    return (fmt.name, text) if text else None


def _readme_item(store, root: Path, folder: Path, survey: str, readme_src: Path | None,
                 of_format: tuple[str, str] | None = None) -> Item:
    dest = folder / f"{survey}_README.txt"
    rel_dest = dest.relative_to(root).as_posix()
    item = Item(source=str(readme_src) if readme_src else "", rel=readme_src.name if readme_src else "",
                kind="readme", dest=rel_dest, how="survey README")
    if readme_src is not None:
        from ..errors import ReadmeError
        from ..readme import read_readme

        try:
            item.size = readme_src.stat().st_size
            doc = read_readme(readme_src)
            if not doc.has_metadata_block:
                item.notes.append("no '---' line: the README supplies no FITS keywords")
        except ReadmeError as exc:
            item.notes.append(f"README metadata unreadable ({exc}); landed as it is, fix it with "
                              f"`sfng readme show {survey}`")
        except OSError as exc:
            item.fail("error", f"cannot read the README: {exc.strerror or exc}")
            return item
    if dest.exists():
        if readme_src is None:
            item.action = "keep"
            item.notes.append("the store's README is kept")
            return item
        compare_existing(item, dest, {})
        if item.action == "conflict":
            item.action = "keep"
            item.problems.clear()
            item.notes.append(f"the store's README is kept; it differs from {readme_src} "
                              f"(compare them by hand)")
        return item
    if readme_src is None and of_format is not None:
        item.action = "create"
        item.content = of_format[1]
        item.notes.append(f"no README in the source folder: the {of_format[0]} format's README is "
                          f"written (check it: `sfng readme show {survey}`)")
    elif readme_src is None:
        item.action = "create"
        item.notes.append("no README in the source folder: a template is created; fill it in "
                          "(where the data come from, units, caveats)")
    return item

