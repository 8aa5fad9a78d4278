"""The pass loop the dialer and the mailer share, and the operator desk's AgentConnect
bookkeeping (no Asterisk: a recording stand-in for the AMI link)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy.exc import SQLAlchemyError

from autoinformer.loop import PassLoop, give_way
from autoinformer.phone.pacing import OperatorDesk
from contact_center.telephony.ami import AmiLink


async def test_a_pass_runs_again_after_a_tick_or_at_once_when_woken() -> None:
    runs: list[float] = []

    async def one_pass() -> bool:
        runs.append(time.monotonic())
        return False

    loop = PassLoop("test", one_pass, tick=10.0)
    task = asyncio.ensure_future(loop.run())
    await asyncio.sleep(0.05)
    assert len(runs) == 1  # then it sleeps its tick
    loop.wake()
    await asyncio.sleep(0.05)
    assert len(runs) == 2
    loop.stop()
    await asyncio.wait_for(task, 1)


async def test_a_busy_pass_is_followed_at_once() -> None:
    left = [3]

    async def one_pass() -> bool:
        left[0] -= 1
        return left[0] > 0

    loop = PassLoop("test", one_pass, tick=10.0)
    task = asyncio.ensure_future(loop.run())
    await asyncio.sleep(0.05)
    assert left[0] == 0
    loop.stop()
    await asyncio.wait_for(task, 1)


async def test_failed_passes_are_logged_and_survived_slower(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[float] = []

    async def one_pass() -> bool:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise OSError("database away")
        if len(runs) == 2:
            raise KeyError("a bug")
        return False

    loop = PassLoop("test", one_pass, tick=0.02, expected=(OSError,))
    with caplog.at_level(logging.WARNING, logger="autoinformer.loop"):
        task = asyncio.ensure_future(loop.run())
        await asyncio.sleep(0.3)
    assert len(runs) >= 3  # still running after both failures
    # the wait doubles after each failure: 0.04 s, then 0.08 s
    assert runs[1] - runs[0] >= 0.035 and runs[2] - runs[1] >= 0.075
    expected, bug = caplog.records[0], caplog.records[1]
    assert expected.getMessage() == "test pass failed: database away"
    assert expected.exc_info is None
    assert bug.exc_info is not None  # a bug comes with its traceback
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_give_way_lets_a_sleeping_task_run_before_going_on() -> None:
    woke: list[str] = []

    async def sleeper() -> None:
        await asyncio.sleep(0.001)
        woke.append("sleeper")

    task = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)  # the sleeper is waiting on its timer
    # a slice of work holding the loop; the sleeper's timer comes due meanwhile
    busy_until = time.perf_counter() + 0.005
    while time.perf_counter() < busy_until:
        pass
    await give_way()
    woke.append("worker")
    assert woke == ["sleeper", "worker"]
    await task


class FakeLink:
    """Event handlers by name, as AmiLink.on_event keeps them."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[[Any], None]]] = {}

    def on_event(self, name: str, handler: Callable[[Any], None]) -> Callable[[], None]:
        self.handlers.setdefault(name, []).append(handler)
        return lambda: self.handlers[name].remove(handler)

    def emit(self, name: str, **fields: str) -> None:
        for handler in list(self.handlers.get(name, [])):
            handler(fields)


def test_the_desk_notes_operators_only_for_its_own_transfers() -> None:
    link = FakeLink()
    desk = OperatorDesk(cast(AmiLink, link), "operators")
    # the hotline's calls connect operators all day: none of them is kept
    for n in range(1000):
        link.emit("AgentConnect", Uniqueid=f"hotline-{n}", Linkedid=f"hotline-{n}", Interface="x")
    assert desk.watched == 0
    desk.expect("cc-ours")
    link.emit("AgentConnect", Uniqueid="cc-ours", Linkedid="cc-ours", Interface="Local/101@ops")
    desk.expect("cc-linked")
    link.emit("AgentConnect", Uniqueid="other", Linkedid="cc-linked", MemberName="PJSIP/op102")
    assert desk.answered_by("cc-ours") == "Local/101@ops"
    assert desk.answered_by("cc-linked") == "PJSIP/op102"
    desk.expect("cc-nobody")
    assert desk.answered_by("cc-nobody") == ""  # the transfer ended unanswered
    assert desk.watched == 0  # each entry dropped when its transfer ended
    desk.close()
    assert link.handlers["AgentConnect"] == []


async def test_with_the_operators_on_another_node_the_desk_counts_them_from_the_database() -> None:
    link = FakeLink()
    counts = [2]
    asked: list[int] = []

    async def free_in_database() -> int:
        asked.append(1)
        if counts[0] < 0:
            raise SQLAlchemyError("the database went away")
        return counts[0]

    desk = OperatorDesk(cast(AmiLink, link), "operators", ttl=60, counter=free_in_database)
    assert await desk.free() == 2
    # never this node's QueueSummary (FakeLink has no action_list: it would raise)
    desk.in_flight = 1  # a transfer of ours on its way: taken
    counts[0] = 5
    assert await desk.free() == 1  # cached within the ttl
    assert await desk.free(fresh=True) == 4
    counts[0] = -1
    assert await desk.free(fresh=True) == 0  # unknown: nobody is offered
    assert len(asked) == 3
    desk.close()
