"""The IVOA face of the service: DataLink ``{links}`` and SODA sync cutouts, so that pyvo,
TOPCAT and Aladin work with no sfng client.

- ``GET|POST /datalink?ID=...`` (DataLink 1.1; ``ID`` repeated for several datasets): a VOTable
  of links per dataset -- ``#this`` (the whole file, ``/files/<id>``), ``#preview`` (a PNG) and
  ``#cutout`` (the SODA service, described by a service-descriptor resource whose ``ID``
  parameter refers to the links' ``ID`` column, with the dataset's sky circle and band as
  limits when one dataset is asked for).  An ID the store does not have is a row with
  ``error_message`` ``NotFoundFault: ...``; a malformed request a VOTable with ``QUERY_STATUS``
  ``ERROR``.
- ``GET /capabilities`` and ``GET /availability`` (VOSI 1.1): what the service offers, and that
  it is up.
- ``GET|POST /soda/sync?ID=...&CIRCLE=ra dec r | POLYGON=ra dec ... | POS=...&BAND=lo hi``
  (SODA 1.0): a FITS cutout of an image or cube (:mod:`sfng.serve.cutout`); 204 when nothing
  overlaps; errors as ``text/plain`` beginning ``UsageError:``, ``NotFoundError:``,
  ``AuthenticationError:``, ``AuthorizationError:``, ``MultiValuedParamNotSupported:``,
  ``ServiceUnavailable:`` or ``Error:``.

Dataset ids are the file ids of ``/files`` or the ObsCore ``obs_publisher_did``
(``ivo://sfng/<store>?<path>``) that ``sfng find --export-obscore`` writes.  Parameter names are
case-insensitive (DALI).  Both need the ``read`` scope; ``#this`` needs ``download``
(``link_authorized`` says whether the token presented has it).
"""

from __future__ import annotations

import math
import urllib.parse
from xml.sax.saxutils import escape, quoteattr

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import SfngError
from . import cutout, ids
from .data import NotFound
from .service import UsageError

DATALINK_STANDARD = "ivo://ivoa.net/std/DataLink#links-1.1"
SODA_STANDARD = "ivo://ivoa.net/std/SODA#sync-1.0"
DATALINK_MIME = "application/x-votable+xml;content=datalink"
MAX_FORM = 1 << 20

_SODA_PREFIX = {400: "UsageError", 401: "AuthenticationError", 403: "AuthorizationError", 404: "NotFoundError",
                413: "UsageError", 422: "MultiValuedParamNotSupported", 503: "ServiceUnavailable"}
_DL_PREFIX = {404: "NotFoundFault", 503: "TransientFault", 500: "FatalFault"}


class MultiValued(UsageError):
    """A parameter given more than once where one value is allowed (422)."""

    http_status = 422


def soda_error(exc, status: int, message: str, headers: dict) -> Response:
    """SODA 1.0 section 5.2: ``text/plain``, the first word the error's kind."""
    if isinstance(exc, cutout.CutoutUsage):
        status = 400
    prefix = _SODA_PREFIX.get(status, "Error")
    return PlainTextResponse(f"{prefix}: {message}\n", status_code=status, headers=headers)


def datalink_error(exc, status: int, message: str, headers: dict) -> Response:
    """DALI: a VOTable whose ``QUERY_STATUS`` is ``ERROR``, the message its text."""
    prefix = _DL_PREFIX.get(status, "UsageFault" if status < 500 else "DefaultFault")
    body = (_HEAD + '<RESOURCE type="results">\n'
            f'<INFO name="QUERY_STATUS" value="ERROR">{escape(prefix + ": " + message)}</INFO>\n'
            "</RESOURCE>\n</VOTABLE>\n")
    return Response(body, status_code=status, headers=headers, media_type="application/x-votable+xml")


_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n')

#: The {links} columns of DataLink 1.1, in its order: (name, datatype, ucd, extra attributes).
LINK_FIELDS = [
    ("ID", "char", "meta.id;meta.main", ' ID="ID" arraysize="*"'),
    ("access_url", "char", "meta.ref.url", ' arraysize="*"'),
    ("service_def", "char", "meta.ref", ' arraysize="*"'),
    ("error_message", "char", "meta.code.error", ' arraysize="*"'),
    ("semantics", "char", "meta.code", ' arraysize="*"'),
    ("description", "char", "meta.note", ' arraysize="*"'),
    ("content_type", "char", "meta.code.mime", ' arraysize="*"'),
    ("content_length", "long", "phys.size;meta.file", ' unit="byte"'),
    ("content_qualifier", "char", "meta.code.class", ' arraysize="*"'),
    ("local_semantics", "char", "meta.code", ' arraysize="*"'),
    ("link_auth", "char", "meta.code", ' arraysize="*"'),
    ("link_authorized", "boolean", "meta.code", ""),
]


