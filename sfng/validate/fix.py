"""``sfng fix``: repair what validation found, never silently and never in a half-written file.

Repairs (each recorded in a HISTORY card of the fixed HDU, and shown by ``--dry-run``):

* README-only keys written into the header (the specification's "re-edit the files" alternative);
* the beam copied from an AIPS ``HISTORY AIPS   CLEAN BMAJ=...`` card into BMAJ/BMIN/BPA;
* BMIN = BMAJ and BPA = 0 where BMIN or BPA is missing (a round beam of unknown PA);
* RESTFREQ renamed RESTFRQ;
* CUNITn spellings WCSLIB rejects (``M/S``) normalised, missing CUNITn written with the FITS
  default, a velocity axis whose numbers are km/s under an m/s unit relabelled ``km/s``;
* a degenerate axis with CDELTn = 0 (PdBI's Stokes axis) given CDELTn = 1, or, with
  ``drop_stokes``, a trailing length-1 Stokes axis dropped.

Only header cards change: the data bytes are copied unchanged (dropping a trailing length-1 axis
does not move a byte), and the copy is verified against the source before it is renamed into
place.  ``-o/--output DIR`` writes a corrected copy; ``--in-place`` first keeps a verified backup under
``<store>/.sfng/backup/<time>/`` (outside data/), then replaces the file atomically and updates
the folder's MANIFEST.sha256.  ``land`` moves a repaired file from ``uncalibrated/<SURVEY>/`` into
``data/<SURVEY>/``.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import SfngError

CHUNK = 4 * 1024 * 1024
_AXIS_KEYS = ("NAXIS", "CTYPE", "CRVAL", "CDELT", "CRPIX", "CUNIT", "CROTA", "CNAME", "CRDER", "CSYER")


@dataclass
class Change:
    """One header edit.

    ``action``: ``set`` (key = new), ``rename`` (key -> new), ``drop-axis`` (axis ``new``).
    """

    action: str
    key: str
    old: object
    new: object
    rule_id: str
    why: str

    def describe(self) -> str:
        if self.action == "set":
            was = "absent" if self.old is None else repr(self.old)
            return f"{self.key} = {self.new!r} (was {was}): {self.why}"
        if self.action == "rename":
            return f"{self.key} renamed {self.new}: {self.why}"
        return f"axis {self.new} dropped: {self.why}"

    def as_dict(self) -> dict:
        return {"action": self.action, "key": self.key, "old": self.old, "new": self.new,
                "rule": self.rule_id, "why": self.why}


@dataclass
class FixPlan:
    """What :func:`apply_fix` would do to one file."""

    path: Path
    hdu: int | None
    changes: list = field(default_factory=list)
    before: object = None          # FileReport
    remaining: list = field(default_factory=list)   # problems no change addresses
    note: str = ""                 # why nothing can be changed, when that is the case

    def as_dict(self) -> dict:
        return {"path": str(self.path), "hdu": self.hdu, "changes": [c.as_dict() for c in self.changes],
                "remaining": [p.as_dict() for p in self.remaining], "note": self.note}


@dataclass
class FixResult:
    plan: FixPlan
    written: Path | None = None
    backup: Path | None = None
    landed: Path | None = None
    after: object = None           # FileReport of the written file
    message: str = ""
    error: str = ""                # an OS error wrote nothing (permission, read-only, full disk)
    recovered: list = field(default_factory=list)  # what finishing a killed fix did first

    @property
    def ok(self) -> bool:
        """Nothing failed, and the file (as written, else as it was) meets the minimum rules."""
        if self.error:
            return False
        report = self.after if self.after is not None else self.plan.before
        return report is None or report.ok

    def as_dict(self) -> dict:
        d = self.plan.as_dict()
        d.update({"written": str(self.written) if self.written else None,
                  "backup": str(self.backup) if self.backup else None,
                  "landed": str(self.landed) if self.landed else None, "message": self.message,
                  "error": self.error or None, "recovered": self.recovered,
                  "after": self.after.as_dict() if self.after is not None else None})
        return d


# ----------------------------------------------------------------------------- planning

def _canonical_unit(text: str) -> str | None:
    from ..spectral import parse_axis_unit

    unit = parse_axis_unit(text)
    if unit is None:
        return None
    return unit.to_string().replace(" ", "")


def plan_fix(path, store=None, *, readme_keys: bool = True, drop_stokes: bool = False,
             only=None, readme_cache=None) -> FixPlan:
    """Plan the repairs of one file (reads headers only; writes nothing).

    Parameters
    ----------
    only : collection of rule ids, optional
        Repair only these rules' problems.
    """
    from astropy.io import fits

    from ..beam import aips_history_beam
    from ..spectral import classify_ctype, spectral_axis
    from . import validate_file
    from .checks import CELESTIAL_PREFIXES

    path = Path(path)
    before = validate_file(path, store=store, readme_cache=readme_cache)
    plan = FixPlan(path=path, hdu=before.hdu, before=before)
    if before.hdu is None or any(p.rule_id in ("file-unreadable", "file-empty", "not-fits", "header-no-end",
                                               "file-truncated", "naxis-absurd") for p in before.problems):
        plan.remaining = list(before.errors + before.warnings)
        return plan
    try:
        with fits.open(path, lazy_load_hdus=True, memmap=False) as hdul:
            if isinstance(hdul[before.hdu], fits.CompImageHDU):
                # Its cards live in a BINTABLE header with Z keywords; a byte-level header swap
                # would corrupt it.  Decompress (funpack) and fix the plain file instead.
                plan.note = "tile-compressed image: decompress it (funpack) and fix the plain file"
                plan.remaining = list(before.errors + before.warnings)
                return plan
            header = hdul[before.hdu].header.copy()
    except (OSError, EOFError, ValueError, IndexError, KeyError, zlib.error) as exc:
        # what validation read, astropy cannot: one message for this file, and the run goes on
        plan.note = f"cannot read the header to edit it ({type(exc).__name__}: {exc})"
        plan.remaining = list(before.errors + before.warnings)
        return plan
    from ..header import effective_header

    eff = effective_header(header, {k: v for k, v in _readme_meta(before).items()})
    wanted = set(only) if only else None
    changes: dict = {}

    def want(rule_id):
        return wanted is None or rule_id in wanted

    def put(key, new, rule_id, why):
        changes[("set", key)] = Change("set", key, header.get(key), new, rule_id, why)

    has = before.has
    refused = []
    if readme_keys and before.from_readme and want("readme-keys"):
        for key in before.from_readme:
            why = unwritable_card(key, eff[key])
            if why:  # a README value never breaks a header: said, and left out
                refused.append(f"README {key} = {eff[key]!r} not written: {why}")
                continue
            put(key, eff[key], "readme-keys", "from the survey README")
    if has("beam-aips-history") and want("beam-aips-history"):
        bm = aips_history_beam(eff.history)
        if bm:
            for key, v in zip(("BMAJ", "BMIN", "BPA"), bm):
                put(key, float(v), "beam-aips-history", "from the AIPS CLEAN HISTORY card")
    if has("beam-incomplete") and want("beam-incomplete"):
        if "BMIN" not in eff:
            put("BMIN", float(eff["BMAJ"]), "beam-incomplete", "round beam assumed (BMIN = BMAJ)")
        if "BPA" not in eff:
            put("BPA", 0.0, "beam-incomplete", "unknown position angle (BPA = 0)")
    if has("restfrq-keyword") and want("restfrq-keyword") and "RESTFREQ" in header:
        changes[("rename", "RESTFREQ")] = Change("rename", "RESTFREQ", header["RESTFREQ"], "RESTFRQ",
                                                 "restfrq-keyword", "RESTFRQ is the FITS keyword")
    naxis = int(header.get("NAXIS", 0) or 0)
    ax = spectral_axis(eff)
    unit_rule = "wcs-unreadable" if has("wcs-unreadable") else "spectral-unit"
    for i in range(1, naxis + 1):
        written = header.get(f"CUNIT{i}")
        if written is None or not want(unit_rule):
            continue
        canon = _canonical_unit(str(written))
        if canon and canon != str(written).strip() and (has("wcs-unreadable") or str(written).strip().upper()
                                                         in ("M/S", "KM/S")):
            put(f"CUNIT{i}", canon, unit_rule, f"standard spelling of {str(written).strip()!r}")
    if has("velocity-scale") and ax is not None and want("velocity-scale"):
        if ax.scale_suspect in ("km/s", "m/s"):
            put(f"CUNIT{ax.axis}", ax.scale_suspect, "velocity-scale",
                f"CDELT{ax.axis} = {ax.cdelt:g} is in {ax.scale_suspect}")
    if has("cunit-missing") and want("cunit-missing"):
        for i in range(1, naxis + 1):
            ct = str(eff.get(f"CTYPE{i}", "") or "").upper()
            if f"CUNIT{i}" in eff or ("set", f"CUNIT{i}") in changes:
                continue
            if ct.startswith(CELESTIAL_PREFIXES):
                put(f"CUNIT{i}", "deg", "cunit-missing", "FITS default for a celestial axis")
            elif ax is not None and ax.axis == i and ax.unit and not ax.scale_suspect:
                put(f"CUNIT{i}", ax.unit.replace(" ", ""), "cunit-missing",
                    f"FITS default for {classify_ctype(ct).code or ct}")
    if has("wcs-singular") and want("wcs-singular"):
        uses_cd = any(k.startswith("CD") and "_" in k for k in header.keys())
        for i in range(1, naxis + 1):
            length = int(header.get(f"NAXIS{i}", 0) or 0)
            if length != 1:
                continue
            row = [float(header.get(f"{'CD' if uses_cd else 'PC'}{i}_{j}", 1.0 if (i == j and not uses_cd)
                                    else 0.0) or 0.0) for j in range(1, naxis + 1)]
            if not any(row):
                # A degenerate axis whose matrix row is all zero: make it the identity row.
                key = f"{'CD' if uses_cd else 'PC'}{i}_{i}"
                put(key, 1.0, "wcs-singular", f"degenerate axis {i} had an all-zero matrix row")
                continue
            if uses_cd or float(header.get(f"CDELT{i}", 1.0) or 0.0) != 0.0:
                continue
            ct = str(header.get(f"CTYPE{i}", "") or "").strip().upper()
            if drop_stokes and ct == "STOKES" and i == naxis:
                changes[("drop", i)] = Change("drop-axis", f"NAXIS{i}", ct, i, "wcs-singular",
                                              f"degenerate {ct} axis with CDELT{i} = 0")
            else:
                put(f"CDELT{i}", 1.0, "wcs-singular", f"degenerate {ct or 'axis'} (length 1) had CDELT{i} = 0")
    plan.changes = list(changes.values())
    if refused:
        plan.note = "; ".join(refused)
    fixed = {c.rule_id for c in plan.changes}
    if "readme-keys" in fixed:
        fixed.add("bunit-missing")
    plan.remaining = [p for p in before.problems if p.level != "info" and p.rule_id not in fixed]
    return plan


#: Keywords that describe a file's structure (FITS 4.0 sections 4.4.1, 7; tiled images,
#: checksums, data scaling) or the card syntax itself: never written from a README.
RESERVED_KEYWORDS = frozenset((
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "END", "EXTEND", "PCOUNT", "GCOUNT", "GROUPS",
    "TFIELDS", "THEAP", "BSCALE", "BZERO", "BLANK", "BLOCKED", "CONTINUE", "HISTORY", "COMMENT",
    "HIERARCH", "CHECKSUM", "DATASUM", "ZIMAGE", "ZSIMPLE", "ZTENSION", "ZBITPIX", "ZNAXIS",
    "ZCMPTYPE", "ZPCOUNT", "ZGCOUNT", "ZEXTEND", "ZHECKSUM", "ZDATASUM", "ZTABLE", "ZTHEAP"))
#: Indexed structural keywords: NAXISn, the table's column definitions, the tiled image's.
_RESERVED_INDEXED = ("NAXIS", "TTYPE", "TFORM", "TBCOL", "TDIM", "TZERO", "TSCAL", "TNULL",
                     "TUNIT", "TDISP", "ZNAXIS", "ZTILE", "ZNAME", "ZVAL", "ZFORM", "ZCTYP")


def unwritable_card(key: str, value) -> str | None:
    """Why ``key = value`` (from a README) may not be written into a header, or None.

    Refused: structural keywords (:data:`RESERVED_KEYWORDS`, ``NAXISn``, ``TFORMn`` ...), a
    non-finite number, an integer no card holds, a string with a NUL, a control or a non-ASCII
    character (a header is printable ASCII, FITS 4.0 section 4.2)."""
    k = str(key).upper()
    stem = k.rstrip("0123456789")
    if k in RESERVED_KEYWORDS or (stem != k and stem in _RESERVED_INDEXED):
        return f"{k} describes the file's structure and is never taken from a README"
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, int):
        return None if -(1 << 63) <= value < (1 << 63) else "an integer larger than 64 bits"
    if isinstance(value, str):
        if "\0" in value:
            return "a NUL character in the value"
        bad = next((c for c in value if not " " <= c <= "~"), None)
        if bad is not None:
            return f"the character {bad!r} (header values are printable ASCII)"
        return None
    return f"a {type(value).__name__} is not a header value"


def _readme_meta(report) -> dict:
    if report.readme is None:
        return {}
    from ..header import ReadmeCache

    try:
        return dict(ReadmeCache().get(report.readme).metadata)
    except Exception:  # an unreadable README supplies nothing
        return {}


def edited_header(header, changes, stamp: str):
    """A copy of ``header`` with ``changes`` applied and one HISTORY card per change."""
    h = header.copy()
    for c in changes:
        if c.action == "set":
            h[c.key] = c.new
        elif c.action == "rename":
            h.rename_keyword(c.key, c.new, force=True)
        elif c.action == "drop-axis":
            i = int(c.new)
            n = int(h["NAXIS"])
            for key in list(h.keys()):
                if key in (f"{k}{i}" for k in _AXIS_KEYS) or _axis_matrix_key(key, i):
                    del h[key]
            h["NAXIS"] = n - 1
            if "WCSAXES" in h:
                h["WCSAXES"] = int(h["WCSAXES"]) - 1
    import textwrap

    for c in changes:
        for line in textwrap.wrap(f"sfng fix {stamp}: {c.describe()}", 72, subsequent_indent="  "):
            h.add_history(line)
    return h


def _axis_matrix_key(key: str, i: int) -> bool:
    import re

    m = re.fullmatch(r"(PC|CD|PV|PS)(\d+)_(\d+)", key)
    if not m:
        return False
    a, b = int(m.group(2)), int(m.group(3))
    return a == i or (m.group(1) in ("PC", "CD") and b == i)


# ----------------------------------------------------------------------------- writing

def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _copy_n(src, dst, n, h) -> None:
    while n > 0:
        block = src.read(min(CHUNK, n))
        if not block:
            raise SfngError(f"{getattr(src, 'name', 'source')}: ended early while copying")
        dst.write(block)
        h.update(block)
        n -= len(block)


def _write_fixed(path: Path, tmp: Path, hdu_index: int, new_header: bytes) -> str:
    """Write ``path`` with HDU ``hdu_index``'s header replaced by ``new_header`` into ``tmp``.

    Returns the SHA-256 of every byte except the new header (to verify the copy).
    """
    from ..fitsheader import read_headers

    blocks = read_headers(path)
    b = blocks[hdu_index]
    gz = _is_gzip(path)
    h = hashlib.sha256()
    opener = gzip.open if gz else open
    with opener(path, "rb") as src, open(tmp, "wb") as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if gz else raw
        try:
            _copy_n(src, out, b.offset, h)
            if gz:  # gzip streams only read forwards
                src.read(b.data_offset - b.offset)
            else:
                src.seek(b.data_offset)
            out.write(new_header)
            while block := src.read(CHUNK):
                out.write(block)
                h.update(block)
        finally:
            if gz:
                out.close()
        raw.flush()
        os.fsync(raw.fileno())
    return h.hexdigest()


def _verify(tmp: Path, gz: bool, offset: int, header_len: int, expected: str) -> None:
    h = hashlib.sha256()
    opener = gzip.open if gz else open
    with opener(tmp, "rb") as f:
        _copy_n(f, _Null(), offset, h)
        f.read(header_len)
        while block := f.read(CHUNK):
            h.update(block)
    if h.hexdigest() != expected:
        raise SfngError(f"{tmp}: the written copy differs from its source outside the edited header "
                        f"(disk error?); nothing was replaced")


class _Null:
    def write(self, _):
        return None


def _write_to(plan: FixPlan, folder: Path, stamp: str, *, read_only: bool = False) -> Path:
    """Write the fixed file to a verified temporary in ``folder``; returns the temp path
    (``read_only``: without write permission, as landed store files are)."""
    from astropy.io import fits

    from ..fitsheader import read_headers
    from ..fsutil import fault_point, make_read_only, temp_path

    with fits.open(plan.path, lazy_load_hdus=True, memmap=False) as hdul:
        header = hdul[plan.hdu].header.copy()
    new = edited_header(header, plan.changes, stamp)
    new_bytes = new.tostring(padding=True).encode("ascii", "replace")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(folder)
    try:
        digest = _write_fixed(plan.path, tmp, plan.hdu, new_bytes)
        offset = read_headers(plan.path, max_hdus=plan.hdu + 1)[plan.hdu].offset
        _verify(tmp, _is_gzip(plan.path), offset, len(new_bytes), digest)
        if read_only:
            make_read_only(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fault_point(f"fix {plan.path.name}: temporary written and verified")
    return tmp


def default_backup_dir(path: Path, store_root: Path | None, stamp: str) -> Path:
    """Where ``--in-place`` keeps the original: ``<store>/.sfng/backup/<stamp>/<relpath>`` in a store
    (outside data/, never crawled), else ``<folder>/.sfng-backup/<stamp>/``."""
    safe = stamp.replace(":", "")
    if store_root is not None:
        try:
            rel = path.resolve().relative_to(store_root.resolve())
            return store_root / ".sfng" / "backup" / safe / rel.parent
        except ValueError:
            pass
    return path.parent / ".sfng-backup" / safe


def _survey_of(store_root, path) -> str | None:
    from ..header import survey_of

    if store_root is None:
        return None
    _tree, survey = survey_of(path, store_root)
    return survey or None


def _survey_lock(store_root, path):
    """The ingest lock of the file's survey (ingest and fix never edit a folder at once)."""
    import contextlib

    survey = _survey_of(store_root, path)
    if not survey:
        return contextlib.nullcontext()
    from ..journal import Lock, state_dir

    return Lock(state_dir(store_root, "locks") / f"ingest-{survey}.lock", f"survey {survey}")


