"""Read only the header cards a MaNGA product needs (a .fits.gz cube holds 24 HDUs behind ~100 MB of
compressed data; two suffice for its index row).
"""

from __future__ import annotations

import os


def read_header_dicts(path, max_hdus=None):
    from ...fitsheader import read_headers

    return [b.header for b in read_headers(path, max_hdus=max_hdus)]


#: Cards a DRP cube row needs from PRIMARY/FLUX; the other HDUs are walked for their names only.
CUBE_KEYS = frozenset((
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "PCOUNT",
    "GCOUNT", "GROUPS", "EXTNAME", "BUNIT", "TELESCOP", "INSTRUME", "IFURA", "IFUDEC", "OBJRA", "OBJDEC",
    "PLATEIFU", "MANGAID", "IFUDSGN", "GFWHM", "RFWHM", "IFWHM", "ZFWHM", "VERSDRP3", "DAPFRMT",
    "CTYPE1", "CTYPE2", "CTYPE3", "CUNIT1", "CUNIT2", "CUNIT3", "CRVAL1", "CRVAL2", "CRVAL3",
    "CRPIX1", "CRPIX2", "CRPIX3", "CD1_1", "CD1_2", "CD2_1", "CD2_2", "CD3_3", "CDELT1", "CDELT2",
    "CDELT3", "PC1_1", "PC1_2", "PC2_1", "PC2_2"))

_SIZING_KEYS = frozenset(("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3",
                          "NAXIS4", "NAXIS5", "PCOUNT", "GCOUNT", "GROUPS", "EXTNAME"))

_END_CARD = b"END" + b" " * 77


def _card_value(text: str, key: str):
    """The raw value field of the first card ``key`` at a card boundary of ``text``, or None."""
    probe = key.ljust(8) + "= "
    j = text.find(probe)
    while j >= 0 and j % 80:
        j = text.find(probe, j + 1)
    return None if j < 0 else text[j + 10:j + 80]


def _put(h: dict, key: str, raw) -> None:
    if raw is None:
        return
    v = raw.strip()
    if v.startswith("'"):
        h[key] = v[1:].split("'", 1)[0].rstrip()
    else:
        v = v.split("/", 1)[0].strip()
        h[key] = (v == "T") if v in ("T", "F") else int(v)


def scan_headers(path, keys_of=lambda index: CUBE_KEYS, max_hdus=None) -> list[dict]:
    """Selected cards of the HDUs of a FITS file: ``[{key: value}, ...]``, one dict per HDU.

    ``keys_of(index)`` names the keywords to parse in HDU ``index`` (values are cast by
    :func:`sfng.fitsheader.parse_cards`, so they equal astropy's); the sizing keywords are always
    read so the data can be skipped.  Faster than parsing every card: a DRP cube's 24 headers hold
    ~900 cards of which a row needs ~50.  Plain files are read with ``pread``; a ``.gz`` is
    inflated as far as the last HDU asked for.  Raises :class:`sfng.fitsheader.FitsHeaderError`.
    """
    import gzip

    from ...fitsheader import FitsHeaderError, parse_cards

    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    out: list = []
    f = gzip.open(path, "rb") if gz else open(path, "rb")
    try:
        fd = None if gz else f.fileno()
        pos = 0
        while max_hdus is None or len(out) < max_hdus:
            head = bytearray()
            while True:
                if gz:
                    if f.tell() != pos + len(head):
                        f.seek(pos + len(head))
                    blk = f.read(2880)
                else:
                    blk = os.pread(fd, 2880, pos + len(head))
                if len(blk) < 2880:
                    if not out and not head:
                        raise FitsHeaderError(path, "empty or not a FITS file")
                    if not head:
                        return out
                    raise FitsHeaderError(path, f"HDU {len(out)}: truncated header")
                if not head:
                    want_start = b"SIMPLE  =" if not out else b"XTENSION="
                    if blk[:9] != want_start:
                        if not out:
                            raise FitsHeaderError(path, "not a FITS file (does not start with SIMPLE = T)")
                        return out
                head += blk
                j = blk.find(_END_CARD)
                while j >= 0 and j % 80:
                    j = blk.find(_END_CARD, j + 1)
                if j >= 0:
                    end = len(head) - 2880 + j
                    break
            keys = keys_of(len(out))
            text = head[:end].decode("latin-1")
            h: dict = {}
            if keys:
                sel = "".join(text[i:i + 80] for i in range(0, end, 80)
                              if text[i:i + 8].rstrip() in keys or text[i:i + 8].rstrip() in _SIZING_KEYS)
                for k, v in parse_cards(sel):
                    h.setdefault(k, v)
            else:  # names and sizes only: a few aligned finds, parsed in place
                for k in ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "EXTNAME"):
                    _put(h, k, _card_value(text, k))
                for i in range(1, int(h.get("NAXIS", 0) or 0) + 1):
                    _put(h, f"NAXIS{i}", _card_value(text, f"NAXIS{i}"))
            naxis = int(h.get("NAXIS", 0) or 0)
            size = 0
            if naxis:
                size = abs(int(h["BITPIX"])) // 8 * int(h.get("GCOUNT", 1) or 1)
                n = 1
                for i in range(1, naxis + 1):
                    n *= int(h.get(f"NAXIS{i}", 0) or 0)
                size *= int(h.get("PCOUNT", 0) or 0) + n
            out.append(h)
            pos += len(head) + -(-size // 2880) * 2880
    finally:
        f.close()
    return out


def is_gzip(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def open_fits(path):
    """An astropy HDUList of ``path``; a ``.gz`` is inflated once into memory, since astropy
    re-inflates from the start for every backward seek between HDUs."""
    import gzip
    import io

    from astropy.io import fits

    if is_gzip(path):
        with gzip.open(path, "rb") as f:
            return fits.open(io.BytesIO(f.read()), memmap=False)
    return fits.open(path, memmap=False)

