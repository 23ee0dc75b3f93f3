"""Community releases: immutable, verifiable bundles of store files under ``release/NAME/``.

A release holds the selected files laid out as in the store (``data/<SURVEY>/...``,
``derived/...``), their survey READMEs, its own ``SFNG-INDEX.fits`` covering exactly those
files (rows of the store index written through :class:`sfng.index.io.IndexWriter`),
``RELEASE.md`` (contents, citations, how it was made), ``RELEASE.json`` (the same, for
tools) and ``MANIFEST.sha256`` (``sha256sum -c`` format, every file but itself).

Crash safety: a release is built in ``release/.NAME.partial/`` holding an ``.INCOMPLETE``
sentinel, and renamed to ``release/NAME`` only when complete.  A half-made release is
therefore recognisable, never verifies, and rerunning the same command finishes it (or, if the
selection changed, removes it and starts again).  ``--tar`` adds ``release/NAME.tar.gz``
(byte-reproducible, see :mod:`sfng.tarball`) and ``release/NAME.tar.gz.sha256``.

Security: files are taken only from ``data/`` and ``derived/`` of the store; a symbolic link
whose target is outside the store, a ``..`` component, an absolute path or anything but a
regular file is refused.  :func:`verify` never follows links and never extracts a tarball.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .errors import SfngError
from .fsutil import TMP_PREFIX, fsync_dir, sha256_file
from .tarball import unsafe_reason

MANIFEST = "MANIFEST.sha256"
NOTES = "RELEASE.md"
RECORD = "RELEASE.json"
INDEX = "SFNG-INDEX.fits"
SENTINEL = ".INCOMPLETE"
PARTIAL_SUFFIX = ".partial"
#: Files a release makes about itself (not part of "what changed" between releases).
OWN_FILES = (MANIFEST, NOTES, RECORD, INDEX)
RELEASE_TREES = ("data", "derived")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_VERSION_RE = re.compile(r"^(?P<base>.+)-v(?P<n>\d+)$")
CHUNK = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Names and paths
# ---------------------------------------------------------------------------------------------

def check_name(name: str) -> str:
    """Return ``name`` if it is a usable release name, else raise SfngError."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name.endswith(PARTIAL_SUFFIX) \
            or name.endswith((".tar.gz", ".tgz", ".sha256")) or ".." in name:
        raise SfngError(f"bad release name {name!r}: use letters, digits and . _ + - (starting with a "
                        f"letter or digit, at most 100 characters, not ending in .partial/.tar.gz)")
    return name


def release_dir(store) -> Path:
    return store.tree("release")


def _partial(store, name) -> Path:
    return release_dir(store) / f".{name}{PARTIAL_SUFFIX}"


def _family(name: str) -> tuple[str, int]:
    m = _VERSION_RE.match(name)
    return (m["base"], int(m["n"])) if m else (name, 1)


def _versions(store, base: str) -> list[tuple[int, str]]:
    """Complete releases of the family ``base`` (``base``, ``base-v2``...) as (n, name), sorted."""
    out = []
    folder = release_dir(store)
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        if p.name.startswith(".") or not p.is_dir():
            continue
        b, n = _family(p.name)
        if p.name == base:
            out.append((1, p.name))
        elif b == base:
            out.append((n, p.name))
    return sorted(out)


def store_file(store, given) -> tuple[str, Path]:
    """Check one requested file and return ``(path relative to the store, real path)``.

    ``given`` is relative to the store root or absolute.  Refused with SfngError: a ``..``
    component, a path outside the store (also through a symbolic link), a file outside
    ``data/`` and ``derived/``, hidden or temporary names, anything but a regular file, a
    missing file, an unsafe name.
    """
    text = str(given).strip()
    if not text:
        raise SfngError("empty file name in the selection")
    if "\x00" in text:
        raise SfngError(f"{text!r}: NUL character in a file name")
    p = Path(text)
    if ".." in p.parts:
        raise SfngError(f"{text}: a path with '..' is never released; give the path relative to the store")
    root = store.root
    full = p if p.is_absolute() else root / p
    try:
        full.relative_to(root)
    except ValueError:
        raise SfngError(f"{text}: not inside the store {root}") from None
    if not os.path.lexists(full):
        raise SfngError(f"{text}: no such file in the store")
    real = Path(os.path.realpath(full))
    try:
        rel = real.relative_to(root).as_posix()
    except ValueError:
        raise SfngError(f"{text}: a symbolic link pointing outside the store (to {real}); releases "
                        f"never follow links out of the store") from None
    parts = rel.split("/")
    if parts[0] not in RELEASE_TREES or len(parts) < 3:
        raise SfngError(f"{text}: only files under data/<SURVEY>/ or derived/<...>/ are released "
                        f"(this is {rel})")
    if any(part.startswith(".") or part.startswith(TMP_PREFIX) for part in parts):
        raise SfngError(f"{text}: hidden or temporary file names are never released ({rel})")
    why = unsafe_reason(rel)
    if why:
        raise SfngError(f"{text}: unsafe name for a release: {why}")
    st = os.lstat(real)
    if not stat.S_ISREG(st.st_mode):
        raise SfngError(f"{text}: not a regular file (device, fifo or socket); not released")
    return rel, real


