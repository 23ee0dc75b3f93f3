"""Ingest: bring a survey folder into the store under NED names, never losing or overwriting a file.

Two steps, both plain library calls (``sfng ingest`` only parses options and prints):

* :func:`plan_ingest` looks at every file of the source folder and decides, without writing
  anything, where it goes (``data/<SURVEY>/``, ``derived/<SURVEY>/``, ``uncalibrated/<SURVEY>/``
  for files failing a minimum rule, ``docs/<SURVEY>/`` and ``tables/<SURVEY>/`` for companion
  documents and tables), under which name (``<NED_NAME>.<original>`` with ``ned_rename``), how
  the galaxy was found, and what is wrong.  ``--dry-run`` prints this plan.
* :func:`execute` carries the plan out: each file is hashed while it is copied to a temporary
  name in its destination folder, fsynced, verified and renamed atomically (without ever
  replacing an existing file), then recorded with its SHA-256 and size in the folder's
  ``MANIFEST.sha256`` (:mod:`sfng.manifest`).  A journal (:mod:`sfng.journal`) announces every
  step, so that a rerun after kill -9 finishes or rolls back what was under way; ``move`` removes
  a source only once its copy is verified.

Rerunning an ingest is safe: a target already holding the same bytes is skipped, a target
holding different bytes is a conflict that is reported and left alone.
"""

from __future__ import annotations

import csv
import errno
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import manifest as mf
from .errors import SfngError
from .fsutil import TMP_PREFIX, copy_with_hash, fsync_dir, sha256_file

#: Trees a survey can be ingested into.
TARGET_TREES = ("data", "derived")
#: Where files failing a minimum rule of the specification go instead.
QUARANTINE_TREE = "uncalibrated"
MODES = ("copy", "move", "link")
#: File names (lower case) of data files: FITS (also compressed) and HDF5.
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz", ".fz",
                 ".fits.bz2")
HDF5_SUFFIXES = (".h5", ".hdf5", ".he5")
#: Companion documents, landed unchanged in docs/<SURVEY>/.
DOC_SUFFIXES = (".pdf", ".txt", ".md", ".rst", ".html", ".htm", ".ps", ".eps", ".doc", ".docx",
                ".odt", ".tex", ".png", ".jpg", ".jpeg", ".gif", ".svg")
#: Companion tables, landed unchanged in tables/<SURVEY>/.
TABLE_SUFFIXES = (".csv", ".tsv", ".ecsv", ".vot", ".votable", ".xml", ".dat", ".tbl")
#: Search radius around the image centre for ``by_position`` (arcsec).
BY_POSITION_RADIUS_ARCSEC = 30.0
#: Declared galaxy pairs of the store: files of the primary are linked for the companion too.
PAIRS_TABLE = "tables/pairs.csv"
PAIRS_COLUMNS = ["primary", "companion", "note"]
_README_RE = re.compile(r"(?i)^(?:.*[_.-])?read_?me(?:\.[A-Za-z0-9]+)?$")

#: Plan actions.  ``land``: will be copied/moved/linked; ``skip``: the same bytes are already
#: there; ``create``: a template README will be written; ``keep``: the store's README stays;
#: ``conflict``: the target holds other bytes, or several sources want one target; ``error``:
#: cannot be landed (see problems); ``ignore``: left in the source folder (see notes).
ACTIONS = ("land", "skip", "create", "keep", "conflict", "error", "ignore")
_OK_ACTIONS = ("land", "skip", "create", "keep", "ignore")


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

@dataclass
class Item:
    """One source file and what ingest will do with it.

    Attributes
    ----------
    source : str
        Absolute path of the source file ("" for a README sfng creates).
    rel : str
        Path relative to the source folder.
    kind : str
        ``data`` (FITS/HDF5), ``readme``, ``doc``, ``table`` or ``other``.
    action : str
        One of :data:`ACTIONS`.
    dest : str or None
        Destination, relative to the store root.
    galaxy : str or None
        NED preferred name the file is stored under.
    input_name : str or None
        The name the file gave (OBJECT keyword, file name, position) before NED.
    how : str
        How the galaxy was found ("OBJECT keyword 'NGC628' -> NED (cache)").
    companions : list of str
        NED names of the other members of a pair the file shows (linked by ``links bygalaxy``).
    problems : list of str
        Why the file cannot be landed (action ``error``/``conflict``).
    notes : list of str
        Things worth knowing that do not stop it.
    size : int or None
        Source size in bytes.
    sha256 : str or None
        Source SHA-256 when the plan had to read it (to compare with an existing target).
    validation : dict or None
        The validation report of a file sent to ``uncalibrated/`` (or landed with ``force``).
    """

    source: str
    rel: str
    kind: str
    action: str = "land"
    dest: str | None = None
    galaxy: str | None = None
    input_name: str | None = None
    how: str = ""
    companions: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    size: int | None = None
    sha256: str | None = None
    validation: dict | None = None
    manifest_missing: bool = False

    def fail(self, action: str, problem: str) -> "Item":
        self.action = action
        self.problems.append(problem)
        return self

    def as_dict(self):
        return {k: getattr(self, k) for k in ("source", "rel", "kind", "action", "dest", "galaxy",
                                              "input_name", "how", "companions", "problems",
                                              "notes", "size", "sha256", "validation")}


