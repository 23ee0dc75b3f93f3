"""``sfng index build``: crawl ``data/`` and ``derived/`` into ``SFNG-INDEX.fits``.

One pass, in path order, rows streamed to the writer:

* **walk** the trees (``os.scandir``; temporary files, hidden files, READMEs, manifests and
  symbolic links such as ``data/bygalaxy/`` are skipped), pairing noise companions per folder;
* **reuse** the previous index's rows of every file whose size and mtime are unchanged (and
  whose survey README has not changed since that build) -- copied byte for byte;
* **describe** the other files (:mod:`sfng.index.describe`) in chunks, serially, on a local
  process pool (``jobs``), or on a Dask cluster (``scheduler``), keeping at most a small window
  of chunks in flight so memory stays bounded;
* **write** to a temporary file beside the index, fsync, and rename over it: a reader sees the
  old index or the new one, never a partial one; a kill -9 leaves the previous index intact.

A lock (``fcntl.flock`` on ``.<index name>.lock``, released by the kernel if the process dies)
stops two builds of the same index at once.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import formats
from ..errors import SfngError
from ..fitsname import is_fits_name
from ..fsutil import TMP_PREFIX, fsync_dir
from .describe import pair_companions
from .schema import FLAG_UNREADABLE, FLAGS

#: Files per work unit sent to a worker.
CHUNK = 64
#: Work units in flight per worker (bounds memory and keeps workers busy).
WINDOW_PER_WORKER = 4
_SKIP_NAMES = ("MANIFEST.sha256",)


# -- report -------------------------------------------------------------------------------

@dataclass
class BuildReport:
    """What a build did.  ``problems`` lists ``(path, message)`` for every flagged row."""

    out: str = ""
    rows: int = 0
    files: int = 0
    described: int = 0
    reused: int = 0
    removed: int = 0
    skipped: int = 0
    galaxies: int = 0
    flagged: int = 0
    seconds: float = 0.0
    full: bool = False
    workers: str = "serial"
    problems: list = field(default_factory=list)
    by_product: dict = field(default_factory=dict)
    dry_run: bool = False
    unchanged: bool = False   # the index was already up to date and was left untouched
    galaxy_src: dict = field(default_factory=dict)   # rows per galaxy_src ('' = unknown)
    notes: list = field(default_factory=list)        # name tables unread, NED trouble
    fill: object = None       # sfng.distances.FillReport of build_index(fill_galaxies=...)

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["problems"] = [{"path": p, "problem": m} for p, m in self.problems]
        d["files_per_s"] = round(self.files_per_s, 1) if self.seconds > 0 else None
        return d

    def lines(self) -> list[str]:
        head = (f"{self.out}: {self.rows} rows from {self.files} files ({self.described} described, "
                f"{self.reused} unchanged reused, {self.removed} gone), {self.galaxies} galaxies, "
                f"{self.flagged} flagged; {self.seconds:.2f} s ({self.workers})")
        if self.unchanged:
            head = (f"{self.out}: up to date ({self.rows} rows from {self.files} files, all unchanged; "
                    f"{self.flagged} flagged); {self.seconds:.2f} s")
        if self.dry_run:
            head = (f"would write {self.out}: {self.files} files ({self.described} to describe, "
                    f"{self.reused} unchanged, {self.removed} gone)")
        fill = [f"galaxies fill: {self.fill.summary()}"] if self.fill is not None else []
        how = ""
        if self.galaxy_src and not self.dry_run:
            how = "  galaxy from: " + ", ".join(f"{n} {k or 'unknown'}" for k, n in
                                               sorted(self.galaxy_src.items(), key=lambda kv: -kv[1]))
        return (fill + [head] + ([how] if how else []) + [f"  note: {n}" for n in self.notes]
                + [f"  flagged: {p}: {m}" for p, m in self.problems])


# -- the walk ----------------------------------------------------------------------------

@dataclass
class Item:
    """One file to index (plain data: crosses process boundaries)."""

    relpath: str
    tree: str
    survey: str
    role: str
    other: str
    sha256: str
    size: int
    mtime: float
    readme: str  # store-relative README path governing it ('' none)
    galaxy: str = ""  # the galaxy its folder's manifest records ('' none)
    version: str = ""  # data version: the folder <SURVEY>@<VERSION> ('' unversioned)


def _is_candidate(name: str) -> bool:
    """A file the crawl indexes: a FITS name (:mod:`sfng.fitsname`: ``.fits``, ``.fit``,
    ``.fts``, each also ``.gz`` or ``.fz``, and ``.fz``), or a name a registered format claims;
    never hidden or temporary files, READMEs or manifests."""
    if name.startswith(".") or name.startswith(TMP_PREFIX) or name in _SKIP_NAMES \
            or name.endswith("_README.txt"):
        return False
    if is_fits_name(name):
        return True
    return _plugin_claims(name)


def _plugin_claims(name: str) -> bool:
    """A file no FITS name covers is indexed when a registered format may own it (HDF5...)."""
    return formats.claim_name(name, indexed=True) is not None


def walk(root: Path, trees=("data", "derived"), only: set | None = None):
    """Yield :class:`Item` for every indexable file under ``trees``, in path order.

    ``only``: store-relative paths to keep (others are not yielded).
    """
    from ..manifest import read_manifest

    root = Path(root)
    for tree in trees:
        base = root / tree
        if not base.is_dir():
            continue
        yield from _walk_dir(root, base, tree, "", only, read_manifest, pair_companions)


def _walk_dir(root, folder, tree, survey, only, read_manifest, pair_companions):
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    files, dirs = [], []
    for e in entries:
        if e.name.startswith(".") or e.name.startswith(TMP_PREFIX):
            continue
        try:
            if e.is_symlink():
                continue
            if e.is_dir():
                if not (survey == "" and e.name == "bygalaxy"):
                    dirs.append(e)
            elif e.is_file() and _is_candidate(e.name):
                files.append(e)
        except OSError:
            continue
    rel_folder = folder.relative_to(root).as_posix()
    if files:
        roles = pair_companions([e.name for e in files])
        manifest = read_manifest(folder)
        readme = ""
        name, version = survey, ""
        if survey:
            cand = root / tree / survey / f"{survey}_README.txt"
            readme = cand.relative_to(root).as_posix() if cand.is_file() else ""
            name, version = _split_folder(survey)
        for e in files:
            rel = f"{rel_folder}/{e.name}"
            if only is not None and rel not in only:
                continue
            try:
                st = e.stat()
            except OSError:
                continue
            role, other = roles.get(e.name, ("product", ""))
            entry = manifest.get(e.name)
            yield Item(rel, tree, name, role, f"{rel_folder}/{other}" if other else "",
                       entry.sha256 if entry else "", st.st_size, st.st_mtime, readme,
                       (entry.galaxy or "") if entry else "", version)
    for d in dirs:
        yield from _walk_dir(root, Path(d.path), tree, survey or d.name, only, read_manifest,
                             pair_companions)


def _split_folder(folder: str) -> tuple[str, str]:
    """``(survey, version)`` of a survey folder (``THINGS@v2``); a folder whose ``@`` is not a
    legal version separator keeps its whole name as the survey."""
    from ..naming import split_survey_folder

    try:
        return split_survey_folder(folder)
    except SfngError:
        return folder, ""


def current_versions(store, root: Path | None = None) -> dict:
    """``{survey: current version}`` over the indexed trees (docs/versions.md): the version
    ``sfng.yaml`` names (``versions: {SURVEY: V}``), else the highest by natural sort, the
    unversioned folder (``''``) lowest."""
    from ..naming import current_version
    from ..store import INDEXED_TREES

    root = Path(root if root is not None else store.root)
    found: dict = {}
    for tree in INDEXED_TREES:
        base = root / tree
        try:
            names = [e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for name in names:
            if name.startswith(".") or name.startswith(TMP_PREFIX) or name == "bygalaxy":
                continue
            survey, version = _split_folder(name)
            found.setdefault(survey, set()).add(version)
    chosen = store.chosen_versions() if store is not None and hasattr(store, "chosen_versions") else {}
    return {s: current_version(vs, chosen.get(s)) for s, vs in found.items()}


def mark_current(records, current: dict):
    """``(records, changed)``: ``records`` with ``current`` set from ``current``
    (:func:`current_versions`); a private copy when a value changed."""
    if records is None or not len(records) or "current" not in (records.dtype.names or ()):
        return records, False

    def text(b):
        return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else str(b)

    want = np.array([current.get(text(s), text(v)) == text(v)
                     for s, v in zip(records["survey"].tolist(), records["version"].tolist())])
    col = records["current"]
    have = (np.asarray(col) == ord("T")) if col.dtype.kind != "b" else np.asarray(col)
    if np.array_equal(have, want):
        return records, False
    records = np.array(records)   # the source may be the memory-mapped old index
    records["current"] = np.where(want, ord("T"), ord("F")) if col.dtype.kind != "b" else want
    return records, True


# -- workers ------------------------------------------------------------------------------

@dataclass
class Shared:
    """What every worker needs once: the store, the vocabulary and the galaxy names
    (:class:`sfng.identity.Names`)."""

    root: str
    tracers_extra: dict
    names: object
    measure_depth: bool = False
    validate: bool = True
    store: object = None


_WORKER: dict = {}


def _worker_state(shared: Shared):
    key = id(shared)
    st = _WORKER.get("state")
    if st is None or st[0] != key:
        from ..header import ReadmeCache
        from ..tracers import vocabulary

        st = (key, shared, vocabulary(shared.tracers_extra), ReadmeCache())
        _WORKER["state"] = st
    return st


def _init_pool(shared):
    _WORKER["shared"] = shared


def describe_chunk(items, shared: Shared | None = None):
    """Describe a chunk of :class:`Item`; returns ``(disk records, [(path, problem)])``."""
    from .describe import Context, describe_file
    from .io import encode_rows
    from .schema import FLAG_TRUNCATED

    shared = shared or _WORKER["shared"]
    _, shared, vocab, readmes = _worker_state(shared)
    rows, readme_paths = [], {}
    for it in items:
        meta, err = {}, ""
        if it.readme:
            where = readme_paths.get(it.readme)
            if where is None:  # one Path per survey README, not one per file
                where = readme_paths[it.readme] = Path(shared.root) / it.readme
            try:
                meta = readmes.get(where).metadata
            except SfngError as exc:
                err = str(exc)
        ctx = Context(root=shared.root, relpath=it.relpath, tree=it.tree, survey=it.survey,
                      readme_meta=meta, readme_error=err, role=it.role, other=it.other,
                      sha256=it.sha256, measure_depth=shared.measure_depth,
                      validate=shared.validate, tracers=vocab, names=shared.names,
                      manifest_galaxy=it.galaxy, store=shared.store)
        got = describe_file(ctx, _Stat(it.size, it.mtime))
        for r in got:
            r["version"] = it.version
        rows.extend(got)
    records, cut = encode_rows(rows)
    if cut:
        records["flag"][cut] |= FLAG_TRUNCATED
    problems = [(r["path"] + (r.get("locator") or ""), r["error"] or FLAGS.get(r["flag"], "flagged"))
                for r in rows if r.get("flag")]
    for i in cut:
        why = _cut_reason(rows[i]["path"])
        if why and not records["error"][i]:
            records["error"][i] = why.encode("ascii")
        problems.append((rows[i]["path"], why or FLAGS[FLAG_TRUNCATED]))
    return records, problems


def _cut_reason(path: str) -> str:
    """Why a row was cut when its path is too long for the index (else '')."""
    from .io import encode_text
    from .schema import column

    width, size = column("path").width, len(encode_text(path))
    if size <= width:
        return ""
    return (f"path of {size} bytes cut to the {width} the index holds: rename the file "
            f"(sfng ingest refuses such paths)")


@dataclass
class _Stat:
    st_size: int
    st_mtime: float


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class _Serial:
    name = "serial"
    workers = 1

    def __init__(self, shared):
        self.shared = shared

    def submit(self, items):
        return _Done(describe_chunk(items, self.shared))

    def close(self):
        pass


class _Pool:
    def __init__(self, shared, jobs):
        import multiprocessing as mp

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self.pool = mp.get_context(method).Pool(jobs, initializer=_init_pool, initargs=(shared,))
        self.workers = jobs
        self.name = f"{jobs} local processes"

    def submit(self, items):
        res = self.pool.apply_async(describe_chunk, (items,))
        res.result = res.get
        return res

    def close(self):
        self.pool.close()
        self.pool.join()


class _Dask:
    def __init__(self, shared, scheduler, jobs):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise SfngError("--scheduler needs Dask: pip install 'sfng[dask]' "
                            "(dask[distributed])") from exc
        self.cluster = None
        if scheduler == "local":
            self.cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=30)
            except OSError as exc:
                raise SfngError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.shared = self.client.scatter(shared, broadcast=True)
        self.name = f"dask {scheduler} ({self.workers} workers)"

    def submit(self, items):
        return self.client.submit(describe_chunk, items, self.shared, pure=False)

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# -- the lock -----------------------------------------------------------------------------

class BuildLock:
    """An exclusive, non-blocking lock for building ``out``: ``.SFNG-INDEX.fits.lock`` in the
    store root for the store's index, ``.sfng/locks/index-<digest>.lock`` for any other output
    (so that no lock file lands in a release folder)."""

    def __init__(self, out: Path, store=None):
        import hashlib

        out = Path(out).absolute()
        if store is None or out == Path(store.index_path).absolute():
            self.path = out.parent / f".{out.name}.lock"
        else:
            digest = hashlib.sha1(str(out).encode("utf-8", "surrogateescape")).hexdigest()[:16]
            self.path = Path(store.root) / ".sfng" / "locks" / f"index-{digest}.lock"
        self.fd = None

    def __enter__(self):
        # The store's one lock (sfng.journal.Lock), non-blocking: a second build fails at once.
        from ..journal import Lock

        lock = Lock(self.path, "the index build")
        try:
            lock.__enter__()
        except SfngError as exc:
            if "is locked by" not in str(exc):
                raise
            import re

            holder = re.search(r"pid \d+", str(exc))
            raise SfngError(f"another index build is running ({holder[0] if holder else 'another process'}, lock "
                            f"{self.path}); wait for it to finish") from None
        self.fd = lock
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            self.fd.__exit__(*exc)
            self.fd = None


# -- previous rows ------------------------------------------------------------------------

class Previous:
    """The rows of the previous index, looked up by path (memory-mapped, not loaded)."""

    def __init__(self, path: Path | None, validate: bool = False, measure_depth: bool = False):
        from .io import open_records

        self.records = open_records(path) if path is not None and path.is_file() else None
        self.built = 0.0
        self.where: dict = {}
        if self.records is None:
            return
        self.built = _built_time(path)
        rec = self.records
        paths, sizes, mtimes = rec["path"].tolist(), rec["size"].tolist(), rec["mtime"].tolist()
        # Rows the previous build left short of what this one asks for are described again:
        # not validated (n_problems = -1) when validating, no depth when measuring depths.
        stale = np.zeros(len(rec), bool)
        if validate:
            stale |= (rec["n_problems"] < 0) & ((rec["flag"] & FLAG_UNREADABLE) == 0)
        if measure_depth:
            stale |= np.isnan(rec["rms_k"]) & (rec["product"] == b"cube") & (rec["role"] == b"product")
        stale = stale.tolist()
        for i, p in enumerate(paths):
            key = p.decode("utf-8", "surrogateescape")
            got = self.where.get(key)
            if got is None:
                self.where[key] = [i, 1, sizes[i], mtimes[i], stale[i]]
            else:
                got[1] += 1
                got[4] = got[4] or stale[i]

    def match(self, it: Item):
        """(start, count) of ``it``'s previous rows if they are still valid, else None."""
        got = self.where.get(it.relpath)
        if got is None or got[2] != it.size or got[3] != it.mtime or got[4]:
            return None
        return got[0], got[1]


