"""How a CoreShowChannels entry is read (contact_center/telephony/channels.py): literal
tables, the entry as Asterisk 16 sends it."""

from __future__ import annotations

import pytest
from panoramisk.message import Message

from contact_center.telephony.channels import ShownChannel, parse_duration

# a dialer's call answered and waiting for AsyncAGI commands, as CoreShowChannel lists it
ENTRY = {
    "Event": "CoreShowChannel",
    "Channel": "Local/79130000001@sim-customers-00000012;1",
    "ChannelState": "6",
    "ChannelStateDesc": "Up",
    "CallerIDNum": "<unknown>",
    "CallerIDName": "<unknown>",
    "Language": "ru",
    "AccountCode": "",
    "Context": "autoinformer",
    "Exten": "s",
    "Priority": "22",
    "Uniqueid": "cc-5f2a",
    "Linkedid": "cc-5f2a",
    "Application": "AGI",
    "ApplicationData": "agi:async,autoinformer,3,SUCCESS,",
    "Duration": "00:01:05",
    "BridgeId": "",
}


def test_an_entry_is_read_field_by_field() -> None:
    assert ShownChannel.from_event(Message(ENTRY)) == ShownChannel(
        uniqueid="cc-5f2a",
        name="Local/79130000001@sim-customers-00000012;1",
        linkedid="cc-5f2a",
        state=6,
        application="AGI",
        data="agi:async,autoinformer,3,SUCCESS,",
        context="autoinformer",
        exten="s",
        priority="22",
        caller_num="<unknown>",
        caller_name="<unknown>",
        language="ru",
        account_code="",
        bridge_id="",
        seconds=65.0,
    )


def test_an_entry_missing_its_state_and_duration_says_so() -> None:
    shown = ShownChannel.from_event(Message({"Uniqueid": "u1", "Channel": "PJSIP/op-1-0001"}))
    assert (shown.state, shown.seconds, shown.bridge_id) == (-1, None, "")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("00:00:00", 0.0),
        ("00:01:05", 65.0),
        ("01:00:00", 3600.0),
        ("120:00:01", 432001.0),
        ("05", 5.0),
        ("", None),
        ("n/a", None),
        ("00:-1:00", None),
        ("1:2:3:4", None),
    ],
)
def test_the_duration_in_seconds(raw: str, seconds: float | None) -> None:
    assert parse_duration(raw) == seconds
