"""The unsubscribe endpoint on the console's Twisted site, over a real socket: methods,
paths, bad tokens, one-click bodies, headers. The opt-out behind it is a stub here
(test_campaign_email.py runs the real one)."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import AsyncIterator

import pytest

from autoinformer.email import UnsubscribeTokenError
from autoinformer.unsubscribe import Unsubscription, register_web
from contact_center.events import EventHub
from contact_center.web.console import WebConsole
from contact_center.web.routing import Principal

GOOD = "v1.good.token"


class StubUnsubscribes:
    def __init__(self) -> None:
        self.opted: list[str] = []

    async def lookup(self, token: str) -> Unsubscription:
        if token != GOOD:
            raise UnsubscribeTokenError("ссылка отписки не подписана этим сервисом")
        return Unsubscription("outage", "ivanov@example.ru", 1, already=bool(self.opted))

    async def opt_out(self, token: str) -> Unsubscription:
        found = await self.lookup(token)
        self.opted.append(token)
        return found


class NobodyLoggedIn:
    async def principal(self, session_id: str) -> Principal | None:
        return None


Endpoint = tuple[int, StubUnsubscribes]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    stub = StubUnsubscribes()
    web = WebConsole(
        host="127.0.0.1",
        port=0,
        allowed=lambda role, permission: False,
        sessions=NobodyLoggedIn(),
        events=EventHub(),
    )
    register_web(web, stub, ("/mail/off", "/unsubscribe"))
    await web.start()
    try:
        yield web.bound_port, stub
    finally:
        await web.stop()


async def exchange(
    port: int, method: str, path: str, body: bytes | None = None, content_type: str = ""
) -> tuple[int, dict[str, str], bytes]:
    def run() -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    return await asyncio.to_thread(run)


async def test_get_shows_the_page_post_opts_out_head_has_no_body(endpoint: Endpoint) -> None:
    port, stub = endpoint
    status, headers, body = await exchange(port, "GET", f"/mail/off?token={GOOD}")
    assert status == 200 and "Отказаться от писем?" in body.decode()
    assert "о плановых отключениях" in body.decode() and stub.opted == []
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-type"] == "text/html; charset=utf-8"
    status, _, body = await exchange(port, "HEAD", f"/unsubscribe?token={GOOD}")
    assert status == 200 and body == b""
    status, _, body = await exchange(
        port,
        "POST",
        f"/unsubscribe?token={GOOD}",
        b"List-Unsubscribe=One-Click",
        "application/x-www-form-urlencoded",
    )
    assert status == 200 and "Готово" in body.decode() and stub.opted == [GOOD]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/unsubscribe?token=v1.forged.x", None, 400),
        ("GET", "/unsubscribe", None, 400),
        ("GET", f"/unsubscribe?token={GOOD}&token={GOOD}", None, 400),
        ("GET", f"/elsewhere?token={GOOD}", None, 404),
        ("PUT", f"/unsubscribe?token={GOOD}", b"", 405),
        ("POST", f"/unsubscribe?token={GOOD}", b"", 400),
        ("POST", f"/unsubscribe?token={GOOD}", b"List-Unsubscribe=Other", 400),
    ],
)
async def test_bad_requests_get_their_status_and_change_nothing(
    endpoint: Endpoint, method: str, path: str, body: bytes | None, status: int
) -> None:
    port, stub = endpoint
    got, _, page = await exchange(
        port, method, path, body, "application/x-www-form-urlencoded" if body else ""
    )
    assert got == status, page.decode(errors="replace")
    assert stub.opted == []
    if "forged" in path:
        assert "не подписана" in page.decode()
    assert b"Traceback" not in page
