"""The HTTP face of :class:`~sfng.serve.service.Service`: a Starlette (ASGI) app.

Endpoints keep the names of NOIRLab's retired specserver; :mod:`sfng.serve.vo` adds the IVOA
DataLink and SODA endpoints.  Every call but ``GET /`` needs a token (``X-DL-AuthToken:
<token>``, ``Authorization: Bearer <token>``, or HTTP Basic with the token as the password, which
TOPCAT and Aladin ask for when told 401): 401 without a valid one, 403 when its scopes do not
cover the call.  Errors are JSON ``{"error": ...}`` with the
status: 400 a malformed request or id, 404 an id the store does not have, 409 a file changed
since it was indexed, 413 over a limit, 416 a bad range, 503 over the time limit.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import SfngError
from . import ids
from .data import Changed, NotFound
from .service import Service, TimeUp, TooLarge, UsageError
from .tokens import TokenChecker
from .vo import vo_routes

log = logging.getLogger("sfng.serve")
MAX_BODY = 8 * 2**20
CHUNK = 1 << 20
#: Answers up to this size are made whole and sent at once; larger ones are streamed.
SMALL_ANSWER = 4 << 20


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers=None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _status_of(exc) -> int:
    if isinstance(exc, HTTPError):
        return exc.status
    if isinstance(getattr(exc, "http_status", None), int):
        return exc.http_status
    if isinstance(exc, (ids.BadId, UsageError)):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Changed):
        return 409
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, TimeUp):
        return 503
    return 400   # any other SfngError: a selection the request made that cannot be read


def json_error(exc, status: int, message: str, headers: dict) -> Response:
    """sfng's own error body: ``{"error": ..., "status": N}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def error_response(exc, render=json_error) -> Response:
    status = _status_of(exc)
    msg = exc.message if isinstance(exc, HTTPError) else str(exc)
    headers = dict(getattr(exc, "headers", {}) or {})
    resp = render(exc, status, msg, headers)
    if status == 401:
        # a challenge for each scheme: Bearer for scripts, Basic for TOPCAT and Aladin
        resp.headers.append("WWW-Authenticate", 'Bearer realm="sfng"')
        resp.headers.append("WWW-Authenticate", 'Basic realm="sfng: any user name, the token as password"')
    return resp


def presented_token(request: Request) -> str | None:
    """The token of ``X-DL-AuthToken``, ``Authorization: Bearer``, or the password of
    ``Authorization: Basic`` (user name ignored)."""
    t = request.headers.get("x-dl-authtoken")
    if t:
        return t.strip()
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth[:6].lower() == "basic ":
        import base64
        import binascii

        try:
            user_pass = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        return user_pass.partition(":")[2].strip() or None
    return None