def _built_time(path) -> float:
    from datetime import datetime

    from .io import _read_header

    try:
        with open(path, "rb") as f:
            cards, _ = _read_header(f, 0)
        return datetime.fromisoformat(cards.get("BUILT", "").replace("Z", "+00:00")).timestamp()
    except (OSError, ValueError):
        return 0.0


# -- build --------------------------------------------------------------------------------

def build_index(store, out=None, paths=None, full: bool = False, jobs: int = 1,
                measure_depth: bool = False, progress=None, scheduler: str | None = None,
                validate: bool = True, dry_run: bool = False, fill_galaxies=False,
                resolve_names: bool = False, resolver=None) -> BuildReport:
    """Build the index of ``store``'s ``data/`` and ``derived/`` trees.

    Parameters
    ----------
    store : sfng.store.Store
    out : path-like, optional
        Where to write (default ``store.index_path``).
    paths : iterable of str, optional
        Store-relative paths: index only these (release bundles).
    full : bool
        Describe every file again instead of reusing unchanged rows.
    jobs : int
        Local worker processes (0 = all cores).
    measure_depth : bool
        Read data to measure the noise where REPUNC is not given.
    progress : callable, optional
        ``progress(done, total)`` after each chunk.
    scheduler : str, optional
        ``"local"`` for a Dask LocalCluster of ``jobs`` workers, or ``tcp://HOST:PORT``.
    validate : bool
        Run header validation for the ``valid``/``n_problems`` columns.
    dry_run : bool
        Count what would be described, reused and dropped; write nothing.
    fill_galaxies : bool or dict
        First give the galaxies distances (:func:`sfng.distances.fill_galaxies`; a dict holds its
        options, e.g. ``{"online": True, "h0": 73}``); its report is ``.fill``.
    resolve_names : bool
        Ask NED (through ``resolver``, default ``Resolver(store)``, and its cache) for the galaxy
        of rows the store's names leave unknown: their names by name, then their centre by
        position (``galaxy_src`` ``position``).  Default: offline, the store's names only
        (:mod:`sfng.identity`).
    """
    from datetime import datetime, timezone

    import sfng

    from ..galaxies import read_galaxies
    from ..identity import Names, Online
    from .io import IndexWriter

    t0 = time.perf_counter()
    # Sub-second build time: a README edited after it re-describes its survey next time.
    started = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    root = Path(store.root)
    out = Path(out) if out is not None else store.index_path
    jobs = (os.cpu_count() or 1) if not jobs or jobs < 1 else jobs
    only = set(paths) if paths is not None else None
    rep = BuildReport(out=str(out), full=full, dry_run=dry_run)
    fill_options = (fill_galaxies if isinstance(fill_galaxies, dict) else {}) if fill_galaxies else None
    if fill_options is not None and dry_run:
        from ..distances import fill_galaxies as fill

        rep.fill = fill(store, dry_run=True, **fill_options)

    galaxies = read_galaxies(store)
    # The store's names (NED cache, overrides, galaxy table) read once: every row's galaxy
    # (sfng.identity) is a dictionary look-up per distinct name.
    names = Names.of_store(store, galaxies)
    rep.notes.extend(names.problems)
    online = None
    if resolve_names and not dry_run:
        from ..ned import Resolver

        online = Online(names, resolver if resolver is not None else Resolver(store))

    with BuildLock(out, store), _batch(online):
        _clean_stale(out)
        prev_path = store.index_path if store.index_path.is_file() else out
        previous = Previous(None if full else prev_path, validate=validate, measure_depth=measure_depth)
        readme_mtimes: dict = {}
        total = None
        if progress is not None:
            total = sum(1 for _ in walk(root, only=only))
            progress(0, total)
        shared = Shared(str(root), dict(store.config.get("tracers") or {}), names,
                        measure_depth, validate, store)
        renamed = previous.records is not None and _names_changed(store, previous.built)
        if dry_run:
            seen = known = 0
            for it in walk(root, only=only):
                seen += 1
                known += it.relpath in previous.where
                if _reusable(previous, it, root, readme_mtimes):
                    rep.reused += 1
                else:
                    rep.described += 1
            rep.files = seen
            rep.removed = len(previous.where) - known if only is None else 0
            rep.seconds = time.perf_counter() - t0
            return rep

        executor = _LazyExecutor(shared, jobs, scheduler)
        current = current_versions(store, root)   # {survey: its current data version}
        tmp = out.parent / f"{TMP_PREFIX}index-{out.name}-{os.getpid()}"
        meta = {"store": store.name, "sfng_version": sfng.__version__, "built": started}
        galaxy_counts: Counter = Counter()
        products: Counter = Counter()
        galaxy_src: Counter = Counter()
        pending: deque = deque()
        done = 0
        # While every row so far is the previous index's row at the same place, nothing is
        # written: an index that is already up to date is left untouched (no rewrite, no fsync).
        # After a change of the name tables the index is rewritten even if no row changed: its
        # BUILT time then says which tables its galaxies reflect (see _names_changed).
        state = {"writer": None, "same": 0,
                 "can_keep": previous.records is not None and prev_path == out and not renamed}

        def writer():
            if state["writer"] is None:
                try:
                    state["writer"] = w = IndexWriter(tmp, meta, name=out.name)
                except OSError as exc:
                    raise SfngError(f"{out}: cannot write the index there: "
                                    f"{exc.strerror or exc}") from exc
                if state["same"]:
                    w.add_records(previous.records[: state["same"]])
            return state["writer"]

        if not state["can_keep"]:
            writer()

        def emit(kind, payload, n_files):
            nonlocal done
            if kind == "new":
                records, problems = payload.result()
                rep.problems.extend(problems)
                records, _ = mark_current(records, current)
                if online is not None:
                    records, _ = _resolve_online(records, online, root)
                writer().add_records(records)
            else:
                records, start, changed = payload
                records, moved = mark_current(records, current)
                changed = changed or moved
                if online is not None:
                    records, asked = _resolve_online(records, online, root)
                    changed = changed or asked
                for i in np.flatnonzero(records["flag"]):   # keep reporting known problems
                    rep.problems.append((records["path"][i].decode("utf-8", "replace"),
                                         records["error"][i].decode("utf-8", "replace")
                                         or FLAGS.get(int(records["flag"][i]), "flagged")))
                if state["writer"] is None and not changed and start == state["same"]:
                    state["same"] += len(records)
                else:
                    writer().add_records(records)
            _count(records, galaxy_counts, products, galaxy_src)
            done += n_files
            if progress is not None:
                progress(done, total)

        try:
            chunk: list = []
            reuse_start = reuse_count = reuse_files = 0

            def flush_reuse():
                nonlocal reuse_count, reuse_files
                if reuse_count:
                    recs, changed = _refresh(previous.records[reuse_start:reuse_start + reuse_count],
                                             reuse_items, names, renamed, root)
                    pending.append(("old", (recs, reuse_start, changed), reuse_files))
                    reuse_items.clear()
                reuse_count = reuse_files = 0

            reuse_items: list = []
            known = 0
            for it in walk(root, only=only):
                rep.files += 1
                known += it.relpath in previous.where
                got = None if full else _reusable(previous, it, root, readme_mtimes)
                if got is not None:
                    if chunk:
                        pending.append(("new", executor.submit(chunk), len(chunk)))
                        chunk = []
                    start, count = got
                    if reuse_count and start == reuse_start + reuse_count:
                        reuse_count += count
                    else:
                        flush_reuse()
                        reuse_start, reuse_count = start, count
                    reuse_files += 1
                    reuse_items.append(it)
                    rep.reused += 1
                else:
                    flush_reuse()
                    chunk.append(it)
                    rep.described += 1
                    if len(chunk) >= CHUNK:
                        pending.append(("new", executor.submit(chunk), len(chunk)))
                        chunk = []
                while len(pending) > WINDOW_PER_WORKER * executor.workers:
                    emit(*pending.popleft())
            flush_reuse()
            if chunk:
                pending.append(("new", executor.submit(chunk), len(chunk)))
            while pending:
                emit(*pending.popleft())
            if fill_options is not None:
                # After the crawl: the galaxies it found (by OBJECT, a format's id...) are
                # filled too, in this same build, before the GALAXIES HDU is written.
                from ..distances import fill_galaxies as fill

                rep.fill = fill(store, names=sorted(n for n in galaxy_counts if n), **fill_options)
                galaxies = read_galaxies(store)
            gal_rows = galaxy_rows(galaxies, galaxy_counts, store, names=names)
            if state["writer"] is None and state["same"] == len(previous.records) \
                    and _same_galaxies(prev_path, gal_rows):
                rep.unchanged = True
            else:
                writer().finish(gal_rows)
        except BaseException:
            if state["writer"] is not None:
                state["writer"].abort()
            raise
        finally:
            executor.close()
        rep.workers = executor.name
        if not rep.unchanged:
            from ..fsutil import fault_point

            fault_point("index: written")
            os.replace(tmp, out)
            fsync_dir(out.parent)
            fault_point("index: renamed")
            from .columns import prune

            prune(out, keep=state["writer"].build_id)   # the superseded builds' companions
        else:
            # Same bytes, but checked now: readers that compare the index's mtime with the
            # tree's (sfng find's staleness test) must see it as fresh.
            os.utime(out)

    if rep.unchanged:
        rep.rows = len(previous.records)
        rep.flagged = int(np.count_nonzero(previous.records["flag"]))
    else:
        rep.rows = state["writer"].n_files
        rep.flagged = state["writer"].n_flagged
    rep.galaxies = len(gal_rows)
    rep.removed = len(previous.where) - known if only is None else 0
    rep.by_product = dict(products)
    rep.galaxy_src = dict(galaxy_src)
    if online is not None:
        rep.notes.extend(online.notes)
    rep.seconds = time.perf_counter() - t0
    return rep


