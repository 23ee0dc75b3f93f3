"""Download SDSS MaNGA DR17 products from the Science Archive Server (or a mirror) into the store.

``sfng fetch manga`` does, as a library call (:func:`fetch_manga`):

1. **select** targets: ``--plateifu`` values and/or a ``--where`` expression over the columns of
   the DRPall summary catalogue (``drpall-v3_1_1.fits``, downloaded unless ``--drpall FILE``);
2. **plan** the SAS paths of the requested products (:func:`sas_paths`, the layout of
   ``sdss/tree``'s ``dr17.cfg``)::

       dr17/manga/spectro/redux/v3_1_1/<plate>/stack/manga-<plate>-<ifu>-LOGCUBE.fits.gz
       dr17/manga/spectro/analysis/v3_1_1/3.1.0/HYB10-MILESHC-MASTARSSP/<plate>/<ifu>/
           manga-<plate>-<ifu>-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz
       dr17/env/MANGA_MORPHOLOGY/galaxyzoo3d/v4_0_0/gz3d_<MANGAID>_<IFUSIZE>_<SUBJECT>.fits.gz

3. **download** them in parallel into a cache that mirrors the SAS tree: a partial file
   (``<name>.part``) is resumed with an HTTP ``Range`` request, a dropped connection is retried
   from where it stopped, and a finished file is verified (its size; the checksum the server
   publishes beside it, if any: ``*.sha1sum``/``*.sha256sum``/``*.md5sum`` lists found in the
   folder's listing; the gzip CRC of every ``.gz``).  A file failing verification is fetched
   once more from scratch, then reported;
4. **land** the verified files through :mod:`sfng.ingest` (cubes in ``data/MANGA/``, maps in
   ``derived/MANGA-DAP/``, GZ3D in ``derived/GZ3D/``, named by NED position or the MaNGA-ID
   fallback, see :mod:`sfng.surveys.manga`); the DRPall catalogue goes to ``tables/MANGA/``
   (read-only, recorded in that folder's manifest).

A rerun after a kill at any point finishes the job: downloads resume from the cache (a verified
file is reused, a ``.part`` is resumed), the staging folders of a killed run are removed, an
interrupted ingest is finished by its journal, and a catalogue copy that missed its manifest is
recorded.  The download cache is the user's, outside the store: what it keeps on purpose is the
verified downloads and the ``.part`` of a download that failed (resumed by the next run).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import SfngError
from .facts import DR17_DAPTYPE, LANDING, VERSIONS, declared
from .recognise import ifu_size

#: The SAS layout (sdss/tree's dr17.cfg), declared in data/manga.yaml as path templates.
SAS = declared()["sas"]
SAS_URL = SAS["url"]
RELEASE = VERSIONS["release"]
DRPALL_PATH = SAS["drpall"].format(**VERSIONS)
GZ3D_DIR = SAS["gz3d_dir"].format(**VERSIONS)
GZ3D_METADATA = SAS["gz3d_metadata"].format(**VERSIONS)
PRODUCTS = ("cubes", "maps", "gz3d")
#: product -> manga.recognise kind (for landing)
KIND = {"cubes": "cube", "maps": "maps", "gz3d": "gz3d"}
CHUNK = 1 << 20
_PLATEIFU = re.compile(r"^\d{4,5}-\d{3,6}$")
_CHECKSUM_FILE = re.compile(r"(?i)(\.(sha1|sha256|md5)sum|^(sha1|sha256|md5)sums?(\.txt)?)$")
_HREF = re.compile(r'href="([^"?#/][^"?#]*)"', re.I)
_ALGO_BY_LEN = {32: "md5", 40: "sha1", 64: "sha256"}


def sas_paths(plateifu: str, *, mangaid: str | None = None, ifusize: int | None = None,
              subject: int | None = None, gz3d_file: str | None = None,
              daptype: str = DR17_DAPTYPE) -> dict:
    """SAS-relative paths of one target's products: ``{"cubes": ..., "maps": ..., "gz3d": ...}``.

    ``gz3d`` is present when ``gz3d_file`` (a ``file_name`` of ``gz3d_metadata.fits``) or
    ``mangaid`` + ``ifusize`` + ``subject`` are known.
    """
    if not _PLATEIFU.match(str(plateifu)):
        raise SfngError(f"invalid plate-IFU {plateifu!r} (expected like 8485-1901)")
    plate, ifu = plateifu.split("-")
    at = dict(VERSIONS, daptype=daptype, plate=plate, ifu=ifu, plateifu=plateifu)
    out = {"cubes": SAS["cubes"].format(**at), "maps": SAS["maps"].format(**at)}
    if gz3d_file:
        name = gz3d_file if gz3d_file.endswith(".gz") else gz3d_file + ".gz"
        out["gz3d"] = f"{GZ3D_DIR}/{name if name.startswith('gz3d_') else 'gz3d_' + name}"
    elif mangaid and ifusize and subject:
        out["gz3d"] = SAS["gz3d"].format(**at, mangaid=mangaid, ifusize=int(ifusize), subject=int(subject))
    return out


# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------

@dataclass
class Target:
    plateifu: str
    mangaid: str = ""
    ifusize: int | None = None
    z: float = float("nan")


def read_catalogue(path):
    """The DRPall table (HDU ``MANGA``, else the first table) with lower-case column names."""
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise SfngError(f"{path}: no such DRPall catalogue")
    try:
        from astropy.io import fits

        with fits.open(path) as hdul:
            hdu = "MANGA" if "MANGA" in hdul else 1
        t = Table.read(path, hdu=hdu)
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zlib.error) as exc:
        # a damaged file (a gzip header before junk raises zlib.error) is a message, not a traceback
        raise SfngError(f"{path}: cannot read the DRPall catalogue ({exc})") from exc
    for c in list(t.colnames):
        if c != c.lower():
            t.rename_column(c, c.lower())
    if "plateifu" not in t.colnames:
        raise SfngError(f"{path}: not a DRPall catalogue (no plateifu column)")
    return t


def select_targets(catalogue=None, *, where: str | None = None, plateifus=()) -> list[Target]:
    """Targets from ``plateifus`` and/or the DRPall rows matching ``where`` (both: rows in both).

    ``where`` uses sfng's selection grammar (:func:`sfng.select.parse_where`) over the
    catalogue's columns, e.g. ``"nsa_z < 0.03 and ifudsgn >= 12700"``.
    """
    import numpy as np

    plateifus = [str(p).strip() for p in plateifus or () if str(p).strip()]
    for p in plateifus:
        if not _PLATEIFU.match(p):
            raise SfngError(f"invalid --plateifu {p!r} (expected PLATE-IFU like 8485-1901)")
    if catalogue is None:
        if where:
            raise SfngError("--where needs the DRPall catalogue (downloaded, or --drpall FILE)")
        return [Target(p, ifusize=ifu_size(p.split("-")[1])) for p in dict.fromkeys(plateifus)]
    t = catalogue
    mask = np.ones(len(t), dtype=bool)
    if where:
        from ...select import parse_where

        expr = parse_where(where, label="--where")
        expr.check({c: _unit(t[c]) for c in t.colnames})
        mask &= np.asarray(expr.evaluate(lambda name: (np.asarray(t[name]), _unit(t[name]))), dtype=bool)
    ids = np.char.strip(np.asarray(t["plateifu"]).astype("U"))
    if plateifus:
        mask &= np.isin(ids, plateifus)
        missing = sorted(set(plateifus) - set(ids))
        if missing:
            raise SfngError(f"plate-IFU not in the DRPall catalogue: {', '.join(missing)}")
    out = []
    for i in np.flatnonzero(mask):
        row = t[i]
        mangaid = str(row["mangaid"]).strip() if "mangaid" in t.colnames else ""
        z = float(row["nsa_z"]) if "nsa_z" in t.colnames else float("nan")
        ifu = ifu_size(row["ifudsgn"]) if "ifudsgn" in t.colnames else ifu_size(ids[i].split("-")[1])
        out.append(Target(ids[i], mangaid, ifu, z))
    return out


def _unit(col):
    u = getattr(col, "unit", None)
    return str(u) if u is not None else None


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

class FetchError(SfngError):
    """A file could not be downloaded or verified."""


def _open(url: str, *, start: int = 0, timeout: float = 60.0):
    import urllib.request

    from ... import __version__

    req = urllib.request.Request(url, headers={"User-Agent": f"sfng/{__version__}"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs we build


def _get_small(url: str, timeout: float) -> bytes | None:
    import urllib.error

    try:
        with _open(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def parse_checksums(text: str) -> dict:
    """``{file name: (algorithm, hex)}`` from ``sha1sum``-style lines (``HEX  NAME`` / ``HEX *NAME``)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([0-9a-fA-F]{32,64})\s+\*?(.+)$", line)
        if not m or len(m[1]) not in _ALGO_BY_LEN:
            continue
        out[os.path.basename(m[2].strip())] = (_ALGO_BY_LEN[len(m[1])], m[1].lower())
    return out


