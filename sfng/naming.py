"""File-name convention of the store: ``<NED_NAME>.<original file name>``.

The specification stores every file under the NED preferred name of its galaxy, spaces replaced
by ``_``, separated from the survey's own file name by a ``.``::

    compose("MESSIER 064", "NGC_4826_NA_CUBE_THINGS.FITS") == "MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS"

NED names can hold characters that are unsafe or ambiguous in a file name (``ESO 269- G?066``,
``MESSIER 081:[CKT2009] d0926+70``), so the galaxy part is encoded reversibly (see
:func:`encode_galaxy` and ``docs/naming.md``): ``parse(compose(g, o)) == (g, o)`` for every
galaxy ``g`` and original name ``o``, and a composed name is always one safe path component.

The module also says where a file's object comes from (:func:`object_from`: the ``OBJECT``
keyword, else the survey-style file name), recognises galaxy pairs (:func:`pair_members`) and
normalises names into cache keys (:func:`normalise`).  It never asks NED; :mod:`sfng.ned` does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from .errors import SfngError

#: Characters kept as they are in the galaxy part of a file name.  Everything else except the
#: space (written ``_``) is percent-encoded from its UTF-8 bytes, upper-case hex: ``?`` -> ``%3F``.
SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-")
#: Longest file name most file systems accept (bytes).
NAME_MAX = 255
#: Longest store path (``data/<SURVEY>/<NAME>``, bytes of UTF-8) the index holds whole: the
#: width of SFNG-INDEX.fits' ``path`` column; ``sfng ingest`` refuses a file that would exceed it.
STORED_PATH_MAX = 240


class AmbiguousName(SfngError):
    """A file names more than one galaxy and is not a recognised pair; sfng does not guess."""


_SURROGATE = re.compile("[\udc80-\udcff]")


def shown(text) -> str:
    """``text`` as UTF-8 can carry it: the bytes of a file name that is not UTF-8 (which
    ``os.fsdecode`` gives as surrogate escapes, PEP 383) written ``\\xNN``; the rest unchanged.
    For outputs only: the stored name keeps its bytes."""
    text = str(text)
    if text.isascii():
        return text
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _has_control(name: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in name)


def check_component(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a safe single path component, else raise SfngError.

    Refuses empty names, ``.`` and ``..``, path separators, control characters (a newline in a
    name would fake lines in every listing, manifest and ``sha256sum -c`` report), and a leading
    ``-`` (which a shell tool would read as an option).
    """
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or _has_control(name) or name.startswith("-"):
        raise SfngError(f"unsafe {what} {name!r}: it must be one path component without '/', '..', "
                        f"control characters or a leading '-'")
    if what.startswith("survey") and VERSION_SEP in name:
        split_survey_folder(name)   # '@' only between a survey and its version (docs/versions.md)
    return name


# ---------------------------------------------------------------------------------------------
# Data versions: data/<SURVEY>@<VERSION>/ (docs/versions.md)
# ---------------------------------------------------------------------------------------------

