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
import os
import tempfile
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

    @property
    def ok(self) -> bool:
        """The file (as written, else as it was) meets the minimum rules."""
        report = self.after if self.after is not None else self.plan.before
        return report is None or report.ok

    def as_dict(self) -> dict:
        d = self.plan.as_dict()
        d.update({"written": str(self.written) if self.written else None,
                  "backup": str(self.backup) if self.backup else None,
                  "landed": str(self.landed) if self.landed else None, "message": self.message,
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
    with fits.open(path, lazy_load_hdus=True, memmap=False) as hdul:
        if isinstance(hdul[before.hdu], fits.CompImageHDU):
            # Its cards live in a BINTABLE header with Z keywords; a byte-level header swap would
            # corrupt it.  Decompress (funpack) and fix the plain file instead.
            plan.note = "tile-compressed image: decompress it (funpack) and fix the plain file"
            plan.remaining = list(before.errors + before.warnings)
            return plan
        header = hdul[before.hdu].header.copy()
    from ..header import effective_header

    eff = effective_header(header, {k: v for k, v in _readme_meta(before).items()})
    wanted = set(only) if only else None
    changes: dict = {}

    def want(rule_id):
        return wanted is None or rule_id in wanted

    def put(key, new, rule_id, why):
        changes[("set", key)] = Change("set", key, header.get(key), new, rule_id, why)

    has = before.has
    if readme_keys and before.from_readme and want("readme-keys"):
        for key in before.from_readme:
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
    fixed = {c.rule_id for c in plan.changes}
    if "readme-keys" in fixed:
        fixed.add("bunit-missing")
    plan.remaining = [p for p in before.problems if p.level != "info" and p.rule_id not in fixed]
    return plan


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


def _write_to(plan: FixPlan, folder: Path, stamp: str) -> Path:
    """Write the fixed file to a verified temporary in ``folder``; returns the temp path."""
    from astropy.io import fits

    from ..fitsheader import read_headers
    from ..fsutil import TMP_PREFIX

    with fits.open(plan.path, lazy_load_hdus=True, memmap=False) as hdul:
        header = hdul[plan.hdu].header.copy()
    new = edited_header(header, plan.changes, stamp)
    new_bytes = new.tostring(padding=True).encode("ascii", "replace")
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        digest = _write_fixed(plan.path, tmp, plan.hdu, new_bytes)
        offset = read_headers(plan.path, max_hdus=plan.hdu + 1)[plan.hdu].offset
        _verify(tmp, _is_gzip(plan.path), offset, len(new_bytes), digest)
        os.chmod(tmp, 0o644)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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


def _survey_lock(store_root, path):
    """The ingest lock of the file's survey (ingest and fix never edit a folder at once)."""
    import contextlib

    from ..header import survey_of

    if store_root is None:
        return contextlib.nullcontext()
    _tree, survey = survey_of(path, store_root)
    if not survey:
        return contextlib.nullcontext()
    from ..journal import Lock, state_dir

    return Lock(state_dir(store_root, "locks") / f"ingest-{survey}.lock", f"survey {survey}")


def _update_manifest(path: Path) -> None:
    from .. import manifest as mf
    from ..fsutil import sha256_file

    entries = mf.read_manifest(path.parent)
    if path.name not in entries:
        return
    from dataclasses import replace

    # Only the bytes changed: the landing time, galaxy and companions stay as ingest recorded them.
    entries[path.name] = replace(entries[path.name], sha256=sha256_file(path), size=path.stat().st_size)
    mf.rewrite(path.parent, entries)


def apply_fix(plan: FixPlan, *, out_dir=None, in_place: bool = False, backup_dir=None, store=None,
              stamp: str | None = None) -> FixResult:
    """Write the repaired file: a copy in ``out_dir``, or in place with a kept backup."""
    from ..fsutil import _link_no_clobber, copy_with_hash, fsync_dir
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
        with _survey_lock(root, dest) if root is not None and _in_store(root, dest) else _nullctx():
            tmp = _write_to(plan, out_dir, stamp)
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
        backup = bdir / plan.path.name
        with _survey_lock(root, plan.path):
            copy_with_hash(plan.path, backup)
            tmp = _write_to(plan, plan.path.parent, stamp)
            try:
                os.replace(tmp, plan.path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            fsync_dir(plan.path.parent)
            _update_manifest(plan.path)
        result.written, result.backup = plan.path, backup
        result.message = f"fixed {plan.path} in place (original kept as {backup})"
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


def land(result: FixResult, store) -> Path:
    """Move a repaired file from ``uncalibrated/<SURVEY>/`` into ``data/<SURVEY>/``.

    Refused unless the repaired file meets the minimum rules.  The survey README is copied when
    data/<SURVEY>/ has none; the file is copied (hash-verified, no clobber), recorded in the
    data folder's manifest, then removed from uncalibrated/ with its validation report (the
    original stays in the backup).
    """
    from .. import manifest as mf
    from ..fsutil import copy_with_hash
    from ..header import survey_of
    from . import validate_file

    root = Path(store.root)
    src = result.written
    tree, survey = survey_of(src, root)
    if tree != "uncalibrated" or not survey:
        raise SfngError(f"{src}: --land moves files from uncalibrated/<SURVEY>/ into data/; this file "
                        f"is not in uncalibrated/")
    after = result.after or validate_file(src, store=store)
    if not after.ok:
        raise SfngError(f"{src} still fails {len(after.errors)} minimum rule(s) after fixing "
                        f"({', '.join(p.rule_id for p in after.errors)}); it stays in uncalibrated/")
    target = store.survey_dir(survey, "data")
    dest = target / src.name
    with _survey_lock(root, dest):
        readme = src.parent / f"{survey}_README.txt"
        if readme.is_file() and not (target / readme.name).exists():
            copy_with_hash(readme, target / readme.name)
        sha, size = copy_with_hash(src, dest)
        entries = mf.read_manifest(src.parent)
        was = entries.get(src.name)
        mf.append(target, [mf.Entry(dest.name, sha, size, _stamp(), was.companions if was else (),
                                    was.galaxy if was else None)])
        if src.name in entries:
            del entries[src.name]
            mf.rewrite(src.parent, entries)
        src.unlink()
        (src.parent / f"{src.name}.validation.json").unlink(missing_ok=True)
    result.landed = dest
    result.after = validate_file(dest, store=store)
    return dest


def fix_paths(paths, store=None, *, out_dir=None, in_place=False, dry_run=False, backup_dir=None,
              readme_keys=True, drop_stokes=False, only=None, land_in_data=False):
    """Plan (and unless ``dry_run``, apply) the repairs of many files; yields FixResult."""
    from ..header import ReadmeCache
    from . import expand

    cache = ReadmeCache()
    stamp = _stamp()
    for p in expand(paths):
        plan = plan_fix(p, store, readme_keys=readme_keys, drop_stokes=drop_stokes, only=only,
                        readme_cache=cache)
        if dry_run:
            yield FixResult(plan=plan, message="dry run: nothing written" if plan.changes else "nothing to fix")
            continue
        result = apply_fix(plan, out_dir=out_dir, in_place=in_place, backup_dir=backup_dir, store=store,
                           stamp=stamp)
        if land_in_data and result.written is not None:
            if store is None:
                raise SfngError("--land needs a store (run inside one or give --store)")
            land(result, store)
        yield result
