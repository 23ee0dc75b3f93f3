"""A file's galaxy: the NED name the store's own evidence gives it.

The index's ``galaxy`` column (``galaxy_src`` says which source gave it) and ``data/bygalaxy/``
(:mod:`sfng.links`) both come from :func:`identify`.  The sources are tried in this order; the
first that gives a name wins:

===============  ==============================================================================
``galaxy_src``   source
===============  ==============================================================================
``file-name``    The file name is sfng's ``<NAME>.<original>`` form (:func:`sfng.naming.parse`)
                 and ``NAME`` is a name the store knows: its NED cache, its overrides or its
                 galaxy table (``MESSIER_074.ngc628_co21.fits``, as ``ingest --ned-rename``
                 writes).
``manifest``     The NED name ingest recorded for the file in its folder's ``MANIFEST.sha256``
                 (:attr:`sfng.manifest.Entry.galaxy`).
``format-id``    A format that claims the file names it by its own identifier
                 (:meth:`sfng.formats.Format.identify`: ``MaNGA 1-209232`` for a MaNGA or GZ3D
                 product, the key MaNGA naming records in the NED cache with NED's answer or the
                 fallback), looked up in the NED cache and overrides.  A format that answers
                 (even with no name) replaces the two generic sources below.
``object``       The ``OBJECT`` keyword (file, else survey README), looked up in the NED cache and
                 overrides (a pair ``NGC 5194/5195``: its first member).
``survey-name``  The galaxy a survey-style file name names (:func:`sfng.naming.name_from_filename`:
                 ``ngc628_mips24.fits`` -> ``NGC 628``), looked up likewise.
``name-form``    The file name has the ``<NAME>.<original>`` form (``original`` with its own
                 extension) but the store does not know ``NAME``: ``NAME`` as written.
``position``     Only when asked (``sfng index build --resolve-names``): the nearest NED galaxy
                 to the row's centre (:meth:`sfng.ned.Resolver.by_position`).
``''``           Unknown.  The galaxy is never the file-name stem.
===============  ==============================================================================

Why this order: the first two are the store's own record of the name a file was stored under
(exact NED names, no look-up); a format's identifier is more specific than a generic keyword
(a MaNGA cube's OBJECT-like values are plate-IFUs, not galaxies); OBJECT is the file's own word;
a survey-style name is a guess ingest also makes; an unknown ``NAME.`` prefix is a claim nothing
confirmed; a position search is a guess by proximity, and needs the network.

Look-ups are offline: :class:`Names` reads the store's NED cache, overrides and galaxy table once
(the cache through :class:`sfng.ned.Resolver`, the same rules as ``Resolver(offline=True)``)
into plain dicts that cross process boundaries, and answers each distinct name once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import SfngError

#: ``galaxy_src`` values, in the order :func:`identify` tries them ('' = unknown).
SOURCES = ("file-name", "manifest", "format-id", "object", "survey-name", "name-form", "position")
#: Sources answered from names alone (re-checked on a rebuild when the name tables change).
LOOKED_UP = ("file-name", "manifest", "format-id", "object", "survey-name", "name-form", "")
#: Radius of the opt-in NED position search (arcsec), as ``ingest --by-position`` uses.
POSITION_RADIUS_ARCSEC = 30.0


@dataclass
class Names:
    """The store's name knowledge, read once, as plain dicts (picklable for index workers).

    Attributes
    ----------
    resolved : dict
        Normalised name -> NED name, as ``Resolver(offline=True).resolve`` answers it: overrides
        by input, then the cache by input or by NED name, then an override of that NED name.
    galaxy_keys : dict
        Normalised name or alias -> the galaxy table's name.
    positions : dict
        Normalised NED name -> ``(ra, dec)`` in degrees, from the cache.
    problems : list of str
        Tables that could not be read (their names are then unknown).
    """

    resolved: dict = field(default_factory=dict)
    galaxy_keys: dict = field(default_factory=dict)
    positions: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of_store(cls, store, galaxies=None) -> Names:
        """The names of ``store`` (``galaxies``: its galaxy table if already read)."""
        from .galaxies import read_galaxies
        from .naming import normalise
        from .ned import Resolver

        out = cls()
        try:
            table = galaxies if galaxies is not None else read_galaxies(store)
        except SfngError as exc:
            out.problems.append(str(exc))
            table = []
        for g in table:
            for n in g.names():
                out.galaxy_keys.setdefault(normalise(n), g.name)
        try:
            res = Resolver(store, offline=True)
            entries, overrides = res.entries(), res.overrides()
        except (SfngError, OSError) as exc:
            out.problems.append(f"NED name tables not used: {exc}")
            return out
        resolved = out.resolved
        for rec in entries:
            key = normalise(rec.ned_name)
            resolved.setdefault(key, rec.ned_name)
            if math.isfinite(rec.ra) and math.isfinite(rec.dec):
                out.positions.setdefault(key, (rec.ra, rec.dec))
        for rec in entries:
            key = normalise(rec.input)
            resolved[key] = rec.ned_name   # a row's own input wins
            if math.isfinite(rec.ra) and math.isfinite(rec.dec):
                out.positions.setdefault(key, (rec.ra, rec.dec))
        for key, ned in list(resolved.items()):
            ov = overrides.get(normalise(ned))
            if ov is not None:
                resolved[key] = ov["ned_name"]
        for key, ov in overrides.items():
            resolved[key] = ov["ned_name"]
        return out

    @property
    def empty(self) -> bool:
        """No name known at all (no cache, overrides or galaxy table): nothing to look up."""
        return not self.resolved and not self.galaxy_keys

    def canonical(self, name: str) -> str:
        """The galaxy table's name for NED name ``name`` (``name`` itself when not listed)."""
        from .naming import normalise

        return self.galaxy_keys.get(normalise(name), name)

    def lookup(self, name: str) -> str | None:
        """The store's name for ``name`` (any spelling; a pair: its first member), or None."""
        if not name:
            return None
        memo = self._memo
        if name in memo:
            return memo[name]
        from .naming import normalise, pair_members

        got = None
        tries = [name]
        try:
            members = pair_members(name)
        except Exception:  # noqa: BLE001 - an odd name: looked up as written only
            members = None
        if members:
            tries.append(members[0])
        for t in tries:
            key = normalise(t)
            ned = self.resolved.get(key)
            if ned is not None:
                got = self.galaxy_keys.get(normalise(ned), ned)
                break
            ned = self.galaxy_keys.get(key)
            if ned is not None:
                got = ned
                break
        memo[name] = got
        return got

    def learn(self, name: str, ned_name: str) -> None:
        """Record an answer found during this build (``--resolve-names``)."""
        from .naming import normalise

        self.resolved[normalise(name)] = ned_name
        self._memo.pop(name, None)

    def position(self, name: str):
        """``(ra, dec)`` of a NED name from the cache, or None."""
        from .naming import normalise

        return self.positions.get(normalise(name))


