"""Product formats: the one registry that generic code asks about a file.

Generic code (ingest, validation, the index crawler) never names a survey.  It asks this
registry whether a *format* claims a file, and if so lets the format answer the questions only
it can answer.  Plain FITS images, cubes and spectra tables are the default: a file no format
claims is handled by the generic code itself (its name rule is :mod:`sfng.fitsname`).

A format is an instance of :class:`Format` (subclass it and override what differs from the
default).  Each hook has a default meaning "nothing special, do the generic thing":

=====================  =========================================================================
hook                   question
=====================  =========================================================================
``claims_name(name)``  Cheap: might a file of this name be mine?  (crawler, ingest planning)
``recognise(p, hs)``   Is ``p`` mine?  ``hs``: its headers if the caller read them (per-HDU
                       mappings or :class:`sfng.fitsheader.HeaderBlock`), else None.
``landing(p)``         ``(tree, survey)`` the product belongs in, or None (ingest's choice);
                       tree ``tables`` or ``docs`` makes it a companion table or document.
``ingest_refusal(p)``  None, or why such a file must not be ingested (and what to do instead).
``name_galaxy(p, r)``  The galaxy of a product whose file name carries no NED name, as a
                       :class:`Naming` (``r``: a :class:`sfng.ned.Resolver`); None: generic
                       naming (OBJECT, file name, NED).  Raises :class:`NamingError`.
``identify(p, row)``   The names or identifiers of the galaxy a product (``row``: one of its
                       index rows, or None) shows, best first, looked up in the store's NED
                       cache (MaNGA: ``MaNGA <MANGAID>``); None: generic (OBJECT, file name).
``science_hdu(p)``     The HDU (index or EXTNAME) whose header the minimum FITS rules judge;
                       None: the first HDU holding data.
``header_defaults``    Cards the file means in its own convention (MaNGA's RFWHM as the beam),
                       laid under the judged HDU's cards; None: none.
``index_headers(p)``   ``(blocks, headers)`` read once for the validator and :meth:`describe`,
                       or ``(None, None)``: each reads the file its own way.
``describe(p, hs)``    The file's index rows: dicts keyed by
                       :data:`sfng.index.schema.FILES_COLUMNS` names, laid over the common
                       part of the row (path, size, sha256, validation...); may carry a
                       ``locator`` per object.
``readme_text(s)``     The survey README to write for folder ``s`` of this format, or None.
``as_hdulist(src)``    A non-FITS file (``src``: a path or a binary file object) as the astropy
                       ``HDUList`` of the FITS product it holds, for readers of FITS (the
                       service's spectra and previews); None: it has no FITS form.
=====================  =========================================================================

Registering: built-in and third-party formats alike are found through the entry-point group
``sfng.formats`` (``[project.entry-points."sfng.formats"]`` in a package's ``pyproject.toml``:
``myformat = "mypackage.sfng_format:FORMATS"``).  The object named may be a :class:`Format`
instance, a subclass, or an iterable of either.  :func:`register` adds one at run time (tests,
notebooks).  The first format, in registration order, whose hook says yes wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SfngError

#: Entry-point group through which packages (sfng's own survey packages included) add formats.
ENTRY_POINT_GROUP = "sfng.formats"


class NamingError(SfngError):
    """A claimed product whose galaxy cannot be named; the message says why (per-file error)."""


@dataclass
class Naming:
    """How a format named a product's galaxy (ingest shows ``how`` and ``notes`` in its plan)."""

    galaxy: str
    input_name: str = ""
    how: str = ""
    notes: list = field(default_factory=list)


