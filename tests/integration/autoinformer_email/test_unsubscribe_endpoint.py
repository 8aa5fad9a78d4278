"""The unsubscribe endpoint over a real socket: strict HTTP, size limits, methods, timeouts.
The opt-out behind it is a stub here (test_campaign_email.py runs the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from autoinformer.email import UnsubscribeTokenError
from autoinformer.unsubscribe import MAX_HEAD, UnsubscribeServer, Unsubscription

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


Endpoint = tuple[UnsubscribeServer, StubUnsubscribes]


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    stub = StubUnsubscribes()
    server = UnsubscribeServer(
        stub,
        host="127.0.0.1",
        port=0,
        paths=("/mail/off", "/unsubscribe"),
        read_timeout=0.5,
    )
    await server.start()
    try:
        yield server, stub
    finally:
        await server.close()


async def exchange(server: UnsubscribeServer, raw: bytes) -> tuple[int, bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def get(path: str, *, method: str = "GET", headers: str = "", body: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


async def test_get_shows_the_page_post_opts_out_head_has_no_body(endpoint: Endpoint) -> None:
    server, stub = endpoint
    status, head, body = await exchange(server, get(f"/mail/off?token={GOOD}"))
    assert status == 200 and "Отказаться от писем?" in body.decode()
    assert "о плановых отключениях" in body.decode() and stub.opted == []
    status, head, body = await exchange(server, get(f"/unsubscribe?token={GOOD}", method="HEAD"))
    assert status == 200 and body == b"" and b"Content-Length: " in head
    form = b"List-Unsubscribe=One-Click"
    status, _, body = await exchange(
        server,
        get(
            f"/unsubscribe?token={GOOD}",
            method="POST",
            headers="Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(form)}\r\n",
            body=form,
        ),
    )
    assert status == 200 and "Готово" in body.decode() and stub.opted == [GOOD]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (get("/unsubscribe?token=v1.forged.x"), 400),
        (get("/unsubscribe"), 400),
        (get(f"/unsubscribe?token={GOOD}&token={GOOD}"), 400),
        (get(f"/elsewhere?token={GOOD}"), 404),
        (get(f"/unsubscribe?token={GOOD}", method="PUT"), 405),
        (get(f"/unsubscribe?token={GOOD}", method="POST"), 411),
        (
            get(
                f"/unsubscribe?token={GOOD}",
                method="POST",
                headers="Transfer-Encoding: chunked\r\n",
                body=b"1a\r\nList-Unsubscribe=One-Click\r\n0\r\n\r\n",
            ),
            411,
        ),
        (
            get(f"/unsubscribe?token={GOOD}", method="POST", headers="Content-Length: 99999\r\n"),
            413,
        ),
        (get(f"/unsubscribe?token={GOOD}", headers="X-Pad: " + "a" * MAX_HEAD + "\r\n"), 431),
        (b"\x16\x03\x01 tls hello\r\n\r\n", 400),
    ],
)
async def test_bad_requests_get_their_status_and_change_nothing(
    endpoint: Endpoint, raw: bytes, status: int
) -> None:
    server, stub = endpoint
    got, head, body = await exchange(server, raw)
    assert got == status, body.decode(errors="replace")
    assert stub.opted == []
    if status == 405:
        assert b"Allow: GET, HEAD, POST" in head
    if status == 400 and b"forged" in raw:
        assert "не подписана" in body.decode()


async def test_a_client_that_never_finishes_its_request_gets_408(endpoint: Endpoint) -> None:
    server, _stub = endpoint
    status, _, body = await exchange(server, b"GET /unsubscribe?token=x HTTP/1.1\r\nHost:")
    assert status == 408 and "вовремя" in body.decode()