@dataclass
class FileResult:
    """What happened to one file: ``status`` is downloaded, resumed, cached or failed."""

    rel: str
    product: str
    status: str = ""
    path: str = ""
    size: int = 0
    verified: list = field(default_factory=list)
    attempts: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("downloaded", "resumed", "cached")

    def as_dict(self):
        return {k: getattr(self, k) for k in ("rel", "product", "status", "path", "size", "verified",
                                              "attempts", "message")}


class Downloader:
    """Parallel, resumable, verifying downloads from ``base_url`` into ``cache_dir`` (SAS layout).

    Parameters
    ----------
    base_url : str
        Root of the SAS tree (``https://data.sdss.org/sas/`` or a mirror's equivalent).
    cache_dir : path
        Local mirror; files keep their SAS-relative paths.
    retries : int
        Extra attempts after a dropped connection (each resumes where the last stopped).
    backoff : float
        Seconds before the first retry, doubled each time.
    """

    def __init__(self, base_url: str, cache_dir, *, timeout: float = 60.0, retries: int = 4,
                 backoff: float = 1.0, sleep=time.sleep):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        if not re.match(r"^(https?|file)://", self.base_url):
            raise SfngError(f"--base-url {base_url!r}: expected an http(s):// or file:// URL")
        self.cache_dir = Path(cache_dir)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._sums: dict = {}
        self._lock = threading.Lock()

    def url(self, rel: str) -> str:
        return self.base_url + rel

    # -- checksums published by the server -------------------------------------------------------
    def checksums(self, rel_dir: str) -> dict:
        """Checksums the server publishes in ``rel_dir`` (from the folder listing), cached."""
        with self._lock:
            if rel_dir in self._sums:
                return self._sums[rel_dir]
        sums: dict = {}
        listing = _get_small(self.url(rel_dir.rstrip("/") + "/"), self.timeout)
        if listing:
            from urllib.parse import unquote

            names = {os.path.basename(unquote(h).rstrip("/"))
                     for h in _HREF.findall(listing.decode("utf-8", "replace"))}
            for name in sorted(n for n in names if _CHECKSUM_FILE.search(n)):
                body = _get_small(self.url(f"{rel_dir.rstrip('/')}/{name}"), self.timeout)
                if body:
                    sums.update(parse_checksums(body.decode("utf-8", "replace")))
        with self._lock:
            self._sums[rel_dir] = sums
        return sums

    # -- one file -----------------------------------------------------------------------------
    def fetch(self, rel: str, product: str = "", progress=None) -> FileResult:
        """Download (or resume, or reuse) one SAS-relative file and verify it."""
        res = FileResult(rel=rel, product=product)
        dest = self.cache_dir / rel
        part = dest.with_name(dest.name + ".part")
        expected = self.checksums(os.path.dirname(rel)).get(os.path.basename(rel))
        if dest.is_file():
            problem = verify_file(dest, expected)
            if problem is None:
                res.status, res.path, res.size = "cached", str(dest), dest.stat().st_size
                res.verified = _verified_by(dest, expected)
                return res
            dest.unlink()  # a bad file in the cache is fetched again
        dest.parent.mkdir(parents=True, exist_ok=True)
        resumed = part.exists() and part.stat().st_size > 0
        if resumed and not os.stat(part).st_mode & 0o200:
            # verified and made read-only by a run killed before its rename: writable again, so
            # that a server ignoring Range can start it over (root alone could write it as it is)
            os.chmod(part, os.stat(part).st_mode | 0o200)
        for fresh in (False, True):
            if fresh:
                part.unlink(missing_ok=True)
                resumed = False
            try:
                total = self._download(rel, part, res, progress)
            except FetchError as exc:
                res.status, res.message = "failed", str(exc)
                return res
            if total is not None and part.stat().st_size != total:
                problem = f"size {part.stat().st_size} bytes, the server announced {total}"
            else:
                problem = verify_file(part, expected)
            if problem is None:
                from ...fsutil import fault_point, fsync_dir, make_read_only

                make_read_only(part)  # verified content: read-only, as every landed file
                fault_point(f"download {dest.name}: verified")
                os.replace(part, dest)
                fsync_dir(dest.parent)
                fault_point(f"download {dest.name}: in the cache")
                res.status = "resumed" if resumed else "downloaded"
                res.path, res.size = str(dest), dest.stat().st_size
                res.verified = _verified_by(dest, expected)
                return res
            res.message = problem
        part.unlink(missing_ok=True)
        res.status = "failed"
        res.message = f"{self.url(rel)}: verification failed twice: {res.message}"
        return res

    def _download(self, rel: str, part: Path, res: FileResult, progress) -> int | None:
        """Fill ``part`` until the server says it is complete; returns the announced total size."""
        import http.client
        import urllib.error

        from ...fsutil import fault_point

        url = self.url(rel)
        total = None
        delay = self.backoff
        for attempt in range(self.retries + 1):
            res.attempts += 1
            have = part.stat().st_size if part.exists() else 0
            try:
                with _open(url, start=have, timeout=self.timeout) as r:
                    status = getattr(r, "status", None) or 200  # file:// answers without one
                    if have and status == 200:
                        have = 0  # the server ignored Range: start again
                    total = _total_size(r, have)
                    with open(part, "ab" if have else "wb") as out:
                        while True:
                            block = r.read(CHUNK)
                            if not block:
                                break
                            out.write(block)
                            out.flush()  # (what a kill leaves is what the next run resumes from)
                            fault_point(f"download {part.name}: block written")
                            if progress:
                                progress(len(block))
                        out.flush()
                        os.fsync(out.fileno())
                got = part.stat().st_size
                if total is None or got >= total:
                    return total
                raise http.client.IncompleteRead(b"", total - got)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have:  # nothing left to send: the part is complete
                    return None
                if exc.code in (404, 403, 410):
                    raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
                why = f"HTTP {exc.code} {exc.reason}"
            except (http.client.HTTPException, urllib.error.URLError, OSError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                self.sleep(delay)
                delay = min(delay * 2, 60.0)
        raise FetchError(f"{url}: gave up after {self.retries + 1} attempts ({why}); "
                         f"the partial file is kept and the next run resumes it")


def _total_size(r, have: int) -> int | None:
    cr = r.headers.get("Content-Range")
    if cr:
        m = re.match(r"bytes\s+\d+-\d+/(\d+)", cr)
        if m:
            return int(m[1])
    cl = r.headers.get("Content-Length")
    if cl and cl.isdigit():
        return int(cl) + (have if getattr(r, "status", None) == 206 else 0)
    return None


def verify_file(path: Path, expected=None) -> str | None:
    """None when ``path`` is intact, else why not: the published checksum, then (``.gz``) the
    gzip CRC and length of the whole stream."""
    if expected:
        algo, hexd = expected
        h = hashlib.new(algo)
        try:
            with open(path, "rb") as f:
                while block := f.read(CHUNK):
                    h.update(block)
        except OSError as exc:
            return f"cannot read it ({exc.strerror or exc})"
        if h.hexdigest() != hexd:
            return f"{algo} {h.hexdigest()} differs from the published {hexd}"
    name = path.name[:-5] if path.name.endswith(".part") else path.name
    if name.endswith(".gz"):
        import gzip

        try:
            with gzip.open(path, "rb") as f:
                while f.read(CHUNK):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            return f"corrupt gzip stream ({exc})"
    return None


def _verified_by(path: Path, expected) -> list:
    out = [expected[0]] if expected else []
    if path.name.endswith(".gz"):
        out.append("gzip-crc")
    return out


# ---------------------------------------------------------------------------------------------
# The whole job
# ---------------------------------------------------------------------------------------------

@dataclass
class FetchReport:
    targets: list = field(default_factory=list)
    files: list = field(default_factory=list)       # FileResult
    planned: list = field(default_factory=list)     # (product, rel)
    landed: list = field(default_factory=list)      # ingest report summaries
    skipped: list = field(default_factory=list)     # (plateifu, why)
    catalogue: str = ""
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files) and all(r.get("ok", True) for r in self.landed)

    def summary(self) -> str:
        if self.dry_run:
            return f"{len(self.planned)} file(s) for {len(self.targets)} target(s) would be fetched"
        counts: dict = {}
        for f in self.files:
            counts[f.status] = counts.get(f.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to fetch"
        return f"{len(self.targets)} target(s): {parts}"

    def as_dict(self):
        return {"ok": self.ok, "dry_run": self.dry_run, "catalogue": self.catalogue,
                "targets": [t.plateifu for t in self.targets],
                "planned": [{"product": p, "rel": r} for p, r in self.planned],
                "files": [f.as_dict() for f in self.files], "landed": self.landed,
                "skipped": [{"plateifu": p, "why": w} for p, w in self.skipped]}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sfng" / "sas"


def parse_products(text) -> tuple:
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    bad = [p for p in items if p not in PRODUCTS]
    if bad or not items:
        raise SfngError(f"--product {','.join(bad) or '(empty)'}: choose from {', '.join(PRODUCTS)}")
    return tuple(dict.fromkeys(items))


def gz3d_files(metadata_path) -> dict:
    """MaNGA-ID -> [GZ3D file names] from ``gz3d_metadata.fits`` (its ``file_name`` column)."""
    from astropy.table import Table

    t = Table.read(metadata_path, hdu=1)
    cols = {c.lower(): c for c in t.colnames}
    if "file_name" not in cols or "mangaid" not in cols:
        raise SfngError(f"{metadata_path}: no file_name/MANGAID columns; not gz3d_metadata.fits")
    out: dict = {}
    for fn, mid in zip(t[cols["file_name"]], t[cols["mangaid"]]):
        fn = fn.decode() if isinstance(fn, bytes) else str(fn)
        mid = mid.decode() if isinstance(mid, bytes) else str(mid)
        out.setdefault(mid.strip(), []).append(fn.strip())
    return out


def fetch_manga(store, *, plateifus=(), drpall=None, where: str | None = None,
                products=("cubes",), jobs: int = 4, base_url: str = SAS_URL, cache_dir=None,
                dry_run: bool = False, land: bool = True, resolver=None, offline=None,
                retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                progress=None, on_plan=None, on_file=None) -> FetchReport:
    """Select, download, verify and land MaNGA products; see the module docstring.

    ``progress(nbytes)`` is called as bytes arrive; ``on_plan(n_files)`` once the plan is known;
    ``on_file(FileResult)`` as each file is done.
    Returns a :class:`FetchReport`; raises SfngError for a bad selection or an unreachable
    catalogue.
    """
    products = parse_products(products)
    if jobs < 1:
        raise SfngError("--jobs must be at least 1")
    dl = Downloader(base_url, cache_dir or default_cache_dir(), timeout=timeout, retries=retries,
                    backoff=backoff)
    report = FetchReport(dry_run=dry_run)
    catalogue = None
    need_cat = bool(where) or "gz3d" in products or not plateifus
    if drpall:
        catalogue = read_catalogue(drpall)
        report.catalogue = str(drpall)
    elif need_cat:
        got = dl.fetch(DRPALL_PATH, "catalogue")
        if not got.ok:
            raise SfngError(f"cannot get the DRPall catalogue: {got.message} (give a local copy with "
                            f"--drpall FILE)")
        catalogue = read_catalogue(got.path)
        report.catalogue = got.path
    if not plateifus and not where:
        raise SfngError("say what to fetch: --plateifu PLATE-IFU (repeatable) and/or --where EXPR "
                        "over the DRPall columns")
    report.targets = select_targets(catalogue, where=where, plateifus=plateifus)
    gz3d_map = {}
    if "gz3d" in products:
        got = dl.fetch(GZ3D_METADATA, "catalogue")
        if not got.ok:
            raise SfngError(f"cannot get the GZ3D metadata table: {got.message}")
        gz3d_map = gz3d_files(got.path)
    for t in report.targets:
        paths = sas_paths(t.plateifu)
        for product in products:
            if product == "gz3d":
                names = gz3d_map.get(t.mangaid, [])
                if not names:
                    report.skipped.append((t.plateifu, f"no GZ3D file for MaNGA-ID {t.mangaid or '?'}"))
                for fn in names:
                    report.planned.append(("gz3d", sas_paths(t.plateifu, gz3d_file=fn)["gz3d"]))
            else:
                report.planned.append((product, paths[product]))
    report.planned = list(dict.fromkeys(report.planned))
    if dry_run:
        return report
    if on_plan:
        on_plan(len(report.planned))
    def one(product, rel):
        res = dl.fetch(rel, product, progress)
        if on_file:
            on_file(res)
        return res

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, product, rel) for product, rel in report.planned]
        report.files = [f.result() for f in futures]
    if land:
        _land_catalogue(store, report.catalogue)
        report.landed = land_files(store, [f for f in report.files if f.ok], resolver=resolver,
                                   offline=offline, staging_dir=dl.cache_dir)
    return report


