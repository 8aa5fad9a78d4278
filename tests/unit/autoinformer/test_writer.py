"""The batched writer the dialer, the mailer and the unsubscribe endpoint share: writes
that come together share a transaction, and one bad write costs the others nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from autoinformer.models import OptOut
from autoinformer.plugin import AutoinformerPlugin
from autoinformer.writer import BatchedWriter, Op
from contact_center.storage import migrate
from contact_center.storage.base import utcnow
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase


@pytest.fixture
async def engine(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[AsyncEngine]:
    url = new_database("w")
    await asyncio.to_thread(migrate.upgrade, url, [AutoinformerPlugin()])
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def opt_out(phone: str) -> Op:
    async def op(session: AsyncSession) -> str:
        session.add(OptOut(phone=phone, kind="debt", created_at=utcnow()))
        await session.flush()
        return phone

    return op


async def test_writes_queued_together_share_commits_and_a_bad_one_fails_alone(
    engine: AsyncEngine,
) -> None:
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    writer = BatchedWriter(session_factory(engine))

    async def bad(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    ops = [opt_out(f"7913000000{n}") for n in range(6)]
    results = await asyncio.gather(
        *(writer.run(op) for op in ops[:3]),
        writer.run(bad),
        *(writer.run(op) for op in ops[3:]),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, str)] == [f"7913000000{n}" for n in range(6)]
    assert sum(isinstance(r, Exception) for r in results) == 1
    # seven writes, far fewer commits than seven (the failed batch was retried one by one)
    assert len(commits) < 7
    async with session_factory(engine)() as session:
        stored = set(await session.scalars(select(OptOut.phone)))
    assert stored == {f"7913000000{n}" for n in range(6)}


async def test_urgent_writes_go_first(engine: AsyncEngine) -> None:
    writer = BatchedWriter(session_factory(engine))
    order: list[str] = []

    def op(name: str) -> Op:
        async def run(session: AsyncSession) -> None:
            order.append(name)

        return run

    first = asyncio.ensure_future(writer.run(op("first")))
    await asyncio.sleep(0)  # the first write is being flushed: the others queue behind it
    queued = [writer.run(op(f"plain-{n}")) for n in range(6)]
    urgent = writer.run(op("urgent"), urgent=True)
    await asyncio.gather(first, *queued, urgent)
    assert order[0] == "first"
    assert order[1] == "urgent"
    assert sorted(order[2:]) == sorted(f"plain-{n}" for n in range(6))
