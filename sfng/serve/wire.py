"""The wire formats of ``getSpec``, written as the spectra are made: pieces of at most
:data:`PIECE` bytes, one chunk of records (a few MiB) in memory at a time, never pickle.

- ``npz`` (the client's default): a NumPy ``.npz`` (a ZIP of ``.npy`` files, stored, not
  compressed): ``spectra.npy``, a structured array (``id``, ``npix``, ``flux``, ``ivar``,
  ``mask``; ``wave`` too when the spectra do not share a grid), ``wave.npy`` (the shared grid,
  sent once) when they do, and ``meta.json`` (units, grid, notes).
  ``z = np.load(f, allow_pickle=False); z["spectra"]["flux"], z["wave"]``.
- ``npy``: one structured array, ``wave`` in every row (``np.load(f, allow_pickle=False)``);
  its length is known first, so the answer has a ``Content-Length``.
- ``fits``: a BINTABLE (``TUNIT``s, ``GRIDSTA``/``GRIDSTO``/``GRIDN``/``GRIDLOG``), its header
  from astropy, its rows streamed (big-endian) and padded; ``Content-Length`` known.
- ``ecsv``: astropy's ECSV, the header once, then each chunk's rows.
- ``votable``: astropy's VOTable of the whole answer (within ``max_bytes``; not streamed).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np

FORMATS = {"npz": "application/x-npz", "npy": "application/x-npy", "fits": "application/fits",
           "votable": "application/x-votable+xml", "ecsv": "text/x-ecsv"}
#: The largest piece handed to the server at once.
PIECE = 1 << 20
_FITS_BLOCK = 2880


def _pieces(arr):
    """``arr``'s bytes as memoryviews of at most PIECE bytes (no copy)."""
    u8 = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    for i in range(0, len(u8), PIECE):
        yield memoryview(u8[i:i + PIECE])


def _npy_header(dtype, shape) -> bytes:
    buf = io.BytesIO()
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    try:
        np.lib.format.write_array_header_1_0(buf, d)
    except ValueError:
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def meta(stream) -> dict:
    return {"format": "sfng-spectra-1", "count": len(stream.ids), "npix_max": stream.n,
            "wave_unit": stream.wave_unit, "flux_unit": stream.flux_unit, "grid": stream.grid,
            "shared_wave": stream.common_wave is not None, "notes": list(stream.notes),
            "mask_nocov_bit": 1}


def _coalesce(pieces):
    """Small pieces (headers, ZIP records) joined up to PIECE bytes; large ones passed as
    they are (no copy): fewer, fuller writes to the socket."""
    buf, size = [], 0
    for p in pieces:
        n = p.nbytes if isinstance(p, memoryview) else len(p)
        if n >= PIECE // 2:
            if buf:
                yield b"".join(buf)
                buf, size = [], 0
            yield p
            continue
        buf.append(p)
        size += n
        if size >= PIECE:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def encode(stream, fmt: str):
    """``(pieces, media_type, content_length or None)`` of ``stream`` as ``fmt``."""
    pieces, media, length = _encode(stream, fmt)
    return _coalesce(pieces), media, length


def _encode(stream, fmt: str):
    if fmt == "npz":
        return _npz(stream), FORMATS[fmt], None
    if fmt == "npy":
        head = _npy_header(stream.dtype(True), (len(stream.ids),))
        return _npy(stream, head), FORMATS[fmt], len(head) + stream.nbytes(True)
    if fmt == "ecsv":
        return _ecsv(stream), FORMATS[fmt], None
    if fmt == "fits":
        head, row_dtype = _fits_header(stream)
        size = len(head) + len(stream.ids) * row_dtype.itemsize
        pad = -(size - len(head)) % _FITS_BLOCK
        return _fits(stream, head, row_dtype, pad), FORMATS[fmt], size + pad
    if fmt == "votable":
        body = _votable(stream)
        return [body], FORMATS[fmt], len(body)
    raise ValueError(fmt)


def _npy(stream, head):
    yield head
    for rec in stream.records(with_wave=True):
        yield from _pieces(rec)


class _Sink:
    """A write-only stream for :class:`zipfile.ZipFile` (no ``tell``: it writes data
    descriptors), keeping the pieces written until they are taken."""

    def __init__(self):
        self.parts, self.size = [], 0

    def write(self, b) -> int:
        n = len(b) if not isinstance(b, memoryview) else b.nbytes
        self.parts.append(b)
        self.size += n
        return n

    def flush(self) -> None:
        pass

    def take(self) -> list:
        parts, self.parts, self.size = self.parts, [], 0
        return parts