def _land_catalogue(store, path) -> None:
    """Keep the DRPall catalogue in ``tables/MANGA/`` (the index reads redshifts from it),
    read-only and recorded in the folder's manifest, under the folder's ingest lock.

    A run killed between the copy and the manifest leaves the copy unrecorded: the rerun finds
    the same bytes there (or under a dated name, for a newer catalogue) and records them."""
    from ... import manifest as mf
    from ...fsutil import copy_with_hash, fault_point, make_read_only, remove_stale_temporaries, sha256_file
    from ...ingest.landing import _lock_and_journal_paths
    from ...ingest.plan import utc_now
    from ...journal import Lock

    if not path or store is None:
        return
    src = Path(path)
    folder = Path(store.root) / "tables" / "MANGA"
    with Lock(_lock_and_journal_paths(store, "MANGA")[0], "ingest of survey MANGA"):
        if folder.is_dir():
            remove_stale_temporaries(folder, owned=True)  # we hold the lock of every writer here
        want = sha256_file(src)
        entries = mf.read_manifest(folder)
        dst = folder / src.name
        candidates = [dst] + sorted(folder.glob(f"{src.stem}-*{src.suffix}")) if folder.is_dir() else []
        for have in candidates:
            if have.is_file() and sha256_file(have) == want:
                entry = entries.get(have.name)
                if entry is None or entry.sha256 != want:  # landed by a run killed before its record
                    make_read_only(have)
                    mf.append(folder, [mf.Entry(have.name, want, have.stat().st_size, utc_now())])
                return
        if dst.exists():
            dst = dst.with_name(f"{src.stem}-{time.strftime('%Y%m%d%H%M%S')}{src.suffix}")
        digest, size = copy_with_hash(src, dst, expected_sha256=want, read_only=True)
        mf.append(folder, [mf.Entry(dst.name, digest, size, utc_now())])
        fault_point("catalogue tables/MANGA: recorded")


