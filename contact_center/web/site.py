"""The Twisted edge: one `twisted.web` site on the asyncio reactor, routed by klein.

Import this module only after `install_reactor()` (klein imports the reactor). It turns
each request into a `WebRequest`, checks the session, the role and CSRF, runs the handler
as a coroutine on the service's loop (`Deferred.fromFuture`), and writes the response.
A handler's `ApiError` becomes a 4xx with ``{"error", "field"}``; anything else is logged
and answered 500 without a traceback. Server-Sent Events streams are asyncio tasks owned by
the site and cancelled when the client goes or the site stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from klein import Klein
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import CannotListenError
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from werkzeug.exceptions import MethodNotAllowed, NotFound

from contact_center.tasks import TaskSet
from contact_center.web.routing import (
    STATE_CHANGING,
    ApiError,
    EventStream,
    Principal,
    Route,
    Routes,
    Upload,
    WebRequest,
    WebResponse,
)

log = logging.getLogger(__name__)
MAX_BODY: Final = 64 * 1024 * 1024  # a 200,000-row call list is about 20 MB
SSE_KEEPALIVE: Final = 15.0
# bodies larger than this are read and parsed in a worker thread, not on the loop
OFF_LOOP_BODY: Final = 256 * 1024
SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # every asset is ours (no CDN): nothing else may load or run
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "media-src 'self' blob:; frame-ancestors 'none'; form-action 'self'"
    ),
}


class SessionAuthority(Protocol):
    """Who holds a session cookie (the users domain answers)."""

    async def principal(self, session_id: str) -> Principal | None: ...


class ErrorPages(Protocol):
    def error(self, request: WebRequest, status: int, reason: str) -> WebResponse: ...


class WebSite:
    """The console's HTTP listener (`CC_HTTP_HOST`/`CC_HTTP_PORT`)."""

    def __init__(
        self,
        routes: Routes,
        *,
        host: str,
        port: int,
        sessions: SessionAuthority,
        allowed: Callable[[str, str], bool],
        static_dir: Path,
        error_pages: ErrorPages | None = None,
        cookie_name: str = "cc_session",
        behind_proxy: bool = False,
        login_page: str = "/login",
    ) -> None:
        self._routes = routes
        self._host = host
        self._port = port
        self._sessions = sessions
        self._allowed = allowed
        self._static_dir = static_dir
        self._error_pages = error_pages
        self.cookie_name = cookie_name
        self._behind_proxy = behind_proxy
        self._login_page = login_page
        self._listening: Any = None  # twisted IListeningPort
        self._streams = TaskSet("web-sse")

    @property
    def port(self) -> int:
        if self._listening is None:
            raise RuntimeError("the web site is not listening")
        return int(self._listening.getHost().port)

    async def start(self) -> None:
        # a client idle this long is dropped (SSE streams send a keepalive every 15 s)
        site = Site(self._resource(), requestFactory=BoundedRequest, timeout=120)
        site.displayTracebacks = False
        try:
            # zope interfaces confuse mypy; the asyncio reactor's listenTCP is plain
            self._listening = cast(Any, reactor).listenTCP(self._port, site, interface=self._host)
        except CannotListenError as exc:
            raise OSError(f"cannot listen on {self._host}:{self._port}: {exc.socketError}") from exc
        log.info("web console listening on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        await self._streams.close()
        if self._listening is not None:
            listening, self._listening = self._listening, None
            stopped = listening.stopListening()
            if isinstance(stopped, Deferred):
                await stopped.asFuture(asyncio.get_running_loop())

    # --- routing --------------------------------------------------------------------

    def _resource(self) -> Resource:
        app = Klein()
        for route in self._routes:
            self._bind(app, route)
        static = File(str(self._static_dir))
        static.directoryListing = lambda: NotFoundResource()  # type: ignore[method-assign]

        def _static(request: Request) -> Resource:
            return static

        app.route("/static/", branch=True)(cast(Any, _static))

        @app.handle_errors(NotFound)
        def _not_found(request: Request, failure: Any) -> bytes:
            return self._write_error(request, 404, "нет такой страницы")

        @app.handle_errors(MethodNotAllowed)
        def _not_allowed(request: Request, failure: Any) -> bytes:
            return self._write_error(request, 405, "метод не поддерживается")

        return app.resource()

    def _bind(self, app: Klein, route: Route) -> None:
        def endpoint(request: Request, **args: Any) -> Deferred[bytes]:
            coro = self._dispatch(route, request, args)
            deferred = Deferred.fromFuture(asyncio.ensure_future(coro))
            return deferred.addErrback(_twisted_cancel)

        endpoint.__name__ = route.name
        app.route(route.path, methods=list(route.methods), endpoint=route.name)(endpoint)

    def _write_error(self, request: Request, status: int, reason: str) -> bytes:
        path = request.path.decode("utf-8", "replace")
        if not path.startswith("/api/") and self._error_pages is not None:
            web_request = _minimal_request(request)
            response = self._error_pages.error(web_request, status, reason)
            return self._write(request, response)
        return self._write(request, WebResponse.json({"error": reason, "field": None}, status))

    async def _dispatch(self, route: Route, request: Request, args: dict[str, Any]) -> bytes:
        web_request = _minimal_request(request)
        try:
            web_request = await self._web_request(request, args)
            await self._authorise(route, web_request)
            result = await route.handler(web_request)
            self._apply_session(request, web_request)
            if isinstance(result, EventStream):
                return await self._stream(request, result)
            return self._write(request, result)
        except ApiError as exc:
            if route.page and exc.status == 401:
                return self._write(request, WebResponse.redirect(self._login_page))
            if route.page and self._error_pages is not None:
                page = self._error_pages.error(web_request, exc.status, exc.reason)
                return self._write(request, page)
            return self._write(request, WebResponse.json(exc.body(), exc.status))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("web handler %s failed", route.name)
            return self._write(
                request, WebResponse.json({"error": "внутренняя ошибка", "field": None}, 500)
            )

    async def _authorise(self, route: Route, request: WebRequest) -> None:
        cookie = request.headers.get("cookie", "")
        session_id = _cookie(cookie, self.cookie_name)
        request.session_id = session_id
        if session_id:
            request.user = await self._sessions.principal(session_id)
        if request.method in STATE_CHANGING:
            _check_origin(request)
        if route.permission is None:
            return
        user = request.user
        if user is None:
            raise ApiError(401, "нужно войти")
        if not self._allowed(user.role, route.permission):
            raise ApiError(403, "недостаточно прав")
        if route.csrf and request.method in STATE_CHANGING:
            token = request.headers.get("x-csrf-token") or request.field("csrf") or ""
            if not hmac.compare_digest(token.encode(), user.csrf.encode()):
                raise ApiError(403, "нет или неверный CSRF-токен", field="csrf")

    def _apply_session(self, request: Request, web_request: WebRequest) -> None:
        if web_request.new_session is not None:
            value, max_age = web_request.new_session
            request.addCookie(
                self.cookie_name.encode(),
                value.encode(),
                path=b"/",
                max_age=str(max_age).encode(),
                httpOnly=True,
                sameSite="strict",
                secure=web_request.secure,
            )
        elif web_request.end_session:
            request.addCookie(
                self.cookie_name.encode(),
                b"",
                path=b"/",
                max_age=b"0",
                httpOnly=True,
                sameSite="strict",
                secure=web_request.secure,
            )

    # --- requests and responses ------------------------------------------------------

    async def _web_request(self, request: Request, args: dict[str, Any]) -> WebRequest:
        headers = {
            k.decode("latin-1").lower(): v[-1].decode("latin-1")
            for k, v in request.requestHeaders.getAllRawHeaders()
        }
        uri = request.uri.decode("utf-8", "replace")
        query = parse_qs(urlsplit(uri).query, keep_blank_values=True)
        content_type = headers.get("content-type", "")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > OFF_LOOP_BODY:
            # a call list or a customer base: Twisted spooled it to a file, and parsing a
            # multipart body of megabytes would stall the calls on this loop
            body, form, files = await asyncio.to_thread(_read_body, request, content_type)
        else:
            body, form, files = _read_body(request, content_type)
        address = request.getClientAddress()
        peer = getattr(address, "host", "")
        secure = bool(request.isSecure())
        if self._behind_proxy:
            forwarded = headers.get("x-forwarded-for", "")
            peer = forwarded.split(",")[-1].strip() or peer
            secure = secure or headers.get("x-forwarded-proto", "") == "https"
        return WebRequest(
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("utf-8", "replace"),
            args=args,
            query=query,
            headers=headers,
            body=body,
            form=form,
            files=files,
            address=peer,
            secure=secure,
        )

    def _write(self, request: Request, response: WebResponse) -> bytes:
        request.setResponseCode(response.status)
        request.setHeader(b"Content-Type", response.content_type.encode())
        request.setHeader(b"Cache-Control", b"no-store")
        for name, value in {**SECURITY_HEADERS, **response.headers}.items():
            request.setHeader(name.encode(), value.encode("utf-8"))
        return response.body

    async def _stream(self, request: Request, stream: EventStream) -> bytes:
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Accel-Buffering", b"no")  # nginx must not buffer the stream
        request.write(b"retry: 2000\n\n")
        task = self._streams.spawn(_pump(request, stream), name="sse-client")
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                return b""  # the site is stopping: end the stream cleanly
            task.cancel()  # the client went away: klein cancelled us
            raise
        return b""


def _twisted_cancel(failure: Failure) -> Failure:
    """An asyncio cancellation as Twisted's: klein cancels a request whose client went away
    (a browser leaving a live page) and expects `defer.CancelledError` back, logging anything
    else as an unhandled error."""
    if failure.check(asyncio.CancelledError):
        return Failure(CancelledError())
    return failure


async def _pump(request: Request, stream: EventStream) -> None:
    events = stream.events()
    # one pending read across keepalives: cancelling a read of the subscription would close
    # the generator (and end the stream) after every quiet period
    pending: asyncio.Future[tuple[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=SSE_KEEPALIVE)
            if not done:
                request.write(b": keepalive\n\n")
                continue
            try:
                name, data = pending.result()
            except StopAsyncIteration:
                return
            finally:
                if pending.done():
                    pending = None
            payload = json.dumps(data, ensure_ascii=False, default=str)
            request.write(f"event: {name}\ndata: {payload}\n\n".encode())
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await events.aclose()  # type: ignore[attr-defined]


class BoundedRequest(Request):
    """A request whose body may not exceed MAX_BODY: refused with 413 before it is stored
    (Twisted would spool any size to a temporary file first)."""

    _received = 0
    _refused = False

    def gotLength(self, length: int | None) -> None:
        super().gotLength(length if length is None or length <= MAX_BODY else 0)
        if length is not None and length > MAX_BODY:
            self._refuse()

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > MAX_BODY:
            self._refuse()
        if not self._refused:
            super().handleContentChunk(data)

    def _refuse(self) -> None:
        if self._refused:
            return
        self._refused = True
        channel: Any = self.channel
        transport: Any = getattr(channel, "transport", None)
        if transport is None:
            return
        body = json.dumps(
            {"error": "слишком большой запрос", "field": None}, ensure_ascii=False
        ).encode()
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        transport.loseConnection()


class NotFoundResource(Resource):
    isLeaf = True

    def render(self, request: Request) -> bytes:
        request.setResponseCode(404)
        return b"not found"


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _check_origin(request: WebRequest) -> None:
    # a browser names the page that sent a POST; another site's page is refused even before
    # the CSRF token is looked at (and login, which has no token yet, is covered this way)
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise ApiError(403, "запрос с чужого сайта отклонён")


def _read_body(
    request: Request, content_type: str
) -> tuple[bytes, dict[str, list[str]], dict[str, Upload]]:
    content = request.content
    body = b""
    if content is not None:
        content.seek(0)
        body = content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ApiError(413, "слишком большой запрос")
    form, files = _parse_form(content_type, body)
    return body, form, files


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "replace")
        return parse_qs(text, keep_blank_values=True), {}
    if kind != "multipart/form-data":
        return {}, {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ApiError(400, "не удалось разобрать multipart/form-data")
    form: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename, payload, part.get_content_type())
        else:
            form.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    return form, files


def _minimal_request(request: Request) -> WebRequest:
    return WebRequest(
        method=request.method.decode("ascii", "replace"),
        path=request.path.decode("utf-8", "replace"),
        args={},
        query={},
        headers={},
        body=b"",
        form={},
        files={},
        address="",
        secure=False,
    )
