"""The live event hub: latest state per key, coalescing for slow readers, prefixes."""

from __future__ import annotations

import asyncio

from contact_center.events import EventHub


async def next_items(it, n: int) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    return [await asyncio.wait_for(anext(it), 1) for _ in range(n)]


async def test_a_new_subscriber_gets_the_current_state_then_each_change() -> None:
    hub = EventHub()
    hub.publish("campaign:1", "campaign", {"notified": 1})
    stream = hub.subscribe(("campaign:",))
    assert await next_items(stream, 1) == [("campaign", {"notified": 1})]
    hub.publish("campaign:1", "campaign", {"notified": 2})
    assert await next_items(stream, 1) == [("campaign", {"notified": 2})]
    await stream.aclose()
    assert hub.subscribers == 0


async def test_a_slow_reader_gets_only_the_latest_state_of_each_key() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    for n in range(100):
        hub.publish("hotline", "hotline", {"waiting": n})
    hub.publish("campaign:2", "campaign", {"notified": 5})
    got = [await asyncio.wait_for(first, 1), *await next_items(stream, 1)]
    assert got == [("hotline", {"waiting": 99}), ("campaign", {"notified": 5})]
    await stream.aclose()


async def test_keys_outside_the_prefixes_never_reach_the_subscriber() -> None:
    hub = EventHub()
    stream = hub.subscribe(("hotline",))
    hub.publish("campaign:3", "campaign", {"secret": True})
    hub.publish("hotline", "hotline", {"waiting": 1})
    assert await next_items(stream, 1) == [("hotline", {"waiting": 1})]
    await stream.aclose()


async def test_an_unchanged_state_is_not_pushed_again() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    hub.publish("link", "link", {"up": True})
    assert await next_items(stream, 1) == [("link", {"up": True})]
    hub.publish("link", "link", {"up": True})
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not pending.done()
    hub.publish("link", "link", {"up": False})
    assert await asyncio.wait_for(pending, 1) == ("link", {"up": False})
    await stream.aclose()