async def dali_params(request: Request) -> dict:
    """``{NAME: [values]}`` from the query string and a form-encoded POST body (DALI: names
    are case-insensitive, a name may repeat)."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        n = int(request.headers.get("content-length") or 0)
        if n > MAX_FORM:
            raise UsageError(f"a request body of {n} bytes; at most {MAX_FORM}")
        body = await request.body()
        if len(body) > MAX_FORM:
            raise UsageError(f"a request body over {MAX_FORM} bytes")
        if body:
            ctype = request.headers.get("content-type", "")
            if "multipart" in ctype:
                raise UsageError("send the parameters form-encoded (application/x-www-form-urlencoded)")
            try:
                items += urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                raise UsageError("the request body is not UTF-8") from None
    out: dict = {}
    for k, v in items:
        out.setdefault(k.upper(), []).append(v)
    return out


def _one(p: dict, name: str, required: bool = False):
    vals = [v for v in p.get(name, []) if v.strip()]
    if len(vals) > 1:
        raise MultiValued(f"{name} given {len(vals)} times; one value per request")
    if not vals:
        if required:
            raise UsageError(f"{name} is required")
        return None
    return vals[0]


def _base_url(service, request: Request) -> str:
    url = ((service.config.get("serve") or {}).get("base_url") or "").strip()
    return (url or str(request.base_url)).rstrip("/")


def _can_cut(e) -> bool:
    return e.is_fits and e.product in ("image", "cube") and len(e.naxis) >= 2 and e.naxis[0] > 1 and e.naxis[1] > 1


def _content_type(e) -> str:
    return "application/fits" if e.is_fits else "application/octet-stream"


def _td(v) -> str:
    if v is None:
        return "<TD/>"
    if isinstance(v, bool):
        return f"<TD>{'T' if v else 'F'}</TD>"
    return f"<TD>{escape(str(v))}</TD>"


def _band_m(service, e) -> tuple[float, float] | None:
    """The dataset's band in metres, from the index, by the ObsCore export's rule
    (:func:`sfng.spectral.band_metres`; no redshift here, so an optical line map's is unknown)."""
    from ..spectral import band_metres, velocity_convention

    try:
        t = service.catalog.index.vocabulary().tracers.get(e.tracer) if e.tracer else None
    except Exception:  # noqa: BLE001 - no vocabulary: the band from the row alone
        t = None
    return band_metres(e.restfrq, e.spec_min, e.spec_max, e.spec_unit, t,
                       convention=velocity_convention(e.spec_type, e.extra))


def links_votable(service, id_list: list, base: str, token) -> str:
    """The DataLink {links} document of ``id_list``."""
    rows = []
    cuttable = []
    for raw in id_list:
        try:
            e = service.dataset(raw)
        except NotFound as exc:
            rows.append([raw, None, None, f"NotFoundFault: {exc}", "#this", None, None, None, None, None, None, None])
            continue
        except (ids.BadId, SfngError) as exc:
            rows.append([raw, None, None, f"UsageFault: {exc}", "#this", None, None, None, None, None, None, None])
            continue
        fid = ids.file_id(e.key)
        q_fid = urllib.parse.quote(fid, safe="")
        product = f"{e.product} " if e.product else ""
        read_ok = bool(token and token.allows("read"))
        rows.append([raw, f"{base}/files/{q_fid}", None, None, "#this",
                     f"the whole file: {e.name}{e.locator} ({product}{e.survey}; SHA-256 {e.sha256[:12]}...)",
                     _content_type(e), e.size, "#" + (e.product or "dataset"), None, "true",
                     bool(token and token.allows("download"))])
        if _can_cut(e):
            rows.append([raw, f"{base}/preview?id={q_fid}", None, None, "#preview",
                         "a PNG of the data" + (" (mean over the spectral axis)" if e.is_cube else ""),
                         "image/png", None, None, None, "true", read_ok])
            rows.append([raw, None, "soda", None, "#cutout",
                         "SODA cutout: CIRCLE or POLYGON (deg, ICRS), BAND (m, vacuum wavelength)",
                         "application/fits", None, "#" + e.product, None, "true", read_ok])
            cuttable.append(e)
    out = [_HEAD, '<RESOURCE type="results">\n',
           f'<INFO name="standardID" value="{DATALINK_STANDARD}"/>\n',
           '<INFO name="QUERY_STATUS" value="OK"/>\n', "<TABLE>\n"]
    for name, dt, ucd, extra in LINK_FIELDS:
        out.append(f'<FIELD name="{name}" datatype="{dt}" ucd="{ucd}"{extra}/>\n')
    out.append("<DATA><TABLEDATA>\n")
    for r in rows:
        out.append("<TR>" + "".join(_td(v) for v in r) + "</TR>\n")
    out.append("</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n")
    if cuttable:
        out.append(_soda_descriptor(service, base, cuttable[0] if len(cuttable) == 1 else None))
    out.append("</VOTABLE>\n")
    return "".join(out)


def _soda_descriptor(service, base: str, e=None) -> str:
    """The SODA sync service descriptor; with one dataset ``e``, its extent as the limits."""
    circle_limits = band_limits = ""
    if e is not None:
        if math.isfinite(e.ra) and math.isfinite(e.dec) and math.isfinite(e.fov) and e.fov > 0:
            circle_limits = f'<VALUES><MAX value="{e.ra:.7f} {e.dec:.7f} {e.fov / 120.0:.7f}"/></VALUES>'
        band = _band_m(service, e)
        if band is not None:
            band_limits = f'<VALUES><MIN value="{band[0]:.9g}"/><MAX value="{band[1]:.9g}"/></VALUES>'
    return (
        '<RESOURCE type="meta" utype="adhoc:service" ID="soda">\n'
        "<DESCRIPTION>SODA sync cutouts of this service's images and cubes</DESCRIPTION>\n"
        f'<PARAM name="standardID" datatype="char" arraysize="*" value="{SODA_STANDARD}"/>\n'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(base + "/soda/sync")}/>\n'
        '<PARAM name="contentType" datatype="char" arraysize="*" value="application/fits"/>\n'
        '<GROUP name="inputParams">\n'
        '<PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.dataset" ref="ID" value=""/>\n'
        '<PARAM name="CIRCLE" datatype="double" arraysize="3" xtype="circle" unit="deg" ucd="phys.angArea;obs" '
        f'value=""><DESCRIPTION>ra dec radius (ICRS)</DESCRIPTION>{circle_limits}</PARAM>\n'
        '<PARAM name="POLYGON" datatype="double" arraysize="*" xtype="polygon" unit="deg" ucd="pos.outline;obs" '
        'value=""><DESCRIPTION>ra1 dec1 ra2 dec2 ... (ICRS, at least 3 vertices)</DESCRIPTION></PARAM>\n'
        '<PARAM name="BAND" datatype="double" arraysize="2" xtype="interval" unit="m" ucd="em.wl;stat.interval" '
        f'value=""><DESCRIPTION>vacuum wavelengths lo hi</DESCRIPTION>{band_limits}</PARAM>\n'
        "</GROUP>\n</RESOURCE>\n")


