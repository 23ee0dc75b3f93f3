"""The tracer vocabulary: canonical names, aliases, and inference from a header.

The vocabulary is data (``sfng/data/tracers.yaml``), extended per store by ``sfng.yaml``::

    tracers:
      HCN(4-3): [HCN43]                              # name: list of aliases
      NH3(1,1): {aliases: [NH311], restfrq: 23.6944955e9}

A file's tracer comes, in this order, from ``MAPTYPE`` (file or README), from the rest
frequency, from ``INSTRUME`` + ``WAVELENG``, from ``FILTER``/``BAND``; otherwise it is unknown.
It is never guessed from nothing.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import SfngError

#: Relative tolerance on a rest frequency (1e-5 is 3 km/s: rest frequencies are exact numbers
#: copied between files, lines of different species are much further apart).
RESTFRQ_TOL = 1e-5
#: Relative tolerance on a band's WAVELENG.
WAVELENGTH_TOL = 0.1

_SQUASH = re.compile(r"[\s_()\-\[\]]")


def normalise(name: str) -> str:
    """Matching key: upper case without spaces, '_', '-', parentheses or brackets
    ('12CO(1-0)' -> '12CO10', 'H-alpha' -> 'HALPHA')."""
    return _SQUASH.sub("", str(name).upper())


@dataclass
class Tracer:
    name: str
    kind: str = ""
    aliases: list = field(default_factory=list)
    restfrq: float | None = None          # Hz
    instrument: list = field(default_factory=list)
    wavelength: float | None = None       # micron, a band's (observed frame)
    restwav: tuple = ()                   # micron, an optical line's rest vacuum wavelength(s)
    filters: list = field(default_factory=list)


class Vocabulary:
    """Tracers by canonical name, with alias look-up and header inference."""

    def __init__(self, tracers: list[Tracer]):
        self.tracers = {t.name: t for t in tracers}
        self._keys: dict[str, str] = {}
        for t in tracers:
            for n in (t.name, *t.aliases):
                self._keys.setdefault(normalise(n), t.name)
        self._filters = {normalise(f): t.name for t in tracers for f in t.filters}
        self._freqs = sorted((t.restfrq, t.name) for t in tracers if t.restfrq)

    def names(self) -> list[str]:
        return list(self.tracers)

    def get(self, name) -> str | None:
        """Canonical name for ``name`` (any alias), or None."""
        if name is None:
            return None
        return self._keys.get(normalise(name))

    def lookup(self, name: str) -> str:
        """Canonical name for ``name``; raises SfngError naming the nearest known tracers."""
        got = self.get(name)
        if got is not None:
            return got
        raise SfngError(f"unknown tracer {name!r}" + self._suggest(name)
                        + "; see `sfng index stats --by tracer` or add it to sfng.yaml `tracers:`")

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        key = normalise(name)
        close = difflib.get_close_matches(key, list(self._keys), n=n * 3, cutoff=0.5)
        out = []
        for k in close:
            if self._keys[k] not in out:
                out.append(self._keys[k])
        return out[:n]

    def _suggest(self, name) -> str:
        s = self.suggestions(name)
        return f"; did you mean {' or '.join(s)}?" if s else ""

    # -- inference ---------------------------------------------------------------------------
    def from_restfrq(self, hz) -> str | None:
        if not _num(hz) or hz <= 0:
            return None
        for f, name in self._freqs:
            if abs(hz - f) <= RESTFRQ_TOL * f:
                return name
        return None

    def from_band(self, instrume, waveleng) -> str | None:
        if not instrume or not _num(waveleng) or waveleng <= 0:
            return None
        um = waveleng * 1e6 if waveleng < 1e-2 else waveleng   # WAVELENG in metres -> micron
        inst = str(instrume).upper()
        for t in self.tracers.values():
            if t.wavelength and any(i.upper() in inst for i in t.instrument) \
                    and abs(um - t.wavelength) <= WAVELENGTH_TOL * t.wavelength:
                return t.name
        return None

    def from_filter(self, value) -> str | None:
        return self._filters.get(normalise(value)) if value not in (None, "") else None

    def infer(self, header: Mapping, restfrq=None) -> tuple[str | None, str]:
        """``(tracer, how)`` for an (effective) header; ``(None, "")`` when nothing says.

        ``how`` is ``maptype``, ``restfrq``, ``instrument`` or ``filter``.  A MAPTYPE outside
        the vocabulary is kept as written (upper case): it is what the data declare.
        """
        maptype = header.get("MAPTYPE")
        if isinstance(maptype, str) and maptype.strip():
            return (self.get(maptype) or maptype.strip().upper()), "maptype"
        if restfrq is None:
            restfrq = header.get("RESTFRQ", header.get("RESTFREQ"))
        got = self.from_restfrq(restfrq)
        if got:
            return got, "restfrq"
        got = self.from_band(header.get("INSTRUME"), header.get("WAVELENG"))
        if got:
            return got, "instrument"
        for key in ("FILTER", "BAND", "FILTER1", "FILTNAM"):
            got = self.from_filter(header.get(key))
            if got:
                return got, "filter"
        return None, ""


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _tracer(name, spec) -> Tracer:
    if isinstance(spec, (list, tuple)):
        spec = {"aliases": list(spec)}
    spec = dict(spec or {})
    inst = spec.get("instrument") or []
    return Tracer(name=str(name), kind=str(spec.get("kind", "")),
                  aliases=[str(a) for a in spec.get("aliases") or []],
                  restfrq=float(spec["restfrq"]) if spec.get("restfrq") else None,
                  instrument=[inst] if isinstance(inst, str) else list(inst),
                  wavelength=float(spec["wavelength"]) if spec.get("wavelength") else None,
                  restwav=_restwav(spec.get("restwav")),
                  filters=[str(f) for f in spec.get("filters") or []])


def _restwav(v) -> tuple:
    """``restwav``: one number or a list of them (micron)."""
    if v is None or v == "":
        return ()
    vals = v if isinstance(v, (list, tuple)) else [v]
    return tuple(float(x) for x in vals)


def _yaml_entries() -> dict:
    """The built-in vocabulary as declared: ``sfng/data/tracers.yaml``."""
    from importlib import resources

    from . import yamlio

    text = (resources.files("sfng") / "data" / "tracers.yaml").read_text(encoding="utf-8")
    return yamlio.safe_load(text)


def compiled_json() -> str:
    """``sfng/data/tracers.json``: the YAML vocabulary as JSON, written by ``python -m
    sfng.docs_gen`` and checked against the YAML by ``tests/test_tracers.py``.  A query reads it
    with the standard library's json, sparing PyYAML's import (12 ms of a 0.15 s ``sfng
    find``)."""
    import json

    return json.dumps(_yaml_entries(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def _builtin() -> tuple:
    import json
    from importlib import resources

    try:
        entries = json.loads((resources.files("sfng") / "data" / "tracers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):   # a checkout without the compiled copy: the YAML itself
        entries = _yaml_entries()
    return tuple((k, v) for k, v in entries.items())


def vocabulary(extra: Mapping | None = None) -> Vocabulary:
    """The built-in vocabulary extended by ``extra`` (``sfng.yaml``'s ``tracers:``).

    An ``extra`` entry whose name is already known (as a name or an alias) adds its aliases
    (and other fields) to that tracer; a new name adds a tracer.
    """
    base = {name: _tracer(name, spec) for name, spec in _builtin()}
    keys = {normalise(n): t.name for t in base.values() for n in (t.name, *t.aliases)}
    for name, spec in (extra or {}).items():
        add = _tracer(name, spec)
        known = keys.get(normalise(name))
        if known:
            t = base[known]
            t.aliases += [a for a in add.aliases if a not in t.aliases]
            t.restfrq = add.restfrq or t.restfrq
            t.instrument = add.instrument or t.instrument
            t.wavelength = add.wavelength or t.wavelength
            t.restwav = add.restwav or t.restwav
            t.filters += add.filters
        else:
            base[add.name] = add
        for n in (add.name, *add.aliases):
            keys.setdefault(normalise(n), known or add.name)
    return Vocabulary(list(base.values()))


def for_store(store=None) -> Vocabulary:
    """The vocabulary of ``store`` (built-in only when None)."""
    extra = (store.config.get("tracers") if store is not None else None) or {}
    if not isinstance(extra, Mapping):
        raise SfngError(f"{getattr(store, 'root', '')}/sfng.yaml: `tracers:` must be a mapping of "
                        f"name -> aliases, e.g. tracers: {{HCN(4-3): [HCN43]}}")
    return vocabulary(extra)


def lookup(name: str, store=None) -> str:
    """Canonical tracer for ``name`` (any alias); SfngError with suggestions when unknown."""
    return for_store(store).lookup(name)