class _LazyExecutor:
    """Starts the workers (processes, Dask client) only when a file needs describing: a build
    that reuses every row forks nothing."""

    def __init__(self, shared, jobs, scheduler):
        self.args = (shared, jobs, scheduler)
        self.workers = 1 if not scheduler and jobs <= 1 else max(1, jobs)
        self._ex = None

    @property
    def name(self):
        return self._ex.name if self._ex is not None else "no worker needed"

    def submit(self, items):
        if self._ex is None:
            self._ex = _executor(*self.args)
            self.workers = self._ex.workers
        return self._ex.submit(items)

    def close(self):
        if self._ex is not None:
            self._ex.close()


def _executor(shared, jobs, scheduler):
    if scheduler:
        return _Dask(shared, scheduler, jobs)
    if jobs > 1:
        return _Pool(shared, jobs)
    return _Serial(shared)


def _reusable(previous: Previous, it: Item, root: Path, readme_mtimes: dict):
    if previous.records is None:
        return None
    got = previous.match(it)
    if got is None:
        return None
    if it.readme:
        m = readme_mtimes.get(it.readme)
        if m is None:
            try:
                m = readme_mtimes[it.readme] = os.stat(root / it.readme).st_mtime
            except OSError:
                m = readme_mtimes[it.readme] = 0.0
        if m >= previous.built:   # README edited since the previous build: metadata may differ
            return None
    return got