def create_app(service: Service, checker: TokenChecker) -> Starlette:
    """The ASGI app serving ``service``, checking tokens with ``checker``."""

    def need(request: Request, scope: str):
        rec = checker.check(presented_token(request))
        if rec is None:
            raise HTTPError(401, "a valid token is needed: X-DL-AuthToken or Authorization: Bearer "
                                 "(`sfng token add NAME` makes one)")
        if not rec.allows(scope):
            raise HTTPError(403, f"token {rec.name!r} lacks the {scope!r} scope")
        request.state.token_name = rec.name
        request.state.token = rec
        return rec

    async def params(request: Request) -> dict:
        """Query-string parameters, overlaid by a JSON (or form) body on POST."""
        out = dict(request.query_params)
        if request.method == "POST":
            n = int(request.headers.get("content-length") or 0)
            if n > MAX_BODY:
                raise TooLarge(f"a request body of {n} bytes; at most {MAX_BODY}")
            body = await request.body()
            if len(body) > MAX_BODY:
                raise TooLarge(f"a request body over {MAX_BODY} bytes")
            ctype = request.headers.get("content-type", "")
            if body and ("json" in ctype or body.lstrip()[:1] == b"{"):
                try:
                    data = json.loads(body)
                except ValueError:
                    raise UsageError("the body is not valid JSON") from None
                if not isinstance(data, dict):
                    raise UsageError("the JSON body must be an object")
                out.update(data)
            elif body:
                raise UsageError("send the parameters as a JSON object (Content-Type: application/json)")
        return out

    def handler(scope, fn, render=json_error):
        """The endpoint running ``fn`` once the token covers ``scope``; errors as ``render``
        writes them (``render(exc, status, message, headers) -> Response``)."""
        async def endpoint(request: Request):
            t0 = time.monotonic()
            try:
                if scope:
                    need(request, scope)
                resp = await fn(request)
            except (HTTPError, SfngError) as exc:
                resp = error_response(exc, render)
            except Exception as exc:  # noqa: BLE001 - one clear 500, the traceback in the log
                log.exception("internal error on %s", request.url.path)
                resp = render(exc, 500, f"internal error: {type(exc).__name__}", {})
            resp.headers["X-SFNG-Seconds"] = f"{time.monotonic() - t0:.4f}"
            return resp
        return endpoint

    def flag(v) -> bool:
        if isinstance(v, bool):
            return v
        return str(v).strip().lower() in ("1", "true", "yes", "y", "t", "on")

    async def alive(request):
        return JSONResponse(service.alive())

    async def contexts(request):
        return JSONResponse(service.contexts())

    async def catalogs(request):
        return JSONResponse(service.catalogs())

    async def query(request):
        p = await params(request)
        kw = {}
        if "region" in p:
            kw["region"] = p["region"]
        if "coord" in p:
            c = p["coord"]
            if isinstance(c, str):
                parts = [x for x in c.replace(",", " ").split() if x]
            else:
                parts = list(c)
            if len(parts) != 2:
                raise UsageError("coord: 'ra,dec' in degrees")
            kw["ra"], kw["dec"] = parts
        for k in ("ra", "dec", "size"):
            if k in p:
                kw[k] = p[k]
        for k in ("ra", "dec", "size"):
            if k in kw:
                try:
                    kw[k] = float(kw[k])
                except (TypeError, ValueError):
                    raise UsageError(f"{k}: a number in degrees") from None
        if p.get("constraint"):
            kw["constraint"] = p["constraint"]
        if p.get("aperture") is not None:
            kw["aperture"] = float(p["aperture"])
        kw["all_spaxels"] = flag(p.get("all", False))
        if p.get("version") is not None:
            kw["version"] = str(p["version"])
        for k in ("limit", "offset"):
            if p.get(k) is not None:
                try:
                    kw[k] = int(p[k])
                except (TypeError, ValueError):
                    raise UsageError(f"{k}: an integer") from None
        out, total = await run_in_threadpool(lambda: service.query(**kw))
        return JSONResponse(out, headers={"X-SFNG-Total": str(total)})

    async def get_spec(request):
        p = await params(request)
        fmt = str(p.get("fmt", "npy")).lower()
        grid = p.get("grid")
        if isinstance(grid, str):
            try:
                grid = json.loads(grid)
            except ValueError:
                raise UsageError("grid: a JSON object {start, stop, n, log}") from None

        def work():
            from . import wire

            wire_fmt = service.check_format(fmt)
            st = service.spectra_stream(p.get("id_list", []), align=flag(p.get("align", False)),
                                        cutout=p.get("cutout") or None, grid=grid)
            with_wave = wire_fmt != "npz" or st.common_wave is None
            st.prime(with_wave=with_wave)
            pieces, media, length = wire.encode(st, wire_fmt)
            if st.nbytes(with_wave) <= SMALL_ANSWER:     # a small answer is sent in one piece
                pieces = [b"".join(pieces)]
            return st, pieces, media, length

        st, pieces, media, length = await run_in_threadpool(work)
        headers = {"X-SFNG-Wave-Unit": st.wave_unit, "X-SFNG-Flux-Unit": st.flux_unit,
                   "X-SFNG-Count": str(len(st.ids)), "X-SFNG-Shared-Wave": "true" if st.common_wave is not None
                   else "false"}
        if length is not None:
            headers["Content-Length"] = str(length)
        if st.grid:
            headers["X-SFNG-Grid"] = json.dumps(st.grid)
        if st.notes:
            headers["X-SFNG-Notes"] = "; ".join(st.notes)
        if isinstance(pieces, list):
            return Response(pieces[0], media_type=media, headers=headers)
        return StreamingResponse(_logged(pieces, request.url.path), media_type=media, headers=headers)

    async def preview(request):
        p = await params(request)
        sid = p.get("id") or p.get("id_list")
        if not isinstance(sid, str):
            raise UsageError("preview: one id (id=...)")
        png = await run_in_threadpool(service.preview, sid)   # a spectrum, or a file's image
        return Response(png, media_type="image/png")

    async def plot_grid(request):
        p = await params(request)
        png = await run_in_threadpool(lambda: service.plot_grid(
            p.get("id_list", []), int(p.get("nx", 3)), int(p.get("ny", 3)), int(p.get("page", 0)),
            flag(p.get("align", False))))
        return Response(png, media_type="image/png")

    async def stacked(request):
        p = await params(request)
        body, media, grid = await run_in_threadpool(lambda: service.stacked(
            p.get("id_list", []), str(p.get("fmt", "png")).lower(), flag(p.get("align", True)),
            flag(p.get("yflip", False))))
        return Response(body, media_type=media, headers={"X-SFNG-Grid": json.dumps(grid)})

    async def list_span(request):
        p = await params(request)
        out = await run_in_threadpool(service.list_span, p.get("id_list", []))
        return JSONResponse(out)

    async def files(request):
        p = await params(request)
        out = [e.public() for e in service.catalog.entries.values()]
        if p.get("survey"):
            out = [e for e in out if e["survey"] == p["survey"]]
        return JSONResponse(out)

    async def download(request):
        kind, key, *_ = ids.decode(request.path_params["fid"])
        if kind != ids.FILE:
            raise ids.BadId("not a file id")
        e = service.catalog.entry(key)
        path = service.catalog.file_path(e)
        st = path.stat()
        if st.st_size != e.size:
            raise Changed(f"{path.name} changed since the index was built; rebuild it")
        etag = f'"{e.sha256}"'
        base = {"ETag": etag, "Accept-Ranges": "bytes",
                "Content-Disposition": f'attachment; filename="{path.name}"'}
        # FITS readers (TOPCAT, Aladin, astropy) key on the type; gzip stays the file's bytes
        media = "application/fits" if path.name.lower().endswith((".fits", ".fit", ".fts")) else \
            "application/octet-stream"
        inm = request.headers.get("if-none-match")
        if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            return Response(status_code=304, headers=base)
        rng = request.headers.get("range")
        if rng and request.headers.get("if-range") and request.headers["if-range"].strip() != etag:
            rng = None   # the client's copy is of another version: send it all
        size = st.st_size
        start, end = 0, size - 1
        status = 200
        if rng:
            start, end = _parse_range(rng, size)
            status = 206
            base["Content-Range"] = f"bytes {start}-{end}/{size}"
        base["Content-Length"] = str(end - start + 1)
        if request.method == "HEAD":
            return Response(status_code=status, headers=base, media_type=media)

        def chunks():
            with open(path, "rb") as f:
                f.seek(start)
                left = end - start + 1
                while left > 0:
                    b = f.read(min(CHUNK, left))
                    if not b:
                        break
                    left -= len(b)
                    yield b

        return StreamingResponse(chunks(), status_code=status, headers=base, media_type=media)

    async def admin_stats(request):
        return JSONResponse({"uptime_s": time.time() - service.started, "files": len(service.catalog.entries),
                             "cubes_open": len(service.cache._open), "pid": os.getpid()})

    routes = [
        Route("/", handler(None, alive), methods=["GET"]),
        Route("/contexts", handler("read", contexts), methods=["GET"]),
        Route("/catalogs", handler("read", catalogs), methods=["GET"]),
        Route("/query", handler("read", query), methods=["GET", "POST"]),
        Route("/getSpec", handler("read", get_spec), methods=["POST"]),
        Route("/preview", handler("read", preview), methods=["GET", "POST"]),
        Route("/plotGrid", handler("read", plot_grid), methods=["POST"]),
        Route("/stackedImage", handler("read", stacked), methods=["POST"]),
        Route("/listSpan", handler("read", list_span), methods=["GET", "POST"]),
        Route("/files", handler("read", files), methods=["GET"]),
        Route("/files/{fid}", handler("download", download), methods=["GET", "HEAD"]),
        Route("/admin/stats", handler("admin", admin_stats), methods=["GET"]),
        *vo_routes(service, handler),
    ]
    app = Starlette(routes=routes)
    app.state.service = service
    return AccessLog(app)