#: Prefix of the staging folders :func:`land_files` makes in the cache (``<prefix><survey>-<pid>-<hex>``).
STAGING_PREFIX = ".staging-"


def remove_stale_staging(folder) -> list[Path]:
    """Remove the staging folders of dead processes in ``folder`` (what a killed fetch left);
    returns those removed.  One without a process id (older sfng) goes after an hour."""
    from ...fsutil import STALE_AFTER, pid_alive

    out = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(STAGING_PREFIX)]
    except OSError:
        return out
    for name in names:
        p = Path(folder) / name
        if p.is_symlink() or not p.is_dir():
            continue
        m = re.match(rf"^{re.escape(STAGING_PREFIX)}.+-(\d+)-[0-9a-f]{{8}}$", name)
        if m:
            pid = int(m[1])
            if pid == os.getpid() or pid_alive(pid):
                continue
        else:
            try:
                if time.time() - p.stat().st_mtime <= STALE_AFTER:
                    continue
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)
        out.append(p)
    return out


def land_files(store, results, *, resolver=None, offline=None, staging_dir=None) -> list[dict]:
    """Land downloaded files through :func:`sfng.ingest.plan_ingest`/``execute``.

    Files are grouped by landing folder; each group is hard-linked (copied across file systems)
    into a temporary staging folder with its survey README, ingested with NED renaming, and the
    staging folder removed.  Staging folders carry the process id (``.staging-<survey>-<pid>-<hex>``):
    those of a killed run are removed by the next one (an interrupted ingest is finished by its
    journal, see :func:`sfng.ingest.landing.recover`).
    """
    from ... import ingest
    from .identity import readme_text
    from .recognise import recognise

    groups: dict = {}
    for r in results:
        kind = KIND.get(r.product) or recognise(r.path)
        if kind is None:
            continue
        groups.setdefault(LANDING[kind], []).append(Path(r.path))
    out = []
    if store is None or not groups:
        return out
    if resolver is None:
        from ...ned import Resolver

        resolver = Resolver(store=store, offline=offline)
    from ...fsutil import fault_point

    for (tree, survey), paths in sorted(groups.items()):
        base = Path(staging_dir or paths[0].parent)
        remove_stale_staging(base)
        staging = base / f"{STAGING_PREFIX}{survey}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            for p in paths:
                target = staging / p.name
                try:
                    os.link(p, target)
                except OSError:
                    shutil.copy2(p, target)
            readme = staging / f"{survey}_README.txt"
            readme.write_text(readme_text(survey), encoding="utf-8")
            fault_point(f"staging {survey}: ready")
            # force for derived/: ingest validates a source before knowing its tree, and the
            # sky-unit rule of data/ misreads DAP maps (first HDU SPX_SKYCOO is in arcsec)
            plan = ingest.plan_ingest(store, staging, survey=survey, tree=tree, ned_rename=True,
                                      resolver=resolver, offline=offline, force=(tree == "derived"))
            rep = ingest.execute(plan, mode="copy", jobs=1)
            out.append({"survey": survey, "tree": tree, "ok": rep.ok, "summary": rep.summary(),
                        "problems": [f"{o.item.rel}: {o.message}" for o in rep.outcomes if not o.ok]})
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out
