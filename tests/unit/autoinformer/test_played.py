"""What a campaign call's Originate tells its dialplan, and what the dialplan tells back
(autoinformer/phone/played.py): literal tables."""

from __future__ import annotations

from typing import Any

import pytest

from autoinformer.phone.played import (
    MAX_PARTS,
    DialplanStart,
    Played,
    message_variables,
)

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
