"""``sfng fsck``: check the whole store, and with ``repair`` fix what the journals and backups allow.

Checks, each a :class:`Finding` (``error``: something is wrong, the exit status is 1; ``warning``:
worth a look):

* **manifests against files**: every ``MANIFEST.sha256`` of ``data|derived|uncalibrated|docs|tables/<SURVEY>/``:
  each entry's file exists with the recorded size and, with ``deep``, SHA-256; without ``deep`` a
  file whose modification time is later than its landing is hashed unless the index vouches for it
  (same size, time and checksum), so the quick check reads almost nothing and misses no edit that
  touched the time.  A file the manifest does not list (READMEs, validation reports and sfng's own
  files excepted), a malformed manifest line, a landed file that is writable (landed content is
  read-only);
* **the index against the tree**: rows whose file is gone or changed, files it does not describe;
* **releases against their manifests**: missing, extra (and, with ``deep``, changed) files, a file
  that is writable or shares a writable inode with the store, a tarball without its ``.sha256`` (or,
  with ``deep``, differing from it);
* **leftovers**: ``.sfng-tmp-*`` temporaries, journals of writers that did not finish, incomplete
  (``.NAME.partial``) releases.  An interrupted ``export`` is a warning (each file it wrote is whole;
  its journal stays, for the rerun that finishes it).

``repair`` first finishes every journal (the interrupted writer's own recovery: ingest, fix, release),
then rewrites a manifest entry whose file matches a journal's ``landed`` record or whose recorded
checksum is that of a fix backup (``.sfng/backup/``) of a file carrying sfng fix's HISTORY, records
such unlisted files, makes writable landed and released files read-only, writes a missing tarball
checksum after verifying the tarball, and removes leftovers it owns (temporaries of dead processes,
incomplete releases).  What it cannot fix it says, with the command that can (``sfng index build``...).
A writer running meanwhile holds its lock: fsck leaves its files alone.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest as mf
from .errors import SfngError
from .fsutil import TMP_PREFIX, make_read_only, sha256_file, temp_owner

#: Trees whose survey folders hold a MANIFEST.sha256 (ingest's landing folders).
MANIFEST_TREES = ("data", "derived", "uncalibrated", "docs", "tables")
#: Seconds a file's modification time may pass its manifest's landing time (clock rounding).
MTIME_SLACK = 2.0


@dataclass
class Finding:
    """One thing fsck found: ``kind`` manifest | index | release | leftover | journal;
    ``level`` error | warning; ``repaired``: what ``--repair`` did about it ('' when nothing)."""

    kind: str
    path: str
    problem: str
    level: str = "error"
    repaired: str = ""
    hint: str = ""

    @property
    def open(self) -> bool:
        """Still wrong (an error not repaired)."""
        return self.level == "error" and not self.repaired

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "level": self.level, "problem": self.problem,
                "repaired": self.repaired or None, "hint": self.hint or None}


@dataclass
class FsckReport:
    root: Path
    deep: bool = False
    repair: bool = False
    findings: list = field(default_factory=list)
    recovered: list = field(default_factory=list)   # what finishing the journals did
    counts: dict = field(default_factory=lambda: {"manifests": 0, "files": 0, "hashed": 0,
                                                  "index_rows": 0, "releases": 0})

    @property
    def ok(self) -> bool:
        return not any(f.open for f in self.findings)

    def add(self, kind, path, problem, level="error", hint="") -> Finding:
        f = Finding(kind, str(path), problem, level, hint=hint)
        self.findings.append(f)
        return f

    def summary(self) -> str:
        c = self.counts
        errors = [f for f in self.findings if f.level == "error"]
        fixed = sum(1 for f in errors if f.repaired)
        warnings = sum(1 for f in self.findings if f.level == "warning")
        mode = "deep" if self.deep else "quick"
        head = (f"fsck ({mode}): {c['files']} file(s) in {c['manifests']} manifest(s), {c['index_rows']} "
                f"index row(s), {c['releases']} release(s)")
        if not errors and not warnings:
            return head + ": all well"
        parts = [f"{len(errors)} problem(s)"]
        if self.repair:
            parts.append(f"{fixed} repaired, {len(errors) - fixed} not")
        if warnings:
            parts.append(f"{warnings} warning(s)")
        return head + ": " + ", ".join(parts)

    def as_dict(self) -> dict:
        return {"root": str(self.root), "ok": self.ok, "deep": self.deep, "repair": self.repair,
                "counts": self.counts, "recovered": self.recovered,
                "findings": [f.as_dict() for f in self.findings]}


def fsck(store, *, deep: bool = False, repair: bool = False) -> FsckReport:
    """Check the store (see the module documentation); with ``repair``, fix what can be fixed."""
    root = Path(store.root)
    rep = FsckReport(root=root, deep=deep, repair=repair)
    evidence = _journal_evidence(root)
    _check_journals(store, rep, repair)
    index_rows = _index_rows(store)
    _check_manifests(store, rep, evidence, index_rows, deep, repair)
    _check_index(store, rep, deep)
    _check_releases(store, rep, deep, repair)
    _check_leftovers(store, rep, repair)
    return rep


# -- journals ----------------------------------------------------------------------------------

def _rel(root: Path, p) -> str:
    try:
        return Path(p).relative_to(root).as_posix()
    except ValueError:
        return str(p)


def _journal_evidence(root: Path) -> dict:
    """``{store-relative path: {"sha256", "galaxy", "companions"}}`` of every file a journal says
    landed (ingest's ``landed``, fix's ``replace``), read before any journal is finished."""
    from .journal import Journal, journals

    out: dict = {}
    for jp in journals(root):
        records = Journal.read(jp)
        intents = {r.get("dst"): r for r in records if r["op"] == "land" and r.get("dst")}
        begin = next((r for r in records if r["op"] == "begin"), {})
        for r in records:
            if r["op"] == "landed" and r.get("dst") and r.get("sha256"):
                land = intents.get(r["dst"], {})
                out[r["dst"]] = {"sha256": r["sha256"], "galaxy": land.get("galaxy"),
                                 "companions": tuple(land.get("companions") or ())}
            elif r["op"] == "replace" and begin.get("path") and r.get("new"):
                out[begin["path"]] = {"sha256": r["new"]}
    return out


def _check_journals(store, rep: FsckReport, repair: bool) -> None:
    from .journal import Journal, Lock, journals, state_dir

    root = Path(store.root)
    for jp in journals(root):
        name = jp.stem
        rel = _rel(root, jp)
        kind, _, what = name.partition("-")
        lock_name = {"ingest": f"ingest-{what}.lock", "fix": f"ingest-{what}.lock",
                     "release": "release.lock", "export": f"export-{what}.lock"}.get(kind)
        if lock_name is None:
            rep.add("journal", rel, "a journal sfng does not know; left alone", "warning")
            continue
        lock = Lock(root / ".sfng" / "locks" / lock_name, f"{kind} {what}")
        if lock.held_elsewhere():
            rep.add("journal", rel, f"the {kind} of {what} is running now (its lock is held); not checked",
                    "warning")
            continue
        if kind == "export":  # its files are whole (each renamed into place): the output is short
            n = sum(1 for r in Journal.read(jp) if r["op"] == "written")
            out = next((r.get("out") for r in Journal.read(jp) if r["op"] == "begin"), what)
            rep.add("journal", rel, f"an interrupted export to {out} did not finish ({n} file(s) written, "
                                    f"each complete)", "warning",
                    hint="rerun the same `sfng export` command: it keeps what was written and writes the "
                         "rest (or remove this journal to give it up)")
            continue
        f = rep.add("journal", rel, f"an interrupted {kind} of {what} did not finish",
                    hint=f"rerun the {kind}, or `sfng fsck --repair`")
        if not repair:
            continue
        try:
            if kind == "ingest":
                from .ingest.landing import recover

                with Lock(state_dir(root, "locks") / lock_name, f"survey {what}"):
                    done = recover(store, what)
                if jp.exists():  # recover() removes the journal only when it had records to act on
                    Journal(jp).close(remove=True)
            elif kind == "fix":
                from .validate.fix import recover

                done = recover(root, what, store)
            else:
                done = _recover_release(store, what, jp)
        except SfngError as exc:
            f.hint = str(exc)
            continue
        except OSError as exc:
            from .fsutil import os_error_message

            f.hint = os_error_message(exc)
            continue
        rep.recovered += done
        f.repaired = "finished: " + "; ".join(done) if done else "finished (nothing was left to do)"


def _recover_release(store, name: str, jp: Path) -> list[str]:
    """A bundle killed after its rename: write its tarball if it wanted one; drop the journal.
    A bundle killed before: its incomplete release stays (a leftover, below) and the journal goes."""
    from .journal import Journal
    from .release.layout import PARTIAL_SUFFIX, ReleaseLock, release_dir
    from .release.tarballs import make_tarball, remove_tmp_tar

    records = Journal.read(jp)
    begin = next((r for r in records if r["op"] == "begin"), {})
    rdir = release_dir(store)
    done = []
    with ReleaseLock(rdir):
        folder = rdir / name
        part = rdir / f".{name}{PARTIAL_SUFFIX}"
        if folder.is_dir() and not os.path.lexists(part):
            if begin.get("tar") and not (rdir / f"{name}.tar.gz").exists():
                remove_tmp_tar(rdir, name)
                make_tarball(store, name)
                done.append(f"release/{name}: wrote the tarball the interrupted bundle had not published")
            elif begin.get("tar") and not (rdir / f"{name}.tar.gz.sha256").exists():
                _write_tar_sidecar(rdir, name)
                done.append(f"release/{name}: wrote the tarball's checksum")
        Journal(jp).close(remove=True)
    return done


def _write_tar_sidecar(rdir: Path, name: str) -> None:
    from .fsutil import atomic_write_text
    from .release import verify

    tar = rdir / f"{name}.tar.gz"
    if not verify(tar).ok:
        raise SfngError(f"{tar} does not verify; its checksum is not written (remove it and run "
                        f"`sfng release tar {name}`)")
    atomic_write_text(rdir / f"{name}.tar.gz.sha256", f"{sha256_file(tar)}  {name}.tar.gz\n", read_only=True)


# -- manifests ---------------------------------------------------------------------------------

def _index_rows(store) -> dict:
    """``{path: (size, mtime, sha256)}`` of the store index ({} without a readable one)."""
    if not store.index_path.is_file():
        return {}
    from .index.io import read_index

    try:
        files, _, _ = read_index(store.index_path, columns=["path", "size", "mtime", "sha256"],
                                 galaxies=False)
    except SfngError:
        return {}
    out = {}
    for p, s, m, h in zip(files["path"].tolist(), files["size"].tolist(), files["mtime"].tolist(),
                          files["sha256"].tolist()):
        key = p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else str(p)
        sha = h.decode("ascii", "replace") if isinstance(h, bytes) else str(h)
        out[key.strip()] = (int(s), float(m), sha.strip())
    return out


def _landed_time(entry) -> float | None:
    if not entry.landed:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(entry.landed.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _unlisted_ok(name: str) -> bool:
    """Files a landing folder holds without listing them."""
    return (name == mf.MANIFEST_NAME or name.startswith(".") or name.endswith("_README.txt")
            or name.endswith(".validation.json"))


def _survey_folders(store):
    root = Path(store.root)
    for tree in MANIFEST_TREES:
        base = root / tree
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for n in names:
            p = base / n
            if n.startswith(".") or n == "bygalaxy" or p.is_symlink() or not p.is_dir():
                continue
            yield p


def _check_manifests(store, rep: FsckReport, evidence: dict, index_rows: dict, deep: bool,
                     repair: bool) -> None:
    root = Path(store.root)
    for folder in _survey_folders(store):
        mpath = folder / mf.MANIFEST_NAME
        try:
            text = mpath.read_text(encoding="utf-8", errors="surrogateescape")
            entries, problems = mf.parse(text)
            rep.counts["manifests"] += 1
        except FileNotFoundError:
            entries, problems = {}, []
        except OSError as exc:
            rep.add("manifest", _rel(root, mpath), f"cannot read: {exc.strerror or exc}")
            continue
        for p in problems:
            rep.add("manifest", _rel(root, mpath), p)
        changed: dict = {}
        for name, e in sorted(entries.items()):
            path = folder / name
            rel = _rel(root, path)
            rep.counts["files"] += 1
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                rep.add("manifest", rel, "listed in the manifest but missing",
                        hint="restore it from a release or backup, or remove its manifest entry by hand")
                continue
            if not stat.S_ISREG(st.st_mode):
                rep.add("manifest", rel, "listed in the manifest but not a regular file")
                continue
            problem = None
            if e.size is not None and st.st_size != e.size:
                problem = f"size {st.st_size} differs from the manifest's {e.size}"
            elif deep or _needs_hash(e, st, index_rows.get(rel)):
                rep.counts["hashed"] += 1
                if sha256_file(path) != e.sha256:
                    problem = "SHA-256 differs from the manifest's"
            if problem:
                f = rep.add("manifest", rel, problem)
                if repair:
                    fixed = _repair_entry(root, path, e, evidence)
                    if fixed:
                        changed[name] = fixed[0]
                        f.repaired = fixed[1]
                    else:
                        f.hint = ("no journal or fix backup explains the change: restore the file (a "
                                  "release or .sfng/backup/ may hold it) or re-ingest it")
            _check_read_only(rep, rel, path, st, repair)
        if changed:
            entries.update(changed)
            mf.rewrite(folder, entries)
        _check_unlisted(store, rep, folder, entries, evidence, repair)


def _needs_hash(entry, st, row) -> bool:
    """Quick mode: hash only a file touched after it landed, unless the index vouches for it."""
    landed = _landed_time(entry)
    if landed is None or st.st_mtime <= landed + MTIME_SLACK:
        return False
    if row is not None and row[0] == st.st_size and abs(row[1] - st.st_mtime) < 1e-3 and row[2] == entry.sha256:
        return False
    return True


def _check_read_only(rep, rel, path, st, repair) -> None:
    if st.st_mode & 0o222:
        f = rep.add("manifest", rel, "writable (landed files are read-only: chmod a-w)", "warning")
        if repair:
            try:
                make_read_only(path)
                f.repaired = "made read-only"
            except OSError as exc:
                f.hint = f"cannot chmod: {exc.strerror or exc}"


def _repair_entry(root: Path, path: Path, entry, evidence: dict):
    """``(new Entry, what was done)`` when a journal or a fix backup explains the file, else None."""
    from dataclasses import replace

    rel = _rel(root, path)
    cur = sha256_file(path)
    size = path.stat().st_size
    ev = evidence.get(rel)
    if ev is not None and ev.get("sha256") == cur:
        return replace(entry, sha256=cur, size=size), "manifest entry rewritten from the journal's record"
    backup = _fix_backup_of(root, path, entry.sha256)
    if backup is not None and _fixed_by_sfng(path):
        return (replace(entry, sha256=cur, size=size),
                f"manifest entry rewritten: the file is sfng fix's repair of {_rel(root, backup)}")
    return None


def _fix_backup_of(root: Path, path: Path, sha: str) -> Path | None:
    """A backup ``.sfng/backup/<stamp>/<relpath>`` of ``path`` whose bytes have SHA-256 ``sha``."""
    base = root / ".sfng" / "backup"
    rel = Path(_rel(root, path))
    try:
        stamps = sorted(os.listdir(base), reverse=True)
    except OSError:
        return None
    for s in stamps:
        cand = base / s / rel
        if cand.is_file() and not cand.is_symlink():
            try:
                if sha256_file(cand) == sha:
                    return cand
            except OSError:
                continue
    return None


def _fixed_by_sfng(path: Path) -> bool:
    from .fitsheader import read_headers

    try:
        return any("sfng fix " in b.text for b in read_headers(path))
    except Exception:  # noqa: BLE001 - not readable as FITS: no fix of ours
        return False


def _check_unlisted(store, rep, folder: Path, entries: dict, evidence: dict, repair: bool) -> None:
    root = Path(store.root)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    new = []
    for name in names:
        if name in entries or _unlisted_ok(name):
            continue
        path = folder / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        rel = _rel(root, path)
        f = rep.add("manifest", rel, "not in the folder's manifest")
        if not repair:
            continue
        ev = evidence.get(rel)
        if ev is not None and sha256_file(path) == ev["sha256"]:
            make_read_only(path)
            new.append(mf.Entry(name, ev["sha256"], st.st_size, _now(), tuple(ev.get("companions") or ()),
                                ev.get("galaxy")))
            f.repaired = "recorded in the manifest (it matches the journal's landed record)"
        else:
            f.hint = "no journal says it landed: ingest it (the rerun records it) or remove it"
    if new:
        mf.append(folder, new)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- index -------------------------------------------------------------------------------------

def _check_index(store, rep: FsckReport, deep: bool = False) -> None:
    root = Path(store.root)
    if not store.index_path.is_file():
        rep.add("index", _rel(root, store.index_path), "no index yet", "warning",
                hint="`sfng index build`")
        return
    from .index.build import check_index

    try:
        drift = check_index(store)
    except SfngError as exc:
        rep.add("index", _rel(root, store.index_path), str(exc), hint="`sfng index build`")
        return
    rep.counts["index_rows"] = drift.unchanged + len(drift.changed) + len(drift.missing)
    hint = "`sfng index build` (fsck does not rebuild the index)"
    for p in drift.missing:
        rep.add("index", p, "in the index, but the file is gone", hint=hint)
    for p in drift.changed:
        rep.add("index", p, "changed (size or time) since the index was built", hint=hint)
    for p in drift.new:
        rep.add("index", p, "not in the index", hint=hint)
    if deep:
        # The columnar companion must hold the index's values exactly (a quick check of its build
        # id, rows and size happens at every query; a mismatch there only makes queries slower).
        from .index.io import verify_companion

        for problem in verify_companion(store.index_path):
            rep.add("index", _rel(root, store.index_path), problem, hint="`sfng index build --full`")


# -- releases ----------------------------------------------------------------------------------

def _check_releases(store, rep: FsckReport, deep: bool, repair: bool) -> None:
    from .release.layout import MANIFEST, PARTIAL_SUFFIX, SENTINEL, release_dir

    root = Path(store.root)
    rdir = release_dir(store)
    try:
        names = sorted(os.listdir(rdir))
    except OSError:
        return
    store_inodes = None
    for n in names:
        p = rdir / n
        if n.startswith("."):
            if n.endswith(PARTIAL_SUFFIX) and p.is_dir():
                _partial(store, rep, p, n[1:-len(PARTIAL_SUFFIX)], repair)
            continue
        if n.endswith(".tar.gz"):
            _check_tarball(rep, root, rdir, n, deep, repair)
            continue
        if not p.is_dir() or p.is_symlink():
            continue
        rep.counts["releases"] += 1
        rel = _rel(root, p)
        if os.path.lexists(p / SENTINEL):
            rep.add("release", rel, "holds the .INCOMPLETE sentinel of an unfinished bundle")
        if deep:
            from .release import verify

            v = verify(p)
            for what in ("missing", "extra", "changed", "unsafe", "problems"):
                for x in getattr(v, what):
                    rep.add("release", f"{rel}/{x}" if what != "problems" else rel,
                            {"missing": "missing (listed in the release manifest)",
                             "extra": "not in the release manifest", "changed": "SHA-256 differs from "
                             "the release manifest", "unsafe": "unsafe entry", "problems": x}[what])
        else:
            _quick_release(rep, root, p, MANIFEST)
        if store_inodes is None:
            store_inodes = _store_inodes(root)
        _release_modes(rep, root, p, store_inodes, repair)


def _quick_release(rep, root: Path, folder: Path, manifest_name: str) -> None:
    from .release import parse_manifest

    rel = _rel(root, folder)
    try:
        text = (folder / manifest_name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        rep.add("release", rel, f"no {manifest_name}; not a release (or a damaged one)")
        return
    entries, problems = parse_manifest(text, f"{folder.name}/{manifest_name}")
    for p in problems:
        rep.add("release", rel, p)
    sizes = {}
    try:
        rec = json.loads((folder / "RELEASE.json").read_text(encoding="utf-8"))
        sizes = {f["path"]: f.get("size") for f in rec.get("files", []) if isinstance(f, dict)}
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    present = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            present.add((base / name).relative_to(folder).as_posix())
    for r in sorted(entries):
        if r not in present:
            rep.add("release", f"{rel}/{r}", "missing (listed in the release manifest)")
            continue
        want = sizes.get(r)
        if isinstance(want, int):
            try:
                if os.lstat(folder / r).st_size != want:
                    rep.add("release", f"{rel}/{r}", f"size differs from RELEASE.json's {want}")
            except OSError:
                pass
    for r in sorted(present - set(entries) - {manifest_name}):
        rep.add("release", f"{rel}/{r}", "not in the release manifest")


def _store_inodes(root: Path) -> set:
    out = set()
    for tree in ("data", "derived"):
        for dirpath, _dirs, files in os.walk(root / tree, followlinks=False):
            for n in files:
                try:
                    st = os.lstat(os.path.join(dirpath, n))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out.add((st.st_dev, st.st_ino))
    return out


def _release_modes(rep, root: Path, folder: Path, store_inodes: set, repair: bool) -> None:
    for dirpath, _dirs, files in os.walk(folder, followlinks=False):
        for n in files:
            p = Path(dirpath) / n
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o222:
                continue
            shared = (st.st_dev, st.st_ino) in store_inodes
            f = rep.add("release", _rel(root, p),
                        "shares a writable inode with the store (an edit of the store file would "
                        "change the release)" if shared else "writable (release content is read-only)",
                        "error" if shared else "warning")
            if repair:
                try:
                    make_read_only(p)
                    f.repaired = "made read-only" + (" (the store's file too: one inode)" if shared else "")
                except OSError as exc:
                    f.hint = f"cannot chmod: {exc.strerror or exc}"


def _check_tarball(rep, root: Path, rdir: Path, name: str, deep: bool, repair: bool) -> None:
    tar = rdir / name
    side = rdir / f"{name}.sha256"
    rel = _rel(root, tar)
    if not side.is_file():
        f = rep.add("release", rel, f"no {side.name} beside it")
        if repair:
            try:
                _write_tar_sidecar(rdir, name[:-len(".tar.gz")])
                f.repaired = f"verified the tarball and wrote {side.name}"
            except SfngError as exc:
                f.hint = str(exc)
        return
    if deep:
        want = side.read_text(encoding="utf-8", errors="replace").split()[:1]
        if not want or want[0].lower() != sha256_file(tar):
            rep.add("release", rel, f"SHA-256 differs from {side.name}")


def _partial(store, rep, part: Path, name: str, repair: bool) -> None:
    root = Path(store.root)
    f = rep.add("leftover", _rel(root, part), "an incomplete release (its bundle was interrupted)",
                hint=f"rerun the same `sfng release bundle {name}` to finish it, or `sfng release clean {name}`")
    if repair:
        from .release import clean

        try:
            clean(store, name)
            f.repaired = "removed (rerun the bundle to make the release)"
        except SfngError as exc:
            f.hint = str(exc)


# -- leftovers ---------------------------------------------------------------------------------

def _owner_lock(root: Path, folder: Path) -> Path | None:
    """The lock every writer of ``folder`` holds (None when several locks share it: tables/)."""
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        return None
    locks = root / ".sfng" / "locks"
    if not parts:
        return root / f".{store_index_name()}.lock"
    if parts == ("release",):
        return locks / "release.lock"
    if len(parts) == 2 and parts[0] in MANIFEST_TREES and parts[1] != "bygalaxy":
        return locks / f"ingest-{parts[1]}.lock"
    if len(parts) >= 3 and parts[0] == "data" and parts[1] == "bygalaxy":
        return locks / "links.lock"
    if len(parts) == 5 and parts[:2] == (".sfng", "backup") and parts[3] in MANIFEST_TREES:
        return locks / f"ingest-{parts[4]}.lock"
    return None


def store_index_name() -> str:
    from .store import INDEX_NAME

    return INDEX_NAME


def _check_leftovers(store, rep: FsckReport, repair: bool) -> None:
    import contextlib
    import time

    from .fsutil import STALE_AFTER, pid_alive
    from .journal import Lock

    root = Path(store.root)
    by_folder: dict = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            if name.startswith(TMP_PREFIX):
                by_folder.setdefault(Path(dirpath), []).append(name)
    me = os.getpid()
    for folder, names in sorted(by_folder.items()):
        lock_path = _owner_lock(root, folder)
        with contextlib.ExitStack() as held:
            owned = False
            if lock_path is not None and lock_path.exists():
                try:
                    held.enter_context(Lock(lock_path, "fsck"))
                    owned = True
                except SfngError:
                    owned = False
            elif lock_path is not None:
                owned = True  # no writer ever took it: nobody is writing there
            for name in sorted(names):
                p = folder / name
                rel = _rel(root, p)
                pid = temp_owner(name)
                try:
                    age = time.time() - os.lstat(p).st_mtime
                except OSError:
                    continue
                if pid is not None and pid != me and pid_alive(pid):
                    rep.add("leftover", rel, f"a temporary file of the running process {pid}; left alone",
                            "warning")
                    continue
                if pid is None and not owned and age <= STALE_AFTER:
                    rep.add("leftover", rel, "a recent temporary file (may be in use); left alone", "warning",
                            hint="rerun `sfng fsck` later")
                    continue
                f = rep.add("leftover", rel, "a temporary file left by a killed writer")
                if repair:
                    try:
                        p.unlink()
                        f.repaired = "removed"
                    except FileNotFoundError:
                        f.repaired = "gone meanwhile"
                    except OSError as exc:
                        f.hint = f"cannot remove: {exc.strerror or exc}"
