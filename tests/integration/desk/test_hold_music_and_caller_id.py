"""Callers waiting in the queue hear music on hold; calls we place carry the utility's
caller ID (never "Anonymous")."""

from __future__ import annotations

import asyncio

import pytest

from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiConfig, AmiLink
from contact_center.telephony.originate import Originator, caller_id_field, new_channel_id
from tests.integration.conftest import AsteriskFixture
from tests.integration.hotline.conftest import MakeHotline, until

pytestmark = pytest.mark.integration


async def test_caller_waiting_in_the_queue_hears_music_on_hold(
    asterisk: AsteriskFixture, hotline: MakeHotline
) -> None:
    # the packaged hold music is what the class plays (an empty folder plays nothing)
    files = asterisk.local.rx("moh show files")
    assert ".wav" in files or "macroform" in files, files
    h = await hotline()
    # every sim operator busy with something else: the caller waits in the queue
    queue = h.service.operators.queue
    for member in await queue.members():
        await queue.set_paused(member.interface, True, reason="test")
    started: list[Message] = []
    stop = h.service.link.on_event("MusicOnHoldStart", started.append)
    try:
        sim = await h.call("d0")
        call = await h.started(sim)

        def hold_music() -> Message | None:
            return next((e for e in started if e.get("Uniqueid") == sim.hotline_uniqueid), None)

        event = await until(hold_music, timeout=30, what="music on hold for the queued caller")
        assert event.get("Class") == "default"
        assert call.machine.state.value == "queued"
        await h.hang_up(call)
    finally:
        stop()


async def test_originate_carries_the_utility_caller_id(asterisk: AsteriskFixture) -> None:
    link = AmiLink(AmiConfig.from_settings(asterisk.settings))
    await link.connect(timeout=10)
    try:
        originator = Originator(
            link,
            "Local/{number}@sim-customers",
            caller_id=caller_id_field("73914400000", "Электросеть"),
        )
        channel_id = new_channel_id()
        # a customer who answers and listens; our side just waits
        result = await originator.originate(
            number="79135550101",
            channel_id=channel_id,
            context="sim-callers",
            exten="silent",
            ring_timeout=5,
        )
        assert result.answered
        # the called side (the customer's half of the Local channel) sees our number
        customer_leg = f"{channel_id}-b"

        async def seen() -> tuple[str, str] | None:
            num = await link.action("Getvar", Channel=customer_leg, Variable="CALLERID(num)")
            name = await link.action("Getvar", Channel=customer_leg, Variable="CALLERID(name)")
            value = (str(num.get("Value", "")), str(name.get("Value", "")))
            return value if value[0] else None

        assert await until(seen, timeout=5, what="the caller ID") == ("73914400000", "Электросеть")
        await link.action("Hangup", Channel=channel_id)
    finally:
        await link.close()


def test_the_app_originates_with_the_configured_caller_id(asterisk: AsteriskFixture) -> None:
    from contact_center.app import build_app

    settings = asterisk.settings.replace(caller_id="73912000000", caller_name="Сети")
    app = build_app(settings, plugins=())
    try:
        assert app.originator.caller_id == '"Сети" <73912000000>'
    finally:
        asyncio.run(app.engine.dispose())