def journal_path(store_root, survey: str) -> Path:
    """The journal of a fix (``--in-place``, ``--land``) in ``survey``: ``.sfng/journal/fix-<survey>.jsonl``."""
    from ..journal import state_dir

    return state_dir(store_root, "journal") / f"fix-{survey}.jsonl"


class _NoJournal:
    """Stands in for a journal outside a store (nothing to recover there but the backup)."""

    def record(self, op, **fields):
        from ..fsutil import fault_point

        fault_point(f"fix: {op}")

    def done(self):
        pass

    def close(self, remove=True):
        pass


def _open_journal(store_root, file: Path, **header):
    survey = _survey_of(store_root, file)
    if not survey:
        return _NoJournal()
    from ..journal import Journal

    return Journal(journal_path(store_root, survey)).open(**header)


def _rel(store_root, p: Path) -> str:
    if store_root is None:
        return str(p)
    try:
        return Path(os.path.abspath(p)).relative_to(Path(store_root).resolve()).as_posix()
    except ValueError:
        return str(p)


def _update_manifest(path: Path, sha256: str | None = None, size: int | None = None) -> None:
    """Record the file's new bytes in its folder's manifest (landing time, galaxy and companions
    stay as ingest recorded them); atomic rewrite."""
    from .. import manifest as mf
    from ..fsutil import sha256_file

    mf.set_bytes(path.parent, path.name, sha256 or sha256_file(path),
                 path.stat().st_size if size is None else size)


