"""BuiltAhead: the next letters are built while the current one is awaited, in order, and a
bad item is handed over with its error instead of stopping the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from autoinformer.email.ahead import BuiltAhead


def square(n: int) -> int:
    if n == 3:
        raise ValueError("три")
    return n * n


async def test_items_come_out_in_order_with_their_errors() -> None:
    async with BuiltAhead(range(6), square, depth=2) as ahead:
        got = [(b.item, b.result, type(b.error).__name__ if b.error else None) async for b in ahead]
    assert got == [
        (0, 0, None),
        (1, 1, None),
        (2, 4, None),
        (3, None, "ValueError"),
        (4, 16, None),
        (5, 25, None),
    ]


async def test_items_are_built_while_the_consumer_waits_at_most_depth_ahead() -> None:
    built: list[int] = []
    four = asyncio.Event()

    def record(n: int) -> int:
        built.append(n)
        if len(built) == 4:
            four.set()
        return n

    async with BuiltAhead(range(100), record, depth=3) as ahead:
        first = await ahead.__anext__()
        assert first.item == 0
        # the consumer "sending" (awaiting): the builder fills the queue meanwhile
        await asyncio.wait_for(four.wait(), 5)
        for _ in range(50):
            await asyncio.sleep(0)
        # the queue's three, plus one waiting to be put
        assert len(built) == 5, "built ahead, but no further than the queue allows"
    # leaving early stops the builder
    assert len(built) < 100


async def test_a_failing_item_iterator_is_raised_to_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise RuntimeError("broken list")

    with pytest.raises(RuntimeError, match="broken list"):
        async with BuiltAhead(items(), lambda n: n) as ahead:
            async for _ in ahead:
                pass
