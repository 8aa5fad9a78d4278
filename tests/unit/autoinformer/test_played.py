"""What a campaign call's Originate tells its dialplan, and what the dialplan tells back
(autoinformer/phone/played.py): literal tables."""

from __future__ import annotations

from typing import Any, cast

import pytest

from autoinformer.phone.played import (
    MAX_PARTS,
    DialplanPlays,
    DialplanStart,
    Played,
    message_variables,
)
from contact_center.telephony.ami import AmiLink

NAMES = ["cc/cache/ab/abc123", "cc/prompts/ru/debt", "cc/cache/0f/7e"]


def test_the_parts_go_in_order_with_the_mark_and_the_end() -> None:
    assert message_variables(NAMES, mark="cc-1", end=True) == {
        "CC_PARTS": "3",
        "CC_P1": "cc/cache/ab/abc123",
        "CC_P2": "cc/prompts/ru/debt",
        "CC_P3": "cc/cache/0f/7e",
        "CC_MARK": "cc-1",
        "CC_END": "1",
    }


def test_something_after_the_message_leaves_the_end_out() -> None:
    assert message_variables(NAMES[:1], mark=None, end=False) == {
        "CC_PARTS": "1",
        "CC_P1": "cc/cache/ab/abc123",
    }


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["cc/a,b"],  # a comma would split ControlPlayback's arguments
        ["cc/a b"],
        ['cc/"a'],
        ["cc/a)"],
        ["cc/../../etc/x"],
        ["x"] * (MAX_PARTS + 1),
    ],
    ids=["none", "comma", "space", "quote", "paren", "up", "too-many"],
)
def test_a_message_the_dialplan_cannot_take_is_left_to_agi(names: list[str]) -> None:
    assert message_variables(names, mark="cc-1", end=True) == {}


@pytest.mark.parametrize(
    ("env", "start"),
    [
        ({"agi_arg_1": "autoinformer"}, None),
        ({"agi_arg_1": "autoinformer", "agi_arg_2": ""}, None),
        ({"agi_arg_2": "3", "agi_arg_3": "SUCCESS", "agi_arg_4": ""}, DialplanStart(3, None)),
        ({"agi_arg_2": "1", "agi_arg_3": "USERSTOPPED", "agi_arg_4": "9"}, DialplanStart(1, "9")),
        ({"agi_arg_2": "0", "agi_arg_3": "USERSTOPPED", "agi_arg_4": "#"}, DialplanStart(0, "#")),
        # a key left from an earlier sound is no key when this one played out
        ({"agi_arg_2": "4", "agi_arg_3": "SUCCESS", "agi_arg_4": "5"}, DialplanStart(4, None)),
        ({"agi_arg_2": "2", "agi_arg_3": "ERROR", "agi_arg_4": ""}, DialplanStart(2, None)),
    ],
)
def test_where_the_dialplan_left_the_message(
    env: dict[str, str], start: DialplanStart | None
) -> None:
    assert DialplanStart.from_env(env) == start


@pytest.mark.parametrize(
    ("event", "played"),
    [
        ({"Played": "5", "Heard": "1", "Recording": "/m/a.wav"}, Played(5, True, "/m/a.wav")),
        ({"Played": "2", "Heard": "", "Recording": ""}, Played(2, False, "")),
        ({"Played": "", "Heard": "", "Recording": ""}, Played(0, False, "")),
        ({}, Played(0, False, "")),
    ],
)
def test_what_the_dialplan_said_at_the_end(event: dict[str, Any], played: Played) -> None:
    assert Played.from_event(event) == played


class _Events:
    """The one thing DialplanPlays asks of the link: a handler per event name."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def on_event(self, name: str, handler: Any) -> Any:
        self.handlers[name] = handler
        return lambda: self.handlers.pop(name, None)


def _played_event(channel_id: str) -> dict[str, str]:
    return {"UserEvent": "CCPlayed", "Uniqueid": channel_id, "Played": "3", "Heard": "1"}


async def test_the_slot_is_handed_on_as_the_event_is_read_not_when_the_task_wakes() -> None:
    events = _Events()
    plays = DialplanPlays(cast(AmiLink, events))
    told: list[str] = []
    mine = plays.expect("cc-1", lambda: told.append("cc-1"))
    other = plays.expect("cc-2", lambda: told.append("cc-2"))
    events.handlers["UserEvent"](_played_event("cc-1"))
    # in the event's own step: nothing ran on the loop in between
    assert told == ["cc-1"]
    assert mine.result() == Played(played=3, heard=True, recording="")
    assert not other.done()
    # a repeated event (or one for a call given up) tells nobody again
    events.handlers["UserEvent"](_played_event("cc-1"))
    plays.release("cc-2")
    events.handlers["UserEvent"](_played_event("cc-2"))
    assert told == ["cc-1"]
    plays.close()


async def test_a_failing_hand_on_is_logged_and_the_call_still_learns_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = _Events()
    plays = DialplanPlays(cast(AmiLink, events))

    def broken() -> None:
        raise RuntimeError("no slot")

    future = plays.expect("cc-3", broken)
    events.handlers["UserEvent"](_played_event("cc-3"))
    assert future.result().heard
    assert "was not handed on" in caplog.text
    plays.close()