#: Separates survey and version in a survey folder name (``THINGS@v2``).
VERSION_SEP = "@"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Longest version string (the index's ``version`` column).
VERSION_MAX = 24


def check_version(version: str) -> str:
    """Return ``version`` if it is a legal data version (letters, digits, ``.``, ``_``, ``-``;
    starting with a letter or digit; at most :data:`VERSION_MAX` characters), else raise."""
    if not isinstance(version, str) or not _VERSION_RE.match(version) or len(version) > VERSION_MAX \
            or version in (".", ".."):
        raise SfngError(f"invalid data version {version!r}: a version holds letters, digits, '.', "
                        f"'_' and '-' (starting with a letter or digit, at most {VERSION_MAX} "
                        f"characters), e.g. v2 or DR17")
    return version


def survey_folder(survey: str, version: str | None = None) -> str:
    """The folder name of ``survey`` at ``version`` (``THINGS``, ``THINGS@v2``)."""
    if VERSION_SEP in survey:
        raise SfngError(f"invalid survey name {survey!r}: '{VERSION_SEP}' separates a survey from its "
                        f"version (data/SURVEY{VERSION_SEP}VERSION/); give the version with --version")
    if not version:
        return survey
    return f"{survey}{VERSION_SEP}{check_version(version)}"


def split_survey_folder(name: str) -> tuple[str, str]:
    """``(survey, version)`` of a survey folder name: ``THINGS@v2`` -> ``("THINGS", "v2")``,
    ``THINGS`` -> ``("THINGS", "")``.  Raises SfngError for a misplaced ``@``."""
    survey, sep, version = name.partition(VERSION_SEP)
    if not sep:
        return name, ""
    if not survey or VERSION_SEP in version:
        raise SfngError(f"invalid survey folder {name!r}: '{VERSION_SEP}' may appear once, between "
                        f"the survey and its version (SURVEY{VERSION_SEP}VERSION)")
    return survey, check_version(version)


def version_key(version: str):
    """Natural sort key of a version: ``v1.2 < v1.10 < v2``; the unversioned ``''`` is lowest."""
    parts = re.findall(r"\d+|\D+", version or "")
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower()) for p in parts)


def current_version(versions, chosen=None) -> str:
    """The current version among ``versions`` (strings, ``''`` for the unversioned folder):
    ``chosen`` when it is one of them (``sfng.yaml`` ``versions: {SURVEY: V}``), else the highest
    by :func:`version_key`."""
    versions = set(versions)
    if chosen is not None and str(chosen) in versions:
        return str(chosen)
    return max(versions, key=version_key) if versions else ""


# ---------------------------------------------------------------------------------------------
# Encoding of the galaxy part
# ---------------------------------------------------------------------------------------------

def encode_galaxy(galaxy: str) -> str:
    """The file-name form of a NED name: spaces -> ``_``, other unsafe characters -> ``%XX``.

    Letters, digits, ``+`` and ``-`` stay; a space becomes ``_``; every other character,
    including a literal ``_``, ``.``, ``%``, ``/``, ``?``, ``:``, ``[`` and ``]``, becomes ``%``
    and two upper-case hex digits per UTF-8 byte.  A leading ``-`` is encoded too (``%2D``), so
    the result never starts with ``-``, never contains ``/`` or ``.`` and is never ``..``.

    >>> encode_galaxy("ESO 269- G?066")
    'ESO_269-_G%3F066'
    """
    if not isinstance(galaxy, str) or not galaxy:
        raise SfngError(f"invalid galaxy name {galaxy!r}: it must be a non-empty string")
    out = []
    for i, ch in enumerate(galaxy):
        if ch == " ":
            out.append("_")
        elif ch in SAFE_CHARS and not (i == 0 and ch == "-"):
            out.append(ch)
        else:
            try:
                raw = ch.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise SfngError(f"invalid galaxy name {galaxy!r}: {exc}") from exc
            out.append("".join(f"%{b:02X}" for b in raw))
    return "".join(out)


_ENCODED = re.compile(r"(?:[A-Za-z0-9+\-_]|%[0-9A-F]{2})+")


def decode_galaxy(text: str) -> str | None:
    """Inverse of :func:`encode_galaxy`; None when ``text`` is not an encoded galaxy name."""
    if not text or not _ENCODED.fullmatch(text) or text.startswith("-"):
        return None
    buf = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            buf.append(int(text[i + 1:i + 3], 16))
            i += 3
            continue
        buf.extend(b" " if ch == "_" else ch.encode("ascii"))
        i += 1
    try:
        name = buf.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Only the canonical encoding decodes: '%41' for 'A' would make two file names for one galaxy.
    return name if encode_galaxy(name) == text else None