def _free_backup(backup: Path) -> Path:
    """``backup``, or ``NAME.1``, ``NAME.2``... when a backup of that name exists (a rerun within
    the same second after a kill; sfng never overwrites a backup)."""
    if not os.path.lexists(backup):
        return backup
    n = 1
    while os.path.lexists(backup.with_name(f"{backup.name}.{n}")):
        n += 1
    return backup.with_name(f"{backup.name}.{n}")


def _stage_manifest(path: Path, sha256: str, size: int) -> Path | None:
    """The folder's manifest with ``path``'s new bytes, staged (None when it does not list it)."""
    from dataclasses import replace

    from .. import manifest as mf

    entries = mf.read_manifest(path.parent)
    old = entries.get(path.name)
    if old is None:
        return None
    entries[path.name] = replace(old, sha256=sha256, size=size)
    return mf.stage(path.parent, entries)


def apply_fix(plan: FixPlan, *, out_dir=None, in_place: bool = False, backup_dir=None, store=None,
              stamp: str | None = None, then_land: bool = False) -> FixResult:
    """Write the repaired file: a copy in ``out_dir``, or in place with a kept backup.

    In place, the job is journalled (``.sfng/journal/fix-<SURVEY>.jsonl``, under the survey lock):
    backup, verified temporary beside the file (read-only in a store), atomic replacement, manifest,
    done; ``then_land`` (``--land``) adds the move into data/ to the same job.  A rerun after a kill
    at any point finishes or rolls back the job first (:func:`recover`).  The old file's inode is
    never written or made writable again (a release may hold it).
    """
    from ..fsutil import _link_no_clobber, copy_with_hash, fsync_dir, remove_stale_temporaries, sha256_file
    from . import _store_root, validate_file

    if (out_dir is None) == (not in_place):
        raise SfngError("choose one of -o/--output DIR or --in-place")
    result = FixResult(plan=plan)
    if not plan.changes:
        result.message = plan.note or "nothing to fix"
        return result
    stamp = stamp or _stamp()
    root = _store_root(store)
    if root is None:
        from ..store import find_root

        root = find_root(plan.path.parent)
    if out_dir is not None:
        out_dir = Path(out_dir)
        dest = out_dir / plan.path.name
        if dest.exists():
            raise SfngError(f"{dest} exists; sfng never overwrites a file (choose another -o/--output)")
        if out_dir.resolve() == plan.path.parent.resolve():
            raise SfngError(f"-o/--output {out_dir} is the file's own folder; use --in-place instead")
        inside = root is not None and _in_store(root, dest)
        with _survey_lock(root, dest) if inside else _nullctx():
            if out_dir.is_dir():
                remove_stale_temporaries(out_dir)
            tmp = _write_to(plan, out_dir, stamp, read_only=inside)
            try:
                _link_no_clobber(tmp, dest)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            fsync_dir(out_dir)
        result.written = dest
        result.message = f"wrote {dest}"
    else:
        bdir = Path(backup_dir) / stamp.replace(":", "") if backup_dir else default_backup_dir(plan.path, root, stamp)
        backup = _free_backup(bdir / plan.path.name)
        inside = root is not None and _in_store(root, plan.path)
        land_dest = None
        if then_land:
            land_dest = _land_target(store, plan.path)
        with _survey_lock(root, plan.path):
            if inside:
                for msg in _recover_locked(root, _survey_of(root, plan.path), store):
                    result.recovered.append(msg)
            j = _open_journal(root, plan.path, job="fix", path=_rel(root, plan.path), backup=str(backup),
                              land=_rel(root, land_dest) if land_dest is not None else None)
            tmp = staged = None
            try:
                old_sha, _ = copy_with_hash(plan.path, backup, read_only=True)
                j.record("backed-up", sha256=old_sha)
                tmp = _write_to(plan, plan.path.parent, stamp, read_only=inside)
                new_sha, size = sha256_file(tmp), tmp.stat().st_size
                # The manifest is written (staged) before the file is replaced: a full disk stops
                # the fix before anything changed; the two renames need no room.
                staged = _stage_manifest(plan.path, new_sha, size)
                j.record("replace", tmp=tmp.name, old=old_sha, new=new_sha, size=size)
                os.replace(tmp, plan.path)
            except BaseException:
                for t in (tmp, staged):
                    if t is not None:
                        t.unlink(missing_ok=True)
                j.close(remove=True)  # nothing was replaced: nothing to recover
                raise
            fsync_dir(plan.path.parent)
            j.record("replaced")
            if staged is not None:
                from .. import manifest as mf

                mf.commit(plan.path.parent, staged)
            j.record("manifest")
            result.written, result.backup = plan.path, backup
            result.message = f"fixed {plan.path} in place (original kept as {backup})"
            if land_dest is not None:
                result.after = validate_file(plan.path, store=store)
                if not result.after.ok:
                    j.done()
                    raise SfngError(_still_fails(plan.path, result.after))
                _land_steps(root, plan.path, land_dest, new_sha, j)
                result.landed = land_dest
                result.after = validate_file(land_dest, store=store)
            j.done()
        if result.landed is not None:
            return result
    result.after = validate_file(result.written, store=store)
    return result


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _in_store(root: Path, p: Path) -> bool:
    try:
        Path(os.path.abspath(p)).relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def _still_fails(src, after) -> str:
    return (f"{src} still fails {len(after.errors)} minimum rule(s) after fixing "
            f"({', '.join(p.rule_id for p in after.errors)}); it stays in uncalibrated/")