@dataclass
class Plan:
    """What :func:`execute` will do; ``ok`` when nothing is in conflict or in error."""

    store: object
    src_dir: Path
    survey: str
    tree: str
    ned_rename: bool
    items: list
    validation: str = "off"
    force: bool = False

    @property
    def ok(self) -> bool:
        return all(i.action in _OK_ACTIONS for i in self.items)

    def counts(self) -> dict:
        out = {a: 0 for a in ACTIONS}
        for i in self.items:
            out[i.action] += 1
        out["to_uncalibrated"] = sum(1 for i in self.items if i.action == "land" and i.dest
                                     and i.dest.startswith(QUARANTINE_TREE + "/") and i.kind == "data")
        return out

    def as_dict(self):
        return {"source": str(self.src_dir), "store": str(self.store.root), "survey": self.survey,
                "tree": self.tree, "ned_rename": self.ned_rename, "validation": self.validation,
                "force": self.force, "ok": self.ok, "counts": self.counts(),
                "items": [i.as_dict() for i in self.items]}


def classify(name: str) -> str:
    """``data``, ``readme``, ``doc``, ``table`` or ``other`` from a file name."""
    low = name.lower()
    if low.endswith(FITS_SUFFIXES) or low.endswith(HDF5_SUFFIXES):
        return "data"
    if _README_RE.match(name):
        return "readme"
    if low.endswith(DOC_SUFFIXES):
        return "doc"
    if low.endswith(TABLE_SUFFIXES):
        return "table"
    return "other"


def _is_fits_name(name: str) -> bool:
    return name.lower().endswith(FITS_SUFFIXES)