def _refresh(records, items, names, renamed: bool, root):
    """Reused rows with what may have changed outside the file: its manifest hash and entry,
    and the store's names (``renamed``: the NED cache, overrides or galaxy table changed since
    the previous build), which may give it another galaxy (:mod:`sfng.identity`; no file is
    read).  Returns ``(records, changed)``."""
    from .layout import widen
    from .schema import FILES_COLUMNS, column

    sha = records["sha256"]
    aligned = len(records) == len(items)   # one row per file, in the same order
    if aligned:
        # in the declared width: the stored column is only as wide as the old index needed
        want = np.array([it.sha256.encode() for it in items], dtype=f"S{column('sha256').width}")
        fix_sha = np.flatnonzero(sha != want).tolist()
        new_sha = {i: want[i] for i in fix_sha}
        item_of = items.__getitem__
    else:
        by_path = {it.relpath: it for it in items}
        paths = records["path"]
        new_sha = {}
        for i, p in enumerate(paths.tolist()):
            it = by_path.get(p.decode("utf-8", "surrogateescape"))
            w = it.sha256.encode() if it is not None else b""
            if w != sha[i]:
                new_sha[i] = w
        fix_sha = list(new_sha)

        def item_of(i):
            return by_path.get(paths[i].decode("utf-8", "surrogateescape"))
    src = records["galaxy_src"]
    if renamed:
        todo = np.flatnonzero(src != b"position").tolist()
        canon_only = np.flatnonzero(src == b"position").tolist()
    else:
        # Only the manifest can say more without the names changing: rows whose entry names a
        # galaxy and that the file name does not already name.
        todo = [] if not any(it.galaxy for it in items) else \
            [i for i in np.flatnonzero(src != b"file-name").tolist()
             if item_of(i) is not None and item_of(i).galaxy]
        canon_only = []
    fix_gal = {}
    for i in todo:
        it = item_of(i)
        got = _identify_record(records, i, names, root, it.galaxy if it is not None else "")
        if got is not None and (got[0].encode("utf-8"), got[1].encode()) != \
                (records["galaxy"][i], src[i]):
            fix_gal[i] = got
    for i in canon_only:
        name = records["galaxy"][i].decode("utf-8", "replace")
        canon = names.canonical(name) if name else name
        if canon != name:
            fix_gal[i] = (canon, "position")
    if not fix_sha and not fix_gal:
        return records, False
    # A private copy (the source is the memory-mapped old index), in the widest layout: the new
    # values may be longer than any the old index stored.
    records = widen(records, FILES_COLUMNS)
    for i, w in new_sha.items():
        records["sha256"][i] = w
    for i, (galaxy, how) in fix_gal.items():
        _set_galaxy(records, i, galaxy, how)
    return records, True