def _land_target(store, src: Path) -> Path:
    from ..header import survey_of

    if store is None:
        raise SfngError("--land needs a store (run inside one or give --store)")
    root = Path(store.root)
    tree, survey = survey_of(src, root)
    if tree != "uncalibrated" or not survey:
        raise SfngError(f"{src}: --land moves files from uncalibrated/<SURVEY>/ into data/; this file "
                        f"is not in uncalibrated/")
    return store.survey_dir(survey, "data") / src.name


def _land_target_or_none(store, src: Path) -> Path | None:
    try:
        return _land_target(store, src)
    except SfngError:
        return None


def _land_steps(root: Path, src: Path, dest: Path, sha: str, j) -> None:
    """Move the repaired ``src`` (SHA-256 ``sha``) from uncalibrated/ to ``dest`` in data/, each
    step journalled and each one skipped when already done (a rerun calls this again)."""
    from .. import manifest as mf
    from ..fsutil import copy_with_hash, sha256_file

    target = dest.parent
    entries = mf.read_manifest(src.parent)
    was = entries.get(src.name)
    j.record("land", src=_rel(root, src), dest=_rel(root, dest), sha256=sha,
             galaxy=was.galaxy if was else None, companions=list(was.companions) if was else [])
    survey = target.name
    readme = src.parent / f"{survey}_README.txt"
    if readme.is_file() and not (target / readme.name).exists():
        copy_with_hash(readme, target / readme.name)
    if not dest.exists():
        copy_with_hash(src, dest, expected_sha256=sha, read_only=True)
    elif sha256_file(dest) != sha:
        raise SfngError(f"{dest} exists with other content; sfng never overwrites a file: "
                        f"{src} stays in uncalibrated/")
    j.record("landed")
    _record_landed(dest, sha, was)
    j.record("recorded")
    _drop_source(src)
    j.record("source-removed")


