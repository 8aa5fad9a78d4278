"""The service's AMI user does not receive the events nothing of ours reads
(manager.conf `eventfilter`), and still receives every one it does read."""

from __future__ import annotations

import asyncio

import pytest

from contact_center.telephony.agi import AgiServer
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.originate import Originator
from tests.integration.telephony.test_agi_survives_drop import _answered

pytestmark = pytest.mark.integration

# what a campaign call used to bring besides the events read (issue 14: 11 of its 37)
FILTERED = {
    "TestEvent",
    "NewCallerid",
    "NewConnectedLine",
    "SoftHangupRequest",
    "HangupRequest",
    "LocalBridge",
    "MixMonitorStart",
}
# read by the dialer, the AGI server and the tests' observers
KEPT = {"Newchannel", "Newstate", "DialEnd", "AsyncAGIStart", "AGIExecStart", "AsyncAGIExec",
        "AsyncAGIEnd", "Hangup"}  # fmt: skip


async def test_a_recorded_campaign_call_brings_the_events_read_and_none_of_the_filtered(
    link: AmiLink, originator: Originator, agi: AgiServer
) -> None:
    seen: set[str] = set()
    stop = link.on_event("*", lambda e: seen.add(str(e.get("Event"))))
    try:
        channel = await _answered(originator, agi)
        hung_up = asyncio.ensure_future(
            link.wait_event("Hangup", lambda e: e.get("Uniqueid") == channel.uniqueid, timeout=10)
        )
        await channel.exec("MixMonitor", "cc-test/event-filter.wav")
        assert await channel.stream_file("beep") is None
        await link.action("Hangup", Channel=channel.channel)
        await hung_up
        await link.flush_events()
    finally:
        stop()
    assert KEPT <= seen
    assert not seen & FILTERED