def vo_routes(service, handler) -> list:
    """The DataLink and SODA routes of ``service``, each through the app's ``handler``."""

    async def datalink(request: Request):
        p = await dali_params(request)
        fmt = _one(p, "RESPONSEFORMAT")
        if fmt and fmt.replace(" ", "").lower() not in ("votable", "application/x-votable+xml", DATALINK_MIME,
                                                        "text/xml", "application/x-votable+xml;content=datalink"):
            raise UsageError(f"RESPONSEFORMAT={fmt!r}: only the DataLink VOTable ({DATALINK_MIME})")
        id_list = [v.strip() for v in p.get("ID", []) if v.strip()]
        if not id_list:
            raise UsageError("ID is required: a file id (/files) or an ivo://sfng/... publisher DID")
        cap = service.limits["max_ids"]
        if len(id_list) > cap:
            raise UsageError(f"{len(id_list)} IDs: at most {cap} per request")
        token = getattr(request.state, "token", None)
        body = await run_in_threadpool(links_votable, service, id_list, _base_url(service, request), token)
        return Response(body, media_type=DATALINK_MIME)

    async def soda_sync(request: Request):
        p = await dali_params(request)
        raw_id = _one(p, "ID", required=True)
        shapes = {k: _one(p, k) for k in ("CIRCLE", "POLYGON", "POS")}
        given = {k: v for k, v in shapes.items() if v is not None}
        if len(given) > 1:
            raise UsageError(f"one of CIRCLE, POLYGON, POS per request (got {', '.join(given)})")
        for k in ("TIME", "POL"):
            if _one(p, k) is not None:
                raise UsageError(f"{k} is not supported by this service (CIRCLE, POLYGON, POS, BAND are)")
        fmt = _one(p, "RESPONSEFORMAT")
        if fmt and fmt.strip().lower() not in ("fits", "application/fits", "image/fits"):
            raise UsageError(f"RESPONSEFORMAT={fmt!r}: only application/fits")
        region = None
        if "CIRCLE" in given:
            region = cutout.parse_circle(given["CIRCLE"])
        elif "POLYGON" in given:
            region = cutout.parse_polygon(given["POLYGON"])
        elif "POS" in given:
            region = cutout.parse_pos(given["POS"])
        band_text = _one(p, "BAND")
        band = cutout.parse_band(band_text) if band_text is not None else None
        e = service.dataset(raw_id)
        if not _can_cut(e):
            raise UsageError(f"{e.name}{e.locator} is a {e.product or 'file'}: SODA cuts FITS images and cubes")
        req = " ".join(x for x in ((region.text() if region else ""), (f"BAND {band[0]:.6g} {band[1]:.6g}"
                                                                        if band else "")) if x)

        def work():
            import warnings

            from astropy.io import fits

            path = service.verified_path(e)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with fits.open(path, memmap=True) as hdul:
                    science = e.hdu if 0 <= e.hdu < len(hdul) else 0
                    return cutout.make_cutout(hdul, science, region, band, name=e.name, sha256=e.sha256,
                                              restfrq=e.restfrq, dataset_band=_band_m(service, e),
                                              max_bytes=service.limits["max_bytes"], request_text=req)

        try:
            body = await run_in_threadpool(work)
        except cutout.NoOverlap as exc:
            return Response(status_code=204, headers={"X-SFNG-Notes": str(exc)})
        stem = e.name.split(".")[0] or "cutout"
        return Response(body, media_type="application/fits",
                        headers={"Content-Disposition": f'attachment; filename="{stem}-cutout.fits"'})

    async def capabilities(request: Request):
        return Response(capabilities_xml(_base_url(service, request)), media_type="text/xml")

    async def availability(request: Request):
        return Response(availability_xml(), media_type="text/xml")

    return [
        Route("/datalink", handler("read", datalink, datalink_error), methods=["GET", "POST"]),
        Route("/soda/sync", handler("read", soda_sync, soda_error), methods=["GET", "POST"]),
        Route("/capabilities", handler("read", capabilities), methods=["GET"]),
        Route("/availability", handler("read", availability), methods=["GET"]),
    ]