def _set_galaxy(records, i, galaxy: str, how: str) -> None:
    from .schema import FLAG_TRUNCATED, column

    width = column("galaxy").width
    # rows of an old index are stored narrow: set values only in the widest layout (widen)
    assert records["galaxy"].dtype.itemsize == width, "_set_galaxy on narrow records"
    raw = galaxy.encode("utf-8")
    if len(raw) > width:
        raw = raw[:width].decode("utf-8", "ignore").encode("utf-8")
        records["flag"][i] |= FLAG_TRUNCATED
    records["galaxy"][i] = raw
    records["galaxy_src"][i] = how.encode()


def _record_row(records, i) -> dict:
    """The text columns a format's :meth:`~sfng.formats.Format.identify` reads, of record ``i``."""
    row = {k: records[k][i].decode("utf-8", "replace") for k in ("locator", "object", "extra")}
    row["path"] = records["path"][i].decode("utf-8", "surrogateescape")
    return row


def _identify_record(records, i, names, root, manifest: str):
    """``(galaxy, galaxy_src)`` of a stored row from its own columns, or None to keep it (a row
    a format named that is not claimed by its file name: the format is not known here)."""
    from ..identity import format_ids, identify

    row = _record_row(records, i)
    name = row["path"].rsplit("/", 1)[-1]
    fmt = formats.claim_name(name, indexed=True)
    if fmt is None and records["galaxy_src"][i] == b"format-id":
        return None
    ids = format_ids(fmt, Path(root) / row["path"], row)
    return identify(names, name, manifest=manifest or None, ids=ids, obj=row["object"] or None)


