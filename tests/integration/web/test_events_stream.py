"""`GET /api/events`: Server-Sent Events over the real site, filtered by role."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher

from tests.integration.waiting import wait_for

from .conftest import Client, Console

pytestmark = pytest.mark.integration


class SseReader:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.status = 0
        self.headers: dict[str, str] = {}

    @classmethod
    async def open(cls, client: Client) -> SseReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        writer.write(
            f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        self = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        return self

    async def event(self, timeout: float = 5) -> tuple[str, Any]:
        """The next named event (chunked transfer framing lines are skipped)."""
        name = ""
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.reader.readline()).decode().rstrip("\r\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    return name, json.loads(line[6:])

    def close(self) -> None:
        self.writer.close()


async def test_a_supervisor_gets_campaign_events_within_a_second_of_publishing(
    console: Console,
) -> None:
    supervisor = await console.user("stas", "supervisor")
    stream = await SseReader.open(supervisor)
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        sent = time.monotonic()
        console.app.events.publish("campaign:77", "campaign", {"id": 77, "notified": 3})
        while True:
            name, data = await stream.event()
            if name == "campaign" and data.get("id") == 77:
                break
        assert data["notified"] == 3
        assert time.monotonic() - sent < 1.0
    finally:
        stream.close()


async def test_an_operator_never_sees_campaign_events(console: Console) -> None:
    operator = await console.user("olga", "operator")
    stream = await SseReader.open(operator)
    try:
        assert stream.status == 200
        console.app.events.publish("campaign:78", "campaign", {"id": 78})
        console.app.events.publish("hotline", "hotline", {"marker": "after"})
        while True:
            name, data = await stream.event()
            assert name != "campaign"
            if name == "hotline" and data.get("marker") == "after":
                break
    finally:
        stream.close()


async def test_the_stream_needs_a_session(console: Console) -> None:
    reply = await console.client().get("/api/events")
    assert reply.status == 401


async def test_a_browser_leaving_the_page_ends_its_stream_without_an_error_logged(
    console: Console,
) -> None:
    errors: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("isError") or event.get("log_failure") is not None:
            errors.append(event)

    observer = cast(ILogObserver, observe)  # a plain callable is one
    globalLogPublisher.addObserver(observer)
    try:
        supervisor = await console.user("lev", "supervisor")
        before = console.app.events.subscribers
        streams = [await SseReader.open(supervisor) for _ in range(3)]
        assert all(s.status == 200 for s in streams)
        await wait_for(
            _at_least(console, before + 3), 5, "the streams to subscribe to the event hub"
        )
        for stream in streams:
            stream.close()
        await wait_for(_at_most(console, before), 5, "the server to notice the clients went")
        # the site is still serving, and nothing was logged as an unhandled error
        assert (await supervisor.get("/api/campaigns")).status == 200
    finally:
        globalLogPublisher.removeObserver(observer)
    assert not errors, [formatEvent(e) for e in errors]


def _at_least(console: Console, n: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return console.app.events.subscribers >= n

    return probe


def _at_most(console: Console, n: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return console.app.events.subscribers <= n

    return probe


async def test_the_stream_stays_open_through_quiet_periods(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contact_center.web import site

    monkeypatch.setattr(site, "SSE_KEEPALIVE", 0.1)
    supervisor = await console.user("quiet", "supervisor")
    stream = await SseReader.open(supervisor)
    try:
        # several keepalive periods with nothing to say, then an event on the same connection
        keepalives = 0
        async with asyncio.timeout(5):
            while keepalives < 3:
                line = await stream.reader.readline()
                keepalives += line.startswith(b": keepalive")
        console.app.events.publish("campaign:79", "campaign", {"id": 79})
        while True:
            name, data = await stream.event()
            if name == "campaign" and data.get("id") == 79:
                break
    finally:
        stream.close()
