"""The galaxy name of a MaNGA/GZ3D product (NED by position, else the stable ``MaNGA <MANGAID>``
fallback) and the README sfng writes for a MaNGA survey folder.
"""

from __future__ import annotations

import math
import os
import re
import weakref
from dataclasses import dataclass

from ...errors import SfngError
from .describers import gz3d_metadata
from .facts import FALLBACK_SOURCE, POSITION_RADIUS_ARCSEC, READMES
from .headers import read_header_dicts
from .recognise import header_list, parse_name, recognise
from .rows import as_float


def readme_text(survey: str) -> str:
    """The survey README sfng writes for a MaNGA/GZ3D/MMU folder (metadata block + prose)."""
    from ...readme import render

    meta, prose = READMES[survey]
    return render(meta, prose)


#: resolver -> {(ra, dec, radius): (name or None, note)}: NED is asked once per position per resolver.
_POSITIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fallback_name(mangaid: str) -> str:
    """The stable galaxy name used when NED gives none: ``MaNGA 1-209232``."""
    mangaid = str(mangaid).strip()
    if not re.fullmatch(r"\d{1,2}-\d{1,8}", mangaid):
        raise SfngError(f"invalid MaNGA-ID {mangaid!r} (expected like 1-209232)")
    return f"MaNGA {mangaid}"


@dataclass
class NameChoice:
    """A product's galaxy name and how it was found (``ned-position``, ``override``, ``fallback``)."""

    galaxy: str
    how: str
    note: str = ""


def product_identity(path, headers=None) -> dict:
    """``{"mangaid", "ra", "dec", "plateifu"}`` of a product (OBJRA/OBJDEC, else IFURA/IFUDEC)."""
    kind = recognise(path, headers)
    info = parse_name(os.path.basename(str(path))) or {}
    if kind == "gz3d":
        meta = gz3d_metadata(path)
        return {"mangaid": meta.get("mangaid") or info.get("mangaid"), "ra": as_float(meta.get("ra")),
                "dec": as_float(meta.get("dec")), "plateifu": ""}
    hs = header_list(headers) or read_header_dicts(path, max_hdus=1)
    prim = hs[0]
    ra, dec = as_float(prim.get("OBJRA")), as_float(prim.get("OBJDEC"))
    if math.isnan(ra) or math.isnan(dec):
        ra, dec = as_float(prim.get("IFURA")), as_float(prim.get("IFUDEC"))
    return {"mangaid": str(prim.get("MANGAID", "") or "").strip(), "ra": ra, "dec": dec,
            "plateifu": str(prim.get("PLATEIFU", "") or info.get("plateifu", "")).strip()}


def identify(path, row=None) -> list[str]:
    """``["MaNGA <MANGAID>"]`` for a MaNGA/GZ3D product (:meth:`sfng.formats.Format.identify`):
    the key :func:`galaxy_name` records in the NED name cache with NED's answer by position or
    the fallback, so the index names a product ingested without ``--ned-rename`` as ingest
    would have.  The MaNGA-ID comes from ``row`` (its ``extra`` column) when given, else from
    the file; ``[]`` when there is none (a Multimodal-Universe row keyed by plate-IFU)."""
    from ...extras import parse_extra

    mangaid = None
    if row is not None:
        mangaid = parse_extra(str(row.get("extra") or "")).get("mangaid")
    if not mangaid and (row is None or not str(row.get("locator") or "").startswith("#")):
        try:
            mangaid = product_identity(path).get("mangaid")
        except (SfngError, OSError, ValueError, KeyError, IndexError):
            mangaid = None
    try:
        return [fallback_name(str(mangaid))] if mangaid else []
    except SfngError:
        return []


def galaxy_name(identity: dict, resolver=None, radius_arcsec: float = POSITION_RADIUS_ARCSEC) -> NameChoice:
    """The galaxy name of a MaNGA/GZ3D product.

    Order: a manual override for ``MaNGA <MANGAID>`` (``sfng names override "MaNGA 1-209232"
    "NGC 1234"``) or a cached NED answer for it; NED's nearest galaxy within ``radius_arcsec`` of
    the object position (``Resolver.by_position``, asked once per position per resolver); else
    the fallback ``MaNGA <MANGAID>``, recorded in the name cache with source ``manga-fallback``.
    When NED later answers by position, the cache row of ``MaNGA <MANGAID>`` is replaced by
    NED's name, so every product of that galaxy is renamed consistently on the next ingest.
    """
    fb = fallback_name(identity["mangaid"])
    if resolver is None:
        return NameChoice(fb, "fallback", "no NED resolver")
    from ... import ned
    from ...naming import normalise

    try:
        ov = resolver.overrides().get(normalise(fb))
        if ov and ov.get("ned_name"):
            return NameChoice(ov["ned_name"], "override")
        row = resolver.lookup(fb)
        if row and row.get("source") != FALLBACK_SOURCE and row.get("ned_name"):
            return NameChoice(row["ned_name"], "cache")
    except (AttributeError, OSError):
        pass
    ra, dec = identity["ra"], identity["dec"]
    note = "no position"
    if not (math.isnan(ra) or math.isnan(dec)):
        memo = _POSITIONS.setdefault(resolver, {})
        key = (round(ra, 6), round(dec, 6), radius_arcsec)
        if key not in memo:
            try:
                rec = resolver.by_position(ra, dec, radius_arcsec)
                memo[key] = (rec.ned_name if rec is not None else None,
                             f"NED lists no galaxy within {radius_arcsec:g} arcsec")
            except (ned.Unavailable, ned.Ambiguous, SfngError) as exc:
                memo[key] = (None, str(exc))
        name, note = memo[key]
        if name:
            _record(resolver, fb, name, ra, dec, "ned-position")
            return NameChoice(name, "ned-position")
    _record(resolver, fb, fb, ra, dec, FALLBACK_SOURCE)
    return NameChoice(fb, "fallback", note)


def naming(path, resolver):
    """The :class:`sfng.formats.Naming` of a MaNGA/GZ3D product for ingest.

    Raises :class:`sfng.formats.NamingError` when the file gives no usable MaNGA-ID/position.
    """
    from ...formats import Naming, NamingError

    try:
        ident = product_identity(path)
        choice = galaxy_name(ident, resolver)
    except (SfngError, OSError, ValueError, KeyError) as exc:
        raise NamingError(f"MaNGA product without a usable MaNGA-ID/position: {exc}") from exc
    out = Naming(choice.galaxy,
                 input_name=f"MaNGA {ident['mangaid']} at RA {ident['ra']:.5f} Dec {ident['dec']:+.5f}")
    if choice.how == "fallback":
        out.how = (f"MaNGA-ID {ident['mangaid']} -> fallback name {choice.galaxy!r} (recorded in "
                   f"the name cache as {FALLBACK_SOURCE})")
        if choice.note:
            out.notes.append(f"no NED name by position: {choice.note}")
    else:
        out.how = (f"OBJRA/OBJDEC of MaNGA {ident['mangaid']} -> {choice.how} "
                   f"(nearest NED galaxy within {POSITION_RADIUS_ARCSEC:g} arcsec)")
    return out


def _record(resolver, fb: str, name: str, ra: float, dec: float, source: str) -> None:
    """Remember ``fb`` (``MaNGA <MANGAID>``) -> ``name`` in the resolver's name cache (a resolver
    without one, such as a test's stand-in, is left as it is)."""
    remember = getattr(resolver, "remember", None)
    if remember is None:
        return
    try:
        remember(fb, name, ra, dec, source)
    except OSError:
        pass  # the cache is an optimisation: the name is still used for this run
