"""Closing an appeal needs the database only and happens once; calls the flows let go of
are closed from their Hangup event, the fallback's report, or the service's stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from panoramisk.message import Message

from contact_center.clock import Clock
from contact_center.hotline.appeals import AppealService
from contact_center.hotline.models import EndedBy
from contact_center.hotline.recovery import (
    CallRecovery,
    LiveChannel,
    Orphan,
    fallback_ended_by,
)
from contact_center.storage import migrate
from contact_center.storage.database import create_engine, session_factory
from contact_center.telephony.ami import AmiLink
from tests.conftest import NewDatabase

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


class DownLink:
    """Only what CallRecovery asks of a link that is down: nothing is sent."""

    connected = False


@pytest.fixture
async def appeals(tmp_path: Path, new_database: NewDatabase) -> AsyncIterator[AppealService]:
    url = new_database("appeals")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        yield AppealService(session_factory(engine), Clock().tz)
    finally:
        await engine.dispose()


async def register(appeals: AppealService, uniqueid: str) -> int:
    ref = await appeals.register(
        uniqueid=uniqueid, channel="Local/s@hotline-1;2", caller_number="", customer_id=None,
        arrived_at=T0,
    )  # fmt: skip
    return ref.id


def event(**fields: str) -> Message:
    return Message(fields)


async def test_the_first_close_wins_and_the_timeline_is_kept(appeals: AppealService) -> None:
    appeal_id = await register(appeals, "u1")
    await appeals.queue_joined("u1", T0 + timedelta(seconds=5), 1)
    timeline = [["state", "answered", T0.isoformat()]]
    end = T0 + timedelta(seconds=30)
    assert await appeals.close(
        appeal_id, ended_at=end, ended_by="caller", ivr_path="main:0=operator", timeline=timeline
    )
    later = end + timedelta(seconds=60)
    assert not await appeals.close(
        appeal_id, ended_at=later, ended_by="lost", more_timeline=[["note", "x", ""]]
    )
    appeal = await appeals.get(appeal_id)
    assert (appeal.ended_at, appeal.ended_by) == (end, "caller")
    assert appeal.timeline == timeline and appeal.ivr_path == "main:0=operator"
    # left the queue with the call: no QueueCallerAbandon came
    assert appeal.queue_left_at == end
    assert await appeals.open_appeals() == []


async def test_progress_then_a_close_learned_later_appends(appeals: AppealService) -> None:
    appeal_id = await register(appeals, "u2")
    await appeals.save_progress(
        appeal_id, ivr_path="main:1=outages handoff:link down",
        timeline=[["handoff", "link down", T0.isoformat()]],
    )  # fmt: skip
    assert await appeals.open_appeals() == [(appeal_id, "u2")]
    end = T0 + timedelta(seconds=9)
    await appeals.close(
        appeal_id, ended_at=end, ended_by="operator", more_timeline=[["state", "ended", "t"]]
    )
    appeal = await appeals.get(appeal_id)
    assert appeal.timeline == [["handoff", "link down", T0.isoformat()], ["state", "ended", "t"]]
    assert appeal.ivr_path == "main:1=outages handoff:link down"


@pytest.mark.parametrize(
    ("fallback", "ended_by"),
    [("CONTINUE", EndedBy.OPERATOR), ("TIMEOUT", EndedBy.SYSTEM), ("", EndedBy.SYSTEM),
     (None, EndedBy.CALLER)],
)  # fmt: skip
def test_who_ended_a_call_the_fallback_had(fallback: str | None, ended_by: EndedBy) -> None:
    orphan = Orphan("u", 1, done=False, released=True, fallback=fallback)
    assert fallback_ended_by(orphan) is ended_by


def test_hotline_calls_are_told_by_their_dialplan() -> None:
    # after an AGI EXEC the snapshot still names the app (MixMonitor), not AGI
    assert LiveChannel("u", "c", "MixMonitor", "x.wav", context="hotline").hotline
    assert LiveChannel("u", "c", "AGI", "agi:async,hotline,").hotline
    assert LiveChannel("u", "c", "AGI", "agi:async,hotline").hotline
    assert not LiveChannel("u", "c", "AGI", "agi:async,hotline-x").hotline
    assert not LiveChannel(
        "u", "c", "AGI", "agi:async,autoinformer", context="autoinformer"
    ).hotline
    assert not LiveChannel("u", "c", "Wait", "3600", context="sim-callers").hotline


async def test_fallback_events_then_the_hangup_close_the_appeal(appeals: AppealService) -> None:
    recovery = CallRecovery(cast(AmiLink, DownLink()), appeals, Clock(), link_grace=1)
    appeal_id = await register(appeals, "u3")
    recovery.adopt("u3", appeal_id, done=False, released=True)
    other = event(Event="Hangup", Uniqueid="someone-else")
    assert not recovery.wants(other)
    steps: list[dict[str, Any]] = [
        {"Event": "UserEvent", "UserEvent": "HotlineFallback", "Step": "queue"},
        {"Event": "UserEvent", "UserEvent": "HotlineFallback", "Step": "goodbye",
         "QueueStatus": "CONTINUE"},
        {"Event": "Hangup", "Cause": "16"},
    ]  # fmt: skip
    for n, fields in enumerate(steps):
        message = event(Uniqueid="u3", **fields)
        assert recovery.wants(message)
        await recovery.handle(message, T0 + timedelta(seconds=n))
    assert "u3" not in recovery.orphans
    appeal = await appeals.get(appeal_id)
    assert appeal.ended_by == "operator" and appeal.ended_at == T0 + timedelta(seconds=2)
    assert [e[:2] for e in appeal.timeline] == [
        ["fallback", "queue"], ["fallback", "goodbye"], ["state", "ended"],
    ]  # fmt: skip


async def test_stop_closes_what_it_will_not_see_end_as_lost(appeals: AppealService) -> None:
    recovery = CallRecovery(cast(AmiLink, DownLink()), appeals, Clock(), link_grace=1)
    first, second = await register(appeals, "u4"), await register(appeals, "u5")
    recovery.adopt("u4", first, done=False, released=True)
    recovery.adopt("u5", second, done=True, released=False)  # no link to release it
    recovery.adopt("u6", None, done=True, released=False)  # its appeal closed already
    await recovery.close_all()
    assert recovery.orphans == {}
    for appeal_id in (first, second):
        appeal = await appeals.get(appeal_id)
        assert appeal.ended_by == "lost" and appeal.ended_at is not None
        assert appeal.timeline[-2][:2] == ["note", "service stopped"]
    assert recovery.closed_lost == 2


async def test_a_close_without_agent_complete_ends_the_conversation_too(
    appeals: AppealService,
) -> None:
    appeal_id = await register(appeals, "u7")
    await appeals.operator_answered("u7", None, T0 + timedelta(seconds=10))
    await appeals.close(appeal_id, ended_at=T0 + timedelta(seconds=70), ended_by="lost")
    appeal = await appeals.get(appeal_id)
    assert appeal.operator_ended_at == appeal.ended_at and appeal.talk_s == 60.0
    # AgentComplete, late (its event was queued behind the close): its time stands
    await appeals.operator_ended("u7", T0 + timedelta(seconds=65))
    assert (await appeals.get(appeal_id)).talk_s == 55.0