def compose(galaxy: str, original: str) -> str:
    """The store file name of ``original`` (a survey's file name) for ``galaxy`` (a NED name).

    >>> compose("MESSIER 064", "NGC_4826_NA_CUBE_THINGS.FITS")
    'MESSIER_064.NGC_4826_NA_CUBE_THINGS.FITS'

    Raises SfngError when ``original`` is not a single file name (empty, ``.``/``..``, holds
    ``/``, ``\\`` or a control character) or when the result would be longer than
    :data:`NAME_MAX` bytes.
    """
    if not isinstance(original, str) or not original or original in (".", "..") \
            or "/" in original or "\\" in original or _has_control(original):
        raise SfngError(f"invalid original file name {original!r}: it must be one file name "
                        f"without '/', '\\' or control characters")
    name = f"{encode_galaxy(galaxy)}.{original}"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise SfngError(f"invalid original file name {original!r}: {exc}") from exc
    if size > NAME_MAX:
        raise SfngError(f"the store name for {original!r} under galaxy {galaxy!r} would be {size} "
                        f"bytes long, more than the {NAME_MAX} a file system accepts; shorten the "
                        f"original name")
    return name


def parse(filename: str) -> tuple[str | None, str]:
    """Split a store file name into ``(galaxy, original)``.

    The galaxy is everything before the first ``.``, decoded; ``(None, filename)`` when there is
    no ``.`` or the part before it is not an encoded name.  This assumes the name was composed:
    a survey's raw name such as ``NGC_4826_NA_CUBE_THINGS.FITS`` parses as galaxy
    ``NGC 4826 NA CUBE THINGS``, which is why only files in the store are parsed.
    """
    head, dot, tail = filename.partition(".")
    if not dot or not tail:
        return None, filename
    galaxy = decode_galaxy(head)
    if galaxy is None:
        return None, filename
    return galaxy, tail


# ---------------------------------------------------------------------------------------------
# Normalisation (cache keys)
# ---------------------------------------------------------------------------------------------

_PREFIX_NUMBER = re.compile(r"\b([A-Z]+) ?0*(\d)")
_MESSIER = re.compile(r"^(?:M|MESSIER) ?0*(\d{1,3})(?!\d)")


def normalise(name: str) -> str:
    """The look-up key of a galaxy name: case, spacing and zero padding removed.

    ``NGC 628``, ``NGC0628``, ``ngc 628`` and ``NGC_628`` give ``NGC 628``; a Messier number in
    any spelling (``M74``, ``M 74``, ``Messier 74``, ``MESSIER 074``) gives ``MESSIER 074``
    (NED's form, so an alias recorded as NED's answer is found).  The key is for look-ups only;
    NED is always asked with the name as given.
    """
    s = unicodedata.normalize("NFKC", str(name)).upper().replace("_", " ")
    s = " ".join(s.split())
    s = _PREFIX_NUMBER.sub(lambda m: f"{m.group(1)} {m.group(2)}", s)
    m = _MESSIER.match(s)
    if m:
        s = f"MESSIER {int(m.group(1)):03d}{s[m.end():]}"
    return s


# ---------------------------------------------------------------------------------------------
# Where a file's object comes from
# ---------------------------------------------------------------------------------------------

#: Values of OBJECT that name no object.
_NO_OBJECT = {"", "UNKNOWN", "NONE", "NULL", "N/A", "NA", "-", "?", "OBJECT", "TARGET", "SKY",
              "FIELD", "TEST", "MOSAIC"}
_ROMAN = r"(?:I{1,3}|IV|V|VI{0,3}|IX|X)"
_SPECIAL = [
    (re.compile(r"^(?:HOLMBERG|HOLM|HO)[ _-]?(" + _ROMAN + r")(?![A-Z0-9])", re.I),
     lambda m: f"Holmberg {m.group(1).upper()}"),
    (re.compile(r"^M ?81[ _-]?(?:DW|DWARF)[ _-]?([AB])(?![A-Z0-9])", re.I),
     lambda m: f"M81 Dwarf {m.group(1).upper()}"),
]
_SEP = r"(?=$|[^A-Za-z0-9])"
#: The leading designation of a file name: catalogue, optional separator, number, optional
#: single-letter suffix (``M51a``); ``n628`` (lower-case n only) is a THINGS/NRO habit for NGC.
_LEAD = re.compile(
    r"^(?P<cat>NGC|IC|UGCA|UGC|DDO|PGC|MESSIER|M|n)(?P<sep>[ _-]?)(?P<num>\d{1,6})"
    r"(?P<suf>[ABab])?" + _SEP, re.I)
