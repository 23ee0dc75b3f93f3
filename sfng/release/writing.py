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
    journal_path,
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
    provenance: int = 0
    hashed: int = 0
    resumed: bool = False
    seconds: float = 0.0
    tarball: Path | None = None
    tar_sha256: str | None = None
    notes: list = field(default_factory=list)

    def as_dict(self):
        return {"name": self.plan.name, "path": str(self.path), "linked": self.linked,
                "copied": self.copied, "readmes": self.readmes,
                "provenance": self.provenance, "hashed": self.hashed, "resumed": self.resumed,
                "seconds": round(self.seconds, 3), "bytes": self.plan.bytes,
                "n_files": len(self.plan.data_files), "tarball": str(self.tarball) if self.tarball else None,
                "tar_sha256": self.tar_sha256, "notes": self.notes, "invalid": self.plan.invalid,
                "changes": self.plan.changes}


def bundle(store, plan: BundlePlan, *, tar: bool | None = None, say=None, progress=None) -> BundleResult:
    """Make the release ``plan`` describes (see the module docstring for crash safety); ``tar``
    (default: as planned) also writes ``release/NAME.tar.gz`` and its ``.sha256``.
    ``progress(done, total, path)`` is called after each file is placed (without it, ``say``
    reports every tenth of a large release).

    Journalled (``.sfng/journal/release-NAME.jsonl``): a rerun of the same bundle after a kill at
    any point, even after the folder's rename, finishes it (tarball included) and exits cleanly.
    """
    tar = plan.tar if tar is None else tar
    say = say or (lambda msg: None)
    rdir = release_dir(store)
    rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ReleaseLock(rdir):
        from ..fsutil import remove_stale_temporaries

        remove_stale_temporaries(rdir, owned=True)  # we hold release/'s lock: killed runs' temporaries
        jpath = journal_path(store, plan.name)
        earlier = _journal_state(jpath, plan)
        result = BundleResult(plan=plan, path=plan.path)
        part = partial_dir(store, plan.name)
        if os.path.lexists(plan.path) and earlier is None and plan.exists and _same_release(plan):
            # The same bundle again (a rerun, after a kill that came once it was done, say).
            result.resumed = True
            say(f"release/{plan.name} already holds exactly these files; nothing to do")
            if tar:
                result.tarball, result.tar_sha256 = _finish_tar(store, rdir, plan.name, {})
            _close_journal(jpath)
            result.seconds = time.perf_counter() - t0
            return result
        if os.path.lexists(plan.path):
            if earlier is None or not (earlier.get("renamed") or not os.path.lexists(part)):
                raise SfngError(f"release/{plan.name} exists and releases are immutable; choose another "
                                f"name, or use --version to make the next version of it")
            # Killed after the rename: only the tarball and the journal may be missing.
            result.resumed = True
            say(f"release/{plan.name}: finishing the release left by an interrupted run")
            if earlier.get("tar") or tar:
                result.tarball, result.tar_sha256 = _finish_tar(store, rdir, plan.name, earlier)
            _close_journal(jpath)
            result.seconds = time.perf_counter() - t0
            return result
        created = _start_partial(part, plan, result, say, earlier)
        j = _open_journal(store, jpath, plan, created, tar, resumed=result.resumed)
        try:
            _fill(part, plan, result, created, say, progress)
            j.record("filled")
            if tar:
                result.tar_sha256 = tar_partial(part, plan, created)
                j.record("tar-written", sha256=result.tar_sha256)
            (part / SENTINEL).unlink(missing_ok=True)
            fsync_dir(part)
            j.record("sealed")
            os.rename(part, plan.path)
            fsync_dir(rdir)
            j.record("renamed")
        except SfngError:
            # A problem with the data (changed or damaged file): a rerun would meet it again.
            shutil.rmtree(part, ignore_errors=True)
            remove_tmp_tar(rdir, plan.name)
            j.close(remove=True)
            raise
        except OSError as exc:
            from ..fsutil import os_error_message

            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                shutil.rmtree(part, ignore_errors=True)
                remove_tmp_tar(rdir, plan.name)
                j.close(remove=True)
                why = "the disk is full" if exc.errno != errno.EFBIG else "a file is too large for the file system or the file-size limit"
                raise SfngError(f"release/{plan.name}: {why} ({exc.strerror}) while writing "
                                f"{getattr(exc, 'filename', None) or 'the release'}; the incomplete "
                                f"release was removed. Free {human_size(plan.bytes)} or bundle with "
                                f"--link (default), then rerun") from None
            j.close(remove=False)
            raise SfngError(f"release/{plan.name}: {os_error_message(exc)}; the "
                            f"incomplete release is kept as release/.{plan.name}{PARTIAL_SUFFIX}: rerun "
                            f"the same command to finish it, or `sfng release clean {plan.name}`") from None
        if tar:
            result.tarball = publish_tar(rdir, plan.name, result.tar_sha256)
            j.record("tar-published")
        j.done()
    result.seconds = time.perf_counter() - t0
    say(f"release/{plan.name}: {len(plan.data_files)} files ({human_size(plan.bytes)}), {result.linked} linked, "
        f"{result.copied} copied, {result.readmes} READMEs"
        + (f", {result.provenance} provenance records" if result.provenance else "")
        + (f", tarball {result.tarball.name}" if result.tarball else ""))
    return result


