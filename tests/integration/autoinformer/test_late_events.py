"""A call whose events wait unread while the service's process does not run (stopped by
SIGSTOP, starved by the machine) is judged by those events once it runs again, not by the
timers that ran out meanwhile. Against the session's real Asterisk; the stall is the event
loop blocked just after an Originate is written: as a stopped process finds it on waking,
the timers due and the link's unread bytes both wait, and the timers run first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from autoinformer.models import Attempt
from contact_center.telephony.originate import OriginateResult
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)
from tests.integration.autoinformer.test_heard_marks import LAST_WORDS

pytestmark = pytest.mark.integration

ACTION_TIMEOUT = 2.0
RING_TIMEOUT = 3  # the campaign's (tests' spec)
# past the Originate's reply timeout (ring time + action timeout + 5 s), and past the
# message's end: the call is answered, heard and hung up while nobody reads the link
STALL = RING_TIMEOUT + ACTION_TIMEOUT + 5 + 3


async def _stalled_call(
    world: WorldFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    *,
    lose_link: bool,
) -> list[Attempt]:
    """A campaign of one listener whose process stalls (STALL s) just after the Originate;
    `lose_link`: the AMI link drops as it wakes, the bytes it had not read lost with it.
    The campaign's attempts once it is over."""
    stalled: list[float] = []
    w: World
    async with world(now=TUESDAY_11, settings={"ami_action_timeout": ACTION_TIMEOUT}) as w:
        loop = asyncio.get_running_loop()
        link = w.service.link
        originator = w.service.originator
        send = originator.originate_now

        def stall() -> None:
            started = time.monotonic()
            time.sleep(STALL)
            stalled.append(time.monotonic() - started)
            if lose_link:
                link.drop(reconnect_in=0.5)

        def send_then_stall(**fields: Any) -> Coroutine[Any, Any, OriginateResult]:
            reply = send(**fields)
            if not stalled:
                # a loop callback that does not return: no timer, no read, no task runs.
                # A step later, when the task awaiting the reply has set its timer
                loop.call_soon(loop.call_soon, stall)
            return reply

        monkeypatch.setattr(originator, "originate_now", send_then_stall)
        # a process stopped for long wakes to more unread bytes than one read takes (the
        # transport reads 256 KiB at a time): a call's events come reads after the timers
        # have run. One call's few KiB stand for that backlog when read 256 B at a time
        manager = link._manager
        assert manager is not None and manager.protocol is not None
        transport = manager.protocol.transport
        assert isinstance(getattr(transport, "max_size", None), int)
        monkeypatch.setattr(transport, "max_size", 256)
        # its dialplan plays the message and hangs up: nothing follows it
        await w.scenario(LAST_WORDS, "marks")
        created = await w.campaigns.create(
            spec("остановка", scenario="marks"), list_data=csv_of("4601")
        )
        with caplog.at_level(logging.INFO, logger="autoinformer.phone.call"):
            await w.campaigns.start(created.campaign_id)
            await w.wait_finished(created.campaign_id, timeout=60)
        attempts = await attempts_of(w, created.campaign_id, counted_only=False)
    assert stalled and stalled[0] >= STALL, "the loop was not stalled"
    return attempts


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def test_a_call_heard_while_the_process_was_stalled_is_notified_not_no_answer(
    world: WorldFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process stalls just after the Originate: the customer answers and hears the
    whole message meanwhile. On waking, the Originate's reply timer has run out before
    the link's bytes are read; the events read then say the message was heard: notified,
    with its parts, and no second call (it was `no_answer`, called again)."""
    attempts = await _stalled_call(world, monkeypatch, caplog, lose_link=False)
    assert _logged(caplog, "read late"), "the reply's timer did not run out first"
    [attempt] = attempts
    assert attempt.status == "notified"
    assert attempt.played_to_end and attempt.parts_played == attempt.parts_total > 0


async def test_a_call_heard_while_its_events_were_lost_is_notified_by_its_heard_mark(
    world: WorldFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the link drops on waking: the call's events are lost, its channels
    are gone when Asterisk is asked. The heard mark its dialplan left says it was answered
    and heard whole: notified, no second call."""
    attempts = await _stalled_call(world, monkeypatch, caplog, lose_link=True)
    assert _logged(caplog, "asking Asterisk about the call")
    [attempt] = attempts
    assert attempt.status == "notified"
    assert attempt.played_to_end and attempt.parts_played == attempt.parts_total > 0
    assert attempt.error == "answered and heard to its end while nobody watched"