def _looks_like_fits(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(9) == b"SIMPLE  ="
    except OSError:
        return False


def read_pairs(store) -> dict:
    """``{primary NED name: [companion NED names]}`` from the store's ``tables/pairs.csv``."""
    path = Path(store.root) / PAIRS_TABLE
    out: dict = {}
    if not path.is_file():
        return out
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                p, c = (row.get("primary") or "").strip(), (row.get("companion") or "").strip()
                if p and c:
                    out.setdefault(p, []).append(c)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SfngError(f"{path}: cannot read the pairs table: {exc}") from exc
    return out


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


def _read_header(path: Path):
    """``(primary header, first image header, problem)`` of a FITS file.

    Headers come from :mod:`sfng.fitsheader` (header blocks only, no data read), the image
    header as its card text (turned into an astropy Header only for a position search); astropy
    is the fallback reader.
    """
    try:
        from .fitsheader import read_headers
    except ImportError:
        read_headers = None
    if read_headers is not None:
        try:
            blocks = read_headers(path, max_hdus=3)
            primary = blocks[0].header
            image = blocks[0].text
            if not primary.get("NAXIS"):
                image = next((b.text for b in blocks[1:] if (b.header.get("NAXIS") or 0) >= 2), image)
            return primary, image, None
        except Exception:  # noqa: BLE001 - let astropy have a go, it reports its own way
            pass
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header.copy()
            image = primary
            if primary.get("NAXIS", 0) == 0:
                for hdu in hdul[1:3]:
                    if hdu.header.get("NAXIS", 0) >= 2:
                        image = hdu.header.copy()
                        break
            return primary, image, None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a per-file report
        return None, None, f"FITS header unreadable ({type(exc).__name__}: {exc})"


def _centre(header):
    """J2000 (ra, dec) in degrees of the image centre, or None without a celestial WCS."""
    import warnings

    from astropy.wcs import WCS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(header, str):
                from astropy.io import fits

                header = fits.Header.fromstring(header)
            full = WCS(header)
            w = full.celestial
            if w.naxis != 2 or full.wcs.lng < 0 or full.wcs.lat < 0:
                return None
            # the celestial pair need not be axes 1 and 2 of the file; the sub-WCS keeps the
            # file's axis order
            sizes = [header.get(f"NAXIS{k + 1}") for k in sorted((full.wcs.lng, full.wcs.lat))]
            if not all(sizes):
                return None
            sky = w.pixel_to_world(*[(n - 1) / 2.0 for n in sizes])
            icrs = sky.icrs
            return float(icrs.ra.deg) % 360.0, float(icrs.dec.deg)
    except Exception:  # noqa: BLE001 - no usable WCS: no position
        return None


class _Names:
    """Resolves the names of one plan, remembering answers and failures (one NED question per
    distinct name, even when NED is down)."""

    def __init__(self, resolver):
        self.resolver = resolver
        self._memo: dict = {}

    def prefetch(self, names, progress=None) -> None:
        """Resolve ``names`` in one batch: once NED proves unreachable the resolver stops asking
        it for the rest of the batch (no retry storm), and the cache is written once."""
        todo = [n for n in dict.fromkeys(names) if n not in self._memo]
        if not todo or not hasattr(self.resolver, "resolve_many"):
            return
        cb = (lambda i, n, name, result: progress(i, n, name, "names")) if progress else None
        for name, result in self.resolver.resolve_many(todo, progress=cb).items():
            self._memo[name] = result

    def resolve(self, name: str):
        """NameRecord, or raises the resolver's SfngError (NotFound, Unavailable, ...)."""
        if name not in self._memo:
            try:
                self._memo[name] = self.resolver.resolve(name)
            except SfngError as exc:
                self._memo[name] = exc
        got = self._memo[name]
        if isinstance(got, Exception):
            raise got
        return got


def _describe(rec) -> str:
    src = getattr(rec, "source", "") or "?"
    return f"NED ({src})"


def _not_found_kind(exc) -> str:
    name = type(exc).__name__
    return {"NotFound": "unknown to NED", "Unavailable": "NED unavailable",
            "Ambiguous": "ambiguous", "AmbiguousName": "ambiguous"}.get(name, "not resolved")


def _names_offered(primary_header, fname: str) -> list[str]:
    """Every name (pair members split) a file offers, for one batch NED look-up."""
    from . import naming

    try:
        cands = naming.candidates(primary_header, fname) if hasattr(naming, "candidates") \
            else [naming.object_from(primary_header, fname)]
    except SfngError:
        cands = [naming.object_from(primary_header, "x")] if primary_header is not None else []
    out = []
    for cand, _how in cands:
        if not cand:
            continue
        members = naming.pair_members(cand) if hasattr(naming, "pair_members") else None
        out.extend(members or [cand])
    return out


def _name_item(item: Item, primary_header, image_header, names: _Names, by_position: bool,
               pairs: dict) -> None:
    """Fill ``item.galaxy``, ``how``, ``companions`` (or a problem) for a data file."""
    from . import naming

    fname = Path(item.rel).name
    try:
        cands = naming.candidates(primary_header, fname) if hasattr(naming, "candidates") \
            else [c for c in [naming.object_from(primary_header, fname)] if c[0]]
    except SfngError as exc:  # AmbiguousName from the file name
        obj, how = naming.object_from(primary_header, "x") if primary_header is not None else (None, "")
        if not obj:
            item.fail("error", f"no galaxy name: {exc}")
            return
        item.notes.append(f"file name ignored: {exc}")
        cands = [(obj, how)]
    if not cands and by_position:
        pos = _centre(image_header) if image_header is not None else None
        if pos is None:
            item.fail("error", "no OBJECT keyword, no galaxy in the file name, and no celestial "
                               "WCS to search NED by position")
            return
        try:
            rec = names.resolver.by_position(pos[0], pos[1], BY_POSITION_RADIUS_ARCSEC)
        except SfngError as exc:
            item.fail("error", f"NED search by position failed ({_not_found_kind(exc)}): {exc}")
            return
        if rec is None:
            item.fail("error", f"no galaxy in NED within {BY_POSITION_RADIUS_ARCSEC:g} arcsec of the "
                               f"image centre (RA {pos[0]:.5f}, Dec {pos[1]:+.5f} deg)")
            return
        item.input_name = f"RA {pos[0]:.5f} Dec {pos[1]:+.5f}"
        item.galaxy = rec.ned_name
        item.how = (f"image centre RA {pos[0]:.5f} Dec {pos[1]:+.5f} deg -> nearest NED galaxy "
                    f"within {BY_POSITION_RADIUS_ARCSEC:g} arcsec")
    elif not cands:
        item.fail("error", "no galaxy name: no OBJECT keyword and no galaxy in the file name "
                           "(set OBJECT, rename the file, or use --by-position)")
        return
    else:
        chosen = None
        for cand, how in cands:
            members = naming.pair_members(cand) if hasattr(naming, "pair_members") else None
            first = members[0] if members else cand
            try:
                rec = names.resolve(first)
            except SfngError as exc:
                kind = _not_found_kind(exc)
                if chosen is None and kind == "unknown to NED" and len(cands) > 1:
                    item.notes.append(f"{how} {cand!r} is unknown to NED; trying the next source")
                    continue
                if chosen is None:
                    item.fail("error", f"{how} {cand!r}: {kind}: {exc}")
                    return
                item.notes.append(f"{how} {cand!r} not checked ({kind})")
                continue
            if chosen is None:
                chosen = (cand, how, rec, members)
            elif naming.normalise(rec.ned_name) != naming.normalise(chosen[2].ned_name):
                item.fail("error", f"{chosen[1]} {chosen[0]!r} is NED {chosen[2].ned_name!r} but the "
                                   f"{how} {cand!r} is NED {rec.ned_name!r}; sfng does not guess: "
                                   f"set OBJECT or rename the file")
                return
        if chosen is None:
            item.fail("error", "no source of the galaxy name resolved in NED")
            return
        cand, how, rec, members = chosen
        item.input_name, item.galaxy = cand, rec.ned_name
        item.how = f"{how} {cand!r} -> {_describe(rec)}"
        for other in (members or [])[1:]:
            try:
                item.companions.append(names.resolve(other).ned_name)
            except SfngError as exc:
                item.notes.append(f"pair member {other!r} not resolved ({_not_found_kind(exc)}); "
                                  f"no link for it")
        if members:
            item.how += f" (pair {cand!r}: primary {members[0]!r})"
    for comp in pairs.get(item.galaxy, []):
        if comp not in item.companions:
            item.companions.append(comp)


def _dest_name(item: Item, original: str) -> str:
    """``<NED_NAME>.<original>``, keeping a name that already starts with it."""
    from . import naming

    prefix = naming.encode_galaxy(item.galaxy) + "." if hasattr(naming, "encode_galaxy") else None
    if prefix and original.startswith(prefix) and len(original) > len(prefix):
        item.notes.append("already named after its NED galaxy; name kept")
        return original
    return naming.compose(item.galaxy, original)


# ---------------------------------------------------------------------------------------------
# VALIDATION HOOK (issue 4)
# ---------------------------------------------------------------------------------------------

def _validator():
    """``sfng.validate.validate_file``, imported on first use (validation pulls in astropy.wcs);
    tests replace this seam with a fake."""
    from .validate import validate_file

    return validate_file


def validation_hook(path: Path, readme_metadata=None, tree: str | None = None):
    """Minimum-rule check of one source file before it lands, through :mod:`sfng.validate`.

    Returns ``(errors, report dict)``: a file with errors goes to ``uncalibrated/<SURVEY>/`` with
    its report (``<file name>.validation.json``), unless ingest runs with ``force``.  The file is
    judged as it will be in the store: with ``readme_metadata``, the defaults of the README that
    will govern it (the store's, else the one being landed), and as bound for ``tree``.
    """
    report = _validator()(path, store=None, readme_metadata=dict(readme_metadata or {}), tree=tree)
    errors = [e if isinstance(e, str) else str(getattr(e, "message", e)) for e in report.errors]
    return errors, report.as_dict()


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------

def _compare_existing(item: Item, dest: Path, entries: dict) -> None:
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
                validate: bool = True, progress=None) -> Plan:
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
    """
    from . import naming

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
    survey = survey or src_dir.name
    # -- MaNGA/GZ3D (issue 8): DAP maps and GZ3D masks are derived products, never data/.
    from . import manga
    tree = manga.ingest_tree(src_dir, tree)
    naming.check_component(survey, what="survey name")
    if survey in ("bygalaxy",) or survey.startswith(TMP_PREFIX):
        raise SfngError(f"{survey!r} is reserved and cannot be a survey name; use --survey NAME")
    base_dir = store.survey_dir(survey, tree)
    quarantine_dir = store.survey_dir(survey, QUARANTINE_TREE)
    if ned_rename and resolver is None:
        from .ned import Resolver

        resolver = Resolver(store=store, offline=offline)
    names = _Names(resolver) if ned_rename else None
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
        tops = [p for p, rel, why in files if why is None and "/" not in rel and classify(p.name) == "readme"]
        exact = [p for p in tops if p.name.lower() == f"{survey}_readme.txt".lower()
                 or p.name.lower() == f"{src_dir.name}_readme.txt".lower()]
        readme_src = exact[0] if exact else (tops[0] if len(tops) == 1 else None)
        readme_src = readme_src.resolve() if readme_src is not None else None
    readme_meta = _governing_readme_metadata(store.readme_path(survey, tree), readme_src) \
        if do_validate else {}

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
        if not path.is_file():
            item.action = "ignore"
            item.notes.append("not a regular file; left in the source folder")
            continue
        item.size = st.st_size
        if not os.access(path, os.R_OK):
            item.fail("error", "cannot read the source: permission denied")
            continue
        kind = classify(name)
        if kind == "other" and _looks_like_fits(path):
            kind = "data"
            item.notes.append("FITS content without a FITS file name extension")
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
        # data
        is_fits = _is_fits_name(name) or _looks_like_fits(path)
        primary = image = None
        if is_fits and (ned_rename or do_validate):
            primary, image, problem = _read_header(path)
            if problem:
                item.notes.append(problem)
        if ned_rename:
            to_name.append((item, path, primary, image))
        else:
            # The galaxy stays unknown: a raw survey name (ngc4826.co10.fits) would parse as
            # galaxy "ngc4826", so nothing is guessed without NED.
            item.how = "name kept (no --ned-rename); galaxy not determined"
            item.dest = f"{base_dir.relative_to(root).as_posix()}/{name}"

    # Names: one batch question to the resolver, then each file named from the answers.
    if to_name:
        names.prefetch([n for item, path, primary, image in to_name if not manga.recognise(path)
                        for n in _names_offered(primary, path.name)], progress=progress)
    for item, path, primary, image in to_name:
        if manga.recognise(path):  # MaNGA/GZ3D (issue 8): NED by position, else MaNGA-ID name
            manga.name_item(item, path, names.resolver)
        else:
            _name_item(item, primary, image, names, by_position, pairs)
        if item.action == "error":
            continue
        try:
            item.dest = f"{base_dir.relative_to(root).as_posix()}/{_dest_name(item, path.name)}"
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
        dest = root / item.dest
        if dest.exists() or dest.is_symlink():
            _compare_existing(item, dest, entries_of(dest.parent))
            continue
        if item.kind == "data" and _is_fits_name(Path(item.rel).name) and do_validate:
            _validate_item(item, plan, root, quarantine_dir, entries_of, readme_meta)
        elif item.kind == "data" and force:
            item.notes.append("not validated (--force)")

    # The survey README: kept, landed, or created from the template.
    folders = [base_dir]
    if any(i.kind == "data" and i.action in ("land", "skip") and i.dest
           and i.dest.startswith(QUARANTINE_TREE + "/") for i in plan.items):
        folders.append(quarantine_dir)
    for folder in folders:
        plan.items.append(_readme_item(store, root, folder, survey, readme_src))

    if resolver is not None and hasattr(resolver, "flush"):
        try:
            resolver.flush()
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation
            plan.items[-1].notes.append(f"NED cache not written: {exc}")
    return plan


def _governing_readme_metadata(store_readme: Path, readme_src: Path | None) -> dict:
    """README defaults that will apply to the landed files: the store's README when it exists
    (it is kept), else the source README being landed; unreadable metadata count as none (the
    README item reports it)."""
    from .errors import ReadmeError
    from .readme import read_readme

    path = store_readme if store_readme.is_file() else readme_src
    if path is None:
        return {}
    try:
        return dict(read_readme(path).metadata)
    except (ReadmeError, OSError):
        return {}


def _validate_item(item, plan, root, quarantine_dir, entries_of, readme_meta):
    try:
        got = validation_hook(Path(item.source), readme_meta, plan.tree)
    except Exception as exc:  # noqa: BLE001 - a validator crash must not block ingest
        item.notes.append(f"validation failed to run ({type(exc).__name__}: {exc}); not checked")
        return
    errors, report = got
    if not errors:
        return
    item.validation = report
    name = Path(item.dest).name
    item.dest = f"{quarantine_dir.relative_to(root).as_posix()}/{name}"
    item.notes.append(f"fails {len(errors)} minimum rule(s) of the specification: "
                      + "; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else "")
                      + f" -> {QUARANTINE_TREE}/{plan.survey}/ with its report (use --force to land "
                        f"it in {plan.tree}/ anyway)")
    dest = root / item.dest
    if dest.exists():
        _compare_existing(item, dest, entries_of(dest.parent))


def _readme_item(store, root: Path, folder: Path, survey: str, readme_src: Path | None) -> Item:
    dest = folder / f"{survey}_README.txt"
    rel_dest = dest.relative_to(root).as_posix()
    item = Item(source=str(readme_src) if readme_src else "", rel=readme_src.name if readme_src else "",
                kind="readme", dest=rel_dest, how="survey README")
    if readme_src is not None:
        from .errors import ReadmeError
        from .readme import read_readme

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
        _compare_existing(item, dest, {})
        if item.action == "conflict":
            item.action = "keep"
            item.problems.clear()
            item.notes.append(f"the store's README is kept; it differs from {readme_src} "
                              f"(compare them by hand)")
        return item
    if readme_src is None:
        item.action = "create"
        item.notes.append("no README in the source folder: a template is created; fill it in "
                          "(where the data come from, units, caveats)")
    return item


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What happened to one planned item.  ``status``: landed, skipped, created, kept, conflict,
    failed or ignored."""

    item: Item
    status: str
    message: str = ""
    sha256: str | None = None
    size: int | None = None
    how: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("landed", "skipped", "created", "kept", "ignored")

    def as_dict(self):
        return {"source": self.item.source, "dest": self.item.dest, "kind": self.item.kind,
                "status": self.status, "message": self.message, "sha256": self.sha256,
                "size": self.size, "how": self.how, "galaxy": self.item.galaxy,
                "companions": self.item.companions, "problems": self.item.problems,
                "notes": self.item.notes}


