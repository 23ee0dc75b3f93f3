"""Open a file for validation without ever crashing: every way a file can be bad becomes a finding.

Headers are read with :mod:`sfng.fitsheader` (header blocks only, plain or gzip, the same reader
the index crawl uses; cross-checked against astropy in the tests).  ``.hdr``
files are FITS header dumps (the WCSLIB test headers): their cards are read as text.

The result names the HDU that holds the data (the first image or cube, else the first table) and
its raw card text, which the WCS check hands to WCSLIB directly.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..fitsname import is_fits_name

HEADER_SUFFIXES = (".hdr",)
#: Largest ``.hdr`` header dump read (bytes): 100,000 cards.
MAX_HEADER_DUMP = 8 << 20
CARD = 80
_KEY_RE = re.compile(r"^[A-Z0-9_-]{0,8} *$")
_VALUE_RE = re.compile(
    r"""^\s*(?:'(?:[^']|'')*'\s*|[TF]\s*|[-+]?\s*\d+\s*|[-+]?\s*(?:\d+\.?\d*|\.\d+)\s*(?:[EeDd]\s*[-+]?\s*\d+)?\s*
        |\(\s*[^)]*\)\s*|)(?:/.*)?$""", re.VERBOSE)
_COMMENTARY = ("HISTORY ", "COMMENT ", "        ", "CONTINUE", "HIERARCH", "END     ")


@dataclass
class HDU:
    """One HDU's header and shape.

    ``header`` is a mapping (astropy Header or sfng.fitsheader.FitsHeader); ``text`` the card
    images up to and including END (80 characters each), "" when not available.
    """

    index: int
    header: object
    text: str = ""
    xtension: str | None = None
    shape: tuple = ()
    data_size: int = 0


@dataclass
class Opened:
    """The outcome of opening a file.

    Attributes
    ----------
    kind : str
        ``"fits"``, ``"header"`` (a .hdr dump), ``"other"`` (not FITS by name) or ``"bad"``.
    hdus : list of HDU
    findings : list of (rule_id, details)
        Problems met while reading (each bad input gives exactly one).
    """

    path: Path
    kind: str
    hdus: list = field(default_factory=list)
    findings: list = field(default_factory=list)

    def data_hdu(self) -> HDU | None:
        """The first image/cube HDU with data, else the first table with data."""
        for want in ("image", "table"):
            for h in self.hdus:
                is_image = h.xtension in (None, "IMAGE")
                if h.data_size > 0 and (is_image if want == "image" else not is_image):
                    return h
        return None


def is_header_name(name: str) -> bool:
    return name.lower().endswith(HEADER_SUFFIXES)


def _classify_reason(reason: str) -> str:
    r = reason.lower()
    if "zero-byte" in r or "empty file" in r:
        return "file-empty"
    if "not a fits file" in r or "not fits" in r:
        return "not-fits"
    if "no end card" in r or "missing end" in r:
        return "header-no-end"
    if "truncated data" in r or "truncated" in r and "data" in r:
        return "file-truncated"
    if ("bitpix" in r or "naxis" in r or "absurd" in r or "pcount" in r or "gcount" in r):
        return "naxis-absurd"
    return "file-unreadable"


def _legal_text_re():
    """One pattern for a header of legal cards, one card per line (printable ASCII text).

    The same rules as the card-by-card loop of :func:`illegal_cards`, written so that no part
    can reach past its line: ``\\s`` is a space (the text holds no other white space) and a
    complex value cannot span lines.
    """
    # _VALUE_RE is verbose: its white space is layout (no class or escape holds any); no
    # negated class may match the newline that ends a card
    value = "".join(_VALUE_RE.pattern.split()).replace(r"\s", "[ ]")
    value = value.replace("[^)]", "[^)\n]").replace("[^']", "[^'\n]")
    assert value.startswith("^") and value.endswith("$")
    key = "|".join(f"[A-Z0-9_-]{{{n}}}[ ]{{{8 - n}}}" for n in range(9))
    commentary = "|".join(re.escape(c) for c in _COMMENTARY)
    line = rf"(?:(?:{commentary}).{{72}}|(?:{key})(?:=[ ](?:{value[1:-1]})$|(?!=[ ]).{{72}}))"
    # atomic lines, possessive repeat: a failure is never retried by re-reading earlier lines
    return re.compile(rf"(?>{line}\n)*+", re.MULTILINE)


_LEGAL_TEXT = _legal_text_re()
#: Value cards already found legal (a card's legality is its image's alone): the cards a survey
#: repeats from file to file are matched once per crawl.  Bounded, cleared when full.
_LEGAL_SEEN: set = set()
_LEGAL_SEEN_MAX = 50_000
#: Cards of these keywords are legal whatever printable text follows (the pattern's first branch).
_ANY_TEXT = frozenset(_COMMENTARY)


def illegal_cards(text: str) -> list[str]:
    """Card images (stripped) that break the FITS standard: bad keyword, non-ASCII, bad value."""
    clean = text.isascii() and text.isprintable()
    if clean and len(text) % CARD == 0:
        # the common case, a legal header: the cards not seen before, in one pattern pass
        seen, any_text = _LEGAL_SEEN, _ANY_TEXT
        new = [c for c in (text[i:i + CARD] for i in range(0, len(text), CARD))
               if c[:8] not in any_text and c not in seen]
        if not new or _LEGAL_TEXT.fullmatch("\n".join(new) + "\n"):
            if len(seen) + len(new) > _LEGAL_SEEN_MAX:
                seen.clear()
            seen.update(new)
            return []
    return _illegal_each(text, clean)


def _illegal_each(text: str, clean: bool) -> list[str]:
    """:func:`illegal_cards` card by card (``clean``: the text is printable ASCII)."""
    bad = []
    for i in range(0, len(text), CARD):
        card = text[i:i + CARD]
        if card.startswith(_COMMENTARY) or not card.strip():
            if not clean and not (card.isascii() and card.isprintable()):
                bad.append(card.rstrip())
            continue
        if (not clean and not (card.isascii() and card.isprintable())) or not _KEY_RE.match(card[:8]):
            bad.append(card.rstrip())
        elif card[8:10] == "= " and not _VALUE_RE.match(card[10:]):
            bad.append(card.rstrip())
    return bad


def open_file(path, *, until_image: bool = False) -> Opened:
    """Read a file's headers; never raises for a bad file.

    ``until_image``: keep only the HDUs up to the first image holding data (the later ones are
    still walked for their sizes, so a truncated file is still found); :meth:`Opened.data_hdu`
    is the same as with every HDU.
    """
    path = Path(path)
    name = path.name
    try:
        st = os.stat(path)
    except OSError as exc:
        return Opened(path, "bad", findings=[("file-unreadable", {"reason": exc.strerror or str(exc)})])
    if not os.access(path, os.R_OK):
        return Opened(path, "bad", findings=[("file-unreadable", {"reason": "permission denied"})])
    if st.st_size == 0:
        return Opened(path, "bad", findings=[("file-empty", {})])
    if is_header_name(name):
        return _open_header_dump(path)
    if not is_fits_name(name):
        try:
            with open(path, "rb") as f:
                head = f.read(9)
        except OSError as exc:
            return Opened(path, "bad", findings=[("file-unreadable", {"reason": exc.strerror or str(exc)})])
        if head != b"SIMPLE  =":
            suffix = "".join(path.suffixes[-2:]) or "no suffix"
            return Opened(path, "other", findings=[("not-fits-format", {"suffix": suffix})])
    return _open_blocks(path, until_image)


def _open_blocks(path: Path, until_image: bool = False) -> Opened:
    from ..fitsheader import FitsHeaderError, read_headers

    try:
        blocks = read_headers(path, until_image=until_image)
    except FitsHeaderError as exc:
        return Opened(path, "bad", findings=[(_classify_reason(exc.reason), {"reason": exc.reason})])
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # gzip CRC errors and the like
        return Opened(path, "bad", findings=[("file-unreadable", {"reason": str(exc)})])
    return opened_from_blocks(path, blocks)


def opened_from_blocks(path, blocks) -> Opened:
    """An :class:`Opened` from header blocks already read by :func:`sfng.fitsheader.read_headers`
    (the index crawler hands over what it read, so a file is read and parsed once).

    A tile-compressed image (``.fz``: a BINTABLE with ZIMAGE = T) becomes an IMAGE HDU with the
    image's header (:func:`sfng.fitsheader.compressed_image_block`, astropy's CompImageHDU
    header); one whose compression cards are broken is judged as the table it is."""
    from ..fitsheader import compressed_image_block

    if not isinstance(path, Path):
        path = Path(path)
    out = Opened(path, "fits")
    for b in blocks:
        x = b.xtension
        image = compressed_image_block(b)
        if image is not None:  # a tile-compressed image (.fz) is judged as the image it carries
            out.hdus.append(HDU(b.index, image.header, image.text, "IMAGE", image.shape, b.data_size))
            continue
        out.hdus.append(HDU(b.index, b.header, b.text, x.strip() if isinstance(x, str) else None,
                            b.shape, b.data_size))
    return out


def _open_header_dump(path: Path) -> Opened:
    """A .hdr file: FITS card images (with or without newlines, END optional)."""
    from astropy.io import fits

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_HEADER_DUMP + 1)
    except OSError as exc:
        return Opened(path, "bad", findings=[("file-unreadable", {"reason": exc.strerror or str(exc)})])
    if len(data) > MAX_HEADER_DUMP:
        return Opened(path, "bad", findings=[("not-fits", {"reason": f"a header dump larger than "
                                                                     f"{MAX_HEADER_DUMP} bytes"})])
    raw = data.decode("latin-1")
    text = "".join(line.ljust(CARD)[:CARD] for line in raw.splitlines()) if "\n" in raw else raw
    end = next((i for i in range(0, len(text), CARD) if text[i:i + CARD].rstrip() == "END"), None)
    text = text[:end] if end is not None else text
    text = text + "END".ljust(CARD)
    try:
        header = fits.Header.fromstring(text)
    except (ValueError, OSError) as exc:
        return Opened(path, "bad", findings=[("not-fits", {"reason": str(exc)})])
    naxis = header.get("NAXIS", 0) or 0
    shape = tuple(header.get(f"NAXIS{k}", 0) for k in range(1, naxis + 1))
    x = header.get("XTENSION")
    n = 1
    for d in shape:
        n *= d
    size = abs(header.get("BITPIX", 8) or 8) // 8 * n if shape else 0
    return Opened(path, "header", hdus=[HDU(0, header, text, x.strip() if x else None, shape, size)])
