"""Validation of store files against the specification's minimum FITS rules and desiderata.

Public API::

    from sfng.validate import validate_file, validate_paths, RULES
    report = validate_file("data/THINGS/NGC_2403.NGC_2403_NA_CUBE_THINGS.FITS")
    report.ok, [p.rule_id for p in report.problems]

The rules are declared in :mod:`sfng.validate.rules` (one list read by code, tests and docs);
each check is one function in :mod:`sfng.validate.checks`; :mod:`sfng.validate.fix` repairs what
can be repaired.  Validation reads headers only, unless ``deep=True``.
"""

from __future__ import annotations

import os
import zlib
from functools import lru_cache
from pathlib import Path

from .. import formats
from ..errors import ReadmeError
# light and asked for every file (a function-level import costs ~1 us a call)
from ..header import ReadmeCache, effective_header, readme_for
from .report import FileReport, Problem, Summary, summarize
from .rules import BY_ID, ERROR, INFO, RULES, WARNING, Rule

__all__ = ["validate_file", "validate_paths", "validate_header", "store_files", "FileReport", "Problem",
           "Summary", "summarize", "RULES", "Rule", "ERROR", "WARNING", "INFO"]

#: Names in a survey folder that are not data files.
_NOT_DATA = ("MANIFEST.sha256",)
_STRUCTURAL = frozenset(("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT",
                         "TFIELDS", "GROUPS", "END", "CHECKSUM", "DATASUM", "EXTNAME", "EXTVER",
                         "INHERIT"))


def _problem(rule_id: str, details: dict, eff=None, keys=()) -> Problem:
    r = BY_ID[rule_id]
    try:
        msg = r.message.format(**details)
    except (KeyError, IndexError, ValueError):
        msg = r.message
    from_readme = tuple(k for k in keys if eff is not None and getattr(eff, "origin", lambda _: None)(k) == "readme")
    return Problem(rule_id, r.level, msg, r.hint, from_readme)


def _cards(header):
    cards = getattr(header, "cards", None)
    if cards is None:
        return list(header.items())
    out = []
    for c in cards:
        if isinstance(c, tuple):
            out.append((c[0], c[1]))
            continue
        try:
            out.append((c.keyword, c.value))
        except Exception:  # noqa: BLE001 - a card astropy cannot parse (a DSS SKEW card): left out
            continue
    return out


def _skip(rules_filter, rule_id) -> bool:
    return rules_filter is not None and not rules_filter(rule_id)


def _judge(report: FileReport, file_header, text, xtension, shape, readme_meta, tree,
           primary_header=None, rules_filter=None, format_cards=None, beams=None):
    """Run every check on one HDU; appends to ``report``; returns the effective header.

    ``format_cards``: ``(keyword, value)`` cards the file's format reads out of the file in its
    own convention (:meth:`sfng.formats.Format.header_defaults`); the HDU's own cards win.
    ``beams``: the file's per-channel beams (:func:`_beam_table`)."""
    from .checks import CHECKS, Subject

    cards = _cards(file_header)
    if primary_header is not None and file_header.get("INHERIT") is True:
        cards = [(k, v) for k, v in _cards(primary_header) if k not in _STRUCTURAL
                 and not k.startswith("NAXIS")] + cards
    if format_cards:
        cards = list(format_cards) + list(cards)
    eff = effective_header(cards, readme_meta)
    report.from_readme = eff.from_readme()
    subject = Subject(eff=eff, text=text, xtension=xtension, shape=tuple(shape), tree=tree,
                      beams=beams)
    if primary_header is None and not format_cards:
        report.subject = subject
    for check in CHECKS:
        for f in check(subject):
            if not _skip(rules_filter, f.rule_id):
                report.problems.append(_problem(f.rule_id, f.details, eff, f.keys))
    if report.from_readme and not _skip(rules_filter, "readme-keys"):
        report.problems.append(_problem("readme-keys", {"keys": ", ".join(report.from_readme)}, eff,
                                        report.from_readme))
    return eff


def validate_header(header, name: str = "<header>", readme_metadata=None, tree: str | None = None,
                    shape=None, xtension=None) -> FileReport:
    """Validate a header on its own (an astropy Header or a mapping), e.g. before writing a file.

    ``shape`` ``(NAXIS1, ...)`` defaults to the header's NAXISn.
    """
    if shape is None:
        n = int(header.get("NAXIS", 0) or 0)
        shape = tuple(int(header.get(f"NAXIS{i}", 0) or 0) for i in range(1, n + 1))
    text = header.tostring() if hasattr(header, "tostring") else ""
    report = FileReport(path=Path(name), hdu=0)
    _judge(report, header, text, xtension if xtension is not None else header.get("XTENSION"), shape,
           readme_metadata, tree)
    return report