@dataclass
class Report:
    """The result of :func:`execute`: ``ok`` when every file landed (or was already there)."""

    plan: Plan
    mode: str
    outcomes: list = field(default_factory=list)
    recovered: list = field(default_factory=list)
    seconds: float = 0.0
    bytes_landed: int = 0

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def counts(self) -> dict:
        out: dict = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        out["to_uncalibrated"] = sum(1 for o in self.outcomes if o.status == "landed" and o.item.kind
                                     == "data" and (o.item.dest or "").startswith(QUARANTINE_TREE + "/"))
        return out

    def summary(self) -> str:
        c = self.counts()
        data = [o for o in self.outcomes if o.item.kind == "data"]
        landed = sum(1 for o in data if o.status == "landed")
        skipped = sum(1 for o in data if o.status == "skipped")
        bad = sum(1 for o in self.outcomes if not o.ok)
        mb = self.bytes_landed / 1e6
        rate = f", {mb / self.seconds:.0f} MB/s" if self.seconds > 0 and mb > 1 else ""
        parts = [f"{landed} data file(s) landed", f"{skipped} already there"]
        if c["to_uncalibrated"]:
            parts.append(f"{c['to_uncalibrated']} to {QUARANTINE_TREE}/")
        others = sum(1 for o in self.outcomes if o.item.kind in ("doc", "table") and o.status == "landed")
        if others:
            parts.append(f"{others} companion document(s)/table(s)")
        if c.get("ignored"):
            parts.append(f"{c['ignored']} left in the source")
        parts.append(f"{bad} not landed" if bad else "nothing failed")
        return (f"{self.plan.survey}: " + ", ".join(parts)
                + f" ({mb:.1f} MB in {self.seconds:.1f} s{rate})")

    def as_dict(self):
        return {"ok": self.ok, "mode": self.mode, "survey": self.plan.survey, "tree": self.plan.tree,
                "counts": self.counts(), "seconds": round(self.seconds, 3),
                "bytes_landed": self.bytes_landed, "recovered": self.recovered,
                "validation": self.plan.validation,
                "outcomes": [o.as_dict() for o in self.outcomes]}