def read_file_list(path) -> list[str]:
    """Paths listed one per line in ``path`` (``-`` for stdin); blank lines and ``#`` comments skipped."""
    import sys

    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SfngError(f"{path}: cannot read the file list: {exc}") from exc
    return [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------

@dataclass
class PlanFile:
    """One file of a release.

    Attributes
    ----------
    rel : str
        Path inside the release (equal to its path in the store).
    src : Path
        Real path in the store.
    size : int
        Bytes.
    mtime : float
        Modification time (s since 1970) when planned.
    sha256 : str or None
        Known checksum (from a fresh index row), None until hashed.
    role : str
        ``"data"`` or ``"readme"``.
    galaxy, tracer, survey : str
        For RELEASE.md ('' when unknown).
    """

    rel: str
    src: Path
    size: int
    mtime: float
    sha256: str | None = None
    role: str = "data"
    galaxy: str = ""
    tracer: str = ""
    survey: str = ""

    def as_dict(self):
        return {"path": self.rel, "size": self.size, "sha256": self.sha256, "role": self.role,
                "galaxy": self.galaxy, "tracer": self.tracer, "survey": self.survey}


@dataclass
class BundlePlan:
    """What :func:`bundle` will make; :func:`plan_bundle` builds it and changes nothing."""

    name: str
    path: Path
    files: list = field(default_factory=list)
    mode: str = "link"
    parent: str | None = None
    version: int = 1
    command: str = ""
    allow_invalid: bool = False
    invalid: dict = field(default_factory=dict)      # rel -> [error messages]
    validated: str = "validate"                     # how files were checked
    warnings: list = field(default_factory=list)
    index_rows: object = None                        # disk records for the release index
    galaxy_rows: list = field(default_factory=list)
    changes: dict | None = None                      # vs parent: added/removed/changed
    store_name: str = ""
    rehash: bool = False
    tar: bool = False

    @property
    def data_files(self):
        return [f for f in self.files if f.role == "data"]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def digest(self) -> str:
        """Identity of the plan: a rerun with the same digest may finish a half-made release."""
        key = [self.name, self.mode, self.allow_invalid,
               [(f.rel, f.size, round(f.mtime, 3)) for f in self.files]]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()

    def as_dict(self):
        return {"name": self.name, "path": str(self.path), "mode": self.mode, "version": self.version,
                "parent": self.parent, "command": self.command, "n_files": len(self.data_files),
                "n_readmes": len(self.files) - len(self.data_files), "bytes": self.bytes,
                "allow_invalid": self.allow_invalid, "invalid": self.invalid, "validated": self.validated,
                "warnings": self.warnings, "changes": self.changes,
                "files": [f.as_dict() for f in self.files]}


def _selected_paths(store, selection, from_file, paths, notes):
    wanted = []
    if paths:
        wanted.extend(str(p) for p in paths)
    if from_file:
        wanted.extend(read_file_list(from_file))
    selections = [] if selection is None else \
        list(selection) if isinstance(selection, (list, tuple)) else [selection]
    if selections:
        from .query import load_index, select

        idx = load_index(store=store)
        for sel in selections:
            res = select(idx, sel)
            notes.extend(res.notes)
            wanted.extend(res.paths())
    return wanted


def _text(v) -> str:
    return v.decode("utf-8", "replace").strip() if isinstance(v, bytes) else str(v).strip()


def _index_records(store):
    """Disk records of the store index (or None when there is no usable index)."""
    if not store.index_path.is_file():
        return None
    from .index.io import open_records

    return open_records(store.index_path)


def plan_bundle(store, name: str, *, selection=None, from_file=None, paths=None, mode: str = "link",
                allow_invalid: bool = False, new_version: bool = False, command: str | None = None,
                rehash: bool = False, tar: bool = False) -> BundlePlan:
    """Plan the release ``name`` of the files chosen by ``selection`` (an ``sfng.select.Selection``),
    ``from_file`` (a file listing store paths) and/or ``paths``; change nothing.

    Raises SfngError for a bad or existing name (unless ``new_version``), an empty selection,
    missing or unsafe files, files failing validation (unless ``allow_invalid``), and files the
    store index does not describe (run ``sfng index build`` first).
    """
    if mode not in ("link", "copy"):
        raise SfngError(f"unknown bundle mode {mode!r}: link or copy")
    check_name(name)
    rdir = release_dir(store)
    parent, version = None, 1
    if new_version:
        base, _ = _family(name)
        if not (rdir / base).is_dir() and (rdir / name).is_dir():
            base = name
        existing = _versions(store, base)
        if existing:
            version = existing[-1][0] + 1
            parent = existing[-1][1]
            name = f"{base}-v{version}"
        else:
            name = base
    target = rdir / name
    if os.path.lexists(target):
        raise SfngError(f"release/{name} exists and releases are immutable; choose another name, or "
                        f"use --version to make the next version of it")

    notes = []
    wanted = _selected_paths(store, selection, from_file, paths, notes)
    if not wanted:
        raise SfngError("the selection matches no file; nothing to release (try the same options "
                        "with `sfng find` to see what they select)" + "".join(f"; {n}" for n in notes))
    seen, chosen, problems = set(), [], []
    for w in wanted:
        try:
            rel, real = store_file(store, w)
        except SfngError as exc:
            problems.append(str(exc))
            continue
        if rel not in seen:
            seen.add(rel)
            chosen.append((rel, real))
    if problems:
        head = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise SfngError(f"{len(problems)} selected file(s) cannot be released:\n  " + "\n  ".join(head))
    chosen.sort()

    plan = BundlePlan(name=name, path=target, mode=mode, parent=parent, version=version,
                      allow_invalid=allow_invalid, store_name=store.name, rehash=rehash,
                      warnings=notes, tar=tar)
    _attach_index(store, plan, chosen)
    _attach_readmes(store, plan)
    _check_validity(store, plan)
    if plan.invalid and not allow_invalid:
        lines = [f"{rel}: {'; '.join(errs[:2])}" for rel, errs in sorted(plan.invalid.items())]
        raise SfngError(f"{len(plan.invalid)} selected file(s) fail the minimum specification and are "
                        f"refused (use --allow-invalid to release them anyway, which RELEASE.md records):"
                        f"\n  " + "\n  ".join(lines[:20]))
    if parent:
        prev = read_manifest(rdir / parent / MANIFEST)
        plan.changes = _compare(prev, {f.rel: f.sha256 for f in plan.files}, unknown_ok=True)
    plan.command = command or default_command(plan, selection, from_file, paths)
    return plan


def default_command(plan, selection=None, from_file=None, paths=None) -> str:
    """The command that remakes the release (several selections: their union, through a pipe)."""
    import shlex

    args = ["sfng", "release", "bundle", _family(plan.name)[0] if plan.parent else plan.name]
    sels = [] if selection is None else \
        list(selection) if isinstance(selection, (list, tuple)) else [selection]
    pipe = ""
    if len(sels) > 1:
        finds = [shlex.join(["sfng", "find", *_sel_args(s), "--format", "paths"]) for s in sels]
        pipe = "{ " + "; ".join(finds) + "; } | "
        args += ["--from-file", "-"]
    elif sels:
        args += _sel_args(sels[0])
    if from_file:
        args += ["--from-file", str(from_file)]
    args += [str(p) for p in paths or ()]
    for flag, on in (("--copy", plan.mode == "copy"), ("--tar", plan.tar), ("--allow-invalid", plan.allow_invalid),
                     ("--version", bool(plan.parent)), ("--rehash", plan.rehash)):
        if on:
            args.append(flag)
    return pipe + shlex.join(args)


def _sel_args(sel) -> list[str]:
    import shlex

    got = sel.to_args() if hasattr(sel, "to_args") else str(sel)
    return shlex.split(got) if isinstance(got, str) else list(got)


def _attach_index(store, plan: BundlePlan, chosen) -> None:
    """Index rows of the chosen files (refused when the index does not describe them all)."""
    import numpy as np

    records = _index_records(store)
    if records is None:
        raise SfngError(f"{store.index_path}: no usable store index; a release carries an index of its "
                        f"files, so run `sfng index build` first")
    paths = np.char.strip(records["path"].astype("S240")) if len(records) else np.array([], dtype="S1")
    want = {rel.encode("utf-8"): (rel, real) for rel, real in chosen}
    mask = np.isin(paths, list(want)) if len(records) else np.zeros(0, bool)
    sub = np.array(records[mask])  # a copy: the release's own rows
    by_path = {}
    for i, row in enumerate(sub):
        by_path.setdefault(bytes(row["path"]).strip(), i)
    missing, stale = [], []
    for key, (rel, real) in want.items():
        st = os.stat(real)
        i = by_path.get(key)
        if i is None:
            missing.append(rel)
            continue
        row = sub[i]
        fresh = int(row["size"]) == st.st_size and abs(float(row["mtime"]) - st.st_mtime) < 1e-3
        if not fresh:
            stale.append(rel)
        sha = _text(row["sha256"])
        plan.files.append(PlanFile(
            rel=rel, src=real, size=st.st_size, mtime=st.st_mtime,
            sha256=sha if (fresh and len(sha) == 64 and not plan.rehash) else None,
            galaxy=_text(row["galaxy"]), tracer=_text(row["tracer"]), survey=_text(row["survey"])))
    if missing or stale:
        msg = []
        if missing:
            msg.append(f"{len(missing)} not in the index (e.g. {missing[0]})")
        if stale:
            msg.append(f"{len(stale)} changed since the index was built (e.g. {stale[0]})")
        raise SfngError(f"{store.index_path}: the index does not describe the selected files as they "
                        f"are now ({'; '.join(msg)}); run `sfng index build` and bundle again")
    # Paths in a release are laid out as in the store, so rows keep their path; a noise
    # companion that is not released is no longer referenced.
    released = set(want)
    for row in sub:
        if bytes(row["noise_path"]).strip() and bytes(row["noise_path"]).strip() not in released:
            row["noise_path"] = b""
    plan.index_rows = sub
    plan.galaxy_rows = _galaxy_rows(store, sub)


def _galaxy_rows(store, sub) -> list[dict]:
    from collections import Counter

    from .index.io import read_index
    from .index.schema import GALAXIES_NAMES

    counts = Counter(bytes(g).strip().decode("utf-8", "replace") for g in sub["galaxy"])
    try:
        _, gal, _ = read_index(store.index_path, columns=["path"], galaxies=True)
    except SfngError:
        return []
    out = []
    for row in gal or []:
        name = _text(row["name"])
        if name in counts:
            d = {c: (_text(row[c]) if isinstance(row[c], (bytes, str)) else row[c].item()
                     if hasattr(row[c], "item") else row[c]) for c in GALAXIES_NAMES if c in row.colnames}
            d["n_files"] = counts[name]
            out.append(d)
    return out


def _attach_readmes(store, plan: BundlePlan) -> None:
    folders = sorted({tuple(f.rel.split("/")[:2]) for f in plan.data_files})
    for tree, survey in folders:
        rel = f"{tree}/{survey}/{survey}_README.txt"
        full = store.root / rel
        if not os.path.lexists(full):
            plan.warnings.append(f"{tree}/{survey}: no {survey}_README.txt; the release has no description "
                                 f"of this survey")
            continue
        rel2, real = store_file(store, rel)
        st = os.stat(real)
        plan.files.append(PlanFile(rel=rel2, src=real, size=st.st_size, mtime=st.st_mtime,
                                   role="readme", survey=survey))
    plan.files.sort(key=lambda f: f.rel)


def _check_validity(store, plan: BundlePlan) -> None:
    """Minimum specification: ``sfng.validate.validate_file`` errors; the index's ``valid``
    column when validation is not part of this build."""
    try:
        from .validate import validate_file
    except ImportError:
        validate_file = None
    if validate_file is not None:
        plan.validated = "validate"
        for f in plan.data_files:
            rep = validate_file(f.src, store=store)
            if not rep.ok:
                plan.invalid[f.rel] = [getattr(p, "message", str(p)) for p in rep.errors] or ["invalid"]
        return
    plan.validated = "index"
    rows = plan.index_rows
    for row in rows:
        if int(row["n_problems"]) >= 0 and row["valid"] in (70, False):
            rel = _text(row["path"])
            plan.invalid.setdefault(rel, []).append(_text(row["error"]) or "the index marks it invalid")


# ---------------------------------------------------------------------------------------------
# Bundle
# ---------------------------------------------------------------------------------------------

@dataclass
class BundleResult:
    plan: BundlePlan
    path: Path
    linked: int = 0
    copied: int = 0
    readmes: int = 0
    hashed: int = 0
    resumed: bool = False
    seconds: float = 0.0
    tarball: Path | None = None
    tar_sha256: str | None = None
    notes: list = field(default_factory=list)

    def as_dict(self):
        return {"name": self.plan.name, "path": str(self.path), "linked": self.linked,
                "copied": self.copied, "readmes": self.readmes, "hashed": self.hashed, "resumed": self.resumed,
                "seconds": round(self.seconds, 3), "bytes": self.plan.bytes,
                "n_files": len(self.plan.data_files), "tarball": str(self.tarball) if self.tarball else None,
                "tar_sha256": self.tar_sha256, "notes": self.notes, "invalid": self.plan.invalid,
                "changes": self.plan.changes}


class _ReleaseLock:
    """An exclusive lock on ``release/`` for one bundle at a time (released when the process
    dies, so a kill -9 leaves no stale lock)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self):
        import fcntl

        self.fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise SfngError(f"{self.folder}: another `sfng release` is writing here; wait for it to "
                            f"finish") from None
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def bundle(store, plan: BundlePlan, *, tar: bool | None = None, say=None) -> BundleResult:
    """Make the release ``plan`` describes (see the module docstring for crash safety); ``tar``
    (default: as planned) also writes ``release/NAME.tar.gz`` and its ``.sha256``."""
    tar = plan.tar if tar is None else tar
    say = say or (lambda msg: None)
    rdir = release_dir(store)
    rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _ReleaseLock(rdir):
        if os.path.lexists(plan.path):
            raise SfngError(f"release/{plan.name} exists and releases are immutable")
        part = _partial(store, plan.name)
        result = BundleResult(plan=plan, path=plan.path)
        created = _start_partial(part, plan, result, say)
        try:
            _fill(part, plan, result, created, say)
            if tar:
                result.tar_sha256 = _tar_partial(part, plan, created)
            (part / SENTINEL).unlink()
            fsync_dir(part)
            os.rename(part, plan.path)
            fsync_dir(rdir)
        except SfngError:
            # A problem with the data (changed or damaged file): a rerun would meet it again.
            shutil.rmtree(part, ignore_errors=True)
            _remove_tmp_tar(rdir, plan.name)
            raise
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                shutil.rmtree(part, ignore_errors=True)
                _remove_tmp_tar(rdir, plan.name)
                raise SfngError(f"release/{plan.name}: the disk is full ({exc.strerror}) while writing "
                                f"{getattr(exc, 'filename', None) or 'the release'}; the incomplete "
                                f"release was removed. Free {_human(plan.bytes)} or bundle with "
                                f"--link (default), then rerun") from None
            raise SfngError(f"release/{plan.name}: {exc.strerror or exc} ({exc.filename or ''}); the "
                            f"incomplete release is kept as release/.{plan.name}{PARTIAL_SUFFIX}: rerun "
                            f"the same command to finish it, or `sfng release clean {plan.name}`") from None
        if tar:
            result.tarball = _publish_tar(rdir, plan.name, result.tar_sha256)
    result.seconds = time.perf_counter() - t0
    say(f"release/{plan.name}: {len(plan.data_files)} files ({_human(plan.bytes)}), {result.linked} linked, "
        f"{result.copied} copied, {result.readmes} READMEs" + (f", tarball {result.tarball.name}" if result.tarball else ""))
    return result


def _start_partial(part: Path, plan: BundlePlan, result: BundleResult, say) -> str:
    """Create or reuse ``part``; return the creation time recorded in its sentinel."""
    digest = plan.digest()
    if part.is_dir() and not part.is_symlink():
        try:
            state = json.loads((part / SENTINEL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if state.get("digest") == digest:
            result.resumed = True
            say(f"release/{plan.name}: finishing the incomplete release left by an earlier run")
            return state.get("created") or _now()
        say(f"release/{plan.name}: removing an incomplete release made from another selection")
        shutil.rmtree(part)
    elif os.path.lexists(part):
        os.unlink(part)
    created = _now()
    part.mkdir()
    sentinel = {"digest": digest, "created": created, "pid": os.getpid(),
                "note": "incomplete release: rerun the same `sfng release bundle` to finish it, "
                        "or `sfng release clean NAME`"}
    (part / SENTINEL).write_text(json.dumps(sentinel, indent=1), encoding="utf-8")
    fsync_dir(part.parent)
    return created


def _fill(part: Path, plan: BundlePlan, result: BundleResult, created: str, say) -> None:
    n = len(plan.files)
    step = max(1, n // 10)
    for k, f in enumerate(plan.files, start=1):
        dst = part / f.rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if result.resumed and os.path.lexists(dst) and _already_placed(f, dst):
            continue
        if os.path.lexists(dst):
            os.unlink(dst)
        _place(f, dst, plan.mode, result)
        if k % step == 0 and n > 20:
            say(f"  {k}/{n} files")
    for d in sorted({(part / f.rel).parent for f in plan.files}, reverse=True):
        fsync_dir(d)
    _write_own(part, INDEX, None, lambda tmp: _write_index(tmp, plan, created))
    record = _record(plan, created)
    _write_own(part, RECORD, json.dumps(record, indent=1, default=str) + "\n")
    _write_own(part, NOTES, render_notes(plan, created))
    lines = [f"{f.sha256}  {f.rel}" for f in plan.files]
    for own in (INDEX, NOTES, RECORD):
        lines.append(f"{sha256_file(part / own)}  {own}")
    lines.sort(key=lambda s: s[66:].encode("utf-8"))
    _write_own(part, MANIFEST, "\n".join(lines) + "\n")
    fsync_dir(part)


def _write_own(part: Path, name: str, text: str | None, writer=None) -> None:
    """Write one of the release's own files (always anew: they depend on the whole plan)."""
    path = part / name
    if os.path.lexists(path):
        os.unlink(path)
    if writer is not None:
        writer(path)
        return
    with open(path, "xb") as f:
        f.write(text.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _already_placed(f: PlanFile, dst: Path) -> bool:
    """On resume: is ``dst`` already the right file?"""
    try:
        st = os.lstat(dst)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != f.size:
        return False
    src_st = os.stat(f.src)
    if (st.st_dev, st.st_ino) == (src_st.st_dev, src_st.st_ino):
        if f.sha256 is None:
            f.sha256 = sha256_file(dst)
        return True
    got = sha256_file(dst)
    if f.sha256 is None:
        f.sha256 = sha256_file(f.src)
    return got == f.sha256


def _place(f: PlanFile, dst: Path, mode: str, result: BundleResult) -> None:
    if mode == "link" and f.role == "data":
        try:
            os.link(f.src, dst, follow_symlinks=False)
            if not stat.S_ISREG(os.lstat(dst).st_mode):  # swapped for a link since planning
                os.unlink(dst)
                raise SfngError(f"{f.rel}: is no longer a regular file in the store; not released")
            result.linked += 1
            if f.sha256 is None:
                f.sha256 = sha256_file(dst)
                result.hashed += 1
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            result.notes.append(f"{f.rel}: copied (hard link impossible: {exc.strerror})")
    digest, size = copy_file(f.src, dst)
    if f.role == "readme":
        result.readmes += 1
    if f.sha256 is not None and digest != f.sha256:
        os.unlink(dst)
        raise SfngError(f"{f.rel}: its checksum {digest} differs from the store's record {f.sha256} "
                        f"(survey MANIFEST.sha256 / index); the file changed or is damaged: check it "
                        f"before releasing")
    if size != f.size:
        os.unlink(dst)
        raise SfngError(f"{f.rel}: changed size while it was being copied; bundle again")
    f.sha256 = digest
    if f.role == "data":
        result.copied += 1


def copy_file(src, dst, chunk: int = CHUNK) -> tuple[str, int]:
    """Copy ``src`` to the new file ``dst`` hashing in the same pass; fsync; mode 0444.

    Returns ``(sha256 hex, size)``.  ``dst`` must not exist (it lives in the release's partial
    folder, which is the unit of atomicity, so no temporary name is needed).
    """
    h = hashlib.sha256()
    size = 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    fd_in = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            while True:
                n = os.readv(fd_in, [buf])
                if not n:
                    break
                h.update(view[:n])
                off = 0
                while off < n:
                    off += os.write(fd_out, view[off:n])
                size += n
            os.fsync(fd_out)
            os.fchmod(fd_out, 0o444)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
    return h.hexdigest(), size


def _write_index(path: Path, plan: BundlePlan, created: str) -> None:
    from .index.io import IndexWriter

    meta = {"sfng_version": __version__, "store": f"{plan.store_name}/release/{plan.name}", "built": created}
    with IndexWriter(path, meta) as w:
        if len(plan.index_rows):
            w.add_records(plan.index_rows)
        w.finish(plan.galaxy_rows)


def _record(plan: BundlePlan, created: str) -> dict:
    return {"name": plan.name, "version": plan.version, "parent": plan.parent, "created": created,
            "sfng_version": __version__, "store": plan.store_name, "command": plan.command,
            "mode": plan.mode, "tar": plan.tar, "allow_invalid": plan.allow_invalid, "invalid": plan.invalid,
            "validated": plan.validated, "changes": plan.changes, "n_files": len(plan.data_files),
            "bytes": plan.bytes, "files": [f.as_dict() for f in plan.files]}


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def render_notes(plan: BundlePlan, created: str) -> str:
    """The text of ``RELEASE.md``."""
    from .readme import read_readme, citation_lines
    from .errors import ReadmeError

    data = plan.data_files
    galaxies = sorted({f.galaxy or "(unknown galaxy)" for f in data})
    surveys = sorted({f"{f.rel.split('/')[0]}/{f.rel.split('/')[1]}" for f in data})
    out = [f"# Release {plan.name}", "",
           f"- Created: {created}",
           f"- sfng version: {__version__}",
           f"- Store: {plan.store_name}",
           f"- Version: {plan.version}" + (f" (previous: {plan.parent})" if plan.parent else ""),
           f"- Contents: {len(data)} files ({_human(sum(f.size for f in data))}) on {len(galaxies)} "
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
                       f"{_human(f.size)} |")
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


# ---------------------------------------------------------------------------------------------
# Tarballs
# ---------------------------------------------------------------------------------------------

def _tar_partial(part: Path, plan: BundlePlan, created: str) -> str:
    from .tarball import write_tarball

    tmp = part.parent / f"{TMP_PREFIX}{plan.name}.tar.gz"
    tmp.unlink(missing_ok=True)
    mtime = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    return write_tarball(part, tmp, plan.name, mtime=mtime, exclude=(SENTINEL,))


def _remove_tmp_tar(rdir: Path, name: str) -> None:
    (rdir / f"{TMP_PREFIX}{name}.tar.gz").unlink(missing_ok=True)


def _publish_tar(rdir: Path, name: str, digest: str) -> Path:
    tmp = rdir / f"{TMP_PREFIX}{name}.tar.gz"
    out = rdir / f"{name}.tar.gz"
    if os.path.lexists(out):
        raise SfngError(f"{out} exists; releases are immutable")
    os.rename(tmp, out)
    from .fsutil import atomic_write_text

    atomic_write_text(rdir / f"{name}.tar.gz.sha256", f"{digest}  {name}.tar.gz\n")
    return out


def make_tarball(store, name: str) -> tuple[Path, str]:
    """Write ``release/NAME.tar.gz`` (and its ``.sha256``) for the complete release ``NAME``.

    The tarball is reproducible: the same release always gives the same bytes (member mtime is
    the release's creation time).
    """
    from .tarball import write_tarball

    check_name(name)
    rdir = release_dir(store)
    folder = rdir / name
    if not folder.is_dir() or folder.is_symlink():
        raise SfngError(f"release/{name}: no such release")
    out = rdir / f"{name}.tar.gz"
    if os.path.lexists(out):
        raise SfngError(f"{out} exists; releases are immutable")
    rec = _read_record(folder)
    created = rec.get("created") or _now()
    mtime = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    tmp = rdir / f"{TMP_PREFIX}{name}.tar.gz"
    try:
        digest = write_tarball(folder, tmp, name, mtime=mtime)
        return _publish_tar(rdir, name, digest), digest
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# Verify
# ---------------------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    """Result of :func:`verify`; ``ok`` only when every checksum matches and nothing is odd."""

    target: str
    kind: str = "folder"        # folder or tarball
    n_files: int = 0
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unsafe: list = field(default_factory=list)    # "name: why"
    problems: list = field(default_factory=list)  # anything else (incomplete, bad manifest...)
    incomplete: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.unsafe or self.problems
                    or self.incomplete)

    def as_dict(self):
        return {"target": self.target, "kind": self.kind, "ok": self.ok, "n_files": self.n_files,
                "incomplete": self.incomplete, "missing": self.missing, "extra": self.extra,
                "changed": self.changed, "unsafe": self.unsafe, "problems": self.problems}


def parse_manifest(text: str, where="MANIFEST.sha256") -> tuple[dict, list]:
    """``sha256sum`` lines -> ({path: sha256}, [problems]).  Unsafe paths are problems, not entries."""
    entries, problems = {}, []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = re.match(r"^([0-9a-fA-F]{64}) [ *](.+)$", line)
        if not m:
            problems.append(f"{where}:{i}: not a 'SHA256  PATH' line: {line[:80]!r}")
            continue
        path = m[2]
        why = unsafe_reason(path)
        if why:
            problems.append(f"{where}:{i}: unsafe path {path!r}: {why}")
            continue
        if path in entries:
            problems.append(f"{where}:{i}: {path} listed twice")
        entries[path] = m[1].lower()
    return entries, problems


def read_manifest(path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SfngError(f"{path}: cannot read the manifest: {exc}") from exc
    return parse_manifest(text, str(path))[0]


def _resolve_target(store, target) -> tuple[str, Path]:
    """``("folder"|"tarball", path)`` for a release name or path."""
    p = Path(str(target))
    if store is not None and "/" not in str(target) and not p.exists():
        rdir = release_dir(store)
        for cand, kind in ((rdir / str(target), "folder"), (rdir / f".{target}{PARTIAL_SUFFIX}", "folder"),
                           (rdir / f"{target}.tar.gz", "tarball")):
            if os.path.lexists(cand):
                return kind, cand
        raise SfngError(f"no release {target!r} in {rdir} (see `sfng release list`)")
    if not os.path.lexists(p):
        raise SfngError(f"{p}: no such release folder or tarball")
    if p.is_symlink():
        raise SfngError(f"{p}: a symbolic link; give the release folder or tarball itself")
    return ("folder" if p.is_dir() else "tarball"), p


def verify(target, store=None) -> VerifyReport:
    """Check a release folder or tarball against its ``MANIFEST.sha256``.

    Reports missing, extra and changed files, unsafe entries (links, devices, ``..`` or absolute
    names) and an incomplete release.  Never follows a link; a tarball is read as a stream and
    hashed member by member, never extracted.
    """
    kind, path = _resolve_target(store, target)
    if kind == "folder":
        return _verify_folder(path)
    return _verify_tarball(path)


def _walk(folder: Path):
    """(regular files {rel: path}, unsafe ["rel: why"]) without following links."""
    files, unsafe = {}, []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(folder).as_posix()
        for name in sorted(dirnames + filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(base / name)
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISREG(st.st_mode):
                files[rel] = base / name
            else:
                what = "symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                unsafe.append(f"{rel}: {what} (not followed)")
    return files, unsafe


def _check_entries(rep: VerifyReport, manifest_text: str, where: str, present: dict, digest) -> dict:
    """Check a release's manifest against what the release holds; returns its entries.

    ``present`` maps each release-relative path found to something ``digest`` turns into its
    SHA-256 (a folder's file, hashed now; a tar member's hash, taken while reading the tarball).
    Missing, changed and extra paths go into ``rep``.
    """
    entries, probs = parse_manifest(manifest_text, where)
    rep.problems += probs
    rep.n_files = len(entries)
    for rel, want in sorted(entries.items()):
        if rel not in present:
            rep.missing.append(rel)
        elif digest(present[rel]) != want:
            rep.changed.append(rel)
    rep.extra = sorted(r for r in present if r not in entries and r != MANIFEST)
    return entries


def _verify_folder(folder: Path) -> VerifyReport:
    rep = VerifyReport(target=str(folder), kind="folder")
    if folder.name.endswith(PARTIAL_SUFFIX) or os.path.lexists(folder / SENTINEL):
        rep.incomplete = True
        rep.problems.append(f"{folder}: an incomplete release (its bundle was interrupted); rerun the "
                            f"same `sfng release bundle` to finish it, or `sfng release clean`")
        return rep
    files, rep.unsafe = _walk(folder)
    if MANIFEST not in files:
        rep.problems.append(f"{folder}: no {MANIFEST}; not a release (or a damaged one)")
        return rep
    entries = _check_entries(rep, files[MANIFEST].read_text(encoding="utf-8", errors="replace"),
                             f"{folder.name}/{MANIFEST}", files, _hash_nofollow)
    if INDEX in files and INDEX in entries and not rep.changed:
        rep.problems += _index_coverage(files[INDEX], entries)
    return rep


def _hash_nofollow(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        while block := f.read(4 * CHUNK):
            h.update(block)
    return h.hexdigest()


def _index_coverage(index_path: Path, entries: dict) -> list[str]:
    """The release index must describe exactly the released data files."""
    from .index.io import read_index

    try:
        files, _, _ = read_index(index_path, columns=["path"], galaxies=False)
    except SfngError as exc:
        return [str(exc)]
    in_index = {_text(p) for p in files["path"]}
    data = {p for p in entries if p.split("/")[0] in RELEASE_TREES and not p.endswith("_README.txt")}
    out = []
    for p in sorted(in_index - data):
        out.append(f"{INDEX} lists {p}, which is not in the release")
    for p in sorted(data - in_index):
        out.append(f"{INDEX} does not describe {p}")
    return out


def _verify_tarball(path: Path) -> VerifyReport:
    import tempfile

    from .tarball import iter_members

    rep = VerifyReport(target=str(path), kind="tarball")
    side = path.with_name(path.name + ".sha256")
    if side.is_file() and not side.is_symlink():
        want = side.read_text(encoding="utf-8", errors="replace").split()[:1]
        got = _hash_nofollow(path)
        if not want or want[0].lower() != got:
            rep.problems.append(f"{path.name}: checksum {got} differs from {side.name}")
    top = None
    hashes, seen = {}, set()
    manifest_bytes = index_bytes = None
    try:
        members = iter_members(path, keep=_KeepAny())
        for m in members:
            if m.unsafe:
                rep.unsafe.append(f"{m.name}: {m.unsafe}")
                continue
            if m.kind not in ("file", "dir"):
                rep.unsafe.append(f"{m.name}: {m.kind} member (a release holds only files and folders)")
                continue
            first, _, rest = m.name.rstrip("/").partition("/")
            top = top or first
            if first != top:
                rep.unsafe.append(f"{m.name}: outside the release folder {top}/")
                continue
            if m.name in seen:
                rep.unsafe.append(f"{m.name}: member given twice")
                continue
            seen.add(m.name)
            if m.kind == "file":
                if not rest:
                    rep.unsafe.append(f"{m.name}: a file at the top level (a release is one folder)")
                    continue
                hashes[rest] = m.sha256
                if rest == MANIFEST:
                    manifest_bytes = m.data
                elif rest == INDEX:
                    index_bytes = m.data
                elif rest == SENTINEL:
                    rep.incomplete = True
    except SfngError as exc:
        rep.problems.append(str(exc))
        return rep
    if manifest_bytes is None:
        rep.problems.append(f"{path.name}: no {MANIFEST} in the tarball; not a release")
        return rep
    entries = _check_entries(rep, manifest_bytes.decode("utf-8", "replace"), f"{top}/{MANIFEST}",
                             hashes, lambda sha256: sha256)
    if index_bytes is not None and INDEX in entries and INDEX not in rep.changed:
        with tempfile.TemporaryDirectory(prefix="sfng-verify-") as tmp:
            ip = Path(tmp) / INDEX
            ip.write_bytes(index_bytes)
            rep.problems += _index_coverage(ip, entries)
    return rep


class _KeepAny:
    """``keep`` for :func:`iter_members`: the manifest and index of whatever the top folder is."""

    def __contains__(self, name):
        rest = name.partition("/")[2]
        return rest in (MANIFEST, INDEX)


# ---------------------------------------------------------------------------------------------
# List, diff, clean
# ---------------------------------------------------------------------------------------------

@dataclass
class ReleaseInfo:
    name: str
    path: Path
    complete: bool
    created: str = ""
    version: int = 1
    parent: str | None = None
    n_files: int = 0
    bytes: int = 0
    tarball: str | None = None
    command: str = ""

    def as_dict(self):
        return {"name": self.name, "path": str(self.path), "complete": self.complete,
                "created": self.created, "version": self.version, "parent": self.parent,
                "n_files": self.n_files, "bytes": self.bytes, "tarball": self.tarball,
                "command": self.command}


def _read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def list_releases(store) -> list[ReleaseInfo]:
    """Every release under ``release/``, complete ones and interrupted (``.NAME.partial``) ones."""
    rdir = release_dir(store)
    out = []
    if not rdir.is_dir():
        return out
    for p in sorted(rdir.iterdir()):
        if not p.is_dir() or p.is_symlink():
            continue
        if p.name.startswith("."):
            if p.name.endswith(PARTIAL_SUFFIX):
                out.append(ReleaseInfo(name=p.name[1:-len(PARTIAL_SUFFIX)], path=p, complete=False))
            continue
        rec = _read_record(p)
        tar = rdir / f"{p.name}.tar.gz"
        out.append(ReleaseInfo(name=p.name, path=p, complete=True, created=rec.get("created", ""),
                               version=rec.get("version", 1), parent=rec.get("parent"),
                               n_files=rec.get("n_files", 0), bytes=rec.get("bytes", 0),
                               tarball=tar.name if tar.is_file() else None, command=rec.get("command", "")))
    return out


def clean(store, name: str, dry_run: bool = False) -> Path | None:
    """Remove the incomplete release ``release/.NAME.partial`` (never a complete release)."""
    check_name(name)
    part = _partial(store, name)
    if not os.path.lexists(part):
        if (release_dir(store) / name).is_dir():
            raise SfngError(f"release/{name} is complete; releases are immutable and `clean` only removes "
                            f"incomplete ones")
        return None
    if not dry_run:
        with _ReleaseLock(release_dir(store)):
            if part.is_dir() and not part.is_symlink():
                shutil.rmtree(part)
            else:
                os.unlink(part)
            _remove_tmp_tar(release_dir(store), name)
    return part


def _compare(a: dict, b: dict, unknown_ok=False) -> dict:
    """Added/removed/changed paths from manifest ``a`` to ``b`` (release bookkeeping files ignored)."""
    a = {k: v for k, v in a.items() if k not in OWN_FILES}
    b = {k: v for k, v in b.items() if k not in OWN_FILES}
    changed = sorted(p for p in set(a) & set(b)
                     if a[p] != b[p] and not (unknown_ok and (a[p] is None or b[p] is None)))
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed}


def _manifest_of(store, target) -> dict:
    kind, path = _resolve_target(store, target)
    if kind == "folder":
        if path.name.endswith(PARTIAL_SUFFIX) or os.path.lexists(path / SENTINEL):
            raise SfngError(f"{path}: an incomplete release; finish it first")
        return read_manifest(path / MANIFEST)
    from .tarball import iter_members

    for m in iter_members(path, keep=_KeepAny()):
        if m.kind == "file" and m.name.partition("/")[2] == MANIFEST and not m.unsafe:
            return parse_manifest(m.data.decode("utf-8", "replace"))[0]
    raise SfngError(f"{path}: no {MANIFEST} in the tarball")


def diff(store, a, b) -> dict:
    """Files added, removed and changed from release ``a`` to release ``b`` (names or paths),
    read from their manifests."""
    out = _compare(_manifest_of(store, a), _manifest_of(store, b))
    out.update({"from": str(a), "to": str(b)})
    return out


# ---------------------------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------------------------

def demo_step(tree, say) -> None:
    """Release all data on IC 342 plus the CO(1-0) use-case selection, as a tarball, and verify it."""
    from .query import use_case
    from .store import Store

    store = Store.open(tree.store_dir)
    if not store.index_path.is_file():
        say("release: no index in the demo store; skipped")
        return
    name = "demo-ic342-co10"
    if (release_dir(store) / name).is_dir():
        rep = verify(name, store)
        say(f"release: release/{name} exists; verify: {'OK' if rep.ok else 'FAILED'} ({rep.n_files} files)")
        return
    selection = [use_case(3), use_case(1)]
    try:
        plan = plan_bundle(store, name, selection=selection, tar=True)
    except SfngError as exc:
        if "--allow-invalid" not in str(exc):
            raise
        # Files that fail the minimum specification (the demo's PAWS cube has a singular WCS
        # until `sfng fix` runs) are released only on request, and RELEASE.md lists them.
        say(f"release: {str(exc).splitlines()[0]}; bundling with --allow-invalid")
        plan = plan_bundle(store, name, selection=selection, tar=True, allow_invalid=True)
    res = bundle(store, plan)
    rep = verify(name, store)
    trep = verify(res.tarball, store)
    gal = sorted({f.galaxy for f in plan.data_files})
    say(f"release: release/{name}: {len(plan.data_files)} files ({_human(plan.bytes)}) on {len(gal)} "
        f"galaxies" + (f", {len(plan.invalid)} failing validation (listed in RELEASE.md)" if plan.invalid else "")
        + f", in {res.seconds:.2f} s")
    say(f"      $ {plan.command}")
    say(f"      tarball {res.tarball.name} sha256 {res.tar_sha256[:16]}...; verify: folder "
        f"{'OK' if rep.ok else 'FAILED'}, tarball {'OK' if trep.ok else 'FAILED'} ({rep.n_files} checksums)")
