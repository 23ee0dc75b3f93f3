"""Naming the galaxy of each source file: a format's own rule (:mod:`sfng.formats`), else OBJECT,
the file name and the pairs table, resolved through NED (one batch question), or by position.
"""

from __future__ import annotations

from pathlib import Path

from .. import formats
from ..errors import SfngError
from .plan import Item

#: Search radius around the image centre for ``by_position`` (arcsec).
BY_POSITION_RADIUS_ARCSEC = 30.0


def read_source_headers(path: Path):
    """``(primary header, first image header, problem)`` of a FITS file.

    Headers come from :mod:`sfng.fitsheader` (header blocks only, no data read), the image
    header as its card text (turned into an astropy Header only for a position search); astropy
    is the fallback reader.
    """
    from ..fitsheader import read_headers

    try:
        blocks = read_headers(path, max_hdus=3)
        primary = blocks[0].header
        image = blocks[0].text
        if not primary.get("NAXIS"):
            image = next((b.text for b in blocks[1:] if (b.header.get("NAXIS") or 0) >= 2), image)
        return primary, image, None
    except Exception:  # noqa: BLE001 - let astropy have a go, it reports its own way
        pass
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header.copy()
            image = primary
            if primary.get("NAXIS", 0) == 0:
                for hdu in hdul[1:3]:
                    if hdu.header.get("NAXIS", 0) >= 2:
                        image = hdu.header.copy()
                        break
            return primary, image, None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a per-file report
        return None, None, f"FITS header unreadable ({type(exc).__name__}: {exc})"


def _centre(header):
    """J2000 (ra, dec) in degrees of the image centre, or None without a celestial WCS."""
    import warnings

    from astropy.wcs import WCS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(header, str):
                from astropy.io import fits

                header = fits.Header.fromstring(header)
            full = WCS(header)
            w = full.celestial
            if w.naxis != 2 or full.wcs.lng < 0 or full.wcs.lat < 0:
                return None
            # the celestial pair need not be axes 1 and 2 of the file; the sub-WCS keeps the
            # file's axis order
            sizes = [header.get(f"NAXIS{k + 1}") for k in sorted((full.wcs.lng, full.wcs.lat))]
            if not all(sizes):
                return None
            sky = w.pixel_to_world(*[(n - 1) / 2.0 for n in sizes])
            icrs = sky.icrs
            return float(icrs.ra.deg) % 360.0, float(icrs.dec.deg)
    except Exception:  # noqa: BLE001 - no usable WCS: no position
        return None


class SourceNames:
    """Resolves the names of one plan, remembering answers and failures (one NED question per
    distinct name, even when NED is down)."""

    def __init__(self, resolver):
        self.resolver = resolver
        self._memo: dict = {}

    def prefetch(self, names, progress=None) -> None:
        """Resolve ``names`` in one batch: once NED proves unreachable the resolver stops asking
        it for the rest of the batch (no retry storm), and the cache is written once."""
        todo = [n for n in dict.fromkeys(names) if n not in self._memo]
        if not todo or not hasattr(self.resolver, "resolve_many"):
            return  # a resolver without batches (a test's stand-in) answers one name at a time
        cb = (lambda i, n, name, result: progress(i, n, name, "names")) if progress else None
        for name, result in self.resolver.resolve_many(todo, progress=cb).items():
            self._memo[name] = result

    def resolve(self, name: str):
        """NameRecord, or raises the resolver's SfngError (NotFound, Unavailable, ...)."""
        if name not in self._memo:
            try:
                self._memo[name] = self.resolver.resolve(name)
            except SfngError as exc:
                self._memo[name] = exc
        got = self._memo[name]
        if isinstance(got, Exception):
            raise got
        return got


def _describe(rec) -> str:
    src = getattr(rec, "source", "") or "?"
    return f"NED ({src})"


def _not_found_kind(exc) -> str:
    name = type(exc).__name__
    return {"NotFound": "unknown to NED", "Unavailable": "NED unavailable",
            "Ambiguous": "ambiguous", "AmbiguousName": "ambiguous"}.get(name, "not resolved")


def names_offered(primary_header, fname: str) -> list[str]:
    """Every name (pair members split) a file offers, for one batch NED look-up."""
    from .. import naming

    try:
        cands = naming.candidates(primary_header, fname)
    except SfngError:
        cands = [naming.object_from(primary_header, "x")] if primary_header is not None else []
    out = []
    for cand, _how in cands:
        if not cand:
            continue
        members = naming.pair_members(cand)
        out.extend(members or [cand])
    return out