def _record_landed(dest: Path, sha: str, was) -> None:
    from .. import manifest as mf

    have = mf.read_manifest(dest.parent).get(dest.name)
    if have is not None and have.sha256 == sha:
        return
    mf.append(dest.parent, [mf.Entry(dest.name, sha, dest.stat().st_size, _stamp(),
                                     tuple(was.companions) if was else (), was.galaxy if was else None)])


def _drop_source(src: Path) -> None:
    from .. import manifest as mf

    entries = mf.read_manifest(src.parent)
    if src.name in entries:
        del entries[src.name]
        if entries:
            mf.rewrite(src.parent, entries)
        else:  # no entry left: no manifest (`sha256sum -c` refuses one without a checksum line)
            mf.manifest_path(src.parent).unlink(missing_ok=True)
    src.unlink(missing_ok=True)
    (src.parent / f"{src.name}.validation.json").unlink(missing_ok=True)


def land(result: FixResult, store) -> Path:
    """Move a repaired file from ``uncalibrated/<SURVEY>/`` into ``data/<SURVEY>/``.

    Refused unless the repaired file meets the minimum rules.  The survey README is copied when
    data/<SURVEY>/ has none; the file is copied (hash-verified, no clobber, read-only), recorded in
    the data folder's manifest, then removed from uncalibrated/ with its validation report (the
    original stays in the backup); journalled like an in-place fix, so a rerun finishes it.
    """
    from ..fsutil import sha256_file
    from . import validate_file

    root = Path(store.root)
    src = result.written
    dest = _land_target(store, src)
    after = result.after or validate_file(src, store=store)
    if not after.ok:
        raise SfngError(_still_fails(src, after))
    with _survey_lock(root, dest):
        j = _open_journal(root, src, job="land", path=_rel(root, src), land=_rel(root, dest))
        _land_steps(root, src, dest, sha256_file(src), j)
        j.done()
    result.landed = dest
    result.after = validate_file(dest, store=store)
    return dest


