"""Planning a release (:func:`plan_bundle`): which files, their index rows, their survey READMEs,
their validity, the version family, the command that remakes it.  Nothing is written."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SfngError
from .checksums import compare_manifests, read_manifest
from .layout import MANIFEST, PROV_SUFFIX, check_name, journal_path, release_dir, text_value
from .sources import read_file_list, store_file

_VERSION_RE = re.compile(r"^(?P<base>.+)-v(?P<n>\d+)$")


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
        ``"data"``, ``"readme"`` or ``"provenance"`` (a derived product's provenance record,
        the index's ``prov`` column: released with the product it describes).
    galaxy, tracer, survey : str
        For RELEASE.md ('' when unknown).
    version : str
        The data version released (the folder ``<SURVEY>@<VERSION>``; '' unversioned): a
        release pins exact versions (docs/versions.md).
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
    version: str = ""

    def as_dict(self):
        return {"path": self.rel, "size": self.size, "sha256": self.sha256, "role": self.role,
                "galaxy": self.galaxy, "tracer": self.tracer, "survey": self.survey,
                "version": self.version}


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
    exists: bool = False                             # planned with exist_ok over a complete release
    provenance: dict = field(default_factory=dict)   # data rel -> its provenance record's rel

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
                "n_readmes": sum(f.role == "readme" for f in self.files),
                "n_provenance": sum(f.role == "provenance" for f in self.files), "bytes": self.bytes,
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
        from ..query import load_index, select

        idx = load_index(store=store)
        for sel in selections:
            res = select(idx, sel)
            notes.extend(res.notes)
            wanted.extend(res.paths())
    return wanted


def _index_records(store):
    """Disk records of the store index (or None when there is no usable index)."""
    if not store.index_path.is_file():
        return None
    from ..index.io import open_records

    return open_records(store.index_path)


def plan_bundle(store, name: str, *, selection=None, from_file=None, paths=None, mode: str = "link",
                allow_invalid: bool = False, new_version: bool = False, command: str | None = None,
                rehash: bool = False, tar: bool = False, exist_ok: bool = False) -> BundlePlan:
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
    exists = os.path.lexists(target)
    if exists and not exist_ok and not journal_path(store, name).exists():
        # (with a journal: a bundle killed after its rename; bundle() finishes it, or refuses;
        # exist_ok: bundle() accepts a release that holds exactly these files, and refuses others)
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
                      warnings=notes, tar=tar, exists=exists)
    _attach_index(store, plan, chosen)
    _attach_provenance(store, plan)
    _attach_readmes(store, plan)
    _check_validity(store, plan)
    if plan.invalid and not allow_invalid:
        lines = [f"{rel}: {'; '.join(errs[:2])}" for rel, errs in sorted(plan.invalid.items())]
        raise SfngError(f"{len(plan.invalid)} selected file(s) fail the minimum specification and are "
                        f"refused (use --allow-invalid to release them anyway, which RELEASE.md records):"
                        f"\n  " + "\n  ".join(lines[:20]))
    if parent:
        prev = read_manifest(rdir / parent / MANIFEST)
        plan.changes = compare_manifests(prev, {f.rel: f.sha256 for f in plan.files}, unknown_ok=True)
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
    want = {rel.encode("utf-8", "surrogateescape"): (rel, real) for rel, real in chosen}
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
        sha = text_value(row["sha256"])
        plan.files.append(PlanFile(
            rel=rel, src=real, size=st.st_size, mtime=st.st_mtime,
            sha256=sha if (fresh and len(sha) == 64 and not plan.rehash) else None,
            galaxy=text_value(row["galaxy"]), tracer=text_value(row["tracer"]), survey=text_value(row["survey"]),
            version=text_value(row["version"])))        # (open_records: this version's columns, all)
        prov = text_value(row["prov"])
        if prov:
            plan.provenance[rel] = prov
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
    plan.index_rows = _current_in_release(store, sub)
    plan.galaxy_rows = _galaxy_rows(store, sub)


def _current_in_release(store, sub):
    """A release's index says which of *its* versions is current (a release of v1 alone: v1),
    so that ``find`` on the release answers as ``find --data-version`` did on the store."""
    if not len(sub) or "current" not in (sub.dtype.names or ()):
        return sub
    from ..index.build import mark_current
    from ..naming import current_version

    found: dict = {}
    for srv, ver in zip(sub["survey"].tolist(), sub["version"].tolist()):
        found.setdefault(text_value(srv), set()).add(text_value(ver))
    chosen = store.chosen_versions() if hasattr(store, "chosen_versions") else {}
    current = {srv: current_version(vs, chosen.get(srv)) for srv, vs in found.items()}
    return mark_current(sub, current)[0]


def _galaxy_rows(store, sub) -> list[dict]:
    from collections import Counter

    from ..index.io import read_index
    from ..index.schema import GALAXIES_NAMES

    counts = Counter(bytes(g).strip().decode("utf-8", "replace") for g in sub["galaxy"])
    try:
        _, gal, _ = read_index(store.index_path, columns=["path"], galaxies=True)
    except SfngError:
        return []
    out = []
    for row in gal or []:
        name = text_value(row["name"])
        if name in counts:
            d = {c: (text_value(row[c]) if isinstance(row[c], (bytes, str)) else row[c].item()
                     if hasattr(row[c], "item") else row[c]) for c in GALAXIES_NAMES if c in row.colnames}
            d["n_files"] = counts[name]
            out.append(d)
    return out


def _attach_provenance(store, plan: BundlePlan) -> None:
    """The provenance record of each derived product released (a derived file without its
    record would lose what it was made from and how).  A record is a ``*.prov.json`` file in
    the store, no data file, named as it lies (not through a link); hashed here, so a new
    version of a release lists a changed record.  One missing or not such a record is a
    warning in RELEASE.md, never a refusal, and is not released."""
    import posixpath

    from ..fsutil import sha256_file

    data = {f.rel: f for f in plan.files}
    have = set(data)
    for rel, prov in sorted(plan.provenance.items()):
        named = posixpath.normpath(prov)
        if named in have:
            if named in data:
                plan.warnings.append(f"{rel}: its provenance record {prov} is a data file; not taken as one")
            continue

        def skip(why: str) -> None:
            plan.warnings.append(f"{rel}: its provenance record {prov} {why}; released without it")

        if not named.endswith(PROV_SUFFIX):
            skip(f"is not a {PROV_SUFFIX} file")
            continue
        if not os.path.lexists(store.root / named):
            skip("is not in the store")
            continue
        try:
            prov_rel, real = store_file(store, named)
        except SfngError as exc:
            skip(f"cannot be released ({exc})")
            continue
        if prov_rel != named:
            skip(f"is a link (to {prov_rel})")
            continue
        st = os.stat(real)
        f = data[rel]
        plan.files.append(PlanFile(rel=prov_rel, src=real, size=st.st_size, mtime=st.st_mtime,
                                   sha256=sha256_file(real), role="provenance", galaxy=f.galaxy,
                                   survey=f.survey, version=f.version))
        have.add(prov_rel)


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
        name, version = _split_folder(survey)
        plan.files.append(PlanFile(rel=rel2, src=real, size=st.st_size, mtime=st.st_mtime,
                                   role="readme", survey=name, version=version))
    plan.files.sort(key=lambda f: f.rel)


def _split_folder(folder: str) -> tuple[str, str]:
    from ..naming import split_survey_folder

    try:
        return split_survey_folder(folder)
    except SfngError:
        return folder, ""


def _check_validity(store, plan: BundlePlan) -> None:
    """Minimum specification: ``sfng.validate.validate_file`` errors."""
    from ..validate import validate_file

    plan.validated = "validate"
    for f in plan.data_files:
        rep = validate_file(f.src, store=store)
        if not rep.ok:
            plan.invalid[f.rel] = [getattr(p, "message", str(p)) for p in rep.errors] or ["invalid"]
