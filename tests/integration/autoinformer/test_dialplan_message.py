"""A campaign call's dialplan plays the message itself ([autoinformer], CC_PARTS:
autoinformer/phone/played.py): no AGI command before or between its parts, the parts a
customer heard kept when they hang up mid-message, and a message (or a key) that came
while no `serve` ran is the customer's, not played again. Against the session's real
Asterisk; the kills are SIGKILL of a `serve` subprocess (helpers: test_survival)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoinformer.demo import wav_seconds
from autoinformer.models import Attempt
from contact_center.storage.database import create_engine, session_factory
from tests.integration.autoinformer.conftest import World, WorldFactory
from tests.integration.autoinformer.test_campaign_calls import (
    TUESDAY_11,
    attempts_of,
    csv_of,
    spec,
)
from tests.integration.autoinformer.test_resumed_calls import _attempts
from tests.integration.autoinformer.test_survival import (
    LONG_SCENARIO,
    Observer,
    kill_9,
    observer,
    serve_until_finished,
    start_serve,
)
from tests.integration.conftest import AsteriskFixture
from tests.integration.waiting import wait_for

pytestmark = pytest.mark.integration

SILENCE_WAIT = 'CONTROL STREAM FILE "cc/silence/10s"'


class Commands:
    """The AGI commands Asterisk started on each call, and each call's AGI arguments."""

    def __init__(self) -> None:
        self.by_call: dict[str, list[str]] = defaultdict(list)
        self.entered: dict[str, str] = {}

    def on(self, event: Any) -> None:
        uid = str(event.get("Uniqueid", ""))
        if event.get("Event") == "AGIExecStart":
            self.by_call[uid].append(str(event.get("Command", "")))
        elif event.get("Event") == "AsyncAGIStart":
            self.entered.setdefault(uid, str(event.get("Env", "")))

    def sounds(self, uid: str) -> list[str]:
        """Sounds AGI played on the call (the wait for a key is silence, not a sound)."""
        return [
            c for c in self.by_call[uid] if "STREAM FILE" in c and not c.startswith(SILENCE_WAIT)
        ]


async def _long_campaign(w: World, name: str, number: str) -> int:
    """A campaign of one contact with a message of many parts (not started)."""
    await w.scenario(LONG_SCENARIO, "test-long")
    created = await w.campaigns.create(spec(name, scenario="test-long"), list_data=csv_of(number))
    return created.campaign_id


async def _one_listener(world: WorldFactory, commands: Commands, name: str, number: str) -> Attempt:
    """A campaign of one listener run to its end, `commands` watching; its attempt."""
    w: World
    async with world(now=TUESDAY_11) as w:
        w.service.link.on_event("*", commands.on)
        cid = await _long_campaign(w, name, number)
        await w.campaigns.start(cid)
        await w.wait_finished(cid, timeout=60)
        [attempt] = await attempts_of(w, cid)
    return attempt


def _names(attempt: Attempt) -> list[str]:
    return [part["sound"] for part in json.loads(attempt.message)]


async def test_the_message_plays_with_no_agi_command_before_or_between_its_parts(
    world: WorldFactory,
) -> None:
    """A listener hears every part from the dialplan; the service's first command is the
    wait for a key after it, told by AGI how far the dialplan got."""
    commands = Commands()
    attempt = await _one_listener(world, commands, "диалплан", "4101")
    assert attempt.status == "notified" and attempt.played_to_end
    assert attempt.parts_played == attempt.parts_total > 5
    uid = attempt.channel_id
    assert commands.sounds(uid) == []
    assert commands.by_call[uid][0].startswith(SILENCE_WAIT)
    # agi_arg_2..4: every part played, the last one to its end, no key
    assert f"agi_arg_2%3A%20{attempt.parts_total}%0A" in commands.entered[uid]
    assert "agi_arg_3%3A%20SUCCESS%0A" in commands.entered[uid]
    assert attempt.recording_path.endswith(".wav")


async def test_an_asterisk_without_controlplayback_has_agi_play_the_message(
    world: WorldFactory, asterisk: AsteriskFixture
) -> None:
    """An Asterisk image without app_controlplayback: the dialplan plays nothing and
    says so (agi_arg_2 0); the service plays every part by AGI, as before."""
    asterisk.local.rx("module unload app_controlplayback.so")
    commands = Commands()
    try:
        attempt = await _one_listener(world, commands, "без ControlPlayback", "4401")
    finally:
        asterisk.local.rx("module load app_controlplayback.so")
    assert attempt.status == "notified" and attempt.played_to_end
    uid = attempt.channel_id
    assert "agi_arg_2%3A%200%0A" in commands.entered[uid]
    assert len(commands.sounds(uid)) == attempt.parts_total > 5


