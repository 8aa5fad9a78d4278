"""Write transactions shared by the dialer, the mailer and the unsubscribe endpoint.

SQLite has one writer at a time and its busy handler sleeps (up to 100 ms) when writers
collide, so this process's writes take turns here instead; PostgreSQL needs no turns.
Small writes that come together (fifty calls ending at once) share one transaction: a
group commit costs a few commits, not fifty.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Op = Callable[[AsyncSession], Awaitable[Any]]


class BatchedWriter:
    """Serialised write transactions (on SQLite) and group commits of queued writes."""

    # ordinary writes per transaction: an urgent one never waits long behind them
    BATCH = 4

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        self._serial = getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"
        self._lock = asyncio.Lock()
        self._queue: list[tuple[Op, asyncio.Future[Any]]] = []
        self._urgent: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flushing = False

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction taking its turn with every other write of this writer."""
        return self._write()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        if self._serial:
            async with self._lock, self._sessions() as session, session.begin():
                yield session
        else:
            async with self._sessions() as session, session.begin():
                yield session

    async def run(self, op: Op, *, urgent: bool = False) -> Any:
        """Run `op(session)` in a transaction shared with the writes queued meanwhile.
        Urgent writes (claims: a free channel waits for them) go first; a transaction
        takes at most BATCH ordinary writes."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._queue).append((op, future))
        if not self._flushing:
            # the first writer to arrive flushes for everyone queued behind it
            self._flushing = True
            try:
                while self._urgent or self._queue:
                    batch, self._urgent = self._urgent, []
                    batch += self._queue[: self.BATCH]
                    del self._queue[: self.BATCH]
                    await self._flush(batch)
            finally:
                self._flushing = False
                stranded = self._urgent + self._queue
                self._urgent, self._queue = [], []
                for _op, queued in stranded:  # this writer was cancelled
                    if not queued.done():
                        queued.set_exception(RuntimeError("write not run: writer cancelled"))
        return await future

    async def _flush(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        try:
            async with self._write() as session:
                results = [await op(session) for op, _future in batch]
        except Exception as exc:
            if len(batch) == 1:
                _op, future = batch[0]
                if not future.done():
                    future.set_exception(exc)
                return
            # one bad write must not cost the others their results: one by one
            for op, future in batch:
                await self._flush([(op, future)])
            return
        except BaseException:
            for _op, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("write cancelled"))
                    future.exception()  # the cancelled writer's own future has no reader
            raise
        for (_op, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