def name_prefix(file_name: str) -> tuple[str | None, bool]:
    """``(NAME, composed)`` of a ``<NAME>.<original>`` file name: the decoded NAME (None when the
    part before the first ``.`` is not an encoded galaxy name) and whether ``original`` still has
    an extension of its own (``MESSIER_074.cube.fits``; a survey's ``NGC_628_CUBE.FITS`` has not)."""
    from .naming import parse

    galaxy, original = parse(file_name)
    if galaxy is None:
        return None, False
    return galaxy, "." in original.strip(".")


@lru_cache(maxsize=4096)
def _looks_like_ned_name(name: str) -> bool:
    """Whether an unknown ``NAME.`` prefix may stand as the galaxy (``name-form``): NED names
    are words with spaces (``NGC 2403``, ``MaNGA 1-209232``), and a designation the name starts
    with must be all of it -- ``ngc4826.co10.fits`` and ``NGC4826_hera_co21.cube.fits`` are a
    survey's own names, not sfng's."""
    from .naming import AmbiguousName, name_from_filename, normalise

    if " " not in name:
        return False
    try:
        cand = name_from_filename(name)
    except AmbiguousName:
        return False
    return cand is None or normalise(cand) == normalise(name)


def generic_candidates(obj, file_name: str, original: str | None = None):
    """``(name, galaxy_src)`` the generic rules offer, best first, lazily: OBJECT, then a
    survey-style file name (of ``original``, the part after a ``NAME.`` prefix, when given)."""
    from .naming import AmbiguousName, candidates, name_from_filename

    if obj:
        for name, _ in candidates({"OBJECT": obj}, ""):
            yield name, "object"
    try:
        name = name_from_filename(original or file_name)
    except AmbiguousName:
        name = None
    if name:
        yield name, "survey-name"


def identify(names: Names, file_name: str, *, manifest: str | None = None, ids=None, obj=None,
             read=None) -> tuple[str, str]:
    """``(galaxy, galaxy_src)`` of a file (see the module documentation for the order).

    ``file_name``: the file's name; ``manifest``: the galaxy its manifest entry records;
    ``ids``: the names its format gives (:meth:`sfng.formats.Format.identify`; None when no
    format answers); ``obj``: its OBJECT value.  ``read``: instead of ``ids`` and ``obj``, a
    callable returning ``(ids, obj)``, called only when the file name and manifest do not name
    the galaxy (so :mod:`sfng.links` reads a header only then).  ``("", "")`` when unknown.
    """
    prefix, composed = name_prefix(file_name)
    if prefix is not None:
        got = names.lookup(prefix)
        if got:
            return got, "file-name"
    if manifest:
        return names.lookup(manifest) or names.canonical(manifest), "manifest"
    if not names.empty:   # (no name known at all: nothing to look up, nothing to read)
        if read is not None:
            ids, obj = read()
        if ids is not None:
            for i in ids:
                got = names.lookup(i)
                if got:
                    return got, "format-id"
        else:
            original = file_name.partition(".")[2] if composed else None
            for cand, src in generic_candidates(obj, file_name, original):
                got = names.lookup(cand)
                if got:
                    return got, src
    if prefix is not None and composed and _looks_like_ned_name(prefix):
        return names.canonical(prefix), "name-form"
    return "", ""