def _logged(pieces, path: str):
    """The pieces of a streamed answer; an error once the headers are sent ends the stream
    short (the client sees a truncated body: no Content-Length reached, no last chunk)."""
    try:
        yield from pieces
    except Exception:
        log.exception("streaming %s failed; the answer was cut short", path)
        raise


def _parse_range(text: str, size: int) -> tuple[int, int]:
    """One byte range of ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``; 416 otherwise."""
    bad = HTTPError(416, f"range {text[:60]!r}: one byte range within 0..{size - 1}",
                    {"Content-Range": f"bytes */{size}"})
    t = text.strip()
    if not t.lower().startswith("bytes=") or "," in t:
        raise bad
    a, sep, b = t[6:].strip().partition("-")
    if not sep or (not a and not b) or not (a.isdigit() or not a) or not (b.isdigit() or not b):
        raise bad
    if not a:
        n = int(b)
        if n == 0:
            raise bad
        return max(0, size - n), size - 1
    start = int(a)
    end = min(int(b), size - 1) if b else size - 1
    if start >= size or end < start:
        raise bad
    return start, end


class AccessLog:
    """ASGI middleware: one log line per request (method, path, status, bytes, seconds)."""

    def __init__(self, app):
        self.app = app
        self.state = getattr(app, "state", None)

    def __getattr__(self, name):
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.monotonic()
        info = {"status": 0, "bytes": 0}

        async def wrapped(message):
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
            elif message["type"] == "http.response.body":
                info["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %d %dB %.3fs", client[0], scope["method"], scope["path"], info["status"],
                     info["bytes"], time.monotonic() - t0)


def app_from_env():
    """The app for ``uvicorn --factory`` (``sfng serve --workers N``): settings in SFNG_SERVE_*."""
    root = os.environ["SFNG_SERVE_ROOT"]
    return build(root, os.environ.get("SFNG_SERVE_INDEX"), os.environ.get("SFNG_SERVE_STORE", root),
                 os.environ.get("SFNG_SERVE_CACHE") or None, os.environ.get("SFNG_SERVE_KIND", "store"),
                 os.environ.get("SFNG_SERVE_NAME") or None)


def build(root, index_path, store_root, cache_dir=None, kind="store", name=None):
    from ..store import Store

    store = Store.open(store_root)
    svc = Service(root, index_path or Path(root) / "SFNG-INDEX.fits", cache_dir=cache_dir, config=store.config,
                  name=name or store.name, kind=kind)
    return create_app(svc, TokenChecker(store.root))
