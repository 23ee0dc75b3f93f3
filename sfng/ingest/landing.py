""":func:`execute`: carry a plan out, crash-safely (temporary name, fsync, verify, no-clobber
rename, manifest, journal), and :func:`recover` what a killed run left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import manifest as mf
from ..errors import SfngError
from ..fsutil import copy_with_hash, fsync_dir, sha256_file
from .plan import MODES, QUARANTINE_TREE, Item, Plan, utc_now
from .planner import compare_existing


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
    from ..journal import state_dir

    return (state_dir(store.root, "locks") / f"ingest-{survey}.lock",
            state_dir(store.root, "journal") / f"ingest-{survey}.jsonl")


def _hard_link(src: Path, dst: Path, read_only: bool = False) -> tuple[str, int]:
    """Land ``dst`` as a hard link of ``src`` through a temporary name (no clobber); hash it.
    ``read_only``: the shared inode loses its write permission (the source's too: nothing may
    edit a landed file through either name)."""
    from ..fsutil import fault_point, make_read_only, place_temp, removing_on_error, temp_path

    if dst.exists():
        raise FileExistsError(f"{dst} exists; sfng never overwrites a file")
    tmp = temp_path(dst.parent)
    os.link(src, tmp)
    with removing_on_error(tmp):
        digest = sha256_file(tmp)
        size = os.stat(tmp).st_size
        if read_only:
            make_read_only(tmp)
        fault_point(f"link {dst.name}: temporary linked")
        place_temp(tmp, dst)
    fsync_dir(dst.parent)
    fault_point(f"link {dst.name}: renamed")
    return digest, size


_LINK_FALLBACK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES, errno.EOPNOTSUPP}


def _land(src: Path, dst: Path, mode: str, expected: str | None,
          read_only: bool = True) -> tuple[str, int, str]:
    """Land one file (read-only unless ``read_only`` is false: READMEs, which people edit);
    returns ``(sha256, size, how)``.  Never replaces ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode in ("link", "move"):
        try:
            digest, size = _hard_link(src, dst, read_only=read_only)
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
    digest, size = copy_with_hash(src, dst, expected_sha256=expected, read_only=read_only)
    return digest, size, how


def recover(store, survey: str) -> list[str]:
    """Finish or roll back an ingest of ``survey`` that was killed; returns what was done.

    Must be called holding the survey's ingest lock (:func:`execute` does).  Temporary files
    are removed (roll back of unfinished copies); files that reached their final name but not
    the manifest are verified against their source and recorded (finish); ``move`` sources whose
    copy is verified are removed (finish).
    """
    from ..journal import Journal

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
    from ..fsutil import make_read_only, remove_stale_temporaries

    for folder in sorted(folders):
        if folder.is_dir():
            # We hold the survey locks: every temporary in these folders is a killed run's.
            for tmp in remove_stale_temporaries(folder, owned=True):
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
            make_read_only(dst)
            mf.append(dst.parent, [mf.Entry(dst.name, dst_sha, dst.stat().st_size, utc_now(),
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

    from ..journal import Journal, Lock

    if mode not in MODES:
        raise SfngError(f"unknown ingest mode {mode!r}: choose one of {', '.join(MODES)}")
    store, root = plan.store, Path(plan.store.root)
    report = Report(plan=plan, mode=mode)
    t0 = time.perf_counter()
    _, jpath = _lock_and_journal_paths(store, plan.survey)
    guard = threading.Lock()
    # Every survey folder the plan lands in is locked (in name order: two ingests never wait on
    # each other crosswise), so two runs never append to one manifest at once.
    surveys = sorted({Path(i.dest).parent.name for i in plan.items if i.dest} | {plan.survey})
    with contextlib.ExitStack() as held:
        for s in surveys:
            held.enter_context(Lock(_lock_and_journal_paths(store, s)[0], f"ingest of survey {s}"))
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
                mf.append(dst.parent, [mf.Entry(dst.name, digest, size, utc_now(),
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

                    from ..fsutil import atomic_write_text

                    atomic_write_text(dst.parent / f"{dst.name}.validation.json",
                                      json.dumps(item.validation, indent=2, default=str) + "\n",
                                      overwrite=True)
                item_mode = "copy" if item.kind == "readme" else mode
                with guard:
                    journal.record("land", src=str(src), dst=item.dest, mode=item_mode, kind=item.kind,
                                   companions=item.companions, galaxy=item.galaxy)
                digest, size, how = _land(src, dst, item_mode, None, read_only=item.kind != "readme")
                with guard:
                    journal.record("landed", dst=item.dest, sha256=digest, size=size)
                try:
                    record_manifest(item, digest, size)
                except OSError:
                    # Not recorded (full disk...): take the file back out, so that nothing sits
                    # in the store unrecorded; the source is untouched (a move removes it later).
                    dst.unlink(missing_ok=True)
                    with guard:
                        journal.record("rolled-back", dst=item.dest)
                    raise
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
                compare_existing(item, dst, mf.read_manifest(dst.parent))
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
                finish(_create_readme(item, root, Path(item.dest).parent.name))
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
        journal.done()
    report.seconds = time.perf_counter() - t0
    return report


def _os_message(exc: OSError, src: Path, dst: Path) -> str:
    from ..fsutil import WRITE_ERRNOS, os_error_message

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
        return os_error_message(exc, dst)
    if exc.errno in WRITE_ERRNOS:
        return os_error_message(exc, exc.filename or src)
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
    from ..fsutil import atomic_write_text
    from ..readme import template

    dst = root / item.dest
    try:
        atomic_write_text(dst, item.content or template(survey))
    except FileExistsError:
        return Outcome(item, "kept", "the store's README is kept")
    except OSError as exc:
        return Outcome(item, "failed", _os_message(exc, Path(""), dst))
    if item.content:
        return Outcome(item, "created", "the format's README written")
    return Outcome(item, "created", "template README written; fill it in")

