"""A Python client of ``sfng serve``: queries give id lists, spectra come back as numpy arrays
or astropy Tables, pictures as PNG bytes.  Standard library HTTP only (no web framework), and
never pickle: spectra travel as ``.npz`` (``allow_pickle=False``; a shared wavelength grid sent
once), ``.npy``, FITS, VOTable or ECSV.

    >>> from sfng.client import Client
    >>> c = Client("http://127.0.0.1:8770", token="sfng_...")
    >>> ids = c.query(ra=232.5447, dec=48.6902, size=0.001)
    >>> sp = c.getSpec(ids, align=True)          # numpy structured array, + .grid
    >>> c.curl("getSpec", id_list=ids[:2])        # the same call as a curl command

The token may also come from ``$SFNG_TOKEN``.  Every method raises :class:`ServiceError`
(with ``.status``) for an answer that is not a success.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from .errors import SfngError

_POST = {"getSpec", "plotGrid", "stackedImage", "listSpan"}


class ServiceError(SfngError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Spectra(np.ndarray):
    """The structured array ``getSpec`` returns (fields id, npix, flux, ivar, mask, and wave
    unless the spectra share a grid), with ``.wave`` (the shared grid, 1-D, or None),
    ``.grid`` (the grid's description, or None), ``.wave_unit``, ``.flux_unit`` and ``.meta``.

    ``sp["wave"]`` is always the (spectra, pixels) wavelengths: with a shared grid, a read-only
    broadcast of ``sp.wave`` (no copy)."""

    grid = None
    wave = None
    wave_unit = ""
    flux_unit = ""
    meta = None

    def __array_finalize__(self, obj):
        if obj is None:
            return
        for k in ("grid", "wave", "wave_unit", "flux_unit", "meta"):
            setattr(self, k, getattr(obj, k, getattr(Spectra, k)))

    def __getitem__(self, key):
        if (isinstance(key, str) and key == "wave" and self.dtype.names is not None
                and "wave" not in self.dtype.names and self.wave is not None):
            return np.broadcast_to(np.asarray(self.wave), (len(self), len(self.wave)))
        return super().__getitem__(key)


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8770", token: str | None = None, timeout: float = 120.0):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("SFNG_TOKEN")
        self.timeout = timeout
        self.last_headers: dict = {}

    # -- plumbing --------------------------------------------------------------------------
    def _headers(self) -> dict:
        h = {"Accept": "*/*", "User-Agent": "sfng-client"}
        if self.token:
            h["X-DL-AuthToken"] = self.token
        return h

    def _request(self, method: str, path: str, params: dict | None = None, body: dict | None = None,
                 headers: dict | None = None) -> bytes:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = None
        h = self._headers()
        h.update(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                self.last_headers = r.headers   # case-insensitive
                return r.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                msg = json.loads(raw).get("error", raw.decode("utf-8", "replace"))
            except (ValueError, AttributeError):
                msg = raw.decode("utf-8", "replace")
            self.last_headers = exc.headers if exc.headers is not None else {}
            raise ServiceError(exc.code, msg) from None
        except urllib.error.URLError as exc:
            raise ServiceError(0, f"cannot reach {self.url}: {exc.reason}") from None

    def _json(self, method, path, params=None, body=None):
        return json.loads(self._request(method, path, params, body))

    def curl(self, endpoint: str, **kw) -> str:
        """The curl command doing the same call (token shown as $SFNG_TOKEN)."""
        path = "/" + endpoint.lstrip("/")
        parts = ["curl", "-sS", "-H", "X-DL-AuthToken: $SFNG_TOKEN"]
        if endpoint.lstrip("/") in _POST:
            parts += ["-H", "Content-Type: application/json", "-d", json.dumps(_clean(kw))]
            url = self.url + path
        else:
            url = self.url + path + ("?" + urllib.parse.urlencode(_flat(kw)) if kw else "")
        parts.append(url)
        out = []
        for p in parts:
            out.append('"X-DL-AuthToken: $SFNG_TOKEN"' if p.startswith("X-DL-AuthToken") else shlex.quote(p))
        return " ".join(out)

    # -- the service -----------------------------------------------------------------------
    def isAlive(self) -> bool:  # noqa: N802 - specserver's name
        try:
            return bool(self._json("GET", "/").get("alive"))
        except ServiceError:
            return False

    def alive(self) -> dict:
        return self._json("GET", "/")

    def contexts(self) -> dict:
        return self._json("GET", "/contexts")

    def catalogs(self) -> dict:
        return self._json("GET", "/catalogs")

    def query(self, region=None, ra=None, dec=None, size=None, *, coord=None, constraint=None,
              limit=None, offset=None, aperture=None, all=False, version=None) -> list:  # noqa: A002
        """Spectrum ids: a polygon ``region`` ([(ra, dec), ...] degrees), a cone (``ra``,
        ``dec``, ``size`` degrees, or an astropy ``coord`` and ``size``), and/or a
        ``constraint`` in the language of ``sfng find --where``.  ``version``: the current data
        version of each survey by default, ``"all"`` every version, or one version."""
        body = {}
        if region is not None:
            body["region"] = [[float(a), float(b)] for a, b in region]
        if coord is not None:
            ra, dec = float(coord.icrs.ra.deg), float(coord.icrs.dec.deg)
        for k, v in (("ra", ra), ("dec", dec), ("size", size), ("constraint", constraint), ("limit", limit),
                     ("offset", offset), ("aperture", aperture), ("version", version)):
            if v is not None:
                body[k] = v
        if all:
            body["all"] = True
        return self._json("POST", "/query", body=body)

    def getSpec(self, id_list, fmt: str = "numpy", align: bool = False, cutout=None, grid=None):  # noqa: N802
        """Spectra of ``id_list``: ``fmt='numpy'`` a :class:`Spectra` structured array (npz on
        the wire: a grid the spectra share comes once), ``'table'`` an astropy Table (FITS on
        the wire, units kept), ``'Spectrum1D'`` a list of specutils spectra (when specutils is
        installed), else the raw bytes of ``npz``/``npy``/``fits``/``votable``/``ecsv``."""
        single = isinstance(id_list, str)
        ids_ = [id_list] if single else list(id_list)
        wire = {"numpy": "npz", "table": "fits", "spectrum1d": "npz"}.get(fmt.lower(), fmt.lower())
        body = {"id_list": ids_, "fmt": wire, "align": bool(align)}
        if cutout is not None:
            body["cutout"] = cutout
        if grid is not None:
            body["grid"] = grid
        raw = self._request("POST", "/getSpec", body=body)
        if fmt.lower() in ("numpy", "spectrum1d"):
            arr = read_npz(raw)
            if fmt.lower() == "spectrum1d":
                return to_spectrum1d(arr)
            return arr
        if fmt.lower() == "table":
            from astropy.table import Table

            return Table.read(io.BytesIO(raw), format="fits")
        return raw

    def preview(self, id: str) -> bytes:  # noqa: A002
        return self._request("GET", "/preview", {"id": id})

    def plotGrid(self, id_list, nx: int = 3, ny: int = 3, page: int = 0, align: bool = False) -> bytes:  # noqa: N802
        return self._request("POST", "/plotGrid", body={"id_list": list(id_list), "nx": nx, "ny": ny,
                                                         "page": page, "align": align})

    def stackedImage(self, id_list, fmt: str = "png", align: bool = True, yflip: bool = False):  # noqa: N802
        wire = "npy" if fmt in ("npy", "numpy") else fmt
        raw = self._request("POST", "/stackedImage", body={"id_list": list(id_list), "fmt": wire,
                                                            "align": align, "yflip": yflip})
        return np.load(io.BytesIO(raw), allow_pickle=False) if wire == "npy" else raw

    def listSpan(self, id_list) -> list:  # noqa: N802
        return self._json("POST", "/listSpan", body={"id_list": list(id_list)})

    def files(self, survey: str | None = None) -> list:
        return self._json("GET", "/files", {"survey": survey} if survey else None)

    def download(self, file_id: str, dest, *, resume: bool = True) -> str:
        """Download a whole file to ``dest``, resuming a partial one (HTTP Range, If-Range on
        the SHA-256 ETag); returns the ETag."""
        import hashlib

        dest = os.fspath(dest)
        have = os.path.getsize(dest) if resume and os.path.exists(dest) else 0
        etag_file = dest + ".etag"
        headers = {}
        if have and os.path.exists(etag_file):
            with open(etag_file) as f:
                headers = {"Range": f"bytes={have}-", "If-Range": f.read().strip()}
        try:
            raw = self._request("GET", f"/files/{file_id}", headers=headers)
            etag = self.last_headers.get("ETag", "")
            partial = bool(self.last_headers.get("Content-Range"))
            with open(dest, "ab" if partial else "wb") as f:
                f.write(raw)
        except ServiceError as exc:
            if exc.status != 416 or not headers:   # 416: the partial copy is already whole
                raise
            with open(etag_file) as f:
                etag = f.read().strip()
        with open(etag_file, "w") as f:
            f.write(etag)
        h = hashlib.sha256()
        with open(dest, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if etag and h.hexdigest() != etag.strip('"'):
            raise ServiceError(0, f"{dest}: its SHA-256 differs from the server's ETag; download it again")
        os.unlink(etag_file)
        return etag


def read_npz(data) -> Spectra:
    """A ``getSpec`` answer in ``npz`` (bytes or a file) as a :class:`Spectra` array."""
    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with np.load(src, allow_pickle=False) as z:
        meta = json.loads(z["meta.json"]) if "meta.json" in z.files else {}
        arr = z["spectra"].view(Spectra)
        arr.wave = z["wave"] if "wave" in z.files else None
    arr.meta = meta
    arr.grid = meta.get("grid")
    arr.wave_unit = meta.get("wave_unit", "")
    arr.flux_unit = meta.get("flux_unit", "")
    return arr


def to_table(arr):
    """A :class:`Spectra` array as an astropy Table (units from the answer)."""
    from astropy.table import Table

    t = Table(np.asarray(arr))
    if "wave" not in t.colnames:
        t.add_column(np.array(arr["wave"]), name="wave", index=2)
    if getattr(arr, "wave_unit", ""):
        t["wave"].unit = arr.wave_unit
    t.meta["grid"] = getattr(arr, "grid", None)
    return t


def to_spectrum1d(arr) -> list:
    """specutils spectra (``Spectrum``; ``Spectrum1D`` before specutils 2), one per row, each its
    own pixels only (needs specutils).  Units as the store reads them (BUNIT spellings through
    :func:`sfng.validate.bunit.parse_bunit`, axis units through
    :func:`sfng.spectral.parse_axis_unit`); a flux unit that cannot be read is kept as text in
    ``meta['flux_unit']`` and the flux is dimensionless."""
    import astropy.units as u

    try:
        import specutils
    except ImportError as exc:
        raise SfngError("fmt='Spectrum1D' needs specutils: pip install specutils") from exc
    from astropy.nddata import InverseVariance

    from .spectral import parse_axis_unit
    from .validate.bunit import parse_bunit

    cls = getattr(specutils, "Spectrum", None) or specutils.Spectrum1D
    f = parse_bunit(arr.flux_unit).unit or u.dimensionless_unscaled     # '' or 'mixed': none
    su = parse_axis_unit(arr.wave_unit) or u.dimensionless_unscaled
    out = []
    waves = arr["wave"]
    for i, r in enumerate(np.asarray(arr)):
        n = int(r["npix"])
        out.append(cls(flux=r["flux"][:n] * f, spectral_axis=np.asarray(waves[i][:n]) * su,
                       uncertainty=InverseVariance(r["ivar"][:n] / f ** 2), mask=r["mask"][:n] != 0,
                       meta={"id": str(r["id"]), "flux_unit": arr.flux_unit}))
    return out


def _clean(kw: dict) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


def _flat(kw: dict) -> dict:
    return {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in _clean(kw).items()}