def _store_root(store):
    if store is None:
        return None
    root = getattr(store, "root", None)
    return Path(root) if root is not None else Path(store)


@lru_cache(maxsize=256)
def _resolved(root: str) -> Path:
    return Path(root).resolve()


@lru_cache(maxsize=4096)
def _find_root(folder: str):
    from ..store import find_root

    return find_root(folder) if os.path.isdir(folder) else None


def _locate(path: Path, root):
    """``(tree, survey, display path, README path or None)`` of a file (store-relative when in one).

    Same layout rule as :func:`sfng.header.readme_for`, without resolving every path (a store
    validation looks up thousands of files under one root).
    """
    if root is None:
        return None, None, str(path), None
    rr = _resolved(str(root))
    ap = Path(os.path.abspath(path))
    try:
        rel = ap.relative_to(rr)
    except ValueError:
        try:
            rel = path.resolve().relative_to(rr)
        except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
            return None, None, str(path), None
    parts = rel.parts
    tree = parts[0] if len(parts) >= 2 else None
    survey = parts[1] if len(parts) >= 3 else None
    readme = None
    if tree and survey:
        cand = rr / tree / survey / f"{survey}_README.txt"
        readme = cand if cand.is_file() else None
    return tree, survey, rel.as_posix(), readme


def validate_file(path, store=None, deep: bool = False, *, readme_cache=None, readme_metadata=None,
                  rules_filter=None, tree: str | None = None, blocks=None,
                  display: str | None = None, hdu: int | str | None = None) -> FileReport:
    """Validate one file; never raises for a bad file (each problem is a report line).

    Parameters
    ----------
    path : str or Path
    store : sfng.store.Store, path, or None
        The store the file belongs to (found from the file's folders when None).  Decides the
        tree (``data``/``derived``) and the survey README.
    deep : bool
        Also read the data: blank fraction and planes, measured rms (MAD).
    readme_cache : sfng.header.ReadmeCache, optional
        Shared between files of one run.
    readme_metadata : mapping, optional
        README defaults to use instead of looking the README up (e.g. for files being ingested).
    rules_filter : callable(rule_id) -> bool, optional
        Keep only the findings of rules it accepts.
    tree : str, optional
        Judge the file as bound for this tree (``data``/``derived``) whatever its location, e.g.
        a source file before ingest (derived/ products need not be in sky units).
    blocks : list of sfng.fitsheader.HeaderBlock, optional
        The file's headers as the caller already read them (the index crawler): the file is
        not read again.  Only blocks that :func:`sfng.fitsheader.read_headers` returned
        without error belong here.
    display : str, optional
        The store-relative path to report; with ``tree`` and ``readme_metadata`` it spares
        locating the file in its store.
    hdu : int or str, optional
        The HDU carrying the science data (index or EXTNAME).  Default: the one the format that
        claims the file names (:meth:`sfng.formats.Format.science_hdu`), else the first HDU
        holding data.
    """
    from .reader import open_file

    if not isinstance(path, Path):  # the crawler's is one already
        path = Path(path)
    fmt = formats.claim_name(path.name)
    if hdu is None and fmt is not None:
        hdu = fmt.science_hdu(path)
    if display is not None and tree is not None and readme_metadata is not None:
        root, where = None, (tree, None, display, None)  # the caller knows where the file is
    else:
        root = _store_root(store)
        if root is None:
            root = _find_root(str(Path(os.path.abspath(path)).parent))
        where = _locate(path, root)
    if tree is None:
        tree = where[0]
    report = FileReport(path=path, display=where[2])

    if blocks is not None:
        from .reader import opened_from_blocks

        opened = opened_from_blocks(path, blocks)
    else:
        opened = open_file(path, until_image=hdu is None)
    for rule_id, details in opened.findings:
        if not _skip(rules_filter, rule_id):
            report.problems.append(_problem(rule_id, details))
    if opened.kind in ("bad", "other"):
        return report

    meta = readme_metadata
    if meta is None:
        rpath = where[3] if root is not None else readme_for(path, None)
        report.readme = rpath
        if rpath is None and root is not None and where[0] in ("data", "derived"):
            survey = where[1]
            if survey and not _skip(rules_filter, "readme-missing"):
                report.problems.append(_problem("readme-missing", {"expected": f"{survey}_README.txt"}))
        cache = readme_cache or ReadmeCache()
        try:
            meta = cache.get(rpath).metadata
        except ReadmeError as exc:
            meta = {}
            if not _skip(rules_filter, "readme-invalid"):
                report.problems.append(_problem("readme-invalid", {"reason": str(exc)}))

    hdu = _science_hdu(opened, hdu)
    if hdu is None:
        if opened.kind == "fits" and not _skip(rules_filter, "no-data"):
            report.problems.append(_problem("no-data", {}))
        if opened.kind == "header" and opened.hdus:
            hdu = opened.hdus[0]  # a header dump describes data it does not hold
        else:
            return report
    report.hdu = hdu.index
    from .reader import illegal_cards

    if hdu.text:
        bad = illegal_cards(hdu.text)
        if bad and not _skip(rules_filter, "header-illegal-cards"):
            report.problems.append(_problem("header-illegal-cards", {"count": len(bad), "example": repr(bad[0])}))
    primary = opened.hdus[0].header if hdu.index != 0 else None
    extra = fmt.header_defaults(path, opened.hdus[0].header) if fmt is not None else None
    eff = _judge(report, hdu.header, hdu.text, hdu.xtension, hdu.shape, meta, tree, primary, rules_filter,
                 format_cards=list(extra.items()) if extra else None,
                 beams=_beam_table(path, opened, hdu, blocks))

    if deep and opened.kind == "fits" and hdu.xtension in (None, "IMAGE"):
        from . import deep as deepmod

        try:
            report.stats = deepmod.measure(path, hdu.index)
        except (OSError, ValueError, TypeError, MemoryError, EOFError, zlib.error) as exc:
            report.problems.append(_problem("file-unreadable", {"reason": f"data: {exc}"}))
        else:
            for f in deepmod.findings(report.stats, eff):
                if not _skip(rules_filter, f.rule_id):
                    report.problems.append(_problem(f.rule_id, f.details, eff, f.keys))
    return report