def _same_release(plan: BundlePlan) -> bool:
    """Is the complete release at ``plan.path`` this very bundle: made by the same command, holding
    exactly the planned files with their bytes?  (Another request under the name is refused.)"""
    from .checksums import parse_manifest
    from .documents import read_record
    from .layout import OWN_FILES

    folder = plan.path
    if not folder.is_dir() or folder.is_symlink() or os.path.lexists(folder / SENTINEL):
        return False
    try:
        entries, problems = parse_manifest((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    record = read_record(folder)
    if problems or record.get("mode") != plan.mode or record.get("command") != plan.command:
        return False
    have = {k: v for k, v in entries.items() if k not in OWN_FILES}
    if set(have) != {f.rel for f in plan.files}:
        return False
    for f in plan.files:
        try:
            sha = f.sha256 or sha256_file(f.src)
        except OSError:
            return False
        if have[f.rel] != sha:
            return False
    return True


def _journal_state(jpath: Path, plan: BundlePlan) -> dict | None:
    """What the journal of an interrupted bundle of the same plan says (None: no such journal, or
    another plan's): ``created``, ``tar``, ``renamed``, ``tar_sha256``."""
    from ..journal import Journal

    records = Journal.read(jpath)
    begin = next((r for r in records if r["op"] == "begin"), None)
    if begin is None or begin.get("digest") != plan.digest():
        return None
    state = {"created": begin.get("created"), "tar": bool(begin.get("tar"))}
    for r in records:
        if r["op"] == "renamed":
            state["renamed"] = True
        elif r["op"] == "tar-written":
            state["tar_sha256"] = r.get("sha256")
    return state


def _open_journal(store, jpath: Path, plan: BundlePlan, created: str, tar: bool, resumed: bool):
    from ..journal import Journal, state_dir

    state_dir(store.root, "journal")
    jpath.unlink(missing_ok=True)  # an earlier run's (same plan: its state is in the sentinel too)
    return Journal(jpath).open(job="release", name=plan.name, digest=plan.digest(), created=created,
                               tar=bool(tar), resumed=resumed)


def _close_journal(jpath: Path) -> None:
    from ..journal import Journal

    Journal(jpath).close(remove=True)


def _finish_tar(store, rdir: Path, name: str, state: dict):
    """The tarball of the complete release ``name`` after an interrupted run: publish the written
    temporary if it is whole, else write it again (the bytes are reproducible)."""
    from ..fsutil import atomic_write_text, sha256_file
    from .tarballs import make_tarball, tmp_tar

    out = rdir / f"{name}.tar.gz"
    side = rdir / f"{name}.tar.gz.sha256"
    if out.is_file():
        digest = sha256_file(out)
        if not side.is_file():
            atomic_write_text(side, f"{digest}  {name}.tar.gz\n", read_only=True)
        return out, digest
    tmp = tmp_tar(rdir, name)
    want = state.get("tar_sha256")
    if want and tmp.is_file() and sha256_file(tmp) == want:
        return publish_tar(rdir, name, want), want
    tmp.unlink(missing_ok=True)
    return make_tarball(store, name)


def _start_partial(part: Path, plan: BundlePlan, result: BundleResult, say, earlier=None) -> str:
    """Create or reuse ``part``; return the creation time recorded in its sentinel (or, when a kill
    came after the sentinel's removal, in the journal ``earlier``)."""
    digest = plan.digest()
    if part.is_dir() and not part.is_symlink():
        try:
            state = json.loads((part / SENTINEL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {"digest": digest, "created": earlier["created"]} if earlier and earlier.get("created") else {}
        if state.get("digest") == digest:
            result.resumed = True
            say(f"release/{plan.name}: finishing the incomplete release left by an earlier run")
            created = state.get("created") or utc_now()
            if not (part / SENTINEL).exists():  # killed after sealing it: incomplete again
                _write_sentinel(part, digest, created)
            return created
        say(f"release/{plan.name}: removing an incomplete release made from another selection")
        shutil.rmtree(part)
    elif os.path.lexists(part):
        os.unlink(part)
    created = utc_now()
    part.mkdir()
    _write_sentinel(part, digest, created)
    fsync_dir(part.parent)
    return created


def _write_sentinel(part: Path, digest: str, created: str) -> None:
    sentinel = {"digest": digest, "created": created, "pid": os.getpid(),
                "note": "incomplete release: rerun the same `sfng release bundle` to finish it, "
                        "or `sfng release clean NAME`"}
    (part / SENTINEL).write_text(json.dumps(sentinel, indent=1), encoding="utf-8")
    fsync_dir(part)


def _fill(part: Path, plan: BundlePlan, result: BundleResult, created: str, say, progress=None) -> None:
    from ..fsutil import fault_point

    n = len(plan.files)
    step = max(1, n // 10)
    for k, f in enumerate(plan.files, start=1):
        dst = part / f.rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if result.resumed and os.path.lexists(dst) and _already_placed(f, dst):
            from ..fsutil import make_read_only

            make_read_only(dst)  # (a copy killed before its chmod)
        else:
            if os.path.lexists(dst):
                os.unlink(dst)
            _place(f, dst, plan.mode, result)
            fault_point(f"release {plan.name}: placed {f.rel}")
        if progress is not None:
            progress(k, n, f.rel)
        elif k % step == 0 and n > 20:
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
    from ..fsutil import fault_point, make_read_only

    path = part / name
    if os.path.lexists(path):
        os.unlink(path)
    if writer is not None:
        writer(path)
        make_read_only(path)
    else:
        with open(path, "xb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o444)
    fault_point(f"release: wrote {name}")


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
        from ..fsutil import make_read_only

        try:
            # A release never shares a writable inode with the store: the store's file (one
            # inode, two names) loses its write permission first; sfng fix writes a new file.
            make_read_only(f.src)
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
    elif f.role == "provenance":
        result.provenance += 1
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
    # No columnar companion: a release holds exactly the files its manifest lists (a release's
    # index is read from the FITS table, which is stored narrow).
    with IndexWriter(path, meta, columns=False) as w:
        if len(plan.index_rows):
            w.add_records(plan.index_rows)
        w.finish(plan.galaxy_rows)