# ----------------------------------------------------------------------------- recovery

def recover(store_root, survey: str, store=None) -> list[str]:
    """Finish or roll back a fix (``--in-place``, ``--land``) of ``survey`` that was killed;
    returns what was done.  Takes the survey lock (SfngError while another writer holds it)."""
    from ..journal import Lock, state_dir

    jpath = Path(store_root, ".sfng", "journal", f"fix-{survey}.jsonl")
    if not jpath.exists():
        return []
    with Lock(state_dir(store_root, "locks") / f"ingest-{survey}.lock", f"survey {survey}"):
        return _recover_locked(Path(store_root), survey, store)


def _recover_locked(root: Path, survey: str | None, store=None) -> list[str]:
    """:func:`recover`, the caller holding the survey lock."""
    from ..fsutil import remove_stale_temporaries, sha256_file
    from ..journal import Journal

    if not survey:
        return []
    jpath = Path(root, ".sfng", "journal", f"fix-{survey}.jsonl")
    if not jpath.exists():
        return []
    records = Journal.read(jpath)
    done: list[str] = []
    begin = next((r for r in records if r["op"] == "begin" and r.get("path")), None)
    if begin is None:  # nothing announced yet
        Journal(jpath).close(remove=True)
        return done
    ops = {r["op"]: r for r in records}
    if "done" in ops:  # killed after the job finished, before its journal went
        Journal(jpath).close(remove=True)
        return done
    path = root / begin["path"]
    folders = {path.parent}
    if begin.get("backup"):
        folders.add(Path(begin["backup"]).parent)
    if begin.get("land"):
        folders.add((root / begin["land"]).parent)
    for folder in sorted(folders):
        for t in remove_stale_temporaries(folder, owned=True):
            done.append(f"removed the unfinished temporary file {_rel(root, t)}")
    fixed = begin.get("job") == "land"
    sha = None
    rep = ops.get("replace")
    if begin.get("job") == "fix":
        if rep is None:
            done.append(f"rolled back: the interrupted fix of {begin['path']} had not replaced it "
                        f"(rerun the fix)")
        else:
            cur = sha256_file(path) if path.is_file() else None
            if cur == rep["new"]:
                _update_manifest(path, rep["new"], rep["size"])
                done.append(f"finished the interrupted fix of {begin['path']}: the manifest records "
                            f"the fixed file")
                fixed, sha = True, rep["new"]
            elif cur == rep["old"]:
                done.append(f"rolled back: the interrupted fix of {begin['path']} had not replaced it "
                            f"(rerun the fix; the backup {begin.get('backup')} is kept)")
            elif cur is None and "land" in ops:
                fixed, sha = True, rep["new"]
            else:
                done.append(f"{begin['path']} changed since the interrupted fix; left as it is (check "
                            f"it by hand; the original is kept as {begin.get('backup')})")
    land_to = begin.get("land")
    if fixed and land_to:
        done += _recover_land(root, path, root / land_to, sha or ops.get("land", {}).get("sha256"),
                              ops, store)
    Journal(jpath).close(remove=True)
    return done


