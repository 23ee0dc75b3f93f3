"""Every index schema version, frozen as data: ``sfng/index/schemas/v<N>.yaml``.

Each file holds one version's FILES and GALAXIES column lists exactly as that sfng wrote them
(name, dtype, unit, description, shape), the encoding of its text columns and, optionally,
``renamed: {new name: old name}`` for columns a later version renamed.  Readers use them to read
an older index (:func:`sfng.index.io.read_index` through :mod:`sfng.index.migrate`); ``sfng index
migrate`` rewrites one to the current schema.

Bumping :data:`sfng.index.schema.SCHEMA_VERSION` is then a one-file addition: change the column
lists in ``schema.py``, bump the version, and freeze it::

    python -m sfng.index.frozen "what changed"   # writes sfng/index/schemas/v<SCHEMA_VERSION>.yaml
    python -m sfng.index.frozen --replace "..."  # re-freeze a version no release has written yet

(``tests/test_schema_versions.py`` fails until the current version is frozen, and checks that the
frozen file still matches ``schema.py``; an existing frozen version is never rewritten.)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import SfngError
from .schema import FILES_COLUMNS, GALAXIES_COLUMNS, SCHEMA_VERSION, Column

#: Folder of the frozen schemas (package data).
SCHEMAS_DIR = Path(__file__).with_name("schemas")


@dataclass(frozen=True)
class FrozenSchema:
    """One frozen index schema version."""

    version: int
    files: tuple
    galaxies: tuple
    text_encoding: str = "UTF-8"
    renamed: dict = field(default_factory=dict)
    note: str = ""

    @property
    def files_names(self) -> list[str]:
        return [c.name for c in self.files]


def _column(d: dict) -> Column:
    return Column(str(d["name"]), str(d["dtype"]), str(d.get("unit", "")),
                  str(d.get("description", "")), tuple(d.get("shape", ()) or ()))


def _as_dict(c: Column) -> dict:
    out = {"name": c.name, "dtype": c.dtype, "unit": c.unit, "description": c.description}
    if c.shape:
        out["shape"] = list(c.shape)
    return out


def versions() -> list[int]:
    """The frozen schema versions, ascending."""
    out = []
    for p in SCHEMAS_DIR.glob("v*.yaml"):
        try:
            out.append(int(p.stem[1:]))
        except ValueError:
            continue
    return sorted(out)


@lru_cache(maxsize=None)
def load(version: int) -> FrozenSchema:
    """The frozen schema ``version``; SfngError when this sfng has none of that number."""
    from .. import yamlio

    path = SCHEMAS_DIR / f"v{int(version)}.yaml"
    if not path.is_file():
        known = ", ".join(str(v) for v in versions()) or "none"
        raise SfngError(f"unknown index schema version {version} (this sfng knows {known})")
    raw = yamlio.safe_load(path.read_text(encoding="utf-8"))
    if int(raw["version"]) != int(version):
        raise SfngError(f"{path}: says version {raw['version']}, not {version}")
    return FrozenSchema(version=int(raw["version"]),
                        files=tuple(_column(d) for d in raw["files"]),
                        galaxies=tuple(_column(d) for d in raw["galaxies"]),
                        text_encoding=str(raw.get("text_encoding", "UTF-8")),
                        renamed=dict(raw.get("renamed") or {}),
                        note=str(raw.get("note", "")))


def current() -> FrozenSchema:
    """The schema ``schema.py`` declares now, as a FrozenSchema (not read from a file)."""
    return FrozenSchema(SCHEMA_VERSION, tuple(FILES_COLUMNS), tuple(GALAXIES_COLUMNS), "UTF-8")


def render(schema: FrozenSchema) -> str:
    """The YAML text of ``schema``."""
    import yaml

    doc = {"version": schema.version, "text_encoding": schema.text_encoding}
    if schema.note:
        doc["note"] = schema.note
    if schema.renamed:
        doc["renamed"] = dict(schema.renamed)
    doc["files"] = [_as_dict(c) for c in schema.files]
    doc["galaxies"] = [_as_dict(c) for c in schema.galaxies]
    head = (f"# sfng index schema version {schema.version}, frozen: never edit (see "
            f"sfng/index/frozen.py).\n")
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def freeze(note: str = "", renamed: dict | None = None, replace: bool = False) -> Path:
    """Write ``schemas/v<SCHEMA_VERSION>.yaml`` from ``schema.py``; refuse to change a frozen one
    unless ``replace`` (only for a version no released sfng has written)."""
    path = SCHEMAS_DIR / f"v{SCHEMA_VERSION}.yaml"
    schema = current()
    schema = FrozenSchema(schema.version, schema.files, schema.galaxies, schema.text_encoding,
                          dict(renamed or {}), note)
    if path.is_file() and not replace:
        old = load(SCHEMA_VERSION)
        if (old.files, old.galaxies) != (schema.files, schema.galaxies):
            raise SfngError(f"{path} is frozen and differs from schema.py: bump SCHEMA_VERSION "
                            f"instead of editing a released schema")
        return path
    SCHEMAS_DIR.mkdir(exist_ok=True)
    path.write_text(render(schema), encoding="utf-8")
    load.cache_clear()
    return path


if __name__ == "__main__":  # pragma: no cover - a developer's tool
    # python -m sfng.index.frozen [--replace] [NOTE...]  (--replace: an unreleased version only)
    args = sys.argv[1:]
    again = "--replace" in args
    print(freeze(note=" ".join(a for a in args if a != "--replace"), replace=again))