#: The VOSI capabilities the service has: (standardID, path, accessURL use, interface role).
CAPABILITIES = [
    ("ivo://ivoa.net/std/VOSI#capabilities", "/capabilities", "full", None),
    ("ivo://ivoa.net/std/VOSI#availability", "/availability", "full", None),
    (DATALINK_STANDARD, "/datalink", "base", "std"),
    (SODA_STANDARD, "/soda/sync", "base", "std"),
]
#: How a client authenticates: a token in HTTP Basic (any user name) or as a bearer token.
SECURITY_METHODS = ("ivo://ivoa.net/sso#BasicAA", "ivo://ivoa.net/sso#token")


def capabilities_xml(base: str) -> str:
    """VOSI 1.1 ``/capabilities``: VOSI itself, DataLink links-1.1 and SODA sync-1.0, each
    interface naming the security methods it accepts."""
    caps = []
    sec = "".join(f'<securityMethod standardID="{m}"/>' for m in SECURITY_METHODS)
    for std, path, use, role in CAPABILITIES:
        role_attr = f' role="{role}"' if role else ""
        caps.append(f'  <capability standardID="{std}">\n'
                    f'    <interface xsi:type="vs:ParamHTTP"{role_attr}>'
                    f'<accessURL use="{use}">{escape(base + path)}</accessURL>{sec}</interface>\n'
                    f'  </capability>\n')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">\n' + "".join(caps) + "</vosi:capabilities>\n")


def availability_xml() -> str:
    """VOSI 1.1 ``/availability``: the service answers, so it is available."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">\n'
            '  <vosi:available>true</vosi:available>\n'
            '  <vosi:note>sfng serve is accepting requests</vosi:note>\n'
            '</vosi:availability>\n')