#: A designation anywhere else in the name (explicit catalogues only: "m1" could be a moment map).
_ANY = re.compile(r"(?<![A-Za-z0-9])(?P<cat>NGC|IC|UGCA|UGC|DDO|PGC)[ _-]?(?P<num>\d{1,6})"
                  r"(?P<suf>[ABab])?" + _SEP, re.I)
#: The second member of a pair right after the first: "/5195", "_5195", "+NGC5195", "_NGC_5195".
_PAIR_TAIL = re.compile(r"^(?P<sep>[/_+&-]|\s*/\s*|\s*\+\s*|\s*&\s*)(?:(?P<cat>NGC|IC|UGCA|UGC|DDO|PGC)"
                        r"[ _-]?)?(?P<num>\d{1,6})(?P<suf>[ABab])?" + _SEP, re.I)


def _designation(cat: str, num: str, suf: str | None) -> str:
    cat_u = cat.upper()
    cat_u = "NGC" if cat == "n" else ("M" if cat_u == "MESSIER" else cat_u)
    return f"{cat_u}{num.lstrip('0') or '0'}{(suf or '').lower()}" if cat_u == "M" \
        else f"{cat_u} {num.lstrip('0') or '0'}{(suf or '').upper()}"


def _lead(text: str):
    """``(designation, end)`` of the name leading ``text``, or None."""
    for pattern, make in _SPECIAL:
        m = pattern.match(text)
        if m:
            return make(m), m.end()
    m = _LEAD.match(text)
    if not m:
        return None
    cat = m.group("cat")
    if cat == "N" or (cat == "n" and len(m.group("num")) < 3):
        return None  # 'N' alone is too weak; 'n12' is more likely a channel or version number
    if cat.upper() in ("M", "MESSIER") and not 1 <= int(m.group("num")) <= 110:
        return None
    return _designation(cat, m.group("num"), m.group("suf")), m.end()


def pair_members(name: str) -> list[str] | None:
    """The members of a galaxy pair written as one name, or None for a single galaxy.

    Recognises ``NGC 5194/5195``, ``NGC5194_5195``, ``NGC 5194+NGC 5195``, ``NGC_5194_NGC_5195``
    at the start of ``name`` (an OBJECT value or a file name).  The first member is the primary:
    a file of the pair is stored under the first member's NED name and linked for the other.
    A bare second number after ``_`` or ``-`` counts only when it has as many digits as the
    first (``NGC5194_5195`` is a pair, ``NGC628_2`` is not); after ``/`` or ``+`` a shorter
    number replaces the last digits, as astronomers write it (``NGC 4038/9`` is NGC 4039).

    >>> pair_members("NGC 5194/5195")
    ['NGC 5194', 'NGC 5195']
    """
    text = name.strip()
    lead = _lead(text)
    if lead is None:
        return None
    first, end = lead
    m = _PAIR_TAIL.match(text[end:])
    if not m:
        return None
    cat, num = m.group("cat"), m.group("num")
    loose = m.group("sep").strip() in ("_", "-")
    if cat is not None and loose and cat.upper() != first.split(" ")[0]:
        return None  # NGC628_IC342: two galaxies, not written as a pair; the caller reports it
    if cat is None:
        if first.startswith(("Holmberg", "M81 Dwarf")):
            return None  # 'Holmberg II/III' is not a catalogue-number pair
        first_num = re.sub(r"\D", "", first)
        if loose and len(num) != len(first_num):
            return None
        if len(num) < len(first_num):
            num = first_num[:len(first_num) - len(num)] + num  # 'NGC 4038/9' is NGC 4039
        cat = "M" if first.startswith("M") and " " not in first else first.split(" ")[0]
    second = _designation(cat, num, m.group("suf"))
    return [first, second] if normalise(second) != normalise(first) else None