def _lock_and_journal_paths(store, survey):
    from .journal import state_dir

    return (state_dir(store.root, "locks") / f"ingest-{survey}.lock",
            state_dir(store.root, "journal") / f"ingest-{survey}.jsonl")


def _hard_link(src: Path, dst: Path) -> tuple[str, int]:
    """Land ``dst`` as a hard link of ``src`` through a temporary name (no clobber); hash it."""
    from .fsutil import place_temp, removing_on_error

    if dst.exists():
        raise FileExistsError(f"{dst} exists; sfng never overwrites a file")
    tmp = dst.parent / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    os.link(src, tmp)
    with removing_on_error(tmp):
        digest = sha256_file(tmp)
        size = os.stat(tmp).st_size
        place_temp(tmp, dst)
    fsync_dir(dst.parent)
    return digest, size


_LINK_FALLBACK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES, errno.EOPNOTSUPP}


def _land(src: Path, dst: Path, mode: str, expected: str | None) -> tuple[str, int, str]:
    """Land one file; returns ``(sha256, size, how)``.  Never replaces ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode in ("link", "move"):
        try:
            digest, size = _hard_link(src, dst)
            if expected and digest != expected:
                raise OSError(f"{src}: changed since the plan (SHA-256 differs)")
            return digest, size, "hard link" if mode == "link" else "moved (same file system)"
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in _LINK_FALLBACK:
                raise
            why = os.strerror(exc.errno)
            how = f"copied (hard link impossible: {why})"
    else:
        how = "copied"
    digest, size = copy_with_hash(src, dst, expected_sha256=expected)
    return digest, size, how


def recover(store, survey: str) -> list[str]:
    """Finish or roll back an ingest of ``survey`` that was killed; returns what was done.

    Must be called holding the survey's ingest lock (:func:`execute` does).  Temporary files
    are removed (roll back of unfinished copies); files that reached their final name but not
    the manifest are verified against their source and recorded (finish); ``move`` sources whose
    copy is verified are removed (finish).
    """
    from .journal import Journal

    _lock, jpath = _lock_and_journal_paths(store, survey)
    records = Journal.read(jpath)
    if not jpath.exists():
        return []
    root = Path(store.root)
    done: list[str] = []
    intents = [r for r in records if r["op"] == "land"]
    landed = {r["dst"]: r for r in records if r["op"] == "landed"}
    removed = {r["src"] for r in records if r["op"] == "source-removed"}
    folders = {(root / r["dst"]).parent for r in intents}
    for r in records:
        if r["op"] == "begin":
            for f in r.get("folders", []):
                folders.add(root / f)
    for folder in sorted(folders):
        if folder.is_dir():
            for tmp in folder.glob(TMP_PREFIX + "*"):
                tmp.unlink(missing_ok=True)
                done.append(f"removed the unfinished temporary file {store.relpath(folder)}/{tmp.name}")
    for r in intents:
        dst, src = root / r["dst"], Path(r["src"])
        if not dst.is_file():
            done.append(f"rolled back: {r['dst']} had not landed (the rerun lands it)")
            continue
        if r.get("kind") == "readme":
            continue  # READMEs are not in manifests, and are copied (never moved)
        entries = mf.read_manifest(dst.parent)
        entry = entries.get(dst.name)
        dst_sha = sha256_file(dst)
        if entry is None:
            want = landed.get(r["dst"], {}).get("sha256")
            if want is None and src.is_file():
                want = sha256_file(src)
            if want != dst_sha:
                done.append(f"{r['dst']} could not be verified against its source; left out of the "
                            f"manifest (check it by hand)")
                continue
            mf.append(dst.parent, [mf.Entry(dst.name, dst_sha, dst.stat().st_size, _utc_now(),
                                            tuple(r.get("companions") or ()), r.get("galaxy"))])
            done.append(f"finished: {r['dst']} verified and recorded in the manifest")
            entry = mf.Entry(dst.name, dst_sha)
        if r.get("mode") == "move" and str(src) not in removed and src.is_file() \
                and entry.sha256 == dst_sha and sha256_file(src) == dst_sha:
            src.unlink()
            done.append(f"finished the move: removed the verified source {src}")
    Journal(jpath).close(remove=True)
    return done


def execute(plan: Plan, mode: str = "copy", jobs: int = 1, progress=None) -> Report:
    """Carry out ``plan``; returns a :class:`Report` (``ok`` when every file landed).

    Parameters
    ----------
    mode : {"copy", "move", "link"}
        ``copy`` leaves the sources; ``move`` removes each source once its landed copy is
        verified (a hard link on the same file system, else a copy); ``link`` lands hard links
        where possible (same file system), copies elsewhere.
    jobs : int
        Files landed in parallel (threads: hashing and I/O release the GIL).
    progress : callable, optional
        ``progress(outcome)`` after each item.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .journal import Journal, Lock

    if mode not in MODES:
        raise SfngError(f"unknown ingest mode {mode!r}: choose one of {', '.join(MODES)}")
    store, root = plan.store, Path(plan.store.root)
    report = Report(plan=plan, mode=mode)
    t0 = time.perf_counter()
    lock_path, jpath = _lock_and_journal_paths(store, plan.survey)
    guard = threading.Lock()
    with Lock(lock_path, f"ingest of survey {plan.survey}"):
        report.recovered = recover(store, plan.survey)
        folders = sorted({Path(i.dest).parent.as_posix() for i in plan.items if i.dest})
        journal = Journal(jpath).open(src=str(plan.src_dir), mode=mode, folders=folders)

        def finish(outcome):
            with guard:
                report.outcomes.append(outcome)
                if outcome.status == "landed" and outcome.size:
                    report.bytes_landed += outcome.size
            if progress:
                progress(outcome)

        touched: set = set()  # manifests appended to without fsync: synced at the end

        def record_manifest(item, digest, size, check=False):
            if item.kind == "readme":
                return
            dst = root / item.dest
            with guard:
                if check:  # recovery may have recorded it since the plan was made
                    have = mf.read_manifest(dst.parent).get(dst.name)
                    if have is not None and have.sha256 == digest:
                        return
                mf.append(dst.parent, [mf.Entry(dst.name, digest, size, _utc_now(),
                                                tuple(item.companions), item.galaxy)], sync=False)
                touched.add(dst.parent)

        def do(item: Item) -> Outcome:
            src, dst = Path(item.source), root / item.dest
            if item.action == "skip":
                return _skip(item, src, dst, mode, journal, guard, record_manifest)
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                if item.validation is not None:
                    import json

                    from .fsutil import atomic_write_text

                    atomic_write_text(dst.parent / f"{dst.name}.validation.json",
                                      json.dumps(item.validation, indent=2, default=str) + "\n",
                                      overwrite=True)
                item_mode = "copy" if item.kind == "readme" else mode
                with guard:
                    journal.record("land", src=str(src), dst=item.dest, mode=item_mode, kind=item.kind,
                                   companions=item.companions, galaxy=item.galaxy)
                digest, size, how = _land(src, dst, item_mode, None)
                with guard:
                    journal.record("landed", dst=item.dest, sha256=digest, size=size)
                record_manifest(item, digest, size)
                if item_mode == "move":
                    try:
                        src.unlink()
                    except OSError as exc:
                        msg = (f"landed and verified as {item.dest}, but the source could not be "
                               f"removed ({exc.strerror or exc}); remove it by hand or rerun")
                        item.problems.append(msg)
                        return Outcome(item, "failed", msg, digest, size, how)
                    with guard:
                        journal.record("source-removed", src=str(src))
                return Outcome(item, "landed", "", digest, size, how)
            except FileExistsError:
                # Appeared since the plan: compare like the plan does.
                item.size = item.size if item.size is not None else None
                _compare_existing(item, dst, mf.read_manifest(dst.parent))
                if item.action == "skip":
                    return _skip(item, src, dst, mode, journal, guard, record_manifest)
                return Outcome(item, "conflict", "; ".join(item.problems))
            except OSError as exc:
                msg = _os_message(exc, src, dst)
                item.problems.append(msg)
                return Outcome(item, "failed", msg)

        # READMEs first, so that a file is never in the store without its survey README.
        for item in plan.items:
            if item.kind != "readme":
                continue
            if item.action == "create":
                finish(_create_readme(item, root, plan.survey))
            elif item.action in ("land", "skip"):
                finish(do(item))
            else:
                finish(_not_landed(item))
        todo = [i for i in plan.items if i.kind != "readme" and i.action in ("land", "skip")]
        for item in plan.items:
            if item.kind != "readme" and item.action not in ("land", "skip"):
                finish(_not_landed(item))
        if jobs > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for outcome in pool.map(do, todo):
                    finish(outcome)
        else:
            for item in todo:
                finish(do(item))
        for folder in touched:
            mf.sync_manifest(folder)
        journal.close(remove=True)
    report.seconds = time.perf_counter() - t0
    return report


