"""Fast FITS header-block reader: the header of every HDU, without reading any data.

The index crawler only needs headers, so this module reads the 2880-byte header blocks of
each HDU and jumps over the data using ``BITPIX``, ``NAXISn``, ``PCOUNT`` and ``GCOUNT``.
Plain files are read with positioned reads (``os.pread``): a file costs a handful of system
calls whatever the size of its data.  Gzip-compressed files (``.fits.gz``, detected by their
magic bytes, not their name) are streamed and decompressed only as far as the last header
asked for: with ``max_hdus=1`` only the first blocks are inflated.

Card values follow the FITS standard (4.0, section 4.2) the way :mod:`astropy.io.fits`
reads them: strings with ``''`` escapes and trailing blanks removed, long strings joined
from ``CONTINUE`` cards, ``HIERARCH`` keywords (returned without the ``HIERARCH`` prefix),
logicals ``T``/``F`` as bool, integers as int, reals (including ``D`` exponents) as float,
complex as complex, an undefined value as None; comments are dropped; ``HISTORY``,
``COMMENT`` and blank-keyword cards are kept as commentary (their text as value).
``tests/test_fitsheader.py`` checks every value against ``astropy.io.fits.Header``.

Tile-compressed images (``.fits.fz``, ``fpack``) are read as what they are on disk, a BINTABLE
with ``ZIMAGE = T``; :func:`compressed_image_block` (or :func:`image_view` for a whole file)
turns one into the image it carries, with the header astropy's ``CompImageHDU`` shows
(``tests/test_fitsheader_compressed.py`` checks it card for card).

``fitsio`` (cfitsio) was measured against this reader for header-only reads; this reader is
faster (see ``docs/benchmarks.md``), mainly because fitsio builds a Python record per card and
inflates a whole ``.gz`` file before reading its first header.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import SfngError

BLOCK = 2880
CARD = 80
#: The END card, alone on its 80-character line.
_END = "END" + " " * 77
#: Keywords whose cards carry free text rather than a value.
COMMENTARY = frozenset(("HISTORY", "COMMENT", ""))
#: More axes than this is not a real file (the standard allows 999, nobody writes 20).
MAX_NAXIS = 999
#: Bigger than this (1 PiB) is a corrupt header, not data.
MAX_DATA_BYTES = 1 << 50
_BITPIX = (8, 16, 32, 64, -32, -64)
_GZIP_MAGIC = b"\x1f\x8b"
#: First read of a header: four blocks hold nearly every header in one system call.
_FIRST_READ = 4 * BLOCK

_INT_RE = re.compile(r"[+-]? *\d+")
_REAL_RE = re.compile(r"[+-]? *(?:\.\d+|\d+(?:\.\d*)?) *(?:[deDE] *[+-]? *\d+)?")
_CPLX_RE = re.compile(
    r"\( *([+-]? *(?:\.\d+|\d+(?:\.\d*)?) *(?:[deDE] *[+-]? *\d+)?) *, *"
    r"([+-]? *(?:\.\d+|\d+(?:\.\d*)?) *(?:[deDE] *[+-]? *\d+)?) *\)"
)


class FitsHeaderError(SfngError):
    """A file's FITS headers cannot be read.

    Attributes
    ----------
    path : str
        The file.
    reason : str
        What is wrong with it (zero bytes, truncated, not FITS, no END card, absurd NAXIS ...).
    """

    def __init__(self, path, reason):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


class Card(NamedTuple):
    """One logical card: ``keyword`` (upper case; HIERARCH keys as written) and its value.

    A plain tuple, so ``for key, value in block.cards`` works; the attribute names match
    :class:`astropy.io.fits.Card`, so :func:`sfng.header.effective_header` takes a block.
    """

    keyword: str
    value: object


class FitsHeader(Mapping):
    """Read-only, case-insensitive keyword -> value view of one HDU's cards.

    As in astropy, a duplicated keyword gives its first value.  Commentary cards are not
    keys: they are in :attr:`history` and :attr:`comments`.  ``cards`` holds every card in
    order, so the view can be given wherever an astropy Header is accepted for reading.
    """

    __slots__ = ("cards", "_d", "_folded")

    def __init__(self, cards):
        self.cards = cards
        d = {}
        for key, value in cards:
            if key not in COMMENTARY and key not in d:
                d[key] = value
        self._d = d
        self._folded = None

    def _real_key(self, key):
        """The stored key for ``key`` in any case, with or without ``HIERARCH``; or None."""
        if not isinstance(key, str):
            return None
        k = " ".join(key.split()).upper()
        if k.startswith("HIERARCH "):
            k = k[9:]
        folded = self._folded
        if folded is None:  # built on the first miss only: most lookups hit the dict directly
            folded = self._folded = {}
            for have in self._d:
                folded.setdefault(have.upper(), have)
        return folded.get(k)

    def __getitem__(self, key):
        d = self._d
        if key in d:
            return d[key]
        real = self._real_key(key)
        if real is None:
            raise KeyError(key)
        return d[real]

    def get(self, key, default=None):
        d = self._d
        if key in d:  # the common case, without Mapping.get's exception round trip
            return d[key]
        real = self._real_key(key)
        return default if real is None else d[real]

    def __contains__(self, key):
        return key in self._d or self._real_key(key) is not None

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    @property
    def history(self) -> list[str]:
        return [v for k, v in self.cards if k == "HISTORY"]

    @property
    def comments(self) -> list[str]:
        return [v for k, v in self.cards if k == "COMMENT"]

    def __repr__(self):
        return f"FitsHeader({len(self._d)} keys, {len(self.cards)} cards)"


@dataclass
class HeaderBlock:
    """The header of one HDU and where its data lie.

    Attributes
    ----------
    index : int
        HDU number, 0 for the primary.
    cards : list of Card
        Every card in order, CONTINUE cards joined into their long string, without END.
    offset : int
        Byte offset of the header's first block (in the uncompressed stream for ``.gz``).
    data_offset : int
        Byte offset of the first data byte (the end of the header blocks).
    data_size : int
        Bytes of data, without the padding to 2880 (0 for a header-only HDU).
    text : str
        The raw header cards up to and including END (80 characters each, no separators),
        for parsers that want the card images, e.g. ``astropy.wcs.Wcsprm(header=text)``.
    """

    index: int
    cards: list = field(repr=False)
    offset: int
    data_offset: int
    data_size: int
    text: str = field(repr=False, default="")
    _view: FitsHeader | None = field(default=None, repr=False, compare=False)

    @property
    def header(self) -> FitsHeader:
        """A cheap Mapping view (built once)."""
        if self._view is None:
            self._view = FitsHeader(self.cards)
        return self._view

    @property
    def extname(self) -> str | None:
        return self.header.get("EXTNAME")

    @property
    def xtension(self) -> str | None:
        """``None`` for the primary HDU, else ``'IMAGE'``, ``'BINTABLE'``, ``'TABLE'`` ..."""
        return self.header.get("XTENSION")

    @property
    def shape(self) -> tuple[int, ...]:
        """``(NAXIS1, NAXIS2, ...)`` in FITS order (numpy order is reversed)."""
        h = self.header
        return tuple(h.get(f"NAXIS{i}", 0) for i in range(1, (h.get("NAXIS") or 0) + 1))

    @property
    def next_offset(self) -> int:
        """Where the next HDU's header starts."""
        return self.data_offset + _padded(self.data_size)


