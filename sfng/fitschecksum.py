"""The FITS checksum convention (FITS 4.0 appendix J; Seaman, Pence & Rots 2002): ``DATASUM``,
the 32-bit ones' complement sum of an HDU's data, and ``CHECKSUM``, 16 characters that make the
whole HDU (header and data) sum to negative zero.

Written for streams: :class:`Sum` adds bytes in pieces of any length (the 4-byte words are
counted from the start of the data, whatever the pieces), so a writer that sends a table a few
rows at a time never holds it whole.  ``tests/test_fitschecksum.py`` cross-checks every value
against astropy's own checksums and fitsverify.
"""

from __future__ import annotations

import numpy as np

#: Characters the ASCII encoding must avoid (punctuation between the digits and the letters).
_EXCLUDE = frozenset(range(0x3A, 0x41)) | frozenset(range(0x5B, 0x61))
ZERO_CHECKSUM = "0" * 16


def _fold(hi: int, lo: int) -> int:
    """The 32-bit ones' complement value of sums of high and low 16-bit halves."""
    hc, lc = hi >> 16, lo >> 16
    while hc or lc:
        hi, lo = (hi & 0xFFFF) + lc, (lo & 0xFFFF) + hc
        hc, lc = hi >> 16, lo >> 16
    return ((hi & 0xFFFF) << 16) | (lo & 0xFFFF)


class Sum:
    """A running 32-bit ones' complement sum of big-endian words."""

    def __init__(self, start: int = 0):
        self.value = start & 0xFFFFFFFF
        self._tail = b""

    def add(self, data: bytes) -> None:
        data = self._tail + bytes(data)
        n = len(data) // 4 * 4
        self._tail = data[n:]
        if not n:
            return
        halves = np.frombuffer(data, dtype=">u2", count=n // 2)   # each word's high, low 16 bits
        hi = int(halves[0::2].sum(dtype=np.uint64)) + (self.value >> 16)
        lo = int(halves[1::2].sum(dtype=np.uint64)) + (self.value & 0xFFFF)
        self.value = _fold(hi, lo)

    def total(self) -> int:
        """The sum, a last partial word padded with zeros (as FITS blocks pad data)."""
        if self._tail:
            s = Sum(self.value)
            s.add(self._tail + b"\0" * (-len(self._tail) % 4))
            return s.value
        return self.value


def ones_sum(data: bytes, start: int = 0) -> int:
    s = Sum(start)
    s.add(data)
    return s.total()


def add(a: int, b: int) -> int:
    """Ones' complement sum of two 32-bit sums."""
    return _fold((a >> 16) + (b >> 16), (a & 0xFFFF) + (b & 0xFFFF))


def encode(value: int) -> str:
    """The 16-character ASCII CHECKSUM of the complement of ``value`` (the convention's
    encoding: four bytes spread over four characters each, avoiding punctuation, rotated
    right one place)."""
    value = ~value & 0xFFFFFFFF
    asc = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        ch = [quotient] * 4
        ch[0] += remainder
        moved = True
        while moved:
            moved = False
            for j in (0, 2):
                while ch[j] in _EXCLUDE or ch[j + 1] in _EXCLUDE:
                    ch[j] += 1
                    ch[j + 1] -= 1
                    moved = True
        for j in range(4):
            asc[4 * j + i] = ch[j]
    return bytes(asc[-1:] + asc[:-1]).decode("ascii")


def checksum(header_bytes: bytes, datasum: int) -> str:
    """CHECKSUM for a header written with ``CHECKSUM = '0000000000000000'`` and its
    ``DATASUM`` card already holding ``datasum``."""
    return encode(add(ones_sum(header_bytes), datasum))