def candidates(header: Mapping | None, filename: str) -> list[tuple[str, str]]:
    """Every object name a file offers, best first, as ``(name, how)``.

    ``how`` is ``"OBJECT keyword"`` or ``"file name"``.  Ingest resolves them all and reports a
    conflict when they resolve to different NED names.  Raises :class:`AmbiguousName` when the
    file name holds two different galaxies that do not form a recognised pair.
    """
    out = []
    obj = _object_keyword(header)
    if obj:
        out.append((obj, "OBJECT keyword"))
    from_name = name_from_filename(filename)
    if from_name:
        out.append((from_name, "file name"))
    return out


def _object_keyword(header: Mapping | None) -> str | None:
    if not header:
        return None
    try:
        value = header.get("OBJECT")
    except Exception:  # noqa: BLE001 - headers from odd readers; absence is the answer
        return None
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    if value.upper() in _NO_OBJECT or not any(c.isalnum() for c in value):
        return None
    return value


def _pair_text(first: str, second: str) -> str:
    """``NGC 5194/5195`` for members of one catalogue, else ``NGC 5194/IC 1234``."""
    c1, _, _ = first.partition(" ")
    c2, _, n2 = second.partition(" ")
    return f"{first}/{n2}" if n2 and c1 == c2 else f"{first}/{second}"


def name_from_filename(filename: str) -> str | None:
    """The galaxy a survey-style file name starts with, or None.

    ``NGC_4826_NA_CUBE_THINGS.FITS`` -> ``NGC 4826``; ``NGC4826_x.fits``, ``ngc4826.co10.fits``
    -> ``NGC 4826``; ``M51_x`` -> ``M51``; ``DDO154_x`` -> ``DDO 154``; ``IC342.co.fits`` ->
    ``IC 342``; ``n628_x.fits`` -> ``NGC 628``; ``HO_II_...`` -> ``Holmberg II``;
    ``NGC5194_5195_x`` -> ``NGC 5194/5195`` (a pair, see :func:`pair_members`).  When the name
    does not start with a galaxy, a single explicit designation elsewhere
    (``hera_ngc628_co21.fits``) is used.  Raises :class:`AmbiguousName` when the name holds
    galaxies that are not one galaxy or one pair.
    """
    base = filename.rsplit("/", 1)[-1]
    lead = _lead(base)
    members: list[str] = []
    rest = base
    if lead is not None:
        first, end = lead
        pair = pair_members(base)
        if pair:
            members = pair
            rest = base[end:][_PAIR_TAIL.match(base[end:]).end():]
        else:
            members = [first]
            rest = base[end:]
    keys = {normalise(m) for m in members}
    others = []
    for m in _ANY.finditer(rest):
        d = _designation(m.group("cat"), m.group("num"), m.group("suf"))
        if normalise(d) not in keys:
            keys.add(normalise(d))
            others.append(d)
    if members and others or len(others) > 1:
        raise AmbiguousName(f"{filename}: the file name names several galaxies "
                            f"({', '.join(members + others)}); set OBJECT in the header or rename "
                            f"the file")
    if len(members) == 2:
        return _pair_text(*members)
    return members[0] if members else (others[0] if others else None)


def object_from(header: Mapping | None, filename: str) -> tuple[str | None, str]:
    """The object name a file gives for itself: ``(candidate, how)``.

    The ``OBJECT`` keyword first (``how == "OBJECT keyword"``), else the survey-style file name
    (``"file name"``), else ``(None, "no OBJECT keyword and no galaxy in the file name")``.  The
    candidate is not yet a NED name: resolve it with :class:`sfng.ned.Resolver`.  A pair such as
    ``NGC 5194/5195`` is returned as written; split it with :func:`pair_members`.  Raises
    :class:`AmbiguousName` (an SfngError) when the file name names two galaxies and OBJECT is
    not set.
    """
    obj = _object_keyword(header)
    if obj:
        return obj, "OBJECT keyword"
    name = name_from_filename(filename)
    if name:
        return name, "file name"
    return None, "no OBJECT keyword and no galaxy in the file name"