def _beam_table(path, opened, hdu, blocks):
    """A CASA cube's per-channel beams (:class:`sfng.beamtable.BeamTable`), why the BEAMS table
    it promises cannot be read (str), or None for a file without one (nothing is read then).

    Read when the primary header says ``CASAMBM = T`` or a BEAMS extension is among the HDUs
    read: a file validated on its own is read up to its image, so there ``CASAMBM`` decides, as
    it does for CASA itself; the index crawl hands over every HDU."""
    if hdu.xtension not in (None, "IMAGE"):
        return None
    from ..beamtable import BeamTableError, beams_of, promised

    if not promised(h.header for h in opened.hdus):
        return None
    if opened.kind != "fits":
        return "CASAMBM = T, but a header dump holds no BEAMS table"
    try:
        return beams_of(path, blocks)
    except BeamTableError as exc:
        return exc.reason


def _science_hdu(opened, wanted):
    """The HDU named by ``wanted`` (index or EXTNAME) if the file has it, else the first HDU
    holding data."""
    if wanted is not None:
        for h in opened.hdus:
            if h.index == wanted or (isinstance(wanted, str)
                                     and str(h.header.get("EXTNAME", "")).strip() == wanted):
                return h
    return opened.data_hdu()


def _not_data(name: str) -> bool:
    """Names in a survey folder that are not data: READMEs, manifests, quarantine reports,
    hidden files and sfng temporaries."""
    from ..fsutil import TMP_PREFIX

    return (name.startswith(".") or name.startswith(TMP_PREFIX) or name in _NOT_DATA
            or name.endswith("_README.txt") or name.upper().startswith("README")
            or name.endswith(".validation.json"))


def store_files(store, tree: str | None = None, survey: str | None = None):
    """Files to validate in a store: data/ and derived/ (or one tree / survey), sorted.

    Skips READMEs, manifests, hidden names, sfng temporaries and the ``bygalaxy`` link farm.
    """
    from ..store import INDEXED_TREES

    root = _store_root(store)
    trees = [tree] if tree else list(INDEXED_TREES)
    for t in trees:
        base = root / t
        if survey:
            base = base / survey
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "bygalaxy")
            for name in sorted(filenames):
                if _not_data(name):
                    continue
                p = Path(dirpath) / name
                if p.is_symlink():
                    continue
                yield p


def expand(paths):
    """Files named by ``paths`` (folders are walked; READMEs and temporaries skipped)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not _not_data(name):
                        yield Path(dirpath) / name
        else:
            yield p


def validate_paths(paths=None, store=None, *, tree: str | None = None, survey: str | None = None,
                   deep: bool = False, rules_filter=None, progress=None):
    """Validate many files, yielding one :class:`FileReport` each (the run never stops early).

    ``paths`` None means the whole store (``data/`` and ``derived/``, or ``tree``/``survey``).
    ``progress(done, total)`` is called after each file.
    """
    if not paths:
        if store is None:
            from ..store import Store

            store = Store.discover()
        files = store_files(store, tree, survey)
    else:
        files = expand(paths)
    cache = ReadmeCache()
    files = list(files)
    for i, f in enumerate(files, 1):
        report = validate_file(f, store=store, deep=deep, readme_cache=cache, rules_filter=rules_filter)
        if progress is not None:
            progress(i, len(files))
        yield report
