"""Building the next letters while the current one is on the wire.

A letter's SMTP transaction is three round trips (MAIL, RCPT, DATA) in which the sender only
waits for the server. :class:`BuiltAhead` spends that wait building the letters that come
next (render + MIME, about 0.25 ms of CPU each here): a task on the same loop builds one
letter at a time, yielding between letters, and keeps up to ``depth`` of them ready. One
slice is one letter, so the loop is never held for longer than one build, and whatever else
shares the loop (AMI events, web requests) still gets its turn between letters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Built(Generic[T, R]):
    """One item and what building it gave: ``result``, or the ``error`` it raised."""

    item: T
    result: R | None
    error: Exception | None = None


class _End:
    pass


_END = _End()


class BuiltAhead(Generic[T, R]):
    """``async with BuiltAhead(items, build) as ahead: async for built in ahead: ...``.

    Items come out in order. An exception from ``build`` is handed over with its item
    (``Built.error``), not raised: the caller decides what a bad item means. Leaving the
    block early stops the builder (items not taken are simply not built or dropped)."""

    def __init__(self, items: Iterable[T], build: Callable[[T], R], *, depth: int = 4) -> None:
        if depth < 1:
            raise ValueError("depth >= 1")
        self._items: Iterator[T] = iter(items)
        self._build = build
        self._ready: asyncio.Queue[Built[T, R] | _End] = asyncio.Queue(maxsize=depth)
        self._task: asyncio.Task[None] | None = None
        self._done = False

    async def __aenter__(self) -> BuiltAhead[T, R]:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="letters-ahead")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _run(self) -> None:
        try:
            for item in self._items:
                try:
                    built: Built[T, R] = Built(item, self._build(item))
                except Exception as exc:  # handed to the caller with its item
                    built = Built(item, None, exc)
                await self._ready.put(built)
                # one letter a slice: let the reply that may have come in be read first
                await asyncio.sleep(0)
        finally:
            # the end, or the builder's own failure (a bug in the items' iterator): the
            # consumer must not wait for more
            self._done = True
            if not self._ready.full():
                self._ready.put_nowait(_END)

    def __aiter__(self) -> BuiltAhead[T, R]:
        return self

    async def __anext__(self) -> Built[T, R]:
        if self._task is None:
            raise RuntimeError("use BuiltAhead inside 'async with'")
        if self._done and self._ready.empty():
            self._task.result()  # raises what stopped the builder, if anything
            raise StopAsyncIteration
        # an item, or the end: the builder always puts one or the other
        got = await self._ready.get()
        if isinstance(got, _End):
            raise StopAsyncIteration
        return got