def _recover_land(root: Path, src: Path, dest: Path, sha, ops, store) -> list[str]:
    from ..fsutil import sha256_file
    from . import validate_file

    rel = _rel(root, dest)
    if dest.is_file() and (sha is None or sha256_file(dest) == sha):
        sha = sha or sha256_file(dest)
        was = ops.get("land")
        from .. import manifest as mf

        info = mf.Entry(dest.name, sha, companions=tuple(was.get("companions") or ()) if was else (),
                        galaxy=was.get("galaxy") if was else None)
        _record_landed(dest, sha, info)
        if src.is_file() and sha256_file(src) == sha:
            _drop_source(src)
        elif not src.exists():
            _drop_source(src)
        return [f"finished the interrupted landing of {rel}"]
    if not src.is_file():
        return [f"{rel}: the interrupted landing left no file to land; check by hand"]
    sha = sha256_file(src)
    if "land" not in ops:
        after = validate_file(src, store=store)
        if not after.ok:
            return [_still_fails(src, after)]
    _land_steps(root, src, dest, sha, _NoJournal())
    return [f"finished the interrupted landing of {rel}"]


def recover_all(store_root, store=None) -> list[str]:
    """Recover every fix journal of the store (``sfng fsck --repair``)."""
    out = []
    d = Path(store_root, ".sfng", "journal")
    for p in sorted(d.glob("fix-*.jsonl")) if d.is_dir() else []:
        out += recover(store_root, p.stem[len("fix-"):], store)
    return out