def _npz(stream):
    sink = _Sink()
    zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def member(name, pieces, size):
        zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_STORED
        with zf.open(zi, "w", force_zip64=size > (1 << 31)) as f:
            for p in pieces:
                f.write(p)
                if sink.size >= PIECE:
                    yield from sink.take()
        yield from sink.take()

    shared = stream.common_wave is not None
    m = json.dumps(meta(stream), allow_nan=False, default=float).encode()
    yield from member("meta.json", [m], len(m))
    if shared:
        w = np.asarray(stream.common_wave, dtype="<f8")
        head = _npy_header(w.dtype, w.shape)
        yield from member("wave.npy", [head, *_pieces(w)], len(head) + w.nbytes)
    dt = stream.dtype(with_wave=not shared)
    head = _npy_header(dt, (len(stream.ids),))

    def rows():
        yield head
        for rec in stream.records(with_wave=not shared):
            yield from _pieces(rec)

    yield from member("spectra.npy", rows(), len(head) + stream.nbytes(not shared))
    zf.close()
    yield from sink.take()


# ---------------------------------------------------------------------------------------------
# Tables (fits, ecsv, votable)

def _astropy_unit(text: str):
    import astropy.units as u

    try:
        return u.Unit(text.replace("^", ""), format="fits", parse_strict="silent")
    except Exception:  # noqa: BLE001 - astropy raises several types for unit strings
        try:
            return u.Unit(text, parse_strict="silent")
        except Exception:  # noqa: BLE001
            return None


def _table(stream, rec, fmt: str):
    """One chunk of records as an astropy Table with the answer's units and metadata."""
    from astropy.table import Table

    from .. import __version__

    t = Table()
    for name in rec.dtype.names:
        t[name] = rec[name]
    t["wave"].unit = stream.wave_unit if stream.wave_unit != "mixed" else None
    if stream.flux_unit and stream.flux_unit != "mixed":
        t["flux"].unit = _astropy_unit(stream.flux_unit)
        try:
            t["ivar"].unit = t["flux"].unit ** -2 if t["flux"].unit is not None else None
        except ValueError:   # a unit astropy does not know (MaNGA's '/spaxel')
            t.meta["ivar_unit"] = f"({stream.flux_unit})**-2"
    t.meta["SFNGVER"] = __version__
    t.meta["WAVEUNIT"] = stream.wave_unit
    t.meta["FLUXUNIT"] = stream.flux_unit
    if stream.grid and fmt == "ecsv":
        t.meta["grid"] = stream.grid
    return t


def _fits_header(stream):
    """The primary + BINTABLE headers (bytes) of the whole answer, and the row dtype."""
    from astropy.io import fits

    empty = np.empty(0, dtype=stream.dtype(True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = fits.table_to_hdu(_table(stream, empty, "fits"))
    hdu.header["NAXIS2"] = len(stream.ids)
    if stream.grid:
        g = stream.grid
        for k, v in (("GRIDSTA", g["start"]), ("GRIDSTO", g["stop"]), ("GRIDN", g["n"]),
                     ("GRIDLOG", bool(g["log"])), ("RESAMPLD", bool(g.get("resampled", False)))):
            hdu.header[k] = v
    head = fits.PrimaryHDU().header.tostring().encode("ascii") + hdu.header.tostring().encode("ascii")
    return head, np.dtype(hdu.data.dtype.descr).newbyteorder(">")   # FITS is big-endian


def _fits(stream, head, row_dtype, pad):
    yield head
    for rec in stream.records(with_wave=True):
        out = np.empty(len(rec), dtype=row_dtype)
        for name in row_dtype.names:
            out[name] = np.char.encode(rec[name], "ascii") if rec.dtype[name].kind == "U" else rec[name]
        yield from _pieces(out)
    if pad:
        yield b"\0" * pad


def _ecsv(stream):
    first = True
    for rec in stream.records(with_wave=True):
        s = io.StringIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _table(stream, rec, "ecsv").write(s, format="ascii.ecsv")
        text = s.getvalue()
        if first:
            first = False
            yield text.encode("utf-8")
            continue
        lines = text.splitlines(keepends=True)
        k = 0
        while k < len(lines) and lines[k].startswith("#"):
            k += 1
        yield "".join(lines[k + 1:]).encode("utf-8")   # past the header and the column names


def _votable(stream) -> bytes:
    recs = list(stream.records(with_wave=True))
    rec = np.concatenate(recs) if len(recs) > 1 else recs[0]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _table(stream, rec, "votable").write(buf, format="votable")
    return buf.getvalue()