async def test_a_customer_who_hangs_up_mid_message_has_the_parts_heard_stored(
    world: WorldFactory,
) -> None:
    """The customer hangs up in the middle of the message the dialplan plays: the call
    never reaches AGI; its `h` extension says how many parts were played (the proof of
    notification keeps them)."""
    commands = Commands()
    w: World
    async with world(now=TUESDAY_11) as w:
        w.service.link.on_event("*", commands.on)
        cid = await _long_campaign(w, "бросил трубку", "4106")
        whole = await w.listen_through(cid)
        # hang up in the middle of the message, between the ends of two parts
        await w.sim(SIM_CUSTOMER_HANGUP_AFTER=f"{whole / 2:.2f}")
        await w.campaigns.start(cid)
        await w.wait_finished(cid, timeout=60)
        # the first call (the customer hangs up on the next one too)
        attempt = (await attempts_of(w, cid))[0]
        names = _names(attempt)
        speech = w.service.speech
        played = wav_seconds(
            speech.sounds_dir, names[: attempt.parts_played], speech.asterisk_prefix
        )
        with_next = wav_seconds(
            speech.sounds_dir, names[: attempt.parts_played + 1], speech.asterisk_prefix
        )
    assert attempt.status == "hung_up" and not attempt.played_to_end
    assert 0 < attempt.parts_played < attempt.parts_total
    # the parts counted are the ones that ended before the hang-up, and only those
    assert played <= whole / 2 + 0.3 and with_next >= whole / 2 - 0.3
    assert commands.by_call[attempt.channel_id] == []
    assert attempt.recording_path.endswith(".wav")


async def _kill_once_answered(
    world: WorldFactory,
    database: str,
    tmp_path: Path,
    number: str,
    meanwhile: Any = None,
) -> tuple[Attempt, list[Attempt], Commands]:
    """`serve` killed as soon as its one call is answered (its dialplan plays the message
    on with nobody driving it), `meanwhile` run on the call, then a new run finishes the
    campaign. Returns the attempt as the kill left it, all attempts after, the commands."""
    w0: World
    async with world(now=TUESDAY_11, start_plugin=False) as w0:
        cid, settings = await _long_campaign(w0, "без сервиса", number), w0.settings
        await w0.campaigns.start(cid)
    engine = create_engine(database)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    commands = Commands()
    try:
        async with observer(settings) as obs:
            obs.link.on_event("*", commands.on)
            serve = start_serve(settings, tmp_path / "serve.log")
            try:

                async def answered() -> Attempt | None:
                    found = await _attempts(sessions, cid)
                    return found[0] if found and found[0].answered_at else None

                killed = await wait_for(answered, 60, "the call to be answered", every=0.01)
            finally:
                kill_9(serve)
            if meanwhile is not None:
                await meanwhile(obs, commands, killed.channel_id)
            await serve_until_finished(settings, tmp_path / "serve2.log", sessions, cid)
            after = await _attempts(sessions, cid)
    finally:
        await engine.dispose()
    return killed, after, commands


async def test_a_message_its_dialplan_played_while_no_service_ran_is_heard_not_played_again(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """Killed as the customer answers: the dialplan plays the whole message anyway and
    leaves the heard mark; the next run takes the call in AGI from there (the wait for a
    key), never plays a part again, and the customer is notified once."""
    killed, after, commands = await _kill_once_answered(world, database, tmp_path, "4201")
    assert not killed.played_to_end and killed.parts_played == 0
    [a] = after
    assert (a.counted, a.status, a.played_to_end) == (True, "notified", True)
    assert a.parts_played == a.parts_total > 5
    assert commands.sounds(a.channel_id) == []


async def test_a_key_pressed_in_the_dialplans_message_while_no_service_ran_is_the_answer(
    world: WorldFactory, database: str, tmp_path: Path
) -> None:
    """Killed as the customer answers; the customer presses 9 while the dialplan plays:
    the part stops, the call waits in AGI with the key as its argument and in the
    channel. The next run reads it: opted out, not played on, not called again."""

    async def presses_9(obs: Observer, commands: Commands, uid: str) -> None:
        # the customer's half of the Local channel (its OtherChannelId) sends the key
        await obs.link.action("PlayDTMF", Channel=f"{uid}-b", Digit="9", Duration="120")

        async def in_agi() -> bool:
            return uid in commands.entered

        await wait_for(in_agi, 10, "the key to stop the message")

    killed, after, commands = await _kill_once_answered(
        world, database, tmp_path, "4301", presses_9
    )
    assert not killed.opted_out
    [a] = after
    assert (a.counted, a.opted_out, a.digits, a.status) == (True, True, "9", "opted_out")
    assert not a.played_to_end and a.parts_played < a.parts_total
    assert commands.sounds(a.channel_id) == []
    assert "agi_arg_3%3A%20USERSTOPPED%0Aagi_arg_4%3A%209" in commands.entered[a.channel_id]
    async with world(start_plugin=False) as w:
        opted_out = await w.campaigns.opted_out_phones("debt")
    assert any(phone.endswith("4301") for phone in opted_out)
