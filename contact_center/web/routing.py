"""What a web handler sees and returns, and the table of routes: no Twisted in here.

Handlers are thin (wazo's http.py role): they read a `WebRequest`, call the same service the
CLI calls, and return a `WebResponse` or raise `ApiError`. The Twisted edge (`site.py`)
turns requests into `WebRequest`s, checks the session, the role and CSRF before a handler
runs, and writes the response. Keeping Twisted out of this module lets every domain (and
every plugin) declare its routes without importing a reactor: `klein` imports
`twisted.internet.reactor` on import, which must wait until `serve` has installed the
asyncio reactor on its loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Method = Literal["GET", "POST", "PUT", "DELETE"]
STATE_CHANGING: Final = frozenset({"POST", "PUT", "DELETE"})
MAX_JSON_BODY: Final = 1024 * 1024


class ApiError(Exception):
    """A refusal the caller can act on: 4xx with ``{"error": reason, "field": field}``.
    `reason` is Russian: supervisors read it in the page."""

    def __init__(self, status: int, reason: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.reason, "field": self.field, **self.extra}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sends the request: a logged-in user, with the session's CSRF token."""

    login: str
    role: str
    csrf: str
    operator_code: str | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content: bytes
    content_type: str


@dataclass(slots=True)
class WebRequest:
    method: str
    path: str
    args: Mapping[str, Any]  # from the route's placeholders
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    form: Mapping[str, list[str]]
    files: Mapping[str, Upload]
    address: str
    secure: bool
    user: Principal | None = None
    session_id: str | None = None  # the cookie's value, whether or not it is still valid
    # set by a handler that logs the user in or out: the edge writes the cookie
    new_session: tuple[str, int] | None = None
    end_session: bool = False

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def field(self, name: str, default: str | None = None) -> str | None:
        """A form field (urlencoded or multipart), else a query parameter."""
        values = self.form.get(name)
        if values:
            return values[0]
        return self.arg(name, default)

    def json(self) -> dict[str, Any]:
        """The JSON object in the body; a malformed one is a 400, not a traceback."""
        if len(self.body) > MAX_JSON_BODY:
            raise ApiError(413, "слишком большой запрос")
        try:
            value = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "тело запроса — не JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "ожидался объект JSON")
        return value

    @property
    def principal(self) -> Principal:
        if self.user is None:  # the edge checks before any handler with a permission runs
            raise ApiError(401, "нужно войти")
        return self.user


@dataclass(frozen=True, slots=True)
class WebResponse:
    body: bytes
    content_type: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> WebResponse:
        data = json.dumps(value, ensure_ascii=False, default=str).encode()
        return cls(data, "application/json; charset=utf-8", status)

    @classmethod
    def html(cls, text: str, status: int = 200) -> WebResponse:
        return cls(text.encode(), "text/html; charset=utf-8", status)

    @classmethod
    def file(cls, content: bytes, content_type: str, filename: str) -> WebResponse:
        # RFC 6266: an ASCII fallback name plus the UTF-8 one (Cyrillic file names)
        from urllib.parse import quote

        fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
        disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
        return cls(content, content_type, headers={"Content-Disposition": disposition})

    @classmethod
    def redirect(cls, location: str, status: int = 303) -> WebResponse:
        return cls(b"", "text/plain", status, {"Location": location})


@dataclass(frozen=True, slots=True)
class EventStream:
    """A Server-Sent Events response: each item is (event name, JSON-able data)."""

    events: Callable[[], AsyncIterator[tuple[str, Any]]]


Handler = Callable[[WebRequest], Awaitable[WebResponse | EventStream]]


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # werkzeug syntax: /api/campaigns/<int:campaign_id>
    methods: tuple[str, ...]
    handler: Handler
    # None: open to anyone (login, the unsubscribe link, health); else a permission name
    permission: str | None
    # a page answers "not logged in" with a redirect to the login page, an API with 401
    page: bool = False
    # token-authorised endpoints a mail client posts to (RFC 8058) cannot carry a CSRF token
    csrf: bool = True
    name: str = ""


class Routes:
    """The site's routes, added by the core's domains and by plugins' parts."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def add(
        self,
        path: str,
        handler: Handler,
        *,
        methods: tuple[str, ...] = ("GET",),
        permission: str | None,
        page: bool = False,
        csrf: bool = True,
    ) -> None:
        for route in self._routes:
            if route.path == path and set(route.methods) & set(methods):
                raise ValueError(f"route {methods} {path} is declared twice")
        name = f"{'-'.join(methods)} {path}"
        self._routes.append(Route(path, methods, handler, permission, page, csrf, name))

    def get(
        self, path: str, *, permission: str | None, page: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(path, handler, methods=("GET",), permission=permission, page=page)
            return handler

        return register

    def post(
        self, path: str, *, permission: str | None, page: bool = False, csrf: bool = True
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(path, handler, methods=("POST",), permission=permission, page=page, csrf=csrf)
            return handler

        return register
