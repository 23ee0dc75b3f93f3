"""Writing a planned release (:func:`bundle`): in ``release/.NAME.partial/`` under an
``.INCOMPLETE`` sentinel, files hard-linked or copied (:func:`copy_file`), its own index,
RELEASE.md, RELEASE.json and manifest, then renamed into place; a rerun finishes a half-made one."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import SfngError
from ..fsutil import fsync_dir, sha256_file
from ..get import human_size
from .documents import json_record, render_notes, utc_now
from .layout import (
    CHUNK,
    INDEX,
    MANIFEST,
    NOTES,
    PARTIAL_SUFFIX,
    RECORD,
    SENTINEL,
    ReleaseLock,
    partial_dir,
    release_dir,
)
from .plan import BundlePlan, PlanFile
from .tarballs import publish_tar, remove_tmp_tar, tar_partial


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


def bundle(store, plan: BundlePlan, *, tar: bool | None = None, say=None) -> BundleResult:
    """Make the release ``plan`` describes (see the module docstring for crash safety); ``tar``
    (default: as planned) also writes ``release/NAME.tar.gz`` and its ``.sha256``."""
    tar = plan.tar if tar is None else tar
    say = say or (lambda msg: None)
    rdir = release_dir(store)
    rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ReleaseLock(rdir):
        if os.path.lexists(plan.path):
            raise SfngError(f"release/{plan.name} exists and releases are immutable")
        part = partial_dir(store, plan.name)
        result = BundleResult(plan=plan, path=plan.path)
        created = _start_partial(part, plan, result, say)
        try:
            _fill(part, plan, result, created, say)
            if tar:
                result.tar_sha256 = tar_partial(part, plan, created)
            (part / SENTINEL).unlink()
            fsync_dir(part)
            os.rename(part, plan.path)
            fsync_dir(rdir)
        except SfngError:
            # A problem with the data (changed or damaged file): a rerun would meet it again.
            shutil.rmtree(part, ignore_errors=True)
            remove_tmp_tar(rdir, plan.name)
            raise
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                shutil.rmtree(part, ignore_errors=True)
                remove_tmp_tar(rdir, plan.name)
                raise SfngError(f"release/{plan.name}: the disk is full ({exc.strerror}) while writing "
                                f"{getattr(exc, 'filename', None) or 'the release'}; the incomplete "
                                f"release was removed. Free {human_size(plan.bytes)} or bundle with "
                                f"--link (default), then rerun") from None
            raise SfngError(f"release/{plan.name}: {exc.strerror or exc} ({exc.filename or ''}); the "
                            f"incomplete release is kept as release/.{plan.name}{PARTIAL_SUFFIX}: rerun "
                            f"the same command to finish it, or `sfng release clean {plan.name}`") from None
        if tar:
            result.tarball = publish_tar(rdir, plan.name, result.tar_sha256)
    result.seconds = time.perf_counter() - t0
    say(f"release/{plan.name}: {len(plan.data_files)} files ({human_size(plan.bytes)}), {result.linked} linked, "
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
            return state.get("created") or utc_now()
        say(f"release/{plan.name}: removing an incomplete release made from another selection")
        shutil.rmtree(part)
    elif os.path.lexists(part):
        os.unlink(part)
    created = utc_now()
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
    record = json_record(plan, created)
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
    from ..index.io import IndexWriter

    meta = {"sfng_version": __version__, "store": f"{plan.store_name}/release/{plan.name}", "built": created}
    with IndexWriter(path, meta) as w:
        if len(plan.index_rows):
            w.add_records(plan.index_rows)
        w.finish(plan.galaxy_rows)