def _resolve_online(records, online, root):
    """Rows the store's names left unknown (or only ``name-form``), asked from NED through
    ``online`` (:class:`sfng.identity.Online`): by name, then (unknown rows) by position.
    Returns ``(records, changed)``."""
    from ..identity import format_ids, unresolved

    src = records["galaxy_src"]
    idx = np.flatnonzero((src == b"") | (src == b"name-form")).tolist()
    found = {}
    for i in idx:
        row = _record_row(records, i)
        name = row["path"].rsplit("/", 1)[-1]
        fmt = formats.claim_name(name, indexed=True)
        ids = format_ids(fmt, Path(root) / row["path"], row)
        got = None
        for cand, how in unresolved(name, ids, row["object"] or None):
            galaxy = online.name(cand)
            if galaxy:
                got = (galaxy, how)
                break
        if got is None and src[i] == b"":
            galaxy = online.by_position(float(records["ra"][i]), float(records["dec"][i]))
            if galaxy:
                got = (galaxy, "position")
        if got is not None:
            found[i] = got
    if not found:
        return records, False
    from .layout import widen
    from .schema import FILES_COLUMNS

    records = widen(records, FILES_COLUMNS)   # a private copy, wide enough for any name
    for i, (galaxy, how) in found.items():
        _set_galaxy(records, i, galaxy, how)
    return records, True


