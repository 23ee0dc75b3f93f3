"""Spectrum and file identifiers of the data service: stable, opaque, never file paths.

An id is base64url (no padding) of a few packed bytes:

- a spectrum: ``kind 1, key (8 bytes), x, y`` (``>B8sHH``) -- the spectrum at spaxel (x, y)
  (0-based, FITS axis 1 and 2) of the cube whose key is ``key``;
- an aperture: ``kind 3, key, x, y, r`` (``>B8sHHH``; r in spaxels) -- the sum over the spaxels
  within ``r`` of (x, y);
- a file: ``kind 2, key`` (``>B8s``);
- a row of a table of spectra: ``kind 4, key, row`` (``>B8sI``; 0-based).

``key`` is the first 8 bytes of ``sha256`` of the index row's store-relative path followed by its
``locator`` (empty for a whole file, ``[FLUX]`` for a MaNGA cube's HDU), so an id stays the same
across restarts, rebuilds of the index and new versions of a file at the same path, and each
object of a file with several has its own.  The
server looks keys up in the table it built from the index: an id cannot name anything the index
does not list, whatever its bytes, so no id reaches outside the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from ..errors import SfngError

SPAXEL, FILE, APERTURE, ROW = 1, 2, 3, 4
_FORMS = {SPAXEL: ">B8sHH", FILE: ">B8s", APERTURE: ">B8sHHH", ROW: ">B8sI"}
MAX_ID_LENGTH = 40


class BadId(SfngError):
    """An id that is not one of ours (malformed); the service answers 400."""


def path_key(path: str) -> bytes:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def spectrum_id(key: bytes, x: int, y: int) -> str:
    return _b64(struct.pack(_FORMS[SPAXEL], SPAXEL, key, x, y))


def aperture_id(key: bytes, x: int, y: int, r: int) -> str:
    return _b64(struct.pack(_FORMS[APERTURE], APERTURE, key, x, y, r))


def row_id(key: bytes, row: int) -> str:
    return _b64(struct.pack(_FORMS[ROW], ROW, key, row))


def file_id(key: bytes) -> str:
    return _b64(struct.pack(_FORMS[FILE], FILE, key))


def decode(text) -> tuple:
    """``(kind, key, *numbers)``; :class:`BadId` for anything else."""
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_ID_LENGTH:
        raise BadId(f"not a spectrum or file id: {str(text)[:60]!r}")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadId(f"not a spectrum or file id: {text!r}") from None
    if not raw or raw[0] not in _FORMS or len(raw) != struct.calcsize(_FORMS[raw[0]]):
        raise BadId(f"not a spectrum or file id: {text!r}")
    if _b64(raw) != text:   # one spelling per id
        raise BadId(f"not a spectrum or file id: {text!r}")
    return struct.unpack(_FORMS[raw[0]], raw)