class Format:
    """A product format; every hook defaults to the generic (plain FITS) behaviour."""

    #: Unique name, e.g. ``"manga-drp-cube"``.
    name: str = ""
    #: One line for ``--help`` and the docs.
    description: str = ""
    #: Whether the index describes these files (False: e.g. a survey's catalogue, which ingest
    #: lands in ``tables/`` through :meth:`landing`; the crawler treats it as plain FITS).
    indexed: bool = True

    def claims_name(self, name: str) -> bool:
        """Might a file called ``name`` be mine?  Cheap, name only (the crawler asks for every
        file).  Default: no."""
        return False

    def recognise(self, path, headers=None) -> bool:
        """Is ``path`` mine?  ``headers``: the per-HDU headers if the caller read them, else None.
        Default: :meth:`claims_name` of the file name."""
        from pathlib import PurePath

        # The crawler passes a Path already: building another costs more than the test.
        return self.claims_name((path if isinstance(path, PurePath) else PurePath(path)).name)

    def landing(self, path) -> tuple[str, str] | None:
        """``(tree, survey)`` the product belongs in: ``data`` or ``derived`` (derived products
        never land in ``data/``), or ``tables``/``docs`` for a companion catalogue or document.
        Unless ``--survey`` is given, the survey folder too.  Default: None, ingest's choice."""
        return None

    def ingest_refusal(self, path) -> str | None:
        """Why such a file must not be ingested, and what to do instead.  Default: None."""
        return None

    def name_galaxy(self, path, resolver) -> Naming | None:
        """The product's galaxy as a :class:`Naming`, asked when ingest renames by NED
        (``resolver``: a :class:`sfng.ned.Resolver`); raises :class:`NamingError`.  Default:
        None, the generic rules (OBJECT, file name, NED)."""
        return None

    def identify(self, path, row=None) -> list[str] | None:
        """The names or identifiers the galaxy of a product of mine is known by, best first; the
        index and ``sfng links bygalaxy`` look each up in the store's NED cache and overrides
        (offline), so give the key your :meth:`name_galaxy` records there (MaNGA: ``MaNGA
        <MANGAID>``).  ``row``: the index row being identified (a dict of
        ``sfng.index.schema.FILES_COLUMNS`` values, at least ``path``, ``locator``, ``object``,
        ``extra``), or None when the caller has none (read what you need from the file).
        A list, even empty, replaces the generic sources (OBJECT, a survey-style file name);
        the file name's NED prefix and the manifest still come first (:mod:`sfng.identity`).
        Default: None, the generic sources."""
        return None

    def science_hdu(self, path) -> int | str | None:
        """The HDU (index or EXTNAME) the minimum FITS rules judge.  Default: None, the first
        HDU holding data."""
        return None

    def header_defaults(self, path, primary_header) -> dict | None:
        """Cards the file means in its format's own convention but does not write in the FITS
        one, as ``{keyword: value}`` under the judged HDU's own cards (e.g. MaNGA: the
        reconstructed PSF ``RFWHM`` is the cube's beam, ``BMAJ``/``BMIN``).  Default: None."""
        return None

    def index_headers(self, path, *, measure_depth: bool = False):
        """``(blocks, headers)`` read once for the validator and :meth:`describe`.  Default:
        ``(None, None)``, each reads the file its own way."""
        return None, None

    def describe(self, path, headers=None, *, store_root=None, measure_depth: bool = False) -> list[dict]:
        """The file's index rows (dicts keyed by ``sfng.index.schema.FILES_COLUMNS`` names,
        laid over the common part of the row; a ``locator`` per object).  Default: none, the
        generic FITS row."""
        raise NotImplementedError(f"format {self.name!r} does not describe files")

    def readme_text(self, survey: str) -> str | None:
        """The README ingest writes for survey folder ``survey`` when the source has none.
        Default: None, the blank template."""
        return None

    def as_hdulist(self, source):
        """A file of this (non-FITS) format as the astropy ``HDUList`` of the FITS product it
        holds, in memory (``source``: a path or a binary file object, already checked against
        the manifest by the caller), so that code reading FITS reads it unchanged.  Default:
        None, no FITS form (the caller says it cannot read the file)."""
        return None

    def __repr__(self) -> str:
        return f"<sfng format {self.name!r}>"


_registered: list[Format] = []
_loaded = False


def _as_formats(obj) -> list[Format]:
    if isinstance(obj, type) and issubclass(obj, Format):
        return [obj()]
    if isinstance(obj, Format):
        return [obj]
    try:
        items = list(obj)
    except TypeError:
        raise SfngError(f"{obj!r} is not an sfng Format, Format subclass or list of them") from None
    return [f for item in items for f in _as_formats(item)]


def _load_entry_points() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # before loading: a format module may itself ask the registry
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        for fmt in _as_formats(ep.load()):
            if all(f.name != fmt.name for f in _registered):
                _registered.append(fmt)
    _claimed.clear()


def register(fmt, *, first: bool = False) -> list[Format]:
    """Add a format (instance, subclass or iterable); ``first``: ask it before the others.

    Returns what was added.  A name already registered is replaced.
    """
    _load_entry_points()
    added = _as_formats(fmt)
    for f in added:
        if not f.name:
            raise SfngError(f"{f!r}: a format needs a name")
        unregister(f.name)
        if first:
            _registered.insert(0, f)
        else:
            _registered.append(f)
    _claimed.clear()
    return added


def unregister(name: str) -> None:
    """Forget the format called ``name`` (no error if none)."""
    _registered[:] = [f for f in _registered if f.name != name]
    _claimed.clear()


def registered() -> list[Format]:
    """Every format, in the order they are asked."""
    _load_entry_points()
    return list(_registered)


def by_name(name: str) -> Format:
    for f in registered():
        if f.name == name:
            return f
    raise SfngError(f"no format {name!r} (known: {', '.join(f.name for f in registered()) or 'none'})")


def claim_name(name: str, *, indexed: bool | None = None) -> Format | None:
    """The format that may own a file called ``name`` (by name alone), else None; ``indexed``:
    only formats whose :attr:`Format.indexed` is that."""
    _load_entry_points()
    # The crawler asks twice per file (describe, then validate): remember the last few answers
    # (register/unregister forget them all, as does a registry list swapped in whole).
    global _claimed_for
    if _claimed_for is not _registered:
        _claimed.clear()
        _claimed_for = _registered
    got = _claimed.get(name)
    if got is None:  # the first claimant of any kind, indexed, not indexed (one pass for all)
        got = {None: None, True: None, False: None}
        for f in _registered:
            if got[bool(f.indexed)] is None and f.claims_name(name):
                got[bool(f.indexed)] = f
                if got[None] is None:
                    got[None] = f
        if len(_claimed) >= 64:
            _claimed.clear()
        _claimed[name] = got
    return got[None if indexed is None else bool(indexed)]


_claimed: dict = {}
_claimed_for: list | None = None


def claim(path, headers=None, *, indexed: bool | None = None) -> Format | None:
    """The format that owns ``path`` (its name, else its ``headers`` if given), else None;
    ``indexed`` as for :func:`claim_name`."""
    for f in registered():
        if (indexed is None or f.indexed == indexed) and f.recognise(path, headers):
            return f
    return None
