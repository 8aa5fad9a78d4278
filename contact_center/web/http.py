"""The console's own routes: home, health, metrics and the live event stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contact_center.events import desk_prefix
from contact_center.web.console import WebConsole
from contact_center.web.routing import ApiError, EventStream, WebRequest, WebResponse

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]
# which event keys each permission may watch (an operator sees the hotline, not campaigns)
STREAMS = {
    "campaigns.read": ("campaign:",),
    "hotline.read": ("hotline", "link"),
    "desk": ("hotline", "link"),
}


def register(web: WebConsole, *, checks: dict[str, HealthCheck]) -> None:
    routes, pages = web.routes, web.pages

    @routes.get("/", permission=None, page=True)
    async def home(request: WebRequest) -> WebResponse:
        if request.user is None:
            return WebResponse.redirect("/login")
        return pages.render(request, "home.html")

    @routes.get("/healthz", permission=None)
    async def healthz(request: WebRequest) -> WebResponse:
        results = await asyncio.gather(*(_timed(check) for check in checks.values()))
        report = {
            name: {"ok": ok, "detail": detail}
            for name, (ok, detail) in zip(checks, results, strict=True)
        }
        healthy = all(ok for ok, _ in results)
        return WebResponse.json({"ok": healthy, "checks": report}, 200 if healthy else 503)

    @routes.get("/metrics", permission=None)
    async def metrics(request: WebRequest) -> WebResponse:
        return WebResponse(generate_latest(web.metrics), CONTENT_TYPE_LATEST)

    @routes.get("/api/events", permission="events")
    async def events(request: WebRequest) -> EventStream:
        role = request.principal.role
        prefixes = tuple(
            prefix
            for permission, keys in STREAMS.items()
            if web.allowed(role, permission)
            for prefix in keys
        )
        code = request.principal.operator_code
        if code and web.allowed(role, "desk"):
            # the operator's own screen-pops, never another operator's
            prefixes += (desk_prefix(code),)
        if not prefixes:
            raise ApiError(403, "нет доступных событий")

        def stream() -> AsyncIterator[tuple[str, Any]]:
            return web.events.subscribe(prefixes)

        return EventStream(stream)


async def _timed(check: HealthCheck) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        ok, detail = await asyncio.wait_for(check(), 5.0)
    except TimeoutError:
        return False, "нет ответа за 5 с"
    except Exception as exc:  # a health check reports a failure, it does not raise one
        return False, f"{type(exc).__name__}: {exc}"
    return ok, f"{detail} ({(time.monotonic() - started) * 1000:.0f} мс)"