def _names_changed(store, built: float) -> bool:
    """Whether the store's NED cache, overrides or galaxy table (or their folders: a removed
    file) changed since ``built`` (the previous build's time)."""
    from ..galaxies import table_path

    paths = []
    for key in ("ned.cache", "ned.overrides"):
        try:
            paths.append(store.table_path(key))
        except (KeyError, TypeError):
            pass
    paths.append(table_path(store))
    for p in {*paths, *(p.parent for p in paths)}:
        try:
            if os.stat(p).st_mtime >= built:
                return True
        except OSError:
            continue
    return False


def _batch(online):
    """The online resolver's batch (one cache rewrite at the end), or nothing."""
    import contextlib

    return online.resolver.batch() if online is not None and hasattr(online.resolver, "batch") \
        else contextlib.nullcontext()


def _count(records, galaxies: Counter, products: Counter, sources: Counter | None = None):
    g, n = np.unique(records["galaxy"], return_counts=True)
    for name, k in zip(g.tolist(), n.tolist()):
        if name:
            galaxies[name.decode("utf-8", "replace")] += k
    p, n = np.unique(records["product"], return_counts=True)
    for name, k in zip(p.tolist(), n.tolist()):
        products[name.decode() or "unreadable"] += k
    if sources is not None:
        s, n = np.unique(records["galaxy_src"], return_counts=True)
        for name, k in zip(s.tolist(), n.tolist()):
            sources[name.decode()] += k


