"""The ingest plan: one :class:`Item` per source file (what it is, where it goes, under which
name, what is wrong) and the :class:`Plan` that holds them; the kinds of source file by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import formats
from ..fitsname import is_fits_name

#: Trees a survey can be ingested into.
TARGET_TREES = ("data", "derived")

#: Where files failing a minimum rule of the specification go instead.
QUARANTINE_TREE = "uncalibrated"

MODES = ("copy", "move", "link")

#: Companion documents, landed unchanged in docs/<SURVEY>/.
DOC_SUFFIXES = (".pdf", ".txt", ".md", ".rst", ".html", ".htm", ".ps", ".eps", ".doc", ".docx",
                ".odt", ".tex", ".png", ".jpg", ".jpeg", ".gif", ".svg")

#: Companion tables, landed unchanged in tables/<SURVEY>/.
TABLE_SUFFIXES = (".csv", ".tsv", ".ecsv", ".vot", ".votable", ".xml", ".dat", ".tbl")

_README_RE = re.compile(r"(?i)^(?:.*[_.-])?read_?me(?:\.[A-Za-z0-9]+)?$")

#: Plan actions.  ``land``: will be copied/moved/linked; ``skip``: the same bytes are already
#: there; ``create``: a template README will be written; ``keep``: the store's README stays;
#: ``conflict``: the target holds other bytes, or several sources want one target; ``error``:
#: cannot be landed (see problems); ``ignore``: left in the source folder (see notes).
ACTIONS = ("land", "skip", "create", "keep", "conflict", "error", "ignore")

OK_ACTIONS = ("land", "skip", "create", "keep", "ignore")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Item:
    """One source file and what ingest will do with it.

    Attributes
    ----------
    source : str
        Absolute path of the source file ("" for a README sfng creates).
    rel : str
        Path relative to the source folder.
    kind : str
        ``data`` (FITS/HDF5), ``readme``, ``doc``, ``table`` or ``other``.
    action : str
        One of :data:`ACTIONS`.
    dest : str or None
        Destination, relative to the store root.
    galaxy : str or None
        NED preferred name the file is stored under.
    input_name : str or None
        The name the file gave (OBJECT keyword, file name, position) before NED.
    how : str
        How the galaxy was found ("OBJECT keyword 'NGC628' -> NED (cache)").
    companions : list of str
        NED names of the other members of a pair the file shows (linked by ``links bygalaxy``).
    problems : list of str
        Why the file cannot be landed (action ``error``/``conflict``).
    notes : list of str
        Things worth knowing that do not stop it.
    size : int or None
        Source size in bytes.
    sha256 : str or None
        Source SHA-256 when the plan had to read it (to compare with an existing target).
    validation : dict or None
        The validation report of a file sent to ``uncalibrated/`` (or landed with ``force``).
    content : str
        For a README sfng creates: its text ("" for the blank template).
    """

    source: str
    rel: str
    kind: str
    action: str = "land"
    dest: str | None = None
    galaxy: str | None = None
    input_name: str | None = None
    how: str = ""
    companions: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    size: int | None = None
    sha256: str | None = None
    validation: dict | None = None
    manifest_missing: bool = False
    content: str = ""

    def fail(self, action: str, problem: str) -> "Item":
        self.action = action
        self.problems.append(problem)
        return self

    def as_dict(self):
        return {k: getattr(self, k) for k in ("source", "rel", "kind", "action", "dest", "galaxy",
                                              "input_name", "how", "companions", "problems",
                                              "notes", "size", "sha256", "validation")}


@dataclass
class Plan:
    """What :func:`execute` will do; ``ok`` when nothing is in conflict or in error."""

    store: object
    src_dir: Path
    survey: str
    tree: str
    ned_rename: bool
    items: list
    validation: str = "off"
    force: bool = False
    version: str = ""   # the data version landed ('' unversioned); survey is then SURVEY@VERSION

    @property
    def ok(self) -> bool:
        return all(i.action in OK_ACTIONS for i in self.items)

    def counts(self) -> dict:
        out = {a: 0 for a in ACTIONS}
        for i in self.items:
            out[i.action] += 1
        out["to_uncalibrated"] = sum(1 for i in self.items if i.action == "land" and i.dest
                                     and i.dest.startswith(QUARANTINE_TREE + "/") and i.kind == "data")
        return out

    def as_dict(self):
        return {"source": str(self.src_dir), "store": str(self.store.root), "survey": self.survey,
                "version": self.version, "tree": self.tree, "ned_rename": self.ned_rename, "validation": self.validation,
                "force": self.force, "ok": self.ok, "counts": self.counts(),
                "items": [i.as_dict() for i in self.items]}


def classify(name: str) -> str:
    """``data``, ``readme``, ``doc``, ``table`` or ``other`` from a file name.

    Data files are FITS names by the one rule of :mod:`sfng.fitsname` (what the validator judges
    and the index lists) and names a registered format may own (:mod:`sfng.formats`: e.g. HDF5
    samples), so everything ingest lands as data is indexed.
    """
    low = name.lower()
    if is_fits_name(name) or formats.claim_name(name) is not None:
        return "data"
    if _README_RE.match(name):
        return "readme"
    if low.endswith(DOC_SUFFIXES):
        return "doc"
    if low.endswith(TABLE_SUFFIXES):
        return "table"
    return "other"


def looks_like_fits(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(9) == b"SIMPLE  ="
    except OSError:
        return False