def _padded(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


# --------------------------------------------------------------------------------- cards

def _number(s: str):
    """An int, float or complex from a FITS value field, else the text itself."""
    if s.isascii() and s.isdigit():  # the common case, without a regex
        return int(s)
    if _INT_RE.fullmatch(s):
        return int(s.replace(" ", ""))
    if _REAL_RE.fullmatch(s):
        return float(s.replace(" ", "").replace("D", "E").replace("d", "e"))
    m = _CPLX_RE.fullmatch(s)
    if m:
        re_, im = (_number(g) for g in m.groups())
        return complex(re_, im)
    return s


def _string(vc: str):
    """``(value, rest)`` of a quoted FITS string starting at ``vc[0] == "'"``."""
    i = 1
    while True:
        j = vc.find("'", i)
        if j < 0:  # unterminated: astropy keeps the text after the quote
            return vc[1:].rstrip(), ""
        if vc[j + 1 : j + 2] == "'":
            i = j + 2
            continue
        return vc[1:j].replace("''", "'"), vc[j + 1 :]


def _value(vc: str):
    """The value of a value/comment field (the text after ``= ``)."""
    s = vc.lstrip()
    if not s or s[0] == "/":
        return None
    c = s[0]
    if c == "'":
        return _string(s)[0].rstrip()
    if (c == "T" or c == "F") and (len(s) == 1 or s[1] in " /"):
        return c == "T"
    slash = s.find("/")
    tok = (s if slash < 0 else s[:slash]).rstrip()
    return _number(tok)


_new_tuple = tuple.__new__
#: Card keyword fields (8 columns) of commentary cards, the bulk of long headers.
_COMMENTARY8 = {"HISTORY ": "HISTORY", "COMMENT ": "COMMENT", "        ": ""}
#: Upper-cased, stripped keyword of an 8-column keyword field (headers repeat few keywords).
_KEYS: dict[str, str] = {}
#: Parsed value cards by their 80-column image: the files of a survey repeat most of their
#: cards (a MaNGA cube's 250 primary cards differ from another's in a few dozen), and a look-up
#: is a fraction of a parse.  Cards are immutable tuples, so sharing them is safe.
_CARDS: dict = {}
_CARDS_MAX = 50_000


def parse_cards(text: str) -> list[Card]:
    """Cards of a header given as a string of 80-character card images (END excluded).

    Returns a list of :class:`Card` with values converted as described in the module.
    """
    out: list[Card] = []
    append = out.append
    new = _new_tuple  # Card via tuple.__new__: a third of the cost of Card(k, v)
    commentary = _COMMENTARY8
    keys = _KEYS
    memo = _CARDS
    memo_get = memo.get
    string, number = _string, _number

    segs = None  # segments of the string card that CONTINUE cards may extend
    for i in range(0, len(text) - CARD + 1, CARD):
        card = text[i : i + CARD]
        key = card[:8]
        if segs is not None:
            if key == "CONTINUE":
                s = card[8:].lstrip()
                segs.append(string(s)[0].rstrip() if s[:1] == "'" else "")
                continue
            if len(segs) > 1:
                _join(out, segs)
            segs = None
        ck = commentary.get(key)
        if ck is not None:
            append(new(Card, (ck, card[8:].rstrip())))
            continue
        if card[8:10] == "= " and key != "HIERARCH":
            got = memo_get(card)
            if got is not None:   # the same card in an earlier header (a survey repeats most)
                append(got)
                if type(got[1]) is str and card[10:].lstrip()[:1] == "'":   # only a quoted string
                    segs = [got[1]]                                          # may CONTINUE
                continue
            kw = keys.get(key)
            if kw is None:
                kw = keys[key] = key.rstrip().upper()
                if len(keys) > 10000:  # bounded: keywords are few, but be safe
                    keys.clear()
            s = card[10:].lstrip()
            c = s[:1]
            if c == "'":
                v = string(s)[0].rstrip()
                got = new(Card, (kw, v))
                segs = [v]
            else:
                if not c or c == "/":
                    v = None
                elif (c == "T" or c == "F") and (len(s) == 1 or s[1] in " /"):
                    v = c == "T"
                else:
                    slash = s.find("/")
                    v = number((s if slash < 0 else s[:slash]).rstrip())
                got = new(Card, (kw, v))
            append(got)
            if len(memo) >= _CARDS_MAX:
                memo.clear()
            memo[card] = got
            continue
        if key == "HIERARCH" and "=" in card:
            name, _, vc = card[8:].partition("=")
            v = _value(vc)
            append(new(Card, (" ".join(name.split()), v)))
            if isinstance(v, str):
                segs = [v]
            continue
        append(new(Card, (key.rstrip().upper(), card[8:].rstrip())))
    if segs is not None and len(segs) > 1:
        _join(out, segs)
    return out


def _join(out: list[Card], segs: list[str]) -> None:
    """Replace the last card's value by its long string (astropy drops one '&' per segment)."""
    value = "".join(s[:-1] if s.endswith("&") else s for s in segs)
    out[-1] = Card(out[-1].keyword, value.rstrip())


# ---------------------------------------------------------------------------- sources

class _Plain:
    """Positioned reads on an uncompressed file."""

    def __init__(self, fd, size):
        self.fd, self.size = fd, size

    def read(self, offset, n):
        return os.pread(self.fd, n, offset)

    def close(self):
        os.close(self.fd)


class _Gzip:
    """Forward reads on a gzip stream; seeking forward inflates and discards.

    The last chunk read is kept, so reading a header a little before the stream position
    (a small HDU after a four-block read) costs no re-inflation from the start.
    """

    size = None

    def __init__(self, path):
        import gzip

        self.f = gzip.open(path, "rb")
        self.start, self.buf = 0, b""  # stream position == start + len(buf)

    def read(self, offset, n):
        try:
            return self._read(offset, n)
        except zlib.error as exc:  # junk after a gzip header: an OSError like gzip's own errors
            raise OSError(f"corrupt gzip stream ({exc})") from None

    def _read(self, offset, n):
        end = self.start + len(self.buf)
        if self.start <= offset <= end:
            out = self.buf[offset - self.start :]
            if len(out) < n:
                out += self.f.read(n - len(out))
        else:
            self.f.seek(offset)  # forward: inflate and discard; backward: rare, from the start
            if self.f.tell() != offset:
                self.start, self.buf = self.f.tell(), b""
                return b""
            out = self.f.read(n)
        self.start, self.buf = offset, out
        return out[:n]

    def close(self):
        self.f.close()


def _open(path):
    """``(source, identity)``: a reader for the file, and what identifies its current bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    src = _Plain(fd, st.st_size)
    ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if src.size >= 2 and src.read(0, 2) == _GZIP_MAGIC:
        src.close()
        return _Gzip(path), ident
    return src, ident


#: The last few files read: the crawler and the validator read the same file one after the
#: other.  Keyed on device, inode, size and modification time, so a changed file is re-read.
_RECENT: dict = {}
_RECENT_MAX = 8
#: A file is kept only when its modification and change times are this old (nanoseconds).
_SETTLED_NS = 2_000_000_000


# ----------------------------------------------------------------------------- reading

def _find_end(buf: bytes) -> int:
    """Offset of the END card (at a card boundary) in ``buf``, or -1."""
    end = _END.encode()
    start = 0
    while True:
        j = buf.find(end, start)
        if j < 0 or j % CARD == 0:
            return j
        start = j + 1


def _read_header(src, offset, path, index):
    """``(text, data_offset)`` of the header at ``offset``; None at a clean end of file."""
    n = _FIRST_READ
    while True:
        buf = src.read(offset, n)
        if not buf:
            return None
        j = _find_end(buf)
        if j >= 0:
            text = buf[: j + CARD].decode("latin-1")
            return text, offset + _padded(j + CARD)
        if len(buf) < n:  # end of file before END
            if index == 0 and not buf.strip(b"\0 "):
                raise FitsHeaderError(path, "not a FITS file (blank first block)")
            raise FitsHeaderError(
                path, f"HDU {index}: no END card before the end of the file "
                      f"(truncated header, {len(buf)} bytes from offset {offset})")
        n *= 4
        if n > (1 << 28):
            raise FitsHeaderError(path, f"HDU {index}: no END card in the first 256 MiB")


def _data_size(h: FitsHeader, path, index) -> int:
    """Bytes of data after a header (FITS 4.0 eqs. 1 and 2), checking the sizing keywords."""
    bitpix = h.get("BITPIX")
    naxis = h.get("NAXIS")
    if type(bitpix) is not int or bitpix not in _BITPIX:  # -32.0 == -32, but not valid
        raise FitsHeaderError(path, f"HDU {index}: invalid BITPIX {bitpix!r}")
    if not isinstance(naxis, int) or isinstance(naxis, bool) or not 0 <= naxis <= MAX_NAXIS:
        raise FitsHeaderError(path, f"HDU {index}: invalid NAXIS {naxis!r}")
    if naxis == 0:
        return 0
    dims = []
    for i in range(1, naxis + 1):
        v = h.get(f"NAXIS{i}")
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise FitsHeaderError(path, f"HDU {index}: invalid or missing NAXIS{i} {v!r}")
        dims.append(v)
    pcount = h.get("PCOUNT", 0)
    gcount = h.get("GCOUNT", 1)
    if type(pcount) is not int or pcount < 0 or type(gcount) is not int or gcount < 0:
        raise FitsHeaderError(path, f"HDU {index}: invalid PCOUNT/GCOUNT {pcount!r}/{gcount!r}")
    # Random groups: NAXIS1 = 0 means "no axis", the groups are counted by GCOUNT.
    if index == 0 and dims[0] == 0 and h.get("GROUPS") is True:
        dims = dims[1:]
    n = 1
    for d in dims:
        n *= d
    size = abs(bitpix) // 8 * gcount * (pcount + n)
    if size > MAX_DATA_BYTES:
        raise FitsHeaderError(path, f"HDU {index}: absurd data size {size} bytes from NAXISn {dims}")
    return size


def read_headers(path, max_hdus: int | None = None, *, until_image: bool = False) -> list[HeaderBlock]:
    """Read the headers of the HDUs of a FITS file (plain or gzip), never its data.

    Parameters
    ----------
    path : str or Path
        The file.
    max_hdus : int, optional
        Stop after this many HDUs (for ``.gz``, the rest of the file is not inflated).
    until_image : bool
        Return the HDUs up to the first image HDU holding data (what a validator judges).
        The later HDUs are still walked, parsing only their sizing cards, so a damaged or
        truncated file raises the same errors as a full read (a 24-HDU MaNGA cube then costs
        two full header parses, not 24).

    Returns
    -------
    list of HeaderBlock
        In file order.  Bytes after the last HDU that do not start an extension (padding,
        trailing garbage) are ignored, as astropy does.  The blocks of the last few files are
        kept and handed out again while the file is unchanged: treat them as read-only.

    Raises
    ------
    FitsHeaderError
        Zero-byte file, not FITS, no END card, truncated header or data, invalid BITPIX or
        NAXIS, absurd data size, a corrupt gzip stream (``zlib.error``, ``EOFError``,
        ``gzip.BadGzipFile``) or any OS error while reading: nothing else escapes.
    """
    try:
        src, ident = _open(path)
    except OSError as exc:
        raise FitsHeaderError(path, f"cannot open: {exc.strerror or exc}") from None
    key = (ident, max_hdus, until_image)
    hit = _RECENT.get(key)
    if hit is None and until_image:  # a full read of the same bytes holds the answer
        full = _RECENT.get((ident, max_hdus, False))
        if full is not None:
            hit = _through_image(full)
    if hit is not None:
        src.close()
        return list(hit)
    try:
        blocks = _read_all(src, path, max_hdus, until_image)
    except (OSError, EOFError, zlib.error) as exc:  # whatever a damaged stream raises
        raise FitsHeaderError(path, f"unreadable ({exc})") from None
    finally:
        src.close()
    # Only files unchanged for 2 s are kept: file times tick coarsely (milliseconds), so a
    # file rewritten just now with the same size could show the same time (git's "racy" case).
    # The change time (which no one can set back) guards against a copy that kept an old
    # modification time landing on a reused inode.
    if max(ident[3], ident[4]) < time.time_ns() - _SETTLED_NS:
        if len(_RECENT) >= _RECENT_MAX:
            _RECENT.pop(next(iter(_RECENT)))
        _RECENT[key] = tuple(blocks)
    return blocks


def _is_data_image(b: HeaderBlock) -> bool:
    x = b.xtension
    return (x is None or (isinstance(x, str) and x.strip() == "IMAGE")) and b.data_size > 0


def _through_image(blocks):
    """The leading blocks up to and including the first image HDU holding data."""
    for i, b in enumerate(blocks):
        if _is_data_image(b):
            return tuple(blocks[: i + 1])
    return tuple(blocks)


#: The 8-column keyword fields that size an HDU's data (and name it).
_SIZING8 = frozenset(k.ljust(8) for k in ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT",
                                           "GCOUNT", "GROUPS"))


def _sizing_text(text: str) -> str:
    """The sizing cards (BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, GROUPS) of a header text."""
    return "".join(text[i : i + CARD] for i in range(0, len(text) - CARD + 1, CARD)
                   if text[i : i + 8] in _SIZING8
                   or (text[i : i + 5] == "NAXIS" and text[i + 5 : i + 8].rstrip().isdigit()))


def _plain_int(field: str):
    """The integer of a value field holding only ``[+-]digits`` (and a comment), else None."""
    v = field.partition("/")[0].strip()
    if v.isascii() and (v.isdigit() or (v[:1] in ("+", "-") and v[1:].isdigit())):
        return int(v)
    return None


def _sizing_header(text: str):
    """The sizing cards of a header as a mapping (first value of a repeated keyword)."""
    quick = _quick_sizing(text)
    return dict(quick) if quick is not None else FitsHeader(parse_cards(_sizing_text(text)))


def _sizing_cards(text: str) -> list:
    """The sizing cards of a header, with the values a full parse would give them."""
    quick = _quick_sizing(text)
    return quick if quick is not None else parse_cards(_sizing_text(text))


def _quick_sizing(text: str) -> list | None:
    """The sizing cards of a standard extension header, read in place; None for any other.

    A standard extension header opens with XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT in
    that order (a duplicate further down would not count: the first value wins); when those
    hold plain integers they are read in place.
    """
    if text[:10] == "XTENSION= " and text[80:90] == "BITPIX  = " and text[160:170] == "NAXIS   = ":
        bitpix, n = _plain_int(text[90:160]), _plain_int(text[170:240])
        if bitpix is not None and n is not None and 0 <= n <= MAX_NAXIS and len(text) >= (n + 5) * CARD:
            cards = [Card("BITPIX", bitpix), Card("NAXIS", n)]
            for i, key in enumerate([*(f"NAXIS{k}" for k in range(1, n + 1)), "PCOUNT", "GCOUNT"], 3):
                o = i * CARD
                v = _plain_int(text[o + 10 : o + CARD]) if text[o : o + 10] == f"{key:<8}= " else None
                if v is None:
                    break
                cards.append(Card(key, v))
            else:
                return cards
    return None


def _plain_int_bytes(field: bytes):
    """:func:`_plain_int` of raw bytes."""
    v = field.partition(b"/")[0].strip()
    if v.isdigit() or (v[:1] in (b"+", b"-") and v[1:].isdigit()):
        return int(v)
    return None


_NAXIS_FIELDS = [f"NAXIS{i}".ljust(8).encode() + b"= " for i in range(1, 10)]


def _quick_hdu(src, offset):
    """``(data_offset, data_size)`` of a standard extension at ``offset`` whose header fits in
    one block and whose sizing values are plain and legal; None for anything else (the full
    path then reads it, and raises what is wrong)."""
    buf = src.read(offset, BLOCK)
    if buf[:10] != b"XTENSION= " or buf[80:90] != b"BITPIX  = " or buf[160:170] != b"NAXIS   = ":
        return None
    j = _find_end(buf)
    if j < 0:
        return None
    bitpix, n = _plain_int_bytes(buf[90:160]), _plain_int_bytes(buf[170:240])
    if bitpix not in _BITPIX or n is None or not 0 <= n <= len(_NAXIS_FIELDS) or j < (n + 5) * CARD:
        return None
    count = 1
    for i in range(n):
        o = (3 + i) * CARD
        v = _plain_int_bytes(buf[o + 10 : o + CARD]) if buf[o : o + 10] == _NAXIS_FIELDS[i] else None
        if v is None or v < 0:
            return None
        count *= v
    o = (3 + n) * CARD
    if buf[o : o + 10] != b"PCOUNT  = " or buf[o + 80 : o + 90] != b"GCOUNT  = ":
        return None
    pcount, gcount = _plain_int_bytes(buf[o + 10 : o + 80]), _plain_int_bytes(buf[o + 90 : o + 160])
    if pcount is None or gcount is None or pcount < 0 or gcount < 0:
        return None
    size = abs(bitpix) // 8 * gcount * (pcount + count) if n else 0
    if size > MAX_DATA_BYTES:
        return None
    return offset + _padded(j + CARD), size


def _read_all(src, path, max_hdus, until_image=False) -> list[HeaderBlock]:
    if src.size == 0:
        raise FitsHeaderError(path, "zero-byte file")
    blocks: list[HeaderBlock] = []
    keep = None  # with until_image: how many leading blocks are returned
    offset = 0
    while max_hdus is None or len(blocks) < max_hdus:
        index = len(blocks)
        if keep is not None and src.size is not None:
            quick = _quick_hdu(src, offset)
            if quick is not None:  # a plain standard extension: sized without parsing
                data_offset, size = quick
                if data_offset + size > src.size and size:
                    raise FitsHeaderError(
                        path, f"HDU {index}: truncated data ({size} bytes expected from "
                              f"offset {data_offset}, file has {src.size} bytes)")
                blocks.append(None)  # a place holder: only the first ``keep`` are returned
                offset = data_offset + _padded(size)
                if offset >= src.size:
                    break
                continue
        try:
            first = src.read(offset, CARD)
        except (OSError, EOFError) as exc:
            raise FitsHeaderError(path, f"HDU {index}: unreadable ({exc})") from None
        if index == 0:
            if not first:
                raise FitsHeaderError(path, "empty file (nothing after decompression)")
            if first[:9] != b"SIMPLE  =" or first[10:30].strip() != b"T":
                raise FitsHeaderError(path, "not a FITS file (does not start with SIMPLE = T)")
        elif first[:9] != b"XTENSION=":
            break  # end of file, or padding/garbage after the last HDU
        try:
            got = _read_header(src, offset, path, index)
        except (OSError, EOFError) as exc:
            raise FitsHeaderError(path, f"HDU {index}: unreadable ({exc})") from None
        if got is None:
            break
        text, data_offset = got
        if keep is None:
            block = HeaderBlock(index, parse_cards(text[:-CARD]), offset, data_offset, 0, text)
            block.data_size = _data_size(block.header, path, index)
        else:  # past the image a validator judges: only what locates the next HDU (not returned)
            size = _data_size(_sizing_header(text[:-CARD]), path, index)
            block = HeaderBlock(index, [], offset, data_offset, size, "")
        blocks.append(block)
        if until_image and keep is None and _is_data_image(block):
            keep = len(blocks)
        end = data_offset + block.data_size
        if src.size is not None and end > src.size and block.data_size:
            raise FitsHeaderError(
                path, f"HDU {index}: truncated data ({block.data_size} bytes expected from "
                      f"offset {data_offset}, file has {src.size} bytes)")
        offset = block.next_offset
        if src.size is not None and offset >= src.size:
            break
        if src.size is None and (max_hdus is None or len(blocks) < max_hdus):
            # gzip: the data must be inflated to reach the next header; check it is all there
            try:
                probe = src.read(end - 1, 1) if block.data_size else b"x"
            except (OSError, EOFError) as exc:
                raise FitsHeaderError(path, f"HDU {index}: corrupt gzip stream ({exc})") from None
            if not probe:
                raise FitsHeaderError(
                    path, f"HDU {index}: truncated data ({block.data_size} bytes expected "
                          f"from offset {data_offset})")
    return blocks if keep is None else blocks[:keep]


def read_header(path, hdu: int = 0) -> FitsHeader:
    """The header of one HDU as a Mapping (reads only the headers up to it)."""
    blocks = read_headers(path, max_hdus=hdu + 1)
    if len(blocks) <= hdu:
        raise FitsHeaderError(path, f"no HDU {hdu} (the file has {len(blocks)})")
    return blocks[hdu].header


def read_data(path, block: HeaderBlock, max_bytes: int | None = None) -> bytes:
    """The data bytes of one HDU (``block.data_size`` bytes from ``block.data_offset``, no
    padding): one positioned read of a plain file; a ``.gz`` stream is inflated up to there.

    For the few HDUs whose data a header-only reader still needs (a CASA ``BEAMS`` table: a
    few bytes per channel); ``max_bytes`` refuses a bigger one.

    Raises
    ------
    FitsHeaderError
        The file cannot be opened, holds fewer bytes than the header promises, or the HDU is
        larger than ``max_bytes``.
    """
    n = block.data_size
    if max_bytes is not None and n > max_bytes:
        raise FitsHeaderError(path, f"HDU {block.index}: {n} bytes of data, more than the "
                                    f"{max_bytes} read for it")
    try:
        src, _ = _open(path)
    except OSError as exc:
        raise FitsHeaderError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        data = src.read(block.data_offset, n) if n else b""
    except (OSError, EOFError, zlib.error) as exc:
        raise FitsHeaderError(path, f"HDU {block.index}: unreadable data ({exc})") from None
    finally:
        src.close()
    if len(data) < n:
        raise FitsHeaderError(path, f"HDU {block.index}: truncated data ({n} bytes expected from "
                                    f"offset {block.data_offset}, {len(data)} read)")
    return data


def image_blocks(blocks: list[HeaderBlock]) -> list[HeaderBlock]:
    """The HDUs holding an image or cube (primary or IMAGE extension with NAXIS >= 1, data)."""
    out = []
    for b in blocks:
        x = b.xtension
        if (x is None or x.strip() == "IMAGE") and b.data_size > 0:
            out.append(b)
    return out


# ----------------------------------------------------------- tile-compressed images (.fz)
#
# A tile-compressed image (the FITS tiled image convention, ``fpack``) is stored as a BINTABLE
# with ZIMAGE = T; the image's own header is that table's header with the table's cards
# removed and the Z-cards put back (ZBITPIX -> BITPIX, ZNAXISn -> NAXISn, ZSIMPLE/ZTENSION ->
# SIMPLE/XTENSION ...).  The conversion below follows astropy.io.fits' CompImageHDU
# (``astropy.io.fits.hdu.compressed.header._bintable_header_to_image_header``) card for card,
# on the card images, so the image header keeps the cards' text as written (for WCSLIB and the
# card checks).  ``tests/test_fitsheader.py`` checks it against ``fits.open(path)[1].header``.

#: Table keywords with a column number (astropy.io.fits.column.KEYWORD_NAMES).
_TABLE_KEY_NAMES = frozenset(("TTYPE", "TFORM", "TUNIT", "TNULL", "TSCAL", "TZERO", "TDISP",
                              "TBCOL", "TDIM", "TCTYP", "TCUNI", "TCRPX", "TCRVL", "TCDLT",
                              "TRPOS"))
_TDEF_RE = re.compile(r"(?P<label>^T[A-Z]*)(?P<num>[1-9][0-9 ]*$)")
_ZDEF_RE = re.compile(r"(?P<label>^[Zz][a-zA-Z]*)(?P<num>[1-9][0-9 ]*$)?")
#: Compression keywords with an axis or parameter number.
_Z_INDEXED = frozenset(("ZNAXIS", "ZTILE", "ZNAME", "ZVAL"))
#: Image keywords the table carries under another name.
_Z_REMAPPED = {"SIMPLE": "ZSIMPLE", "XTENSION": "ZTENSION", "BITPIX": "ZBITPIX", "NAXIS": "ZNAXIS",
               "EXTEND": "ZEXTEND", "BLOCKED": "ZBLOCKED", "PCOUNT": "ZPCOUNT", "GCOUNT": "ZGCOUNT",
               "CHECKSUM": "ZHECKSUM", "DATASUM": "ZDATASUM"}
_Z_KEYWORDS = frozenset(_Z_REMAPPED.values()) | frozenset(
    ("ZIMAGE", "ZCMPTYPE", "ZMASKCMP", "ZQUANTIZ", "ZDITHER0", "ZBLANK", "ZSCALE", "ZZERO"))
#: Cards of the table's structure, removed once each (astropy ``Header.strip``).
_STRIPPED = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "GROUPS",
             "BSCALE", "BZERO", "TFIELDS")
_DEFAULT_EXTNAME = "COMPRESSED_IMAGE"


def is_compressed_image(block: HeaderBlock) -> bool:
    """True for a BINTABLE holding a tile-compressed image (``ZIMAGE = T``), as astropy decides."""
    if not block.cards or block.cards[0].keyword != "XTENSION":
        return False
    x = block.cards[0].value
    if not isinstance(x, str) or x.rstrip() not in ("BINTABLE", "A3DTABLE"):
        return False
    return bool(block.header.get("ZIMAGE"))


def _reserved(key: str) -> bool:
    """A table or compression keyword: not part of the image header."""
    if key in ("TFIELDS", "THEAP", "CHECKSUM", "DATASUM") or key in _Z_KEYWORDS:
        return True
    m = _TDEF_RE.match(key)
    if m and m.group("label").upper() in _TABLE_KEY_NAMES:
        return True
    m = _ZDEF_RE.match(key)
    return bool(m and m.group("label").upper() in _Z_INDEXED)


def _logical_cards(text: str) -> list:
    """``[[keyword, value, card images]]`` of a header text (END excluded): each card with its
    CONTINUE cards, parsed as :func:`parse_cards` parses them."""
    out = []
    open_string = False
    for i in range(0, len(text) - CARD + 1, CARD):
        image = text[i : i + CARD]
        if open_string and image[:8] == "CONTINUE":
            out[-1][2] += image
            continue
        out.append([None, None, image])
        key = image[:8]
        if key == "HIERARCH" and "=" in image:
            open_string = isinstance(_value(image[8:].partition("=")[2]), str)
        else:
            open_string = (image[8:10] == "= " and key not in _COMMENTARY8
                           and image[10:].lstrip()[:1] == "'")
    for entry in out:
        (entry[0], entry[1]), = parse_cards(entry[2])
    return out


def _card_image(key: str, value) -> str:
    """An 80-character card for a value the conversion makes up (PCOUNT = 0, XTENSION ...)."""
    if isinstance(value, bool):
        v = f"{'T' if value else 'F':>20}"
    elif isinstance(value, str):
        v = "'" + f"{value.replace(chr(39), chr(39) * 2):<8}" + "'"
    else:
        v = f"{value:>20}"
    return f"{key:<8}= {v}".ljust(CARD)[:CARD]


def compressed_image_block(block: HeaderBlock) -> HeaderBlock | None:
    """The image a tile-compressed BINTABLE carries, as a :class:`HeaderBlock`; None when
    ``block`` is not one, or when its compression cards are too broken to say (astropy cannot
    open that image either).

    The block keeps the table's place in the file (``index``, offsets, ``data_size``: the
    compressed bytes); its cards, ``text``, ``header`` and ``shape`` are the image's, as
    ``astropy.io.fits.open(path)[index].header`` shows them.  A compressed primary image
    (``ZSIMPLE``) has ``SIMPLE = T`` and no ``XTENSION``; an extension has ``XTENSION = 'IMAGE'``.
    """
    if not is_compressed_image(block):
        return None
    th = block.header
    zbitpix, znaxis = th.get("ZBITPIX"), th.get("ZNAXIS")
    if type(zbitpix) is not int or zbitpix not in _BITPIX or type(znaxis) is not int \
            or not 0 <= znaxis <= MAX_NAXIS:
        return None
    zaxes = [th.get(f"ZNAXIS{i}") for i in range(1, znaxis + 1)]
    if any(type(v) is not int or v < 0 for v in zaxes):
        return None
    text = block.text[:-CARD] if block.text.endswith(_END) else block.text
    cards = _logical_cards(text)  # [keyword, value, images]
    by_key = {}
    for c in cards:
        by_key.setdefault(c[0], c)

    def renamed(zkey, key):
        """The Z-card's images under the image keyword (value and comment kept)."""
        images = by_key[zkey][2]
        return [key, by_key[zkey][1], f"{key:<8}" + images[8:]]

    bscale, bzero = th.get("BSCALE"), th.get("BZERO")
    # Header.strip(): the table's NAXISn and column cards, then its structure, once each
    table_naxis = th.get("NAXIS") if type(th.get("NAXIS")) is int else 0
    for key in [f"NAXIS{i}" for i in range(1, table_naxis + 1)] + list(_STRIPPED):
        for j, c in enumerate(cards):
            if c[0] == key:
                del cards[j]
                break
    # two EXTNAMEs: the default one goes (astropy _remove_unnecessary_default_extnames)
    extnames = [c for c in cards if c[0] == "EXTNAME"]
    if len(extnames) > 1:
        default = [c for c in extnames if isinstance(c[1], str) and c[1] == _DEFAULT_EXTNAME]
        if len(default) == len(extnames):
            default = default[1:]
        cards = [c for c in cards if not any(c is d for d in default)]
    cards = [c for c in cards if not _reserved(c[0])]

    def append(card):
        """Header.append: after the last card that is not commentary (or blank)."""
        j = len(cards)
        while j > 0 and cards[j - 1][0] in COMMENTARY:
            j -= 1
        cards.insert(j, card)

    if bscale:
        append(["BSCALE", bscale, _card_image("BSCALE", bscale)])
    if bzero:
        append(["BZERO", bzero, _card_image("BZERO", bzero)])
    if "ZSIMPLE" in by_key:
        head = [renamed("ZSIMPLE", "SIMPLE")]
    else:
        head = [["XTENSION", "IMAGE", _card_image("XTENSION", "IMAGE")]]
    head.append(renamed("ZBITPIX", "BITPIX"))
    head.append(renamed("ZNAXIS", "NAXIS"))
    head += [renamed(f"ZNAXIS{i}", f"NAXIS{i}") for i in range(1, znaxis + 1)]
    cards = [c for c in cards if not (c[0][:5] == "NAXIS" and c[0][5:].isdigit()
                                      and int(c[0][5:]) > znaxis)]
    for key in ("PCOUNT", "GCOUNT"):
        zkey = _Z_REMAPPED[key]
        head.append(renamed(zkey, key) if zkey in by_key
                    else [key, 0 if key == "PCOUNT" else 1, _card_image(key, 0 if key == "PCOUNT" else 1)])
    cards = head + cards
    for key in ("EXTEND", "BLOCKED", "CHECKSUM", "DATASUM"):
        if _Z_REMAPPED[key] in by_key:
            append(renamed(_Z_REMAPPED[key], key))
    first_extname = next((c for c in cards if c[0] == "EXTNAME"), None)
    if first_extname is not None and first_extname[1] == _DEFAULT_EXTNAME:
        cards = [c for c in cards if c[0] != "EXTNAME"]
    if "ZSIMPLE" in by_key:
        cards = [c for c in cards if c[0] not in ("PCOUNT", "GCOUNT")]
    if zbitpix > 0 and not any(c[0] == "BLANK" for c in cards):
        blank = None
        if "ZBLANK" in by_key:
            blank = by_key["ZBLANK"][1]
        else:
            tfields = th.get("TFIELDS") if type(th.get("TFIELDS")) is int else 0
            if any(th.get(f"TTYPE{i}") == "ZBLANK" for i in range(1, tfields + 1)):
                blank = -(1 << (zbitpix - 1))
        if blank is not None:
            append(["BLANK", blank, _card_image("BLANK", blank)])
    image_text = "".join(c[2] for c in cards) + _END
    return HeaderBlock(block.index, parse_cards(image_text[:-CARD]), block.offset,
                       block.data_offset, block.data_size, image_text)


def image_view(blocks: list[HeaderBlock]) -> list[HeaderBlock]:
    """``blocks`` with every tile-compressed image shown as the image it carries
    (:func:`compressed_image_block`); the same list when the file holds none."""
    out = None
    for i, b in enumerate(blocks):
        if b.index == 0 or not b.cards:
            continue
        img = compressed_image_block(b)
        if img is not None:
            if out is None:
                out = list(blocks)
            out[i] = img
    return blocks if out is None else out