def _os_message(exc: OSError, src: Path, dst: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{dst}: no space left on the device; nothing was written under its name (free space and rerun)"
    if exc.errno == errno.EDQUOT:
        return f"{dst}: disk quota exceeded; nothing was written under its name (rerun when there is room)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{exc.filename or src}: permission denied"
    return f"{src} -> {dst}: {exc.strerror or exc}"


def _skip(item, src, dst, mode, journal, guard, record_manifest) -> Outcome:
    """An identical file is already there: record it if the manifest lacks it; finish a move."""
    msg = "the same bytes are already in the store"
    if item.manifest_missing:
        record_manifest(item, item.sha256, item.size, check=True)
        msg += "; recorded in the manifest"
    if mode == "move" and item.kind != "readme" and src.is_file():
        try:
            stored = sha256_file(dst)
            if stored == sha256_file(src):
                src.unlink()
                with guard:
                    journal.record("source-removed", src=str(src))
                msg += "; source removed (move)"
        except OSError as exc:
            return Outcome(item, "failed", f"{src}: cannot finish the move: {exc.strerror or exc}")
    return Outcome(item, "skipped", msg, item.sha256, item.size)


def _not_landed(item: Item) -> Outcome:
    status = {"conflict": "conflict", "error": "failed", "ignore": "ignored", "keep": "kept"}.get(
        item.action, item.action)
    return Outcome(item, status, "; ".join(item.problems or item.notes))


def _create_readme(item: Item, root: Path, survey: str) -> Outcome:
    from .fsutil import atomic_write_text
    from .readme import template

    dst = root / item.dest
    try:
        atomic_write_text(dst, template(survey))
    except FileExistsError:
        return Outcome(item, "kept", "the store's README is kept")
    except OSError as exc:
        return Outcome(item, "failed", _os_message(exc, Path(""), dst))
    return Outcome(item, "created", "template README written; fill it in")


# ---------------------------------------------------------------------------------------------
# One call: plan + execute
# ---------------------------------------------------------------------------------------------

def ingest(store, src_dir, *, mode: str = "copy", jobs: int = 1, dry_run: bool = False,
           progress=None, **plan_options):
    """Plan and (unless ``dry_run``) execute; returns the :class:`Plan` or the :class:`Report`."""
    plan = plan_ingest(store, src_dir, **plan_options)
    if dry_run:
        return plan
    return execute(plan, mode=mode, jobs=jobs, progress=progress)


# ---------------------------------------------------------------------------------------------
# The demo's ingest step
# ---------------------------------------------------------------------------------------------

def seed_demo_tables(store) -> list[str]:
    """Give a demo store the shipped NED cache and the M51 pair (existing tables are kept)."""
    from .fsutil import atomic_write_text

    done = []
    shipped = Path(__file__).resolve().parent / "data" / "ned_demo_cache.csv"
    if shipped.is_file():
        try:
            from .ned import Resolver

            n = Resolver(store=store, offline=True).import_cache(shipped, source="demo")
            if n:
                done.append(f"{n} NED answers from the demo cache")
        except ImportError:
            pass
    pairs = Path(store.root) / PAIRS_TABLE
    if not pairs.exists():
        atomic_write_text(pairs, "primary,companion,note\n"
                                 "MESSIER 051a,MESSIER 051b,NGC 5194/5195: maps of M51 show its companion\n")
        done.append("pairs table")
    return done


class _TruthResolver:
    """Offline resolver over the demo's own galaxy list (used only when sfng.ned is absent)."""

    def resolve(self, name):
        from types import SimpleNamespace

        from .demo import galaxy

        try:
            g = galaxy(name)
        except KeyError:
            raise SfngError(f"{name!r} is not a demo galaxy") from None
        return SimpleNamespace(input=name, ned_name=g.ned_name, ra=g.ra, dec=g.dec, source="demo")

    def by_position(self, ra, dec, radius_arcsec=30.0):
        return None


def demo_step(tree, say) -> None:
    """Ingest every demo survey folder with NED renaming, offline, from the shipped NED cache,
    then build ``data/bygalaxy/``."""
    from .store import Store

    store = Store.open(tree.store_dir)
    seeded = seed_demo_tables(store)
    try:
        from .ned import Resolver

        resolver = Resolver(store=store, offline=True)
    except ImportError:
        resolver = _TruthResolver()
    if seeded:
        say(f"ingest: seeded tables/ with the {', '.join(seeded)}")
    for folder in sorted(p for p in Path(tree.surveys_dir).iterdir() if p.is_dir()):
        plan = plan_ingest(store, folder, ned_rename=True, resolver=resolver, offline=True)
        caught = [i for i in plan.items if i.kind == "data" and i.validation is not None]
        if caught:
            # The demo's later steps (validate/fix, find) work on data/: land these with --force
            # and show what the ingest hook caught.
            why = caught[0].notes[-1].split(" -> ")[0].split(": ", 1)[-1]
            say(f"ingest: {plan.survey}: {len(caught)} file(s) fail a minimum rule (e.g. "
                f"{caught[0].rel}: {why}); without --force they would go to "
                f"{QUARANTINE_TREE}/{plan.survey}/, the demo lands them for the validate step")
            plan = plan_ingest(store, folder, ned_rename=True, resolver=resolver, offline=True,
                               force=True)
        report = execute(plan, mode="copy", jobs=1)
        say("ingest: " + report.summary())
        for o in report.outcomes:
            if not o.ok:
                say(f"  {o.status}: {o.item.rel}: {o.message}")
    try:
        from .links import build_bygalaxy
    except ImportError:
        return
    lr = build_bygalaxy(store)
    say("links: " + lr.summary())