def unresolved(file_name: str, ids=None, obj=None) -> list[tuple[str, str]]:
    """``[(name, galaxy_src)]`` a file offers to a NED look-up by name (``--resolve-names``):
    its ``NAME.`` prefix, then its format's identifiers or the generic candidates."""
    prefix, composed = name_prefix(file_name)
    out = [(prefix, "file-name")] if prefix is not None and composed \
        and _looks_like_ned_name(prefix) else []
    if ids is not None:
        out += [(i, "format-id") for i in ids]
    else:
        original = file_name.partition(".")[2] if composed else None
        out += list(generic_candidates(obj, file_name, original))
    return out


def format_ids(fmt, path, row=None):
    """What ``fmt`` identifies the product (``row``) by: a list of names, or None (no format, or
    the generic rules).  A failing hook counts as "no name" (the row is not lost for it)."""
    if fmt is None:
        return None
    try:
        got = fmt.identify(path, row)
    except Exception:  # noqa: BLE001 - a broken file or plug-in names nothing
        return []
    return None if got is None else [str(g) for g in got if g]


def read_file_identity(path, readme_meta=None):
    """``(ids, obj)`` of a file read from disk (for callers without an index row): the claiming
    format's identifiers, else the ``OBJECT`` of its first HDU that has one (else the README's);
    ``([], None)`` for a file that is neither FITS nor claimed (the index does not describe it:
    only its name and manifest entry may name its galaxy)."""
    from pathlib import Path

    from . import formats
    from .fitsname import is_fits_name

    path = Path(path)
    fmt = formats.claim_name(path.name, indexed=True)
    if fmt is not None:
        return format_ids(fmt, path), None
    if not is_fits_name(path.name):
        return [], None   # not a product the index describes: only its name can say
    from .fitsheader import read_headers

    obj = None
    try:
        blocks = read_headers(path)
    except Exception:  # noqa: BLE001 - unreadable: nothing but the README to go on
        blocks = None
    if blocks:
        fmt = formats.claim(path, blocks, indexed=True)
        if fmt is not None:
            return format_ids(fmt, path), None
        for b in blocks:
            v = b.header.get("OBJECT")
            if isinstance(v, str) and v.strip():
                obj = v.strip()
                break
    if obj is None and readme_meta:
        v = readme_meta.get("OBJECT")
        obj = str(v).strip() if v not in (None, "") else None
    return None, obj


class Online:
    """Opt-in NED look-ups for what the offline sources leave unknown (``sfng index build
    --resolve-names``): names by NED name query, then rows by position.  Every answer goes
    through ``resolver`` (its cache keeps name answers); each name and position is asked once
    per build."""

    def __init__(self, names: Names, resolver, radius_arcsec: float = POSITION_RADIUS_ARCSEC):
        self.names = names
        self.resolver = resolver
        self.radius = radius_arcsec
        self.asked: dict = {}       # name -> NED name or None
        self.positions: dict = {}   # (ra, dec) rounded -> NED name or None
        self.notes: list = []

    def name(self, name: str) -> str | None:
        if name in self.asked:
            return self.asked[name]
        got = None
        try:
            rec = self.resolver.resolve(name)
            got = rec.ned_name
            self.names.learn(name, got)
            got = self.names.lookup(name) or got
        except SfngError as exc:
            self._note(exc)
        self.asked[name] = got
        return got

    def by_position(self, ra: float, dec: float) -> str | None:
        if not (math.isfinite(ra) and math.isfinite(dec)):
            return None
        key = (round(ra, 5), round(dec, 5))
        if key in self.positions:
            return self.positions[key]
        got = None
        try:
            rec = self.resolver.by_position(ra, dec, self.radius)
            if rec is not None:
                got = self.names.lookup(rec.ned_name) or rec.ned_name
        except SfngError as exc:
            self._note(exc)
        self.positions[key] = got
        return got

    def _note(self, exc) -> None:
        from .ned import Ambiguous, NotFound

        if not isinstance(exc, (NotFound, Ambiguous)) and len(self.notes) < 5:
            self.notes.append(str(exc))
