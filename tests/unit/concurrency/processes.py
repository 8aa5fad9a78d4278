"""Run one coroutine function in several processes at once (spawned, each with its own
engine), started together at a barrier: what several `serve` processes on one database do."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from contact_center.storage.database import create_engine

# `work(url, index, *args)` run in each process; what it returns comes back (picklable)
Work = Callable[..., Awaitable[Any]]


async def _connect_once(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def _child(
    work: Work, url: str, index: int, args: tuple[Any, ...], barrier: Any, results: Any
) -> None:
    async def main() -> Any:
        # line up after a first connection: the driver's and the dialect's imports and the
        # first connect are paid before the barrier, not by whoever starts last (the work's
        # own engine still opens its connection after it, a few ms)
        await _connect_once(url)
        await asyncio.to_thread(barrier.wait, 60)
        return await work(url, index, *args)

    try:
        results.put((index, "ok", asyncio.run(main())))
    except BaseException as exc:
        results.put((index, "error", repr(exc)))
        raise


def run_in_processes(
    work: Work, url: str, count: int, *args: Any, timeout: float = 120
) -> list[Any]:
    """`work(url, i, *args)` in `count` processes; their results by index, or AssertionError
    naming the processes that failed."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(work, url, i, args, barrier, results), daemon=True)
        for i in range(count)
    ]
    for p in procs:
        p.start()
    got: dict[int, tuple[str, Any]] = {}
    try:
        while len(got) < count:
            try:
                index, status, value = results.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{count - len(got)} processes did not finish") from None
            got[index] = (status, value)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = {i: v for i, (s, v) in got.items() if s != "ok"}
    assert not errors, f"processes failed: {errors}"
    return [got[i][1] for i in range(count)]
