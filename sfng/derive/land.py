"""Landing derived products through the store's safe path: staged outside the store, then
:func:`sfng.ingest.plan_ingest` / :func:`sfng.ingest.execute` into ``derived/<SURVEY>/`` (hashing
copy, fsync, verify, no-clobber rename, manifest, journal, validation), the provenance sidecar
written atomically and read-only beside, listed in the manifest, then the index rebuilt.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import manifest as mf
from ..errors import SfngError
from ..fsutil import atomic_write_text, sha256_file
from . import provenance as pv

#: ``<origin>_<res tag>_<product>``: product suffixes of sfng derive.
PRODUCT_KINDS = ("conv", "cov", "mom0", "emom0", "mom1", "emom1", "mom2", "emom2", "tpeak", "etpeak", "k")


@dataclass
class Product:
    """One derivation: the files made (``(name, staged path, role)``, the product first), its
    survey and its provenance record."""

    survey: str
    files: list
    record: dict
    source: str = ""           # the input (store-relative) it came from, for messages

    @property
    def name(self) -> str:
        return self.files[0][0]

    @property
    def sidecar(self) -> str:
        return pv.sidecar_name(self.name)


@dataclass
class LandReport:
    landed: list = field(default_factory=list)      # store-relative paths
    skipped: list = field(default_factory=list)     # (path, why)
    failed: list = field(default_factory=list)      # (path or input, why)
    index: object = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {"ok": self.ok, "landed": self.landed,
                "skipped": [{"path": p, "why": w} for p, w in self.skipped],
                "failed": [{"path": p, "why": w} for p, w in self.failed]}


def origin_of(rel_path: str) -> tuple[str | None, str]:
    """``(galaxy file-name form or None, origin)`` of a store file: the part of the name after
    the NED prefix, without the FITS suffix."""
    from ..naming import parse

    name = Path(rel_path).name
    galaxy, original = parse(name)
    if original.lower() in ("fits", "fit", "fts", "fits.gz"):   # no NED prefix: X.fits
        galaxy, original = None, name
    for suf in (".fits.gz", ".fits", ".fit", ".fts"):
        if original.lower().endswith(suf):
            original = original[: -len(suf)]
            break
    return galaxy, original


def product_name(rel_path: str, galaxy: str | None, tag: str, product: str) -> str:
    """``NED_NAME.<origin>_<res tag>_<product>.fits`` for an input file of the store."""
    from ..naming import encode_galaxy

    _, origin = origin_of(rel_path)
    prefix = encode_galaxy(galaxy) + "." if galaxy else ""
    # A product made from a product: keep one resolution tag (X_15as_conv -> X_15as_mom0).
    for kind in PRODUCT_KINDS:
        if origin.endswith("_" + kind):
            origin = origin[: -len(kind) - 1]
            if tag and origin.endswith("_" + tag):
                tag = ""
            break
    parts = [origin] + ([tag] if tag else []) + [product]
    return prefix + "_".join(parts) + ".fits"


def staging_dir():
    """A temporary folder outside the store for products being made (removed afterwards)."""
    return tempfile.TemporaryDirectory(prefix="sfng-derive-")


def land_products(store, products: list[Product], *, reindex: bool = True, jobs: int = 1) -> LandReport:
    """Land ``products`` (already written in their staging folders) in ``derived/<SURVEY>/``."""
    from ..ingest import execute, plan_ingest
    from ..ingest.landing import _lock_and_journal_paths
    from ..journal import Lock

    rep = LandReport()
    by_survey: dict = {}
    for p in products:
        by_survey.setdefault(p.survey, []).append(p)
    with staging_dir() as tmp:
        for survey, prods in sorted(by_survey.items()):
            src = Path(tmp) / survey
            src.mkdir()
            for p in prods:
                for name, path, _ in p.files:
                    shutil.move(str(path), src / name)
            plan = plan_ingest(store, src, survey=survey, tree="derived", validate=True)
            owner = {f[0]: p for p in prods for f in p.files}
            bad = set()
            for item in plan.items:
                if item.kind != "data":
                    continue
                name = Path(item.source).name
                if item.action == "conflict":
                    rep.failed.append((item.dest or name, "; ".join(item.problems)))
                    bad.add(id(owner.get(name)))
                elif item.dest and not item.dest.startswith("derived/"):
                    why = "; ".join(item.problems) or "fails a minimum FITS rule"
                    rep.failed.append((item.dest, f"not landed: {why}"))
                    bad.add(id(owner.get(name)))
                elif item.action == "error":
                    rep.failed.append((name, "; ".join(item.problems)))
                    bad.add(id(owner.get(name)))
            for item in plan.items:   # a product lands whole (with its coverage map) or not at all
                if item.kind == "data" and id(owner.get(Path(item.source).name)) in bad:
                    item.action = "ignore"
            report = execute(plan, mode="move", jobs=jobs)
            for o in report.outcomes:
                if o.item.kind != "data" or o.item.action == "ignore":
                    continue
                if o.status == "landed":
                    rep.landed.append(o.item.dest)
                elif o.status == "skipped":
                    rep.skipped.append((o.item.dest, "the same bytes are already in the store"))
                elif not o.ok:
                    rep.failed.append((o.item.dest, o.message))
            folder = store.survey_dir(survey, "derived")
            lock = _lock_and_journal_paths(store, survey)[0]
            with Lock(lock, f"ingest of survey {survey}"):
                entries = mf.read_manifest(folder)
                new = []
                for p in prods:
                    if id(p) in bad:
                        continue
                    side = folder / p.sidecar
                    if side.exists():
                        continue   # the same product made before: its first record stays
                    text = pv.dumps(p.record)
                    with contextlib.suppress(FileExistsError):
                        atomic_write_text(side, text, read_only=True)
                        if p.sidecar not in entries:
                            new.append(mf.Entry(name=p.sidecar, sha256=sha256_file(side), size=side.stat().st_size,
                                                landed=pv.utc_now()))
                mf.append(folder, new)
    if reindex and (rep.landed or rep.skipped):
        from ..index.build import build_index

        rep.index = build_index(store)
    return rep


def input_entry(store, rel: str) -> dict:
    """``{path, sha256}`` of an input file (hashed now)."""
    path = Path(store.root) / rel
    if not path.is_file():
        raise SfngError(f"{rel}: not in the store")
    return {"path": rel, "sha256": sha256_file(path)}
