"""The effective header: survey README defaults overlaid by a file's own header.

This is the one place where README metadata meet file headers; validation and the index use
only :func:`effective_header`.  The file wins (specification: "Metadata specified in the
README will be superseded by metadata in the actual files"), and every key records where its
value came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: README keys about the survey folder, not defaults for its files' headers: ``VERSION``, the
#: data version the folder holds (docs/versions.md).
FOLDER_KEYS = ("VERSION",)

FILE = "file"
README = "readme"
_COMMENTARY = ("HISTORY", "COMMENT", "")


@dataclass
class EffectiveHeader(Mapping):
    """A read-only mapping of keyword -> value with provenance.

    Attributes
    ----------
    values : dict
        Keyword -> value (README values cast as in :mod:`sfng.readme`).
    source : dict
        Keyword -> ``"file"`` or ``"readme"``.
    history : list of str
        The file's HISTORY cards, in order (AIPS writes the beam there).
    comments : list of str
        The file's COMMENT cards.
    """

    values: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    comments: list = field(default_factory=list)

    def __getitem__(self, key):
        return self.values[key]

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def from_readme(self) -> list[str]:
        """Keywords whose value came from the survey README, in order."""
        return [k for k, s in self.source.items() if s == README]

    def origin(self, key: str) -> str | None:
        return self.source.get(key)


def effective_header(file_header, readme_metadata: Mapping | None = None) -> EffectiveHeader:
    """Overlay ``file_header`` on ``readme_metadata``.

    Parameters
    ----------
    file_header : astropy.io.fits.Header, or a sequence of ``(keyword, value)`` cards, or a mapping
        The file's own header (of the HDU that holds the data).  HISTORY and COMMENT cards are
        collected separately.
    readme_metadata : mapping, optional
        ``Readme.metadata`` of the file's survey folder.
    """
    out = EffectiveHeader()
    for key, value in (readme_metadata or {}).items():
        if key in FOLDER_KEYS:
            continue
        out.values[key] = value
        out.source[key] = README
    for key, value in _cards(file_header):
        if key == "HISTORY":
            out.history.append(str(value))
        elif key == "COMMENT":
            out.comments.append(str(value))
        elif key in _COMMENTARY:
            continue
        else:
            out.values[key] = value
            out.source[key] = FILE
    return out


def _cards(header):
    if header is None:
        return
    cards = getattr(header, "cards", None)
    if cards is not None:  # astropy Header
        for card in cards:
            yield card.keyword, card.value
    elif isinstance(header, Mapping):
        yield from header.items()
    else:
        yield from header


def survey_of(path, store_root=None) -> tuple[str | None, str | None]:
    """``(tree, survey)`` of a file in a store: ``data/THINGS/x.fits`` -> ``("data", "THINGS")``."""
    p = Path(path).resolve()
    if store_root is not None:
        try:
            parts = p.relative_to(Path(store_root).resolve()).parts
        except ValueError:
            parts = ()
        if len(parts) >= 3:
            return parts[0], parts[1]
        return (parts[0] if parts else None), None
    return None, p.parent.name


def readme_for(path, store_root=None) -> Path | None:
    """The survey README that governs ``path``, or None.

    In a store: ``<tree>/<SURVEY>/<SURVEY>_README.txt``.  Outside one: the
    ``<FOLDER>_README.txt`` of the file's folder.
    """
    p = Path(path).resolve()
    tree, survey = survey_of(p, store_root)
    if store_root is not None and tree and survey:
        cand = Path(store_root).resolve() / tree / survey / f"{survey}_README.txt"
        return cand if cand.is_file() else None
    cand = p.parent / f"{p.parent.name}_README.txt"
    return cand if cand.is_file() else None


class ReadmeCache:
    """Reads each survey README once; remembers errors so every file can report them."""

    def __init__(self):
        self._cache: dict[Path, object] = {}

    def get(self, readme_path):
        """``Readme`` for a path (None -> empty), or raises the README's ReadmeError."""
        from .readme import Readme, read_readme
        from .errors import ReadmeError

        if readme_path is None:
            return Readme()
        key = readme_path if isinstance(readme_path, Path) else Path(readme_path)
        if key not in self._cache:
            try:
                self._cache[key] = read_readme(key)
            except ReadmeError as exc:
                self._cache[key] = exc
        got = self._cache[key]
        if isinstance(got, Exception):
            raise got
        return got
