"""The store: where it is, how it is laid out, and its configuration (``sfng.yaml``).

A store is a folder holding ``sfng.yaml`` and the tree of the specification::

    SFNG-INDEX.fits  code/  data/  derived/  docs/  release/  tables/  uncalibrated/

It is found like git finds a repository: ``--store PATH``, else the nearest ancestor of the
current folder holding ``sfng.yaml``, else ``$SFNG_STORE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import STORE_SCHEMA_VERSION
from .errors import NotAStoreError, SfngError
from .fsutil import atomic_write_text

CONFIG_NAME = "sfng.yaml"
INDEX_NAME = "SFNG-INDEX.fits"
#: The folders of the specification, in its order.
TREE = ("code", "data", "derived", "docs", "release", "tables", "uncalibrated")
#: Trees the index crawls.
INDEXED_TREES = ("data", "derived")

DEFAULT_CONFIG = {
    "name": "sfng-store",
    "schema_version": STORE_SCHEMA_VERSION,
    "ned": {
        "offline": False,
        "timeout": 30,
        "retries": 3,
        "cache": "tables/ned_names.csv",
        "overrides": "tables/ned_overrides.csv",
    },
    "tracers": {},
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in (extra or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Store:
    """An sfng store rooted at ``root``.

    Attributes
    ----------
    root : Path
        Absolute path of the store's top folder.
    config : dict
        ``sfng.yaml`` merged over :data:`DEFAULT_CONFIG`.
    """

    root: Path
    config: dict = field(default_factory=dict)

    @classmethod
    def open(cls, root) -> "Store":
        """Open the store at ``root`` (which must hold ``sfng.yaml``)."""
        import yaml

        from . import yamlio

        root = Path(root).resolve()
        cfg_path = root / CONFIG_NAME
        if not cfg_path.is_file():
            raise NotAStoreError(f"{root} is not an sfng store (no {CONFIG_NAME}); run `sfng init {root}`")
        try:
            raw = yamlio.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SfngError(f"{cfg_path}: cannot read the store configuration: {exc}") from exc
        if not isinstance(raw, dict):
            raise SfngError(f"{cfg_path}: the store configuration must be a mapping")
        version = raw.get("schema_version", STORE_SCHEMA_VERSION)
        if isinstance(version, int) and version > STORE_SCHEMA_VERSION:
            raise SfngError(f"{cfg_path}: store schema version {version} is newer than this sfng "
                            f"understands ({STORE_SCHEMA_VERSION}); upgrade sfng")
        return cls(root=root, config=_merge(DEFAULT_CONFIG, raw))

    @classmethod
    def discover(cls, store=None, start=None, env=None) -> "Store":
        """Find the store: ``store`` if given, else the nearest ancestor of ``start`` holding
        ``sfng.yaml``, else ``$SFNG_STORE``."""
        if store:
            return cls.open(store)
        root = find_root(start or Path.cwd())
        if root is None:
            env = os.environ if env is None else env
            if env.get("SFNG_STORE"):
                return cls.open(env["SFNG_STORE"])
            raise NotAStoreError(
                "not inside an sfng store (no sfng.yaml in this folder or any parent, and $SFNG_STORE "
                "is not set); use --store PATH, or create one with `sfng init PATH`")
        return cls.open(root)

    # -- layout ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.config.get("name", self.root.name))

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def tree(self, name: str) -> Path:
        if name not in TREE:
            raise SfngError(f"unknown tree {name!r}; the store's trees are {', '.join(TREE)}")
        return self.root / name

    def survey_dir(self, survey: str, tree: str = "data", version: str | None = None) -> Path:
        """``<tree>/<survey>/``, or ``<tree>/<survey>@<version>/`` for a data version
        (docs/versions.md)."""
        from .naming import check_component, survey_folder

        if version:
            survey = survey_folder(survey, version)
        return self.tree(tree) / check_component(survey, what="survey name")

    def surveys(self, tree: str = "data") -> list[str]:
        base = self.tree(tree)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and p.name != "bygalaxy")

    def readme_path(self, survey: str, tree: str = "data", version: str | None = None) -> Path:
        """The survey README, named after its folder (``THINGS@v2/THINGS@v2_README.txt``)."""
        folder = self.survey_dir(survey, tree, version)
        return folder / f"{folder.name}_README.txt"

    def survey_versions(self, survey: str, trees=INDEXED_TREES) -> list[str]:
        """The versions of ``survey`` in ``trees`` (``''`` for ``<tree>/<survey>/``), in natural
        order, lowest first."""
        from .naming import split_survey_folder, version_key

        found = set()
        for tree in trees:
            for name in self.surveys(tree):
                try:
                    s, v = split_survey_folder(name)
                except SfngError:
                    continue
                if s == survey:
                    found.add(v)
        return sorted(found, key=version_key)

    def chosen_versions(self) -> dict:
        """``sfng.yaml`` ``versions: {SURVEY: VERSION}``: the current version each survey names."""
        got = self.config.get("versions") or {}
        if not isinstance(got, dict):
            raise SfngError(f"{self.root / CONFIG_NAME}: 'versions' must map survey names to versions")
        return {str(k): "" if v is None else str(v) for k, v in got.items()}

    def table_path(self, key: str) -> Path:
        """A path configured relative to the store root (e.g. ``ned.cache``)."""
        node = self.config
        for part in key.split("."):
            node = node[part]
        return self.root / node

    def relpath(self, path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def contains(self, path) -> bool:
        try:
            Path(path).resolve().relative_to(self.root)
            return True
        except ValueError:
            return False


def find_root(start) -> Path | None:
    """Nearest folder at or above ``start`` that holds ``sfng.yaml``, or None."""
    p = Path(start).resolve()
    for candidate in (p, *p.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    return None


# -- init ---------------------------------------------------------------------------------

def template_dir() -> Path:
    """The ``store_template/`` tree that ``sfng init`` lays out.

    In a source checkout it is the top-level ``store_template/``; installed, the same files are
    shipped as package data under ``sfng/data/store_template``.
    """
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "store_template", here / "data" / "store_template"):
        if cand.is_dir():
            return cand
    return Path(str(resources.files("sfng") / "data" / "store_template"))


@dataclass
class InitReport:
    root: Path
    created: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    adopted: bool = False
    skipped: list = field(default_factory=list)   # "rel: why": not written (a link in the way)

    def as_dict(self):
        return {"root": str(self.root), "created": self.created, "kept": self.kept,
                "adopted": self.adopted, "skipped": self.skipped}


def _link_on_the_way(root: Path, target: Path) -> Path | None:
    """The first symbolic link between ``root`` and ``target`` (``target`` itself included), if any:
    init never writes through one (it would write outside the store)."""
    here = root
    for part in target.relative_to(root).parts:
        here = here / part
        if here.is_symlink():
            return here
        if not here.exists():
            return None
    return None


def init_store(path, name: str | None = None, adopt: bool = False, dry_run: bool = False) -> InitReport:
    """Lay out a store at ``path`` from :func:`template_dir`.

    Idempotent: existing files are kept, never overwritten.  A non-empty folder that is not yet
    a store is refused unless ``adopt``, which adds the missing folders, READMEs and
    ``sfng.yaml`` without moving or changing any existing file.  Creating a store inside another
    store is refused.
    """
    import yaml

    root = Path(path).absolute()
    if root.exists() and not root.is_dir():
        raise SfngError(f"{root} is a file, not a folder; choose another path for the store")
    is_store = (root / CONFIG_NAME).is_file()
    outer = find_root(root.parent) if root.parent != root else None
    if outer is not None and not is_store:
        raise SfngError(f"{root} is inside the store {outer}; a store cannot hold another store")
    if root.is_dir() and not is_store and any(root.iterdir()) and not adopt:
        raise SfngError(f"{root} is not empty and is not an sfng store; use --adopt to turn the "
                        f"existing tree into a store (no file is moved or changed)")
    if root.exists() and not os.access(root, os.W_OK | os.X_OK):
        raise SfngError(f"{root}: permission denied; cannot write the store here")
    if not root.exists():
        parent = next((p for p in root.parents if p.exists()), None)
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            raise SfngError(f"{parent}: permission denied; cannot create {root}")

    report = InitReport(root=root, adopted=bool(adopt and not is_store and root.is_dir()
                                                  and any(root.iterdir())))
    tmpl = template_dir()
    # sfng.yaml goes first: after a crash mid-init the folder is already a store and a rerun
    # (idempotent) completes it.
    plan: list[tuple[Path, object]] = [(root / CONFIG_NAME, "config")]  # (target, source; None = folder)
    for src in sorted(tmpl.rglob("*")):
        rel = src.relative_to(tmpl)
        if rel.name in (".gitkeep", "__pycache__"):
            continue
        plan.append((root / rel, src if src.is_file() else None))
    for d in TREE:
        plan.append((root / d, None))

    cfg = dict(DEFAULT_CONFIG)
    cfg["name"] = name or root.name
    cfg_text = ("# sfng store configuration (see docs/user-guide.md).\n"
                "# name: shown in the index header; ned: name resolution; tracers: extra tracer aliases,\n"
                "# e.g. tracers: {HCN(1-0): [HCN10]}\n" + yaml.safe_dump(cfg, sort_keys=False))

    seen = set()
    for target, src in plan:
        if target in seen:
            continue
        seen.add(target)
        rel = target.relative_to(root).as_posix()
        link = _link_on_the_way(root, target)
        if link is not None:
            if link == target and src is None:
                report.kept.append(rel)  # a linked folder stays as it is; nothing written into it
            else:
                report.skipped.append(f"{rel}: {link.relative_to(root).as_posix()} is a symbolic link "
                                      f"(to {os.readlink(link)}); sfng does not write through it")
            continue
        if target.exists():
            report.kept.append(rel)
            continue
        report.created.append(rel + ("/" if src is None else ""))
        if dry_run:
            continue
        if src is None:
            target.mkdir(parents=True, exist_ok=True)
        elif src == "config":
            atomic_write_text(target, cfg_text)
        else:
            text = src.read_text(encoding="utf-8").replace("{{STORE_NAME}}", cfg["name"])
            atomic_write_text(target, text)
    return report
