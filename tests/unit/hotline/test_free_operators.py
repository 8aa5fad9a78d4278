"""The free operators every dialer node paces by when the operators are on the hotline node:
read from the shared database (AppealService.free_operators)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.hotline.appeals import PENDING_TRANSFER_S, AppealService
from contact_center.hotline.models import AppealSource
from contact_center.operators.models import Operator, OperatorState
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@dataclass
class Store:
    appeals: AppealService
    sessions: async_sessionmaker[AsyncSession]

    async def operators(self, *states: OperatorState) -> None:
        async with self.sessions() as session, session.begin():
            for n, state in enumerate(states):
                session.add(Operator(code=f"op{n}", interface=f"PJSIP/op{n}", state=state.value))

    async def appeal(
        self, uid: str, *, source: AppealSource = AppealSource.HOTLINE, ago: float = 5.0
    ) -> int:
        ref = await self.appeals.register(
            uniqueid=uid, channel=f"PJSIP/x-{uid}", caller_number="", customer_id=None,
            arrived_at=NOW - timedelta(seconds=ago), source=source,
        )  # fmt: skip
        return ref.id


@pytest.fixture
async def store(new_database: NewDatabase) -> AsyncIterator[Store]:
    url = new_database("free")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        yield Store(AppealService(sessions, Clock().tz), sessions)
    finally:
        await engine.dispose()


async def test_free_operators_are_the_available_less_the_callers_waiting_and_on_their_way(
    store: Store,
) -> None:
    s = OperatorState
    await store.operators(s.AVAILABLE, s.AVAILABLE, s.AVAILABLE, s.ON_CALL, s.PAUSED, s.WRAP_UP)
    assert await store.appeals.free_operators(NOW) == 3
    # a hotline caller in the queue
    waiting = await store.appeal("h1")
    await store.appeals.queue_joined("h1", NOW, 1)
    assert await store.appeals.free_operators(NOW) == 2
    # a transfer registered on a dialer node, not in the hotline node's queue yet
    pending = await store.appeal("d1", source=AppealSource.TRANSFER)
    assert await store.appeals.free_operators(NOW) == 1
    # ... then moved to the hotline node's channel and queued: counted once, as waiting
    assert await store.appeals.move_to_channel(pending, "h2", "PJSIP/dialer-nodes-1")
    await store.appeals.queue_joined("h2", NOW, 2)
    assert await store.appeals.free_operators(NOW) == 1
    # an operator answered it: no longer waiting (the operator's state says on_call)
    await store.appeals.operator_answered("h2", None, NOW)
    assert await store.appeals.free_operators(NOW) == 2
    # a transfer that never reached the queue long ago is not on its way any more
    await store.appeal("d2", source=AppealSource.TRANSFER, ago=PENDING_TRANSFER_S + 1)
    assert await store.appeals.free_operators(NOW) == 2
    # a caller who left the queue
    await store.appeals.queue_left("h1", NOW)
    assert await store.appeals.free_operators(NOW) == 3
    assert waiting


async def test_an_appeal_moves_to_another_nodes_channel_only_while_open(store: Store) -> None:
    appeal_id = await store.appeal("d1", source=AppealSource.TRANSFER)
    assert await store.appeals.move_to_channel(appeal_id, "h1", "PJSIP/dialer-nodes-1")
    assert await store.appeals.by_uniqueid("d1") is None
    moved = await store.appeals.by_uniqueid("h1")
    assert moved is not None and moved.id == appeal_id
    assert not await store.appeals.move_to_channel(appeal_id + 100, "h9", "x")
    await store.appeals.set(appeal_id, ended_at=NOW)
    assert not await store.appeals.move_to_channel(appeal_id, "h3", "x")


async def test_a_transfer_registers_only_while_an_operator_is_free_and_takes_them(
    store: Store,
) -> None:
    async def transfer(uid: str) -> int | None:
        ref = await store.appeals.register_if_operator_free(
            uniqueid=uid, channel=f"Local/{uid}", caller_number="", customer_id=None,
            arrived_at=NOW, source=AppealSource.TRANSFER,
        )  # fmt: skip
        return None if ref is None else ref.id

    await store.operators(OperatorState.AVAILABLE, OperatorState.ON_CALL)
    first = await transfer("d1")
    assert first is not None
    # it is on its way to the one free operator: nobody else is free now
    assert await store.appeals.free_operators(NOW) == 0
    assert await transfer("d2") is None
    assert await store.appeals.by_uniqueid("d2") is None
    # the refused one spent no journal number
    refs = [await store.appeals.get(first), await store.appeals.get(await store.appeal("h1"))]
    assert [r.seq for r in refs] == [1, 2]
