"""The operator service's states against a recording queue control (no Asterisk needed):
the member is paused from the answer until post-call work ends, by the operator or the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.operators.exceptions import OperatorStateError
from contact_center.operators.models import OperatorState
from contact_center.operators.services import OperatorService, QueueControl, QueueMember
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from tests.conftest import NewDatabase

PHONE = "PJSIP/op101"


class FakeQueue(QueueControl):
    """Records what would be sent to Asterisk; members as Asterisk would list them."""

    def __init__(self) -> None:  # no link
        self.actions: list[tuple[str, str, bool | None]] = []
        self.listed: list[QueueMember] = []

    async def add(self, interface: str, member_name: str, *, paused: bool) -> None:
        self.actions.append(("add", interface, paused))

    async def remove(self, interface: str) -> bool:
        self.actions.append(("remove", interface, None))
        return not any(m.static and m.interface == interface for m in self.listed)

    async def set_paused(self, interface: str, paused: bool, *, reason: str = "") -> None:
        self.actions.append(("pause", interface, paused))

    async def members(self) -> list[QueueMember]:
        return self.listed

    async def device_state(self, interface: str) -> str:
        return "NOT_INUSE"  # every phone registered


class StepClock(Clock):
    """Reads `instant`, which the test steps by hand (`Clock.at` is the base's constructor)."""

    def __init__(self) -> None:
        super().__init__()
        self.instant = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant


Env = tuple[OperatorService, FakeQueue, StepClock, AppealService]


@pytest.fixture
async def env(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[Env]:
    url = new_database("ops")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    queue, clock = FakeQueue(), StepClock()
    appeals = AppealService(sessions, clock.tz)
    service = OperatorService(sessions, queue, appeals, clock, wrapup_limit=300)
    try:
        yield service, queue, clock, appeals
    finally:
        await engine.dispose()


async def test_call_pauses_the_member_until_wrap_up_done(env: Env) -> None:
    ops, queue, clock, appeals = env
    await ops.login("101", PHONE, "Оператор")
    assert queue.actions == [("add", PHONE, False)]
    ref = await appeals.register(uniqueid="u1", channel="c", caller_number="", customer_id=None,
                                 arrived_at=clock.instant)  # fmt: skip
    await ops.call_connected(PHONE, ref.id, clock.instant)
    assert queue.actions[-1] == ("pause", PHONE, True)
    assert (await ops.get("101")).state == OperatorState.ON_CALL
    clock.instant += timedelta(seconds=10)
    await ops.lookup_done("101")
    # what the queue event consumer does on AgentComplete
    await appeals.operator_ended("u1", clock.instant)
    await ops.call_completed(PHONE, clock.instant)
    view = await ops.get("101")
    assert view.state == OperatorState.WRAP_UP
    assert view.wrapup_deadline == clock.instant + timedelta(seconds=300)
    with pytest.raises(OperatorStateError):
        await ops.lookup_done("101")  # only during the call
    clock.instant += timedelta(seconds=42)
    assert await ops.wrap_up_done("101", "КЭ", "Нет света") == ref.id
    assert queue.actions[-1] == ("pause", PHONE, False)
    appeal = await appeals.get(ref.id)
    assert (appeal.wrapup_s, appeal.wrapup_timed_out, appeal.classification) == (42.0, False, "КЭ")
    assert (await ops.get("101")).state == OperatorState.AVAILABLE


async def test_the_limit_ends_post_call_work_even_without_an_appeal(env: Env) -> None:
    ops, queue, clock, _ = env
    await ops.login("101", PHONE)
    await ops.call_connected(PHONE, None, clock.instant)  # a call transferred by the autoinformer
    await ops.call_completed(PHONE, clock.instant)
    clock.instant += timedelta(seconds=299)
    assert await ops.expire_wrapups() == []
    clock.instant += timedelta(seconds=1)
    assert await ops.expire_wrapups() == ["101"]
    assert queue.actions[-1] == ("pause", PHONE, False)
    assert (await ops.get("101")).state == OperatorState.AVAILABLE


async def test_pause_during_a_call_takes_effect_after_post_call_work(env: Env) -> None:
    ops, queue, clock, _ = env
    await ops.login("101", PHONE)
    await ops.call_connected(PHONE, None, clock.instant)
    await ops.pause("101", "обед")
    await ops.call_completed(PHONE, clock.instant)
    before = list(queue.actions)
    await ops.wrap_up_done("101")
    assert queue.actions == before  # stays paused: no unpause sent
    assert (await ops.get("101")).state == OperatorState.PAUSED
    await ops.unpause("101")
    assert queue.actions[-1] == ("pause", PHONE, False)


async def test_sim_operators_finish_post_call_work_by_themselves(env: Env) -> None:
    import re

    ops, _, clock, _ = env
    await ops.login("s1", "Local/1@sim-operators/n")
    await ops.call_connected("Local/1@sim-operators/n", None, clock.instant)
    await ops.call_completed("Local/1@sim-operators/n", clock.instant)
    sim = re.compile(r"@sim-operators(/|$)")
    assert await ops.expire_wrapups(auto_interfaces=sim, auto_after=1.0) == []
    clock.instant += timedelta(seconds=1)
    assert await ops.expire_wrapups(auto_interfaces=sim, auto_after=1.0) == ["s1"]


async def test_reconcile_registers_members_and_enforces_the_database(env: Env) -> None:
    ops, queue, _, _ = env
    await ops.login("101", PHONE)
    await ops.login("102", "PJSIP/op102")
    await ops.logout("102")
    await ops.pause("101")
    queue.listed = [
        QueueMember("Local/1@sim-operators/n", "sim-operator-1", True, False, False),
        QueueMember("Local/2@sim-operators/n", "sim-operator-2", True, True, False, "wrap-up"),
        QueueMember(PHONE, "101", False, False, False),  # should be paused
        QueueMember("PJSIP/op102", "102", True, False, False),  # logged out, static
    ]
    queue.actions.clear()
    await ops.reconcile()
    assert ("pause", PHONE, True) in queue.actions
    assert ("pause", "PJSIP/op102", True) in queue.actions
    # paused by a service whose records are gone: unpaused and available
    assert ("pause", "Local/2@sim-operators/n", False) in queue.actions
    states = {v.code: v.state for v in await ops.all()}
    assert states == {
        "101": "paused",
        "102": "logged_out",
        "sim-operator-1": "available",
        "sim-operator-2": "available",
    }


async def test_login_refuses_a_phone_taken_by_someone_else(env: Env) -> None:
    ops, _, _, _ = env
    await ops.login("101", PHONE)
    with pytest.raises(OperatorStateError, match="уже закреплён"):
        await ops.login("102", PHONE)
    with pytest.raises(OperatorStateError, match="интерфейс"):
        await ops.login("103", "not a phone")