def _same_galaxies(path, rows) -> bool:
    """Whether the index at ``path`` already holds exactly these GALAXIES rows."""
    from .io import galaxies_bytes, encode_rows
    from .schema import GALAXIES_COLUMNS

    return galaxies_bytes(path) == encode_rows(rows, GALAXIES_COLUMNS)[0].tobytes()


def galaxy_rows(table, counts: Counter, store=None, names=None) -> list[dict]:
    """GALAXIES rows: every galaxy of the table, plus galaxies named by files but missing from
    it (distance unknown; position from the store's NED cache when it has them, never asked
    from the network; ``names``: the cache already read, :class:`sfng.identity.Names`)."""
    rows, seen = [], set()
    for g in table:
        rows.append({"name": g.name, "aliases": ";".join(g.aliases), "ra": g.ra, "dec": g.dec,
                     "dist": g.dist, "dist_src": g.dist_src, "n_files": counts.get(g.name, 0)})
        seen.add(g.name)
    missing = sorted(set(counts) - seen)
    if names is not None:
        cached = {n: names.position(n) for n in missing if names.position(n) is not None}
    else:
        cached = _ned_positions(store, missing) if missing and store is not None else {}
    for name in missing:
        ra, dec = cached.get(name, (None, None))
        rows.append({"name": name, "ra": ra, "dec": dec, "n_files": counts[name]})
    return rows


def _ned_positions(store, names) -> dict:
    """``{name: (ra, dec)}`` from the store's NED name cache (offline look-ups only)."""
    try:
        from ..ned import Resolver

        res = Resolver(store, offline=True)
    except Exception:  # noqa: BLE001 - no usable cache: positions stay unknown
        return {}
    out = {}
    for name in names:
        try:
            hit = res.lookup(name)
            ra, dec = float(hit["ra"]), float(hit["dec"])
        except Exception:  # noqa: BLE001 - not cached, or no position recorded
            continue
        if math.isfinite(ra) and math.isfinite(dec):
            out[name] = (ra, dec)
    return out


def _clean_stale(out: Path):
    """Remove temporaries of builds that died (we hold the lock, so none is live)."""
    for p in out.parent.glob(f"{TMP_PREFIX}index-{out.name}-*"):
        try:
            p.unlink()
        except OSError:
            pass


# -- drift --------------------------------------------------------------------------------

@dataclass
class Drift:
    """Index vs tree: files new since the build, changed (size/mtime), and gone."""

    new: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unchanged: int = 0

    @property
    def clean(self) -> bool:
        return not (self.new or self.changed or self.missing)

    def as_dict(self):
        return {"new": self.new, "changed": self.changed, "missing": self.missing,
                "unchanged": self.unchanged, "clean": self.clean}


def check_index(store, index=None) -> Drift:
    """Compare the index with the tree (stat only, no file is read)."""
    from .io import read_index

    index = Path(index) if index is not None else store.index_path
    files, _, _ = read_index(index, columns=["path", "size", "mtime"], galaxies=False)
    known = {}
    for p, s, m in zip(files["path"].tolist(), files["size"].tolist(), files["mtime"].tolist()):
        key = p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p
        known[key] = (s, m)
    d = Drift()
    seen = set()
    for it in walk(Path(store.root)):
        seen.add(it.relpath)
        got = known.get(it.relpath)
        if got is None:
            d.new.append(it.relpath)
        elif got != (it.size, it.mtime):
            d.changed.append(it.relpath)
        else:
            d.unchanged += 1
    d.missing = sorted(set(known) - seen)
    return d
