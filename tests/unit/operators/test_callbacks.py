"""Call-back requests from every source, merged for the desk (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from contact_center.events import EventHub, desk_prefix
from contact_center.operators.callbacks import CallbackRegistry, DueCallback

DAY = date(2026, 12, 2)


def request(source: str, hour: int) -> DueCallback:
    return DueCallback(
        source=source,
        ref=f"{source}-{hour}",
        number=f"+7913555010{hour % 10}",
        asked_at=datetime(2026, 12, 2, hour, tzinfo=UTC),
        reason="тест",
    )


class Fixed:
    def __init__(self, *items: DueCallback) -> None:
        self.items = items
        self.asked: list[date] = []

    async def due(self, day: date) -> Sequence[DueCallback]:
        self.asked.append(day)
        return self.items


class Broken:
    async def due(self, day: date) -> Sequence[DueCallback]:
        raise RuntimeError("database gone")


async def test_requests_of_every_provider_come_oldest_first() -> None:
    registry = CallbackRegistry()
    hotline, campaigns = Fixed(request("hotline", 9)), Fixed(request("autoinformer", 3))
    registry.register("hotline", hotline)
    registry.register("autoinformer", campaigns)
    due = await registry.due(DAY)
    assert [c.source for c in due] == ["autoinformer", "hotline"]
    assert hotline.asked == campaigns.asked == [DAY]


async def test_a_failing_provider_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = CallbackRegistry()
    registry.register("broken", Broken())
    registry.register("hotline", Fixed(request("hotline", 9)))
    due = await registry.due(DAY)
    assert [c.ref for c in due] == ["hotline-9"]
    assert "call-back provider broken failed" in caplog.text


async def test_one_operators_desk_keys_never_reach_another_operators_stream() -> None:
    hub = EventHub()
    mine = hub.subscribe((desk_prefix("op1"),))
    hub.publish(desk_prefix("op10") + "pop", "desk-pop", {"id": "other"})
    hub.publish(desk_prefix("op1") + "pop", "desk-pop", {"id": "mine"})
    assert await anext(mine) == ("desk-pop", {"id": "mine"})
    await mine.aclose()