def fix_paths(paths, store=None, *, out_dir=None, in_place=False, dry_run=False, backup_dir=None,
              readme_keys=True, drop_stokes=False, only=None, land_in_data=False, on_recover=None,
              progress=None):
    """Plan (and unless ``dry_run``, apply) the repairs of many files; yields FixResult.

    ``progress(done, total, path)`` is called as each file starts and once at the end (folders
    are walked first, so the total is known).

    Before the first file of a survey, a fix of it that was killed is finished or rolled back
    (``on_recover(message)`` for each thing done).  An OS error (permission denied, read-only file
    system, full disk, file-size limit) fails that file alone, with one message, nothing written.
    """
    from ..fsutil import os_error_message
    from ..header import ReadmeCache
    from . import _store_root, expand

    cache = ReadmeCache()
    stamp = _stamp()
    recovered: set = set()
    root = _store_root(store)
    if land_in_data and store is None and not dry_run:
        raise SfngError("--land needs a store (run inside one or give --store)")
    files = list(expand(paths))
    for k, p in enumerate(files):
        if progress is not None:
            progress(k, len(files), p)
        if not dry_run and (in_place or land_in_data):
            r = root
            if r is None:
                from ..store import find_root

                r = find_root(Path(p).parent)
            survey = _survey_of(r, Path(p)) if r is not None else None
            if survey and (r, survey) not in recovered:
                recovered.add((r, survey))
                for msg in recover(r, survey, store):
                    if on_recover:
                        on_recover(msg)
        if not Path(p).exists() and not Path(p).is_symlink():
            if land_in_data and not dry_run and root is not None:
                dest = _land_target_or_none(store, Path(p))
                if dest is not None and dest.is_file():
                    continue  # landed already (by the run that was killed, finished just now)
            plan = FixPlan(path=Path(p), hdu=None)
            yield FixResult(plan=plan, error=f"{p}: no such file", message=f"{p}: no such file")
            continue
        plan = plan_fix(p, store, readme_keys=readme_keys, drop_stokes=drop_stokes, only=only,
                        readme_cache=cache)
        if dry_run:
            yield FixResult(plan=plan, message="dry run: nothing written" if plan.changes else "nothing to fix")
            continue
        try:
            result = apply_fix(plan, out_dir=out_dir, in_place=in_place, backup_dir=backup_dir, store=store,
                               stamp=stamp, then_land=land_in_data and in_place)
            if land_in_data and not in_place and result.written is not None:
                land(result, store)
        except OSError as exc:
            result = FixResult(plan=plan, error=os_error_message(exc, exc.filename or plan.path))
            result.message = result.error
        for msg in result.recovered:
            if on_recover:
                on_recover(msg)
        yield result
    if progress is not None:
        progress(len(files), len(files), None)