def name_item(item: Item, primary_header, image_header, names: SourceNames, by_position: bool,
               pairs: dict) -> None:
    """Fill ``item.galaxy``, ``how``, ``companions`` (or a problem) for a data file."""
    from .. import naming

    fname = Path(item.rel).name
    try:
        cands = naming.candidates(primary_header, fname)
    except SfngError as exc:  # AmbiguousName from the file name
        obj, how = naming.object_from(primary_header, "x") if primary_header is not None else (None, "")
        if not obj:
            item.fail("error", f"no galaxy name: {exc}")
            return
        item.notes.append(f"file name ignored: {exc}")
        cands = [(obj, how)]
    if not cands and by_position:
        pos = _centre(image_header) if image_header is not None else None
        if pos is None:
            item.fail("error", "no OBJECT keyword, no galaxy in the file name, and no celestial "
                               "WCS to search NED by position")
            return
        try:
            rec = names.resolver.by_position(pos[0], pos[1], BY_POSITION_RADIUS_ARCSEC)
        except SfngError as exc:
            item.fail("error", f"NED search by position failed ({_not_found_kind(exc)}): {exc}")
            return
        if rec is None:
            item.fail("error", f"no galaxy in NED within {BY_POSITION_RADIUS_ARCSEC:g} arcsec of the "
                               f"image centre (RA {pos[0]:.5f}, Dec {pos[1]:+.5f} deg)")
            return
        item.input_name = f"RA {pos[0]:.5f} Dec {pos[1]:+.5f}"
        item.galaxy = rec.ned_name
        item.how = (f"image centre RA {pos[0]:.5f} Dec {pos[1]:+.5f} deg -> nearest NED galaxy "
                    f"within {BY_POSITION_RADIUS_ARCSEC:g} arcsec")
    elif not cands:
        item.fail("error", "no galaxy name: no OBJECT keyword and no galaxy in the file name "
                           "(set OBJECT, rename the file, or use --by-position)")
        return
    else:
        chosen = None
        for cand, how in cands:
            members = naming.pair_members(cand)
            first = members[0] if members else cand
            try:
                rec = names.resolve(first)
            except SfngError as exc:
                kind = _not_found_kind(exc)
                if chosen is None and kind == "unknown to NED" and len(cands) > 1:
                    item.notes.append(f"{how} {cand!r} is unknown to NED; trying the next source")
                    continue
                if chosen is None:
                    item.fail("error", f"{how} {cand!r}: {kind}: {exc}")
                    return
                item.notes.append(f"{how} {cand!r} not checked ({kind})")
                continue
            if chosen is None:
                chosen = (cand, how, rec, members)
            elif naming.normalise(rec.ned_name) != naming.normalise(chosen[2].ned_name):
                item.fail("error", f"{chosen[1]} {chosen[0]!r} is NED {chosen[2].ned_name!r} but the "
                                   f"{how} {cand!r} is NED {rec.ned_name!r}; sfng does not guess: "
                                   f"set OBJECT or rename the file")
                return
        if chosen is None:
            item.fail("error", "no source of the galaxy name resolved in NED")
            return
        cand, how, rec, members = chosen
        item.input_name, item.galaxy = cand, rec.ned_name
        item.how = f"{how} {cand!r} -> {_describe(rec)}"
        for other in (members or [])[1:]:
            try:
                item.companions.append(names.resolve(other).ned_name)
            except SfngError as exc:
                item.notes.append(f"pair member {other!r} not resolved ({_not_found_kind(exc)}); "
                                  f"no link for it")
        if members:
            item.how += f" (pair {cand!r}: primary {members[0]!r})"
    for comp in pairs.get(item.galaxy, []):
        if comp not in item.companions:
            item.companions.append(comp)


def dest_name(item: Item, original: str) -> str:
    """``<NED_NAME>.<original>``, keeping a name that already starts with it."""
    from .. import naming

    prefix = naming.encode_galaxy(item.galaxy) + "."
    if original.startswith(prefix) and len(original) > len(prefix):
        item.notes.append("already named after its NED galaxy; name kept")
        return original
    return naming.compose(item.galaxy, original)


def format_names(item: Item, path: Path, fmt, resolver) -> bool:
    """Let ``fmt`` name ``item``'s galaxy; False when it leaves naming to the generic rules."""
    refusal = fmt.ingest_refusal(path)
    if refusal:
        item.fail("error", refusal)
        return True
    try:
        got = fmt.name_galaxy(path, resolver)
    except formats.NamingError as exc:
        item.fail("error", str(exc))
        return True
    if got is None:
        return False
    item.galaxy, item.input_name, item.how = got.galaxy, got.input_name, got.how
    item.notes.extend(got.notes)
    return True

